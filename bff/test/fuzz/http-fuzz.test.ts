/**
 * Fuzzing the BFF's HTTP surface with fast-check: hostile bodies, content types, headers, cookies, bearer tokens and
 * path ids against every route under /auth and the guarded GET /api/me.
 *
 * For every request: never a 5xx; every 4xx is exactly `{ error, message }` with a code from ERROR_CODES and no stack
 * trace or file path; no cookie secret, token or password in any answer (or any log line); no prototype pollution.
 * Across requests: a rejected request changes nothing (the real devices' sessions, generations and credential hashes,
 * the revocation view, the verified-token cache), and the real devices keep working (their tokens pass the guard at
 * every step; their cookies still refresh at the end).
 *
 * fc.assert prints the seed and the shrunk counterexample on failure; replay with `{ seed, path }` in the params.
 */
import type { Server } from 'node:http';
import signature from 'cookie-signature';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { ADAPTER, ISSUER, login, me, SECRET, sessionCookie, startTestBff, USERS, type TestBff } from '../helpers/harness.js';
import { startRedisCluster, startRedisServer } from '@latchkey/testkit';
import {
  authorizationHeader,
  bffRoute,
  CANARY_PATTERN,
  canaryPassword,
  checkResponse,
  closeServer,
  COOKIE_NAME,
  csrfHeader,
  describeDevice,
  extraHeaders,
  garbageCookie,
  headerValue,
  listen,
  mutatedCookie,
  originHeader,
  OWN_HOST,
  OWN_ORIGIN,
  pathId,
  payload,
  prototypeFingerprint,
  routeOf,
  sameDecodedToken,
  secretsOf,
  send,
  type FuzzRequest,
  type Method,
  type RealDevice,
} from './fuzz-support.js';

/** Login limits high enough per IP for the fuzz to reach validation; per account low enough to hit 429 sometimes. */
const RATE_LIMIT = { login: { perIp: { limit: 1_000_000, windowMs: 60_000 }, perAccount: { limit: 5, windowMs: 60_000 } } };
const USER_IDS = [USERS.alice!.id, USERS.bob!.id];
/** numRuns keep each property around a second on an idle 2-core machine; the timeout only absorbs a loaded CI host. */
const PROPERTY_TIMEOUT_MS = 60_000;

/** A BFF on a listening server, with alice on two devices and bob on one, and the state they started from. */
interface Fixture {
  t: TestBff;
  server: Server;
  devices: RealDevice[];
  secrets: string[];
  baseline: Awaited<ReturnType<typeof observe>>;
  prototype: string;
}

async function observe(t: TestBff) {
  const sessions: Record<string, unknown> = {};
  for (const userId of USER_IDS) sessions[userId] = await t.store.listUserSessions(userId, Date.now());
  const { viewEntries, cachedTokens } = t.bff.guard.stats();
  return { sessions, viewEntries, cachedTokens };
}

function bearer(server: Server, token: string) {
  return request(server).get('/api/me').set('Authorization', `Bearer ${token}`).timeout(5000);
}

async function setUp(store?: SessionStore): Promise<Fixture> {
  const t = await startTestBff({ rateLimit: RATE_LIMIT }, store);
  const server = await listen(t.app);
  const devices = [
    describeDevice('alice', await login(t.app, 'alice', 'Alice laptop')),
    describeDevice('alice', await login(t.app, 'alice', 'Alice phone')),
    describeDevice('bob', await login(t.app, 'bob', 'Bob desktop')),
  ];
  // Each genuine token verified once: the cache holds exactly these three from now on.
  for (const d of devices) expect((await bearer(server, d.token)).status).toBe(200);
  const baseline = await observe(t);
  expect(baseline.cachedTokens).toBe(3);
  expect(Object.values(baseline.sessions).flat()).toHaveLength(3);
  return { t, server, devices, secrets: secretsOf(devices), baseline, prototype: prototypeFingerprint() };
}

async function tearDown(f: Fixture | undefined): Promise<void> {
  if (!f) return;
  await closeServer(f.server);
  await f.t.close();
}

/**
 * Nothing observable moved: same sessions (sids, generations, credential hashes), revocation view and token cache,
 * untouched Object.prototype, and every real token still decided valid by the guard (the decision GET /api/me makes;
 * `viaHttp` also asks over HTTP, which the properties do at their end to keep each run cheap).
 */
