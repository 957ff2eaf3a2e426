/**
 * Building blocks for the HTTP fuzz tests: arbitraries for hostile requests (bodies, content types, headers,
 * cookies, bearer tokens, path ids), a raw sender on supertest, and the invariants every answer must satisfy.
 */
import { createServer, type Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import { parse as parseCookieHeader } from 'cookie';
import signature from 'cookie-signature';
import type { Express } from 'express';
import fc from 'fast-check';
import request, { type Response } from 'supertest';
import { expect } from 'vitest';
import { ERROR_CODES } from '../../../shared/src/index.js';
import { SECRET, USERS, type Device } from '../helpers/harness.js';

export const COOKIE_NAME = '__Host-latchkey';
/** Every fuzz request names this host, so the BFF's own origin (its default allow-list) is known in advance. */
export const OWN_HOST = 'bff.example';
export const OWN_ORIGIN = `http://${OWN_HOST}`;
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete' | 'options';

/** One raw request: headers are sent exactly as given (no X-CSRF or Content-Type added behind the test's back). */
export interface FuzzRequest {
  method: Method;
  path: string;
  headers: Record<string, string>;
  body?: string | Buffer;
}

/** A named real device: its cookie and token, and the parts that must never appear in any answer or log. */
export interface RealDevice extends Device {
  user: 'alice' | 'bob';
  /** The cookie value as the server reads it (percent-decoded): `v1.<key>.<generation>.<secret>.<hmac>`. */
  value: string;
  key: string;
  generation: number;
  secret: string;
}

export function describeDevice(user: 'alice' | 'bob', device: Device): RealDevice {
  const value = parseCookieHeader(device.cookie)[COOKIE_NAME];
  const match = value === undefined ? null : /^v1\.([^.]+)\.(\d+)\.([^.]+)\.[^.]+$/.exec(value);
  if (!value || !match) throw new Error(`unexpected session cookie ${device.cookie}`);
  return { ...device, user, value, key: match[1]!, generation: Number(match[2]), secret: match[3]! };
}

// ---------------------------------------------------------------------------------------------------------------
// Sending

/** A listening server, so every request reaches the same socket (and Host/Origin are under the test's control). */
export async function listen(app: Express): Promise<Server> {
  const server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

export function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
}

export async function send(server: Server, req: FuzzRequest): Promise<Response> {
  let test = request(server)[req.method](req.path).timeout(5000);
  if (req.body !== undefined) {
    // Raw bytes: superagent must neither serialize nor pick a Content-Type on its own.
    test = test.serialize((b: unknown) => b as string).send(req.body as string);
    test = test.unset('Content-Type');
  }
  for (const [name, value] of Object.entries(req.headers)) test = test.set(name, value);
  return await test;
}

// ---------------------------------------------------------------------------------------------------------------
// Invariants

const STACK_OR_PATH = [
  /\n\s*at\s/, // stack frames
  /\bat\s+\S+\s+\(/, // "at fn (" frames on one line
  /\bat\s+(file:|node:|\/)/,
  /(file:\/\/|node_modules|\/work\/|\/home\/|\/usr\/|\/tmp\/|[A-Za-z]:\\)/, // file paths
  /\.(ts|js|mjs|cjs):\d+/, // file:line
  /\b(Type|Reference|Syntax|Range)Error\b/,
  /\b(ERR_[A-Z_]+|Z_DATA_ERROR|ECONNREFUSED)\b/,
];

export interface InvariantContext {
  /** Strings that must never appear in a response body or header (cookie secrets, tokens, passwords). */
  secrets: readonly string[];
}

export function isAuthPath(path: string): boolean {
  return path.startsWith('/auth');
}

/** Lower-cased path without query and trailing slash: how Express's (case-insensitive, non-strict) routing sees it. */
export function routeOf(path: string): string {
  const bare = path.split('?')[0]!.toLowerCase();
  return bare.length > 1 && bare.endsWith('/') ? bare.slice(0, -1) : bare;
}

/**
 * What every answer must satisfy, whatever was sent:
 * - never 5xx (the store is up);
 * - every 4xx is exactly `{ error, message }` as JSON, `error` from ERROR_CODES, no stack trace and no file path;
 * - no secret of a real session, no token, no password in the body or any header;
 * - BFF answers (except the JWKS) are `Cache-Control: no-store`;
 * - a rejected request never sets a session cookie (it may only clear one);
 * - a 401 from the guard carries a Bearer challenge.
 */
export function checkResponse(req: FuzzRequest, res: Response, ctx: InvariantContext): void {
  const where = `${req.method.toUpperCase()} ${req.path} -> ${res.status} ${res.text?.slice(0, 300)}`;
  expect(res.status, where).toBeLessThan(500);
  expect(res.status, where).toBeGreaterThanOrEqual(200);

  // Node itself refuses a request whose headers pass its 16 KiB limit (a bare 431, before any application code): a
  // correct refusal that changes nothing, and not the BFF's to word.
  const requestHeaderBytes = Object.entries(req.headers).reduce((n, [name, value]) => n + name.length + String(value).length + 4, 0);
  if (res.status === 431 && requestHeaderBytes > 16 * 1024 - 1024) return;

  const headerText = JSON.stringify(res.headers);
  const bodyText = res.text ?? '';
  for (const secret of ctx.secrets) {
    expect(bodyText.includes(secret), `${where}: body leaks ${secret.slice(0, 12)}…`).toBe(false);
    expect(headerText.includes(secret), `${where}: headers leak ${secret.slice(0, 12)}…`).toBe(false);
  }

  if (res.status >= 400) {
    expect(res.headers['content-type'], where).toMatch(/^application\/json\b/);
    let body: unknown;
    expect(() => (body = JSON.parse(bodyText)), where).not.toThrow();
    expect(body !== null && typeof body === 'object' && !Array.isArray(body), where).toBe(true);
    expect(Object.keys(body as object).sort(), where).toEqual(['error', 'message']);
    const { error, message } = body as { error: unknown; message: unknown };
    expect(ERROR_CODES as readonly unknown[], where).toContain(error);
    expect(typeof message, where).toBe('string');
    for (const pattern of STACK_OR_PATH) expect(bodyText, where).not.toMatch(pattern);

    const setCookies = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
    for (const line of setCookies) {
      if (line.startsWith(`${COOKIE_NAME}=`)) expect(line.startsWith(`${COOKIE_NAME}=;`), `${where}: ${line}`).toBe(true);
    }
  }

  // The JWKS is public and cacheable (docs/security.md): its 200, and its 304 to a conditional request, are not no-store.
  if (isAuthPath(req.path) && !((res.status === 200 || res.status === 304) && routeOf(req.path) === '/auth/jwks.json')) {
    expect(res.headers['cache-control'], where).toBe('no-store');
  }
  if (routeOf(req.path) === '/api/me' && res.status === 401) {
    expect(res.headers['www-authenticate'], where).toMatch(/^Bearer( error="invalid_token")?$/);
  }
}

/** Strings no response and no log line may ever contain. */
export function secretsOf(devices: readonly RealDevice[], extra: readonly string[] = []): string[] {
  const out = new Set<string>([SECRET, ...Object.values(USERS).map((u) => u.password), ...extra]);
  for (const d of devices) {
    out.add(d.value);
    out.add(d.cookie.slice(COOKIE_NAME.length + 1));
    out.add(d.key);
    out.add(d.secret);
    out.add(d.token);
  }
  return [...out];
}

/** Object.prototype must come out of every request exactly as it went in. */
export function prototypeFingerprint(): string {
  const probe = {} as Record<string, unknown>;
  return JSON.stringify([Object.getOwnPropertyNames(Object.prototype).sort(), probe.polluted, probe.isAdmin, probe.x]);
}

// ---------------------------------------------------------------------------------------------------------------
// Primitive arbitraries

const charOf = (min: number, max: number) => fc.integer({ min, max }).map((c) => String.fromCharCode(c));
/** Characters a Node client may put in a header value: visible ASCII, space, tab-free; some latin-1. */
const headerChar = fc.oneof({ weight: 12, arbitrary: charOf(0x20, 0x7e) }, { weight: 1, arbitrary: charOf(0xa0, 0xff) });
const urlChar = charOf(0x21, 0x7e).filter((c) => c !== '#' && c !== '?');
const b64urlChar = fc.constantFrom(...BASE64URL);

export const b64urlPart = fc.string({ unit: b64urlChar, maxLength: 90 });
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.string({ unit: headerChar, maxLength: 40 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom('', '1', '0', 'true', 'null', 'undefined', '__proto__', 'constructor', '{}', '[]', '%00', '%', '1, 1', '01', 'Bearer', 'v1.'),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'x'.repeat(n)) },
);

const b64json = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

// ---------------------------------------------------------------------------------------------------------------
// Bodies and content types

/** Hand-written hostile JSON: prototype pollution, deep nesting, near-valid login bodies. */
const PROTO_BODIES = [
  '{"__proto__":{"polluted":"yes","isAdmin":true}}',
  '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"username":"alice","password":"x","__proto__":{"isAdmin":true}}',
  '{"username":{"__proto__":{"x":1}},"password":"p"}',
  '{"username":"__proto__","password":"constructor"}',
  '{"username":"constructor","password":{"toString":"x"}}',
  '[{"__proto__":{"polluted":1}}]',
  '{"__proto__":null}',
  '{"username":"a","password":"b","deviceName":{"constructor":{"prototype":{"polluted":1}}}}',
];

export const deepNesting: fc.Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 1, max: 5000 }), kind: fc.constantFrom('array', 'object', 'open'), close: fc.boolean() })
  .map(({ depth, kind, close }) => {
    if (kind === 'array') return '['.repeat(depth) + (close ? ']'.repeat(depth) : '');
    if (kind === 'object') return '{"a":'.repeat(depth) + '1' + (close ? '}'.repeat(depth) : '');
    return '{"username":' + '['.repeat(depth);
  });

