import { useEffect, useState } from 'react';
import { useSessionClient } from '@latchkey/client/react';

interface Entry {
  id: number;
  at: string;
  event: string;
  detail: string;
}

const EVENTS = ['signed_in', 'refreshed', 'signed_out', 'theft_detected'] as const;

/** The client's lifecycle events as they happen in this tab, newest first. */
export function EventLog() {
  const client = useSessionClient();
  const [entries, setEntries] = useState<Entry[]>([]);

  useEffect(() => {
    let id = 0;
    const offs = EVENTS.map((event) =>
      client.on(event, (detail) => {
        const text = 'reason' in detail ? detail.reason : `${detail.user.name} · ${detail.session.deviceName}`;
        const entry = { id: ++id, at: new Date().toLocaleTimeString(), event, detail: text };
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
              <time>{entry.at}</time> <code>{entry.event}</code> {entry.detail}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
