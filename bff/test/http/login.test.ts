import { once } from 'node:events';
import { connect, type AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { call, login, rawSetCookie, refresh, sessionCookie, startTestBff, ISSUER, type TestBff } from '../helpers/harness.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

describe('POST /auth/login', () => {
  it('answers the token response and sets a __Host-, HttpOnly, Secure, SameSite=Strict cookie', async () => {
    const before = Date.now();
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland', deviceName: 'Laptop' } });
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({
      tokenType: 'Bearer',
      user: { id: 'user-alice', name: 'Alice' },
      session: { deviceName: 'Laptop' },
    });
    expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresAt', 'session', 'tokenType', 'user']);
    expect(res.body.expiresAt).toBeGreaterThanOrEqual(before + 299_000);
    expect(res.body.expiresAt).toBeLessThanOrEqual(Date.now() + 300_000);

    const setCookie = rawSetCookie(res);
    expect(setCookie).toMatch(/^__Host-latchkey=/);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; Secure/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\//);
    expect(setCookie).not.toMatch(/Domain=/i);
    // The cookie value reveals neither the public session id nor anything JavaScript sees.
    expect(setCookie).not.toContain(res.body.session.id);
    expect(setCookie).not.toContain(res.body.accessToken);
    // Then the device cookie (docs/security.md, "Known devices"): as locked down, naming no account.
    const device = (res.headers['set-cookie'] as unknown as string[]).find((l) => l.startsWith('__Host-latchkey-device='))!;
    expect(device).toMatch(/^__Host-latchkey-device=d1\.[\w-]{22}\.[\w-]{43}; Max-Age=15552000; Path=\/; HttpOnly; Secure; SameSite=Strict$/);
    expect(device).not.toMatch(/alice/i);
  });

  it('issues an RFC 9068 access token with minimal claims', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
    const header = decodeProtectedHeader(res.body.accessToken);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(typeof header.kid).toBe('string');
    const claims = decodeJwt(res.body.accessToken);
    // RFC 9068 section 2.2.1: when and how the user authenticated (step-up, RFC 9470), no personal data.
    expect(Object.keys(claims).sort()).toEqual(['amr', 'aud', 'auth_time', 'client_id', 'exp', 'iat', 'iss', 'jti', 'sid', 'sub']);
    expect(claims).toMatchObject({ amr: ['pwd'], auth_time: claims.iat });
    expect(claims).toMatchObject({ iss: ISSUER, aud: ISSUER, sub: 'user-alice', sid: res.body.session.id, client_id: 'latchkey' });
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it('gives the same answer for an unknown user and a wrong password', async () => {
    const wrong = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'nope' } });
    const unknown = await call(t.app, 'post', '/auth/login', { body: { username: 'mallory', password: 'nope' } });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_credentials', message: 'Wrong username or password.' });
      expect(sessionCookie(res)).toBeNull();
    }
  });

  it.each([
    ['missing password', { username: 'alice' }],
    ['empty username', { username: '', password: 'x' }],
    ['wrong types', { username: 42, password: ['x'] }],
    ['unknown field', { username: 'alice', password: 'wonderland', admin: true }],
    ['array body', ['alice', 'wonderland']],
    ['oversized device name', { username: 'alice', password: 'wonderland', deviceName: 'x'.repeat(101) }],
  ])('rejects a malformed body (%s) with 400 invalid_request', async (_name, body) => {
    const res = await call(t.app, 'post', '/auth/login', { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
    expect(sessionCookie(res)).toBeNull();
    expect(await t.store.listUserSessions('user-alice', Date.now())).toEqual([]);
  });

  it('rejects invalid JSON with 400 and no stack trace', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: '{"username": "alice",', headers: { 'Content-Type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: 'The request body is not valid JSON.' });
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts)/);
  });

  it('rejects a form-encoded body with 415', async () => {
    const res = await call(t.app, 'post', '/auth/login', {
      body: 'username=alice&password=wonderland',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).toBe(415);
    expect(res.body.error).toBe('unsupported_media_type');
  });

  it('rejects a text/plain body (the no-preflight CSRF content type) with 415', async () => {
    const res = await call(t.app, 'post', '/auth/login', {
      body: JSON.stringify({ username: 'alice', password: 'wonderland' }),
      headers: { 'Content-Type': 'text/plain' },
    });
    expect(res.status).toBe(415);
  });

  it('accepts JSON in UTF-8 only: utf-7, utf-16 and latin1 bodies get 415 and change nothing', async () => {
    const body = JSON.stringify({ username: 'alice', password: 'wonderland' });
    for (const charset of ['utf-7', 'UTF-16', 'utf-16le', 'latin1', '"utf-32"']) {
      const res = await call(t.app, 'post', '/auth/login', { body, headers: { 'Content-Type': `application/json; charset=${charset}` } });
      expect(res.status, charset).toBe(415);
      expect(res.body).toMatchObject({ error: 'unsupported_media_type' });
      expect(sessionCookie(res)).toBeNull();
    }
    expect(await t.store.listUserSessions('user-alice', Date.now())).toEqual([]);
    for (const charset of ['utf-8', 'UTF-8', '"utf-8"']) {
      const res = await call(t.app, 'post', '/auth/login', { body, headers: { 'Content-Type': `application/json; charset=${charset}` } });
      expect(res.status, charset).toBe(200);
    }
  });

  it('reads Content-Type as the JSON decoder does: a charset= quoted inside another parameter neither hides nor fakes one', async () => {
    const body = JSON.stringify({ username: 'alice', password: 'wonderland' });
    const refused = [
      // The UTF-7 bypass: a quoted "; charset=utf-8" inside foo, then the real charset, which body-parser would decode.
      'application/json; foo="; charset=utf-8"; charset=utf-7',
      'application/json; foo="x;charset=utf-8";charset=utf-16le',
      'application/json; foo="\\"; charset=utf-8"; charset=latin1',
      'application/json; charset="utf\\-7"',
      'application/json, text/plain; charset=utf-8',
      'application/json; charset=',
    ];
    for (const contentType of refused) {
      const res = await call(t.app, 'post', '/auth/login', { body, headers: { 'Content-Type': contentType } });
      expect(res.status, contentType).toBe(415);
      expect(res.body, contentType).toMatchObject({ error: 'unsupported_media_type' });
      expect(sessionCookie(res), contentType).toBeNull();
    }
    expect(await t.store.listUserSessions('user-alice', Date.now())).toEqual([]);
    const accepted = [
      'application/json ; charset=utf-8',
      'Application/JSON; Charset="UTF-8"',
      // Only a quoted value mentions utf-7: the charset is the default, UTF-8.
      'application/json; foo="; charset=utf-7"',
      'application/json; charset=utf-8; foo="; charset=utf-7"',
    ];
    for (const contentType of accepted) {
      const res = await call(t.app, 'post', '/auth/login', { body, headers: { 'Content-Type': contentType } });
      expect(res.status, contentType).toBe(200);
    }
  });

  it('rejects an oversized body with 413 before parsing', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'x'.repeat(20_000) } });
    expect(res.status).toBe(413);
    expect(res.body.error).toBe('payload_too_large');
  });

  it('issues a fresh cookie on every login and ends the session the browser had (no fixation)', async () => {
    const first = await login(t.app);
    const res = await call(t.app, 'post', '/auth/login', { cookie: first.cookie, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect(sessionCookie(res)).not.toBe(first.cookie);
    expect(res.body.session.id).not.toBe(first.sid);
    const sessions = await t.store.listUserSessions('user-alice', Date.now());
    expect(sessions.map((s) => s.sid)).toEqual([res.body.session.id]);
  });

  it('never logs the password, the token or the cookie', async () => {
    const device = await login(t.app);
    await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'not-the-password' } });
    await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    const log = t.logLines.join('\n');
    expect(t.logLines.length).toBeGreaterThan(0);
    expect(log).not.toContain('wonderland');
    expect(log).not.toContain('not-the-password');
    expect(log).not.toContain(device.token);
    expect(log).not.toContain(device.cookie.split('=')[1]!);
  });
});

