import { useState, type FormEvent } from 'react';
import type { AdminApi, Operator } from './admin-api.js';
import { Outcome } from './Outcome.js';
import { useAction } from './use-action.js';

/** Revoke a tenant: every token of the tenant issued before now is refused, and its device sessions end. */
export function TenantCard({ api, operator }: { api: AdminApi; operator: Operator }) {
  const [tenant, setTenant] = useState(operator.tenant ?? '');
  const [confirming, setConfirming] = useState(false);
  const action = useAction();

  function submit(event: FormEvent) {
    event.preventDefault();
    if (tenant.trim()) setConfirming(true);
  }

  async function revoke() {
    setConfirming(false);
    const name = tenant.trim();
    await action.run(
      () => api.revokeTenant(name),
      ({ sessionsEnded }) =>
        `Revoked the tenant ${name}: ${sessionsEnded} device session${sessionsEnded === 1 ? '' : 's'} ended, and its older tokens are refused.`,
    );
  }

  return (
    <section className="card" data-testid="tenant-card">
      <h2>Revoke a tenant</h2>
      <form className="row" onSubmit={submit}>
        <label className="grow">
          Tenant
          <input
            data-testid="tenant-name"
            value={tenant}
            onChange={(e) => {
              setTenant(e.target.value);
              setConfirming(false);
            }}
            readOnly={operator.tenant !== null}
            autoComplete="off"
            spellCheck={false}
            required
          />
        </label>
        <button className="danger" type="submit" disabled={action.pending} data-testid="tenant-revoke">
          Revoke tenant
        </button>
      </form>
      {confirming && (
        <div className="confirm" data-testid="tenant-confirm">
          <p>Sign every user of the tenant {tenant.trim()} out of every device?</p>
          <div className="row">
            <button className="danger" onClick={() => void revoke()} data-testid="tenant-revoke-yes">
              Yes, revoke the tenant
            </button>
            <button onClick={() => setConfirming(false)}>Cancel</button>
          </div>
        </div>
      )}
      <Outcome outcome={action.outcome} testId="tenant-result" />
    </section>
  );
}
