import { useEffect, useState } from 'react';
import type { AdminApi, Operator, RingKey } from './admin-api.js';
import { describeError } from './describe-error.js';
import { Outcome } from './Outcome.js';
import { duration } from './time.js';
import { useAction } from './use-action.js';

/** What the operator types to run an emergency rotation: it signs every user of every tenant out of the API at once. */
export const EMERGENCY_PHRASE = 'emergency rotate';

const STATE_ORDER = { active: 0, staged: 1, retired: 2 };

/** The signing keys: the ring with ages; stage, rotate, and the emergency rotation behind a typed confirmation. */
export function KeysCard({ api, operator }: { api: AdminApi; operator: Operator }) {
  // Ages are shown as of the server's clock when the ring was read (reloaded after every operation).
  const [ring, setRing] = useState<{ keys: RingKey[]; now: number } | null>(null);
  const [loadError, setLoadError] = useState('');
  const [version, setVersion] = useState(0);
  const [phrase, setPhrase] = useState('');
  const [emergencyOpen, setEmergencyOpen] = useState(false);
  const action = useAction();
  const mayOperate = operator.keys && operator.tenant === null;

  useEffect(() => {
    let current = true;
    api.keys().then(
      (read) => {
        if (!current) return;
        setRing(read);
        setLoadError('');
      },
      (error: unknown) => current && setLoadError(describeError(error)),
    );
    return () => {
      current = false;
    };
  }, [api, version]);
  const load = () => setVersion((v) => v + 1);

  async function operate(operation: 'stage' | 'rotate' | 'emergency-rotate') {
    const describe = {
      stage: (kid: string) => `Staged key ${kid}: published in the JWKS, not signing yet. Rotate once caches have it.`,
      rotate: (kid: string) => `Rotated: key ${kid} signs from now on; the previous key verifies until its tokens expire.`,
      'emergency-rotate': (kid: string) =>
        `Emergency rotation done: every earlier key is gone and every outstanding access token is refused. Key ${kid} signs from now on; users get new tokens at their next refresh.`,
    }[operation];
    await action.run(
      () => api.keyOperation(operation),
      ({ kid }) => describe(kid),
    );
    setPhrase('');
    setEmergencyOpen(false);
    load();
  }

  const now = ring?.now ?? 0;
  const keys = [...(ring?.keys ?? [])].sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || b.createdAt - a.createdAt);

  return (
    <section className="card" data-testid="keys-card">
      <div className="card-head">
        <h2>Signing keys</h2>
        <button className="small" onClick={load} data-testid="keys-reload">
          Reload
        </button>
      </div>
      {loadError && (
        <p className="form-error" role="alert">
          {loadError}
        </p>
      )}
      <ul className="keys" data-testid="key-ring">
        {keys.map((key) => (
          <li key={key.kid} data-testid="key-row" data-kid={key.kid} data-state={key.state}>
            <code className="kid">{key.kid}</code>
            <span className={`badge state-${key.state}`}>{key.state}</span>
            <span className="muted small-text">
              {key.alg} · made {duration(now - key.createdAt)} ago
              {key.state === 'retired' && key.retireAfter !== null && <> · verifies for another {duration(key.retireAfter - now)}</>}
            </span>
          </li>
        ))}
      </ul>
      {mayOperate ? (
        <>
          <div className="row">
            <button disabled={action.pending} onClick={() => void operate('stage')} data-testid="key-stage">
              Stage next key
            </button>
            <button disabled={action.pending} onClick={() => void operate('rotate')} data-testid="key-rotate">
              Rotate
            </button>
            <button className="danger" disabled={action.pending} onClick={() => setEmergencyOpen((open) => !open)} data-testid="key-emergency">
              Emergency rotation…
            </button>
          </div>
          {emergencyOpen && (
            <form
              className="confirm"
              data-testid="emergency-confirm"
              onSubmit={(event) => {
                event.preventDefault();
                if (phrase === EMERGENCY_PHRASE) void operate('emergency-rotate');
              }}
            >
              <p>
                <strong>Every outstanding access token of every user stops working at once</strong>, yours included. Use it when a signing key may have leaked.
                Sessions stay: users get new tokens at their next refresh.
              </p>
              <label>
                Type <code>{EMERGENCY_PHRASE}</code> to confirm
                <input data-testid="emergency-phrase" value={phrase} onChange={(e) => setPhrase(e.target.value)} autoComplete="off" spellCheck={false} />
              </label>
              <button className="danger" type="submit" disabled={phrase !== EMERGENCY_PHRASE || action.pending} data-testid="emergency-run">
                Drop every key now
              </button>
            </form>
          )}
        </>
      ) : (
        <p className="muted small-text" data-testid="keys-readonly">
          {operator.tenant !== null
            ? 'The signing keys serve every tenant: a tenant administrator cannot rotate them.'
            : 'Key operations need the keys scope, which your account does not hold.'}
        </p>
      )}
      <Outcome outcome={action.outcome} testId="keys-result" />
    </section>
  );
}
