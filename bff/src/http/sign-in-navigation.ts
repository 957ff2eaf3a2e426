import type { Logger } from 'pino';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { stripControls } from '../session/display-text.js';
import type { RequestView } from './exchange.js';

/** `Sec-Fetch-Site` values of a request a page of this site (or the user: `none`) made. */
const OWN_SITE = new Set(['same-origin', 'same-site', 'none']);

const header = (value: string | undefined) => (value === undefined ? undefined : stripControls(value).slice(0, 40));

/**
 * GET /oidc/login starts a sign-in only from a same-site top-level navigation, as Fetch Metadata shows it: another
 * site's page must not start one (with an SSO session at the IdP the round trip is silent, and every round would add a
 * device session for the victim), nor an image or a script (each start writes a login transaction and counts against
 * the sign-in limit). Checked first, so a refused request counts nothing and writes nothing.
 *
 * Browsers that send Fetch Metadata (Chrome 80+, Firefox 90+, Safari 16.4+, to https and localhost) always send
 * `Sec-Fetch-Site`: then it must be same-origin, same-site or none (typed, bookmarked), `Sec-Fetch-Mode` navigate and
 * `Sec-Fetch-Dest`, when sent, document (not a frame). Without `Sec-Fetch-Site` (an older browser, plain http to a
 * non-local host, a script's HTTP client: Node's fetch sends `Sec-Fetch-Mode: cors` only) the request passes: it
 * cannot be told from a legitimate start, and the sign-in limit and the session cap's eviction order bound what it
 * can do (docs/security.md).
 */
export function checkSignInNavigation(req: RequestView, logger: Logger): void {
  const site = req.get('sec-fetch-site');
  if (site === undefined) return;
  const mode = req.get('sec-fetch-mode');
  const dest = req.get('sec-fetch-dest');
  if (OWN_SITE.has(site) && mode === 'navigate' && (dest === undefined || dest === 'document')) return;
  logger.warn(
    { event: 'oidc_login_refused', ip: req.ip, site: header(site), mode: header(mode), dest: header(dest) },
    'sign-in start refused: not a same-site top-level navigation',
  );
  throw new LatchkeyError('csrf_rejected', 'A sign-in starts only from a page of this site, as a top-level navigation.');
}
