import { BROWSER_ROUTES as ROUTES, SESSION_ENDING_CODES } from '@latchkey/shared';
import type { ErrorCode, LoginRequest, SignOutReason, TokenResponse } from '@latchkey/shared';
import { announceEnd, assembleClient, dom, ignore } from './account.js';
import { backoffDelay } from './backoff.js';
import { createBffRequest } from './bff-request.js';
import { createEventEmitter } from './event-emitter.js';
import { holdToken, type HeldToken } from './held-token.js';
import { resolveOptions } from './options.js';
import { countPresence, holdPresence, withRefreshLock } from './refresh-lock.js';
import type { SessionError } from './session-error.js';
import { createStore } from './store.js';
import { openTabChannel, type TabChannel, type TabMessage } from './tab-channel.js';
import type { SessionClient, SessionClientOptions, SessionEventMap } from './types.js';

/** Activity is recorded, and told to the other tabs, at most this often. */
const ACTIVITY_THROTTLE_MS = 1000;

/**
 * The session state machine of one page. Everything lives in this closure (no module state), tokens only in memory.
 * Every state change is a named action through `reduce` (reducer.ts); this file does what follows from it (timers,
 * tab messages, events). Status starts at 'loading' and is settled by the first refresh, or by a token another tab
 * hands over.
 */
