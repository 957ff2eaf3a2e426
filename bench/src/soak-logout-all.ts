import { performance } from 'node:perf_hooks';
import { sleep } from '@latchkey/testkit';
import { LOGOUT_ALL_SECONDS, rand, round, SOAK_SECONDS, TIMEOUT_MS, USERS } from './soak-config.js';
import { Device } from './soak-devices.js';
import { send } from './soak-http.js';
import type { SessionRec } from './soak-ledger.js';
import type { SoakRun } from './soak-run.js';

/** Every LOGOUT_ALL_SECONDS in the middle of the run, one user signs out everywhere; the ended sessions' tokens are probed. */
export interface LogoutAllEvent {
  atSeconds: number;
  user: string;
  process: string;
  status: string;
  sessionsEnded: number;
  sessionsProbed: number;
}

export async function logoutAllLoop(soak: SoakRun, loadStart: number, events: LogoutAllEvent[]): Promise<void> {
  let at = Math.min(20, SOAK_SECONDS / 3);
  for (let k = 0; at < SOAK_SECONDS - 5; k++, at += LOGOUT_ALL_SECONDS) {
    while (!soak.stopping && performance.now() < loadStart + at * 1000) await sleep(Math.min(250, loadStart + at * 1000 - performance.now()));
    if (soak.stopping) return;
    const user = USERS[k % USERS.length]!;
    // "Sign out everywhere" from one more device of that user, signed in for the purpose.
    const caller = new Device(soak, `logout-all-${k}`, user, `10.78.${Math.floor(k / 250) % 250}.${(k % 250) + 1}`);
    if (!(await caller.login('login (logout-all caller)'))) {
      events.push({
        atSeconds: round((performance.now() - loadStart) / 1000),
        user: user.username,
        process: '-',
        status: 'caller login failed',
        sessionsEnded: 0,
        sessionsProbed: 0,
      });
      continue;
    }
    await sleep(rand(200, 1000));
    const proc = soak.pick();
    const r = await send(proc, 'POST', '/auth/logout-all', { cookie: caller.cookie, timeoutMs: TIMEOUT_MS });
    soak.tally.record('logout-all', r, proc);
    let ended: SessionRec[] = [];
    let probed = 0;
    if (r.status === 204) {
      ended = soak.ledger.logoutAll(user.username, r.tSend, r.tRecv);
      const withLiveTokens = ended.filter((s) => s.tokens.some((t) => t.expMs > Date.now()));
      const sample = withLiveTokens.sort(() => Math.random() - 0.5).slice(0, 8);
      if (!sample.includes(caller.session!)) sample.push(caller.session!);
      for (const s of sample) soak.probes.probeRevoked(s, proc, r.tRecv, 1);
      probed = sample.length;
    } else {
      for (const s of soak.ledger.sessions.values()) if (s.user === user.username) soak.ledger.markPossiblyRevoked(s, r.tSend);
    }
    events.push({
      atSeconds: round((performance.now() - loadStart) / 1000),
      user: user.username,
      process: proc.name,
      status: String(r.status),
      sessionsEnded: ended.length,
      sessionsProbed: probed,
    });
  }
}
