import { readFileSync } from 'node:fs';
import express, { type Express } from 'express';
import { context, trace, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import { call, login, me, refresh, SECRET, startTestBff, USERS, type Device, type TestBff } from '../helpers/harness.js';
import { startRedisServer } from '@latchkey/testkit';

const SPAN_STATUS = { UNSET: 0, ERROR: 2 } as const;
const BFF_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

let exporter: InMemorySpanExporter;
let provider: BasicTracerProvider;
let contextManager: AsyncLocalStorageContextManager;

/** What an application's OpenTelemetry setup does (NodeSDK does the same): a global provider and async context. */
function registerGlobally(): void {
  contextManager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
}

function unregister(): void {
  trace.disable();
  context.disable();
}

beforeEach(() => {
  exporter = new InMemorySpanExporter();
  provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
});
afterEach(async () => {
  unregister();
  await provider.shutdown();
});

/**
 * The BFF's app behind a request span, as the HTTP instrumentation makes one: Latchkey's spans must be its children.
 * The span ends when the response is finished, so a test that awaited the response sees every span exported.
 */
function behindRequestSpan(app: Express, tracer: Tracer): Express {
  const outer = express();
  outer.use((req, res, next) => {
    const span = tracer.startSpan(`${req.method} request`);
    res.on('finish', () => span.end());
    context.with(trace.setSpan(context.active(), span), next);
  });
  outer.use(app);
  return outer;
}

const spans = () => exporter.getFinishedSpans();
const named = (name: string) => spans().filter((s) => s.name === name);
const one = (name: string): ReadableSpan => {
  const found = named(name);
  expect(found.map((s) => s.name)).toEqual([name]);
  return found[0]!;
};
const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;
/** Every attribute value of every span and span event, as strings. */
const everyRecordedValue = () =>
  spans().flatMap((s) => [...Object.values(s.attributes), ...s.events.flatMap((e) => Object.values(e.attributes ?? {}))].map(String));

describe('with a registered tracer provider', () => {
  let t: TestBff;
  let app: Express;
  beforeEach(async () => {
    registerGlobally();
    t = await startTestBff();
    app = behindRequestSpan(t.app, trace.getTracer('test'));
  });
  afterEach(() => t.close());

  it('records nothing at startup: store calls without a traced operation around them get no span', () => {
    expect(spans()).toEqual([]);
  });

  it('login: latchkey.login under the request span, the store calls under it, outcome and public session id', async () => {
    const device = await login(app);
    const root = one('POST request');
    const loginSpan = one('latchkey.login');
    expect(parentOf(loginSpan)).toBe(idOf(root));
    // The tracer is named and versioned as the package (TRACER_VERSION kept in step with package.json).
    expect(loginSpan.instrumentationScope).toMatchObject({ name: '@latchkey/bff', version: BFF_VERSION });
    expect(loginSpan.attributes).toEqual({ 'latchkey.outcome': 'ok', 'latchkey.session.id': device.sid });
    expect(loginSpan.status.code).toBe(SPAN_STATUS.UNSET);
    const create = one('latchkey.store.createSession');
    expect(parentOf(create)).toBe(idOf(loginSpan));
    expect(create.status.code).toBe(SPAN_STATUS.UNSET);
  });

  it('refresh: latchkey.refresh with the rotation under it', async () => {
    const device = await login(app);
    exporter.reset();
    expect((await refresh(app, device)).status).toBe(200);
    const refreshSpan = one('latchkey.refresh');
    expect(parentOf(refreshSpan)).toBe(idOf(one('POST request')));
    expect(refreshSpan.attributes).toEqual({ 'latchkey.outcome': 'rotated', 'latchkey.session.id': device.sid });
    expect(parentOf(one('latchkey.store.rotate'))).toBe(idOf(refreshSpan));
  });

  it('guard: latchkey.guard under the request span; first sighting then cached; no store call on the way', async () => {
    const device = await login(app);
    exporter.reset();
    expect((await me(app, device.token)).status).toBe(200);
    expect((await me(app, device.token)).status).toBe(200);
    const guardSpans = named('latchkey.guard');
    expect(guardSpans.map((s) => s.attributes)).toEqual([
      { 'latchkey.outcome': 'valid', 'latchkey.session.id': device.sid, 'latchkey.guard.cached': false },
      { 'latchkey.outcome': 'valid', 'latchkey.session.id': device.sid, 'latchkey.guard.cached': true },
    ]);
    const requests = named('GET request');
    expect(guardSpans.map(parentOf)).toEqual(requests.map(idOf));
    expect(spans().filter((s) => s.name.startsWith('latchkey.store.'))).toEqual([]);
  });

  it('401s are outcomes, not errors: wrong password, bad token, missing token, refresh without a cookie', async () => {
    expect((await call(app, 'post', '/auth/login', { body: { username: 'alice', password: 'nope' } })).status).toBe(401);
    expect((await me(app, 'not-a-token')).status).toBe(401);
    expect((await request(app).get('/api/me')).status).toBe(401);
    expect((await call(app, 'post', '/auth/refresh')).status).toBe(401);
    expect(one('latchkey.login').attributes).toEqual({ 'latchkey.outcome': 'invalid_credentials' });
    expect(named('latchkey.guard').map((s) => s.attributes['latchkey.outcome'])).toEqual(['invalid', 'missing']);
    expect(one('latchkey.refresh').attributes).toEqual({ 'latchkey.outcome': 'no_session' });
    for (const span of spans()) {
      expect(span.status.code, span.name).toBe(SPAN_STATUS.UNSET);
      expect(span.events, span.name).toEqual([]);
    }
  });

  it('logout and logout-all: their spans, the sessions ended, the store calls under them', async () => {
    const first = await login(app);
    const second = await login(app);
    exporter.reset();
    expect((await call(app, 'post', '/auth/logout', { cookie: first.cookie })).status).toBe(204);
    expect(one('latchkey.logout').attributes).toEqual({ 'latchkey.outcome': 'ok', 'latchkey.session.id': first.sid });
    expect(parentOf(one('latchkey.store.endSession'))).toBe(idOf(one('latchkey.logout')));
    expect((await call(app, 'post', '/auth/logout-all', { cookie: second.cookie })).status).toBe(204);
    const all = one('latchkey.logout_all');
    expect(all.attributes).toEqual({ 'latchkey.outcome': 'ok', 'latchkey.session.id': second.sid, 'latchkey.sessions.ended': 1 });
    expect(parentOf(one('latchkey.store.endAllUserSessions'))).toBe(idOf(all));
  });

  it('never records a password, a cookie, a token or a secret', async () => {
    const device: Device = await login(app, 'alice', 'Work laptop');
    const firstCookie = device.cookie;
    const firstToken = device.token;
    await refresh(app, device);
    await me(app, device.token);
    await call(app, 'post', '/auth/refresh', { cookie: firstCookie }); // superseded: the grace replay
    await call(app, 'post', '/auth/logout-all', { cookie: device.cookie });
    await me(app, device.token); // revoked now
    const cookieValue = (cookie: string) => decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
    const secrets = [USERS.alice!.password, SECRET, firstToken, device.token, cookieValue(firstCookie), cookieValue(device.cookie)];
    // Every part of the cookie (key, generation, credential secret, signature), each long enough to be meaningful.
    const cookieParts = [firstCookie, device.cookie].flatMap((c) => cookieValue(c).split(/[.:]/)).filter((p) => p.length >= 16);
    const recorded = everyRecordedValue();
    expect(spans().length).toBeGreaterThan(8);
    expect(recorded.filter((value) => [...secrets, ...cookieParts].some((secret) => value.includes(secret)))).toEqual([]);
    expect(spans().some((s) => 'user.id' in s.attributes)).toBe(false);
  });
});

describe('failures are errors', () => {
  it('an authenticate that throws: the login span records the exception, status ERROR', async () => {
    registerGlobally();
    const t = await startTestBff({
      authenticate: async () => {
        throw new Error('user directory down');
      },
    });
    try {
      expect((await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } })).status).toBe(500);
      const span = one('latchkey.login');
      expect(span.status.code).toBe(SPAN_STATUS.ERROR);
      expect(span.attributes).toEqual({ 'latchkey.outcome': 'internal_error', 'error.type': 'internal_error' });
      expect(span.events.map((e) => [e.name, e.attributes?.['exception.message']])).toEqual([['exception', 'user directory down']]);
    } finally {
      await t.close();
    }
  });

  it('Redis not answering: the store span, the route span and the guard span are ERROR (503), the exception recorded', async () => {
    const redis = await startRedisServer();
    registerGlobally();
    const t = await startTestBff({}, await RedisStore.connect({ url: redis.url, prefix: 'otel:', commandTimeoutMs: 300 }));
    try {
      const device = await login(t.app);
      exporter.reset();
      redis.pause();
      expect((await call(t.app, 'post', '/auth/logout-all', { cookie: device.cookie })).status).toBe(503);
      // The guard fails closed once its revocation view is stale.
      await expect.poll(async () => (await me(t.app, device.token)).status, { timeout: 5000, interval: 100 }).toBe(503);
      redis.resume();
      const guard = named('latchkey.guard').at(-1)!;
      expect(guard.status.code).toBe(SPAN_STATUS.ERROR);
      expect(guard.attributes).toMatchObject({ 'latchkey.outcome': 'temporarily_unavailable', 'error.type': 'temporarily_unavailable' });
      expect(guard.events.map((e) => e.attributes?.['exception.type'])).toEqual(['StoreUnavailableError']);
      const route = one('latchkey.logout_all');
      const read = one('latchkey.store.getSession');
      expect(parentOf(read)).toBe(idOf(route));
      for (const span of [route, read]) {
        expect(span.status.code, span.name).toBe(SPAN_STATUS.ERROR);
        expect(span.attributes, span.name).toEqual({ 'latchkey.outcome': 'temporarily_unavailable', 'error.type': 'temporarily_unavailable' });
        expect(
          span.events.map((e) => e.attributes?.['exception.type']),
          span.name,
        ).toEqual(['StoreUnavailableError']);
      }
    } finally {
      redis.resume();
      await t.close();
      await redis.stop();
    }
  });
});

