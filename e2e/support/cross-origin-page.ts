/**
 * The page of e2e/specs/cross-origin.spec.ts, bundled by the spec with esbuild from the client's sources: a session
 * client whose BFF is on another origin (`bffUrl` absolute, from the page's `window.crossOriginConfig`), the axios
 * adapter for the page's own API, and every Authorization header the page sent, by URL. The spec drives it through
 * `window.e2e`.
 */
import axios from 'axios';
import { createSessionClient } from '@latchkey/client';
import { attachAxios } from '@latchkey/client/axios';

declare global {
  interface Window {
    crossOriginConfig: { bffUrl: string; apiOrigins: string[] };
    e2e: unknown;
  }
}

const session = createSessionClient(window.crossOriginConfig);
const api = axios.create();
attachAxios(api, session);
session.start();

window.e2e = {
  snapshot: () => {
    const { status, unreachable, user, session: device } = session.getSnapshot();
    return { status, unreachable, user: user?.name ?? null, sid: device?.id ?? null };
  },
  login: (username: string, password: string) => session.login({ username, password }),
  refresh: () => session.refresh(),
  logout: () => session.logout(),
  /** The page's own API through the axios adapter (token attached: the page's origin is in apiOrigins). */
  me: async () => (await api.get('/api/me')).data as { sub: string; sid: string },
  /** The BFF's JWKS through the same axios instance: the BFF origin is not in apiOrigins, so no token goes there. */
  jwksThroughAxios: async () => (await api.get(window.crossOriginConfig.bffUrl + '/jwks.json')).status,
};