/** Passwords the fuzz sends: each carries a marker, so an echo anywhere is unmistakable. */
export const canaryPassword = fc
  .string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), minLength: 8, maxLength: 16 })
  .map((s) => `pw-canary-${s}`);
export const CANARY_PATTERN = /pw-canary-[a-z0-9]{8,16}/;

const username = fc.oneof(
  fc.constantFrom('alice', 'bob', 'ALICE', 'alice ', ' ', '', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'admin'),
  fc.string({ maxLength: 300 }),
);

const looseLoginBody: fc.Arbitrary<string> = fc
  .record(
    {
      username: fc.oneof({ weight: 4, arbitrary: username }, { weight: 1, arbitrary: fc.jsonValue() }),
      password: fc.oneof({ weight: 4, arbitrary: canaryPassword }, { weight: 1, arbitrary: fc.constantFrom(null, 1, true, [], {}, '') }),
      deviceName: fc.oneof(fc.string({ maxLength: 150 }), fc.jsonValue()),
      extra: fc.jsonValue(),
    },
    { requiredKeys: ['password'] },
  )
  .map((o) => JSON.stringify(o));

/** The right shape with a wrong password: reaches `authenticate` and the per-account limiter (429 after a few). */
const wellFormedLoginBody: fc.Arbitrary<string> = fc
  .record(
    {
      username: fc.oneof(
        fc.constantFrom('alice', 'bob', 'Alice', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf'),
        fc.string({ minLength: 1, maxLength: 256 }),
      ),
      password: canaryPassword,
      deviceName: fc.string({ minLength: 1, maxLength: 100 }),
    },
    { requiredKeys: ['username', 'password'] },
  )
  .map((o) => JSON.stringify(o));

export const loginLikeBody: fc.Arbitrary<string> = fc.oneof(looseLoginBody, wellFormedLoginBody);

export const hugeBody: fc.Arbitrary<string> = fc
  .record({ size: fc.integer({ min: 7000, max: 40_000 }), key: fc.constantFrom('username', 'password', 'deviceName', 'x') })
  .map(({ size, key }) => JSON.stringify({ [key]: 'a'.repeat(size) }));

/** Anything JSON-ish or not: the body bytes, before any Content-Encoding. */
export const rawBody: fc.Arbitrary<string | Buffer | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.json() },
  { weight: 2, arbitrary: fc.anything().map((v) => JSON.stringify(v)) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: hugeBody },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_BODIES) },
  { weight: 3, arbitrary: loginLikeBody },
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json; charset=utf-16',
      'application/json; charset=latin1',
      'application/json; charset=koi8-r',
      'application/json; charset',
      'application/json;;;',
      'application/json; ===',
      'APPLICATION/JSON',
      'application/vnd.api+json',
      'application/json-patch+json',
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      '*/*',
      'application/*',
      '',
    ),
  },
  { weight: 2, arbitrary: headerValue },
);