describe('login with the cookie of an earlier session', () => {
  const thefts = () => t.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === 'theft_detected');

  it("a superseded cookie of the user's own session does not quietly end it: it is theft, as on refresh, and logged", async () => {
    const device = await login(t.app);
    const stolen = device.cookie;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await refresh(t.app, device)).status).toBe(200);
    const res = await call(t.app, 'post', '/auth/login', { cookie: stolen, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    // The session that cookie belonged to was revoked for theft, not signed out: its holder learns why.
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie })).body.error).toBe('reuse_detected');
    expect(thefts()).toEqual([expect.objectContaining({ route: 'login', userId: 'user-alice', sid: device.sid, ip: expect.any(String) })]);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_theft_detections_total')).toMatch(/ 1$/m);
  });

  it("another user's superseded cookie: that user's session is revoked for theft and logged with their id; the login works", async () => {
    const bob = await login(t.app, 'bob');
    const old = bob.cookie;
    expect((await refresh(t.app, bob)).status).toBe(200);
    expect((await refresh(t.app, bob)).status).toBe(200);
    const res = await call(t.app, 'post', '/auth/login', { cookie: old, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect(res.body.user.id).toBe('user-alice');
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: bob.cookie })).body.error).toBe('reuse_detected');
    expect(thefts()).toEqual([expect.objectContaining({ route: 'login', userId: 'user-bob', sid: bob.sid })]);
  });

  it("another user's current cookie: the browser switches accounts, so that session ends as a logout (no theft)", async () => {
    const bob = await login(t.app, 'bob');
    const res = await call(t.app, 'post', '/auth/login', { cookie: bob.cookie, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: bob.cookie })).body.error).toBe('no_session');
    expect(thefts()).toEqual([]);
  });

  it('the previous cookie within the grace window, successor unused (a tab behind by one refresh), ends the session without an alarm', async () => {
    const device = await login(t.app);
    const behind = device.cookie;
    expect((await refresh(t.app, device)).status).toBe(200);
    const res = await call(t.app, 'post', '/auth/login', { cookie: behind, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie })).body.error).toBe('no_session');
    expect(thefts()).toEqual([]);
    expect((await t.store.listUserSessions('user-alice', Date.now())).map((s) => s.sid)).toEqual([res.body.session.id]);
  });

  it('the previous cookie once its successor was used is theft (the grace window covers only an unused successor)', async () => {
    const device = await login(t.app);
    const behind = device.cookie;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await refresh(t.app, device)).status).toBe(200); // uses the successor of `behind`
    const res = await call(t.app, 'post', '/auth/login', { cookie: behind, body: { username: 'alice', password: 'wonderland' } });
    expect(res.status).toBe(200);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie })).body.error).toBe('reuse_detected');
    expect(thefts()).toHaveLength(1);
  });
});

