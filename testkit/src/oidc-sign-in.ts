/**
 * The browser's side of a BFF's OIDC sign-in over real HTTP: GET /auth/oidc/login, through the IdP's login page
 * (node-oidc-provider's interaction form), back to the BFF's callback. The device's jar plays the browser's, SameSite
 * included: each navigation says where it comes from, so the callback (a navigation from the IdP's site) carries the
 * BFF's Lax cookies but not its Strict session cookie, as in a browser when the IdP is another site.
 */
import type { HttpDevice } from './http-device.js';

/** GET /auth/oidc/login, a navigation from the application's page (`origin`): the IdP authorization URL it redirects to. */
export async function startLogin(browser: HttpDevice, origin: string, returnTo = '/app'): Promise<URL> {
  const res = await browser.request(`${origin}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`, { from: `${origin}/` });
  if (res.status !== 303) throw new Error(`login answered ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/**
 * From a BFF login redirect (the IdP authorization URL) through the IdP's login page with these credentials, up to the
 * redirect back to the BFF's callback, which is returned without being requested.
 */
export async function authorizeAtIdp(browser: HttpDevice, authorizationUrl: string, username = 'alice', password = 'wonderland'): Promise<URL> {
  // The shared callback path, or a provider's own (`/auth/oidc/callback/<name>`).
  const isCallback = (next: URL) => /^\/auth\/oidc\/callback(\/[^/]+)?$/.test(next.pathname);
  // The BFF's login route redirected here: the navigation comes from it.
  const from = browser.lastUrl ?? undefined;
  const toInteraction = await browser.follow(authorizationUrl, (next) => next.pathname.includes('/interaction/') || isCallback(next), { from });
  // Already signed in at the IdP (single sign-on): straight back to the callback.
  if (toInteraction.stoppedAt && isCallback(toInteraction.stoppedAt)) return toInteraction.stoppedAt;
  if (!toInteraction.stoppedAt) throw new Error(`the IdP did not ask for a login: ${toInteraction.last.status} ${await toInteraction.last.text()}`);
  const login = await browser.request(`${toInteraction.stoppedAt.href}/login`, { form: { username, password }, from: toInteraction.stoppedAt.href });
  const resume = login.headers.get('location');
  if (login.status !== 303 || !resume) throw new Error(`the IdP login answered ${login.status}`);
  const back = await browser.follow(new URL(resume, toInteraction.stoppedAt).href, isCallback, { from: toInteraction.stoppedAt.href });
  if (!back.stoppedAt) throw new Error(`the IdP did not return to the callback: ${back.last.status} ${await back.last.text()}`);
  return back.stoppedAt;
}

/**
 * The IdP's redirect back to the BFF's callback, as the browser makes it: a top-level navigation from the IdP's page
 * (the last URL the browser requested), so the BFF's SameSite=Strict cookies stay home when the IdP is another site.
 */
export function returnFromIdp(browser: HttpDevice, callbackUrl: string | URL): Promise<Response> {
  return browser.request(String(callbackUrl), { from: browser.lastUrl ?? undefined });
}
