import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import type { SessionClient } from '../core/types.js';

/**
 * Proxy mode's axios adapter: requests to the client's apiOrigins (the BFF's proxied paths; with `sameOrigin`, the
 * page's own origin too) carry the cookie and `X-CSRF: 1`, and no token. A 401 on one of them asks `GET /session`:
 * the BFF's own 401 (its session-ending codes) ends the session in every tab; an upstream's 401 signs nobody out and
 * reaches the caller as it is. Nothing is retried. Requests marked `latchkey: { skip: true }` are left alone.
 * Returns detach().
 */
export function attachAxios(instance: AxiosInstance, client: SessionClient, options: { sameOrigin?: boolean } = {}): () => void {
  const ours = new WeakSet<InternalAxiosRequestConfig>();
  const requestInterceptor = instance.interceptors.request.use((config) => {
    try {
      const { origin } = new URL(instance.getUri(config), globalThis.document?.baseURI);
      if (!config.latchkey?.skip && (client.options.apiOrigins.includes(origin) || (!!options.sameOrigin && origin == location.origin))) {
        // CSRF_HEADER of @latchkey/shared, spelled out: importing it would pull the shared module into this entry.
        config.headers.set('X-CSRF', '1');
        config.withCredentials = true;
        ours.add(config);
      }
    } catch {
      // relative URL without a document, or unparsable: left alone
    }
    return config;
  });
  const responseInterceptor = instance.interceptors.response.use(undefined, async (error: AxiosError) => {
    if (error.response?.status == 401 && ours.has(error.config!)) {
      // Step-up (RFC 9470): the session is fine, its authentication too old; the page re-authenticates.
      const challenge = error.response.headers['www-authenticate'];
      if (/insufficient_user_authentication/.test(challenge)) throw client.stepUpRequired(challenge);
      await client.refresh().catch(() => null);
    }
    throw error;
  });
  return () => {
    instance.interceptors.request.eject(requestInterceptor);
    instance.interceptors.response.eject(responseInterceptor);
  };
}
