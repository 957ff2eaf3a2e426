import { decodeJwt } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { HttpDevice } from '@latchkey/testkit';
import { signIn, startOidcStack, type OidcStack } from '../helpers/oidc.js';

const CSRF = { 'X-CSRF': '1', 'Content-Type': 'application/json' };

let stack: OidcStack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

describe('OIDC mapUser grants claims and scope like authenticate', () => {
  it('the mapped claims and scope are in the token from /refresh, and in the next one', async () => {
    stack = await startOidcStack(new MemoryStore({ warnInProduction: false }), {
      mapUser: (claims) => ({ id: `${claims.iss}|${claims.sub}`, name: String(claims.name ?? claims.sub), claims: { tenant: 'acme' }, scope: ['read:feed'] }),
    });
    const browser = new HttpDevice();
    expect((await signIn(browser, stack.origin)).status).toBe(303);
    for (let i = 0; i < 2; i++) {
      const res = await browser.request(`${stack.origin}/auth/refresh`, { method: 'POST', headers: CSRF });
      expect(res.status).toBe(200);
      const { accessToken } = (await res.json()) as { accessToken: string };
      expect(decodeJwt(accessToken)).toMatchObject({ tenant: 'acme', scope: 'read:feed', sub: `${stack.idp.issuer}|idp-alice` });
    }
  });
});
