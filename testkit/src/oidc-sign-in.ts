/**
 * The browser's side of a BFF's OIDC sign-in over real HTTP: GET /auth/oidc/login, through the IdP's login page
 * (node-oidc-provider's interaction form), back to the BFF's callback. The device's jar plays the browser's.
 */
import type { HttpDevice } from './http-device.js';

/** GET /auth/oidc/login: the IdP authorization URL it redirects to. */
export async function startLogin(browser: HttpDevice, origin: string, returnTo = '/app'): Promise<URL> {
  const res = await browser.request(`${origin}/auth/oidc/login?returnTo=${encodeURIComponent(returnTo)}`);
  if (res.status !== 303) throw new Error(`login answered ${res.status} ${await res.text()}`);
  return new URL(res.headers.get('location')!);
}

/**
 * From a BFF login redirect (the IdP authorization URL) through the IdP's login page with these credentials, up to the
 * redirect back to the BFF's callback, which is returned without being requested.
 */
export async function authorizeAtIdp(browser: HttpDevice, authorizationUrl: string, username = 'alice', password = 'wonderland'): Promise<URL> {
  const isCallback = (next: URL) => next.pathname === '/auth/oidc/callback';
  const toInteraction = await browser.follow(authorizationUrl, (next) => next.pathname.includes('/interaction/') || isCallback(next));
  // Already signed in at the IdP (single sign-on): straight back to the callback.
  if (toInteraction.stoppedAt && isCallback(toInteraction.stoppedAt)) return toInteraction.stoppedAt;
  if (!toInteraction.stoppedAt) throw new Error(`the IdP did not ask for a login: ${toInteraction.last.status} ${await toInteraction.last.text()}`);
  const login = await browser.request(`${toInteraction.stoppedAt.href}/login`, { form: { username, password } });
  const resume = login.headers.get('location');
  if (login.status !== 303 || !resume) throw new Error(`the IdP login answered ${login.status}`);
  const back = await browser.follow(new URL(resume, toInteraction.stoppedAt).href, isCallback);
  if (!back.stoppedAt) throw new Error(`the IdP did not return to the callback: ${back.last.status} ${await back.last.text()}`);
  return back.stoppedAt;
}
