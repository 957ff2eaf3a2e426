import { Readable } from 'node:stream';
import express, { type Express, type RequestHandler } from 'express';
import { pino } from 'pino';
import request, { type Response } from 'supertest';
import { createBff, type Bff, type BffOptions } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { SessionStore } from '../../src/store/types.js';

export const ISSUER = 'https://app.example.test';
export const SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';
export const USERS: Record<string, { id: string; name: string; password: string }> = {
  alice: { id: 'user-alice', name: 'Alice', password: 'wonderland' },
  bob: { id: 'user-bob', name: 'Bob', password: 'builder' },
};

/**
 * Which adapter serves `/auth` in this run: `express` (`bff.router`, the default) or `fetch` (`bff.fetch`, behind a
 * bridge that turns the request into a Fetch `Request` as a Fetch server would). The contract suites run under both
 * (vitest.config.ts: the `server-fetch` project sets LATCHKEY_TEST_ADAPTER=fetch).
 */
export const ADAPTER: 'express' | 'fetch' = process.env.LATCHKEY_TEST_ADAPTER === 'fetch' ? 'fetch' : 'express';

/**
 * The major version of the Express this run loaded (the `server-express4` vitest project aliases `express` to Express
 * 4): only Express 4 still has `express.query`.
 */
export const EXPRESS_MAJOR: 4 | 5 = typeof (express as unknown as Record<string, unknown>).query === 'function' ? 4 : 5;

/**
 * `bff.fetch` on an Express app, as a Fetch server hosts it: the request's URL (protocol and host as Express sees them,
 * so `trust proxy` applies as it does to bff.router), headers and streamed body in a `Request` (none on GET and HEAD:
 * a Fetch `Request` cannot carry one); the `Response` written back as it is. The client address is Express's
 * `req.ip`, what a host passes as `clientAddress`.
 */
export function fetchBridge(bff: Bff): RequestHandler {
  return async (req, res) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
    }
    const hasBody =
      req.method !== 'GET' && req.method !== 'HEAD' && (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0');
    // The client's leaving, as a Fetch server reports it: the request's signal aborts (and the body is cancelled below).
    const gone = new AbortController();
    res.on('close', () => gone.abort());
    const request = new Request(`${req.protocol}://${req.get('host') ?? 'localhost'}${req.originalUrl}`, {
      method: req.method,
      headers,
      signal: gone.signal,
      ...(hasBody ? { body: Readable.toWeb(req) as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
    } as RequestInit);
    const response = await bff.fetch(request, req.ip === undefined ? {} : { clientAddress: req.ip });
    res.status(response.status);
    response.headers.forEach((value, name) => {
      if (name !== 'set-cookie') res.setHeader(name, value);
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
    if (response.body !== null && response.headers.get('content-type')?.startsWith('text/event-stream')) {
      // A stream: written as it comes, until it ends or the client leaves.
      const reader = response.body.getReader();
      res.on('close', () => void reader.cancel().catch(() => undefined));
      res.flushHeaders();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) res.write(chunk.value);
      return void res.end();
    }
    res.end(Buffer.from(await response.arrayBuffer()));
  };
}

export interface TestBff {
  app: Express;
  bff: Bff;
  store: SessionStore;
  /** Lines the BFF logged, to check that no secret ever reaches a log. */
  logLines: string[];
  close(): Promise<void>;
}

/** Options a test changes; `tokens` is merged over the harness's (which names the issuer). */
export type TestBffOverrides = Partial<Omit<BffOptions, 'tokens'>> & { tokens?: Partial<BffOptions['tokens']> };

/** A BFF on an Express app like the demo's: /auth, a guarded /api/me, the error handler. */
export async function startTestBff(overrides: TestBffOverrides = {}, store: SessionStore = new MemoryStore()): Promise<TestBff> {
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const bff = await createBff({
    store,
    secrets: [SECRET],
    logger,
    authenticate: async (username, password) => {
      const user = USERS[username];
      return user && user.password === password ? { id: user.id, name: user.name } : null;
    },
    ...overrides,
    tokens: { issuer: ISSUER, ...overrides.tokens },
  });
  const app = express();
  app.use('/auth', ADAPTER === 'fetch' ? fetchBridge(bff) : bff.router);
  app.get('/api/me', bff.requireAuth(), (req, res) => void res.json({ sub: req.auth!.sub, sid: req.auth!.sid }));
  app.get('/api/open', bff.requireAuth({ onStoreUnavailable: 'open', maxStalenessMs: 2500 }), (req, res) => void res.json({ sub: req.auth!.sub }));
  app.use(bff.errorHandler);
  return {
    app,
    bff,
    store,
    logLines,
    close: async () => {
      await bff.close();
      await store.close();
    },
  };
}

/** `name=value` of the session cookie a response set, or null. */
export function sessionCookie(res: Response): string | null {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  const line = header?.find((l) => /^(__Host-)?latchkey=/.test(l));
  if (!line) return null;
  const pair = line.split(';')[0]!;
  return pair.endsWith('=') ? null : pair;
}

export function rawSetCookie(res: Response): string {
  return ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).join('\n');
}

interface CallOptions {
  cookie?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
  csrf?: boolean;
}

export function call(app: Express, method: 'get' | 'post' | 'delete', path: string, options: CallOptions = {}) {
  let req = request(app)[method](path);
  if (options.csrf !== false) req = req.set('X-CSRF', '1');
  if (options.cookie) req = req.set('Cookie', options.cookie);
  for (const [k, v] of Object.entries(options.headers ?? {})) req = req.set(k, v);
  if (options.body !== undefined) req = req.send(options.body as object);
  return req;
}

export interface Device {
  cookie: string;
  token: string;
  sid: string;
}

export async function login(app: Express, username = 'alice', deviceName?: string): Promise<Device> {
  const res = await call(app, 'post', '/auth/login', {
    body: { username, password: USERS[username]!.password, ...(deviceName ? { deviceName } : {}) },
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { cookie: sessionCookie(res)!, token: res.body.accessToken, sid: res.body.session.id };
}

/** Refreshes and updates the device's cookie and token; returns the response. */
export async function refresh(app: Express, device: Device): Promise<Response> {
  const res = await call(app, 'post', '/auth/refresh', { cookie: device.cookie });
  if (res.status === 200) {
    device.cookie = sessionCookie(res)!;
    device.token = res.body.accessToken;
  }
  return res;
}

export function me(app: Express, token: string) {
  return request(app).get('/api/me').set('Authorization', `Bearer ${token}`);
}

export { sleep } from '@latchkey/testkit';
