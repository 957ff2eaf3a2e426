import { CSRF_HEADER, CSRF_HEADER_VALUE, type ErrorBody } from '@latchkey/shared';
import { SessionError } from './session-error.js';
import type { Action, ClientState } from './reducer.js';
import type { ResolvedSessionClientOptions } from './types.js';

export interface BffAnswer<T> {
  data: T;
  /** The BFF's clock (Date header) at answer time, or ours when absent: token expiries are in its clock. */
  serverNow: number;
}

export type BffRequest = <T>(method: string, path: string, body?: object) => Promise<BffAnswer<T>>;

/**
 * One way to talk to the BFF: cookie included, CSRF header, JSON both ways, errors as SessionError. A 403
 * `csrf_rejected` is a configuration error, not an outage: it goes into the snapshot, and once to the console.
 */
export function createBffRequest(options: ResolvedSessionClientOptions, set: (action: Action) => ClientState): BffRequest {
  return async (method, path, body) => {
    let response: Response;
    try {
      // Called unbound on purpose: a browser's fetch throws "Illegal invocation" when `this` is not window.
      const fetchFn = options.fetch || fetch;
      response = await fetchFn(options.bffUrl + path, {
        method,
        // No `cache` option: the BFF answers every cookie-authenticated route with `Cache-Control: no-store` already.
        credentials: 'include',
        headers: { [CSRF_HEADER]: CSRF_HEADER_VALUE, 'Content-Type': 'application/json' },
        // POSTs always carry a JSON body so a strict content-type check on the BFF never rejects them.
        body: method == 'POST' ? JSON.stringify(body || {}) : undefined,
        signal: AbortSignal.timeout?.(options.requestTimeoutMs),
      });
    } catch (cause) {
      throw new SessionError('network_error', 0, '', { cause });
    }
    const data = await response.json().catch(() => undefined);
    if (!response.ok || (response.status != 204 && data === undefined)) {
      // A code's shape, not the closed list (which would ship every code to the browser): a code this client does
      // not know yet (a newer BFF) still reaches the caller, and a proxy's own error page is still 'bad_response'.
      const { error, message } = (data || {}) as Partial<ErrorBody>;
      const known = typeof error == 'string' && /^[a-z_]+$/.test(error);
      const failure = new SessionError(known ? error : 'bad_response', response.status, known ? message : undefined);
      // The one error a developer meets first (a dev server on another origin): say what to change, in words (in
      // development only: see options.ts).
      if (error == 'csrf_rejected' && !set({ type: 'rejected', error: failure }).error)
        if (typeof process == 'object' && process.env.NODE_ENV != 'production') console.error('latchkey: csrf_rejected: add origin to origins.allowed');
      throw failure;
    }
    return { data, serverNow: Date.parse(response.headers.get('date')!) || Date.now() };
  };
}
