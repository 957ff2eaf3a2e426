import { BROWSER_ROUTES as ROUTES, SESSION_ENDING_CODES } from '@latchkey/shared';
import type { CurrentSessionResponse, ErrorCode, LogoutRedirectResponse, ROUTES as ALL_ROUTES, SessionListResponse, SignOutReason } from '@latchkey/shared';
import { backoffDelay } from '../core/backoff.js';
import { createBffRequest } from '../core/bff-request.js';
import { createEventEmitter } from '../core/event-emitter.js';
import { resolveOptions } from '../core/options.js';
import type { SessionError } from '../core/session-error.js';
import { createSnapshotStore } from '../core/snapshot-store.js';
import { stepUpRequired } from '../core/step-up.js';
import { openTabChannel, type TabChannel } from '../core/tab-channel.js';
import type { SessionClient, SessionClientOptions, SessionEventMap, SignInOptions } from '../core/types.js';

/** Proxy mode's options: token mode's, with `mode: 'proxy'` required (apiOrigins name where the axios adapter sends `X-CSRF`). */
export interface ProxySessionClientOptions extends Omit<SessionClientOptions, 'refreshMarginMs' | 'handoverWaitMs'> {
  mode: 'proxy';
}

/** Between the tabs of one browser: a session restored or signed in (`in`), or ended (`out`). */
type ProxyTabMessage = { type: 'in'; view: CurrentSessionResponse } | { type: 'out'; reason: SignOutReason };

/** GET /session, spelled out (typed against ROUTES): a key added to BROWSER_ROUTES would cost token mode's bundle too. */
const CURRENT_SESSION: typeof ALL_ROUTES.currentSession = '/session';

const ignore = () => {};
const dom = typeof document == 'object';

/**
 * Proxy mode's session client (docs/proxy.md): the page never holds, asks for or receives a token. `GET /session` is
 * the source of truth (it also slides the credential on the BFF's schedule); APIs are reached through the BFF's proxy
 * with the cookie. Only the BFF's definitive 401 ends the session; network errors and 5xx keep the user signed in and
 * retry with backoff. No refresh lock: the browser never rotates anything itself.
 */
