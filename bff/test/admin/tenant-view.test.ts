import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RevocationView } from '../../src/guard/revocation-view.js';
import { MemoryStore } from '../../src/store/memory.js';

const claims = (iat: number, tenant?: string) => ({
  iss: 'i',
  sub: 'u',
  aud: 'a',
  sid: 's',
  jti: 'j',
  iat,
  exp: iat + 60,
  client_id: 'c',
  ...(tenant === undefined ? {} : { tenant }),
});

describe('the guard’s view of tenant revocations', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const done of cleanup.splice(0)) await done();
  });

  it('rejects the tenant’s tokens issued before the revocation’s second, and nothing else', async () => {
    const store = new MemoryStore({ warnInProduction: false });
    const view = new RevocationView({ store, logger: pino({ level: 'silent' }), pollBlockMs: 50 });
    cleanup.push(
      () => view.stop(),
      () => store.close(),
    );
    await view.start();
    // Mid-second, as a real revocation usually is.
    const revokedAfter = (Math.floor(Date.now() / 1000) - 10) * 1000 + 700;
    const second = Math.floor(revokedAfter / 1000);
    await store.revokeTenant('acme', revokedAfter, Date.now(), 60_000);

    await vi.waitFor(() => expect(view.isRevoked(claims(second - 1, 'acme'))).toBe(true));
    // iat counts whole seconds: a token of the revocation's own second may have been issued after it (a new login).
    expect(view.isRevoked(claims(second, 'acme'))).toBe(false);
    expect(view.isRevoked(claims(second + 1, 'acme'))).toBe(false);
    expect(view.isRevoked(claims(second - 1, 'globex'))).toBe(false);
    expect(view.isRevoked(claims(second - 1))).toBe(false);
    expect(view.isSessionRevoked('s', 'u', revokedAfter - 1, 'acme')).toBe(true);
    expect(view.isSessionRevoked('s', 'u', revokedAfter, 'acme')).toBe(false);
    expect(view.isSessionRevoked('s', 'u', revokedAfter - 1)).toBe(false);
    expect(view.size).toBe(1);

    // A view started later learns it from the log's replay.
    const late = new RevocationView({ store, logger: pino({ level: 'silent' }), pollBlockMs: 50 });
    cleanup.push(() => late.stop());
    await late.start();
    expect(late.isRevoked(claims(second - 1, 'acme'))).toBe(true);
  });
});