async function expectUnchanged(f: Fixture, where: string, viaHttp = false): Promise<void> {
  expect(await observe(f.t), `state changed after ${where}`).toEqual(f.baseline);
  expect(prototypeFingerprint(), `Object.prototype changed after ${where}`).toBe(f.prototype);
  for (const d of f.devices) {
    const decision = await f.t.bff.guard.check(d.token);
    expect(decision.outcome, `${d.user}'s token after ${where}`).toBe('valid');
    if (!viaHttp) continue;
    const res = await bearer(f.server, d.token);
    expect({ status: res.status, body: res.body }, `${d.user}'s token over HTTP after ${where}`).toEqual({
      status: 200,
      body: { sub: USERS[d.user]!.id, sid: d.sid },
    });
  }
}

/** No log line carries a cookie secret, a token, a password or a canary password the fuzz sent. */
function expectCleanLogs(f: Fixture): void {
  for (const line of f.t.logLines) {
    expect(line).not.toMatch(CANARY_PATTERN);
    for (const secret of f.secrets) expect(line.includes(secret), `log line leaks ${secret.slice(0, 12)}…: ${line.slice(0, 200)}`).toBe(false);
  }
}

/** The end of a "changes nothing" run: every device's cookie still refreshes (once: refresh rotates), new tokens work. */
async function expectDevicesStillRefresh(f: Fixture): Promise<void> {
  for (const d of f.devices) {
    const res = await request(f.server).post('/auth/refresh').set('Host', OWN_HOST).set('X-CSRF', '1').set('Cookie', d.cookie);
    expect(res.status, `${d.user}/${d.sid} refresh`).toBe(200);
    expect(res.body.session.id).toBe(d.sid);
    expect(sessionCookie(res)).not.toBeNull();
    expect((await bearer(f.server, res.body.accessToken)).status).toBe(200);
  }
}

const crashes: unknown[] = [];
const onCrash = (error: unknown) => void crashes.push(error);
beforeAll(() => {
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', onCrash);
});
afterAll(() => {
  process.off('uncaughtException', onCrash);
  process.off('unhandledRejection', onCrash);
  expect(crashes).toEqual([]);
});

// ---------------------------------------------------------------------------------------------------------------

/** Any request without a usable credential: garbage or damaged cookies, forged tokens, hostile bodies and headers. */
function hostileRequest(f: Fixture): fc.Arbitrary<FuzzRequest> {
  const sids = f.devices.map((d) => d.sid);
  const tokens = f.devices.map((d) => d.token);
  const kid = f.t.bff.keyRing.activeKey().kid;
  const route = fc.oneof({ weight: 6, arbitrary: bffRoute(sids) }, { weight: 1, arbitrary: fc.constant({ method: 'get' as Method, path: '/api/me' }) });
  return fc
    .record({
      route,
      payload,
      csrf: csrfHeader,
      origin: originHeader,
      host: fc.oneof(
        { weight: 12, arbitrary: fc.constant(OWN_HOST) },
        { weight: 1, arbitrary: fc.constantFrom('evil.example', `${OWN_HOST}:8080`, '[::1]', 'localhost') },
      ),
      cookie: fc.option(fc.oneof(garbageCookie, mutatedCookie(f.devices)), { nil: undefined, freq: 3 }),
      authorization: fc.option(authorizationHeader(tokens, kid, ISSUER), { nil: undefined, freq: 2 }),
      extra: extraHeaders,
    })
    .map(({ route, payload, csrf, origin, host, cookie, authorization, extra }) => {
      const headers: Record<string, string> = { ...extra, ...payload.headers, Host: host };
      if (csrf !== undefined) headers['X-CSRF'] = csrf;
      if (origin !== undefined) headers.Origin = origin;
      if (cookie !== undefined) headers.Cookie = cookie;
      if (authorization !== undefined) headers.Authorization = authorization;
      return { method: route.method, path: route.path, headers, body: payload.body };
    });
}

/** Property 1 (and its Redis twin): one hostile request per run; invariants on the answer; nothing changes. */
async function hostileRequestsChangeNothing(f: Fixture, numRuns: number): Promise<void> {
  await fc.assert(
    fc.asyncProperty(hostileRequest(f), async (req) => {
      const res = await send(f.server, req);
      checkResponse(req, res, { secrets: f.secrets });
      const route = routeOf(req.path);
      if (route === '/api/me') {
        expect(res.status).toBe(401);
      } else if (res.status < 400) {
        // Without a credential only the JWKS and the idempotent logout may succeed.
        const allowed = (req.method === 'get' && route === '/auth/jwks.json') || (req.method === 'post' && route === '/auth/logout');
        expect(allowed, `${req.method} ${req.path} answered ${res.status} without a credential`).toBe(true);
      }
      await expectUnchanged(f, `${req.method} ${req.path}`);
    }),
    { numRuns },
  );
  await expectUnchanged(f, 'property 1', true);
  expectCleanLogs(f);
}

