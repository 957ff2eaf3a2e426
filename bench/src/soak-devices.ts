import { performance } from 'node:perf_hooks';
import { sleep } from '@latchkey/testkit';
import { rand, REFRESH_AHEAD_MS, SESSION_LIFE_MS, THINK_MS, TIMEOUT_MS, type TokenBody, type User } from './soak-config.js';
import { send, type HttpResult, type Proc } from './soak-http.js';
import type { SessionRec, TokenRec } from './soak-ledger.js';
import type { SoakRun } from './soak-run.js';

/**
 * One simulated device: a loop with its own cookie jar talking to A or B at random (login, GET /api/me, refresh near
 * expiry, sometimes as a concurrent pair or a retry after a lost answer, logout and sign in again).
 */
export class Device {
  cookie: string | null = null;
  session: SessionRec | null = null;
  token: TokenRec | null = null;
  private logoutAt = 0;
  private hadClientTimeout = false;

  /** `ip`: the device's client address (X-Forwarded-For), so the per-IP login limit (30/min) applies per device. */
  constructor(
    private readonly soak: SoakRun,
    readonly id: string,
    readonly user: User,
    private readonly ip: string,
  ) {}

  async run(): Promise<void> {
    await sleep(rand(0, 3000)); // stagger the first logins
    while (!this.soak.stopping) {
      try {
        await this.step();
      } catch (error) {
        if (this.soak.driverErrors.length < 20) this.soak.driverErrors.push(`${this.id}: ${(error as Error).stack ?? String(error)}`);
        await sleep(1000);
      }
    }
  }

  private async step(): Promise<void> {
    if (this.session === null) {
      const ok = await this.login();
      await sleep(ok ? rand(50, 300) : 1000);
      return;
    }
    if (performance.now() >= this.logoutAt) {
      await this.logout('logout');
      await sleep(rand(300, 2000));
      return;
    }
    const left = this.token!.expMs - Date.now();
    if (left < REFRESH_AHEAD_MS || Math.random() < 0.02) {
      await this.refresh();
      await sleep(rand(50, 200));
      return;
    }
    await this.me();
    await sleep(rand(...THINK_MS));
  }

  async login(kind = 'login'): Promise<boolean> {
    const proc = this.soak.pick();
    const release = await this.soak.loginSlots.get(this.user.username)!.acquire();
    let r: HttpResult;
    try {
      r = await send(proc, 'POST', '/auth/login', {
        body: { username: this.user.username, password: this.user.password, deviceName: `soak ${this.id}` },
        cookie: this.cookie,
        xff: this.ip,
        timeoutMs: TIMEOUT_MS,
      });
    } finally {
      release();
    }
    this.soak.tally.record(kind, r, proc);
    if (r.status === 429) {
      this.soak.rateLimited.count++;
      const retryAfter = Number(r.retryAfter ?? 5);
      this.soak.rateLimited.maxRetryAfterSeconds = Math.max(this.soak.rateLimited.maxRetryAfterSeconds, retryAfter);
      await sleep(Math.min(10, Number.isFinite(retryAfter) ? retryAfter : 5) * 1000);
    }
    if (r.status !== 200 || typeof r.setCookie !== 'string') return false;
    const body = r.json as TokenBody;
    const s: SessionRec = { sid: body.session.id, user: this.user.username, device: this.id, loginSentAt: r.tSend, loginDoneAt: r.tRecv, tokens: [] };
    this.soak.ledger.register(s);
    this.session = s;
    this.token = this.soak.ledger.addToken(s, body.accessToken, body.expiresAt);
    this.cookie = r.setCookie;
    this.logoutAt = performance.now() + rand(...SESSION_LIFE_MS);
    this.hadClientTimeout = false;
    return true;
  }

  async me(): Promise<void> {
    const proc = this.soak.pick();
    const s = this.session!;
    const token = this.token!;
    const r = await send(proc, 'GET', '/api/me', { token: token.token, timeoutMs: TIMEOUT_MS });
    this.soak.tally.record('me', r, proc);
    this.soak.ledger.observeMe('me', s, token, r, proc);
    if (r.status !== 401) return;
    // As the axios adapter does: one refresh, one retry.
    await this.refresh('single');
    if (this.session !== s || this.token === token) return;
    const again = this.soak.pick();
    const r2 = await send(again, 'GET', '/api/me', { token: this.token!.token, timeoutMs: TIMEOUT_MS });
    this.soak.tally.record('me (retry after refresh)', r2, again);
    this.soak.ledger.observeMe('me', s, this.token!, r2, again);
  }

