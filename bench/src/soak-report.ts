import { mkdirSync, writeFileSync } from 'node:fs';
import type { IntervalHistogram } from 'node:perf_hooks';
import {
  ACCESS_TTL,
  DEVICES,
  LOGOUT_ALL_SECONDS,
  mib,
  RESULTS,
  RESULTS_DIR,
  round,
  SAMPLE_SECONDS,
  SOAK_SECONDS,
  WAIT_AFTER_MS,
  WINDOW_MS,
} from './soak-config.js';
import type { Proc } from './soak-http.js';
import type { LogoutAllEvent } from './soak-logout-all.js';
import type { SoakRun } from './soak-run.js';
import type { Sample } from './soak-sampler.js';

type Row = { start: number | null; warm: number | null; peak: number | null; endOfLoad: number | null; final: number | null };

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The first load sample at least a third of the way into the load (at most 60 s in): the baseline after warm-up. */
function warmSample(samples: Sample[]): Sample {
  const load = samples.filter((s) => s.phase === 'load');
  return load.find((s) => s.atSeconds >= Math.min(60, SOAK_SECONDS / 3)) ?? load[0] ?? samples[0]!;
}

function memorySummary(procs: readonly Proc[], samples: Sample[]): Record<string, Row> {
  const start = samples[0]!;
  const warm = warmSample(samples);
  const endOfLoad = samples.filter((s) => s.phase === 'load').at(-1) ?? start;
  const final = samples.at(-1)!;
  const row = (get: (s: Sample) => number | null, scale: (v: number | null) => number | null = (v) => v): Row => {
    const values = samples.map(get).filter((v): v is number => v !== null);
    return {
      start: scale(get(start)),
      warm: scale(get(warm)),
      peak: scale(values.length ? Math.max(...values) : null),
      endOfLoad: scale(get(endOfLoad)),
      final: scale(get(final)),
    };
  };
  const out: Record<string, Row> = {};
  for (const p of procs) {
    out[`${p.name} RSS (MiB)`] = row((s) => s.processes[p.name]?.rssBytes ?? null, mib);
    out[`${p.name} heap used (MiB)`] = row((s) => s.processes[p.name]?.heapUsedBytes ?? null, mib);
    out[`${p.name} revocation view entries`] = row((s) => s.processes[p.name]?.viewEntries ?? null);
  }
  out['Redis used_memory (MiB)'] = row((s) => s.redis.usedMemory, mib);
  out['Redis keys (DBSIZE)'] = row((s) => s.redis.dbsize);
  out['revocation log entries (XLEN)'] = row((s) => s.redis.revocationLogLength);
  out['revocation log entries still live'] = row((s) => s.redis.revocationLogLive);
  return out;
}

export interface SoakOutcome {
  soak: SoakRun;
  samples: Sample[];
  /** performance.now() when the run started (samples' atSeconds count from it). */
  t0: number;
  /** Final metrics scraped from each process. */
  metrics: Record<string, Record<string, unknown>>;
  theftMetric: number;
  /** The driver's own event-loop delay. */
  loop: IntervalHistogram;
  logoutAllEvents: LogoutAllEvent[];
  driverCpu: NodeJS.CpuUsage;
  loadSeconds: number;
}

/**
 * Prints the report, writes the results file, and returns the exit code: 0 passed, 1 failed (a revoked token accepted
 * after the window, a false theft alarm), 2 inconclusive (no revoked token was probed after the window).
 */