describe('options', () => {
  it('recordUserId: true adds user.id (personal data, off by default)', async () => {
    registerGlobally();
    const t = await startTestBff({ tracing: { recordUserId: true } });
    try {
      const device = await login(t.app);
      await me(t.app, device.token);
      expect(one('latchkey.login').attributes['user.id']).toBe('user-alice');
      expect(one('latchkey.guard').attributes['user.id']).toBe('user-alice');
    } finally {
      await t.close();
    }
  });

  it('tracerProvider: spans go to that provider, nothing registered globally', async () => {
    const t = await startTestBff({ tracing: { tracerProvider: provider } });
    try {
      await login(t.app);
      expect(one('latchkey.login').attributes['latchkey.outcome']).toBe('ok');
    } finally {
      await t.close();
    }
  });

  it('enabled: false records nothing even with a registered provider', async () => {
    registerGlobally();
    const t = await startTestBff({ tracing: { enabled: false } });
    try {
      const device = await login(t.app);
      await refresh(t.app, device);
      await me(t.app, device.token);
      expect(t.bff.metrics).toBeDefined();
      expect(spans()).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('refuses unknown tracing options', async () => {
    await expect(startTestBff({ tracing: { recordUserID: true } as never })).rejects.toThrow('unknown option "tracing.recordUserID"');
  });
});

describe('without a registered provider', () => {
  let t: TestBff;
  beforeAll(async () => {
    t = await startTestBff();
  });
  afterAll(() => t.close());

  it("the BFF works on the API's no-op tracer", async () => {
    const device = await login(t.app);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await me(t.app, device.token)).status).toBe(200);
    expect((await call(t.app, 'post', '/auth/logout', { cookie: device.cookie })).status).toBe(204);
    expect(spans()).toEqual([]);
  });

  it('a provider registered after createBff is used from then on (the global tracer is a proxy)', async () => {
    // A BFF of its own: trace.disable() between tests replaces the API's proxy provider an earlier BFF holds.
    const late = await startTestBff();
    try {
      await login(late.app);
      expect(spans()).toEqual([]);
      registerGlobally();
      await login(late.app);
      expect(one('latchkey.login').attributes['latchkey.outcome']).toBe('ok');
    } finally {
      await late.close();
    }
  });
});

describe('admin actions and the OAuth endpoints', () => {
  const CLIENT = { id: 'orders', secret: 'orders-secret-that-is-long-enough-1234' };
  let t: TestBff;
  let app: Express;
  beforeEach(async () => {
    registerGlobally();
    t = await startTestBff({
      resourceClients: [CLIENT],
      authenticate: async (username, password) => {
        const user = USERS[username];
        return user && user.password === password ? { id: user.id, name: user.name, scope: username === 'alice' ? 'latchkey:admin' : '' } : null;
      },
    });
    t.app.use('/admin', t.bff.adminRouter());
    t.app.use(t.bff.errorHandler);
    app = behindRequestSpan(t.app, trace.getTracer('test'));
  });
  afterEach(() => t.close());

  it('latchkey.admin.<action> with its store calls under it; latchkey.introspect and latchkey.revoke with their outcome', async () => {
    const alice = await login(app, 'alice');
    const bob = await login(app, 'bob');
    exporter.reset();
    const ended = await request(app).delete('/admin/users/user-bob/sessions').set('Authorization', `Bearer ${alice.token}`);
    expect(ended.status).toBe(200);
    const action = one('latchkey.admin.revoke_user');
    expect(parentOf(action)).toBe(idOf(one('DELETE request')));
    expect(action.attributes).toEqual({ 'latchkey.outcome': 'ok' });
    expect(parentOf(one('latchkey.store.endAllUserSessions'))).toBe(idOf(action));

    const basic = `Basic ${Buffer.from(`${CLIENT.id}:${CLIENT.secret}`).toString('base64')}`;
    const form = (path: string, token: string) => request(app).post(path).set('Authorization', basic).type('form').send({ token });
    exporter.reset();
    expect((await form('/auth/introspect', alice.token)).body).toMatchObject({ active: true });
    expect((await form('/auth/introspect', bob.token)).body).toEqual({ active: false });
    expect(named('latchkey.introspect').map((s) => s.attributes['latchkey.outcome'])).toEqual(['active', 'inactive']);
    exporter.reset();
    expect((await form('/auth/revoke', alice.token)).status).toBe(200);
    expect(one('latchkey.revoke').attributes).toEqual({ 'latchkey.outcome': 'revoked' });
    expect(parentOf(one('latchkey.store.revokeJti'))).toBe(idOf(one('latchkey.revoke')));
    expect(everyRecordedValue().some((v) => v.includes(alice.token) || v.includes(CLIENT.secret))).toBe(false);
  });
});
