/**
 * One benchmark target per process, chosen by BENCH_VARIANT, so each variant gets a core of its own:
 * - unguarded:  the route with no authentication at all;
 * - latchkey:   the route behind Latchkey's guard (verified-token cache + local revocation view, Redis store);
 * - jose:       the usual baseline: jose `jwtVerify` on every request (key from the BFF's JWKS);
 * - jose-redis: that baseline plus one Redis GET per request for a jti deny list;
 * - proxy:       `bff.proxy` at /p in front of BENCH_UPSTREAM (cookie + X-CSRF in, a Latchkey token attached);
 * - plain-proxy: the same upstream through undici with no authentication at all (the library's own cost);
 *   plain-proxy-relay: the same, relaying the answer as bff.proxy does.
 * The unguarded target also serves /sse: a server-sent event stream that stays open (memory per proxied stream).
 * For latchkey, BENCH_OTEL_PROVIDER=1 registers an OpenTelemetry tracer provider first (spans recorded, then
 * dropped), and BENCH_LATCHKEY_TRACING=off passes `tracing: { enabled: false }`.
 */
import express, { type RequestHandler } from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { pipeline } from 'node:stream';
import { Agent, request } from 'undici';
import { createBff, RedisStore } from '@latchkey/bff';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// A full collection before each memory reading, so that per-stream figures count live memory, not the garbage the
// throughput rounds left behind (a reading taken before a collection and one after made the difference negative).
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
const liveMemory = (): NodeJS.MemoryUsage => {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage();
};

const variant = process.env.BENCH_VARIANT ?? 'unguarded';
const port = Number(process.env.PORT);
const issuer = process.env.BENCH_ISSUER ?? 'http://bench.local';
const redisUrl = process.env.REDIS_URL ?? '';
const secret = process.env.LATCHKEY_SECRET ?? 'bench-secret-0123456789-abcdefghijklmnopqr';

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', 'loopback');
const payload = { ok: true };
const handler: RequestHandler = (_req, res) => void res.json(payload);

async function main(): Promise<void> {
  if (variant === 'unguarded') {
    app.get('/r', handler);
    app.get('/sse', (req, res) => {
      res.set({ 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store' }).flushHeaders();
      res.write('data: open\n\n');
      const timer = setInterval(() => res.write(': heartbeat\n\n'), 15_000);
      req.on('close', () => clearInterval(timer));
    });
  } else if (variant === 'proxy') {
    const bff = await createBff({
      store: await RedisStore.connect({ url: redisUrl }),
      secrets: [secret],
      tokens: { issuer },
      origins: { allowed: [new URL(issuer).origin] },
      logger: pino({ level: 'error' }),
      rateLimit: { login: { perIp: { limit: 1_000_000, windowMs: 60_000 }, perAccount: { limit: 1_000_000, windowMs: 60_000 } } },
      authenticate: async (username) => ({ id: `user-${username}`, name: username }),
    });
    app.use('/auth', bff.router);
    app.use('/p', bff.proxy({ target: process.env.BENCH_UPSTREAM!, token: 'latchkey' }));
    app.get('/memory', (_req, res) => void res.json(liveMemory()));
  } else if (variant === 'plain-proxy' || variant === 'plain-proxy-relay') {
    const target = process.env.BENCH_UPSTREAM!;
    const agent = new Agent({ headersTimeout: 30_000, bodyTimeout: 30_000 });
    // What any undici-based proxy does at the least: forward the path, stream the answer back. plain-proxy flushes the
    // headers and uses stream.pipeline; plain-proxy-relay streams the answer as bff.proxy does (headers sent with a
    // body of known length in one write, piped without pipeline's per-call AbortController), so the two ratios
    // separate the cost of authentication from that of relaying.
    const relay = variant === 'plain-proxy-relay';
    app.use('/p', async (req, res) => {
      try {
        const upstream = await request(`${target}${req.url}`, {
          dispatcher: agent,
          method: req.method as 'GET',
          headers: { accept: req.get('accept') ?? '*/*' },
        });
        res.status(upstream.statusCode);
        for (const name of ['content-type', 'cache-control', 'content-length']) if (upstream.headers[name]) res.setHeader(name, upstream.headers[name]!);
        if (!relay) {
          res.flushHeaders();
          pipeline(upstream.body, res, () => undefined);
          return;
        }
        if (upstream.headers['content-length'] === undefined) res.flushHeaders();
        upstream.body.on('error', () => res.destroy());
        res.once('close', () => {
          if (!upstream.body.readableEnded) upstream.body.destroy();
        });
        upstream.body.pipe(res);
      } catch {
        res.status(502).end();
      }
    });
    app.get('/memory', (_req, res) => void res.json(liveMemory()));
  } else if (variant === 'latchkey') {
    if (process.env.BENCH_OTEL_PROVIDER === '1') (await import('./tracing-setup.js')).registerDiscardingTracerProvider();
    const bff = await createBff({
      tracing: { enabled: process.env.BENCH_LATCHKEY_TRACING !== 'off' },
      store: await RedisStore.connect({ url: redisUrl }),
      secrets: [secret],
      tokens: { issuer },
      origins: { allowed: [new URL(issuer).origin] },
      logger: pino({ level: 'error' }),
      rateLimit: {
        login: { perIp: { limit: 1_000_000, windowMs: 60_000 }, perAccount: { limit: 1_000_000, windowMs: 60_000 } },
        // The refresh benchmark rotates each device in a tight loop.
        refresh: { perIp: { limit: 1_000_000_000, windowMs: 60_000 }, perSession: { limit: 1_000_000_000, windowMs: 60_000 } },
      },
      authenticate: async (username) => ({ id: `user-${username}`, name: username }),
    });
    app.use('/auth', bff.router);
    app.get('/r', bff.requireAuth(), handler);
    app.use(bff.errorHandler);
  } else {
    const jwks = createLocalJWKSet(JSON.parse(process.env.BENCH_JWKS ?? '{"keys":[]}'));
    const redis = variant === 'jose-redis' ? new Redis(redisUrl) : null;
    app.get(
      '/r',
      async (req, res, next) => {
        try {
          const token = (req.headers.authorization ?? '').slice(7);
          const { payload: claims } = await jwtVerify(token, jwks, { issuer, audience: issuer, algorithms: ['ES256'], typ: 'at+jwt' });
          if (redis && (await redis.get(`rv:jti:${claims.jti}`)) !== null) return void res.status(401).end();
          next();
        } catch {
          res.status(401).end();
        }
      },
      handler,
    );
  }
  app.get('/ready', (_req, res) => void res.end('ok'));
  app.listen(port, '127.0.0.1');
  // Exit normally on a signal, so --cpu-prof can write its profile.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(0));
}

main().catch((error: unknown) => {
  process.stderr.write(`bench target ${variant} failed: ${String(error)}\n`);
  process.exit(1);
});
