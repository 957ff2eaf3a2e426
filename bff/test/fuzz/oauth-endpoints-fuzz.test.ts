/**
 * Fuzzing POST /auth/introspect and POST /auth/revoke with fast-check: hostile form bodies, content types, Basic
 * headers and client credentials, with and without the real client secret and a real token.
 *
 * For every request: never a 5xx; every 4xx is `{ error, message, error_description }` with a code from ERROR_CODES;
 * a 200 from introspection is `{ active: false }` unless the token is the real one and the unrestricted client
 * authenticated (a client restricted to another tenant never sees it); a 200 from revocation has an empty body; a 429
 * (client authentication over its limit) says when to retry; no client secret or token in any answer or log line;
 * `no-store` always. Across requests: the real device's token stays valid (nothing the fuzz sends revokes it: it never
 * pairs the real token with the unrestricted client's credentials on /revoke, and the restricted client's revocation
 * of a token outside its tenants is a no-op).
 */
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../shared/src/index.js';
import { login, me, startTestBff, type Device, type TestBff } from '../helpers/harness.js';

const CLIENT = { id: 'orders-api', secret: 'orders-api-secret-0123456789-abcdefghij' };
/** Restricted to a tenant the real token (no tenant) is not in. */
const OTHER = { id: 'globex-api', secret: 'globex-api-secret-0123456789-abcdefghij', tenants: ['globex'] };
const PROPERTY_TIMEOUT_MS = 60_000;

const formEncode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
const basicOf = (id: string, secret: string) => `Basic ${Buffer.from(`${formEncode(id)}:${formEncode(secret)}`).toString('base64')}`;

let t: TestBff;
let device: Device;
beforeAll(async () => {
  // Past 150 failures from the fuzz's one address, every request is 429: both sides of the limit get explored.
  t = await startTestBff({ resourceClients: [CLIENT, OTHER], rateLimit: { clientAuth: { perIp: { limit: 150, windowMs: 600_000 } } } });
  device = await login(t.app);
});
afterAll(() => t?.close());

/** What the fuzz sends: each part drawn from valid, nearly valid and hostile values. */
const token = () =>
  fc.oneof(
    fc.constant('REAL'),
    fc.string({ maxLength: 200 }),
    fc.stringMatching(/^[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}\.[A-Za-z0-9_-]{0,40}$/),
    fc.constant('x'.repeat(9000)),
  );
const credentials = () =>
  fc.oneof(
    fc.constant<'none'>('none'),
    fc.record({
      kind: fc.constantFrom('basic', 'post'),
      id: fc.oneof(fc.constant(CLIENT.id), fc.constant(OTHER.id), fc.string({ maxLength: 30 })),
      secret: fc.oneof(fc.constant(CLIENT.secret), fc.constant(OTHER.secret), fc.string({ maxLength: 60 })),
    }),
    fc.record({
      kind: fc.constant('header'),
      value: fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.string({ maxLength: 60 }).map((s) => `Basic ${s}`),
      ),
    }),
  );
const contentType = () =>
  fc.oneof(
    fc.constant('application/x-www-form-urlencoded'),
    fc.constant('application/x-www-form-urlencoded; charset=utf-8'),
    fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded; charset=utf-7', ''),
    fc.string({ maxLength: 40 }),
  );
const extraParams = () => fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 30 })), { maxLength: 20 });

describe('fuzz: OAuth endpoints', () => {
  it(
    'answer every request within the invariants and never revoke the real token by accident',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('/auth/introspect', '/auth/revoke'),
          token(),
          fc.option(fc.string({ maxLength: 20 })),
          credentials(),
          contentType(),
          extraParams(),
          fc.boolean(),
          async (path, tokenChoice, hint, creds, type, extra, rawBody) => {
            const realToken = tokenChoice === 'REAL';
            const validClient =
              creds !== 'none' && (creds.kind === 'basic' || creds.kind === 'post') && creds.id === CLIENT.id && creds.secret === CLIENT.secret;
            // The one combination that would revoke the real token on purpose is not fuzzed.
            if (path === '/auth/revoke' && realToken && validClient) return;
            const params: Array<[string, string]> = [['token', realToken ? device.token : tokenChoice]];
            if (hint !== null) params.push(['token_type_hint', hint]);
            if (creds !== 'none' && creds.kind === 'post') params.push(['client_id', creds.id], ['client_secret', creds.secret]);
            params.push(...extra);
            const body = rawBody ? params.map(([k, v]) => `${k}=${v}`).join('&') : params.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join('&');
            let req = request(t.app).post(path);
            if (type !== '') req = req.set('Content-Type', type);
            if (creds !== 'none' && creds.kind === 'basic') req = req.set('Authorization', basicOf(creds.id, creds.secret));
            if (creds !== 'none' && creds.kind === 'header') req = req.set('Authorization', creds.value.replace(/[\r\n\0]/g, ''));
            const res = await req.send(body);

            const where = `${path} -> ${res.status} ${res.text.slice(0, 200)}`;
            expect(res.status, where).toBeLessThan(500);
            expect(res.headers['cache-control'], where).toBe('no-store');
            for (const secret of [CLIENT.secret, OTHER.secret, device.token])
              expect(`${res.text}${JSON.stringify(res.headers)}`.includes(secret), where).toBe(false);
            if (res.status >= 400) {
              expect(Object.keys(res.body as object).sort(), where).toEqual(['error', 'error_description', 'message']);
              expect(ERROR_CODES as readonly unknown[], where).toContain(res.body.error);
            } else if (path === '/auth/revoke') {
              expect(res.text, where).toBe('');
            } else if (!realToken || !validClient) {
              expect(res.body, where).toEqual({ active: false });
            }
            if (res.status === 429) expect(Number(res.headers['retry-after']), where).toBeGreaterThan(0);
            if (res.status === 401) expect(res.headers['www-authenticate'], where).toMatch(/^Basic /);
          },
        ),
        { numRuns: 300 },
      );
      expect((await me(t.app, device.token)).status).toBe(200);
      const log = t.logLines.join('\n');
      expect(log.includes(CLIENT.secret)).toBe(false);
      expect(log.includes(OTHER.secret)).toBe(false);
      expect(log.includes(device.token)).toBe(false);
    },
    PROPERTY_TIMEOUT_MS,
  );
});
