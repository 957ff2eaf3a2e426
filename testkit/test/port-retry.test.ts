import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/free-port.js';
import { retryOnPortTaken } from '../src/port-retry.js';

const listen = (port: number) =>
  new Promise<() => Promise<void>>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(() => new Promise((done) => server.close(() => done()))));
  });

describe('retryOnPortTaken', () => {
  it('starts again on a fresh port when the chosen one was taken in between', async () => {
    const taken = await freePort();
    const closeTaken = await listen(taken); // another process got there first
    const tried: number[] = [];
    try {
      const close = await retryOnPortTaken(async () => {
        const port = tried.length === 0 ? taken : await freePort();
        tried.push(port);
        return listen(port);
      });
      await close();
    } finally {
      await closeTaken();
    }
    expect(tried).toHaveLength(2);
    expect(tried[0]).toBe(taken);
    expect(tried[1]).not.toBe(taken);
  });

  it('passes other failures on at once, and gives up after its attempts', async () => {
    let calls = 0;
    await expect(
      retryOnPortTaken(async () => {
        calls++;
        throw new Error('redis-server exited during startup: bad config');
      }),
    ).rejects.toThrow('bad config');
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      retryOnPortTaken(async () => {
        calls++;
        throw new Error('Could not create server TCP listening socket: bind: Address already in use');
      }, 3),
    ).rejects.toThrow('Address already in use');
    expect(calls).toBe(3);
  });
});
