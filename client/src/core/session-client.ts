import { BROWSER_ROUTES as ROUTES, SESSION_ENDING_CODES } from '@latchkey/shared';
import type { ErrorCode, LogoutRedirectResponse, SessionListResponse, SignOutReason, TokenResponse } from '@latchkey/shared';
import { backoffDelay } from './backoff.js';
import { createBffRequest } from './bff-request.js';
import { createEventEmitter } from './event-emitter.js';
import { holdToken, type HeldToken } from './held-token.js';
import { resolveOptions } from './options.js';
import { countPresence, holdPresence, withRefreshLock } from './refresh-lock.js';
import type { SessionError } from './session-error.js';
import { createSnapshotStore } from './snapshot-store.js';
import { stepUpRequired } from './step-up.js';
import { openTabChannel, type TabChannel, type TabMessage } from './tab-channel.js';
import type { SessionClient, SessionClientOptions, SessionEventMap, SignInOptions } from './types.js';

const ignore = () => {};
// Read once: the client lives in one page, or on a server that never starts it.
const dom = typeof document == 'object';

/**
 * The session state machine of one page. Everything lives in this closure (no module state), tokens
 * only in memory. Status starts at 'loading' and is settled by the first refresh, or by a token
 * another tab hands over.
 */
export function createSessionClient(input: SessionClientOptions = {}): SessionClient {
  const options = resolveOptions(input);
  const request = createBffRequest(options);
  const store = createSnapshotStore();
  const events = createEventEmitter<SessionEventMap>();
  const lockName = options.channelName + ':refresh';
  const presenceName = options.channelName + ':holder';

  let token: HeldToken | undefined;
  // Bumped whenever the session ends or changes hands: a refresh that started before must not apply.
  let epoch = 0;
  let flight: Promise<string | null> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let running = false;
  let tabs: TabChannel | undefined;
  // A tab may answer 'ask' just after another signed out: never take that session back.
  let endedSessionId: string | undefined;
  // Ends a wait for the other tabs as soon as one of them hands over a token or signs out.
  let handedOver: (() => void) | undefined;
  // Lets go of this tab's presence lock (held while it has a token).
  let releasePresence: (() => void) | undefined;

  const isFresh = (held: HeldToken | undefined) => !!held && Date.now() < held.refreshAt;
  const current = () => (token ? token.accessToken : null);

  /**
   * Asks the other tabs for their token and waits for one. When Web Locks show that another tab holds a token, the
   * wait is long (its answer may be slow on a busy machine); when none does, there is nothing to wait for.
   */
  async function askTabs() {
    const own = releasePresence ? 1 : 0;
    const holders = await countPresence(presenceName);
    if (!tabs || holders === own) return;
    tabs.postMessage({ type: 'ask' });
    await new Promise<void>((resolve) => {
      handedOver = resolve;
      setTimeout(resolve, options.handoverWaitMs * (holders! > own ? 10 : 1));
    });
    handedOver = undefined;
  }

  function dropPresence() {
    releasePresence?.();
    releasePresence = undefined;
  }

  function schedule(delay: number) {
    clearTimeout(timer);
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- caught here; `void` would cost bundle bytes
    if (running) timer = setTimeout(() => refresh().catch(ignore), delay);
  }

  function accept(next: HeldToken, share: boolean) {
    const previous = token;
    // The snapshot's session, not the token's: a session the server rendered has no token until its first API call.
    const shown = store.get();
    const sameSession = shown.session?.id == next.session.id;
    // Several tabs may answer one 'ask': keep the newest token, and never revive a session that ended here.
    if (next.session.id == endedSessionId || (!share && previous && sameSession && next.expiresAt <= previous.expiresAt)) return;
    if (!sameSession) epoch++;
    token = next;
    releasePresence ||= holdPresence(presenceName);
    failures = 0;
    endedSessionId = undefined;
    // Same session: keep the snapshot's user and session objects, so a refresh does not change the snapshot.
    const { user, session } = (sameSession ? shown : next) as HeldToken;
    store.set({ status: 'authenticated', user, session, unreachable: false, signOutReason: null });
    // Jitter spreads the tabs' timers: the first one refreshes, the others receive its token.
    schedule(token.refreshAt - Date.now() - (Math.random() * token.margin) / 2);
    if (share) tabs?.postMessage({ type: 'token', token });
    handedOver?.();
    events.emit(sameSession ? 'refreshed' : 'signed_in', { user, session });
  }

  function endSession(reason: SignOutReason | null, share: boolean) {
    if (store.get().status == 'unauthenticated') return;
    epoch++;
    endedSessionId = token?.session.id;
    token = undefined;
    dropPresence();
    failures = 0;
    clearTimeout(timer);
    store.set({ status: 'unauthenticated', user: null, session: null, unreachable: false, signOutReason: reason });
    handedOver?.();
    if (!reason) return;
    if (share) tabs?.postMessage({ type: 'out', reason });
    if (reason == 'reuse_detected') events.emit('theft_detected', { reason });
    events.emit('signed_out', { reason });
  }

  function run(stale: string | null): Promise<string | null> {
    const startedIn = epoch;
    // Settled: the session changed meanwhile, or another tab delivered a fresh token.
    const settled = () => epoch != startedIn || (isFresh(token) && token!.accessToken != stale);
    return withRefreshLock(lockName, async (waited) => {
      // Under the lock, before spending a refresh, ask the tabs that hold a token: a starting tab (no token yet), or
      // one whose token is stale or that waited for the lock, may find that another tab has just refreshed: it held
      // the lock, or released it just before we took it while its broadcast is still on the way (the lock grant and
      // the message travel separately). Asking first and taking the lock after would leave that gap open.
      // No other holder: no wait at all.
      if ((waited || !isFresh(token)) && !settled()) await askTabs();
      if (settled()) return current();
      try {
        const { data, serverNow } = await request<TokenResponse>('POST', ROUTES.refresh);
        if (epoch == startedIn) accept(holdToken(data, serverNow, options.refreshMarginMs), true);
        return current();
      } catch (error) {
        if (epoch != startedIn) return current();
        const { status, code } = error as SessionError;
        // Only the BFF's definitive answer ends a session; a missing cookie at start-up is just "signed out".
        if (status == 401 && SESSION_ENDING_CODES.includes(code as ErrorCode)) {
          endSession(store.get().status == 'authenticated' || code != 'no_session' ? (code as SignOutReason) : null, true);
          return null;
        }
        store.set({ unreachable: true });
        schedule(backoffDelay(failures++, options.backoffMinMs, options.backoffMaxMs));
        throw error;
      }
    });
  }

  function fly(stale: string | null) {
    return (flight ||= run(stale).finally(() => (flight = undefined)));
  }

  function refresh(stale: string | null = current()): Promise<string | null> {
    return store.get().status == 'unauthenticated' ? Promise.resolve(null) : fly(stale);
  }

  async function getAccessToken(): Promise<string | null> {
    if (isFresh(token)) return token!.accessToken;
    try {
      return await refresh();
    } catch (error) {
      // The BFF is unreachable, but a token that has not expired yet still works.
      if (token && Date.now() < token.expiresAt) return token.accessToken;
      throw error;
    }
  }

  async function call<T>(method: string, path: string): Promise<T> {
    try {
      return (await request<T>(method, path)).data;
    } catch (error) {
      // The cookie was refused: a refresh gets the definitive answer and ends the session if it is gone.
      if ((error as SessionError).status == 401) refresh().catch(ignore);
      throw error;
    }
  }

  function signOut(path: string, reason: SignOutReason) {
    // Under the lock, so no tab rotates the cookie while it is being revoked.
    return withRefreshLock(lockName, async () => {
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

  function signInAt(path: string) {
    return async (body: object) => {
      const { data, serverNow } = await request<TokenResponse>('POST', path, body);
      accept(holdToken(data, serverNow, options.refreshMarginMs), true);
    };
  }

  function onTabMessage(message: TabMessage) {
    if (message.type == 'ask') {
      if (isFresh(token)) tabs?.postMessage({ type: 'token', token: token! });
    } else if (message.type == 'token') accept(message.token, false);
    else endSession(message.reason, false);
  }

  function retryNow() {
    if (store.get().unreachable || (token && !isFresh(token))) refresh().catch(ignore);
  }

  function onVisibilityChange() {
    if (document.visibilityState == 'visible') retryNow();
  }

  const client: SessionClient = {
    options,
    subscribe: store.subscribe,
    getSnapshot: store.get,
    getAccessToken,
    refresh,
    on: events.on,
    login: signInAt(ROUTES.login),
    // Same session, fresh auth_time: the token is taken (and shared with the tabs) as a login's.
    reauthenticate: signInAt(ROUTES.reauthenticate),
    stepUpRequired: (challenge) => stepUpRequired(events, challenge),
    end: (reason) => endSession(reason, true),
    hydrate(initial) {
      // On the server one client may serve every request: this render gets a snapshot of its own, the client stays untouched.
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
      if (id == token?.session.id) return signOut(ROUTES.logout, 'logout');
      await call('DELETE', ROUTES.session.replace(':id', encodeURIComponent(id)));
    },
    start() {
      if (running) return;
      running = true;
      tabs = openTabChannel(options.channelName, onTabMessage);
      if (dom) {
        addEventListener('online', retryNow);
        document.addEventListener('visibilitychange', onVisibilityChange);
      }
      if (token) schedule(token.refreshAt - Date.now());
      // A BFF on this origin sets a readable `<cookie>-hint` cookie with its session cookie: without one there is no
      // session to restore, and no refresh (its 401 is a console error in browsers). Another origin's cannot be read.
      else if (store.get().status == 'loading') {
        if (!dom || options.bffUrl.includes('//') || /-hint=1/.test(document.cookie)) fly(null).catch(ignore);
        else store.set({ status: 'unauthenticated' });
      }
    },
    destroy() {
      running = false;
      clearTimeout(timer);
      dropPresence();
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
