import { useState, type FormEvent } from 'react';
import type { AdminApi, Operator } from './admin-api.js';
import { Outcome } from './Outcome.js';
import { useAction } from './use-action.js';

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const RESULT = {
  revoked: 'Revoked: the token is refused everywhere until it would have expired.',
  already_revoked: 'Nothing to do: the token was already revoked (or its session ended).',
  expired: 'Nothing to do: the token has already expired.',
};

/**
 * Revoke one access token, by its `jti` (deployment-wide administrators) or by the token itself (verified first; the
 * only way for a tenant-bound administrator, whose tenant is checked against the token's).
 */
export function TokenCard({ api, operator }: { api: AdminApi; operator: Operator }) {
  const [value, setValue] = useState('');
  const action = useAction();
  const bound = operator.tenant !== null;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const input = value.trim();
    if (!input) return;
    const body = JWS.test(input) ? { token: input } : { jti: input };
    const done = await action.run(
      () => api.revokeToken(body),
      ({ result }) => RESULT[result],
    );
    // The token itself is a credential: do not leave it on the screen.
    if (done && 'token' in body) setValue('');
  }

  return (
    <section className="card" data-testid="token-card">
      <h2>Revoke an access token</h2>
      <form onSubmit={(event) => void submit(event)}>
        <label>
          {bound ? 'The access token' : 'Its jti, or the access token itself'}
          <input data-testid="token-input" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" spellCheck={false} required />
        </label>
        <button className="danger" type="submit" disabled={action.pending} data-testid="token-revoke">
          Revoke token
        </button>
      </form>
      <Outcome outcome={action.outcome} testId="token-result" />
    </section>
  );
}