describe('HTTP fuzz, memory store', () => {
  let f: Fixture;
  beforeAll(async () => {
    f = await setUp();
  });
  afterAll(() => tearDown(f));

  it(
    'property 1: hostile requests to every route never 5xx, answer { error, message }, leak nothing, change nothing',
    async () => {
      await hostileRequestsChangeNothing(f, 300);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'property 2: real cookies on requests the BFF must reject change nothing',
    async () => {
      const { devices } = f;
      const deviceIndex = fc.nat({ max: devices.length - 1 });

      const jsonDoc = fc.oneof(
        fc.constant('{}'),
        fc.json().filter((j) => /^\s*[[{]/.test(j)),
      );
      const unparseable = fc
        .oneof(fc.string({ minLength: 1, maxLength: 100 }), fc.constantFrom('{', '[', '{"a":}', 'null', '1', '"x"', 'true', '{"a":1}}', "{'a':1}", '\u0000{}'))
        .filter((s) => {
          if (s.trim() === '') return false;
          if (!/^[ \t\n\r]*[[{]/.test(s)) return true; // strict JSON: objects and arrays only
          try {
            JSON.parse(s);
            return false;
          } catch {
            return true;
          }
        });
      const notJsonType = fc.oneof(
        fc.constantFrom(
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/xml',
          'text/html',
          'application/octet-stream',
          'text/json',
        ),
        fc
          .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz/+-;= '), minLength: 1, maxLength: 30 })
          .filter((v) => !/json/i.test(v) && v.trim() !== ''),
      );
      const foreignOrigin = fc.oneof(
        fc.constantFrom(
          'https://evil.example',
          'null',
          `https://${OWN_HOST}`,
          `http://${OWN_HOST}:8080`,
          `http://${OWN_HOST}.evil.example`,
          'http://localhost',
        ),
        headerValue.filter((v) => v.trim() !== OWN_ORIGIN && v.trim() !== ''),
      );

      type Defect = { expect: string; headers: Record<string, string>; body?: string | Buffer; dropCsrf?: boolean };
      // Each defect alone is enough for a rejection; the expected code follows from it.
      const defect: fc.Arbitrary<Defect> = fc.oneof(
        fc.constant<Defect>({ expect: 'csrf_rejected', headers: {}, dropCsrf: true }),
        headerValue.filter((v) => v.trim() !== '1').map<Defect>((v) => ({ expect: 'csrf_rejected', headers: { 'X-CSRF': v } })),
        foreignOrigin.map<Defect>((v) => ({ expect: 'csrf_rejected', headers: { Origin: v } })),
        fc.tuple(notJsonType, jsonDoc).map<Defect>(([type, body]) => ({ expect: 'unsupported_media_type', headers: { 'Content-Type': type }, body })),
        jsonDoc.map<Defect>((body) => ({ expect: 'unsupported_media_type', headers: {}, body })),
        fc
          .tuple(fc.constantFrom('latin1', 'koi8-r', 'ascii', 'iso-8859-1', 'x-unknown', 'utf'), jsonDoc)
          .map<Defect>(([charset, body]) => ({ expect: 'unsupported_media_type', headers: { 'Content-Type': `application/json; charset=${charset}` }, body })),
        fc
          .tuple(fc.constantFrom('compress', 'x-custom', 'zstd', 'gzip, br'), jsonDoc)
          .map<Defect>(([enc, body]) => ({ expect: 'unsupported_media_type', headers: { 'Content-Type': 'application/json', 'Content-Encoding': enc }, body })),
        unparseable.map<Defect>((body) => ({ expect: 'invalid_request', headers: { 'Content-Type': 'application/json' }, body })),
        fc
          .tuple(fc.constantFrom('gzip', 'deflate', 'br'), jsonDoc)
          .map<Defect>(([enc, body]) => ({ expect: 'invalid_request', headers: { 'Content-Type': 'application/json', 'Content-Encoding': enc }, body })),
        fc.integer({ min: 8300, max: 30_000 }).map<Defect>((n) => ({
          expect: 'payload_too_large',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ username: 'alice', password: 'x', deviceName: 'd'.repeat(n) }),
        })),
      );

      type Case = { device: RealDevice; req: FuzzRequest; expectStatus: number; expectError?: string };
      const withCookie = (device: RealDevice, method: Method, path: string, headers: Record<string, string> = {}, body?: string | Buffer): FuzzRequest => ({
        method,
        path,
        headers: { Host: OWN_HOST, 'X-CSRF': '1', Cookie: device.cookie, ...headers },
        body,
      });

      // (a) Any cookie route, even a valid login of the cookie's own user, with one defect: rejected with that defect's code.
      const defective = fc
        .record({ d: deviceIndex, target: deviceIndex, route: fc.constantFrom('login', 'refresh', 'logout', 'logout-all', 'sessions', 'delete'), defect })
        // A Fetch Request cannot carry a body on GET: under bff.fetch a body defect needs a route that takes one.
        .filter(({ route, defect }) => !(ADAPTER === 'fetch' && route === 'sessions' && defect.body !== undefined))
        .map<Case>(({ d, target, route, defect }) => {
          const device = devices[d]!;
          const [method, path]: [Method, string] =
            route === 'login'
              ? ['post', '/auth/login']
              : route === 'sessions'
                ? ['get', '/auth/sessions']
                : route === 'delete'
                  ? ['delete', `/auth/sessions/${devices[target]!.sid}`]
                  : ['post', `/auth/${route}`];
          let body = defect.body;
          const headers = { ...defect.headers };
          if (body === undefined && route === 'login') {
            body = JSON.stringify({ username: device.user, password: USERS[device.user]!.password });
            headers['Content-Type'] ??= 'application/json';
          }
          const req = withCookie(device, method, path, headers, body);
          if (defect.dropCsrf) delete req.headers['X-CSRF'];
          const status = { csrf_rejected: 403, unsupported_media_type: 415, invalid_request: 400, payload_too_large: 413 }[defect.expect]!;
          return { device, req, expectStatus: status, expectError: defect.expect };
        });

      // (b) Well-formed requests with the real cookie that must still be refused.
      const refused = fc.oneof(
        // Someone else's session id, a damaged own id, or junk: 404 (400 for an undecodable path).
        fc.record({ d: deviceIndex, id: fc.oneof(pathId(devices.map((x) => x.sid)), fc.constant('other-user')) }).map<Case>(({ d, id }) => {
          const device = devices[d]!;
          const sid = id === 'other-user' ? devices.find((x) => x.user !== device.user)!.sid : id;
          return { device, req: withCookie(device, 'delete', `/auth/sessions/${sid}`), expectStatus: 404 };
        }),
        // A wrong password on a device that is signed in: 401 (or 429 once the account limit is reached); the session stays.
        fc.record({ d: deviceIndex, password: canaryPassword }).map<Case>(({ d, password }) => {
          const device = devices[d]!;
          const body = JSON.stringify({ username: device.user, password });
          return { device, req: withCookie(device, 'post', '/auth/login', { 'Content-Type': 'application/json' }, body), expectStatus: 401 };
        }),
        // Wrong methods on the cookie routes, including on the device's own session id: 404.
        fc
          .record({
            d: deviceIndex,
            route: fc.constantFrom<[Method, string]>(
              ['get', '/auth/refresh'],
              ['put', '/auth/refresh'],
              ['get', '/auth/logout'],
              ['patch', '/auth/logout'],
              ['get', '/auth/logout-all'],
              ['delete', '/auth/logout-all'],
              ['post', '/auth/sessions'],
              ['delete', '/auth/sessions'],
              ['post', '/auth/sessions/:own'],
              ['get', '/auth/sessions/:own'],
              ['put', '/auth/sessions/:own'],
              ['get', '/auth/login'],
              ['delete', '/auth/login'],
            ),
          })
          .map<Case>(({ d, route: [method, path] }) => {
            const device = devices[d]!;
            return { device, req: withCookie(device, method, path.replace(':own', device.sid)), expectStatus: 404, expectError: 'not_found' };
          }),
      );

      await fc.assert(
        fc.asyncProperty(
          fc.oneof({ weight: 3, arbitrary: defective }, { weight: 2, arbitrary: refused }),
          async ({ device, req, expectStatus, expectError }) => {
            const res = await send(f.server, req);
            checkResponse(req, res, { secrets: f.secrets });
            if (expectStatus === 401) {
              expect([401, 429]).toContain(res.status);
              expect(['invalid_credentials', 'rate_limited']).toContain(res.body.error);
            } else if (expectStatus === 404 && expectError === undefined) {
              expect([400, 404]).toContain(res.status);
            } else {
              expect({ status: res.status, error: res.body.error }).toEqual({ status: expectStatus, error: expectError });
            }
            expect(res.headers['set-cookie'], `${device.user}'s cookie touched`).toBeUndefined();
            await expectUnchanged(f, `${req.method} ${req.path}`);
          },
        ),
        { numRuns: 200 },
      );

      // A read with the real cookie is allowed and changes nothing either.
      for (const device of devices) {
        const res = await send(f.server, withCookie(device, 'get', '/auth/sessions'));
        checkResponse({ method: 'get', path: '/auth/sessions', headers: {} }, res, { secrets: f.secrets });
        expect(res.status).toBe(200);
        const own = devices.filter((d) => d.user === device.user);
        expect(res.body.sessions.map((s: { id: string }) => s.id).sort()).toEqual(own.map((d) => d.sid).sort());
        expect(res.body.sessions.filter((s: { current: boolean }) => s.current).map((s: { id: string }) => s.id)).toEqual([device.sid]);
      }
      await expectUnchanged(f, 'the session list', true);
      expectCleanLogs(f);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'property 3: the guard never accepts a random or mutated token, and never caches one',
    async () => {
      const { devices } = f;
      const tokens = devices.map((d) => d.token);
      const kid = f.t.bff.keyRing.activeKey().kid;
      // A genuine token seen before the property is cached once: seeing it again adds nothing.
      const before = f.t.bff.guard.stats().cachedTokens;
      expect((await bearer(f.server, devices[0]!.token)).status).toBe(200);
      expect(f.t.bff.guard.stats().cachedTokens).toBe(before);

      const noise = fc.record({
        payload,
        csrf: csrfHeader,
        origin: originHeader,
        cookie: fc.option(fc.oneof(garbageCookie, mutatedCookie(devices), fc.constantFrom(...devices.map((d) => d.cookie))), { nil: undefined }),
        extra: extraHeaders,
      });
      const attempt = fc.oneof(
        { weight: 6, arbitrary: fc.record({ authorization: authorizationHeader(tokens, kid, ISSUER), real: fc.constant(undefined), noise }) },
        // The genuine token with every other header and body scrambled: still 200, still one cache entry.
        { weight: 1, arbitrary: fc.record({ authorization: fc.constant(undefined), real: fc.constantFrom(...devices), noise }) },
      );

      await fc.assert(
        fc.asyncProperty(attempt, async ({ authorization, real, noise }) => {
          const headers: Record<string, string> = { ...noise.extra, ...noise.payload.headers, Host: OWN_HOST };
          if (noise.csrf !== undefined) headers['X-CSRF'] = noise.csrf;
          if (noise.origin !== undefined) headers.Origin = noise.origin;
          if (noise.cookie !== undefined) headers.Cookie = noise.cookie;
          const auth = real ? `Bearer ${real.token}` : authorization;
          if (auth !== undefined) headers.Authorization = auth;
          const req: FuzzRequest = { method: 'get', path: '/api/me', headers, body: noise.payload.body };
          const res = await send(f.server, req);
          checkResponse(req, res, { secrets: f.secrets });
          if (real) {
            expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { sub: USERS[real.user]!.id, sid: real.sid } });
          } else {
            expect(res.status).toBe(401);
            expect(res.body).toEqual({ error: 'invalid_token', message: 'The access token is invalid.' });
            expect(res.headers['www-authenticate']).toBe(auth === undefined ? 'Bearer' : 'Bearer error="invalid_token"');
          }
          expect(f.t.bff.guard.stats().cachedTokens, `cache grew after ${auth?.slice(0, 80)}`).toBe(before);
        }),
        { numRuns: 250 },
      );

      expect((await bearer(f.server, devices[0]!.token)).status).toBe(200);
      expect(f.t.bff.guard.stats().cachedTokens).toBe(before);
      await expectUnchanged(f, 'the guard property', true);
      expectCleanLogs(f);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it(
    'property 4: cookies signed with the deployment secret but carrying a wrong credential are refused and change nothing',
    async () => {
      // Only the BFF can produce these (they are well signed): a bug in the credential check would show here first.
      // POST /logout is left out on purpose: it ends the session named by any well-signed cookie (see the report).
      const { devices } = f;
      const forged = fc
        .record({
          device: fc.constantFrom(...devices),
          generation: fc.integer({ min: 0, max: 1000 }),
          secret: fc.oneof(
            fc.constantFrom(...devices.map((d) => d.secret)),
            fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: 32, maxLength: 128 }),
          ),
          route: fc.constantFrom<[Method, string]>(
            ['post', '/auth/refresh'],
            ['post', '/auth/logout-all'],
            ['get', '/auth/sessions'],
            ['delete', '/auth/sessions/:other'],
          ),
        })
        .filter(({ device, generation, secret }) => !(generation === device.generation && secret === device.secret))
        .map(({ device, generation, secret, route: [method, path] }) => {
          const value = signature.sign(`v1.${device.key}.${generation}.${secret}`, SECRET);
          const other = devices.find((d) => d.user === device.user && d.sid !== device.sid) ?? device;
          const req: FuzzRequest = {
            method,
            path: path.replace(':other', other.sid),
            headers: { Host: OWN_HOST, 'X-CSRF': '1', Cookie: `${COOKIE_NAME}=${encodeURIComponent(value)}` },
          };
          return req;
        });
      await fc.assert(
        fc.asyncProperty(forged, async (req) => {
          const res = await send(f.server, req);
          checkResponse(req, res, { secrets: f.secrets });
          expect({ status: res.status, error: res.body.error }).toEqual({ status: 401, error: 'no_session' });
          await expectUnchanged(f, `${req.method} ${req.path}`);
        }),
        { numRuns: 50 },
      );
      await expectUnchanged(f, 'property 4', true);
    },
    PROPERTY_TIMEOUT_MS,
  );

  it('after all of it, every real device still refreshes, and no log line carries a secret', async () => {
    await expectUnchanged(f, 'every property', true);
    expectCleanLogs(f);
    await expectDevicesStillRefresh(f);
  });
});

/** Property 1 again on the Redis store: one node, and a 3-master Cluster (each a real server started here). */
const REDIS_BACKENDS = [
  {
    name: 'Redis',
    runs: 100,
    async open() {
      const redis = await startRedisServer();
      return { store: await RedisStore.connect({ url: redis.url, prefix: `fuzz-${process.pid}:` }), stop: () => redis.stop() };
    },
  },
  {
    name: 'a 3-master Redis Cluster',
    runs: 60,
    async open() {
      const cluster = await startRedisCluster({ masters: 3 });
      return { store: await RedisStore.connect({ clusterNodes: [cluster.url], prefix: `fuzz-${process.pid}:` }), stop: () => cluster.stop() };
    },
  },
];

describe.each(REDIS_BACKENDS)('HTTP fuzz, Redis store on $name', ({ name, runs, open }) => {
  let backend: { stop(): Promise<void> } | undefined;
  let f: Fixture | undefined;
  beforeAll(async () => {
    const opened = await open();
    backend = opened;
    f = await setUp(opened.store);
  }, 30_000);
  afterAll(async () => {
    await tearDown(f);
    await backend?.stop();
  });

  it(
    `property 1 on ${name}: hostile requests never 5xx, leak nothing, change nothing; devices still refresh`,
    async () => {
      await hostileRequestsChangeNothing(f!, runs);
      await expectDevicesStillRefresh(f!);
    },
    PROPERTY_TIMEOUT_MS,
  );
});

/** Regressions this fuzz found, kept as plain tests. */
describe('fuzz findings', () => {
  // ES256 signatures are 64 bytes = 86 base64url characters, whose last character carries 4 unused bits. jose decodes
  // leniently, so the 15 other spellings of that character used to verify and enter the cache as separate entries.
  it('a genuine token re-spelled in non-canonical base64url is refused and never cached', async () => {
    const t = await startTestBff();
    try {
      const device = await login(t.app);
      expect((await me(t.app, device.token)).status).toBe(200);
      const cached = t.bff.guard.stats().cachedTokens;
      const [h, p, s] = device.token.split('.') as [string, string, string];
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const respelled = [...alphabet].map((c) => `${h}.${p}.${s.slice(0, -1)}${c}`).filter((v) => v !== device.token && sameDecodedToken(v, device.token));
      expect(respelled).toHaveLength(15);
      for (const token of respelled) expect((await me(t.app, token)).status, token.slice(-4)).toBe(401);
      expect(t.bff.guard.stats().cachedTokens).toBe(cached);
    } finally {
      await t.close();
    }
  });
});
