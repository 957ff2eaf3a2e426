import { useEffect, useState } from 'react';
import type { ActivityEntry, AdminApi, Operator } from './admin-api.js';
import { describeError } from './describe-error.js';
import { timeOfDay } from './time.js';

const KIND: Record<string, string> = {
  theft_detected: 'Theft detected',
  session_ended: 'Session ended',
  session_evicted: 'Session evicted',
  user_revoked: 'User revoked',
  tenant_revoked: 'Tenant revoked',
  all_revoked: 'Every session revoked',
  token_revoked: 'Token revoked',
  keys_changed: 'Signing keys changed',
  admin_action: 'Admin action',
  admin_refused: 'Admin request refused',
};

const ACTION: Record<string, string> = {
  list_sessions: 'looked up',
  end_session: 'ended a device session of',
  revoke_user: 'revoked',
  revoke_token: 'revoked an access token',
  revoke_tenant: 'revoked the tenant',
  stage_key: 'staged a signing key',
  rotate_key: 'rotated the signing key',
  emergency_rotate_keys: 'ran an emergency key rotation',
  revoke_all_sessions: 'revoked every session of every user',
};

/** The end reasons of `@latchkey/shared` (SESSION_END_REASONS), as the feed says them. */
const REASON: Record<string, string> = {
  logout: 'signed out',
  logout_all: 'signed out everywhere',
  logout_others: 'signed out from another of the user’s devices',
  device_revoked: 'signed out by the user from another device',
  replaced: 'replaced by a new sign-in in the same browser',
  admin_user: 'revoked by an administrator (every device of the user)',
  admin_device: 'revoked by an administrator',
  tenant_revoked: 'revoked with its tenant',
  all_revoked: 'revoked with every session',
  reuse_detected: 'a superseded refresh credential was presented: the device session was ended',
  idle: 'expired: no activity within the idle timeout',
  absolute: 'expired: absolute lifetime reached',
  cap_evicted: 'signed out: the per-user session cap was reached',
  backchannel: 'signed out by the identity provider (back-channel logout)',
  idp_refused: 'ended: the identity provider refused its refresh token',
  validate_refused: 'ended: the application no longer accepts the account (validateSession)',
};

/** One sentence per entry, built from ids only; React renders every part as text. */
function Sentence({ entry, onUser }: { entry: ActivityEntry; onUser: (userId: string) => void }) {
  const user = (id: string | undefined) =>
    id === undefined ? null : (
      <button type="button" className="link" onClick={() => onUser(id)} title="Show this user's devices">
        {id}
      </button>
    );
  switch (entry.kind) {
    case 'admin_refused':
      return (
        <>
          {entry.actor ? user(entry.actor.sub) : 'A request without a valid token'} was refused at <code>{entry.target?.path}</code> ({entry.outcome})
        </>
      );
    case 'admin_action': {
      const target = entry.target ?? {};
      const detail = entry.detail ?? {};
      return (
        <>
          {entry.actor ? user(entry.actor.sub) : 'An administrator'} {ACTION[entry.action ?? ''] ?? entry.action}
          {target.userId !== undefined && <> {user(target.userId)}</>}
          {target.tenant !== undefined && <strong> {target.tenant}</strong>}
          {typeof detail.sessionsEnded === 'number' && `: ${detail.sessionsEnded} session(s) ended`}
          {typeof detail.kid === 'string' && (
            <>
              : key <code>{detail.kid}</code>
            </>
          )}
          {entry.outcome !== 'ok' && ` (failed: ${entry.outcome})`}
        </>
      );
    }
    case 'theft_detected':
    case 'session_ended':
      return (
        <>
          Device session <code>{entry.sid}</code> of {user(entry.userId) ?? 'a user'}: {REASON[entry.reason ?? ''] ?? entry.reason ?? 'ended'}
        </>
      );
    case 'session_evicted':
      return (
        <>
          {user(entry.userId)} reached the per-user session cap: device session <code>{entry.sid}</code> signed out
        </>
      );
    case 'user_revoked':
      return <>Every token of {user(entry.userId)} issued before this moment is refused</>;
    case 'tenant_revoked':
      return <>Every token of the tenant {entry.tenant} issued before this moment is refused</>;
    case 'all_revoked':
      return <>Every token issued before this moment is refused, whoever’s, and every device session ended</>;
    case 'token_revoked':
      return (
        <>
          Access token <code>{entry.jti}</code> is denied
        </>
      );
    case 'keys_changed':
      return <>The key ring changed (stage, rotation or emergency rotation)</>;
    default:
      return <>{entry.kind}</>;
  }
}

/** The live feed: polled every `intervalMs`, newest first. */
export function FeedCard({ api, operator, intervalMs, onUser }: { api: AdminApi; operator: Operator; intervalMs: number; onUser: (userId: string) => void }) {
  const [entries, setEntries] = useState<ActivityEntry[]>([]);
  const [error, setError] = useState('');
  const available = operator.tenant === null;

  useEffect(() => {
    if (!available) return;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const { entries: latest } = await api.activity();
        if (stopped) return;
        setEntries(latest);
        setError('');
      } catch (failure) {
        if (!stopped) setError(describeError(failure));
      }
      if (!stopped) timer = setTimeout(() => void poll(), intervalMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [api, available, intervalMs]);

  return (
    <section className="card wide" data-testid="feed-card">
      <div className="card-head">
        <h2>Live activity</h2>
        {available && <span className="muted small-text">every {Math.round(intervalMs / 1000)} s</span>}
      </div>
      {!available ? (
        <p className="muted small-text" data-testid="feed-unavailable">
          The feed names users of every tenant, so it is not shown to a tenant administrator.
        </p>
      ) : (
        <>
          {error && (
            <p className="form-error" role="alert">
              {error}
            </p>
          )}
          {entries.length === 0 && !error && <p className="muted small-text">Nothing has happened since this server started.</p>}
          <ol className="feed" data-testid="feed" aria-live="polite">
            {entries.map((entry) => (
              <li key={entry.seq} className={`feed-${entry.kind}`} data-testid="feed-entry" data-kind={entry.kind}>
                <time dateTime={new Date(entry.at).toISOString()}>{timeOfDay(entry.at)}</time>
                <span className="feed-kind">{KIND[entry.kind] ?? entry.kind}</span>
                <span className="feed-text">
                  <Sentence entry={entry} onUser={onUser} />
                </span>
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
