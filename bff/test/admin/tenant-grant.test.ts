import { describe, expect, it } from 'vitest';
import { resolveGrantedClaims } from '../../src/tokens/custom-claims.js';

describe('the tenant grant', () => {
  it('becomes the tenant claim, from `tenant` or from a string `claims.tenant`', () => {
    expect(resolveGrantedClaims({ tenant: 'acme' }, 1024)).toEqual({ tenant: 'acme' });
    expect(resolveGrantedClaims({ claims: { tenant: 'acme', plan: 'pro' } }, 1024)).toEqual({ tenant: 'acme', plan: 'pro' });
    expect(resolveGrantedClaims({ tenant: 'acme', claims: { tenant: 'acme' }, scope: 'a' }, 1024)).toEqual({ tenant: 'acme', scope: 'a' });
    expect(resolveGrantedClaims({}, 1024)).toBeUndefined();
  });

  it('is normalised to NFC, so two spellings of one name are one tenant (and agree with claims.tenant)', () => {
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    expect(resolveGrantedClaims({ tenant: decomposed }, 1024)).toEqual({ tenant: composed });
    expect(resolveGrantedClaims({ claims: { tenant: decomposed } }, 1024)).toEqual({ tenant: composed });
    expect(resolveGrantedClaims({ tenant: composed, claims: { tenant: decomposed } }, 1024)).toEqual({ tenant: composed });
  });

  it.each([
    ['a different claims.tenant', { tenant: 'acme', claims: { tenant: 'globex' } }, /different claims\.tenant/],
    ['a claims.tenant that is not text', { claims: { tenant: 42 } }, /tenant/],
    ['an empty tenant', { tenant: '' }, /tenant/],
    ['a tenant over 256 characters', { tenant: 't'.repeat(257) }, /tenant/],
    ['control characters', { tenant: 'acme\n' }, /tenant/],
    // Unicode Cf: invisible, so `acme\u200b` would look like acme and survive acme's revocation.
    ['a zero-width space (Cf)', { tenant: 'acme\u200b' }, /format characters/],
    ['a zero-width joiner (Cf)', { tenant: 'ac\u200dme' }, /format characters/],
    ['a right-to-left override (Cf)', { tenant: '\u202eacme' }, /format characters/],
    ['a byte-order mark (Cf)', { tenant: '\ufeffacme' }, /format characters/],
    ['a soft hyphen (Cf) in claims.tenant', { claims: { tenant: 'ac\u00adme' } }, /format characters/],
  ])('refuses %s', (_label, grant, reason) => {
    expect(() => resolveGrantedClaims(grant as never, 1024)).toThrow(reason);
  });
});
