import axios from 'axios';
import { createSessionClient } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';
import { attachLive } from '@latchkey/client/live';

// One client per page, created outside React: the provider starts it, the app owns it.
export const sessionClient = createSessionClient({
  bffUrl: '/auth',
  // The demo API lives on the page's own origin; no other host ever sees the token.
  apiOrigins: [window.location.origin],
});

// The axios instance the page uses for its API: bearer token attached, one refresh-and-retry on 401.
export const api = axios.create();
attachAxios(api, sessionClient);

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
