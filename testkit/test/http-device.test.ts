import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpDevice, SESSION_COOKIE } from '../src/http-device.js';

/** A tiny stand-in for the BFF's cookie handling: it echoes what it received and sets what it is asked to. */
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    const set = url.searchParams.getAll('set');
    if (set.length > 0) res.setHeader('Set-Cookie', set);
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ cookie: req.headers.cookie ?? null, csrf: req.headers['x-csrf'] ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const echo = async (res: Response) => (await res.json()) as { cookie: string | null; csrf: string | null };

describe('HttpDevice', () => {
  it('keeps cookies like a browser: set, sent back, replaced, cleared by an empty value or Max-Age=0', async () => {
    const device = new HttpDevice(base);
    await device.call('GET', `/?set=${encodeURIComponent(`${SESSION_COOKIE}=v1; Path=/; HttpOnly`)}&set=other=1`);
    expect(device.cookie).toBe('v1');
    expect(await echo(await device.call('GET', '/'))).toEqual({ cookie: `${SESSION_COOKIE}=v1; other=1`, csrf: '1' });
    await device.call('GET', `/?set=${encodeURIComponent(`${SESSION_COOKIE}=v2`)}`);
    expect(device.cookie).toBe('v2');
    await device.call('GET', `/?set=${encodeURIComponent('other=1; Max-Age=0')}&set=${encodeURIComponent(`${SESSION_COOKIE}=`)}`);
    expect(device.cookie).toBeNull();
    expect((await echo(await device.call('GET', '/'))).cookie).toBeNull();
  });

  it('sends a planted cookie, and keeps the jar per host, not per port', async () => {
    const thief = new HttpDevice(base);
    thief.cookie = 'stolen';
    const otherPort = base.replace(/:\d+$/, ':1');
    expect(thief.cookieAt(otherPort, SESSION_COOKIE)).toBe('stolen');
    expect((await echo(await thief.call('POST', '/', { body: {} }))).cookie).toBe(`${SESSION_COOKIE}=stolen`);
  });
});
