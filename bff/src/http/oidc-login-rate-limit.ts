import type { BffContext } from '../context.js';
import { ipKey, RequestLimit } from './rate-limit.js';

/**
 * Sign-in starts (`GET /oidc/login`) per client IP, counted apart from password logins: each start writes a login
 * transaction to the store, which this bounds, and a flood of starts (another page's images, a loop) must not use up
 * the password login limit of everyone behind that address. Mounted after the navigation check, so only real
 * top-level navigations count.
 */
export function createOidcLoginIpLimit(ctx: BffContext): (ip: string | undefined) => Promise<void> {
  const limit = new RequestLimit(ctx, 'oidc-login-ip', ctx.options.rateLimit.oidcLogin.perIp, {
    countRefusal: () => ctx.metrics.logins.inc({ outcome: 'oidc_login_rate_limited' }),
  });
  return async (address) => {
    const ip = address ?? '';
    await limit.take(ipKey(ip), { ip });
  };
}
