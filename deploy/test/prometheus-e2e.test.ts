import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import {
  freePort,
  HttpDevice,
  sleep,
  spawnTracked,
  startDemoProcess,
  startRedisServer,
  stopChild,
  waitReady,
  type DemoProcess,
  type RedisServer,
  type TrackedChild,
} from '@latchkey/testkit';
import { dashboardQueries, readRules, variableSelectors } from './deploy-files.js';

/**
 * The rules and the dashboard against a real Prometheus (Debian's package) scraping two demo processes that share a
 * real Redis. The rule file is the shipped one with every `for:` divided by FOR_SCALE (the expressions unchanged), so
 * the fail-closed alert's one minute is 5 s here; Prometheus scrapes and evaluates every second.
 */

const SECRET = 'prometheus-e2e-secret-0123456789-abcdefghijkl';
const METRICS_TOKEN = 'prometheus-e2e-metrics-token-0123456789';
const FOR_SCALE = 12;
/** LatchkeyGuardFailingClosed's `for:` in the shipped file (1m), and here. */
const FAIL_CLOSED_FOR_MS = 60_000 / FOR_SCALE;

interface PromAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  activeAt: string;
}

const seconds = (duration: string): number => {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!m) throw new Error(`unexpected duration ${duration}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
};

/** The shipped rules with each alert's `for:` scaled down. */
function testRules(): string {
  const groups = readRules().map((group) => ({
    ...group,
    ...(group.interval !== undefined ? { interval: '1s' } : {}),
    rules: group.rules.map((rule) => (rule.for !== undefined ? { ...rule, for: `${Math.max(1, Math.round(seconds(rule.for) / FOR_SCALE))}s` } : rule)),
  }));
  const failClosed = groups.flatMap((g) => g.rules).find((r) => r.alert === 'LatchkeyGuardFailingClosed');
  expect(failClosed?.for).toBe(`${FAIL_CLOSED_FOR_MS / 1000}s`);
  return stringify({ groups });
}

describe('a real Prometheus scraping two demo processes', () => {
  let redis: RedisServer;
  let demos: DemoProcess[] = [];
  let prometheus: TrackedChild | undefined;
  let promUrl = '';
  let dir = '';
  const device = new HttpDevice();

  async function api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const res = await fetch(`${promUrl}${path}?${new URLSearchParams(params)}`, { signal: AbortSignal.timeout(5000) });
    const body = (await res.json()) as { status: string; data: T; error?: string };
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.error}`);
    return body.data;
  }
  const query = (expr: string) => api<{ result: Array<{ metric: Record<string, string>; value: [number, string] }> }>('/api/v1/query', { query: expr });
  const alerts = async (name: string) => (await api<{ alerts: PromAlert[] }>('/api/v1/alerts')).alerts.filter((a) => a.labels.alertname === name);

  beforeAll(async () => {
    redis = await startRedisServer();
    const env = { REDIS_URL: redis.url, LATCHKEY_SECRET: SECRET, LATCHKEY_ISSUER: 'http://localhost:4997', LATCHKEY_METRICS_TOKEN: METRICS_TOKEN };
    demos = await Promise.all([startDemoProcess({ env }), startDemoProcess({ env })]);

    dir = mkdtempSync(join(tmpdir(), 'latchkey-prometheus-'));
    writeFileSync(join(dir, 'latchkey-rules.yml'), testRules());
    writeFileSync(join(dir, 'metrics-token'), METRICS_TOKEN);
    writeFileSync(
      join(dir, 'prometheus.yml'),
      stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        rule_files: ['latchkey-rules.yml'],
        scrape_configs: [
          {
            job_name: 'latchkey',
            authorization: { credentials_file: join(dir, 'metrics-token') },
            static_configs: [{ targets: demos.map((d) => `localhost:${d.port}`) }],
          },
        ],
      }),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    const started = spawnTracked('prometheus', [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    prometheus = started;
    await waitReady(started, async () => (await fetch(`${promUrl}/-/ready`)).ok, { what: 'prometheus', timeoutMs: 20_000 });
  }, 60_000);

  afterAll(async () => {
    redis?.resume();
    if (prometheus) await stopChild(prometheus.child);
    await Promise.all(demos.map((d) => d.stop()));
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes both processes with the metrics token', async () => {
    await expect
      .poll(async () => (await api<{ activeTargets: Array<{ health: string }> }>('/api/v1/targets')).activeTargets.map((t) => t.health), {
        timeout: 15_000,
        interval: 250,
      })
      .toEqual(['up', 'up']);
    // Without the token the demo refuses the scrape: the token really is what lets Prometheus in.
    expect((await fetch(`${demos[0]!.url}/metrics`)).status).toBe(401);
  });

  it('fires LatchkeyGuardFailingClosed for both processes once Redis has been paused for its for: window, not before', async () => {
    // Traffic on both processes: logins, refreshes, guarded calls, a revocation (logout) that both guards apply.
    await device.login('alice', 'wonderland', { base: demos[0]!.url });
    expect((await device.refresh(demos[1]!.url)).status).toBe(200);
    expect((await device.call('POST', '/auth/login', { base: demos[1]!.url, body: { username: 'alice', password: 'wrong' } })).status).toBe(401);
    const other = new HttpDevice();
    await other.login('bob', 'builder', { base: demos[1]!.url });
    expect((await other.logout(demos[1]!.url)).status).toBe(204);
    for (const demo of demos) expect((await device.me({ base: demo.url })).status).toBe(200);

    await sleep(3000);
    expect(await alerts('LatchkeyGuardFailingClosed')).toEqual([]);

    let stop = false;
    const statuses = new Set<number>();
    // Guarded calls every 100 ms on each process while Redis is paused: the fail-closed routes answer 503.
    const traffic = (async () => {
      while (!stop) {
        await Promise.all(demos.map(async (demo) => statuses.add((await device.me({ base: demo.url })).status)));
        await sleep(100);
      }
    })();
    redis.pause();
    const pausedAt = Date.now();
    try {
      let firstPending = Number.NaN;
      await expect
        .poll(
          async () => {
            const now = await alerts('LatchkeyGuardFailingClosed');
            if (Number.isNaN(firstPending) && now.some((a) => a.state === 'pending')) firstPending = Date.now() - pausedAt;
            return now
              .filter((a) => a.state === 'firing')
              .map((a) => a.labels.instance)
              .sort();
          },
          { timeout: FAIL_CLOSED_FOR_MS + 15_000, interval: 250 },
        )
        .toEqual(demos.map((d) => `localhost:${d.port}`).sort());
      const firedAfter = Date.now() - pausedAt;
      console.info(`LatchkeyGuardFailingClosed pending ${firstPending} ms and firing ${firedAfter} ms after Redis was paused (for: ${FAIL_CLOSED_FOR_MS} ms)`);
      expect(firstPending).toBeLessThan(firedAfter);
      expect(firedAfter).toBeGreaterThanOrEqual(FAIL_CLOSED_FOR_MS);
      expect(statuses).toContain(503);
      const fired = (await alerts('LatchkeyGuardFailingClosed'))[0]!;
      expect(fired.labels).toMatchObject({ severity: 'critical', job: 'latchkey' });
    } finally {
      stop = true;
      await traffic;
      redis.resume();
    }
    // The store is back: the guards decide again (the alert resolves once the 503s leave its one-minute rate window).
    await expect.poll(async () => (await device.me({ base: demos[0]!.url })).status, { timeout: 10_000, interval: 100 }).toBe(200);
  }, 60_000);

  it('every dashboard query and variable returns data, and so does every recorded series', async () => {
    const substitute = (expr: string) => expr.replaceAll('$__rate_interval', '1m').replaceAll('"$job"', '".+"').replaceAll('"$instance"', '".+"');
    const empty: string[] = [];
    for (const { panel, expr } of dashboardQueries()) {
      if ((await query(substitute(expr))).result.length === 0) empty.push(`${panel}: ${expr}`);
    }
    for (const { variable, expr, label } of variableSelectors()) {
      const values = await api<string[]>(`/api/v1/label/${label}/values`, { 'match[]': substitute(expr) });
      if (values.length === 0) empty.push(`variable ${variable}: ${expr}`);
    }
    for (const rule of readRules().flatMap((g) => g.rules)) {
      // Nothing was rate limited here: no series to sum.
      if (rule.record !== undefined && !rule.record.startsWith('latchkey:login_rate_limited:')) {
        if ((await query(rule.record)).result.length === 0) empty.push(`recorded ${rule.record}`);
      }
    }
    expect(empty).toEqual([]);
  }, 60_000);
});
