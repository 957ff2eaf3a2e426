import { useEffect, useState } from 'react';
import { useSessionClient } from '@latchkey/client/react';
import { SIGNED_OUT_ELSEWHERE, SIGN_OUT_SENTENCES } from './messages.js';
import { loggedOutAllFromHere } from './session.js';

interface Entry {
  id: number;
  at: string;
  event: string;
  text: string;
}

const EVENTS = ['signed_in', 'refreshed', 'signed_out', 'theft_detected'] as const;
const LABELS: Record<(typeof EVENTS)[number], string> = {
  signed_in: 'Signed in',
  refreshed: 'Access token renewed',
  signed_out: 'Signed out',
  theft_detected: 'Theft detected',
};

/** The client's lifecycle events as they happen in this tab, newest first, in words. */
export function EventLog() {
  const client = useSessionClient();
  const [entries, setEntries] = useState<Entry[]>([]);

  useEffect(() => {
    let id = 0;
    const offs = EVENTS.map((event) =>
      client.on(event, (detail) => {
        const what =
          'reason' in detail
            ? detail.reason == 'logout_all' && !loggedOutAllFromHere()
              ? SIGNED_OUT_ELSEWHERE
              : SIGN_OUT_SENTENCES[detail.reason]
            : `${detail.user.name} on ${detail.session.deviceName}.`;
        const text = `${LABELS[event]}: ${what}`;
        const entry = { id: ++id, at: new Date().toLocaleTimeString(), event, text };
        setEntries((previous) => [entry, ...previous].slice(0, 8));
      }),
    );
    return () => offs.forEach((off) => off());
  }, [client]);

  return (
    <section className="card log">
      <h2>Session events in this tab</h2>
      {entries.length == 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <ol data-testid="event-log">
          {entries.map((entry) => (
            <li key={entry.id} data-testid="event-entry" data-event={entry.event}>
              <time>{entry.at}</time> {entry.text}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
