import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CookieJar, isSameSite } from '../src/cookie-jar.js';
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

  it('honours SameSite: cross-site, Strict never goes, Lax only on a top-level GET navigation, None always', async () => {
    const device = new HttpDevice(base);
    const set = ['strict=s; SameSite=Strict', 'lax=l; SameSite=Lax', 'none=n; SameSite=None; Secure', 'plain=p'];
    await device.call('GET', `/?${set.map((c) => `set=${encodeURIComponent(c)}`).join('&')}`);
    // The same host on another port is the same site (ports do not make sites); localhost is another site.
    const sameSite = base.replace(/:\d+$/, ':1');
    const crossSite = base.replace('127.0.0.1', 'localhost');
    const sent = async (init: Parameters<HttpDevice['request']>[1]) => (await echo(await device.request(`${base}/`, init))).cookie;

    expect(await sent({})).toBe('strict=s; lax=l; none=n; plain=p'); // typed by the user
    expect(await sent({ from: `${sameSite}/page` })).toBe('strict=s; lax=l; none=n; plain=p');
    expect(await sent({ from: `${crossSite}/page` })).toBe('lax=l; none=n; plain=p'); // a link from another site
    expect(await sent({ from: `${crossSite}/page`, method: 'POST', form: { a: '1' } })).toBe('none=n'); // a cross-site form POST
    expect(await sent({ from: `${crossSite}/page`, navigation: false })).toBe('none=n'); // a cross-site fetch
    // A redirect chain that left the site is cross-site, even when it started and ends on it.
    expect(await sent({ from: [`${base}/start`, `${crossSite}/idp`] })).toBe('lax=l; none=n; plain=p');
    // The page's own calls are same-site fetches.
    expect((await echo(await device.call('POST', '/', { body: {} }))).cookie).toBe('strict=s; lax=l; none=n; plain=p');
  });

  it('follow() carries the redirect chain: a hop back from another site sends no Strict cookie', async () => {
    const device = new HttpDevice(base);
    await device.call('GET', `/?set=${encodeURIComponent('strict=s; SameSite=Strict')}&set=${encodeURIComponent('lax=l; SameSite=Lax')}`);
    const crossSite = base.replace('127.0.0.1', 'localhost');
    // Cross-site page -> this server: the first hop is the navigation itself.
    const { last, chain } = await device.follow(`${base}/`, () => false, { from: `${crossSite}/` });
    expect((await echo(last)).cookie).toBe('lax=l');
    expect(chain).toEqual([`${crossSite}/`, `${base}/`]);
    expect(device.lastUrl).toBe(`${base}/`);
  });

  it('the jar: SameSite parsed case-insensitively, absent means Lax, a planted cookie keeps its SameSite', () => {
    const jar = new CookieJar();
    const url = 'https://app.example/';
    jar.store(url, ['a=1; samesite=STRICT; HttpOnly', 'b=2', 'c=3; SameSite=none']);
    expect(['a', 'b', 'c'].map((n) => jar.sameSiteOf(url, n))).toEqual(['strict', 'lax', 'none']);
    jar.set(url, 'a', 'planted');
    expect(jar.sameSiteOf(url, 'a')).toBe('strict');
    expect(jar.header(url, { initiators: ['https://evil.example/'], navigation: true, method: 'GET' })).toBe('b=2; c=3');
    expect(isSameSite('https://app.example/x', ['http://app.example/'])).toBe(false); // schemeful
  });
});