  async refresh(forced?: 'single'): Promise<void> {
    const roll = Math.random();
    const mode = forced ?? (roll < 0.05 ? 'pair' : roll < 0.08 ? 'retry' : 'single');
    const s = this.session!;
    const cookie = this.cookie;
    const results: Array<[HttpResult, Proc]> = [];
    let final: HttpResult;
    if (mode === 'pair') {
      // Two tabs without a shared lock: both refresh with the same cookie, one on each process.
      const order: [Proc, Proc] = Math.random() < 0.5 ? [this.soak.procs[0], this.soak.procs[1]] : [this.soak.procs[1], this.soak.procs[0]];
      const [r1, r2] = await Promise.all(order.map((p) => send(p, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS })));
      results.push([r1!, order[0]], [r2!, order[1]]);
      for (const [r, p] of results) this.soak.tally.record('refresh (concurrent pair)', r, p);
      if (r1!.status === 200 && r2!.status === 200) {
        this.soak.rotation.pairs++;
        if (r1!.setCookie === r2!.setCookie) this.soak.rotation.pairsSameCookie++;
        else this.soak.rotation.pairsDifferentCookie++;
      }
      final = r1!.status === 200 ? r1! : r2!;
    } else if (mode === 'retry') {
      // The answer to the first refresh is "lost": the device retries with the cookie it still has.
      const p1 = this.soak.pick();
      const r1 = await send(p1, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      this.soak.tally.record('refresh (answer lost)', r1, p1);
      const p2 = this.soak.pick();
      const r2 = await send(p2, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      this.soak.tally.record('refresh (retry after lost answer)', r2, p2);
      results.push([r1, p1], [r2, p2]);
      if (r1.status === 200 && r2.status === 200) {
        this.soak.rotation.retries++;
        if (r1.setCookie === r2.setCookie) this.soak.rotation.retriesSameCookie++;
        else this.soak.rotation.retriesDifferentCookie++;
      }
      final = r2;
    } else {
      const p = this.soak.pick();
      final = await send(p, 'POST', '/auth/refresh', { cookie, timeoutMs: TIMEOUT_MS });
      this.soak.tally.record('refresh', final, p);
      results.push([final, p]);
    }

    let ended = false;
    for (const [r, p] of results) {
      if (r.status === 200) this.soak.ledger.addToken(s, (r.json as TokenBody).accessToken, (r.json as TokenBody).expiresAt);
      else if (r.status === 401) {
        this.soak.ledger.observeRefresh401(mode === 'single' ? 'refresh' : `refresh (${mode})`, s, this.id, r, p, this.hadClientTimeout);
        ended = true;
      } else if (r.status === -1) this.hadClientTimeout = true;
    }
    if (ended) {
      // Signed out (session revoked elsewhere, or a false alarm already counted): sign in again.
      this.session = null;
      this.token = null;
      this.cookie = null;
      return;
    }
    if (final.status === 200 && typeof final.setCookie === 'string') {
      this.cookie = final.setCookie;
      this.token = s.tokens.find((t) => t.token === (final.json as TokenBody).accessToken) ?? this.token;
    } else if (final.status !== 200) {
      await sleep(500); // 5xx or network: stay signed in, retry with the same cookie
    }
  }

  async logout(by: 'logout' | 'drain'): Promise<void> {
    const proc = this.soak.pick();
    const s = this.session!;
    const r = await send(proc, 'POST', '/auth/logout', { cookie: this.cookie, timeoutMs: TIMEOUT_MS });
    this.soak.tally.record('logout', r, proc);
    if (r.status === 204) {
      this.soak.ledger.markRevoked(s, r.tSend, r.tRecv, by);
      this.soak.probes.probeRevoked(s, proc, r.tRecv, 2);
    } else {
      this.soak.ledger.markPossiblyRevoked(s, r.tSend);
    }
    this.session = null;
    this.token = null;
    this.cookie = null;
  }
}
