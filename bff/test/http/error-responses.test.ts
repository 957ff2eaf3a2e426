import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import * as zlib from 'node:zlib';
import { gzipSync } from 'node:zlib';
import express from 'express';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBff } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { StoreUnavailableError, type SessionStore } from '../../src/store/types.js';
import { call, ISSUER, login, me, SECRET, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await t?.close();
  t = undefined;
});

/** Every store method from now on fails as an unreachable Redis does; returns a function that brings it back. */
function takeStoreDown(store: SessionStore): () => void {
  const saved = new Map<string, unknown>();
  const target = store as unknown as Record<string, unknown>;
  for (let proto = Object.getPrototypeOf(store); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor' || name === 'close' || saved.has(name) || typeof target[name] !== 'function') continue;
      saved.set(name, Object.prototype.hasOwnProperty.call(store, name) ? target[name] : undefined);
      target[name] = () => Promise.reject(new StoreUnavailableError('store down (test)'));
    }
  }
  return () => {
    for (const [name, own] of saved) {
      if (own === undefined) delete target[name];
      else target[name] = own;
    }
  };
}

describe('every 503 carries Retry-After', () => {
  it('on every BFF route, the guard (fail-closed, and fail-open past its bound) and an admin call', async () => {
    t = await startTestBff();
    const app = t.app;
    const device = await login(app);
    // An application route that calls an admin operation: its StoreUnavailableError reaches bff.errorHandler.
    const revokeApp = express();
    revokeApp.post('/admin/revoke', (_req, res, next) => {
      t!.bff.admin.revokeUser('user-alice').then(() => res.status(204).end(), next);
    });
    revokeApp.use(t.bff.errorHandler);

    takeStoreDown(t.store);
    const answers = {
      'POST /auth/login': await call(app, 'post', '/auth/login', { body: { username: 'bob', password: 'builder' } }),
      'POST /auth/refresh': await call(app, 'post', '/auth/refresh', { cookie: device.cookie }),
      'POST /auth/logout': await call(app, 'post', '/auth/logout', { cookie: device.cookie }),
      'POST /auth/logout-all': await call(app, 'post', '/auth/logout-all', { cookie: device.cookie }),
      'GET /auth/sessions': await call(app, 'get', '/auth/sessions', { cookie: device.cookie }),
      'DELETE /auth/sessions/:id': await call(app, 'delete', `/auth/sessions/${device.sid}`, { cookie: device.cookie }),
      'POST /admin/revoke (app route)': await request(revokeApp).post('/admin/revoke'),
    };
    for (const [route, res] of Object.entries(answers)) {
      expect({ route, status: res.status, error: res.body.error }).toEqual({ route, status: 503, error: 'temporarily_unavailable' });
      expect({ route, retryAfter: res.headers['retry-after'] }).toEqual({ route, retryAfter: '1' });
    }

    // The guard fails closed once its view goes stale, and fail-open routes once past their bound.
    await expect.poll(async () => (await me(app, device.token)).status, { timeout: 5000, interval: 100 }).toBe(503);
    expect((await me(app, device.token)).headers['retry-after']).toBe('1');
    const open = () => request(app).get('/api/open').set('Authorization', `Bearer ${device.token}`);
    await expect.poll(async () => (await open()).status, { timeout: 8000, interval: 200 }).toBe(503);
    expect((await open()).headers['retry-after']).toBe('1');
  });

  it('and no other error does', async () => {
    t = await startTestBff();
    for (const res of [
      await call(t.app, 'post', '/auth/refresh'),
      await me(t.app, 'not-a-token'),
      await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'nope' } }),
    ]) {
      expect(res.status).toBeLessThan(500);
      expect(res.headers['retry-after']).toBeUndefined();
    }
  });
});