export function createSessionClient(input: SessionClientOptions = {}): SessionClient {
  const options = resolveOptions(input);
  const store = createStore();
  const request = createBffRequest(options, store);
  const events = createEventEmitter<SessionEventMap>();
  const lockName = options.channelName + ':refresh';
  const presenceName = options.channelName + ':holder';
  const { dispatch, get } = store;

  let flight: Promise<string | null> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let tabs: TabChannel | undefined;
  let stopListening = ignore;
  // Ends a wait for the other tabs as soon as one of them hands over a token or signs out.
  let handedOver: (() => void) | undefined;
  // Lets go of this tab's presence lock (held while it has a token).
  let releasePresence: (() => void) | undefined;

  const token = () => get().token;
  const isFresh = (held = token()) => !!held && Date.now() < held.refreshAt;
  const current = () => token()?.accessToken || null;

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

  function schedule(delay: number) {
    clearTimeout(timer);
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- caught here; `void` would cost bundle bytes
    if (running) timer = setTimeout(() => refresh().catch(ignore), delay);
  }

  /** Real use of the page (input, an API call): recorded, and told to the other tabs, at most once a second. */
  function active() {
    const at = Date.now();
    if (at - get().activeAt < ACTIVITY_THROTTLE_MS) return;
    dispatch({ type: 'active', at });
    tabs?.postMessage({ type: 'active', at });
  }

  function accept(next: HeldToken, share: boolean) {
    const before = dispatch({ type: 'signedIn', view: next, fromTab: !share });
    // Ignored: a token for a session that ended here, or older than the one held.
    if (token() != next) return;
    releasePresence ||= holdPresence(presenceName);
    // Jitter spreads the tabs' timers: the first one refreshes, the others receive its token.
    schedule(next.refreshAt - Date.now() - (Math.random() * next.margin) / 2);
    if (share) tabs?.postMessage({ type: 'token', token: next });
    handedOver?.();
    const { user, session } = get();
    events.emit(before.epoch == get().epoch ? 'refreshed' : 'signed_in', { user: user!, session: session! });
  }

  function endSession(reason: SignOutReason | null, share: boolean) {
    if (dispatch({ type: 'signedOut', reason }) == get()) return;
    releasePresence?.();
    releasePresence = undefined;
    clearTimeout(timer);
    handedOver?.();
    if (reason) announceEnd(events, tabs, reason, share);
  }

  function run(stale: string | null): Promise<string | null> {
    const startedIn = get().epoch;
    const changed = () => get().epoch != startedIn;
    // Settled: the session changed meanwhile, or another tab delivered a fresh token.
    const settled = () => changed() || (isFresh() && current() != stale);
    return withRefreshLock(lockName, async (waited) => {
      // Under the lock, before spending a refresh, ask the tabs that hold a token: a starting tab (no token yet), or
      // one whose token is stale or that waited for the lock, may find that another tab has just refreshed: it held
      // the lock, or released it just before we took it while its broadcast is still on the way (the lock grant and
      // the message travel separately). Asking first and taking the lock after would leave that gap open.
      // No other holder: no wait at all.
      if ((waited || !isFresh()) && !settled()) await askTabs();
      if (settled()) return current();
      try {
        // The browser's idle time (every tab's activity), for the BFF's idle timeout; never below 0 (a clock set back).
        const idleSeconds = Math.max(0, ((Date.now() - get().activeAt) / 1000) | 0);
        const { data, serverNow } = await request<TokenResponse>('POST', ROUTES.refresh, { idleSeconds });
        if (!changed()) accept(holdToken(data, serverNow, options.refreshMarginMs), true);
        return current();
      } catch (error) {
        if (changed()) return current();
        const { status, code } = error as SessionError;
        // Only the BFF's definitive answer ends a session; a missing cookie at start-up is just "signed out".
        if (status == 401 && SESSION_ENDING_CODES.includes(code as ErrorCode)) {
          endSession(get().status == 'authenticated' || code != 'no_session' ? (code as SignOutReason) : null, true);
          return null;
        }
        // A configuration error (in the snapshot already) is not retried: only a change on the BFF can fix it.
        if (code != 'csrf_rejected') schedule(backoffDelay(dispatch({ type: 'unreachable' }).failures, options.backoffMinMs, options.backoffMaxMs));
        throw error;
      }
    });
  }

  function fly(stale: string | null) {
    return (flight ||= run(stale).finally(() => (flight = undefined)));
  }

  function refresh(stale: string | null = current()): Promise<string | null> {
    return get().status == 'unauthenticated' ? Promise.resolve(null) : fly(stale);
  }

  function onTabMessage(message: TabMessage) {
    if (message.type == 'ask') {
      if (isFresh()) tabs?.postMessage({ type: 'token', token: token()! });
    } else if (message.type == 'token') accept(message.token, false);
    else if (message.type == 'active') dispatch(message);
    // Not a proxy-mode page's 'in' (same origin, same channel name: the demo and its admin console).
    else if (message.type == 'out') endSession(message.reason, false);
  }

  return assembleClient(
    { options, request, store, events, endSession, lock: (task) => withRefreshLock(lockName, task) },
    {
      // An application's call (its API client asks for the token): activity, unlike the client's own refreshes.
      async getAccessToken() {
        active();
        const held = token();
        if (isFresh(held)) return held!.accessToken;
        try {
          return await refresh();
        } catch (error) {
          // The BFF is unreachable, but a token that has not expired yet still works.
          if (held && Date.now() < held.expiresAt) return held.accessToken;
          throw error;
        }
      },
      refresh,
      async login(credentials: LoginRequest) {
        const { data, serverNow } = await request<TokenResponse>('POST', ROUTES.login, credentials);
        accept(holdToken(data, serverNow, options.refreshMarginMs), true);
      },
      start() {
        if (running) return;
        running = true;
        tabs = openTabChannel(options.channelName, onTabMessage);
        stopListening = options.environment((event) => {
          if (event == 'input') active();
          else if (get().unreachable || (token() && !isFresh())) refresh().catch(ignore);
        });
        const held = token();
        if (held) schedule(held.refreshAt - Date.now());
        // A BFF on this origin sets a readable `<cookie>-hint` cookie with its session cookie: without one there is no
        // session to restore, and no refresh (its 401 is a console error in browsers). Another origin's cannot be read.
        else if (get().status == 'loading') {
          if (!dom || options.bffUrl.includes('//') || /-hint=1/.test(document.cookie)) fly(null).catch(ignore);
          else endSession(null, false);
        }
      },
      destroy() {
        running = false;
        clearTimeout(timer);
        releasePresence?.();
        releasePresence = undefined;
        tabs?.close();
        tabs = undefined;
        stopListening();
      },
    },
  );
}
