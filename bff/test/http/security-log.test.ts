import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOGGER_REDACTION, REDACT_PATHS } from '../../src/observability/logger.js';
import { call, login, refresh, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff({
    rateLimit: { login: { perAccountAndIp: { limit: 2, windowMs: 60_000 } }, refresh: { perSession: { limit: 3, windowMs: 60_000 } } },
  });
  t.app.set('trust proxy', 'loopback');
});
afterEach(() => t.close());

const events = (name: string) => t.logLines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === name);
const IP = '203.0.113.77';
const from = { 'X-Forwarded-For': IP };

describe('security events are logged with the client IP and the user where known, never a secret', () => {
  it('failed logins and login 429s', async () => {
    for (let i = 0; i < 3; i++) await call(t.app, 'post', '/auth/login', { body: { username: 'Alice', password: 'secret-guess' }, headers: from });
    const failed = events('login_failed');
    expect(failed).toHaveLength(2);
    expect(failed[0]).toMatchObject({ level: 40, ip: IP, account: expect.stringMatching(/^[\w-]{16}$/) });
    // The account is a hash of the lower-cased username, the same for every spelling, so events of one account correlate.
    expect(new Set(failed.map((e) => e.account)).size).toBe(1);
    expect(events('rate_limited')).toEqual([
      expect.objectContaining({ level: 40, limit: 'login-account-ip', ip: IP, account: failed[0]!.account, retryAfter: expect.any(Number) }),
    ]);
    const log = t.logLines.join('\n');
    expect(log).not.toContain('secret-guess');
    expect(log).not.toMatch(/Alice/i);
  });

  it('refresh 429s', async () => {
    const device = await login(t.app);
    for (let i = 0; i < 3; i++) expect((await refresh(t.app, device)).status).toBe(200);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie, headers: from })).status).toBe(429);
    expect(events('rate_limited')).toEqual([expect.objectContaining({ limit: 'refresh-session', ip: IP })]);
  });

  it('CSRF rejections', async () => {
    await call(t.app, 'post', '/auth/logout', { csrf: false, headers: from });
    await call(t.app, 'post', '/auth/logout', { headers: { ...from, Origin: 'https://evil.example' } });
    expect(events('csrf_rejected')).toEqual([
      expect.objectContaining({ level: 40, ip: IP, reason: 'missing_header', path: '/logout' }),
      expect.objectContaining({ level: 40, ip: IP, reason: 'origin', origin: 'https://evil.example' }),
    ]);
  });

  it('theft on refresh', async () => {
    const device = await login(t.app, 'bob');
    const stolen = device.cookie;
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await call(t.app, 'post', '/auth/refresh', { cookie: stolen, headers: from })).status).toBe(401);
    expect(events('theft_detected')).toEqual([expect.objectContaining({ level: 40, route: 'refresh', ip: IP, userId: 'user-bob', sid: device.sid })]);
    expect(t.logLines.join('\n')).not.toContain(stolen.split('=')[1]!);
  });
});

describe("the default logger's redaction", () => {
  function capture() {
    const lines: string[] = [];
    const logger = pino({ level: 'info', ...LOGGER_REDACTION }, new Writable({ write: (chunk, _enc, done) => void (lines.push(String(chunk)), done()) }));
    return { logger, text: () => lines.join('\n') };
  }

  it('lists the request password and the capitalised header paths', () => {
    for (const path of [
      'req.body.password',
      'req.headers["Authorization"]',
      'req.headers["Cookie"]',
      'res.headers["Set-Cookie"]',
      'req.headers["authorization"]',
      'res.headers["set-cookie"]',
    ]) {
      expect(REDACT_PATHS).toContain(path);
    }
  });

  it('removes passwords and credential headers in any letter case, wherever an application logs them', () => {
    const { logger, text } = capture();
    const headers = {
      authorization: 'Bearer s3cr3t-lower',
      Authorization: 'Bearer s3cr3t-capital',
      AUTHORIZATION: 'Bearer s3cr3t-upper',
      aUtHoRiZaTiOn: 'Bearer s3cr3t-mixed',
      Cookie: '__Host-latchkey=s3cr3t-cookie',
      cOOKIE: '__Host-latchkey=s3cr3t-cookie-mixed',
      'Proxy-Authorization': 'Basic s3cr3t-proxy',
      accept: 'application/json',
    };
    logger.info({ req: { method: 'POST', url: '/auth/login', headers, body: { username: 'alice', password: 's3cr3t-password' } } }, 'request');
    logger.info({ res: { statusCode: 200, headers: { 'Set-Cookie': '__Host-latchkey=s3cr3t-set', 'SET-COOKIE': 's3cr3t-set-upper' } } }, 'response');
    logger.info({ headers }, 'bare headers');
    const out = text();
    expect(out).not.toMatch(/s3cr3t/);
    expect(out).toContain('application/json'); // the rest stays
    expect(out).toContain('"username":"alice"');
    expect(headers.Authorization).toBe('Bearer s3cr3t-capital'); // the logged object itself is not changed
  });
});
