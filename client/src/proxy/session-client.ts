import { BROWSER_ROUTES as ROUTES, SESSION_ENDING_CODES } from '@latchkey/shared';
import type { CurrentSessionResponse, ErrorCode, LoginRequest, ROUTES as ALL_ROUTES, SignOutReason } from '@latchkey/shared';
import { announceEnd, assembleClient, dom, ignore } from '../core/account.js';
import { backoffDelay } from '../core/backoff.js';
import { createBffRequest } from '../core/bff-request.js';
import { createEventEmitter } from '../core/event-emitter.js';
import { resolveOptions } from '../core/options.js';
import type { SessionError } from '../core/session-error.js';
import { createStore } from '../core/store.js';
import { openTabChannel, type TabChannel } from '../core/tab-channel.js';
import type { SessionClient, SessionClientOptions, SessionEventMap } from '../core/types.js';

/** Proxy mode's options: token mode's, with `mode: 'proxy'` required (apiOrigins name where the axios adapter sends `X-CSRF`). */
export interface ProxySessionClientOptions extends Omit<SessionClientOptions, 'refreshMarginMs' | 'handoverWaitMs'> {
  mode: 'proxy';
}

/** Between the tabs of one browser: a session restored or signed in (`in`), or ended (`out`). */
type ProxyTabMessage = { type: 'in'; view: CurrentSessionResponse } | { type: 'out'; reason: SignOutReason };

/** GET /session, spelled out (typed against ROUTES): a key added to BROWSER_ROUTES would cost token mode's bundle too. */
const CURRENT_SESSION: typeof ALL_ROUTES.currentSession = '/session';

/**
 * Proxy mode's session client (docs/proxy.md): the page never holds, asks for or receives a token. `GET /session` is
 * the source of truth (it also slides the credential on the BFF's schedule); APIs are reached through the BFF's proxy
 * with the cookie. Only the BFF's definitive 401 ends the session; network errors and 5xx keep the user signed in and
 * retry with backoff. No refresh lock: the browser never rotates anything itself. State changes go through the same
 * reducer as token mode's (core/reducer.ts), without a token.
 */
export function createSessionClient(input: ProxySessionClientOptions): SessionClient {
  const { mode, ...rest } = input;
  if (mode != 'proxy') throw new TypeError('latchkey: invalid option mode');
  const options = resolveOptions(rest);
  const store = createStore();
  const request = createBffRequest(options, store);
  const events = createEventEmitter<SessionEventMap>();
  const { dispatch, get } = store;
  let flight: Promise<null> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let tabs: TabChannel | undefined;
  let stopListening = ignore;

  function signedIn(view: CurrentSessionResponse, share: boolean) {
    const before = dispatch({ type: 'signedIn', view, fromTab: !share });
    if (share) tabs?.postMessage({ type: 'in', view } as never);
    if (before.epoch != get().epoch) events.emit('signed_in', view);
  }

  function endSession(reason: SignOutReason | null, share: boolean) {
    if (dispatch({ type: 'signedOut', reason }) == get()) return;
    clearTimeout(timer);
    if (reason) announceEnd(events, tabs, reason, share);
  }

  async function ask(): Promise<null> {
    const startedIn = get().epoch;
    try {
      const { data } = await request<CurrentSessionResponse>('GET', CURRENT_SESSION);
      if (get().epoch == startedIn) signedIn(data, false);
    } catch (error) {
      if (get().epoch != startedIn) return null;
      const { status, code } = error as SessionError;
      if (status == 401 && SESSION_ENDING_CODES.includes(code as ErrorCode)) {
        endSession(get().status == 'authenticated' || code != 'no_session' ? (code as SignOutReason) : null, true);
        return null;
      }
      // A configuration error (in the snapshot already) is not retried: only a change on the BFF can fix it.
      if (code != 'csrf_rejected') {
        const delay = backoffDelay(dispatch({ type: 'unreachable' }).failures, options.backoffMinMs, options.backoffMaxMs);
        clearTimeout(timer);
        // eslint-disable-next-line @typescript-eslint/no-misused-promises -- caught here
        if (running) timer = setTimeout(() => refresh().catch(ignore), delay);
      }
      throw error;
    }
    return null;
  }

  /** Asks GET /session (single flight): the session goes on, or the BFF's definitive 401 ends it. Never a token. */
  function refresh(): Promise<null> {
    return (flight ||= ask().finally(() => (flight = undefined)));
  }

  function onTabMessage(message: ProxyTabMessage) {
    // Only its own kinds: a token-mode page of the same origin and channel name also speaks here ('ask', 'active').
    if (message.type == 'in') signedIn(message.view, false);
    else if (message.type == 'out') endSession(message.reason, false);
  }

  return assembleClient(
    { options, request, store, events, endSession, lock: (task) => task() },
    {
      getAccessToken: async () => null,
      refresh,
      async login(credentials: LoginRequest) {
        // A BFF with browserTokens: false answers no token; one that still does is never read here.
        const { data } = await request<CurrentSessionResponse>('POST', ROUTES.login, credentials);
        signedIn({ user: data.user, session: data.session }, true);
      },
      start() {
        if (running) return;
        running = true;
        tabs = openTabChannel(options.channelName, onTabMessage as never);
        // No activity to report: the BFF sees this page's API calls itself, through its proxy.
        stopListening = options.environment((event) => {
          if (event != 'input' && get().unreachable) refresh().catch(ignore);
        });
        if (get().status == 'loading') {
          // As in token mode: without the readable hint cookie there is no session to ask about.
          if (!dom || options.bffUrl.includes('//') || /-hint=1/.test(document.cookie)) refresh().catch(ignore);
          else endSession(null, false);
        }
      },
      destroy() {
        running = false;
        clearTimeout(timer);
        tabs?.close();
        tabs = undefined;
        stopListening();
      },
    },
  );
}
