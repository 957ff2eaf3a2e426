import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { RateLimitCount } from '../store/rate-limit-counter.js';
import { ipKey, RequestLimit } from './rate-limit.js';

/** How long an address a client authenticated from stays exempt from that client's ceiling (renewed by each success). */
const KNOWN_ADDRESS_TTL_MS = 24 * 3600_000;
/** Known (client, address) pairs kept per process; the oldest go first. */
const MAX_KNOWN_ADDRESSES = 10_000;

/**
 * Limits on resource-client authentication (`/introspect`, `/revoke`), counted in the store's backend like the login
 * limits: failures per client IP (`rateLimit.clientAuth.perIp`) and per configured client id from all IPs (`rateLimit.clientAuth.perClient`).
 *
 * A wrong secret is counted (one atomic increment per counter) and answered 429 instead of 401 once a counter is over.
 * A right secret is counted as nothing but still refused while a counter it falls under is over, so past the limit a
 * guesser cannot tell a right secret from a wrong one: at most `limit` wrong guesses per window get an answer that
 * says so. Addresses this process saw the client authenticate from are exempt from its per-client ceiling (not from
 * their own per-IP limit), so guesses from elsewhere cannot lock the client's own servers out.
 * When the store cannot answer, the limits pass (logged): the secrets are at least 32 characters, and a 503 would
 * stop every resource server during an outage for a bound the secret's entropy already gives.
 */
export interface ClientAuthLimit {
  /** Throws 429 `rate_limited` (OAuth body, Retry-After) when over. `clientId`: a configured client's id, or null. */
  check(ip: string, clientId: string | null, authenticated: boolean): Promise<void>;
}

export function createClientAuthLimit(ctx: BffContext): ClientAuthLimit {
  const { perIp: clientAuthPerIp, perClient: clientAuthPerClient } = ctx.options.rateLimit.clientAuth;
  const refused = { countRefusal: () => {} };
  const perIp = new RequestLimit(ctx, 'client-auth-ip', clientAuthPerIp, refused);
  const perClient = new RequestLimit(ctx, 'client-auth-client', clientAuthPerClient, refused);
  const known = new Map<string, number>();

  const isKnown = (pair: string): boolean => {
    const until = known.get(pair);
    if (until === undefined) return false;
    if (until > ctx.now()) return true;
    known.delete(pair);
    return false;
  };
  const remember = (pair: string): void => {
    known.delete(pair); // re-inserted last: the map's order is the eviction order
    known.set(pair, ctx.now() + KNOWN_ADDRESS_TTL_MS);
    if (known.size > MAX_KNOWN_ADDRESSES) known.delete(known.keys().next().value!);
  };
  const count = async (limit: RequestLimit, key: string, points: number, ip: string): Promise<RateLimitCount | null> => {
    try {
      return await limit.add(key, points);
    } catch (error) {
      if (!(error instanceof LatchkeyError) || error.code !== 'temporarily_unavailable') throw error;
      ctx.logger.warn({ event: 'rate_limit_store_unavailable', limit: limit.name, ip }, 'rate limit store unavailable; passing');
      return null;
    }
  };

  return {
    async check(ip, clientId, authenticated) {
      const address = ipKey(ip);
      const pair = clientId === null ? null : `${clientId}\n${address}`;
      const exempt = pair !== null && isKnown(pair);
      // A right secret adds nothing: it only reads the count (0 points), so a busy client costs no writes.
      const points = authenticated ? 0 : 1;
      const [byIp, byClient] = await Promise.all([
        count(perIp, address, points, ip),
        clientId === null || (exempt && authenticated) ? null : count(perClient, clientId, points, ip),
      ]);
      const over: [RequestLimit, RateLimitCount] | null =
        byIp && !byIp.allowed ? [perIp, byIp] : byClient && !byClient.allowed && !exempt ? [perClient, byClient] : null;
      if (over) {
        const refusal = over[0].refusal(over[1], { ip, ...(clientId === null ? {} : { clientId }) });
        throw new LatchkeyError('rate_limited', undefined, { oauthBody: true, headers: refusal.headers });
      }
      if (authenticated && pair !== null) remember(pair);
    },
  };
}
