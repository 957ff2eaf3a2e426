/**
 * The `oidc` option: providers keyed by name, client authentication as one field, the combinations only the whole
 * list shows (one provider per issuer, one callback path per provider, the default), and `errorRedirect`'s browser
 * detection.
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { resolveBffOptions, type BffOptions } from '../../src/options.js';
import { prefersPage, withAuthError } from '../../src/oidc/error-redirect.js';

const APP = 'https://app.example';
const base = (oidc: unknown): BffOptions =>
  ({
    store: new MemoryStore({ warnInProduction: false }),
    secrets: ['s'.repeat(32)],
    tokens: { issuer: APP },
    authenticate: async () => null,
    oidc,
  }) as BffOptions;
const corp = {
  issuer: 'https://login.corp.example',
  clientId: 'app',
  clientAuth: { method: 'client_secret_basic', secret: 'x' },
  redirectUri: `${APP}/auth/oidc/callback`,
};
const github = {
  type: 'oauth',
  authorizationEndpoint: 'https://github.com/login/oauth/authorize',
  tokenEndpoint: 'https://github.com/login/oauth/access_token',
  userinfoEndpoint: 'https://api.github.com/user',
  clientId: 'gh',
  clientAuth: { method: 'client_secret_post', secret: 'y' },
  redirectUri: `${APP}/auth/oidc/callback/github`,
  userinfo: (p: Record<string, unknown>) => ({ id: `github|${String(p.id)}`, name: String(p.login) }),
};
const resolve = (oidc: unknown) => resolveBffOptions(base(oidc)).oidc!;

describe('oidc options', () => {
  it('one provider: it is the default; OIDC scopes and the shared callback by default', () => {
    const oidc = resolve({ providers: { corp } });
    expect(oidc.defaultProvider).toBe('corp');
    expect(oidc.providers).toEqual([
      expect.objectContaining({ name: 'corp', type: 'oidc', scopes: ['openid', 'profile', 'email'], callbackName: null, refreshMarginSeconds: 30 }),
    ]);
    expect(Object.isFrozen(oidc.providers[0])).toBe(true);
  });

  it('several: OIDC and OAuth side by side, each its own callback path, no default unless named', () => {
    const oidc = resolve({ providers: { corp, github } });
    expect(oidc.defaultProvider).toBeUndefined();
    expect(oidc.providers.map((p) => [p.name, p.type, p.callbackName, p.scopes])).toEqual([
      ['corp', 'oidc', null, ['openid', 'profile', 'email']],
      ['github', 'oauth', 'github', []],
    ]);
    expect(resolve({ providers: { corp, github }, defaultProvider: 'github' }).defaultProvider).toBe('github');
  });

  it.each([
    [{ providers: {} }, /name at least one provider/],
    [{ providers: { Corp: corp } }, /a provider name is 1-32 of a-z/],
    [{ providers: { corp, github }, defaultProvider: 'gitlab' }, /defaultProvider names no provider \(gitlab\)/],
    [{ providers: { corp, other: { ...corp, redirectUri: `${APP}/auth/oidc/callback/other` } } }, /corp and other have the same issuer/],
    [{ providers: { corp, other: { ...corp, issuer: 'https://other.example' } } }, /each needs its own redirectUri/],
    [{ providers: { corp: { ...corp, redirectUri: `${APP}/auth/oidc/callback/github` } } }, /the name there must be the provider's own \(corp\)/],
    [{ providers: { corp: { ...corp, clientSecret: 'x' } } }, /unknown option "oidc\.providers\.corp\.clientSecret"/],
    [{ providers: { corp: { ...corp, clientAuth: { method: 'private_key_jwt', secret: 'x' } } } }, /oidc\.providers\.corp\.clientAuth/],
    [{ providers: { corp: { ...corp, scopes: ['profile'] } } }, /scopes must include openid/],
    [{ providers: { corp: { ...corp, issuer: undefined } } }, /oidc\.providers\.corp\.issuer: required for type 'oidc'/],
    [{ providers: { github: { ...github, userinfo: undefined } } }, /oidc\.providers\.github\.userinfo: required for type 'oauth'/],
    [{ providers: { github: { ...github, issuer: 'https://github.com' } } }, /oidc\.providers\.github\.issuer: only for type 'oidc'/],
    [{ providers: { corp: { ...corp, userinfo: github.userinfo } } }, /oidc\.providers\.corp\.userinfo: only for type 'oauth'/],
    [{ providers: { corp }, errorRedirect: '//evil.example' }, /errorRedirect must be a path on this site/],
  ])('refuses %j', (oidc, message) => {
    expect(() => resolve(oidc)).toThrow(message);
  });

  it('accepts private_key_jwt as the one client authentication', () => {
    const privateJwk = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', d: 'd' };
    expect(resolve({ providers: { corp: { ...corp, clientAuth: { method: 'private_key_jwt', privateJwk } } } }).providers[0]!.clientAuth).toEqual({
      method: 'private_key_jwt',
      privateJwk,
    });
  });
});

describe('errorRedirect', () => {
  it.each([
    ['text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8', true],
    ['text/html', true],
    ['application/json', false],
    ['application/json, text/html;q=0.5', false],
    ['text/html;q=0.9, application/json;q=0.9', true],
    ['*/*', false],
    ['', false],
  ])('Accept %j prefers a page: %s', (accept, expected) => {
    expect(prefersPage(accept)).toBe(expected);
  });

  it('adds auth_error to the query, keeping a path a path', () => {
    expect(withAuthError('/', 'access_denied')).toBe('/?auth_error=access_denied');
    expect(withAuthError('/app?x=1#h', 'oidc_login_failed')).toBe('/app?x=1&auth_error=oidc_login_failed#h');
    expect(withAuthError('https://app.example/a?auth_error=old', 'temporarily_unavailable')).toBe('https://app.example/a?auth_error=temporarily_unavailable');
  });
});
