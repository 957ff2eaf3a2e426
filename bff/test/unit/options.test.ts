import { describe, expect, it } from 'vitest';
import { createBff, type BffOptions } from '../../src/index.js';
import { resolveBffOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ISSUER, SECRET } from '../helpers/harness.js';

const base = () => ({ store: new MemoryStore({ warnInProduction: false }), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null });

describe('createBff options', () => {
  it('rejects an unknown top-level option, naming it', async () => {
    const misspelt = { ...base(), accessTokenTTLSeconds: 60 } as unknown as BffOptions;
    await expect(createBff(misspelt)).rejects.toThrow('Invalid Latchkey BFF options: unknown option "accessTokenTTLSeconds"');
    expect(() => resolveBffOptions({ ...base(), cookies: {}, foo: 1 } as unknown as BffOptions)).toThrow(/unknown options "cookies", "foo"/);
  });

  it('refuses the flat names of the options now in groups, naming each', () => {
    const flat: Record<string, unknown> = {
      accessTokenTtlSeconds: 60,
      maxTokenBytes: 4096,
      browserTokens: false,
      maxSessionsPerUser: 5,
      sessionReadCacheSeconds: 0,
      cookieName: '__Host-x',
      allowedOrigins: ['https://app.example.test'],
      cors: true,
      issuer: ISSUER,
      audience: 'api',
      clientId: 'app',
      algorithm: 'EdDSA',
      clockSkewSeconds: 1,
      idleTimeoutSeconds: 60,
      absoluteTimeoutSeconds: 120,
      rotationGraceSeconds: 0,
      proxyRotationSeconds: 60,
      maxClaimsBytes: 10,
    };
    for (const [name, value] of Object.entries(flat)) {
      expect(() => resolveBffOptions({ ...base(), [name]: value } as unknown as BffOptions), name).toThrow(
        `Invalid Latchkey BFF options: unknown option "${name}"`,
      );
    }
    // Every option in one go: all are named in one message.
    expect(() => resolveBffOptions({ ...base(), ...flat } as unknown as BffOptions)).toThrow(/unknown options "accessTokenTtlSeconds", "maxTokenBytes", /);
  });

  it('refuses the flat rate-limit names, each with its path', () => {
    for (const name of [
      'perIp',
      'perAccountAndIp',
      'perAccount',
      'perKnownDevice',
      'refreshPerIp',
      'refreshPerSession',
      'oidcLoginPerIp',
      'clientAuthPerIp',
      'clientAuthPerClient',
    ]) {
      expect(() => resolveBffOptions({ ...base(), rateLimit: { [name]: { limit: 1, windowMs: 1000 } } } as unknown as BffOptions), name).toThrow(
        `Invalid Latchkey BFF options: unknown option "rateLimit.${name}"`,
      );
    }
  });

  it('rejects unknown keys inside the groups, rateLimit, scopePolicies and a limit, with their path', () => {
    expect(() => resolveBffOptions({ ...base(), tokens: { issuer: ISSUER, ttl: 60 } } as unknown as BffOptions)).toThrow(/unknown option "tokens\.ttl"/);
    expect(() => resolveBffOptions({ ...base(), session: { idleTimeout: 60 } } as unknown as BffOptions)).toThrow(/unknown option "session\.idleTimeout"/);
    expect(() => resolveBffOptions({ ...base(), cookie: { domain: 'example.test' } } as unknown as BffOptions)).toThrow(/unknown option "cookie\.domain"/);
    expect(() => resolveBffOptions({ ...base(), origins: { allowedOrigins: [] } } as unknown as BffOptions)).toThrow(
      /unknown option "origins\.allowedOrigins"/,
    );
    expect(() => resolveBffOptions({ ...base(), rateLimit: { login: { perIP: { limit: 1, windowMs: 1000 } } } } as unknown as BffOptions)).toThrow(
      /unknown option "rateLimit\.login\.perIP"/,
    );
    expect(() => resolveBffOptions({ ...base(), rateLimit: { refresh: { perIp: { limit: 1, windowMs: 1000, burst: 2 } } } } as unknown as BffOptions)).toThrow(
      /unknown option "rateLimit\.refresh\.perIp\.burst"/,
    );
    expect(() => resolveBffOptions({ ...base(), scopePolicies: { admin: { onStoreUnavailable: 'closed', staleness: 1 } } } as unknown as BffOptions)).toThrow(
      /unknown option "scopePolicies\.admin\.staleness"/,
    );
    expect(() => resolveBffOptions({ ...base(), eventStreams: { maxPerUsers: 2 } } as unknown as BffOptions)).toThrow(
      /unknown option "eventStreams\.maxPerUsers"/,
    );
  });

  it('requires tokens.issuer', () => {
    const { tokens: _tokens, ...withoutTokens } = base();
    expect(() => resolveBffOptions(withoutTokens as unknown as BffOptions)).toThrow(/Invalid Latchkey BFF options: tokens: /);
    expect(() => resolveBffOptions({ ...base(), tokens: {} } as unknown as BffOptions)).toThrow(/Invalid Latchkey BFF options: tokens\.issuer: /);
  });

  it('accepts every documented option and returns a frozen, fully-defaulted object, grouped as given', () => {
    const options = resolveBffOptions(base());
    expect(Object.isFrozen(options)).toBe(true);
    for (const group of [
      options.tokens,
      options.session,
      options.cookie,
      options.cookie.attributes,
      options.origins,
      options.rateLimit,
      options.rateLimit.login,
    ])
      expect(Object.isFrozen(group)).toBe(true);
    expect(Object.isFrozen(options.rateLimit.refresh.perSession)).toBe(true);
    expect(options).toMatchObject({
      tokens: {
        issuer: ISSUER,
        audience: ISSUER,
        audienceIsDefault: true,
        clientId: 'latchkey',
        algorithm: 'ES256',
        ttlSeconds: 300,
        clockSkewSeconds: 5,
        maxBytes: 4096,
        maxClaimsBytes: 1024,
        browser: true,
      },
      session: {
        // NIST SP 800-63B AAL2's inactivity bound; the absolute one stays 30 days (docs/security.md#session-lifetime).
        idleTimeoutSeconds: 30 * 60,
        absoluteTimeoutSeconds: 30 * 24 * 3600,
        maxPerUser: 50,
        rotationGraceSeconds: 15,
        proxyRotationSeconds: 300,
        readCacheSeconds: 5,
        validateCacheSeconds: 60,
      },
      cookie: { name: '__Host-latchkey', attributes: { secure: true, sameSite: 'strict', httpOnly: true, path: '/' } },
      origins: { cors: false },
      rateLimit: {
        login: {
          perIp: { limit: 30, windowMs: 60_000 },
          perAccountAndIp: { limit: 5, windowMs: 900_000 },
          perAccount: { limit: 100, windowMs: 900_000 },
          perKnownDevice: { limit: 5, windowMs: 900_000 },
        },
        refresh: { perIp: { limit: 1200, windowMs: 60_000 }, perSession: { limit: 60, windowMs: 60_000 } },
        oidcLogin: { perIp: { limit: 30, windowMs: 60_000 } },
        clientAuth: { perIp: { limit: 20, windowMs: 60_000 }, perClient: { limit: 100, windowMs: 60_000 } },
      },
      dangerouslyAllowInsecureHttp: false,
      scopePolicies: {},
    });
    expect(options.origins.allowed).toBeUndefined();
  });

  it('keeps the defaults of a group’s other fields when one is given', () => {
    const options = resolveBffOptions({
      ...base(),
      tokens: { issuer: ISSUER, audience: ['api-a', 'api-b'], ttlSeconds: 60 },
      session: { maxPerUser: 3 },
      cookie: { name: '__Host-app' },
      origins: { allowed: ['https://app.example.test/some/path'], cors: true },
      rateLimit: { refresh: { perSession: { limit: 2, windowMs: 1000 } } },
    });
    expect(options.tokens).toMatchObject({ audience: ['api-a', 'api-b'], audienceIsDefault: false, ttlSeconds: 60, clockSkewSeconds: 5, maxBytes: 4096 });
    expect(options.session).toMatchObject({ maxPerUser: 3, idleTimeoutSeconds: 30 * 60, rotationGraceSeconds: 15 });
    expect(options.cookie.name).toBe('__Host-app');
    // Origins, not URLs: what an Origin header is compared with.
    expect(options.origins).toEqual({ allowed: ['https://app.example.test'], cors: true });
    expect(options.rateLimit.refresh).toEqual({ perIp: { limit: 1200, windowMs: 60_000 }, perSession: { limit: 2, windowMs: 1000 } });
    expect(options.rateLimit.login.perIp).toEqual({ limit: 30, windowMs: 60_000 });
  });

  it('derives the plain-http cookie name and attributes from dangerouslyAllowInsecureHttp', () => {
    const options = resolveBffOptions({ ...base(), dangerouslyAllowInsecureHttp: true });
    expect(options.cookie).toEqual({ name: 'latchkey', attributes: { secure: false, sameSite: 'strict', httpOnly: true, path: '/' } });
  });

  it('checks the options that depend on each other, naming them by their group', () => {
    expect(() => resolveBffOptions({ ...base(), session: { idleTimeoutSeconds: 120, absoluteTimeoutSeconds: 60 } })).toThrow(
      'Invalid Latchkey BFF options: session.absoluteTimeoutSeconds must be >= session.idleTimeoutSeconds',
    );
    expect(() => resolveBffOptions({ ...base(), session: { rotationGraceSeconds: 30, proxyRotationSeconds: 30 } })).toThrow(
      'Invalid Latchkey BFF options: session.proxyRotationSeconds must be greater than session.rotationGraceSeconds',
    );
    expect(() => resolveBffOptions({ ...base(), origins: { cors: true } })).toThrow('Invalid Latchkey BFF options: origins.cors needs origins.allowed');
    expect(() => resolveBffOptions({ ...base(), tokens: { issuer: ISSUER, maxBytes: 1024, maxClaimsBytes: 1 } })).toThrow(
      'Invalid Latchkey BFF options: tokens.maxClaimsBytes is too large for tokens.maxBytes',
    );
    expect(resolveBffOptions({ ...base(), tokens: { issuer: ISSUER, maxBytes: 2048 } }).tokens.maxClaimsBytes).toBe(768);
    expect(() => resolveBffOptions({ ...base(), cookie: { name: 'latchkey' } })).toThrow(
      'Invalid Latchkey BFF options: cookie.name must start with __Host- (or set dangerouslyAllowInsecureHttp)',
    );
    expect(() => resolveBffOptions({ ...base(), tokens: { issuer: ISSUER, ttlSeconds: 3601 } })).toThrow(/tokens\.ttlSeconds: /);
    expect(() => resolveBffOptions({ ...base(), rateLimit: { login: { perIp: { limit: 1, windowMs: 10 } } } })).toThrow(
      /rateLimit\.login\.perIp\.windowMs: windowMs must be at least 1000/,
    );
  });
});