describe('device names and user agents', () => {
  const controls = '\u202E\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069\u200B\u200C\u200D\uFEFF\u0000\u001B\u007F\u0085\u00AD\u2028';

  it('drop control and invisible format characters (bidi overrides, zero-width) before they are stored or listed', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland', deviceName: `Lap${controls}top\u202Eexe.txt` } });
    expect(res.status).toBe(200);
    expect(res.body.session.deviceName).toBe('Laptopexe.txt');
    const listed = await call(t.app, 'get', '/auth/sessions', { cookie: sessionCookie(res) });
    expect(listed.body.sessions[0]).toMatchObject({ deviceName: 'Laptopexe.txt' });
  });

  it('drop C1 controls and soft hyphens from the stored user agent (header bytes are read as latin1)', async () => {
    const server = t.app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const body = JSON.stringify({ username: 'bob', password: 'builder' });
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
      socket.write(
        Buffer.concat([
          Buffer.from(
            `POST /auth/login HTTP/1.1\r\nHost: localhost\r\nX-CSRF: 1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)`,
          ),
          Buffer.from([0x9b, 0x32, 0x4a, 0x20, 0x85, 0xad]), // CSI "2J", NEL, soft hyphen
          Buffer.from(`Chrome/140.0\r\n\r\n${body}`),
        ]),
      );
      const answer = (await socket.toArray()).join('');
      expect(answer).toMatch(/^HTTP\/1\.1 200/);
    } finally {
      server.close();
    }
    const [session] = await t.store.listUserSessions('user-bob', Date.now());
    expect(session!.userAgent).toBe('Mozilla/5.0 (X11; Linux x86_64)2J Chrome/140.0');
    expect(session!.deviceName).toBe('Chrome on Linux');
  });

  it('a device name made only of such characters is refused with 400', async () => {
    const res = await call(t.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland', deviceName: '\u202E\u200B \uFEFF' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_request');
  });
});

