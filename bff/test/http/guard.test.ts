import { compactVerify, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../../src/store/types.js';
import { toLowS } from '../helpers/low-s-jws.js';
import { issueAccessToken } from '../../src/tokens/issue-access-token.js';
import { call, ISSUER, login, me, refresh, startTestBff, type TestBff } from '../helpers/harness.js';

let t: TestBff;
beforeEach(async () => {
  t = await startTestBff();
});
afterEach(() => t.close());

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

function validClaims(sid = 'sid-x', overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { iss: ISSUER, aud: ISSUER, sub: 'user-alice', sid, jti: `jti-${Math.random()}`, client_id: 'latchkey', iat: now, exp: now + 300, ...overrides };
}

/**
 * Signs with the BFF's own active key, in the low-S form the BFF issues: the signature is good, so only the claim
 * and header checks can refuse it.
 */
async function signWithRealKey(claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const key = t.bff.keyRing.activeKey();
  return toLowS(await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', ...header }).sign(key.privateKey));
}

/** The order of P-256. */
const P256_N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const signatureOf = (token: string) => Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
const sValue = (token: string) => BigInt('0x' + signatureOf(token).subarray(32).toString('hex'));

/** The same token with its ECDSA signature (r, s) replaced by (r, n - s), which verifies just as well. */
function malleate(token: string): string {
  const r = signatureOf(token).subarray(0, 32);
  const s = Buffer.from((P256_N - sValue(token)).toString(16).padStart(64, '0'), 'hex');
  return token.slice(0, token.lastIndexOf('.') + 1) + Buffer.concat([r, s]).toString('base64url');
}

async function expectRejected(token: string) {
  const res = await me(t.app, token);
  expect(res.status).toBe(401);
  expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  expect(res.body).toEqual({ error: 'invalid_token', message: 'The access token is invalid.' });
}

describe('requireAuth(): verification', () => {
  it('accepts a fresh token and exposes its claims', async () => {
    const device = await login(t.app);
    const res = await me(t.app, device.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ sub: 'user-alice', sid: device.sid });
  });

  it('answers 401 with a bare Bearer challenge when no token is sent', async () => {
    const res = await request(t.app).get('/api/me');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.body.error).toBe('invalid_token');
  });

  it('rejects a non-Bearer or oversized Authorization header before parsing', async () => {
    const device = await login(t.app);
    for (const header of [`Basic ${device.token}`, `Bearer  ${device.token}`, `Bearer ${'a'.repeat(5000)}`, 'Bearer']) {
      const res = await request(t.app).get('/api/me').set('Authorization', header);
      expect(res.status).toBe(401);
    }
  });

  it('reads the Bearer scheme case-insensitively (RFC 7235 §2.1)', async () => {
    const device = await login(t.app);
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      const res = await request(t.app).get('/api/me').set('Authorization', `${scheme} ${device.token}`);
      expect({ scheme, status: res.status }).toEqual({ scheme, status: 200 });
    }
    for (const scheme of ['Bearerx', 'Beare', 'Bearer:']) {
      const res = await request(t.app).get('/api/me').set('Authorization', `${scheme} ${device.token}`);
      expect({ scheme, status: res.status }).toEqual({ scheme, status: 401 });
    }
  });

  it('issues ES256 tokens with low-S signatures only, and refuses the (r, n - s) twin of a genuine token', async () => {
    const device = await login(t.app);
    const tokens = [device.token];
    for (let i = 0; i < 40; i++) {
      const nowMs = Date.now();
      const input = { keyRing: t.bff.keyRing, issuer: ISSUER, audience: ISSUER, clientId: 'latchkey', userId: 'user-alice', maxTokenBytes: 4096 };
      tokens.push((await issueAccessToken({ ...input, sid: device.sid, ttlSeconds: 300, notAfterMs: nowMs + 600_000, nowMs })).token);
    }
    // OpenSSL picks high or low S at random: without normalisation about half of these would be high-S.
    expect(tokens.filter((token) => sValue(token) > P256_N / 2n)).toEqual([]);

    expect((await me(t.app, device.token)).status).toBe(200); // now in the verified-token cache
    const twin = malleate(device.token);
    expect(twin).not.toBe(device.token);
    expect(decodeJwt(twin)).toEqual(decodeJwt(device.token));
    // The twin verifies under plain ECDSA (the check is not vacuous)...
    const key = t.bff.keyRing.activeKey();
    await expect(compactVerify(twin, key.publicKey)).resolves.toBeTruthy();
    // ...but the guard refuses it, before and after the genuine token's revocation, and never caches it.
    await expectRejected(twin);
    expect(t.bff.guard.stats().cachedTokens).toBe(1);
    const { jti, exp } = decodeJwt(device.token);
    await t.bff.admin.revokeAccessToken({ jti: jti!, exp: exp! });
    await expectRejected(device.token);
    await expectRejected(twin);
  });

  it('rejects forged and mutated tokens', async () => {
    const device = await login(t.app);
    const [h, p, s] = device.token.split('.') as [string, string, string];
    const header = decodeProtectedHeader(device.token);
    const claims = decodeJwt(device.token);
    const attacker = await generateKeyPair('ES256', { extractable: true });
    const attackerJwk = await exportJWK(attacker.publicKey);
    const publicJwk = (await request(t.app).get('/auth/jwks.json')).body.keys[0];

    const forged: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${p}.`,
      'alg none with a signature part': `${b64({ alg: 'none', typ: 'at+jwt', kid: header.kid })}.${p}.${s}`,
      'HS256 signed with the public key': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
        .sign(new TextEncoder().encode(JSON.stringify(publicJwk))),
      'embedded jwk header': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid, jwk: attackerJwk })
        .sign(attacker.privateKey),
      'jku header': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid, jku: 'https://evil.example/jwks.json' })
        .sign(attacker.privateKey),
      'x5u header': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: header.kid, x5u: 'https://evil.example/cert.pem' })
        .sign(attacker.privateKey),
      'wrong kid': await signWithRealKey(claims, { kid: 'not-a-key' }),
      'missing kid': `${b64({ alg: 'ES256', typ: 'at+jwt' })}.${p}.${s}`,
      'stripped signature': `${h}.${p}.`,
      'two parts': `${h}.${p}`,
      'tampered payload': `${h}.${b64({ ...claims, sub: 'user-bob' })}.${s}`,
      'tampered header': `${b64({ ...header, typ: 'JWT' })}.${p}.${s}`,
      oversized: await signWithRealKey({ ...claims, pad: 'x'.repeat(5000) }),
      '5-part JWE': `${b64({ alg: 'dir', enc: 'A256GCM', kid: header.kid })}..${b64('iv')}.${b64('ciphertext')}.${b64('tag')}`,
      'not base64': `${h}.${p}.***`,
    };
    for (const [name, token] of Object.entries(forged)) {
      const res = await me(t.app, token);
      expect({ name, status: res.status }).toEqual({ name, status: 401 });
      expect(res.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    }
    // The genuine token still works: nothing forged poisoned anything.
    expect((await me(t.app, device.token)).status).toBe(200);
  });

  it('a flood of unknown kids costs at most one key-ring read per cooldown', async () => {
    const device = await login(t.app);
    const claims = decodeJwt(device.token);
    let reads = 0;
    const original = t.store.getKeyRing.bind(t.store);
    t.store.getKeyRing = () => {
      reads++;
      return original();
    };
    for (let i = 0; i < 25; i++) {
      const res = await me(t.app, await signWithRealKey(claims, { kid: `bogus-${i}` }));
      expect(res.status).toBe(401);
    }
    t.store.getKeyRing = original;
    expect(reads).toBe(1);
  });

  it.each([
    ['wrong issuer', { iss: 'https://evil.example' }],
    ['wrong audience', { aud: 'https://other.example' }],
    ['expired', { exp: Math.floor(Date.now() / 1000) - 60, iat: Math.floor(Date.now() / 1000) - 400 }],
    ['not yet valid', { nbf: Math.floor(Date.now() / 1000) + 600 }],
    ['issued in the future', { iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 900 }],
    ['missing jti', { jti: undefined }],
    ['missing sid', { sid: undefined }],
    ['missing client_id', { client_id: undefined }],
  ])('rejects a correctly signed token that is %s', async (_name, overrides) => {
    const device = await login(t.app);
    await expectRejected(await signWithRealKey(validClaims(device.sid, overrides as JWTPayload)));
  });

  it('rejects a correctly signed token with the wrong typ', async () => {
    const device = await login(t.app);
    await expectRejected(await signWithRealKey(validClaims(device.sid), { typ: 'JWT' }));
  });

  it('accepts a correctly signed token with valid claims (the checks above are not vacuous)', async () => {
    const device = await login(t.app);
    expect((await me(t.app, await signWithRealKey(validClaims(device.sid)))).status).toBe(200);
  });
});

describe('requireAuth(): revocation', () => {
  it('rejects one token revoked by jti at once, and only that token', async () => {
    const device = await login(t.app);
    const revoked = device.token;
    await refresh(t.app, device);
    const { jti, exp } = decodeJwt(revoked);
    await t.bff.admin.revokeAccessToken(jti!, exp!);
    expect((await me(t.app, revoked)).status).toBe(401);
    expect((await me(t.app, device.token)).status).toBe(200);
  });

  it('revokeAccessToken takes the verified claims or exp in seconds (as the token carries it), and refuses milliseconds', async () => {
    const first = await login(t.app);
    const second = await login(t.app);
    const third = await login(t.app);
    // The claims object, as req.auth holds it.
    await t.bff.admin.revokeAccessToken(decodeJwt(first.token) as { jti: string; exp: number });
    // jti and exp in seconds, as the README shows it.
    const { jti, exp } = decodeJwt(second.token);
    await t.bff.admin.revokeAccessToken(jti!, exp!);
    expect((await me(t.app, first.token)).status).toBe(401);
    expect((await me(t.app, second.token)).status).toBe(401);
    // Milliseconds used to pass silently and revoke nothing; now they are refused, and nothing changes.
    const claims = decodeJwt(third.token);
    await expect(t.bff.admin.revokeAccessToken(claims.jti!, claims.exp! * 1000)).rejects.toThrow(/seconds.*milliseconds/);
    await expect(t.bff.admin.revokeAccessToken({ jti: claims.jti!, exp: claims.exp! * 1000 })).rejects.toThrow(TypeError);
    for (const bad of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(t.bff.admin.revokeAccessToken(claims.jti!, bad)).rejects.toThrow(TypeError);
    }
    await expect(t.bff.admin.revokeAccessToken('', claims.exp!)).rejects.toThrow(TypeError);
    expect((await me(t.app, third.token)).status).toBe(200);
  });

  it('revokeUser (password change, account disabled) ends every session and token of the user', async () => {
    const a = await login(t.app, 'alice');
    const b = await login(t.app, 'alice');
    const bob = await login(t.app, 'bob');
    expect(await t.bff.admin.revokeUser('user-alice')).toEqual({ sessionsEnded: 2 });
    for (const d of [a, b]) {
      expect((await me(t.app, d.token)).status).toBe(401);
      expect((await call(t.app, 'post', '/auth/refresh', { cookie: d.cookie })).body.error).toBe('session_revoked');
    }
    expect((await me(t.app, bob.token)).status).toBe(200);
  });

  it('rejects a token issued before the user-wide revoked_after even when its session still exists', async () => {
    const device = await login(t.app);
    // Simulate a token from an earlier second whose session was not in the ended set (belt and braces).
    const now = Date.now();
    await t.store.endAllUserSessions('user-bob', 'logout_all', now, now, 60_000);
    const older = await signWithRealKey(validClaims(device.sid, { sub: 'user-bob', iat: Math.floor(now / 1000) - 2 }));
    const sameSecond = await signWithRealKey(validClaims(device.sid, { sub: 'user-bob', iat: Math.floor(now / 1000) }));
    expect((await me(t.app, older)).status).toBe(401);
    expect((await me(t.app, sameSecond)).status).toBe(200);
  });

  it('fail-closed (default): 503 once the store stops answering; fail-open route: served within its staleness bound, then 503', async () => {
    const device = await login(t.app);
    const other = await login(t.app, 'bob');
    const original = t.store.readRevocations.bind(t.store);
    t.store.readRevocations = () => Promise.reject(new StoreUnavailableError('down'));
    // A revocation written while this guard cannot read the log (another instance wrote it).
    await t.store.endSession((await t.store.listUserSessions('user-bob', Date.now()))[0]!.key, 'logout', Date.now(), 60_000);
    await expect.poll(async () => (await me(t.app, device.token)).status, { timeout: 5000, interval: 100 }).toBe(503);
    const closed = await me(t.app, device.token);
    expect(closed.body).toEqual({ error: 'temporarily_unavailable', message: 'The service is temporarily unavailable. Try again shortly.' });
    const open = await request(t.app).get('/api/open').set('Authorization', `Bearer ${device.token}`);
    expect(open.status).toBe(200);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_fail_open_total')).toMatch(/ [1-9]\d*$/m);
    await expect
      .poll(async () => (await request(t.app).get('/api/open').set('Authorization', `Bearer ${device.token}`)).status, { timeout: 6000, interval: 200 })
      .toBe(503);

    t.store.readRevocations = original;
    await expect.poll(async () => (await me(t.app, device.token)).status, { timeout: 5000, interval: 50 }).toBe(200);
    // The revocation made during the outage is enforced once the feed is back: nothing was lost.
    expect((await me(t.app, other.token)).status).toBe(401);
    expect(await t.bff.metrics.registry.getSingleMetricAsString('latchkey_revocation_feed_reconnects_total')).toMatch(/ 1$/m);
  });

  it('never caches a forged or mutated token; caches a genuine one', async () => {
    const device = await login(t.app);
    const [h, p, s2] = device.token.split('.') as [string, string, string];
    const before = t.bff.guard.stats().cachedTokens;
    for (const token of [`${h}.${b64({ ...decodeJwt(device.token), sub: 'user-bob' })}.${s2}`, `${h}.${p}.${s2.slice(0, -2)}AA`, `${h}.${p}.`]) {
      expect((await me(t.app, token)).status).toBe(401);
      expect((await me(t.app, token)).status).toBe(401);
    }
    expect(t.bff.guard.stats().cachedTokens).toBe(before);
    expect((await me(t.app, device.token)).status).toBe(200);
    expect(t.bff.guard.stats().cachedTokens).toBe(before + 1);
  });

  it('still checks revocation for a cached token on every request', async () => {
    const device = await login(t.app);
    expect((await me(t.app, device.token)).status).toBe(200);
    expect((await me(t.app, device.token)).status).toBe(200);
    await call(t.app, 'post', '/auth/logout', { cookie: device.cookie });
    expect((await me(t.app, device.token)).status).toBe(401);
  });
});

describe('store outages on BFF routes', () => {
  it('answers refresh with 503, never 401, and keeps the cookie', async () => {
    const device = await login(t.app);
    const original = t.store.rotate.bind(t.store);
    t.store.rotate = () => Promise.reject(new StoreUnavailableError('down', { cause: new Error('ECONNREFUSED') }));
    const res = await call(t.app, 'post', '/auth/refresh', { cookie: device.cookie });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('temporarily_unavailable');
    expect(res.headers['set-cookie']).toBeUndefined();
    t.store.rotate = original;
    expect((await refresh(t.app, device)).status).toBe(200);
  });

  it('answers logout-all with 503 (a revocation never fails silently)', async () => {
    const device = await login(t.app);
    t.store.endAllUserSessions = () => Promise.reject(new StoreUnavailableError('down'));
    const res = await call(t.app, 'post', '/auth/logout-all', { cookie: device.cookie });
    expect(res.status).toBe(503);
  });
});

describe('signing keys', () => {
  it('publishes public members only in the JWKS', async () => {
    const res = await request(t.app).get('/auth/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys).toHaveLength(1);
    expect(Object.keys(res.body.keys[0]).sort()).toEqual(['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    expect(JSON.stringify(res.body)).not.toContain('"d"');
  });

  it('staged rotation: the next key is published first, then signs; old tokens keep working', async () => {
    const device = await login(t.app);
    const oldKid = decodeProtectedHeader(device.token).kid;
    const stagedKid = await t.bff.admin.stageSigningKey();
    const jwks = (await request(t.app).get('/auth/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(jwks).toEqual([oldKid, stagedKid]);
    await refresh(t.app, device);
    expect(decodeProtectedHeader(device.token).kid).toBe(oldKid);

    const oldToken = device.token;
    expect(await t.bff.admin.rotateSigningKey()).toBe(stagedKid);
    await refresh(t.app, device);
    expect(decodeProtectedHeader(device.token).kid).toBe(stagedKid);
    expect((await me(t.app, oldToken)).status).toBe(200);
    expect((await me(t.app, device.token)).status).toBe(200);
  });

  it('emergency rotation drops every old key: outstanding tokens stop working, new ones work', async () => {
    const device = await login(t.app);
    const oldToken = device.token;
    const kid = await t.bff.admin.emergencyRotateKeys();
    expect((await me(t.app, oldToken)).status).toBe(401);
    const jwks = (await request(t.app).get('/auth/jwks.json')).body.keys.map((k: { kid: string }) => k.kid);
    expect(jwks).toEqual([kid]);
    expect((await refresh(t.app, device)).status).toBe(200);
    expect((await me(t.app, device.token)).status).toBe(200);
  });

  it('another BFF instance on the same store shares the key ring and sees an emergency rotation', async () => {
    const other = await startTestBff({}, t.store);
    const device = await login(t.app);
    expect((await me(other.app, device.token)).status).toBe(200);
    await other.bff.admin.emergencyRotateKeys();
    expect((await me(t.app, device.token)).status).toBe(401);
    const fresh = await login(other.app);
    expect((await me(t.app, fresh.token)).status).toBe(200);
  });
});