export const contentEncoding: fc.Arbitrary<{ header?: string; compress: boolean }> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ compress: false }) },
  { weight: 2, arbitrary: fc.record({ header: fc.constant('gzip'), compress: fc.boolean() }) },
  {
    weight: 2,
    arbitrary: fc.record({ header: fc.constantFrom('identity', 'deflate', 'br', 'compress', 'x-custom', 'gzip, gzip', 'zstd'), compress: fc.constant(false) }),
  },
  { weight: 1, arbitrary: fc.record({ header: headerValue, compress: fc.constant(false) }) },
);

/** Bodies a JSON parser accepts (or nearly): the ones that get past the envelope checks to the route's own validation. */
const jsonishBody: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: loginLikeBody },
  { weight: 2, arbitrary: fc.json() },
  { weight: 2, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? '{}') },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_BODIES) },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: hugeBody },
);

/**
 * Body, Content-Type and Content-Encoding. Mostly a well-labelled JSON body (so the fuzz reaches each route's own
 * validation), else anything at all; a gzip bomb is a small compressed body that inflates past the cap.
 */
export const payload: fc.Arbitrary<{ body?: string | Buffer; headers: Record<string, string> }> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ headers: {} }) },
  {
    weight: 5,
    arbitrary: fc
      .record({
        body: jsonishBody,
        type: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'application/json;charset=UTF-8'),
        encoding: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('gzip', 'identity') }),
      })
      .map(({ body, type, encoding }) => ({
        body: encoding === 'gzip' ? gzipSync(body) : body,
        headers: { 'Content-Type': type, ...(encoding ? { 'Content-Encoding': encoding } : {}) },
      })),
  },
  {
    weight: 3,
    arbitrary: fc.record({ body: rawBody, type: contentType, encoding: contentEncoding }).map(({ body, type, encoding }) => {
      const headers: Record<string, string> = {};
      if (type !== undefined) headers['Content-Type'] = type;
      if (encoding.header !== undefined) headers['Content-Encoding'] = encoding.header;
      const bytes = body !== undefined && encoding.compress ? gzipSync(body) : body;
      return { body: bytes, headers };
    }),
  },
);

