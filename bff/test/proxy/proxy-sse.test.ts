/**
 * Server-sent events through `bff.proxy`: each event reaches the browser as the upstream writes it (nothing waits for
 * the end of the stream), a foreign Origin never reaches the upstream, and a browser that leaves ends the upstream's
 * stream. Real servers on real sockets.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ProxyOptions } from '../../src/index.js';
import { login, startTestBff, type Device, type TestBff } from '../helpers/harness.js';

let t: TestBff;
let upstream: Server;
let bffServer: Server;
let bffUrl: string;
/** Per stream the upstream serves: release() lets it write its last event and end; `ended`/`gone` tell what happened. */
let streams: Array<{ release: () => void; ended: boolean; gone: Promise<void> }>;

beforeEach(async () => {
  t = await startTestBff();
  streams = [];
  const app = express();
  app.get('/v1/ticks', (req, res) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const entry = { release, ended: false, gone: new Promise<void>((resolve) => req.on('close', () => resolve())) };
    streams.push(entry);
    res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' }).flushHeaders();
    res.write('id: 1\ndata: one\n\n');
    void released.then(() => {
      entry.ended = true;
      res.end('id: 2\ndata: two\n\n');
    });
  });
  upstream = createServer(app);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const target = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/v1`;
  t.app.use('/events-api', t.bff.proxy({ target, token: 'latchkey' } as ProxyOptions));
  bffServer = createServer(t.app);
  await new Promise<void>((resolve) => bffServer.listen(0, '127.0.0.1', resolve));
  bffUrl = `http://127.0.0.1:${(bffServer.address() as AddressInfo).port}`;
});

afterEach(async () => {
  for (const s of streams) s.release();
  bffServer.closeAllConnections();
  upstream.closeAllConnections();
  await new Promise((resolve) => bffServer.close(resolve));
  await new Promise((resolve) => upstream.close(resolve));
  await t.close();
});

/** A GET on a real socket, as a page's fetch would send it; resolves with the response as soon as its headers arrive. */
function open(path: string, device: Device, headers: Record<string, string> = {}): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${bffUrl}${path}`, { headers: { Cookie: device.cookie, 'X-CSRF': '1', Accept: 'text/event-stream', ...headers } }, resolve);
    req.on('error', reject);
    req.end();
  });
}

const firstChunk = (res: IncomingMessage) => new Promise<string>((resolve) => res.once('data', (chunk: Buffer) => resolve(chunk.toString())));

describe('bff.proxy: server-sent events', () => {
  it('the first event reaches the browser while the upstream’s stream is still open (no buffering)', async () => {
    const device = await login(t.app);
    const res = await open('/events-api/ticks', device);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(await firstChunk(res)).toBe('id: 1\ndata: one\n\n');
    expect(streams).toHaveLength(1);
    expect(streams[0]!.ended).toBe(false);
    let rest = '';
    res.on('data', (chunk: Buffer) => (rest += chunk.toString()));
    const done = new Promise((resolve) => res.on('end', resolve));
    streams[0]!.release();
    await done;
    expect(rest).toBe('id: 2\ndata: two\n\n');
  });

  it('a foreign Origin is refused before anything reaches the upstream', async () => {
    const device = await login(t.app);
    const res = await open('/events-api/ticks', device, { Origin: 'https://evil.example' });
    expect(res.statusCode).toBe(403);
    let body = '';
    for await (const chunk of res) body += String(chunk);
    expect(JSON.parse(body)).toMatchObject({ error: 'csrf_rejected' });
    expect(streams).toEqual([]);
  });

  it('a browser that leaves ends the upstream’s stream', async () => {
    const device = await login(t.app);
    const res = await open('/events-api/ticks', device);
    await firstChunk(res);
    res.destroy();
    await streams[0]!.gone;
    expect(streams[0]!.ended).toBe(false);
  });
});
