import { SESSION_ENDING_CODES } from '@latchkey/shared';
import type { BROWSER_ROUTES, ErrorCode, LogoutRedirectResponse, SessionListResponse, SignOutReason } from '@latchkey/shared';
import { backoffDelay } from './backoff.js';
import { createBffRequest, type BffAnswer, type BffRequest } from './bff-request.js';
import { resolveOptions } from './options.js';
import { INITIAL_STATE, pick, reduce, type Action, type ClientState } from './reducer.js';
import { SessionError } from './session-error.js';
import type { ResolvedSessionClientOptions, SessionClient, SessionClientOptions } from './types.js';

export const ignore = () => {};

/**
 * The browser's routes, each path spelled out where it is used and typed against BROWSER_ROUTES (a change there fails
 * the typecheck): a bundle then carries only the paths it calls, never the table.
 */
export type Routes = typeof BROWSER_ROUTES;

/** Applies an action; `share`: also tell the other tabs (the action is the message). Returns the state before it. */
export type SetState = (action: Action, share?: boolean) => ClientState;

/** What a mode adds to the shared part. */
export interface Mode {
  /** One refresh (single-flighted here): token mode POST /refresh under the lock, proxy mode GET /session. */
  run(stale: string | null): Promise<unknown>;
  /** Applies the BFF's answer to a login or a refresh. */
  take(answer: BffAnswer<never>): void;
  /** A message from another tab: dropped unless it is one of this mode's kinds, with the fields that kind carries. */
  tab(event: MessageEvent): void;
  getAccessToken(): Promise<string | null>;
  /** Real user input (pointer, keys, wheel, touch). */
  input(): void;
  /** After each change of state, by the action that made it; 'destroy' when the client stops. */
  after(type: Action['type'] | 'destroy'): void;
  /** Runs a sign-out (token mode: under the refresh lock, so no tab rotates the cookie while it is being revoked). */
  lock(task: () => Promise<void>): Promise<void>;
}

/** The shared part's internals a mode works with. */
export type MakeMode = (
  options: ResolvedSessionClientOptions,
  get: () => ClientState,
  set: SetState,
  request: BffRequest,
  /** One BFF call about the session (refresh, GET /session): its answer applies unless the session changed meanwhile. */
  exchange: (method: string, path: string, body?: object) => Promise<void>,
  refresh: SessionClient['refresh'],
  /** Tells the other tabs; returns the channel, undefined without one. */
  post: (message: object) => BroadcastChannel | undefined,
) => Mode;

/**
 * A client of either mode: state (through `reduce`), events, tabs, the environment, retries and the account methods are
 * the same in both; the mode adds how a session is refreshed and held.
 */
