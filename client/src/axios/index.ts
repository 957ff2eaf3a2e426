import type { AxiosError, AxiosInstance, InternalAxiosRequestConfig } from 'axios';
import type { SessionClient } from '../core/types.js';

/** Per-request options, as `config.latchkey`. */
export interface LatchkeyRequestOptions {
  /** Leave this request alone: no token attached, no refresh on 401. */
  skip?: boolean;
}

declare module 'axios' {
  interface AxiosRequestConfig {
    latchkey?: LatchkeyRequestOptions;
  }
}

export interface AttachAxiosOptions {
  /** Also send the token to the page's own origin (relative URLs) when it is not listed in apiOrigins. */
  sameOrigin?: boolean;
}

/**
 * Attaches the access token to requests for the client's apiOrigins, and on a 401 refreshes once (shared
 * with every other waiting request) and retries once; a 401 `insufficient_user_authentication` (step-up) is not
 * retried: the client emits `reauthentication_required` and the request rejects with a SessionError of that code.
 * Returns detach(), which ejects both interceptors.
 */
export function attachAxios(instance: AxiosInstance, client: SessionClient, options: AttachAxiosOptions = {}): () => void {
  // The token each request carried, keyed by its config: marks the 401s that are ours to handle and
  // tells refresh() which token was rejected. Nothing is written on the config itself.
  const sentToken = new WeakMap<InternalAxiosRequestConfig, string>();

  const requestInterceptor = instance.interceptors.request.use(async (config) => {
    let origin;
    try {
      // getUri applies baseURL, axios's own absolute-URL rules and params, exactly as the request will; a relative
      // result is resolved as the browser resolves it: against document.baseURI (a <base href> moves it), never
      // location.href. Without a document (SSR, a worker) a relative URL cannot be placed: no token.
      origin = new URL(instance.getUri(config), globalThis.document?.baseURI).origin;
    } catch {
      // relative URL without a document, or unparsable: no token
    }
    if (!config.latchkey?.skip && origin && (client.options.apiOrigins.includes(origin) || (options.sameOrigin && origin == location.origin))) {
      const token = await client.getAccessToken();
      if (token) {
        config.headers.set('Authorization', 'Bearer ' + token);
        sentToken.set(config, token);
      }
    }
    return config;
  });

  const responseInterceptor = instance.interceptors.response.use(undefined, async (error: AxiosError) => {
    const config = error.config;
    const rejected = config && sentToken.get(config);
    // Not ours (no token sent, skipped, or already the retry): the caller gets the error as is.
    if (error.response?.status != 401 || !rejected) throw error;
    // Step-up (RFC 9470): a new token for the same authentication would be refused again; the page re-authenticates.
    const challenge = error.response.headers['www-authenticate'];
    if (/insufficient_user_authentication/.test(challenge)) throw client.stepUpRequired(challenge);
    // A 401 from an API does not sign anyone out: refresh() asks the BFF, which alone can end the session.
    const token = await client.refresh(rejected).catch(() => null);
    // No session left, BFF unreachable, or nothing newer to offer: the caller gets the original 401.
    if (!token || token == rejected) throw error;
    config.headers.set('Authorization', 'Bearer ' + token);
    // axios copies the config for the retry, so the retry is marked with the skip flag (the only state
    // that survives the copy): its 401, if any, goes back to the caller and never loops.
    return instance.request({ ...config, latchkey: { ...config.latchkey, skip: true } });
  });

  return () => {
    instance.interceptors.request.eject(requestInterceptor);
    instance.interceptors.response.eject(responseInterceptor);
  };
}
