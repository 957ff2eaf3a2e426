/**
 * One benchmark target per process, chosen by BENCH_VARIANT, so each variant gets a core of its own:
 * - unguarded:  the route with no authentication at all;
 * - latchkey:   the route behind Latchkey's guard (verified-token cache + local revocation view, Redis store);
 * - jose:       the usual baseline: jose `jwtVerify` on every request (key from the BFF's JWKS);
 * - jose-redis: that baseline plus one Redis GET per request for a jti deny list.
 * For latchkey, BENCH_OTEL_PROVIDER=1 registers an OpenTelemetry tracer provider first (spans recorded, then
 * dropped), and BENCH_LATCHKEY_TRACING=off passes `tracing: { enabled: false }`.
 */
import express, { type RequestHandler } from 'express';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createBff, RedisStore } from '@latchkey/bff';

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
