import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthRoute } from '../http/exchange.js';

/** How long the readiness probe waits for the store before calling it unreachable (below Kubernetes' 1 s probe timeout). */
export const STORE_PING_TIMEOUT_MS = 500;
/** One store read per this long at most, however often the probe is called (it is public: a flood costs one read). */
const STORE_PING_REUSE_MS = 1000;

export interface HealthDependencies {
  /** The revocation feed is within the guard's staleness bound (`guard.feedCurrent`). */
  feedCurrent(): Promise<boolean>;
  /** `bff.close()` has begun: this instance is draining and takes no new traffic. */
  closing(): boolean;
}

export interface HealthRoutes {
  /** GET /healthz: 200 while the process serves (liveness). */
  healthz: AuthRoute;
  /** GET /readyz: 200 when the store answers and the revocation feed is current, else 503 with `Retry-After` (readiness). */
  readyz: AuthRoute;
}

/**
 * The probes. Public (no cookie, no X-CSRF): they read no session and act on nothing, and their answers say only
 * `ok` or not, the same for every caller (no versions, counts, hosts or timings), so there is nothing to protect.
 * Never cached (a cached "ready" would keep traffic coming to an instance that fails closed). The store read is
 * shared: concurrent probes wait for one read, and a success is reused for a second.
 */
export function createHealthRoutes(ctx: BffContext, deps: HealthDependencies): HealthRoutes {
  let ping: { at: number; answer: Promise<boolean>; settled?: boolean } | undefined;

  const storeAnswers = (): Promise<boolean> => {
    const now = performance.now();
    // A read under way is shared; a success is reused for a second; a failure never (the store's return shows at once).
    if (ping && (ping.settled === undefined || (ping.settled && now - ping.at < STORE_PING_REUSE_MS))) return ping.answer;
    const answer = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), STORE_PING_TIMEOUT_MS);
      timer.unref();
      const settle = (answered: boolean) => {
        clearTimeout(timer);
        resolve(answered);
      };
      ctx.store.getKeyRing().then(
        () => settle(true),
        () => settle(false),
      );
    });
    const current: NonNullable<typeof ping> = { at: now, answer };
    void answer.then((answered) => (current.settled = answered));
    ping = current;
    return answer;
  };

  const notReady = new LatchkeyError('temporarily_unavailable', 'This instance is not ready to serve.');

  return {
    healthz: async (_req, reply) => reply.send(200, { status: 'ok' }),
    readyz: async (_req, reply) => {
      // Both checks at once: a paused store costs one wait, not two.
      const [feed, store] = deps.closing() ? [false, false] : await Promise.all([deps.feedCurrent(), storeAnswers()]);
      if (feed && store && !deps.closing()) return reply.send(200, { status: 'ready' });
      for (const [name, value] of Object.entries(notReady.headers)) reply.header(name, value);
      return reply.send(notReady.status, { error: notReady.code, message: notReady.message });
    },
  };
}
