import { gzipSync } from 'node:zlib';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Express } from 'express';
import { sha256 } from '../../src/crypto/hash.js';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { SessionStore } from '../../src/store/types.js';
import { toLowS } from '../helpers/low-s-jws.js';
import { issueAccessToken } from '../../src/tokens/issue-access-token.js';
import { call, ISSUER, login, me, startTestBff, USERS, type TestBff } from '../helpers/harness.js';
import { startRedisServer, type RedisServer } from '@latchkey/testkit';

const ORDERS = { id: 'orders-api', secret: 'orders-api-secret-0123456789-abcdefghij' };
/** An id and secret that need the form-encoding of RFC 6749 §2.3.1 inside Basic (a colon, a space, a plus, non-ASCII). */
const ODD = { id: 'billing: eu+1', secret: 'sécret:with spaces+plus%-0123456789abcdef' };
/** Configured by hash only. */
const HASHED = { id: 'reports', secret: 'reports-secret-0123456789-abcdefghijklmn' };
const RESOURCE_CLIENTS = [ORDERS, { id: ODD.id, secret: ODD.secret }, { id: HASHED.id, secretHash: sha256(HASHED.secret) }];

/** application/x-www-form-urlencoded as RFC 6749 Appendix B spells it (space as `+`). */
const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
const form = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`)
    .join('&');
const basic = (client: { id: string; secret: string }) => `Basic ${Buffer.from(`${formEncode(client.id)}:${formEncode(client.secret)}`).toString('base64')}`;

type Auth = 'basic' | 'post' | 'none';

function post(app: Express, path: '/auth/introspect' | '/auth/revoke', params: Record<string, string>, auth: Auth = 'basic', client = ORDERS) {
  let req = request(app).post(path).type('form');
  if (auth === 'basic') req = req.set('Authorization', basic(client));
  const body = auth === 'post' ? { ...params, client_id: client.id, client_secret: client.secret } : params;
  return req.send(form(body));
}
const introspect = (app: Express, token: string, auth: Auth = 'basic', client = ORDERS) => post(app, '/auth/introspect', { token }, auth, client);
const revoke = (app: Express, token: string, extra: Record<string, string> = {}) => post(app, '/auth/revoke', { token, ...extra });

/** A token signed with the BFF's own active key, iat/exp as given: a genuine token, only its times differ. */
async function issuedAt(t: TestBff, sid: string, nowMs: number): Promise<string> {
  const input = { keyRing: t.bff.keyRing, issuer: ISSUER, audience: ISSUER, clientId: 'latchkey', userId: 'user-alice', maxTokenBytes: 4096 };
  return (await issueAccessToken({ ...input, sid, ttlSeconds: 300, notAfterMs: nowMs + 600_000, nowMs })).token;
}

let redis: RedisServer;
beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(() => redis?.stop());

const backends: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore()],
  ['redis', async () => RedisStore.connect({ url: redis.url, prefix: `introspect-${Date.now()}-${Math.random()}:` })],
];

describe.each(backends)('introspection and revocation (%s store)', (backend, makeStore) => {
  let t: TestBff;
  beforeEach(async () => {
    t = await startTestBff({ resourceClients: RESOURCE_CLIENTS }, await makeStore());
  });
  afterEach(() => t.close());
  /** The guard's view follows the store's log: on Redis a revocation reaches it a moment later. */
  const POLL = { timeout: 3000, interval: 10 };

  describe('client authentication', () => {
    it('accepts client_secret_basic, client_secret_post, form-encoded Basic credentials and a hashed secret', async () => {
      const device = await login(t.app);
      for (const [auth, client] of [
        ['basic', ORDERS],
        ['post', ORDERS],
        ['basic', ODD],
        ['post', ODD],
        ['basic', HASHED],
        ['post', HASHED],
      ] as const) {
        const res = await introspect(t.app, device.token, auth, client);
        expect({ auth, client: client.id, status: res.status, active: res.body.active }).toEqual({ auth, client: client.id, status: 200, active: true });
      }
    });

    it.each([
      ['a wrong secret (Basic)', (r: request.Test) => r.set('Authorization', basic({ id: ORDERS.id, secret: `${ORDERS.secret}x` }))],
      ['an unknown client (Basic)', (r: request.Test) => r.set('Authorization', basic({ id: 'nobody', secret: ORDERS.secret }))],
      [
        'Basic without the form-encoding undone correctly',
        (r: request.Test) => r.set('Authorization', `Basic ${Buffer.from(`${ODD.id}:${ODD.secret}`).toString('base64')}`),
      ],
      ['a malformed Basic header', (r: request.Test) => r.set('Authorization', 'Basic !!!')],
      ['Basic without a colon', (r: request.Test) => r.set('Authorization', `Basic ${Buffer.from(ORDERS.id).toString('base64')}`)],
      ['a Bearer header', (r: request.Test) => r.set('Authorization', 'Bearer abc')],
      ['no credentials', (r: request.Test) => r],
    ])('answers 401 invalid_client for %s', async (_case, authenticate) => {
      const device = await login(t.app);
      const res = await authenticate(request(t.app).post('/auth/introspect').type('form')).send(form({ token: device.token }));
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toMatch(/^Basic realm="latchkey"/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toEqual({ error: 'invalid_client', message: 'Client authentication failed.', error_description: 'Client authentication failed.' });
    });

    it('answers 401 invalid_client for a wrong posted secret, and for a client_id without a secret', async () => {
      const device = await login(t.app);
      const bodies: Array<Record<string, string>> = [
        { token: device.token, client_id: ORDERS.id, client_secret: 'wrong' },
        { token: device.token, client_id: ORDERS.id },
      ];
      for (const body of bodies) {
        const res = await request(t.app).post('/auth/introspect').type('form').send(form(body));
        expect(res.status).toBe(401);
        expect(res.body.error).toBe('invalid_client');
      }
    });

    it('refuses two authentication methods in one request (RFC 6749 §2.3): 400 invalid_request', async () => {
      const device = await login(t.app);
      const res = await request(t.app)
        .post('/auth/introspect')
        .type('form')
        .set('Authorization', basic(ORDERS))
        .send(form({ token: device.token, client_id: ORDERS.id, client_secret: ORDERS.secret }));
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('never logs a client secret or a token', async () => {
      const device = await login(t.app);
      await introspect(t.app, device.token, 'post');
      await post(t.app, '/auth/introspect', { token: device.token }, 'basic', { id: ORDERS.id, secret: 'guessed-secret-0123456789abcdef' });
      await revoke(t.app, device.token);
      const log = t.logLines.join('\n');
      expect(log).toContain('client_auth_failed');
      expect(log).toContain('token_revoked');
      for (const secret of [ORDERS.secret, 'guessed-secret-0123456789abcdef', device.token, basic(ORDERS).slice(6)]) expect(log).not.toContain(secret);
    });

    it('refuses browsers (Origin or Sec-Fetch-Site): 403 before any credential is looked at', async () => {
      const device = await login(t.app);
      for (const [name, value] of [
        ['Origin', ISSUER],
        ['Sec-Fetch-Site', 'same-origin'],
      ]) {
        const res = await request(t.app)
          .post('/auth/introspect')
          .type('form')
          .set('Authorization', basic(ORDERS))
          .set(name!, value!)
          .send(form({ token: device.token }));
        expect(res.status).toBe(403);
        expect(res.body.error).toBe('csrf_rejected');
      }
    });
  });

  describe('POST /auth/introspect', () => {
    it('describes an active token with its claims, no-store, and without reading any cookie', async () => {
      const device = await login(t.app);
      const res = await request(t.app)
        .post('/auth/introspect')
        .type('form')
        .set('Authorization', basic(ORDERS))
        .set('Cookie', device.cookie)
        .send(form({ token: device.token, token_type_hint: 'access_token' }));
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['set-cookie']).toBeUndefined();
      const claims = decodeJwt(device.token);
      expect(res.body).toEqual({
        active: true,
        token_type: 'Bearer',
        client_id: 'latchkey',
        sub: 'user-alice',
        sid: device.sid,
        jti: claims.jti,
        iss: ISSUER,
        aud: ISSUER,
        iat: claims.iat,
        exp: claims.exp,
      });
    });

    it('includes scope when the token carries one', async () => {
      const scoped = await startTestBff({
        resourceClients: RESOURCE_CLIENTS,
        authenticate: async () => ({ id: 'user-carol', name: 'Carol', scope: 'orders:read orders:write' }),
      });
      try {
        const device = await login(scoped.app);
        const res = await introspect(scoped.app, device.token);
        expect(res.body).toMatchObject({ active: true, sub: 'user-carol', scope: 'orders:read orders:write' });
      } finally {
        await scoped.close();
      }
    });

    it('answers { active: false } for an expired token, a token from the future and a forged one, as the guard refuses them', async () => {
      const device = await login(t.app);
      const expired = await issuedAt(t, device.sid, Date.now() - 600_000);
      const future = await issuedAt(t, device.sid, Date.now() + 600_000);
      const [header, payload, signature] = device.token.split('.') as [string, string, string];
      const otherSub = Buffer.from(JSON.stringify({ ...decodeJwt(device.token), sub: 'user-bob' })).toString('base64url');
      const { privateKey } = await generateKeyPair('ES256');
      const { kid } = t.bff.keyRing.activeKey();
      const ownKid = toLowS(await new SignJWT({ ...decodeJwt(device.token) }).setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' }).sign(privateKey));
      const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'at+jwt' })).toString('base64url')}.${payload}.`;
      for (const [name, token] of [
        ['expired', expired],
        ['issued in the future', future],
        ['payload swapped under the signature', `${header}.${otherSub}.${signature}`],
        ['signed by another key under our kid', ownKid],
        ['alg none', unsigned],
      ] as const) {
        const res = await introspect(t.app, token);
        expect({ name, status: res.status, body: res.body }).toEqual({ name, status: 200, body: { active: false } });
        expect({ name, guard: (await me(t.app, token)).status }).toEqual({ name, guard: 401 });
      }
    });

    it('answers { active: false } for garbage, never an error', async () => {
      for (const token of ['abc', 'a.b.c', '...', 'eyJ.eyJ.sig', '%00', 'x'.repeat(4097), 'ünïcødé']) {
        const res = await introspect(t.app, token);
        expect({ token: token.slice(0, 20), status: res.status, body: res.body }).toEqual({ token: token.slice(0, 20), status: 200, body: { active: false } });
      }
    });

    it.each([
      ['jti', async (t: TestBff, d: { token: string }) => void (await t.bff.admin.revokeAccessToken(decodeJwt(d.token) as { jti: string; exp: number }))],
      ['session (logout)', async (t: TestBff, d: { cookie: string }) => void (await call(t.app, 'post', '/auth/logout', { cookie: d.cookie }))],
      ['user (logout-all)', async (t: TestBff, d: { cookie: string }) => void (await call(t.app, 'post', '/auth/logout-all', { cookie: d.cookie }))],
    ] as const)('answers { active: false } once the token is revoked by %s', async (_kind, revokeIt) => {
      const device = await login(t.app);
      const bystander = await login(t.app, 'bob');
      expect((await introspect(t.app, device.token)).body.active).toBe(true);
      await revokeIt(t, device as never);
      await expect.poll(async () => (await introspect(t.app, device.token)).body, POLL).toEqual({ active: false });
      expect((await introspect(t.app, bystander.token)).body.active).toBe(true);
    });

    it('requires the token parameter: 400 invalid_request in the OAuth body', async () => {
      const bodies: Array<Record<string, string>> = [{}, { token: '' }, { token_type_hint: 'access_token' }];
      for (const body of bodies) {
        const res = await post(t.app, '/auth/introspect', body);
        expect(res.status).toBe(400);
        expect(res.body).toEqual({
          error: 'invalid_request',
          message: 'The token parameter is required.',
          error_description: 'The token parameter is required.',
        });
      }
    });

    it('refuses a repeated parameter (RFC 6749 §3.2)', async () => {
      const device = await login(t.app);
      const res = await request(t.app).post('/auth/introspect').type('form').set('Authorization', basic(ORDERS)).send(`token=${device.token}&token=abc`);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    });

    it('refuses an oversized body (413) and too many parameters (413) before parsing them', async () => {
      const big = await introspect(t.app, 'x'.repeat(64 * 1024));
      expect(big.status).toBe(413);
      expect(big.body).toMatchObject({ error: 'payload_too_large', error_description: expect.any(String) });
      const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`p${i}`, 'v']));
      const res = await post(t.app, '/auth/introspect', { token: 'abc', ...many });
      expect(res.status).toBe(413);
    });

    it('takes application/x-www-form-urlencoded in UTF-8 only: anything else is 415', async () => {
      const device = await login(t.app);
      for (const type of [
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded; charset=iso-8859-1',
        'not a type',
      ]) {
        const res = await request(t.app)
          .post('/auth/introspect')
          .set('Authorization', basic(ORDERS))
          .set('Content-Type', type)
          .send(form({ token: device.token }));
        expect({ type, status: res.status, error: res.body.error }).toEqual({ type, status: 415, error: 'unsupported_media_type' });
      }
      const json = await request(t.app).post('/auth/introspect').set('Authorization', basic(ORDERS)).send({ token: device.token });
      expect(json.status).toBe(415);
      const gzipped = await request(t.app)
        .post('/auth/introspect')
        .set('Authorization', basic(ORDERS))
        .type('form')
        .set('Content-Encoding', 'gzip')
        .send(gzipSync(form({ token: device.token })));
      expect(gzipped.status).toBe(415);
      expect(gzipped.body.error).toBe('unsupported_media_type');
      const utf8 = await request(t.app)
        .post('/auth/introspect')
        .set('Authorization', basic(ORDERS))
        .set('Content-Type', 'application/x-www-form-urlencoded; charset=UTF-8')
        .send(form({ token: device.token }));
      expect(utf8.body.active).toBe(true);
    });

    it('answers POST only', async () => {
      const res = await request(t.app).get('/auth/introspect').set('Authorization', basic(ORDERS));
      expect(res.status).toBe(404);
    });
  });

  describe('POST /auth/revoke', () => {
    it('revokes an access token: at once, introspection says inactive and the guard refuses it; other tokens go on', async () => {
      const device = await login(t.app);
      const other = await login(t.app, 'alice', 'Phone');
      const res = await revoke(t.app, device.token, { token_type_hint: 'access_token' });
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
      expect(res.headers['cache-control']).toBe('no-store');
      // The 200 waits until this instance's view has applied the revocation: no polling needed here.
      expect((await introspect(t.app, device.token)).body).toEqual({ active: false });
      expect((await me(t.app, device.token)).status).toBe(401);
      expect((await me(t.app, other.token)).status).toBe(200);
      expect((await introspect(t.app, other.token)).body.active).toBe(true);
      // Revoking it again is still 200.
      expect((await revoke(t.app, device.token)).status).toBe(200);
    });

    it('treats token_type_hint=refresh_token as a hint only: an access token is still found and revoked', async () => {
      const device = await login(t.app);
      const res = await revoke(t.app, device.token, { token_type_hint: 'refresh_token' });
      expect(res.status).toBe(200);
      expect((await introspect(t.app, device.token)).body).toEqual({ active: false });
    });

    it('answers 200 with an empty body for garbage, forged, expired and unknown tokens, and revokes nothing', async () => {
      const device = await login(t.app);
      const [header, , signature] = device.token.split('.') as [string, string, string];
      const forged = `${header}.${Buffer.from(JSON.stringify({ ...decodeJwt(device.token), jti: 'other' })).toString('base64url')}.${signature}`;
      for (const token of ['abc', 'a.b.c', forged, await issuedAt(t, device.sid, Date.now() - 600_000), 'x'.repeat(5000)]) {
        for (const hint of ['access_token', 'refresh_token', 'something_else']) {
          const res = await revoke(t.app, token, { token_type_hint: hint });
          expect({ status: res.status, text: res.text }).toEqual({ status: 200, text: '' });
        }
      }
      expect((await me(t.app, device.token)).status).toBe(200);
    });

    it('needs client authentication like introspection', async () => {
      const device = await login(t.app);
      const res = await post(t.app, '/auth/revoke', { token: device.token }, 'none');
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_client');
      expect((await me(t.app, device.token)).status).toBe(200);
      const posted = await post(t.app, '/auth/revoke', { token: device.token }, 'post');
      expect(posted.status).toBe(200);
      expect((await me(t.app, device.token)).status).toBe(401);
    });
  });

  describe('limits on client authentication', () => {
    /** A BFF behind a loopback proxy (the client IP from X-Forwarded-For), with these limits. */
    async function limitedBff(clientAuth: Record<'perIp' | 'perClient', { limit: number; windowMs: number }>) {
      await t.close();
      // These tests count limiter answers under 200 parallel requests; a limiter whose Redis call passes the default 1 s
      // command timeout lets the request through by design, so on a loaded host the store gets a generous timeout.
      const store =
        backend === 'redis'
          ? await RedisStore.connect({ url: redis.url, prefix: `introspect-limits-${Date.now()}-${Math.random()}:`, commandTimeoutMs: 10_000 })
          : await makeStore();
      t = await startTestBff({ resourceClients: RESOURCE_CLIENTS, rateLimit: { clientAuth } }, store);
      t.app.set('trust proxy', 'loopback');
    }
    const from = (ip: string, token: string, secret: string, id = ORDERS.id) =>
      post(t.app, '/auth/introspect', { token }, 'basic', { id, secret }).set('X-Forwarded-For', ip);
    const expectLimited = (res: request.Response) => {
      expect(res.status).toBe(429);
      expect(res.body).toMatchObject({ error: 'rate_limited', error_description: expect.any(String) });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['cache-control']).toBe('no-store');
    };

    it('per address: 200 parallel wrong secrets get at most rateLimit.clientAuth.perIp 401s, the rest 429; then the right secret is 429 too', async () => {
      await limitedBff({ perIp: { limit: 5, windowMs: 60_000 }, perClient: { limit: 1_000_000, windowMs: 60_000 } });
      const device = await login(t.app);
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => from('203.0.113.40', device.token, `wrong-secret-${i}`)));
      expect(results.filter((r) => r.status === 401)).toHaveLength(5);
      for (const res of results.filter((r) => r.status !== 401)) expectLimited(res);
      // Past the bound a right secret gets the same answer as a wrong one: nothing to tell them apart.
      expectLimited(await from('203.0.113.40', device.token, ORDERS.secret));
      expectLimited(await from('203.0.113.40', device.token, 'x', 'no-such-client')); // unknown ids count per address too
      // Another address (the client's own server) is not affected.
      expect((await from('203.0.113.41', device.token, ORDERS.secret)).body.active).toBe(true);
      expect(t.logLines.join('\n')).toContain('"limit":"client-auth-ip"');
    });

    it("per client id from many addresses: past rateLimit.clientAuth.perClient even its right secret is 429 from a new address; the client's own address goes on", async () => {
      await limitedBff({ perIp: { limit: 1000, windowMs: 60_000 }, perClient: { limit: 10, windowMs: 60_000 } });
      const device = await login(t.app);
      expect((await from('192.0.2.60', device.token, ORDERS.secret)).body.active).toBe(true); // its server, seen succeeding
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => from(`198.18.1.${i}`, device.token, `wrong-secret-${i}`)));
      expect(results.filter((r) => r.status === 401)).toHaveLength(10);
      for (const res of results.filter((r) => r.status !== 401)) expectLimited(res);
      expectLimited(await from('198.18.2.1', device.token, ORDERS.secret)); // a guesser's fresh address cannot tell
      expect((await from('192.0.2.60', device.token, ORDERS.secret)).body.active).toBe(true);
      // Other clients have counters of their own.
      expect((await from('198.18.2.2', device.token, HASHED.secret, HASHED.id)).body.active).toBe(true);
    });
  });

  describe('clients restricted to audiences and tenants', () => {
    const TENANTS: Record<string, string> = { alice: 'acme', bob: 'globex' };
    const ACME = { id: 'acme-api', secret: 'acme-api-secret-0123456789-abcdefghijkl', tenants: ['acme'], includeTenant: true };
    const ELSEWHERE = { id: 'elsewhere', secret: 'elsewhere-secret-0123456789-abcdefghijk', audiences: ['https://other.example'] };
    const OWN = { id: 'own-aud', secret: 'own-aud-secret-0123456789-abcdefghijklm', audiences: ['https://other.example', ISSUER] };
    beforeEach(async () => {
      await t.close();
      t = await startTestBff(
        {
          resourceClients: [ORDERS, ACME, ELSEWHERE, OWN],
          authenticate: async (username, password) => {
            const user = USERS[username];
            return user && user.password === password ? { id: user.id, name: user.name, tenant: TENANTS[username]! } : null;
          },
        },
        await makeStore(),
      );
    });

    it('a token outside the tenants introspects as { active: false }; inside, the answer carries tenant for includeTenant clients only', async () => {
      const alice = await login(t.app, 'alice');
      const bob = await login(t.app, 'bob');
      const acme = await introspect(t.app, alice.token, 'basic', ACME);
      expect(acme.body).toMatchObject({ active: true, sub: 'user-alice', tenant: 'acme' });
      expect((await introspect(t.app, bob.token, 'post', ACME)).body).toEqual({ active: false });
      // An unrestricted client without includeTenant: every tenant, no tenant field.
      const orders = await introspect(t.app, bob.token);
      expect(orders.body).toMatchObject({ active: true, sub: 'user-bob' });
      expect(orders.body).not.toHaveProperty('tenant');
    });

    it('a token outside the audiences introspects as { active: false }; one naming an allowed audience is active', async () => {
      const alice = await login(t.app);
      expect((await introspect(t.app, alice.token, 'basic', ELSEWHERE)).body).toEqual({ active: false });
      expect((await introspect(t.app, alice.token, 'basic', OWN)).body).toMatchObject({ active: true, aud: ISSUER });
    });

    it('revoking a token outside the client is a no-op 200 (RFC 7009 §2.2), logged; inside, it revokes', async () => {
      const alice = await login(t.app, 'alice');
      const bob = await login(t.app, 'bob');
      for (const [client, token] of [
        [ACME, bob.token],
        [ELSEWHERE, alice.token],
      ] as const) {
        const res = await post(t.app, '/auth/revoke', { token }, 'basic', client);
        expect(res.status).toBe(200);
        expect(res.text).toBe('');
      }
      expect((await introspect(t.app, bob.token)).body.active).toBe(true);
      expect((await introspect(t.app, alice.token)).body.active).toBe(true);
      expect(t.logLines.join('\n')).toContain('"event":"revoke_outside_client"');
      expect((await post(t.app, '/auth/revoke', { token: alice.token }, 'basic', ACME)).status).toBe(200);
      await expect.poll(async () => (await introspect(t.app, alice.token)).body.active, POLL).toBe(false);
    });

    it('validates the restrictions once, at startup', async () => {
      const base = { id: 'x', secret: 'x-secret-0123456789-abcdefghijklmnopqr' };
      for (const bad of [{ tenants: [] }, { tenants: ['acme\u0007'] }, { audiences: [] }, { audiences: [''] }, { includeTenant: 'yes' }]) {
        await expect(startTestBff({ resourceClients: [{ ...base, ...bad } as never] })).rejects.toThrow(/Invalid Latchkey BFF options: resourceClients\.0\./);
      }
    });
  });

  if (backend === 'redis') {
    it('fails closed while Redis does not answer: 503 with Retry-After for both routes, then recovers', async () => {
      const device = await login(t.app);
      expect((await introspect(t.app, device.token)).body.active).toBe(true);
      redis.pause();
      try {
        await expect.poll(async () => (await introspect(t.app, device.token)).status, { timeout: 5000, interval: 50 }).toBe(503);
        const res = await introspect(t.app, device.token);
        expect(res.headers['retry-after']).toBe('1');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.body).toMatchObject({ error: 'temporarily_unavailable', error_description: expect.any(String) });
        // A token that fails verification needs no store: still a plain { active: false }.
        const expired = await issuedAt(t, device.sid, Date.now() - 600_000);
        expect((await introspect(t.app, expired)).body).toEqual({ active: false });
        expect((await introspect(t.app, 'garbage')).body).toEqual({ active: false });
        const revoked = await revoke(t.app, device.token);
        expect(revoked.status).toBe(503);
        expect(revoked.headers['retry-after']).toBe('1');
      } finally {
        redis.resume();
      }
      await expect.poll(async () => (await introspect(t.app, device.token)).status, { timeout: 8000, interval: 50 }).toBe(200);
    });
  }
});

describe('without resourceClients', () => {
  let t: TestBff;
  beforeEach(async () => {
    t = await startTestBff();
  });
  afterEach(() => t.close());

  it('both routes answer 404, whatever the credentials', async () => {
    const device = await login(t.app);
    for (const path of ['/auth/introspect', '/auth/revoke'] as const) {
      const res = await post(t.app, path, { token: device.token });
      expect(res.status).toBe(404);
      expect(res.body.error).toBe('not_found');
    }
  });
});
