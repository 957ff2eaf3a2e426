import express from 'express';
import helmet from 'helmet';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { adminConsole, CONSOLE_CSP } from '@latchkey/admin-console';

const appWith = (mount: express.RequestHandler, before?: express.RequestHandler) => {
  const app = express();
  if (before) app.use(before);
  app.use('/ops/console', mount);
  return app;
};

describe('adminConsole()', () => {
  it('tells the page where the BFF and the admin router are (config.json, never cached)', async () => {
    const app = appWith(adminConsole({ bffPath: '/auth/', adminPath: '/internal/admin', feedIntervalMs: 5000 }));
    const res = await request(app).get('/ops/console/config.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ bffUrl: '/auth', adminUrl: '/internal/admin', feedIntervalMs: 5000 });
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await request(appWith(adminConsole())).get('/ops/console/config.json')).body).toEqual({
      bffUrl: '/auth',
      adminUrl: '/admin',
      feedIntervalMs: 3000,
    });
  });

  it('redirects the mount path to its trailing slash (the page uses relative URLs), keeping the query', async () => {
    const app = appWith(adminConsole());
    const res = await request(app).get('/ops/console?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/ops/console/?x=1');
  });

  it('sends its own strict CSP when the application sets none, and keeps the application’s when it does', async () => {
    const bare = await request(appWith(adminConsole())).get('/ops/console/config.json');
    expect(bare.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(bare.headers['x-content-type-options']).toBe('nosniff');
    expect(bare.headers['referrer-policy']).toBe('no-referrer');
    expect(bare.headers['x-frame-options']).toBe('DENY');

    const own = helmet({ contentSecurityPolicy: { useDefaults: false, directives: { 'default-src': ["'none'"] } } });
    const withApps = await request(appWith(adminConsole(), own)).get('/ops/console/config.json');
    expect(withApps.headers['content-security-policy']).toBe("default-src 'none'");
  });

  it('refuses options that would send the token elsewhere, and unknown ones', () => {
    for (const adminPath of ['https://evil.example/admin', '//evil.example/admin', 'admin', '/admin?x=1', '/a/../b', '/a/..']) {
      expect(() => adminConsole({ adminPath })).toThrow(
        new TypeError('adminConsole: adminPath must be a path on this origin such as "/admin" (no scheme, host, query or "..")'),
      );
    }
    expect(() => adminConsole({ bffPath: 'http://x/auth' })).toThrow(/bffPath must be a path on this origin/);
    expect(() => adminConsole({ feedIntervalMs: 10 })).toThrow('adminConsole: feedIntervalMs must be a whole number of milliseconds from 1000 to 60000');
    expect(() => adminConsole({ adminUrl: '/admin' } as never)).toThrow('adminConsole: unknown option adminUrl');
  });
});
