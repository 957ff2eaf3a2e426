import { Counter, Registry } from 'prom-client';

/**
 * The BFF's counters, on a registry of its own (never prom-client's global one), so two BFFs in one process
 * (tests, multi-tenant hosts) do not collide. Applications merge it with theirs via `Registry.merge`.
 */
export class BffMetrics {
  readonly registry = new Registry();
  readonly logins = new Counter({
    name: 'latchkey_logins_total',
    help: 'Login attempts by outcome.',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly refreshes = new Counter({
    name: 'latchkey_refreshes_total',
    help: 'Refresh attempts by outcome (rotated, replayed, or the error code).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly theftDetections = new Counter({
    name: 'latchkey_theft_detections_total',
    help: 'Device sessions revoked because a superseded refresh credential was presented.',
    registers: [this.registry],
  });
  readonly logouts = new Counter({
    name: 'latchkey_logouts_total',
    help: 'Logouts by scope (device, all, revoke_device, admin_user).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly authDecisions = new Counter({
    name: 'latchkey_auth_decisions_total',
    help: 'Guard decisions by outcome (valid, expired, revoked, invalid, store_unavailable).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'latchkey_store_errors_total',
    help: 'Store calls that failed because the backend was unreachable.',
    registers: [this.registry],
  });
}