// ---------------------------------------------------------------------------------------------------------------
// Headers

export const csrfHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 8, arbitrary: fc.constant('1') },
  { weight: 1, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: headerValue },
);

export const originHeader: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 5, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: fc.constant(OWN_ORIGIN) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      'null',
      'https://evil.example',
      `https://${OWN_HOST}`,
      `http://${OWN_HOST}:8080`,
      `http://${OWN_HOST}.evil.example`,
      `http://evil.example/${OWN_HOST}`,
      `${OWN_ORIGIN}/`,
      `${OWN_ORIGIN}, https://evil.example`,
    ),
  },
  { weight: 1, arbitrary: headerValue },
);

/** A few headers a proxy or an attacker might add; none of them may change what the BFF decides. */
export const extraHeaders: fc.Arbitrary<Record<string, string>> = fc.dictionary(
  fc.constantFrom(
    'X-Forwarded-For',
    'X-Forwarded-Proto',
    'X-Forwarded-Host',
    'User-Agent',
    'Accept',
    'Accept-Encoding',
    'X-HTTP-Method-Override',
    'Range',
    'If-None-Match',
    'X-Requested-With',
    'Forwarded',
  ),
  headerValue,
  { maxKeys: 3 },
);

// ---------------------------------------------------------------------------------------------------------------
// Cookies

export const garbageCookie: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: headerChar, maxLength: 200 }),
  fc.string({ unit: headerChar, maxLength: 200 }).map((v) => `${COOKIE_NAME}=${v}`),
  // Many cookies, duplicated names, hostile names.
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(COOKIE_NAME, 'latchkey', '__proto__', 'constructor', '__Host-latchkey ', '__host-latchkey', 'a'),
          fc.string({ unit: b64urlChar, minLength: 1, maxLength: 12 }),
        ),
        fc.string({ unit: headerChar, maxLength: 60 }).map((v) => v.replace(/;/g, '')),
      ),
      { minLength: 2, maxLength: 60 },
    )
    .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; ')),
  // Very long values, on both sides of the 512-byte value cap and the 8 KB header cap.
  fc.integer({ min: 400, max: 8300 }).map((n) => `${COOKIE_NAME}=${'v1.'.padEnd(n, 'A')}`),
  // Well-formed but unsigned, or signed with a secret that is not the deployment's.
  fc
    .record({
      key: fc.string({ unit: b64urlChar, minLength: 16, maxLength: 64 }),
      generation: fc.nat({ max: 999_999_999 }),
      secret: fc.string({ unit: b64urlChar, minLength: 32, maxLength: 128 }),
      signWith: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
    })
    .map(({ key, generation, secret, signWith }) => {
      const value = `v1.${key}.${generation}.${secret}`;
      return `${COOKIE_NAME}=${encodeURIComponent(signWith === undefined ? value : signature.sign(value, signWith))}`;
    }),
);

