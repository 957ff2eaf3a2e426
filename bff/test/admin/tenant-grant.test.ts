import { describe, expect, it } from 'vitest';
import { resolveGrantedClaims } from '../../src/tokens/custom-claims.js';

describe('the tenant grant', () => {
  it('becomes the tenant claim, from `tenant` or from a string `claims.tenant`', () => {
    expect(resolveGrantedClaims({ tenant: 'acme' }, 1024)).toEqual({ tenant: 'acme' });
    expect(resolveGrantedClaims({ claims: { tenant: 'acme', plan: 'pro' } }, 1024)).toEqual({ tenant: 'acme', plan: 'pro' });
    expect(resolveGrantedClaims({ tenant: 'acme', claims: { tenant: 'acme' }, scope: 'a' }, 1024)).toEqual({ tenant: 'acme', scope: 'a' });
    expect(resolveGrantedClaims({}, 1024)).toBeUndefined();
  });

  it.each([
    ['a different claims.tenant', { tenant: 'acme', claims: { tenant: 'globex' } }, /different claims\.tenant/],
    ['a claims.tenant that is not text', { claims: { tenant: 42 } }, /tenant/],
    ['an empty tenant', { tenant: '' }, /tenant/],
    ['a tenant over 256 characters', { tenant: 't'.repeat(257) }, /tenant/],
    ['control characters', { tenant: 'acme\n' }, /tenant/],
  ])('refuses %s', (_label, grant, reason) => {
    expect(() => resolveGrantedClaims(grant as never, 1024)).toThrow(reason);
  });
});