export const createClient = (input: SessionClientOptions, makeMode: MakeMode): SessionClient => {
  const options = resolveOptions(input);
  // Creating the client is the page loading: the user's doing, so it counts as activity.
  let state: ClientState = { ...INITIAL_STATE, activeAt: Date.now() };
  let snapshot = pick(state);
  // The snapshot's subscribers (event '') and the event listeners, in the order they came.
  const listeners = new Set<readonly [string, (detail: never) => void]>();
  let flight: Promise<string | null> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let tabs: BroadcastChannel | undefined;
  let stopListening = ignore;

  /** Calls the listeners of `event` ('' for the snapshot's subscribers). */
  const emit = (event: string, detail?: object) =>
    listeners.forEach(([name, listener]) => {
      if (name == event)
        try {
          listener(detail as never);
        } catch (error) {
          // A throwing listener must not break the session state machine; surface it asynchronously.
          setTimeout(() => {
            throw error;
          });
        }
    });

  const listen = (event: string, listener: (detail: never) => void) => {
    const entry = [event, listener] as const;
    listeners.add(entry);
    return () => void listeners.delete(entry);
  };

  const post = (message: object) => (tabs?.postMessage(message), tabs);

  const set: SetState = (action, share) => {
    const before = state;
    state = reduce(state, action, !share);
    if (state == before) return before;
    const next = pick(state);
    for (const key in next) {
      if (next[key as keyof typeof next] !== snapshot[key as keyof typeof next]) {
        snapshot = next;
        emit('');
        break;
      }
    }
    const { type } = action;
    const { user, session } = state;
    if (share) post(action);
    if (type == 'unreachable') schedule(backoffDelay(before.failures, options.backoffMinMs, options.backoffMaxMs));
    if (type == 'token') plan();
    // A session of its own (login, restore, another tab's) or the same one again (refreshed, or confirmed by GET /session).
    if (type == 'token' || type == 'in') emit(before.epoch != state.epoch ? 'signed_in' : 'refreshed', { user, session });
    if (type == 'out') {
      const { reason } = action;
      clearTimeout(timer);
      if (reason == 'reuse_detected') emit('theft_detected', { reason });
      if (reason) emit('signed_out', { reason });
    }
    mode.after(type);
    return before;
  };

  /** Ends the session here, and (with a reason) in the other tabs. */
  const end = (reason: SignOutReason | null) => set({ type: 'out', reason }, !!reason);

  const request = createBffRequest(options, set);

  const exchange = async (method: string, path: string, body?: object) => {
    const startedIn = state.epoch;
    try {
      const answer = await request(method, path, body);
      if (state.epoch == startedIn) mode.take(answer as BffAnswer<never>);
    } catch (error) {
      const { status, code } = error as SessionError;
      if (state.epoch == startedIn) {
        // Only the BFF's definitive answer ends a session; a missing cookie at start-up is just "signed out".
        if (status == 401 && SESSION_ENDING_CODES.includes(code as ErrorCode))
          end(state.status == 'authenticated' || code != 'no_session' ? (code as SignOutReason) : null);
        else {
          // A configuration error (in the snapshot already) is not retried: only a change on the BFF can fix it.
          if (code != 'csrf_rejected') set({ type: 'unreachable' });
          throw error;
        }
      }
    }
  };

  const current = () => state.token?.accessToken || null;

  const schedule = (delay: number) => {
    clearTimeout(timer);
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- caught here; `void` would cost bundle bytes
    if (running) timer = setTimeout(() => refresh().catch(ignore), delay);
  };

  /** Refreshes the token when it is due; jitter spreads the tabs' timers: the first one refreshes, the others receive its token. */
  const plan = () => {
    const { refreshAt, expiresAt } = state.token!;
    schedule(refreshAt - Date.now() - (Math.random() * (expiresAt - refreshAt)) / 2);
  };

  const fly = (stale: string | null) =>
    (flight ||= mode
      .run(stale)
      .then(current)
      .finally(() => (flight = undefined)));

  const refresh = (stale = current()) => (state.status == 'unauthenticated' ? Promise.resolve(null) : fly(stale));

  const mode = makeMode(options, () => state, set, request, exchange, refresh, post);

  const call = async <T>(method: string, path: string): Promise<T> => {
    try {
      return (await request<T>(method, path)).data;
    } catch (error) {
      // The cookie was refused: a refresh gets the definitive answer and ends the session if it is gone.
      if ((error as SessionError).status == 401) refresh().catch(ignore);
      throw error;
    }
  };

  const signOut = (path: string, reason: SignOutReason) =>
    mode.lock(async () => {
      let to: string | undefined;
      try {
        to = (await request<LogoutRedirectResponse | undefined>('POST', path)).data?.redirectTo;
      } finally {
        // Signed out here and in every tab even if the BFF is unreachable; the error still reaches the caller.
        end(reason);
      }
      // A session from an identity provider: sign out there too (RP-initiated logout).
      if (to) location.assign(to);
    });

  const dom = typeof document == 'object';

  const client: SessionClient = {
    options,
    subscribe: (listener) => listen('', listener),
    getSnapshot: () => snapshot,
    getAccessToken: mode.getAccessToken,
    refresh,
    on: listen,
    login: async (credentials) => mode.take(await request('POST', '/login' satisfies Routes['login'], credentials)),
    // Step-up: same session, fresh auth_time; the answer is taken (and shared with the tabs) as a login's.
    reauthenticate: async (credentials) => mode.take(await request('POST', '/reauthenticate' satisfies Routes['reauthenticate'], credentials)),
    stepUpRequired(challenge) {
      // RFC 9470: never a refresh (a new token for the same authentication would be refused again); the page re-authenticates.
      const maxAge = /max_age=(\d+)/.exec(challenge);
      emit('reauthentication_required', { maxAge: maxAge ? +maxAge[1]! : undefined, acrValues: /acr_values="([^"]*)/.exec(challenge)?.[1] });
      return new SessionError('insufficient_user_authentication', 401);
    },
    end,
    hydrate(initial) {
      const action = { type: 'hydrated', initial } as const;
      if (dom) set(action);
      // On the server one client may serve every request: this render gets a snapshot of its own, the client stays untouched.
      const own = pick(reduce(INITIAL_STATE, action));
      return dom ? client : { ...client, getSnapshot: () => own };
    },
    signIn(o = {}) {
      // Unset (or empty) options are left out of the query.
      const query = Object.entries({ ...o, returnTo: o.returnTo || location.href }).filter((e) => e[1]);
      location.assign(options.bffUrl + ('/oidc/login' satisfies Routes['oidcLogin']) + '?' + new URLSearchParams(query as string[][]));
    },
    logout: () => signOut('/logout' satisfies Routes['logout'], 'logout'),
    logoutAll: () => signOut('/logout-all' satisfies Routes['logoutAll'], 'logout_all'),
    // This device stays signed in: no sign-out here or in the other tabs, which share its session.
    logoutOthers: () => call('POST', '/logout-others' satisfies Routes['logoutOthers']),
    listSessions: async () => (await call<SessionListResponse>('GET', '/sessions' satisfies Routes['sessions'])).sessions,
    async revokeSession(id) {
      if (id == state.session?.id) return signOut('/logout' satisfies Routes['logout'], 'logout');
      await call('DELETE', ('/sessions/' satisfies Routes['session'] extends `${infer P}:id` ? P : never) + encodeURIComponent(id));
    },
    start() {
      if (running) return;
      running = true;
      if (globalThis.BroadcastChannel) {
        tabs = new BroadcastChannel(options.channelName);
        tabs.onmessage = mode.tab;
      }
      stopListening = options.environment((event) => {
        const held = state.token;
        if (event == 'input') mode.input();
        // The network is back or the page is shown again: retry a BFF that could not be reached, or a token that went stale meanwhile.
        else if (state.unreachable || (held && Date.now() >= held.refreshAt)) refresh().catch(ignore);
      });
      if (state.token) plan();
      // A BFF on this origin sets a readable `<cookie>-hint` cookie with its session cookie: without one there is no
      // session to restore, and no refresh (its 401 is a console error in browsers). Another origin's cannot be read.
      else if (state.status == 'loading') {
        if (!dom || options.bffUrl.includes('//') || /-hint=1/.test(document.cookie)) fly(null).catch(ignore);
        else end(null);
      }
    },
    destroy() {
      running = false;
      clearTimeout(timer);
      tabs?.close();
      tabs = undefined;
      stopListening();
      mode.after('destroy');
    },
  };
  return client;
};
