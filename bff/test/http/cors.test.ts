import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { createBff } from '../../src/index.js';
import { call, login, startTestBff, ISSUER, SECRET, type TestBff } from '../helpers/harness.js';

const APP = 'https://app.example.com';
const OTHER_APP = 'https://admin.example.com';
const PREFLIGHT = { 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'x-csrf,content-type' };

/** Every Access-Control-* header of a response. */
const corsHeaders = (headers: Record<string, string>) => Object.keys(headers).filter((h) => h.startsWith('access-control-'));
const varies = (headers: Record<string, string>) => (headers.vary ?? '').split(',').map((v) => v.trim().toLowerCase());

describe('CORS on (origins.cors: true): exactly origins.allowed', () => {
  let t: TestBff;
  beforeAll(async () => {
    t = await startTestBff({ origins: { cors: true, allowed: [APP, OTHER_APP] } });
  });
  afterAll(() => t.close());

  it("answers a listed origin's preflight: its origin echoed, credentials, X-CSRF and Content-Type, the routes' methods, a bounded max-age", async () => {
    for (const path of ['/auth/refresh', '/auth/login', '/auth/sessions/abc']) {
      const res = await request(t.app).options(path).set('Origin', APP).set(PREFLIGHT);
      expect(res.status).toBe(204);
      expect(res.headers['access-control-allow-origin']).toBe(APP);
      expect(res.headers['access-control-allow-credentials']).toBe('true');
      expect(res.headers['access-control-allow-methods']!.split(',').sort()).toEqual(['DELETE', 'GET', 'POST']);
      expect(res.headers['access-control-allow-headers']!.toLowerCase().split(',').sort()).toEqual(['content-type', 'x-csrf']);
      expect(res.headers['access-control-max-age']).toBe('600');
      expect(varies(res.headers)).toContain('origin');
    }
    const other = await request(t.app).options('/auth/refresh').set('Origin', OTHER_APP).set(PREFLIGHT);
    expect(other.headers['access-control-allow-origin']).toBe(OTHER_APP);
  });

  it('lets a listed origin log in, read the answer and the Date header, and refresh with the cookie', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' }, headers: { Origin: APP } });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(res.headers['access-control-expose-headers']!.split(',')).toEqual(['Date', 'Retry-After']);
    expect(varies(res.headers)).toContain('origin');
    const cookie = (res.headers['set-cookie'] as unknown as string[])[0]!.split(';')[0]!;
    const refreshed = await call(t.app, 'post', '/auth/refresh', { cookie, headers: { Origin: APP } });
    expect(refreshed.status).toBe(200);
    expect(refreshed.headers['access-control-allow-origin']).toBe(APP);
  });

  it('carries the CORS headers on error answers too, so the page can read the error code', async () => {
    const res = await call(t.app, 'post', '/auth/refresh', { headers: { Origin: APP } });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('no_session');
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    const events = await request(t.app).get('/auth/events').set('Origin', APP);
    expect(events.status).toBe(401);
    expect(events.headers['access-control-allow-origin']).toBe(APP); // EventSource with credentials reads it
    expect(events.headers['access-control-allow-credentials']).toBe('true');
  });

  it.each([
    ['an unlisted origin', 'https://evil.example'],
    ['the same host on another scheme', 'http://app.example.com'],
    ['the same host on another port', 'https://app.example.com:8443'],
    ['a suffix trick', 'https://app.example.com.evil.example'],
    ['an opaque origin', 'null'],
  ])('refuses the preflight of %s: 403 csrf_rejected as JSON, no CORS header at all, Vary: Origin', async (_what, origin) => {
    const res = await request(t.app).options('/auth/refresh').set('Origin', origin).set(PREFLIGHT);
    expect(res.status).toBe(403);
    expect(corsHeaders(res.headers)).toEqual([]);
    expect(varies(res.headers)).toContain('origin');
    expect(res.body).toEqual({ error: 'csrf_rejected', message: `Origin ${origin} is not allowed; expected one of: ${APP}, ${OTHER_APP}.` });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
  });

  it("refuses an unlisted origin's request before it reaches a route, and echoes nothing", async () => {
    const device = await login(t.app);
    const res = await call(t.app, 'post', '/auth/logout', { cookie: device.cookie, headers: { Origin: 'https://evil.example' } });
    expect(res.status).toBe(403);
    expect(corsHeaders(res.headers)).toEqual([]);
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toContain(device.sid);
    const jwks = await request(t.app).get('/auth/jwks.json').set('Origin', 'https://evil.example');
    expect(jwks.status).toBe(200); // public, but not readable by that page's script
    expect(corsHeaders(jwks.headers)).toEqual([]);
    expect(varies(jwks.headers)).toContain('origin');
  });

  it('never answers with a wildcard', async () => {
    for (const origin of [APP, 'https://evil.example', undefined]) {
      let req = request(t.app).options('/auth/refresh').set(PREFLIGHT);
      if (origin) req = req.set('Origin', origin);
      const res = await req;
      expect(res.headers['access-control-allow-origin']).not.toBe('*');
    }
  });
});

describe('CORS off (the default)', () => {
  let t: TestBff;
  beforeAll(async () => {
    t = await startTestBff({ origins: { allowed: [APP] } });
  });
  afterAll(() => t.close());

  it('sends no CORS header, even to a listed origin, and says why its preflight fails', async () => {
    const preflight = await request(t.app).options('/auth/refresh').set('Origin', APP).set(PREFLIGHT);
    expect(preflight.status).toBe(403);
    expect(corsHeaders(preflight.headers)).toEqual([]);
    expect(preflight.body).toEqual({
      error: 'csrf_rejected',
      message: `A CORS preflight from ${APP}: pages on another origin need the BFF's origins.cors option.`,
    });
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' }, headers: { Origin: APP } });
    expect(res.status).toBe(200); // the Origin check passes: same-origin pages behind several hostnames work as before
    expect(corsHeaders(res.headers)).toEqual([]);
  });

  it('refuses origins.cors: true without origins.allowed, and unknown spellings', async () => {
    const base = { store: new MemoryStore(), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null };
    await expect(createBff({ ...base, origins: { cors: true } })).rejects.toThrow('origins.cors needs origins.allowed');
    await expect(createBff({ ...base, origins: { cors: 'yes' } } as never)).rejects.toThrow(/origins\.cors/);
    await expect(createBff({ ...base, cors: true } as never)).rejects.toThrow('unknown option "cors"');
    await expect(createBff({ ...base, corsOrigins: [APP] } as never)).rejects.toThrow('unknown option "corsOrigins"');
  });
});
