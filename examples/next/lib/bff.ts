import { createBff, MemoryStore, RedisStore, type Bff } from '@latchkey/bff';

const ACCOUNTS: Record<string, { id: string; name: string; password: string }> = {
  alice: { id: 'user-alice', name: 'Alice Liddell', password: 'wonderland' },
  bob: { id: 'user-bob', name: 'Bob the Builder', password: 'builder' },
};

/**
 * The BFF, one per process. Next.js may load this module once per bundle (route handlers, server components), so
 * the instance lives on globalThis: one key ring, one revocation view, one session cache for the whole server.
 */
const holder = globalThis as typeof globalThis & { latchkeyBff?: Promise<Bff> };

export function getBff(): Promise<Bff> {
  holder.latchkeyBff ??= start();
  return holder.latchkeyBff;
}

async function start(): Promise<Bff> {
  const port = process.env.PORT ?? '3000';
  const secret = process.env.LATCHKEY_SECRET ?? `ephemeral-${crypto.randomUUID()}-${crypto.randomUUID()}`;
  if (process.env.LATCHKEY_SECRET === undefined) console.warn('LATCHKEY_SECRET is not set: using an ephemeral secret (sessions end when the server stops).');
  const issuer = process.env.LATCHKEY_ISSUER ?? `http://localhost:${port}`;
  return createBff({
    store: process.env.REDIS_URL ? await RedisStore.connect({ url: process.env.REDIS_URL }) : new MemoryStore(),
    secrets: [secret],
    tokens: { issuer, ttlSeconds: Number(process.env.LATCHKEY_ACCESS_TTL ?? 300) },
    // The pages' own origin: the BFF refuses a cookie-authenticated request from any other.
    origins: { allowed: [new URL(issuer).origin] },
    authenticate: async (username, password) => {
      const account = ACCOUNTS[username];
      return account && account.password === password ? { id: account.id, name: account.name } : null;
    },
  });
}
