import axios from 'axios';
import { createSessionClient } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';
import { attachLive } from '@latchkey/client/live';
import * as proxyMode from '@latchkey/client/proxy';

/**
 * Proxy mode (LATCHKEY_DEMO_PROXY=true): the server says so in the page's HTML. The page then holds no token at all:
 * its API calls go through the BFF's proxy with the cookie and `X-CSRF: 1`.
 */
export const isProxyMode = document.querySelector('meta[name="latchkey-mode"]')?.getAttribute('content') === 'proxy';

// One client per page, created outside React: the provider starts it, the app owns it.
// The demo API lives on the page's own origin; no other host ever sees the token (or, in proxy mode, the CSRF header).
const apiOrigins = [window.location.origin];
export const sessionClient = isProxyMode
  ? proxyMode.createSessionClient({ mode: 'proxy', bffUrl: '/auth', apiOrigins })
  : createSessionClient({ bffUrl: '/auth', apiOrigins });

// The axios instance the page uses for its API: bearer token attached, one refresh-and-retry on 401 (token mode);
// cookie and X-CSRF, a BFF 401 ends the session (proxy mode).
export const api = axios.create();
if (isProxyMode) proxyMode.attachAxios(api, sessionClient);
else attachAxios(api, sessionClient);

// Pushes from the BFF: a device signed out elsewhere leaves this page at once, and the device list reloads when a
// device signs in or out. One stream per browser, shared by the tabs.
export const live = attachLive(sessionClient);

/**
 * "Sign out everywhere" ends this device's session with the same reason (`logout_all`) on every device: the device
 * that clicked and the ones told by the push. To tell them apart, the click leaves the session's id in this browser's
 * localStorage (every tab of the device sees it), and a page signed out with `logout_all` compares it with the session
 * it just had.
 */
const LOGOUT_ALL_KEY = 'latchkey-demo:logout-all-from';
let lastSessionId: string | undefined;
sessionClient.subscribe(() => {
  lastSessionId = sessionClient.getSnapshot().session?.id ?? lastSessionId;
});

export function logoutAllFromHere(): Promise<void> {
  const id = sessionClient.getSnapshot().session?.id;
  if (id) localStorage.setItem(LOGOUT_ALL_KEY, id);
  return sessionClient.logoutAll();
}

/** Whether the session this page last had was ended by a "Sign out everywhere" clicked on this device. */
export const loggedOutAllFromHere = (): boolean => lastSessionId !== undefined && localStorage.getItem(LOGOUT_ALL_KEY) === lastSessionId;
