import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDemoApp, type DemoApp } from '../src/app.js';
import { demoAllowedOrigins, readDemoConfig } from '../src/config.js';

const PORT = 4321;
const SECRET = 'demo-security-test-secret-0123456789-abcdef';
let demo: DemoApp | undefined;

async function startDemo(env: Record<string, string> = {}): Promise<DemoApp> {
  demo = await createDemoApp({ ...readDemoConfig({ LATCHKEY_SECRET: SECRET, PORT: String(PORT), ...env }), port: PORT }, pino({ level: 'silent' }));
  return demo;
}

afterEach(async () => {
  vi.unstubAllEnvs();
  await demo?.close();
  demo = undefined;
});

async function signIn(app: DemoApp['app']): Promise<string> {
  const res = await request(app)
    .post('/auth/login')
    .set('X-CSRF', '1')
    .set('Origin', `http://localhost:${PORT}`)
    .send({ username: 'alice', password: 'wonderland' });
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

describe('demo security headers', () => {
  it('sends a CSP, nosniff, no-referrer and no framing on the page, the API and the BFF', async () => {
    const { app } = await startDemo();
    const token = await signIn(app);
    for (const res of [
      await request(app).get('/'),
      await request(app).get('/api/me').set('Authorization', `Bearer ${token}`),
      await request(app).get('/api/public'),
      await request(app).get('/auth/jwks.json'),
    ]) {
      const csp = String(res.headers['content-security-policy']);
      for (const directive of ["default-src 'self'", "script-src 'self'", "base-uri 'none'", "frame-ancestors 'none'", "object-src 'none'"]) {
        expect(csp).toContain(directive);
      }
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-powered-by']).toBeUndefined();
    }
  });
});

describe("the operators' console", () => {
  it('is served at /admin-console with exactly the CSP of the page at /, and knows where the BFF and the admin router are', async () => {
    const { app } = await startDemo();
    const page = await request(app).get('/');
    const config = await request(app).get('/admin-console/config.json');
    expect(config.body).toEqual({ bffUrl: '/auth', adminUrl: '/admin', feedIntervalMs: 3000 });
    for (const res of [config, await request(app).get('/admin-console')]) {
      expect(res.headers['content-security-policy']).toBe(page.headers['content-security-policy']);
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });
});

describe('demo /metrics', () => {
  it('is closed by default: without LATCHKEY_METRICS_TOKEN the demo makes a token of its own (401 without it)', async () => {
    const config = readDemoConfig({ PORT: '0' });
    expect(config.metricsTokenIsGenerated).toBe(true);
    expect(config.metricsToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(readDemoConfig({ PORT: '0' }).metricsToken).not.toBe(config.metricsToken);
    const { app } = await startDemo();
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
    expect(res.text).not.toContain('latchkey_');
  });

  it('opens only with LATCHKEY_DANGEROUSLY_OPEN_METRICS=true, which refuses a token beside it', async () => {
    expect(readDemoConfig({ PORT: '0', LATCHKEY_DANGEROUSLY_OPEN_METRICS: 'true' })).toMatchObject({ metricsToken: null, metricsTokenIsGenerated: false });
    expect(() => readDemoConfig({ LATCHKEY_DANGEROUSLY_OPEN_METRICS: 'true', LATCHKEY_METRICS_TOKEN: 'metrics-token-0123456789abcdef' })).toThrow(
      /do not also set LATCHKEY_METRICS_TOKEN/,
    );
    expect(() => readDemoConfig({ LATCHKEY_DANGEROUSLY_OPEN_METRICS: 'yes' })).toThrow(/LATCHKEY_DANGEROUSLY_OPEN_METRICS/);
    const { app } = await startDemo({ LATCHKEY_DANGEROUSLY_OPEN_METRICS: 'true' });
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.text).toContain('latchkey_');
  });

  it('wants the bearer token with LATCHKEY_METRICS_TOKEN (scheme in any case), and 401 otherwise', async () => {
    const metricsToken = 'metrics-token-0123456789abcdef';
    const { app } = await startDemo({ LATCHKEY_METRICS_TOKEN: metricsToken });
    for (const authorization of [undefined, 'Bearer wrong', `Bearer ${metricsToken}x`, `Basic ${metricsToken}`, `Bearer ${metricsToken.slice(0, -1)}`]) {
      const req = request(app).get('/metrics');
      const res = await (authorization ? req.set('Authorization', authorization) : req);
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer realm="metrics"');
      expect(res.text).not.toContain('latchkey_');
    }
    for (const scheme of ['Bearer', 'bearer']) {
      const res = await request(app).get('/metrics').set('Authorization', `${scheme} ${metricsToken}`);
      expect(res.status).toBe(200);
      expect(res.text).toContain('latchkey_');
    }
  });
});

describe('demo Origin allow-list', () => {
  it('is derived explicitly from the issuer and the port, plus LATCHKEY_ALLOWED_ORIGINS', () => {
    expect(demoAllowedOrigins({ issuer: undefined, allowedOrigins: undefined, port: 3000 })).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
    expect(demoAllowedOrigins({ issuer: 'https://demo.example/x', allowedOrigins: ['http://localhost:5173/'], port: 3001 })).toEqual([
      'https://demo.example',
      'http://localhost:3001',
      'http://127.0.0.1:3001',
      'http://localhost:5173',
    ]);
  });

  it('starts with NODE_ENV=production and refuses a DNS-rebinding origin (Origin matching its own Host)', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const { app } = await startDemo();
    const rebound = await request(app)
      .post('/auth/login')
      .set('X-CSRF', '1')
      .set('Host', 'rebound.example')
      .set('Origin', 'http://rebound.example')
      .send({ username: 'alice', password: 'wonderland' });
    expect([rebound.status, rebound.body.error]).toEqual([403, 'csrf_rejected']);
    await signIn(app);
  });
});
