import { describe, expect, it } from 'vitest';
import { createBff, type BffOptions } from '../../src/index.js';
import { resolveBffOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ISSUER, SECRET } from '../helpers/harness.js';

const base = () => ({ store: new MemoryStore({ warnInProduction: false }), secrets: [SECRET], issuer: ISSUER, authenticate: async () => null });

describe('createBff options', () => {
  it('rejects an unknown top-level option, naming it', async () => {
    const misspelt = { ...base(), accessTokenTTLSeconds: 60 } as unknown as BffOptions;
    await expect(createBff(misspelt)).rejects.toThrow('Invalid Latchkey BFF options: unknown option "accessTokenTTLSeconds"');
    expect(() => resolveBffOptions({ ...base(), cookie: {}, foo: 1 } as unknown as BffOptions)).toThrow(/unknown options "cookie", "foo"/);
  });

  it('rejects unknown keys inside rateLimit, scopePolicies and a limit, with their path', () => {
    expect(() => resolveBffOptions({ ...base(), rateLimit: { perIP: { limit: 1, windowMs: 1000 } } } as unknown as BffOptions)).toThrow(
      /unknown option "rateLimit\.perIP"/,
    );
    expect(() => resolveBffOptions({ ...base(), rateLimit: { perIp: { limit: 1, windowMs: 1000, burst: 2 } } } as unknown as BffOptions)).toThrow(
      /unknown option "rateLimit\.perIp\.burst"/,
    );
    expect(() => resolveBffOptions({ ...base(), scopePolicies: { admin: { onStoreUnavailable: 'closed', staleness: 1 } } } as unknown as BffOptions)).toThrow(
      /unknown option "scopePolicies\.admin\.staleness"/,
    );
    expect(() => resolveBffOptions({ ...base(), eventStreams: { maxPerUsers: 2 } } as unknown as BffOptions)).toThrow(
      /unknown option "eventStreams\.maxPerUsers"/,
    );
  });

  it('accepts every documented option and returns a frozen, fully-defaulted object', () => {
    const options = resolveBffOptions(base());
    expect(Object.isFrozen(options)).toBe(true);
    expect(options).toMatchObject({
      audience: ISSUER,
      clientId: 'latchkey',
      algorithm: 'ES256',
      accessTokenTtlSeconds: 300,
      clockSkewSeconds: 5,
      // NIST SP 800-63B AAL2's inactivity bound; the absolute one stays 30 days (docs/security.md#session-lifetime).
      idleTimeoutSeconds: 30 * 60,
      absoluteTimeoutSeconds: 30 * 24 * 3600,
      session: { validateCacheSeconds: 60 },
      rotationGraceSeconds: 15,
      cookieName: '__Host-latchkey',
      dangerouslyAllowInsecureHttp: false,
      maxTokenBytes: 4096,
      maxClaimsBytes: 1024,
      scopePolicies: {},
    });
  });
});
