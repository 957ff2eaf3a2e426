import { LatchkeyError } from '../errors/latchkey-error.js';
import type { RequestView } from './exchange.js';

/**
 * Refuses requests a browser sent (it adds `Origin` to every cross-origin request and to POSTs, and `Sec-Fetch-Site`
 * to all): the OAuth endpoints are for servers. They take a form body, which a cross-site page can post without a
 * preflight, and a browser may replay Basic credentials it once cached for this origin; refusing browsers outright
 * closes that CSRF path without the X-CSRF header the cookie routes use (server callers have no reason to send it).
 */
export function checkServerOnly(req: RequestView): void {
  if (req.get('origin') !== undefined || req.get('sec-fetch-site') !== undefined) {
    throw new LatchkeyError('csrf_rejected', 'This endpoint is for servers; browsers may not call it.', { oauthBody: true });
  }
}
