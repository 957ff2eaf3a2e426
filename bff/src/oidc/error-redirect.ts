import type { BffContext } from '../context.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { AuthResult, Reply, RequestView } from '../http/exchange.js';
import { oauthErrorCode } from './idp-client.js';
import { checkReturnTo } from './return-to.js';

/** The `auth_error` a page may see: the user cancelled at the provider, or the sign-in failed, or the provider is down. */
export type AuthErrorCode = 'access_denied' | 'oidc_login_failed' | 'temporarily_unavailable';

/** The media types a browser's navigation asks for first. */
const HTML = new Set(['text/html', 'application/xhtml+xml']);

/**
 * Whether the caller is a browser navigating (its `Accept` asks for HTML at least as much as for JSON): it gets a 303
 * to a page instead of a JSON body it would show raw. A caller sending `*\/*`, no Accept, or preferring
 * `application/json` (a script, a test, a monitoring probe) keeps the JSON error.
 */
export function prefersPage(accept: string | undefined): boolean {
  let html = 0;
  let json = 0;
  for (const part of (accept ?? '').split(',')) {
    const [type = '', ...parameters] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = Number(parameters.find((p) => p.startsWith('q='))?.slice(2) ?? '1');
    const weight = Number.isFinite(q) ? q : 0;
    if (HTML.has(type)) html = Math.max(html, weight);
    else if (type === 'application/json') json = Math.max(json, weight);
  }
  return html > 0 && html >= json;
}

/** `access_denied` when the provider said so (the user cancelled or was refused there), else the error's own code. */
export function authErrorCode(error: LatchkeyError): AuthErrorCode | null {
  if (oauthErrorCode(error.cause) === 'access_denied') return 'access_denied';
  if (error.code === 'oidc_login_failed' || error.code === 'temporarily_unavailable') return error.code;
  return null;
}

/** `target` with `auth_error=<code>` added to its query (a path stays a path). */
export function withAuthError(target: string, code: AuthErrorCode): string {
  const relative = target.startsWith('/');
  const url = new URL(target, 'http://relative.invalid');
  url.searchParams.set('auth_error', code);
  return relative ? url.pathname + url.search + url.hash : url.href;
}

/**
 * Runs a sign-in step (the callback, or the start once its returnTo is known); a failure a browser navigation would
 * show as raw JSON becomes 303 to `oidc.errorRedirect` (default: the sign-in's `returnTo`, or `/`) with
 * `?auth_error=<code>`. The route's headers and cookies (no-store, the cleared transaction cookie) stay on the answer.
 * Anything else, and every failure for a caller preferring JSON or with `errorRedirect: false`, is thrown on to the
 * error writer as before.
 */
export async function redirectOnFailure(
  ctx: BffContext,
  req: RequestView,
  reply: Reply,
  returnTo: string | undefined,
  step: () => Promise<AuthResult>,
): Promise<AuthResult> {
  try {
    return await step();
  } catch (error) {
    const setting = ctx.idps?.options.errorRedirect;
    if (!(error instanceof LatchkeyError) || setting === false || !prefersPage(req.get('accept'))) throw error;
    const code = authErrorCode(error);
    if (code === null) throw error;
    return reply.redirect(withAuthError(errorTarget(req, setting, returnTo, ctx.options.origins.allowed), code));
  }
}

function errorTarget(req: RequestView, setting: string | undefined, returnTo: string | undefined, allowedOrigins: readonly string[] | undefined): string {
  if (setting === undefined) return returnTo ?? '/';
  try {
    // Checked like a returnTo (the configured URL must be on an allowed origin): never an open redirect.
    return checkReturnTo(setting, `${req.protocol}://${req.get('host') ?? ''}`, allowedOrigins);
  } catch {
    return '/';
  }
}
