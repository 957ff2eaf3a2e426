import { useState } from 'react';
import type { SessionListEntry } from '@latchkey/client';
import { useDevices } from '@latchkey/client/react';
import { describeError } from './describe-error.js';
import { live } from './session.js';

const time = (epochMs: number) => new Date(epochMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// This device first, then the most recently active.
const byRelevance = (a: SessionListEntry, b: SessionListEntry) => Number(b.current) - Number(a.current) || b.lastActiveAt - a.lastActiveAt;

export function DevicesCard() {
  const { devices, loading, error, refresh, revoke } = useDevices(live);
  const [actionError, setActionError] = useState('');

  const revokeDevice = (id: string) => {
    setActionError('');
    revoke(id).catch((failure: unknown) => setActionError(describeError(failure)));
  };

  return (
    <section className="card">
      <div className="card-head">
        <h2>Your devices</h2>
        <button className="small" onClick={() => void refresh()} disabled={loading} data-testid="devices-refresh">
          {loading ? 'Loading…' : 'Reload'}
        </button>
      </div>
      <ul className="devices" data-testid="device-list" aria-busy={loading}>
        {[...devices].sort(byRelevance).map((device) => (
          <li key={device.id} className={device.current ? 'current' : ''} data-testid="device-row" data-session-id={device.id} data-current={device.current}>
            <div>
              <strong data-testid="device-name">{device.deviceName || 'Unnamed device'}</strong>
              {device.current && (
                <span className="badge" data-testid="device-current">
                  this device
                </span>
              )}
              <div className="muted small-text" title={device.userAgent}>
                Signed in {time(device.createdAt)} · last active {time(device.lastActiveAt)}
              </div>
            </div>
            {!device.current && (
              <button className="small danger" onClick={() => revokeDevice(device.id)} data-testid="revoke-device">
                Revoke
              </button>
            )}
          </li>
        ))}
      </ul>
      {(error || actionError) && (
        <p className="form-error" role="alert" data-testid="devices-error">
          {actionError || describeError(error)}
        </p>
      )}
    </section>
  );
}
