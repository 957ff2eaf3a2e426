import { RequireSession, useSession } from '@latchkey/client/react';
import { AccountCard } from './AccountCard.js';
import { ApiCard } from './ApiCard.js';
import { DevicesCard } from './DevicesCard.js';
import { EventLog } from './EventLog.js';
import { ReauthPrompt } from './ReauthPrompt.js';
import { SignedOut } from './SignedOut.js';

function KeyIcon() {
  return (
    <svg className="logo" viewBox="0 0 24 24" width="22" height="22" aria-hidden="true">
      <circle cx="8" cy="12" r="4.5" fill="none" stroke="currentColor" strokeWidth="2.2" />
      <path d="M12.5 12H21M17.5 12v3.5M20.5 12v2.5" fill="none" stroke="currentColor" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  );
}

const STATUS_LABEL = { loading: 'Restoring session…', authenticated: 'Signed in', unauthenticated: 'Signed out' };

export function App() {
  const { status, unreachable } = useSession();
  return (
    <div className="page">
      <header className="topbar">
        <div className="brand">
          <KeyIcon /> Latchkey <span className="muted">demo</span>
        </div>
        <div className="status-line">
          <span className="muted">{STATUS_LABEL[status]}</span>
          <span className={`pill pill-${status}`} data-testid="status" data-status={status}>
            {status}
          </span>
        </div>
      </header>

      {unreachable && (
        <div className="banner" role="status" data-testid="unreachable-banner">
          The server cannot be reached. You stay signed in; retrying in the background.
        </div>
      )}

      <main>
        <RequireSession
          fallback={<SignedOut />}
          loading={
            <p className="card muted" data-testid="loading">
              Restoring your session…
            </p>
          }
        >
          <ReauthPrompt />
          <div className="grid">
            <AccountCard />
            <ApiCard />
            <DevicesCard />
          </div>
        </RequireSession>
        <EventLog />
      </main>

      <footer className="muted">Access token in memory only · refresh credential stays on the server behind an HttpOnly cookie</footer>
    </div>
  );
}
