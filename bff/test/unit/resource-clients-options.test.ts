import { describe, expect, it } from 'vitest';
import type { BffOptions } from '../../src/index.js';
import { sha256 } from '../../src/crypto/hash.js';
import { resolveBffOptions } from '../../src/options.js';
import { MemoryStore } from '../../src/store/memory.js';
import { ISSUER, SECRET } from '../helpers/harness.js';

const base = () => ({ store: new MemoryStore({ warnInProduction: false }), secrets: [SECRET], tokens: { issuer: ISSUER }, authenticate: async () => null });
const CLIENT_SECRET = 'orders-api-secret-0123456789-abcdefghij';
const resolve = (resourceClients: unknown) => resolveBffOptions({ ...base(), resourceClients } as unknown as BffOptions);

describe('resourceClients option', () => {
  it('defaults to none', () => {
    expect(resolveBffOptions(base()).resourceClients).toEqual([]);
  });

  it('keeps only the SHA-256 of each secret, frozen', () => {
    const resolved = resolve([
      { id: 'orders-api', secret: CLIENT_SECRET },
      { id: 'reports', secretHash: sha256('another-secret-0123456789-abcdefghij') },
    ]);
    expect(resolved.resourceClients).toEqual([
      { id: 'orders-api', secretHash: sha256(CLIENT_SECRET), includeTenant: false },
      { id: 'reports', secretHash: sha256('another-secret-0123456789-abcdefghij'), includeTenant: false },
    ]);
    expect(JSON.stringify(resolved.resourceClients)).not.toContain(CLIENT_SECRET);
    expect(Object.isFrozen(resolved.resourceClients)).toBe(true);
    expect(Object.isFrozen(resolved.resourceClients[0])).toBe(true);
  });

  it.each([
    ['an unknown key', [{ id: 'a', secret: CLIENT_SECRET, scopes: [] }], /unknown option "resourceClients\.0\.scopes"/],
    ['both secret and secretHash', [{ id: 'a', secret: CLIENT_SECRET, secretHash: sha256(CLIENT_SECRET) }], /exactly one of secret and secretHash/],
    ['neither', [{ id: 'a' }], /exactly one of secret and secretHash/],
    ['a short secret', [{ id: 'a', secret: 'short' }], /at least 32 characters/],
    ['a malformed hash', [{ id: 'a', secretHash: 'abc' }], /secretHash must be SHA-256/],
    ['an empty id', [{ id: '', secret: CLIENT_SECRET }], /resourceClients\.0\.id/],
    ['a control character in the id', [{ id: 'a\nb', secret: CLIENT_SECRET }], /printable ASCII/],
    [
      'a repeated id',
      [
        { id: 'a', secret: CLIENT_SECRET },
        { id: 'a', secretHash: sha256('x') },
      ],
      /unique/,
    ],
  ])('refuses %s', (_case, clients, message) => {
    expect(() => resolve(clients)).toThrow(message);
  });
});
