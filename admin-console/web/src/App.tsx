import { useEffect, useState } from 'react';
import { useSession } from '@latchkey/client/react';
import type { AdminApi, Operator } from './admin-api.js';
import { AdminError } from './admin-api.js';
import { Console } from './Console.js';
import { describeError } from './describe-error.js';
import { SignIn } from './SignIn.js';

type Access = { state: 'checking' } | { state: 'granted'; operator: Operator } | { state: 'refused'; message: string } | { state: 'failed'; message: string };

function KeyIcon() {
  return (
    <svg className="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <circle cx="8" cy="12" r="4.5" fill="none" stroke="currentColor" strokeWidth="2.2" />
      <path d="M12.5 12H21M17.5 12v3.5M20.5 12v2.5" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  );
}

export function App({ api, feedIntervalMs }: { api: AdminApi; feedIntervalMs: number }) {
  const { status, user, session, logout, unreachable } = useSession();
  const [attempt, setAttempt] = useState(0);
  // The answer for one device session and attempt; anything else is still being checked.
  const check = `${session?.id ?? ''}:${attempt}`;
  const [answer, setAnswer] = useState<{ check: string; access: Access } | null>(null);
  const access: Access = answer?.check === check ? answer.access : { state: 'checking' };

  // Nothing is shown before the admin router says this token may use it: a refused operator never sees data.
  useEffect(() => {
    if (status !== 'authenticated') return;
    let current = true;
    api.operator().then(
      (operator) => current && setAnswer({ check, access: { state: 'granted', operator } }),
      (error: unknown) => {
        if (!current) return;
        const refused = error instanceof AdminError && error.status === 403;
        setAnswer({ check, access: { state: refused ? 'refused' : 'failed', message: describeError(error) } });
      },
    );
    return () => {
      current = false;
    };
  }, [api, status, check]);

  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <KeyIcon /> Latchkey <span className="muted">operators&apos; console</span>
        </div>
        {status === 'authenticated' && (
          <div className="who">
            <span className="muted" data-testid="console-operator">
              {user?.name} <code>{user?.id}</code>
            </span>
            <button className="small" onClick={() => void logout().catch(() => undefined)} data-testid="console-logout">
              Sign out
            </button>
          </div>
        )}
      </header>
      {unreachable && (
        <div className="banner" role="status">
          The server cannot be reached. You stay signed in; retrying in the background.
        </div>
      )}
      <main>
        {status === 'loading' && <p className="card muted">Restoring your session…</p>}
        {status === 'unauthenticated' && <SignIn />}
        {status === 'authenticated' && access.state === 'checking' && (
          <p className="card muted" data-testid="console-checking">
            Checking your access…
          </p>
        )}
        {status === 'authenticated' && access.state === 'refused' && (
          <section className="card refusal" role="alert" data-testid="console-refused">
            <h2>Access refused</h2>
            <p>
              You are signed in as <strong>{user?.name}</strong>, but this account may not use the operators&apos; console. Ask an administrator for the admin
              scope.
            </p>
            <p className="muted small-text">{access.message}</p>
          </section>
        )}
        {status === 'authenticated' && access.state === 'failed' && (
          <section className="card" role="alert" data-testid="console-failed">
            <h2>The console could not start</h2>
            <p className="form-error">{access.message}</p>
            <button onClick={() => setAttempt((n) => n + 1)}>Try again</button>
          </section>
        )}
        {status === 'authenticated' && access.state === 'granted' && <Console api={api} operator={access.operator} feedIntervalMs={feedIntervalMs} />}
      </main>
      <footer className="muted">Every action here is audit-logged with your account and device session.</footer>
    </div>
  );
}