describe('login rate limits', () => {
  it('limits failed attempts per account with 429 and Retry-After, the same for a good password', async () => {
    const limited = await startTestBff({ rateLimit: { login: { perAccount: { limit: 3, windowMs: 60_000 }, perIp: { limit: 100, windowMs: 60_000 } } } });
    try {
      for (let i = 0; i < 3; i++) {
        const res = await call(limited.app, 'post', '/auth/login', { body: { username: 'alice', password: 'bad' } });
        expect(res.status).toBe(401);
      }
      const res = await call(limited.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: 'rate_limited', message: 'Too many attempts. Try again later.' });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      // Another account is not affected.
      const bob = await call(limited.app, 'post', '/auth/login', { body: { username: 'bob', password: 'builder' } });
      expect(bob.status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('stops a guesser at one IP without locking the owner out, and caps guessing from many IPs per account', async () => {
    const limited = await startTestBff({
      rateLimit: {
        login: { perAccountAndIp: { limit: 3, windowMs: 60_000 }, perAccount: { limit: 6, windowMs: 60_000 }, perIp: { limit: 100, windowMs: 60_000 } },
      },
    });
    limited.app.set('trust proxy', 'loopback'); // the client IP comes from X-Forwarded-For
    const from = (ip: string, password: string) =>
      call(limited.app, 'post', '/auth/login', { body: { username: 'alice', password }, headers: { 'X-Forwarded-For': ip } });
    try {
      for (let i = 0; i < 3; i++) expect((await from('203.0.113.7', 'bad')).status).toBe(401);
      // The guesser's IP is refused, even with the right password...
      const guesser = await from('203.0.113.7', 'wonderland');
      expect(guesser.status).toBe(429);
      expect(Number(guesser.headers['retry-after'])).toBeGreaterThan(0);
      // ...while the owner, elsewhere, still signs in.
      expect((await from('198.51.100.20', 'wonderland')).status).toBe(200);
      // Guessing spread over many IPs reaches the account-wide ceiling (6 failures): then every IP waits.
      for (const ip of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) expect((await from(ip, 'bad')).status).toBe(401);
      expect((await from('198.51.100.20', 'wonderland')).status).toBe(429);
    } finally {
      await limited.close();
    }
  });

  it('never limits concurrent correct logins to one account (only failures count)', async () => {
    const limited = await startTestBff({ rateLimit: { login: { perAccount: { limit: 2, windowMs: 60_000 }, perIp: { limit: 100, windowMs: 60_000 } } } });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, () => call(limited.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    } finally {
      await limited.close();
    }
  });

  it('limits every attempt per IP', async () => {
    const limited = await startTestBff({ rateLimit: { login: { perAccount: { limit: 100, windowMs: 60_000 }, perIp: { limit: 2, windowMs: 60_000 } } } });
    try {
      await call(limited.app, 'post', '/auth/login', { body: { username: 'alice', password: 'wonderland' } });
      await call(limited.app, 'post', '/auth/login', { body: { username: 'bob', password: 'bad' } });
      const res = await call(limited.app, 'post', '/auth/login', { body: { username: 'bob', password: 'builder' } });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBeDefined();
    } finally {
      await limited.close();
    }
  });
});
