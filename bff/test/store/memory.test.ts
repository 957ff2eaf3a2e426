import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { TestClock } from '../helpers/test-clock.js';
import { runStoreContract } from './contract.js';

runStoreContract('MemoryStore', async () => {
  const clock = new TestClock();
  const store = new MemoryStore({ warnInProduction: false, clock });
  return { store, clock, teardown: () => store.close() };
});

describe('MemoryStore', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('warns once per process in production that it is per-process and forgets on restart', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    const emitWarning = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);

    const quiet = new MemoryStore({ warnInProduction: false });
    expect(emitWarning).not.toHaveBeenCalled();
    const stores = [new MemoryStore(), new MemoryStore()];

    expect(emitWarning).toHaveBeenCalledTimes(1);
    expect(emitWarning).toHaveBeenCalledWith(expect.stringMatching(/per-process/), { code: 'LATCHKEY_MEMORY_STORE' });
    await Promise.all([quiet, ...stores].map((s) => s.close()));
  });

  it('is unusable after close', async () => {
    const store = new MemoryStore({ warnInProduction: false });
    await store.close();
    await expect(store.getKeyRing()).rejects.toMatchObject({ name: 'StoreUnavailableError' });
  });
});
