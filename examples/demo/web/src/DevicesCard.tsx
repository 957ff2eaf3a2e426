import { useState } from 'react';
import type { SessionListEntry } from '@latchkey/client';
import { useDevices } from '@latchkey/client/react/devices';
import { describeError } from './describe-error.js';
import { describeUserAgent } from './device-name.js';
import { live } from './session.js';

const time = (epochMs: number) => new Date(epochMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

// This device first, then the most recently active.
const byRelevance = (a: SessionListEntry, b: SessionListEntry) => Number(b.current) - Number(a.current) || b.lastActiveAt - a.lastActiveAt;

const nameOf = (device: SessionListEntry) => device.deviceName || 'Unnamed device';

export function DevicesCard() {
  const { devices, loading, error, refresh, revoke } = useDevices(live);
  const [actionError, setActionError] = useState('');

  const revokeDevice = (id: string) => {
    setActionError('');
    revoke(id).catch((failure: unknown) => setActionError(describeError(failure)));
  };

  // Two devices of the same name (both "Chrome on Linux", say) are told apart by their browser's User-Agent.
  const names = new Map<string, number>();
  for (const device of devices) names.set(nameOf(device), (names.get(nameOf(device)) ?? 0) + 1);

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
            <div className="device-text">
              <strong data-testid="device-name">{nameOf(device)}</strong>
              {(names.get(nameOf(device)) ?? 0) > 1 && describeUserAgent(device.userAgent) && (
                <span className="device-agent muted" data-testid="device-agent">
                  {describeUserAgent(device.userAgent)}
                </span>
              )}
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
      <p className="hint" data-testid="second-device-hint">
        Each browser is one device; its tabs share one session. To add a second device, sign in from another browser, a private window or another browser
        profile.
      </p>
      {(error || actionError) && (
        <p className="form-error" role="alert" data-testid="devices-error">
          {actionError || describeError(error)}
        </p>
      )}
    </section>
  );
}
