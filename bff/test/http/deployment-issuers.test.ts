import express from 'express';
import { decodeJwt, SignJWT } from 'jose';
import { pino } from 'pino';
import request from 'supertest';
import { afterEach, describe, expect, it } from 'vitest';
import { createBff, type Bff, type BffOptions } from '../../src/index.js';
import { MemoryStore } from '../../src/store/memory.js';
import { call, login, SECRET, USERS } from '../helpers/harness.js';

/**
 * Instances that share a store and secrets share the key ring, and so are one deployment: each records its issuer in
 * the (sealed) ring, and every guard accepts the issuers recorded there. This is what lets two demo processes on
 * two ports (default issuer http://localhost:$PORT) accept each other's tokens.
 */
const store = () => new MemoryStore({ warnInProduction: false });
let started: Bff[] = [];
afterEach(async () => {
  for (const bff of started) await bff.close();
  started = [];
});

async function instance(shared: MemoryStore, options: Partial<BffOptions> & { tokens: BffOptions['tokens'] }) {
  const bff = await createBff({
    store: shared,
    secrets: [SECRET],
    logger: pino({ level: 'silent' }),
    authenticate: async (username, password) => {
      const user = USERS[username];
      return user && user.password === password ? { id: user.id, name: user.name } : null;
    },
    ...options,
  });
  started.push(bff);
  const app = express();
  app.use('/auth', bff.router);
  app.get('/api/me', bff.requireAuth(), (req, res) => void res.json({ sub: req.auth!.sub, iss: req.auth!.iss }));
  app.use(bff.errorHandler);
  return { bff, app };
}

const me = (app: express.Express, token: string) => request(app).get('/api/me').set('Authorization', `Bearer ${token}`);

describe('issuers of one deployment (recorded in the shared key ring)', () => {
  it('two instances with different default issuers accept each other’s tokens and enforce each other’s revocations', async () => {
    const shared = store();
    const a = await instance(shared, { tokens: { issuer: 'http://localhost:4001' } });
    const b = await instance(shared, { tokens: { issuer: 'http://localhost:4002' } });
    expect(
      a.bff.keyRing
        .deploymentIssuers()
        .map((i) => i.issuer)
        .sort(),
    ).toEqual(['http://localhost:4001', 'http://localhost:4002']);

    const fromA = await login(a.app);
    const fromB = await login(b.app, 'bob');
    expect(decodeJwt(fromA.token)).toMatchObject({ iss: 'http://localhost:4001', aud: 'http://localhost:4001' });
    // b learned of a at load; a learns of b from the ring change b wrote.
    expect((await me(b.app, fromA.token)).status).toBe(200);
    await expect.poll(async () => (await me(a.app, fromB.token)).status, { timeout: 5000, interval: 20 }).toBe(200);

    expect((await call(b.app, 'post', '/auth/logout', { cookie: fromA.cookie })).status).toBe(204);
    await expect.poll(async () => (await me(a.app, fromA.token)).status, { timeout: 5000, interval: 20 }).toBe(401);
    await shared.close();
  });

  it('refuses an issuer the ring does not record, even signed with a ring key', async () => {
    const shared = store();
    const a = await instance(shared, { tokens: { issuer: 'http://localhost:4001' } });
    const key = a.bff.keyRing.activeKey();
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sid: 's', client_id: 'latchkey' })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer('http://localhost:4999')
      .setAudience('http://localhost:4999')
      .setSubject('user-alice')
      .setJti('j')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(key.privateKey);
    expect((await me(a.app, forged)).status).toBe(401);
    await shared.close();
  });

  it('never widens a configured audience: tokens for another audience stay refused', async () => {
    const shared = store();
    const a = await instance(shared, { tokens: { issuer: 'https://a.example', audience: 'api-a' } });
    const b = await instance(shared, { tokens: { issuer: 'https://b.example', audience: 'api-b' } });
    const c = await instance(shared, { tokens: { issuer: 'https://c.example', audience: 'api-a' } });
    const fromB = await login(b.app);
    const fromC = await login(c.app);
    await expect.poll(async () => (await me(a.app, fromC.token)).status, { timeout: 5000, interval: 20 }).toBe(200);
    expect((await me(a.app, fromB.token)).status).toBe(401);
    await shared.close();
  });

  it('a ring written in the old format (a bare key array) is read, and upgraded with this instance’s issuer', async () => {
    const shared = store();
    const first = await instance(shared, { tokens: { issuer: 'http://localhost:4001' } });
    await first.bff.close();
    // Rewrite the ring as the older format would have: only the keys.
    const { unsealWithAny, seal } = await import('../../src/crypto/seal.js');
    const current = (await shared.getKeyRing())!;
    const ring = JSON.parse(unsealWithAny(current.sealed, [SECRET], 'latchkey key ring v1')!) as { keys: unknown[] };
    expect(await shared.putKeyRing(current.version, { version: 'old', sealed: seal(JSON.stringify(ring.keys), SECRET, 'latchkey key ring v1') })).toBe(true);
    const second = await instance(shared, { tokens: { issuer: 'http://localhost:4002' } });
    expect(second.bff.keyRing.deploymentIssuers().map((i) => i.issuer)).toEqual(['http://localhost:4002']);
    expect((await me(second.app, (await login(second.app)).token)).status).toBe(200);
    await shared.close();
  });
});