export function createSessionClient(input: ProxySessionClientOptions): SessionClient {
  const { mode, ...rest } = input;
  if (mode != 'proxy') throw new TypeError('latchkey: invalid option mode');
  const options = resolveOptions(rest);
  const request = createBffRequest(options);
  const store = createSnapshotStore();
  const events = createEventEmitter<SessionEventMap>();
  let epoch = 0;
  let flight: Promise<null> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let running = false;
  let tabs: TabChannel | undefined;

  function signedIn(view: CurrentSessionResponse, share: boolean) {
    const { user, session } = store.get();
    const same = session?.id == view.session.id;
    failures = 0;
    if (!same) epoch++;
    store.set({ status: 'authenticated', user: same ? user : view.user, session: same ? session : view.session, unreachable: false, signOutReason: null });
    if (share) tabs?.postMessage({ type: 'in', view } as never);
    if (!same) events.emit('signed_in', view);
  }

  function endSession(reason: SignOutReason | null, share: boolean) {
    if (store.get().status == 'unauthenticated') return;
    epoch++;
    clearTimeout(timer);
    store.set({ status: 'unauthenticated', user: null, session: null, unreachable: false, signOutReason: reason });
    if (!reason) return;
    if (share) tabs?.postMessage({ type: 'out', reason });
    if (reason == 'reuse_detected') events.emit('theft_detected', { reason });
    events.emit('signed_out', { reason });
  }

  async function ask(): Promise<null> {
    const startedIn = epoch;
    try {
      const { data } = await request<CurrentSessionResponse>('GET', CURRENT_SESSION);
      if (epoch == startedIn) signedIn(data, false);
    } catch (error) {
      if (epoch != startedIn) return null;
      const { status, code } = error as SessionError;
      if (status == 401 && SESSION_ENDING_CODES.includes(code as ErrorCode)) {
        endSession(store.get().status == 'authenticated' || code != 'no_session' ? (code as SignOutReason) : null, true);
        return null;
      }
      store.set({ unreachable: true });
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- caught here
      if (running) timer = setTimeout(() => refresh().catch(ignore), backoffDelay(failures++, options.backoffMinMs, options.backoffMaxMs));
      throw error;
    }
    return null;
  }

  /** Asks GET /session (single flight): the session goes on, or the BFF's definitive 401 ends it. Never a token. */
  function refresh(): Promise<null> {
    return (flight ||= ask().finally(() => (flight = undefined)));
  }

  async function call<T>(method: string, path: string): Promise<T> {
    try {
      return (await request<T>(method, path)).data;
    } catch (error) {
      if ((error as SessionError).status == 401) refresh().catch(ignore);
      throw error;
    }
  }

  async function signOut(path: string, reason: SignOutReason) {
    let to: string | undefined;
    try {
      to = (await request<LogoutRedirectResponse | undefined>('POST', path)).data?.redirectTo;
    } finally {
      endSession(reason, true);
    }
    if (to) location.assign(to);
  }

  function signInAt(path: string) {
    return async (body: object) => {
      // A BFF with tokens.browser: false answers no token; one that still does is never read here.
      const { data } = await request<CurrentSessionResponse>('POST', path, body);
      signedIn({ user: data.user, session: data.session }, true);
    };
  }

  function onTabMessage(message: ProxyTabMessage) {
    if (message.type == 'in') signedIn(message.view, false);
    else endSession(message.reason, false);
  }

  function retryNow() {
    if (store.get().unreachable) refresh().catch(ignore);
  }

  function onVisibilityChange() {
    if (document.visibilityState == 'visible') retryNow();
  }

  const client: SessionClient = {
    options,
    subscribe: store.subscribe,
    getSnapshot: store.get,
    getAccessToken: async () => null,
    refresh,
    on: events.on,
    login: signInAt(ROUTES.login),
    // Same session, fresh auth_time (step-up): the answer is the same `{ user, session }`.
    reauthenticate: signInAt(ROUTES.reauthenticate),
    stepUpRequired: (challenge) => stepUpRequired(events, challenge),
    end: (reason) => endSession(reason, true),
    hydrate(initial) {
      // As in token mode: on the server one client may serve every request, so a render gets a snapshot of its own.
      const own = dom ? store : createSnapshotStore();
      if (own.get().status == 'loading')
        own.set(initial ? { status: 'authenticated', user: initial.user, session: initial.session } : { status: 'unauthenticated' });
      return dom ? client : { ...client, getSnapshot: own.get };
    },
    signIn(o: SignInOptions = {}) {
      // Unset (or empty) options are left out of the query.
      const query = Object.entries({ ...o, returnTo: o.returnTo || location.href }).filter((e) => e[1]);
      location.assign(options.bffUrl + ROUTES.oidcLogin + '?' + new URLSearchParams(query as string[][]));
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
    start() {
      if (running) return;
      running = true;
      tabs = openTabChannel(options.channelName, onTabMessage as never);
      if (dom) {
        addEventListener('online', retryNow);
        document.addEventListener('visibilitychange', onVisibilityChange);
      }
      if (store.get().status == 'loading') {
        // As in token mode: without the readable hint cookie there is no session to ask about.
        if (!dom || options.bffUrl.includes('//') || /-hint=1/.test(document.cookie)) refresh().catch(ignore);
        else store.set({ status: 'unauthenticated' });
      }
    },
    destroy() {
      running = false;
      clearTimeout(timer);
      tabs?.close();
      tabs = undefined;
      if (dom) {
        removeEventListener('online', retryNow);
        document.removeEventListener('visibilitychange', onVisibilityChange);
      }
    },
  };
  return client;
}
