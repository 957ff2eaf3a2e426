import { useCallback, useImperativeHandle, useRef, useState, type FormEvent, type Ref } from 'react';
import type { AdminApi, SessionRow } from './admin-api.js';
import { Outcome } from './Outcome.js';
import { clock } from './time.js';
import { useAction } from './use-action.js';

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/**
 * Find a user by id (Latchkey keeps no user directory: the id is the `sub` of their tokens, as the application or the
 * feed names it), see their device sessions, end one or all of them.
 */
export interface UsersCardHandle {
  /** Shows this user's devices (a user id clicked in the feed). */
  open(userId: string): void;
}

export function UsersCard({ api, ref }: { api: AdminApi; ref?: Ref<UsersCardHandle> }) {
  const [query, setQuery] = useState('');
  const section = useRef<HTMLElement>(null);
  const [shown, setShown] = useState<{ userId: string; sessions: SessionRow[] } | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);
  const find = useAction();
  const act = useAction();

  const load = useCallback(
    async (userId: string) => {
      const result = await find.run(
        () => api.sessions(userId),
        ({ sessions }) => `${plural(sessions.length, 'live device session')} for ${userId}.`,
      );
      setConfirmAll(false);
      setShown(result ? { userId, sessions: result.sessions } : null);
    },
    // eslint-disable-next-line react-hooks/exhaustive-deps -- find.run is stable
    [api],
  );

  useImperativeHandle(
    ref,
    () => ({
      open: (userId: string) => {
        setQuery(userId);
        section.current?.scrollIntoView({ block: 'start', behavior: 'smooth' });
        void load(userId);
      },
    }),
    [load],
  );

  function submit(event: FormEvent) {
    event.preventDefault();
    const userId = query.trim();
    if (userId) void load(userId);
  }

  async function endOne(row: SessionRow) {
    if (!shown) return;
    await act.run(
      () => api.endSession(shown.userId, row.id),
      () => `Ended the device session “${row.deviceName || 'Unnamed device'}” of ${shown.userId}. Its refresh fails and its tokens are refused.`,
    );
    await reload();
  }

  async function endAll() {
    if (!shown) return;
    setConfirmAll(false);
    await act.run(
      () => api.revokeUser(shown.userId),
      ({ sessionsEnded }) => `Revoked ${shown.userId}: ${plural(sessionsEnded, 'device session')} ended, and every token issued before now is refused.`,
    );
    await reload();
  }

  async function reload() {
    if (!shown) return;
    const again = await api.sessions(shown.userId).catch(() => null);
    if (again) setShown({ userId: shown.userId, sessions: again.sessions });
  }

  return (
    <section className="card wide" data-testid="users-card" ref={section}>
      <h2>Users and devices</h2>
      <form className="row" onSubmit={submit}>
        <label className="grow">
          User id
          <input
            data-testid="user-query"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            placeholder="user-bob, or issuer|subject"
            autoComplete="off"
            spellCheck={false}
            required
          />
        </label>
        <button className="primary" type="submit" disabled={find.pending} data-testid="user-find">
          {find.pending ? 'Looking…' : 'Find'}
        </button>
      </form>
      <Outcome outcome={find.outcome} testId="user-result" />
      {shown && (
        <>
          <ul className="sessions" data-testid="user-sessions" aria-label={`Device sessions of ${shown.userId}`}>
            {shown.sessions.map((row) => (
              <li key={row.id} data-testid="session-row" data-session-id={row.id}>
                <div className="session-main">
                  <strong data-testid="session-device">{row.deviceName || 'Unnamed device'}</strong>
                  {row.current && <span className="badge">your console</span>}
                  <dl className="facts">
                    <dt>Session</dt>
                    <dd>
                      <code>{row.id}</code>
                    </dd>
                    <dt>Browser</dt>
                    <dd data-testid="session-agent">{row.userAgent || 'unknown'}</dd>
                    <dt>Signed in</dt>
                    <dd>{clock(row.createdAt)}</dd>
                    <dt>Last active</dt>
                    <dd>{clock(row.lastActiveAt)}</dd>
                    <dt>Identity provider</dt>
                    <dd data-testid="session-idp">
                      {row.idp ? (
                        <>
                          <code>{row.idp.sub}</code> at <code>{row.idp.iss}</code>
                        </>
                      ) : (
                        'none (password sign-in)'
                      )}
                    </dd>
                    <dt>Tenant</dt>
                    <dd data-testid="session-tenant">{row.tenant ?? 'none'}</dd>
                  </dl>
                </div>
                <button className="small danger" disabled={act.pending} onClick={() => void endOne(row)} data-testid="session-revoke">
                  Revoke
                </button>
              </li>
            ))}
          </ul>
          {shown.sessions.length > 0 &&
            (confirmAll ? (
              <div className="confirm" data-testid="revoke-all-confirm">
                <p>Sign {shown.userId} out of every device and refuse every token issued to them before now?</p>
                <div className="row">
                  <button className="danger" disabled={act.pending} onClick={() => void endAll()} data-testid="revoke-all-yes">
                    Yes, revoke every session
                  </button>
                  <button onClick={() => setConfirmAll(false)}>Cancel</button>
                </div>
              </div>
            ) : (
              <button className="danger" disabled={act.pending} onClick={() => setConfirmAll(true)} data-testid="revoke-all">
                Revoke all sessions of {shown.userId}
              </button>
            ))}
        </>
      )}
      <Outcome outcome={act.outcome} testId="user-action-result" />
    </section>
  );
}
