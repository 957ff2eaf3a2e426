import { Counter, Gauge, Histogram, Registry } from 'prom-client';

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
    help: 'Logouts by scope (device, all, revoke_device, admin_user, admin_device, admin_tenant, idp_backchannel, evicted: ended by the per-user session cap).',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  readonly adminActions = new Counter({
    name: 'latchkey_admin_actions_total',
    help: 'Requests to the admin router by action (revoke_user, revoke_token, list_sessions, end_session, stage_key, rotate_key, emergency_rotate_keys, revoke_tenant, and the console’s reads read_operator, read_keys, read_activity) and outcome (ok, not_found, invalid_request, insufficient_scope: the keys scope missing or outside the token’s tenant, error).',
    labelNames: ['action', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly authDecisions = new Counter({
    name: 'latchkey_auth_decisions_total',
    help: 'Guard decisions by outcome (valid, expired, revoked, invalid, insufficient_scope, store_unavailable).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'latchkey_store_errors_total',
    help: 'Store calls that failed because the backend was unreachable.',
    registers: [this.registry],
  });
  readonly failOpen = new Counter({
    name: 'latchkey_fail_open_total',
    help: 'Requests let through by a fail-open route while the store was unreachable (within its staleness bound).',
    registers: [this.registry],
  });
  readonly checkDuration = new Histogram({
    name: 'latchkey_auth_check_seconds',
    help: 'Time the guard spends deciding one request.',
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    registers: [this.registry],
  });
  readonly revocationLag = new Histogram({
    name: 'latchkey_revocation_propagation_seconds',
    help: 'Time from a revocation being written to the store to this process applying it.',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly feedReconnects = new Counter({
    name: 'latchkey_revocation_feed_reconnects_total',
    help: 'Times the revocation feed came back after losing the store.',
    registers: [this.registry],
  });
  readonly bellMisses = new Counter({
    name: 'latchkey_revocation_bell_misses_total',
    help: 'Revocation events a Redis Cluster guard found on its periodic full read with no Pub/Sub message announcing them (lost bells; each cost up to one heartbeat of lag).',
    registers: [this.registry],
  });
  readonly feedErrors = new Counter({
    name: 'latchkey_revocation_feed_errors_total',
    help: 'Failed reads of the revocation feed (store unreachable or timing out).',
    registers: [this.registry],
  });
  /** Set by createBff: the number of open event streams (`GET /events`). */
  openEventStreams: () => number = () => 0;
  readonly eventStreams: Gauge = new Gauge({
    name: 'latchkey_event_streams',
    help: 'Open server-sent event streams (GET /events) in this process.',
    registers: [this.registry],
    collect: (): void => this.eventStreams.set(this.openEventStreams()),
  });
  readonly eventStreamsRefused = new Counter({
    name: 'latchkey_event_streams_refused_total',
    help: 'Event streams refused by cap (device, user, process) or because the BFF is closing.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly streamEvents = new Counter({
    name: 'latchkey_stream_events_total',
    help: 'Events written to event streams, by name (session_ended, devices_changed).',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  /** Set by the guard: the number of live entries in its local revocation view. */
  viewSize: () => number = () => 0;
  readonly viewEntries: Gauge = new Gauge({
    name: 'latchkey_revocation_view_entries',
    help: 'Live revocation entries held in this process (jti, sid, user).',
    registers: [this.registry],
    collect: (): void => this.viewEntries.set(this.viewSize()),
  });
}
