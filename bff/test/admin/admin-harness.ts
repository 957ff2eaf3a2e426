import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { RedisStore } from '../../src/store/redis.js';
import { MemoryStore } from '../../src/store/memory.js';
import type { SessionStore } from '../../src/store/types.js';
import type { AuthenticatedUser } from '../../src/index.js';
import { startTestBff, USERS, type TestBff, type TestBffOverrides } from '../helpers/harness.js';

/**
 * Alice holds the admin and keys scopes (a deployment-wide administrator); bob does not. carol (tenant acme, like bob)
 * and dave (tenant globex) sign in too. erin administers tenant acme (admin and keys scopes, bound by her tenant);
 * frank is a deployment-wide administrator without the keys scope.
 */
export const ADMIN_USERS: Record<string, { id: string; name: string; password: string; grant: Partial<AuthenticatedUser> }> = {
  alice: { ...USERS.alice!, grant: { scope: 'latchkey:admin latchkey:keys read:feed' } },
  erin: { id: 'user-erin', name: 'Erin', password: 'erinpass', grant: { tenant: 'acme', scope: 'latchkey:admin latchkey:keys' } },
  frank: { id: 'user-frank', name: 'Frank', password: 'frankpass', grant: { scope: 'latchkey:admin' } },
  bob: { ...USERS.bob!, grant: { tenant: 'acme' } },
  carol: { id: 'user-carol', name: 'Carol', password: 'carolpass', grant: { tenant: 'acme' } },
  dave: { id: 'user-dave', name: 'Dave', password: 'davepass', grant: { tenant: 'globex' } },
};

/** A test BFF with `bff.adminRouter()` mounted at /admin, and the four users above. */
export async function startAdminBff(
  store: SessionStore,
  overrides: TestBffOverrides = {},
  adminOptions?: Parameters<TestBff['bff']['adminRouter']>[0],
): Promise<TestBff> {
  const t = await startTestBff(
    {
      authenticate: async (username, password) => {
        const user = ADMIN_USERS[username];
        return user && user.password === password ? ({ id: user.id, name: user.name, ...user.grant } as AuthenticatedUser) : null;
      },
      ...overrides,
    },
    store,
  );
  t.app.use('/admin', t.bff.adminRouter(adminOptions));
  return t;
}

export async function adminLogin(t: TestBff, username: string): Promise<{ cookie: string; token: string; sid: string }> {
  const user = ADMIN_USERS[username]!;
  const res = await request(t.app).post('/auth/login').set('X-CSRF', '1').send({ username, password: user.password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  const cookie = ((res.headers['set-cookie'] as unknown as string[]) ?? []).find((l) => l.startsWith('__Host-latchkey='))!.split(';')[0]!;
  return { cookie, token: res.body.accessToken, sid: res.body.session.id };
}

export type StoreFactory = () => Promise<SessionStore>;
/** Two handles on one store, as two instances of a deployment have (the memory store: the same object). */
export type StorePairFactory = () => Promise<[SessionStore, SessionStore]>;

/** A store per test: in memory, or on the given real Redis under a fresh prefix. */
export function storeFactories(redisUrl: () => string): Array<[string, StoreFactory, StorePairFactory]> {
  const memory = () => new MemoryStore({ warnInProduction: false });
  const redis = (prefix: string) => RedisStore.connect({ url: redisUrl(), prefix });
  return [
    [
      'memory',
      async () => memory(),
      async () => {
        const store = memory();
        return [store, store];
      },
    ],
    [
      'redis',
      () => redis(`adm:${randomUUID()}:`),
      async () => {
        const prefix = `adm:${randomUUID()}:`;
        return [await redis(prefix), await redis(prefix)];
      },
    ],
  ];
}