describe('bff.errorHandler handles only Latchkey errors', () => {
  it("passes the application's own 403, 404 and 409 (and its body parser's 400) on to the next error handler", async () => {
    t = await startTestBff();
    const app = express();
    const httpError = (status: number, message: string) => Object.assign(new Error(message), { status, expose: true });
    app.get('/forbidden', () => {
      throw httpError(403, 'not yours');
    });
    app.get('/missing', () => {
      throw httpError(404, 'no such order');
    });
    app.put('/conflict', () => {
      throw httpError(409, 'version conflict');
    });
    app.post('/orders', express.json(), (_req, res) => void res.json({ ok: true }));
    app.get('/api/me', t.bff.requireAuth(), (req, res) => void res.json({ sub: req.auth!.sub }));
    app.use(t.bff.errorHandler);
    app.use(((error, _req, res, _next) => {
      res.status(error.status ?? 500).json({ app: true, status: error.status, message: error.message });
    }) as express.ErrorRequestHandler);

    const forbidden = await request(app).get('/forbidden');
    expect([forbidden.status, forbidden.body]).toEqual([403, { app: true, status: 403, message: 'not yours' }]);
    const missing = await request(app).get('/missing');
    expect([missing.status, missing.body]).toEqual([404, { app: true, status: 404, message: 'no such order' }]);
    const conflict = await request(app).put('/conflict');
    expect([conflict.status, conflict.body]).toEqual([409, { app: true, status: 409, message: 'version conflict' }]);
    const badJson = await request(app).post('/orders').set('Content-Type', 'application/json').send('{"oops":');
    expect(badJson.status).toBe(400);
    expect(badJson.body.app).toBe(true);

    // Latchkey's own errors are still written by Latchkey.
    const unauthorized = await request(app).get('/api/me');
    expect([unauthorized.status, unauthorized.body]).toEqual([401, { error: 'invalid_token', message: 'The access token is invalid.' }]);
    expect(unauthorized.headers['www-authenticate']).toBe('Bearer');
  });

  it("still answers every error inside the BFF's router itself (malformed JSON, unknown routes)", async () => {
    t = await startTestBff();
    const badJson = await call(t.app, 'post', '/auth/login', { body: '{"username":', headers: { 'Content-Type': 'application/json' } });
    expect([badJson.status, badJson.body.error]).toEqual([400, 'invalid_request']);
    const unknown = await call(t.app, 'get', '/auth/nope');
    expect([unknown.status, unknown.body.error]).toEqual([404, 'not_found']);
  });
});

describe('origins.allowed in production', () => {
  const base = {
    secrets: [SECRET],
    tokens: { issuer: ISSUER },
    authenticate: async () => null,
  };

  it('createBff refuses to start without an explicit allow-list when NODE_ENV=production', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const store = new MemoryStore({ warnInProduction: false });
    await expect(createBff({ ...base, store })).rejects.toThrow(/origins\.allowed is required when NODE_ENV=production.*DNS-rebinding/);
    const bff = await createBff({ ...base, store, origins: { allowed: ['https://app.example.test'] } });
    await bff.close();
    await store.close();
  });

  it('with the allow-list, a DNS-rebinding request (Origin matching its own Host) is refused', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    t = await startTestBff({ origins: { allowed: ['https://app.example.test'] } }, new MemoryStore({ warnInProduction: false }));
    const rebound = await call(t.app, 'post', '/auth/login', {
      body: { username: 'alice', password: 'wonderland' },
      headers: { Host: 'evil.example', Origin: 'http://evil.example' },
    });
    expect([rebound.status, rebound.body.error]).toEqual([403, 'csrf_rejected']);
    const own = await call(t.app, 'post', '/auth/login', {
      body: { username: 'alice', password: 'wonderland' },
      headers: { Origin: 'https://app.example.test' },
    });
    expect(own.status).toBe(200);
  });
});

describe('content codings of JSON bodies', () => {
  it('the same on every Node: identity and gzip are read, zstd and unknown codings are 415 (Node 24 zlib decodes zstd)', async () => {
    t = await startTestBff();
    // A real listener and fetch: supertest re-serialises a Buffer sent with a JSON content type.
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const body = JSON.stringify({ username: 'alice', password: 'wonderland' });
    const post = async (encoding: string, payload: string | Buffer) => {
      const res = await fetch(`http://127.0.0.1:${port}/auth/login`, {
        method: 'POST',
        headers: { 'X-CSRF': '1', 'Content-Type': 'application/json', 'Content-Encoding': encoding },
        body: typeof payload === 'string' ? payload : new Uint8Array(payload),
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    try {
      expect((await post('identity', body)).status).toBe(200);
      expect(await post('gzip', gzipSync(body))).toEqual({ status: 200, body: expect.objectContaining({ tokenType: 'Bearer' }) });
      const zstd = (zlib as unknown as { zstdCompressSync?: (b: string) => Buffer }).zstdCompressSync;
      for (const [encoding, payload] of [
        ['zstd', zstd ? zstd(body) : body],
        ['compress', body],
        ['x-custom', body],
        ['gzip, br', body],
      ] as const) {
        expect({ encoding, ...(await post(encoding, payload)) }).toEqual({
          encoding,
          status: 415,
          body: { error: 'unsupported_media_type', message: expect.any(String) },
        });
      }
    } finally {
      server.close();
    }
  });
});
