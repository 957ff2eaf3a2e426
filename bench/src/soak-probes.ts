import { performance } from 'node:perf_hooks';
import { sleep } from '@latchkey/testkit';
import { PROBE_OFFSETS_MS, PROBE_SAME_PROCESS_MS, TIMEOUT_MS } from './soak-config.js';
import { send, type Proc } from './soak-http.js';
import type { SessionRec, TokenRec } from './soak-ledger.js';
import type { SoakRun } from './soak-run.js';

/** Probes of revoked tokens: GET /api/me with each, at set delays after the revoking call returned. */
export class RevokedTokenProbes {
  /** Probes not yet answered (the run waits for them before its final report). */
  readonly pending = new Set<Promise<void>>();
  scheduled = 0;

  constructor(private readonly soak: SoakRun) {}

  private probeLater(s: SessionRec, token: TokenRec, proc: Proc, delayMs: number): void {
    this.scheduled++;
    const p = (async () => {
      await sleep(Math.max(0, delayMs));
      if (Date.now() > token.expMs + 1000) return; // expired: a 401 would say nothing about revocation
      const r = await send(proc, 'GET', '/api/me', { token: token.token, timeoutMs: TIMEOUT_MS });
      this.soak.tally.record('me (probe of revoked token)', r, proc);
      this.soak.ledger.observeMe('probe', s, token, r, proc);
    })();
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Probes a sample of the session's still-valid tokens on the process that did not revoke it (and on it, twice). */
  probeRevoked(s: SessionRec, revoker: Proc, revokedAt: number, maxTokens: number): void {
    const live = s.tokens.filter((t) => t.expMs > Date.now());
    const sample = [...new Set([live.at(-1), live[0]])].filter((t): t is TokenRec => t !== undefined).slice(0, maxTokens);
    for (const token of sample) {
      for (const offset of PROBE_OFFSETS_MS) {
        const delay = revokedAt + offset - performance.now();
        this.probeLater(s, token, this.soak.other(revoker), delay);
        if (PROBE_SAME_PROCESS_MS.has(offset)) this.probeLater(s, token, revoker, delay);
      }
    }
  }
}
