import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { SESSION_END_REASONS } from '@latchkey/shared';

/**
 * Every value each label of the BFF's labelled metrics takes. The counters are typed by it (a call site cannot write a
 * value missing here), and the metrics table in docs/operations.md is generated from it (`npm run docs:generate`).
 */
export const METRIC_LABELS = Object.freeze({
  latchkey_logins_total: { outcome: ['success', 'invalid_credentials', 'rate_limited', 'oidc_login_failed', 'oidc_login_rate_limited'] },
  latchkey_refreshes_total: {
    outcome: [
      'rotated',
      'replayed',
      'reuse_detected',
      'no_session',
      'session_expired',
      'session_revoked',
      'rate_limited',
      'idp_unavailable',
      'invalid_request',
      'validate_unavailable',
    ],
  },
  latchkey_logouts_total: { reason: SESSION_END_REASONS },
  latchkey_admin_actions_total: {
    action: [
      'revoke_user',
      'revoke_token',
      'list_sessions',
      'end_session',
      'stage_key',
      'rotate_key',
      'emergency_rotate_keys',
      'revoke_tenant',
      'revoke_all_sessions',
      // The reads of the operators' console (@latchkey/admin-console).
      'read_operator',
      'read_keys',
      'read_activity',
    ],
    outcome: ['ok', 'not_found', 'invalid_request', 'insufficient_scope', 'error'],
  },
  latchkey_auth_decisions_total: {
    outcome: ['valid', 'missing', 'invalid', 'expired', 'revoked', 'insufficient_scope', 'insufficient_user_authentication', 'store_unavailable'],
  },
  latchkey_event_streams_refused_total: { reason: ['device', 'user', 'process', 'closing'] },
  latchkey_proxy_requests_total: {
    outcome: [
      'forwarded',
      'session_ended',
      'refused',
      'upstream_unavailable',
      'upstream_timeout',
      'idp_unavailable',
      'store_unavailable',
      'client_gone',
      'error',
    ],
  },
  latchkey_stream_events_total: { event: ['session_ended', 'devices_changed', 'reconnect'] },
} as const);

type LabelledName = keyof typeof METRIC_LABELS;
type LabelValues<N extends LabelledName> = { [L in keyof (typeof METRIC_LABELS)[N]]: (typeof METRIC_LABELS)[N][L] extends readonly (infer V)[] ? V : never };

/** A prom-client counter whose `inc` takes only the label values METRIC_LABELS lists for it. */
export type LabelledCounter<N extends LabelledName> = Omit<Counter<Extract<keyof (typeof METRIC_LABELS)[N], string>>, 'inc'> & {
  inc(labels: LabelValues<N>, value?: number): void;
};

function labelledCounter<N extends LabelledName>(registry: Registry, name: N, help: string): LabelledCounter<N> {
  return new Counter({ name, help, labelNames: Object.keys(METRIC_LABELS[name]), registers: [registry] }) as LabelledCounter<N>;
}

/**
 * The BFF's counters, on a registry of its own (never prom-client's global one), so two BFFs in one process
 * (tests, multi-tenant hosts) do not collide. Applications merge it with theirs via `Registry.merge`.
 */
export class BffMetrics {
  readonly registry = new Registry();
  readonly logins = labelledCounter(this.registry, 'latchkey_logins_total', 'Login attempts by outcome.');
  readonly refreshes = labelledCounter(
    this.registry,
    'latchkey_refreshes_total',
    'Refresh attempts by outcome (replayed: the just-superseded cookie within the grace window; otherwise the error code).',
  );
  readonly theftDetections = new Counter({
    name: 'latchkey_theft_detections_total',
    help: 'Device sessions revoked because a superseded refresh credential was presented.',
    registers: [this.registry],
  });
  readonly logouts = labelledCounter(
    this.registry,
    'latchkey_logouts_total',
    'Device sessions the BFF ended, one per session, by reason (the end-reason vocabulary of @latchkey/shared; sessions that lapse unseen are not counted).',
  );
  readonly adminActions = labelledCounter(
    this.registry,
    'latchkey_admin_actions_total',
    'Requests to the admin router by action and outcome (insufficient_scope: the keys scope missing or outside the token’s tenant; error: any other failure).',
  );
  readonly authDecisions = labelledCounter(
    this.registry,
    'latchkey_auth_decisions_total',
    'Guard decisions by outcome (missing: no Authorization header; insufficient_user_authentication: a step-up route refused an authentication too old or too weak; store_unavailable: a 503 from a fail-closed route).',
  );
  readonly proxyRequests = labelledCounter(
    this.registry,
    'latchkey_proxy_requests_total',
    "Calls to bff.proxy by outcome (forwarded: whatever the upstream answered; session_ended: the BFF's own 401; refused: CSRF, path, method, size or scope; idp_unavailable: token 'idp' could not be renewed at the IdP; client_gone: the client disconnected before the upstream's answer, nothing to answer).",
  );
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
  /** Set by the guard: seconds since the store last answered its revocation feed (0 while it answers). */
  viewStaleness: () => number = () => 0;
  readonly viewStalenessSeconds: Gauge = new Gauge({
    name: 'latchkey_revocation_view_staleness_seconds',
    help: "Age of this process's revocation view: seconds since the store last answered the feed (0 while it answers; +Inf before the first replay). Past 0.5 s fail-closed routes answer 503, past a route's maxStalenessMs (default 30 s) fail-open routes too.",
    registers: [this.registry],
    collect: (): void => this.viewStalenessSeconds.set(this.viewStaleness()),
  });
  readonly idpUnreachable = new Counter({
    name: 'latchkey_idp_unreachable_total',
    help: 'Requests to the upstream identity provider that got no usable answer (network error, timeout, or a 5xx).',
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
  readonly eventStreamsRefused = labelledCounter(
    this.registry,
    'latchkey_event_streams_refused_total',
    'Event streams refused by cap (device, user, process) or because the BFF is closing.',
  );
  readonly streamEvents = labelledCounter(
    this.registry,
    'latchkey_stream_events_total',
    'Events written to event streams, by name (reconnect: the last event of a stream ended by a shutdown).',
  );
  /** Set by the guard: the number of live entries in its local revocation view. */
  viewSize: () => number = () => 0;
  readonly viewEntries: Gauge = new Gauge({
    name: 'latchkey_revocation_view_entries',
    help: 'Live revocation entries held in this process (jti, sid, user).',
    registers: [this.registry],
    collect: (): void => this.viewEntries.set(this.viewSize()),
  });
}
