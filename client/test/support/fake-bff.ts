import type { ErrorCode, SessionListEntry, TokenResponse } from '@latchkey/shared';
import { createSessionClient, type SessionClient, type SessionClientOptions } from '@latchkey/client';
import { afterEach, beforeEach, vi } from 'vitest';

export interface RecordedCall {
  method: string;
  url: string;
  path: string;
  credentials: RequestCredentials | undefined;
  headers: Record<string, string>;
  body: unknown;
}

type Respond = (call: RecordedCall) => Response | Promise<Response>;

export const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

export const errorResponse = (status: number, error: ErrorCode) => json(status, { error, message: error });

export const noContent = () => new Response(null, { status: 204 });

/** The hint cookie of the default session cookie name over plain http (`<cookie.name>-hint`). */
export const HINT_COOKIE = 'latchkey-hint';

/** A promise with its resolve exposed, to hold a fake answer until the test lets it go. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * An in-memory stand-in for the BFF behind the client's `fetch` option: one cookie jar (a browser),
 * tokens t1, t2, ... Tests script one-off answers with `once(path, respond)`.
 */
export function createFakeBff(init: { ttlMs?: number; signedIn?: boolean; sessionId?: string } = {}) {
  const ttlMs = init.ttlMs ?? 5 * 60_000;
  let issued = 0;
  const calls: RecordedCall[] = [];
  const scripted: Array<{ path: string; respond: Respond }> = [];
  const state = {
    signedIn: init.signedIn ?? true,
    sessionId: init.sessionId ?? 's1',
    user: { id: 'u-alice', name: 'alice' },
    sessions: [] as SessionListEntry[],
  };

  // The BFF's readable hint cookie, set and cleared with its session cookie (happy-dom keeps one jar per test file).
  const hint = (present: boolean) => {
    if (typeof document == 'object') document.cookie = present ? `${HINT_COOKIE}=1; path=/` : `${HINT_COOKIE}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
  };
  hint(state.signedIn);

  const issue = (): TokenResponse => ({
    accessToken: 't' + ++issued,
    tokenType: 'Bearer',
    expiresAt: Date.now() + ttlMs,
    user: state.user,
    session: { id: state.sessionId, deviceName: 'Test device', createdAt: 1 },
  });

  function route(call: RecordedCall): Response {
    const { method, path } = call;
    if (method == 'POST' && path == '/refresh') {
      hint(state.signedIn);
      return state.signedIn ? json(200, issue()) : errorResponse(401, 'no_session');
    }
    if (method == 'POST' && path == '/login') {
      const { username, password } = call.body as { username: string; password: string };
      if (username != 'alice' || password != 'wonderland') return errorResponse(401, 'invalid_credentials');
      state.signedIn = true;
      hint(true);
      return json(200, issue());
    }
    if (method == 'POST' && (path == '/logout' || path == '/logout-all')) {
      state.signedIn = false;
      hint(false);
      return noContent();
    }
    if (method == 'POST' && path == '/logout-others') return state.signedIn ? noContent() : errorResponse(401, 'no_session');
    // Proxy mode's source of truth: the session, never a token.
    if (method == 'GET' && path == '/session') {
      return state.signedIn
        ? json(200, { user: state.user, session: { id: state.sessionId, deviceName: 'Test device', createdAt: 1 } })
        : errorResponse(401, 'no_session');
    }
    if (method == 'GET' && path == '/sessions') {
      return state.signedIn ? json(200, { sessions: state.sessions }) : errorResponse(401, 'no_session');
    }
    if (method == 'DELETE' && path.startsWith('/sessions/')) return noContent();
    return errorResponse(404, 'not_found');
  }

  const fetch = async (input: RequestInfo | URL, options: RequestInit = {}): Promise<Response> => {
    const url = String(input);
    const headers: Record<string, string> = {};
    new Headers(options.headers).forEach((value, name) => (headers[name.toLowerCase()] = value));
    const call: RecordedCall = {
      method: options.method ?? 'GET',
      url,
      path: url.replace(/^.*?\/auth/, ''),
      credentials: options.credentials,
      headers,
      body: typeof options.body == 'string' ? JSON.parse(options.body) : undefined,
    };
    calls.push(call);
    const index = scripted.findIndex((s) => s.path == call.path);
    if (index >= 0) return scripted.splice(index, 1)[0]!.respond(call);
    return route(call);
  };

  return {
    fetch: fetch as typeof globalThis.fetch,
    calls,
    state,
    /** How many requests reached a path (e.g. '/refresh'). */
    count: (path: string) => calls.filter((c) => c.path == path).length,
    /** The next request to `path` gets this answer instead of the default one. */
    once(path: string, respond: Respond) {
      scripted.push({ path, respond });
    },
    issuedTokens: () => issued,
  };
}

let channels = 0;

/** A client on a fake BFF; each gets its own BroadcastChannel name unless the test shares one. */
export function makeClient(bff: ReturnType<typeof createFakeBff>, options: SessionClientOptions = {}, clients?: SessionClient[]): SessionClient {
  const client = createSessionClient({
    fetch: bff.fetch,
    channelName: `latchkey-test-${process.pid}-${++channels}`,
    handoverWaitMs: 20,
    ...options,
  });
  clients?.push(client);
  return client;
}

/** Lets pending promise callbacks run (no timers involved). */
export const flush = async (rounds = 10) => {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
};

/**
 * Per-test setup for single-tab clients: no BroadcastChannel (no other tab to ask, so start() refreshes at once),
 * and every client pushed onto the returned list is destroyed after each test, with timers and mocks restored.
 */
export function useSingleTabClients(): SessionClient[] {
  const clients: SessionClient[] = [];
  beforeEach(() => {
    vi.stubGlobal('BroadcastChannel', undefined);
  });
  afterEach(() => {
    clients.splice(0).forEach((c) => c.destroy());
    document.cookie = `${HINT_COOKIE}=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT`;
    vi.unstubAllGlobals();
    vi.useRealTimers();
    vi.restoreAllMocks();
  });
  return clients;
}