export function reportSoak({ soak, samples, t0, metrics, theftMetric, loop, logoutAllEvents, driverCpu, loadSeconds }: SoakOutcome): number {
  const falseRejections = soak.ledger.falseRejections();
  const violations = soak.ledger.violationReport().map((v) => {
    const window = samples.find((x) => t0 + x.atSeconds * 1000 >= v.tSend);
    return { ...v, processEventLoopLagMaxMs: window ? round(window.processes[v.process]?.eventLoopLagMaxMs ?? NaN) : null };
  });
  const lagMax = Object.fromEntries(soak.procs.map((p) => [p.name, round(Math.max(...samples.map((x) => x.processes[p.name]?.eventLoopLagMaxMs ?? 0)))]));
  const falseTheftSeen = soak.ledger.falseTheft.length;
  const memory = memorySummary(soak.procs, samples);
  const final = samples.at(-1)!;
  const start = samples[0]!;
  const revocationStateDrained =
    final.redis.revocationLogLive === 0 &&
    (final.redis.keys['user revoked_after'] ?? 0) === 0 &&
    soak.procs.every((p) => final.processes[p.name]?.viewEntries === 0);
  const sessionsDrained = ['session', 'sid index', 'user index'].every((k) => (final.redis.keys[k] ?? 0) === 0);
  // Flat: the final RSS within 15 % (at least 16 MiB) of the median RSS under load after warm-up. Not the cold
  // start: a Node process keeps the heap and the scrypt buffers (16 MiB per login in flight) it grew to. The median,
  // not one sample: a single sample may catch the process just after a garbage collection.
  const warm = warmSample(samples);
  const warmLoad = samples.filter((x) => x.phase === 'load' && x.atSeconds >= warm.atSeconds);
  const rssFlat = Object.fromEntries(
    soak.procs.map((p) => {
      const w = median(warmLoad.map((x) => x.processes[p.name]?.rssBytes).filter((v): v is number => v != null));
      const f = final.processes[p.name]?.rssBytes;
      return [p.name, w != null && f != null ? f <= w + Math.max(0.15 * w, 16 * 2 ** 20) : null];
    }),
  );
  const tombstones = final.redis.keys.tombstone ?? 0;
  // CPU during the load, in % of one core, from the first to the last load sample.
  const loadSamples = samples.filter((x) => x.phase === 'load');
  const firstLoad = samples[0]!;
  const lastLoad = loadSamples.at(-1) ?? firstLoad;
  const span = lastLoad.atSeconds - firstLoad.atSeconds || 1;
  const pct = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null ? round(((b - a) / span) * 100) : null);
  const cpu = {
    A: pct(firstLoad.processes.A?.cpuSeconds, lastLoad.processes.A?.cpuSeconds),
    B: pct(firstLoad.processes.B?.cpuSeconds, lastLoad.processes.B?.cpuSeconds),
    redis: pct(firstLoad.redis.cpuSeconds, lastLoad.redis.cpuSeconds),
    driver: round(((driverCpu.user + driverCpu.system) / 1e6 / loadSeconds) * 100),
  };
  const storeUnavailable = soak.procs.map((p) => (metrics[p.name]!.authDecisions as Record<string, number>)['outcome="store_unavailable"'] ?? 0);
  const feedErrors = soak.procs.map((p) => (metrics[p.name]!.feedErrors as number | null) ?? 0);
  const checks = {
    'revoked tokens accepted after the window (must be 0)': soak.ledger.violations.length,
    'false theft alarms seen by devices (must be 0)': falseTheftSeen,
    'latchkey_theft_detections_total, A + B (must be 0)': theftMetric,
    'requests with a revoked token after the window': soak.ledger.revokedAfterWindow,
    '  of which rejected (401)': soak.ledger.revokedAfterWindowRejected,
    'requests with a revoked token within the window': soak.ledger.revokedWithinWindow,
    '  of which accepted (allowed)': soak.ledger.acceptedWithinWindow,
    'latest 200 for a revoked token, ms after revocation': round(soak.ledger.latestAcceptanceMs),
    'revocations: logout': soak.ledger.revocations.logout ?? 0,
    'revocations: logout-all': soak.ledger.revocations['logout-all'] ?? 0,
    '  sessions certainly ended by logout-all': soak.ledger.sessionsRevokedByLogoutAll,
    '  sessions possibly ended (login overlapped)': soak.ledger.sessionsPossiblyRevokedByLogoutAll,
    'revocations: final sign-out': soak.ledger.revocations.drain ?? 0,
    'probe requests scheduled': soak.probes.scheduled,
    'false rejections (401 for a live session nothing revoked)': falseRejections.length,
    '200s naming another session': soak.ledger.wrongSubject,
    'concurrent refresh pairs: same successor / different': `${soak.rotation.pairsSameCookie} / ${soak.rotation.pairsDifferentCookie}`,
    'retries after a lost answer: same successor / different': `${soak.rotation.retriesSameCookie} / ${soak.rotation.retriesDifferentCookie}`,
    'logins answered 429 / largest Retry-After (s)': `${soak.rateLimited.count} / ${soak.rateLimited.maxRetryAfterSeconds}`,
    'errors (5xx, network, timeout) / of which timeouts': `${soak.tally.errors} / ${soak.tally.timeouts}`,
    'guard answers 503 store_unavailable, A / B': storeUnavailable.join(' / '),
    'revocation feed read errors, A / B': feedErrors.join(' / '),
    'CPU during load, % of one core: A / B / Redis / driver': `${cpu.A} / ${cpu.B} / ${cpu.redis} / ${cpu.driver}`,
    'demo event-loop delay max (ms), A / B': `${lagMax.A} / ${lagMax.B}`,
    'driver event-loop delay p99 / max (ms)': `${round(loop.percentile(99) / 1e6)} / ${round(loop.max / 1e6)}`,
  };

  console.log('\nRequests by kind and status:');
  console.table(soak.tally.byKind());
  console.log('Latency by kind (ms):');
  console.table(soak.tally.latency());
  console.log('Logout-all events:');
  console.table(logoutAllEvents);
  console.log('Checks:');
  console.table(Object.fromEntries(Object.entries(checks).map(([k, v]) => [k, { value: v }])));
  console.log('Revocation propagation on each process (latchkey_revocation_propagation_seconds):');
  console.table(Object.fromEntries(soak.procs.map((p) => [p.name, metrics[p.name]!.propagation])));
  console.log(`Memory (start; warm = after warm-up; peak; end of load; final = ${WAIT_AFTER_MS / 1000} s after the last revocation):`);
  console.table(memory);
  console.log('Redis keys by kind, start / end of load / final:');
  const endOfLoad = samples.filter((s) => s.phase === 'load').at(-1) ?? start;
  const kinds = [...new Set([...Object.keys(start.redis.keys), ...Object.keys(endOfLoad.redis.keys), ...Object.keys(final.redis.keys)])].sort();
  console.table(
    Object.fromEntries(kinds.map((k) => [k, { start: start.redis.keys[k] ?? 0, endOfLoad: endOfLoad.redis.keys[k] ?? 0, final: final.redis.keys[k] ?? 0 }])),
  );
  console.log(
    `Revocation state drained (no live log entry, no revoked_after key, both views at 0): ${revocationStateDrained ? 'yes' : 'NO'}; ` +
      `sessions drained: ${sessionsDrained ? 'yes' : 'NO'}; tombstones left (expire when each session would have idled out): ${tombstones}; ` +
      `RSS flat after warm-up (final within 15 % / 16 MiB of the median under load from t=${warm.atSeconds}s): ${JSON.stringify(rssFlat)}`,
  );
  if (violations.length) {
    console.log('Violations (first 20):');
    console.table(violations.slice(0, 20).map(({ tSend: _t, ...rest }) => rest));
  }
  if (soak.ledger.falseTheft.length) {
    console.log('False theft alarms (first 20):');
    console.table(soak.ledger.falseTheft.slice(0, 20));
  }
  if (falseRejections.length) {
    console.log('False rejections (first 20):');
    console.table(falseRejections.slice(0, 20).map(({ tRecv: _t, ...rest }) => rest));
  }
  if (soak.tally.errorSamples.length) console.log(`Error samples:\n  ${soak.tally.errorSamples.join('\n  ')}`);
  if (soak.driverErrors.length) console.log(`Driver errors:\n  ${soak.driverErrors.join('\n  ')}`);

  const mustBeZero = soak.ledger.violations.length + falseTheftSeen + (Number.isNaN(theftMetric) ? 1 : theftMetric);
  const measured = soak.ledger.revokedAfterWindow > 0;
  const results = {
    date: new Date().toISOString(),
    node: process.version,
    config: {
      soakSeconds: SOAK_SECONDS,
      devices: DEVICES,
      accessTtlSeconds: ACCESS_TTL,
      windowMs: WINDOW_MS,
      sampleSeconds: SAMPLE_SECONDS,
      logoutAllEverySeconds: LOGOUT_ALL_SECONDS,
      waitAfterLoadMs: WAIT_AFTER_MS,
    },
    passed: mustBeZero === 0 && measured,
    checks,
    violations: violations.map(({ tSend: _t, ...rest }) => rest),
    falseTheft: soak.ledger.falseTheft,
    falseRejections: falseRejections.map(({ tRecv: _t, ...rest }) => rest),
    requests: {
      total: soak.tally.total(),
      byKind: soak.tally.byKind(),
      latencyMs: soak.tally.latency(),
      errors: soak.tally.errors,
      timeouts: soak.tally.timeouts,
      errorSamples: soak.tally.errorSamples,
    },
    rotation: soak.rotation,
    logoutAllEvents,
    processMetrics: metrics,
    memory: {
      summary: memory,
      revocationStateDrained,
      sessionsDrained,
      tombstonesLeft: tombstones,
      rssFlatAfterWarmUp: rssFlat,
      warmSampleAtSeconds: warm.atSeconds,
      samples,
    },
    cpuPercentOfOneCore: cpu,
    driver: { eventLoopDelayP99Ms: round(loop.percentile(99) / 1e6), eventLoopDelayMaxMs: round(loop.max / 1e6), errors: soak.driverErrors },
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nWritten to ${RESULTS}`);
  if (mustBeZero !== 0) {
    console.log(
      `FAILED: ${soak.ledger.violations.length} revoked tokens accepted after the window, ${falseTheftSeen} false theft alarms seen, theft counter ${theftMetric}.`,
    );
    return 1;
  }
  if (!measured) {
    console.log('INCONCLUSIVE: no request with a revoked token was made after the window.');
    return 2;
  }
  console.log('PASSED: no revoked token accepted after the window, no false theft alarm.');
  return 0;
}
