import type { Logger } from 'pino';
import type { KeyRing } from './keys/key-ring.js';
import type { ActivityLog } from './observability/activity-log.js';
import type { IdentityProviders } from './oidc/providers.js';
import type { BffMetrics } from './observability/metrics.js';
import type { Tracing } from './observability/tracing.js';
import type { ResolvedBffOptions } from './options.js';
import type { DeviceSessionRecord, SessionStore } from './store/types.js';
import type { SessionValidator } from './session/validate.js';

/** What every route handler needs, built once by createBff. */
export interface BffContext {
  readonly options: Readonly<ResolvedBffOptions>;
  readonly store: SessionStore;
  readonly keyRing: KeyRing;
  readonly logger: Logger;
  readonly metrics: BffMetrics;
  /** Recent revocations, thefts, evictions and admin actions, for the admin router's `GET /activity`. */
  readonly activity: ActivityLog;
  /** Epoch ms from the `clock` option (the system clock unless a test set one). */
  readonly now: () => number;
  /** Lifetime of sid and revoked_after markers: an access token issued just before the revocation must stay covered. */
  readonly markerTtlMs: number;
  /** The upstream identity providers, when the `oidc` option is set. */
  readonly idps?: IdentityProviders;
  /** The application's `validateSession`, behind its per-session cache; absent when the option is not set. */
  readonly validator?: SessionValidator;
  /** OpenTelemetry tracing; absent when `@opentelemetry/api` is not installed or `tracing.enabled` is false. */
  readonly tracing?: Tracing;
  /**
   * Told of every session this process ends (logout, revoke, logout-all, admin, theft), right after the store did: the
   * read-only session cache (`bff.getSession`) drops them before the revocation feed brings the news.
   */
  readonly sessionsEnded?: (sessions: readonly DeviceSessionRecord[]) => void;
}
