/**
 * `node bench/dist/soak.js` (after `npm run build`): a bounded soak of a two-process deployment.
 *
 * Starts its own redis-server and two demo processes (A and B) on it, with one LATCHKEY_SECRET, one issuer and a
 * short access-token lifetime, then simulates many devices of alice and bob, each a loop with its own cookie jar
 * talking to A or B at random: login, GET /api/me, refresh near expiry (sometimes early; sometimes two concurrent
 * refreshes with the same cookie, or a retry after a "lost" response), logout and re-login now and then. Every
 * ~30 s in the middle of the run one user signs out everywhere. Each revocation is followed by probes of the
 * revoked tokens on the other process.
 *
 * Must be 0 (else exit 1): revoked tokens accepted more than SOAK_WINDOW_MS after the revoking call returned; false
 * theft alarms (401 reuse_detected seen by a device, or latchkey_theft_detections_total on either process).
 * Also reported: requests by kind and status, errors and timeouts, false rejections, and memory (RSS and heap of
 * both processes, their revocation views, Redis used_memory, DBSIZE, the revocation log) sampled through the run
 * and again once the longest token lifetime has passed after the load stopped.
 *
 * Environment: SOAK_SECONDS (load, default 180), SOAK_DEVICES (48), SOAK_ACCESS_TTL (s, 10), SOAK_WINDOW_MS (50),
 * SOAK_SAMPLE_SECONDS (10), SOAK_LOGOUT_ALL_SECONDS (30). Writes bench/results/soak.json. Not a test.
 *
 * The parts: soak-config (settings), soak-run (shared state), soak-devices, soak-logout-all, soak-probes,
 * soak-http, soak-ledger (what was revoked when), soak-sampler (memory samples), soak-report.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { metricSeries, metricSum, sleep, type NodeProcess } from '@latchkey/testkit';
import { startCluster, startNode, startRedis } from './launch.js';
import {
  ACCESS_TTL,
  CLUSTER,
  DEMO,
  DEVICES,
  ISSUER,
  mib,
  round,
  SAMPLE_SECONDS,
  SECRET,
  SOAK_SECONDS,
  USERS,
  WAIT_AFTER_MS,
  WINDOW_MS,
} from './soak-config.js';
import { Device } from './soak-devices.js';
import { logoutAllLoop, type LogoutAllEvent } from './soak-logout-all.js';
import { reportSoak } from './soak-report.js';
import { SoakRun } from './soak-run.js';
import { fetchProcessMetrics, takeSample, type Sample } from './soak-sampler.js';

async function main(): Promise<number> {
  const soak = new SoakRun();
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const redis = CLUSTER ? await startCluster(3) : await startRedis();
  const redisNodes = 'nodes' in redis ? redis.nodes : [redis];
  const redisUrl = redis.url;
  const env = {
    REDIS_URL: redisUrl,
    ...(CLUSTER ? { LATCHKEY_REDIS_CLUSTER: 'true' } : {}),
    LATCHKEY_SECRET: SECRET,
    LATCHKEY_ISSUER: ISSUER,
    LATCHKEY_ACCESS_TTL: String(ACCESS_TTL),
    LATCHKEY_LOG_LEVEL: 'error',
  };
  const children: NodeProcess[] = [];
  // A direct connection to every node: memory, keys and the shards' logs are summed over them.
  const inspectors = redisNodes.map((n) => new Redis(n.url));
  const redisPids = redisNodes.map((n) => n.pid!);
  const sample = (phase: string, atSeconds: number) => takeSample(phase, atSeconds, soak.procs, inspectors, redisPids);
  const stopAll = async () => {
    for (const inspector of inspectors) inspector.disconnect();
    await Promise.all(children.map((c) => c.stop()));
    await redis.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      soak.stopping = true;
      void stopAll().finally(() => process.exit(130));
    });
  }

  try {
    const [a, b] = await Promise.all([startNode(DEMO, env, '/api/public'), startNode(DEMO, env, '/api/public')]);
    children.push(a, b);
    soak.procs = [
      { name: 'A', url: a.url, pid: a.pid! },
      { name: 'B', url: b.url, pid: b.pid! },
    ];
    console.log(
      `Soak: ${SOAK_SECONDS} s of load, ${DEVICES} devices (alice and bob), access TTL ${ACCESS_TTL} s, window ${WINDOW_MS} ms; ` +
        `A ${a.url} (pid ${soak.procs[0].pid}), B ${b.url} (pid ${soak.procs[1].pid}), ${CLUSTER ? `Redis Cluster of ${redisNodes.length} masters, seed` : 'Redis'} ${redisUrl}`,
    );

    const t0 = performance.now();
    const at = () => round((performance.now() - t0) / 1000);
    const samples: Sample[] = [await sample('start', 0)];

    // Load.
    const loadStart = performance.now();
    const driverCpuStart = process.cpuUsage();
    const devices = Array.from(
      { length: DEVICES },
      (_, i) => new Device(soak, `d${i}`, USERS[i % USERS.length]!, `10.77.${Math.floor(i / 250) % 250}.${(i % 250) + 1}`),
    );
    const runs = devices.map((d) => d.run());
    const logoutAllEvents: LogoutAllEvent[] = [];
    const logoutAlls = logoutAllLoop(soak, loadStart, logoutAllEvents);
    const loadEnd = loadStart + SOAK_SECONDS * 1000;
    let nextSample = loadStart + SAMPLE_SECONDS * 1000;
    while (performance.now() < loadEnd) {
      await sleep(Math.max(0, Math.min(nextSample, loadEnd) - performance.now()));
      if (performance.now() >= nextSample) {
        const s = await sample('load', at());
        samples.push(s);
        nextSample += SAMPLE_SECONDS * 1000;
        soak.ledger.prune();
        const rss = soak.procs.map((p) => `${p.name} ${mib(s.processes[p.name]?.rssBytes)} MiB`).join(', ');
        const views = soak.procs.map((p) => `${p.name} ${s.processes[p.name]?.viewEntries}`).join(', ');
        console.log(
          `  t=${s.atSeconds}s requests ${soak.tally.total()}, violations ${soak.ledger.violations.length}, false theft ${soak.ledger.falseTheft.length}, ` +
            `RSS ${rss}, view entries ${views}, Redis ${mib(s.redis.usedMemory)} MiB / ${s.redis.dbsize} keys / log ${s.redis.revocationLogLength} (${s.redis.revocationLogLive} live)`,
        );
      }
    }

    const driverCpu = process.cpuUsage(driverCpuStart);
    const loadSeconds = (performance.now() - loadStart) / 1000;
    // Stop the load; every device signs out (so no live session is left), then wait out the longest token lifetime.
    soak.stopping = true;
    await Promise.all([...runs, logoutAlls]);
    const stillIn = devices.filter((d) => d.session !== null);
    for (let i = 0; i < stillIn.length; i += 8) await Promise.all(stillIn.slice(i, i + 8).map((d) => d.logout('drain')));
    const drained = performance.now();
    samples.push(await sample('after load', at()));
    console.log(`  load stopped at t=${at()}s, ${stillIn.length} devices signed out; waiting ${WAIT_AFTER_MS / 1000} s (token lifetime + skew + margin)`);
    while (performance.now() < drained + WAIT_AFTER_MS) {
      await sleep(Math.min(5000, drained + WAIT_AFTER_MS - performance.now()));
      samples.push(await sample(performance.now() >= drained + WAIT_AFTER_MS ? 'final' : 'after load', at()));
    }
    await Promise.all([...soak.probes.pending]);
    if (samples.at(-1)!.phase !== 'final') samples.push(await sample('final', at()));

    // Final metrics from both processes.
    const metrics: Record<string, Record<string, unknown>> = {};
    let theftMetric = 0;
    for (const p of soak.procs) {
      const text = (await fetchProcessMetrics(p)) ?? '';
      const theft = metricSum(text, 'latchkey_theft_detections_total') ?? NaN;
      theftMetric += theft;
      const within = (le: string) => metricSum(text, 'latchkey_revocation_propagation_seconds_bucket', { le }) ?? NaN;
      const count = metricSum(text, 'latchkey_revocation_propagation_seconds_count') ?? NaN;
      metrics[p.name] = {
        theftDetections: theft,
        refreshes: metricSeries(text, 'latchkey_refreshes_total'),
        logins: metricSeries(text, 'latchkey_logins_total'),
        logouts: metricSeries(text, 'latchkey_logouts_total'),
        authDecisions: metricSeries(text, 'latchkey_auth_decisions_total'),
        storeErrors: metricSum(text, 'latchkey_store_errors_total'),
        feedErrors: metricSum(text, 'latchkey_revocation_feed_errors_total'),
        propagation: { events: count, within5ms: within('0.005'), within50ms: within('0.05'), over50ms: count - within('0.05') },
      };
    }
    loop.disable();
    await stopAll();

    return reportSoak({ soak, samples, t0, metrics, theftMetric, loop, logoutAllEvents, driverCpu, loadSeconds });
  } catch (error) {
    soak.stopping = true;
    await stopAll().catch(() => undefined);
    throw error;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
