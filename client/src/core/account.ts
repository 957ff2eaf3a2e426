import { BROWSER_ROUTES as ROUTES } from '@latchkey/shared';
import type { LogoutRedirectResponse, SessionListResponse, SignOutReason } from '@latchkey/shared';
import type { BffRequest } from './bff-request.js';
import type { EventEmitter } from './event-emitter.js';
import { INITIAL_STATE, reduce } from './reducer.js';
import { pick } from './store.js';
import type { SessionError } from './session-error.js';
import type { Store } from './store.js';
import type { TabChannel } from './tab-channel.js';
import type { ResolvedSessionClientOptions, SessionClient, SessionEventMap } from './types.js';

export const ignore = () => {};
// Read once: the client lives in one page, or on a server that never starts it.
export const dom = typeof document == 'object';

/** What differs between token mode and proxy mode; the rest of a client is the same in both. */
export type ModeMethods = Pick<SessionClient, 'getAccessToken' | 'refresh' | 'login' | 'start' | 'destroy'>;

/** The parts of a client both modes build the same way. */
export interface ClientParts {
  options: ResolvedSessionClientOptions;
  request: BffRequest;
  store: Store;
  events: EventEmitter<SessionEventMap>;
  /** Ends the session here (and, with `share`, in the other tabs). */
  endSession(reason: SignOutReason | null, share: boolean): void;
  /** Token mode signs out under the refresh lock, so no tab rotates the cookie while it is being revoked. */
  lock(task: () => Promise<void>): Promise<void>;
}

/** After a session ended: tell the other tabs (unless they told us) and the application. */
export function announceEnd(events: EventEmitter<SessionEventMap>, tabs: TabChannel | undefined, reason: SignOutReason, share: boolean) {
  if (share) tabs?.postMessage({ type: 'out', reason });
  if (reason == 'reuse_detected') events.emit('theft_detected', { reason });
  events.emit('signed_out', { reason });
}

/** A whole client from the mode's own methods and the account methods, which are the same in both modes. */
export function assembleClient({ options, request, store, events, endSession, lock }: ClientParts, mode: ModeMethods): SessionClient {
  async function call<T>(method: string, path: string): Promise<T> {
    try {
      return (await request<T>(method, path)).data;
    } catch (error) {
      // The cookie was refused: a refresh gets the definitive answer and ends the session if it is gone.
      if ((error as SessionError).status == 401) mode.refresh().catch(ignore);
      throw error;
    }
  }

  function signOut(path: string, reason: SignOutReason) {
    return lock(async () => {
      let to: string | undefined;
      try {
        to = (await request<LogoutRedirectResponse | undefined>('POST', path)).data?.redirectTo;
      } finally {
        // Signed out here and in every tab even if the BFF is unreachable; the error still reaches the caller.
        endSession(reason, true);
      }
      // A session from an identity provider: sign out there too (RP-initiated logout).
      if (to) location.assign(to);
    });
  }

  const client: SessionClient = {
    ...mode,
    options,
    subscribe: store.subscribe,
    getSnapshot: store.snapshot,
    on: events.on,
    end: (reason) => endSession(reason, true),
    hydrate(initial) {
      if (dom) store.dispatch({ type: 'hydrated', initial });
      // On the server one client may serve every request: this render gets a snapshot of its own, the client stays untouched.
      const snapshot = pick(reduce(INITIAL_STATE, { type: 'hydrated', initial }));
      return dom ? client : { ...client, getSnapshot: () => snapshot };
    },
    signIn({ returnTo }: { returnTo?: string } = {}) {
      location.assign(options.bffUrl + ROUTES.oidcLogin + '?returnTo=' + encodeURIComponent(returnTo || location.href));
    },
    logout: () => signOut(ROUTES.logout, 'logout'),
    logoutAll: () => signOut(ROUTES.logoutAll, 'logout_all'),
    // This device stays signed in: no sign-out here or in the other tabs, which share its session.
    logoutOthers: () => call('POST', ROUTES.logoutOthers),
    listSessions: async () => (await call<SessionListResponse>('GET', ROUTES.sessions)).sessions,
    async revokeSession(id: string) {
      if (id == store.get().session?.id) return signOut(ROUTES.logout, 'logout');
      await call('DELETE', ROUTES.session.replace(':id', encodeURIComponent(id)));
    },
  };
  return client;
}
