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
