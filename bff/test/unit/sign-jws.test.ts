import { compactVerify, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { SigningAlgorithm } from '../../src/keys/signing-key.js';
import { isHighS } from '../../src/tokens/ecdsa-low-s.js';
import { signCompactJws } from '../../src/tokens/sign-jws.js';

/** A ring key as the key ring loads it: imported from its stored JWK. */
async function ringKey(alg: SigningAlgorithm) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey: (await importJWK(await exportJWK(privateKey), alg)) as CryptoKey, publicKey };
}

const header = (alg: SigningAlgorithm) => ({ alg, kid: 'kid-1', typ: 'at+jwt' });
// Claims as issueAccessToken orders them, with an application claim that a registered one overrides in place.
const iat = Math.floor(Date.now() / 1000);
const payload = { iss: 'app-said', scope: 'read write', auth_time: iat - 60, amr: ['pwd'], sid: 's-1', aud: ['a', 'b'], iat, exp: iat + 300 };

describe('signCompactJws', () => {
  for (const alg of ['ES256', 'EdDSA'] as const) {
    it(`${alg}: the header and claims jose's SignJWT would sign, verified by jose`, async () => {
      const key = await ringKey(alg);
      const token = signCompactJws(header(alg), payload, key);
      const joseToken = await new SignJWT(payload).setProtectedHeader(header(alg)).sign(key.privateKey);
      expect(token.split('.').slice(0, 2)).toEqual(joseToken.split('.').slice(0, 2));
      const verified = await jwtVerify(token, key.publicKey, { algorithms: [alg], typ: 'at+jwt' });
      expect(verified.payload).toEqual(payload);
      expect(decodeProtectedHeader(token)).toEqual(header(alg));
    });

    it(`${alg}: a key of the other algorithm never signs`, async () => {
      const other = await ringKey(alg === 'ES256' ? 'EdDSA' : 'ES256');
      expect(() => signCompactJws(header(alg), payload, { alg, privateKey: other.privateKey })).toThrow(`not a private ${alg} key`);
      // Nor after the key has signed under its own algorithm.
      signCompactJws(header(other.alg), payload, other);
      expect(() => signCompactJws(header(alg), payload, { alg, privateKey: other.privateKey })).toThrow(`not a private ${alg} key`);
    });
  }

  it('ES256: every signature is in its low-S form', async () => {
    const key = await ringKey('ES256');
    // OpenSSL picks high or low S at random: without normalisation about half of these would be high-S.
    for (let i = 0; i < 40; i++) {
      const token = signCompactJws(header('ES256'), { ...payload, jti: String(i) }, key);
      await expect(compactVerify(token, key.publicKey)).resolves.toBeTruthy();
      expect(isHighS(Buffer.from(token.split('.')[2]!, 'base64url'))).toBe(false);
    }
  });
});