/**
 * A real device's cookie, damaged: flipped characters, truncated, generation changed, signature stripped or
 * replaced, re-signed with another secret, the cookie name changed. Never equivalent to the real value as the
 * server reads it (a percent-encoding variant of the real cookie would be the real cookie).
 */
export function mutatedCookie(devices: readonly RealDevice[]): fc.Arbitrary<string> {
  const realValues = new Set(devices.map((d) => d.value));
  return fc
    .record({
      device: fc.constantFrom(...devices),
      kind: fc.constantFrom('flip', 'truncate', 'generation', 'strip-signature', 'replace-signature', 'resign', 'append', 'name', 'swap-secret'),
      position: fc.nat(),
      char: fc.oneof(b64urlChar, charOf(0x21, 0x7e)),
      generation: fc.oneof(fc.nat({ max: 20 }), fc.constantFrom('-1', '01', '1e3', '9999999999', '', 'NaN')),
      tail: fc.string({ unit: headerChar, minLength: 1, maxLength: 10 }),
      other: fc.constantFrom(...devices),
      encode: fc.boolean(),
    })
    .map(({ device, kind, position, char, generation, tail, other, encode }) => {
      const v = device.value;
      const [unsigned, sig] = [v.slice(0, v.lastIndexOf('.')), v.slice(v.lastIndexOf('.') + 1)];
      let name = COOKIE_NAME;
      let value: string;
      switch (kind) {
        case 'flip': {
          const i = position % v.length;
          value = v.slice(0, i) + char + v.slice(i + 1);
          break;
        }
        case 'truncate':
          value = v.slice(0, position % v.length);
          break;
        case 'generation':
          value = `v1.${device.key}.${generation}.${device.secret}.${sig}`;
          break;
        case 'strip-signature':
          value = unsigned;
          break;
        case 'replace-signature':
          value = `${unsigned}.${tail}`;
          break;
        case 'resign':
          value = signature.sign(unsigned, `not-the-secret-${tail}`);
          break;
        case 'append':
          value = v + tail;
          break;
        case 'name':
          name = ['__host-latchkey', 'latchkey', '__Host-Latchkey', '__Host-latchke', `${COOKIE_NAME}x`][position % 5]!;
          value = v;
          break;
        case 'swap-secret':
          // Another device's secret under this device's key, keeping this device's signature.
          value = `v1.${device.key}.${device.generation}.${other.secret}.${sig}`;
          break;
      }
      return `${name}=${encode ? encodeURIComponent(value) : value}`;
    })
    .filter((header) => {
      const read = parseCookieHeader(header)[COOKIE_NAME];
      return read === undefined || !realValues.has(read);
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Bearer tokens

const decodedParts = (token: string) => token.split('.').map((p) => (/^[A-Za-z0-9_-]*$/.test(p) ? Buffer.from(p, 'base64url').toString('hex') : `raw:${p}`));

/**
 * True when `candidate` is `real` in a non-canonical base64url spelling (same parts, same decoded bytes): the
 * decoded bytes are equal; the verifier refuses every spelling but the canonical one (regression test in http-fuzz.test.ts).
 */
export function sameDecodedToken(candidate: string, real: string): boolean {
  const a = decodedParts(candidate);
  const b = decodedParts(real);
  return a.length === b.length && a.every((p, i) => p === b[i]) && candidate.split('.').slice(0, 2).join('.') === real.split('.').slice(0, 2).join('.');
}

export function jwtShaped(realTokens: readonly string[], kid: string, issuer: string): fc.Arbitrary<string> {
  const now = Math.floor(Date.now() / 1000);
  const realSigs = realTokens.map((t) => t.split('.')[2]!);
  const realPayloads = realTokens.map((t) => t.split('.')[1]!);
  const header = fc.record(
    {
      alg: fc.oneof(
        { weight: 3, arbitrary: fc.constant('ES256') },
        { weight: 2, arbitrary: fc.constantFrom('none', 'None', 'HS256', 'RS256', 'EdDSA', 'ES384', 'PS256', '', 'es256') },
      ),
      kid: fc.oneof(
        { weight: 3, arbitrary: fc.constant(kid) },
        { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
        { weight: 1, arbitrary: fc.constantFrom('__proto__', 'constructor', '../../etc/passwd') },
      ),
      typ: fc.oneof({ weight: 3, arbitrary: fc.constant('at+jwt') }, { weight: 1, arbitrary: fc.constantFrom('JWT', 'AT+JWT', 'application/at+jwt') }),
      jku: fc.constant('https://evil.example/jwks.json'),
      jwk: fc.constant({ kty: 'EC', crv: 'P-256', x: 'AAAA', y: 'AAAA' }),
      crit: fc.constantFrom(['exp'], ['b64'], []),
      b64: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const claims = fc.record(
    {
      iss: fc.oneof(fc.constant(issuer), fc.string({ maxLength: 20 })),
      aud: fc.oneof(fc.constant(issuer), fc.array(fc.string({ maxLength: 10 }), { maxLength: 3 })),
      sub: fc.constantFrom('user-alice', 'user-bob', '__proto__', ''),
      sid: fc.string({ maxLength: 24 }),
      jti: fc.string({ maxLength: 24 }),
      client_id: fc.constantFrom('latchkey', 'other'),
      iat: fc.integer({ min: now - 1000, max: now + 1000 }),
      exp: fc.oneof(fc.integer({ min: now - 1000, max: now + 100_000 }), fc.constantFrom(Number.MAX_SAFE_INTEGER, -1, 0)),
      nbf: fc.integer({ min: now - 1000, max: now + 1000 }),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    // Random base64url parts, any number of dots (including empty parts).
    fc.array(b64urlPart, { minLength: 1, maxLength: 7 }).map((parts) => parts.join('.')),
    // Structured header and claims with a random or borrowed signature.
    fc
      .tuple(header.map(b64json), fc.oneof(claims.map(b64json), fc.constantFrom(...realPayloads)), fc.oneof(b64urlPart, fc.constantFrom(...realSigs)))
      .map((p) => p.join('.')),
    // Random JSON in every part.
    fc.tuple(fc.jsonValue().map(b64json), fc.jsonValue().map(b64json), b64urlPart).map((p) => p.join('.')),
    // Not base64url at all.
    fc.string({ unit: charOf(0x21, 0x7e), maxLength: 120 }),
    // Oversized: past the 4 KB cap.
    fc.integer({ min: 4000, max: 4200 }).map((n) => `${b64json({ alg: 'ES256', kid })}.${'A'.repeat(n)}.${realSigs[0]}`),
  );
}

/** A real token, damaged so that it is no longer the token the BFF issued (decoded bytes differ). */
export function mutatedToken(realTokens: readonly string[]): fc.Arbitrary<string> {
  return fc
    .record({
      token: fc.constantFrom(...realTokens),
      other: fc.constantFrom(...realTokens),
      kind: fc.constantFrom(
        'flip',
        'truncate',
        'drop-part',
        'swap-part',
        'strip-signature',
        'alg-none',
        'tamper-claims',
        'extra-part',
        'double-dot',
        'append',
        'case',
      ),
      position: fc.nat(),
      char: fc.oneof(b64urlChar, fc.constantFrom('.', '=', '+', '/', '~', '%')),
      claim: fc.constantFrom('sub', 'sid', 'exp', 'iat', 'aud', 'iss', 'jti', 'client_id'),
      value: fc.jsonValue(),
    })
    .map(({ token, other, kind, position, char, claim, value }) => {
      const parts = token.split('.') as [string, string, string];
      const otherParts = other.split('.');
      const i = position % token.length;
      switch (kind) {
        case 'flip':
          return token.slice(0, i) + char + token.slice(i + 1);
        case 'truncate':
          return token.slice(0, i);
        case 'drop-part':
          return parts.filter((_, j) => j !== position % 3).join('.');
        case 'swap-part': {
          const j = position % 3;
          return parts.map((p, k) => (k === j ? otherParts[k] : p)).join('.');
        }
        case 'strip-signature':
          return `${parts[0]}.${parts[1]}.`;
        case 'alg-none': {
          const h = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
          return `${b64json({ ...h, alg: 'none' })}.${parts[1]}.`;
        }
        case 'tamper-claims': {
          const c = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
          return `${parts[0]}.${b64json({ ...c, [claim]: value })}.${parts[2]}`;
        }
        case 'extra-part':
          return `${token}.${parts[2]}`;
        case 'double-dot':
          return `${parts[0]}..${parts[1]}.${parts[2]}`;
        case 'append':
          return token + char;
        case 'case':
          return token.slice(0, i) + (token[i] === token[i]!.toUpperCase() ? token[i]!.toLowerCase() : token[i]!.toUpperCase()) + token.slice(i + 1);
      }
    })
    .filter((t) => realTokens.every((real) => t !== real));
}

export function authorizationHeader(realTokens: readonly string[], kid: string, issuer: string): fc.Arbitrary<string | undefined> {
  const token = fc.oneof(jwtShaped(realTokens, kid, issuer), mutatedToken(realTokens));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 6, arbitrary: token.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('Basic', 'Token', 'JWT', 'Bearer:', 'DPoP', ''), token).map(([s, t]) => `${s} ${t}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('Bearer', 'Bearer ', 'Bearer null', 'Bearer undefined', 'Bearer .', 'Bearer ..', 'Bearer ...', `Bearer ${'A'.repeat(5000)}`),
    },
    { weight: 1, arbitrary: headerValue },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Routes

const PATH_IDS = [
  '%',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%00',
  'a%00b',
  '..',
  '.',
  '%2F',
  '%2e%2e',
  '__proto__',
  'constructor',
  'toString',
  'hasOwnProperty',
  'x'.repeat(65),
  'A'.repeat(64),
  '-',
  '_',
];

export function pathId(realSids: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: urlChar, minLength: 1, maxLength: 80 }),
    fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
    fc.constantFrom(...PATH_IDS),
    // A real sid with one character changed, or with junk around it.
    fc.record({ sid: fc.constantFrom(...realSids), position: fc.nat(), char: b64urlChar }).map(({ sid, position, char }) => {
      const i = position % sid.length;
      const changed = sid.slice(0, i) + char + sid.slice(i + 1);
      return changed === sid ? `${sid}x` : changed;
    }),
  );
}

const AUTH_PATHS = [
  '/auth/login',
  '/auth/refresh',
  '/auth/logout',
  '/auth/logout-all',
  '/auth/sessions',
  '/auth/sessions/abc',
  '/auth/jwks.json',
  '/auth',
  '/auth/',
  '/auth/LOGIN',
  '/auth/refresh/',
  '/auth/Jwks.JSON',
  '/auth/nope',
];

export const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.string({ unit: urlChar, maxLength: 40 }).map((q) => `?${q}`) },
  { weight: 1, arbitrary: fc.constantFrom('?__proto__[polluted]=1', '?constructor[prototype][polluted]=1', '?a[b][c][d]=1', '?id=x&id=y', '?%zz=%') },
);

export interface RouteChoice {
  method: Method;
  path: string;
}

/** Every BFF route with its own method, plus the wrong methods and near-miss paths. */
export function bffRoute(realSids: readonly string[]): fc.Arbitrary<RouteChoice> {
  const exact = fc.oneof(
    fc.constant<RouteChoice>({ method: 'post', path: '/auth/login' }),
    fc.constant<RouteChoice>({ method: 'post', path: '/auth/refresh' }),
    fc.constant<RouteChoice>({ method: 'post', path: '/auth/logout' }),
    fc.constant<RouteChoice>({ method: 'post', path: '/auth/logout-all' }),
    fc.constant<RouteChoice>({ method: 'get', path: '/auth/sessions' }),
    fc.constant<RouteChoice>({ method: 'get', path: '/auth/jwks.json' }),
    pathId(realSids).map<RouteChoice>((id) => ({ method: 'delete', path: `/auth/sessions/${id}` })),
  );
  const any = fc.record({ method: fc.constantFrom<Method>('get', 'post', 'put', 'patch', 'delete', 'options'), path: fc.constantFrom(...AUTH_PATHS) });
  return fc
    .tuple(fc.oneof({ weight: 4, arbitrary: exact }, { weight: 1, arbitrary: any }), queryString)
    .map(([r, q]) => ({ method: r.method, path: r.path + q }));
}
