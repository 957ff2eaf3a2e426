/**
 * `BENCH_PARTS=proxy npm run bench`: `bff.proxy` side by side with what it is compared to, in one run, on one Redis:
 * - requests/s and latency of the same upstream route reached four ways: directly (no proxy), through a plain
 *   unauthenticated undici proxy (the library's own cost), through `bff.proxy` (cookie + X-CSRF in, a Latchkey token
 *   attached), and token mode's direct call (the page's own token, the route behind the guard);
 * - the latency `bff.proxy` adds (p50, p99) over the direct call;
 * - memory per open server-sent event stream through `bff.proxy` and through the plain proxy;
 * - revocation: logout-all on one `bff.proxy` process to the first 401 of a proxied call on another.
 */
import { request as httpRequest, type ClientRequest } from 'node:http';
import type { NodeProcess } from '@latchkey/testkit';
import { startNode } from './launch.js';
import { measure, type ThroughputResult } from './throughput.js';

export interface ProxyBenchOptions {
  target: string;
  redisUrl: string;
  secret: string;
  durationSeconds: number;
  rounds: number;
  connections: number;
  streams: number;
  propagationTrials: number;
  cpuMs: (child: NodeProcess) => number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

async function login(base: string, user: string, ip: string): Promise<{ token: string; cookie: string }> {
  const res = await fetch(`${base}/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-CSRF': '1', 'X-Forwarded-For': ip },
    body: JSON.stringify({ username: user, password: 'x' }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie()[0]!.split(';')[0]!;
  return { token: ((await res.json()) as { accessToken: string }).accessToken, cookie };
}

/** Opens `count` server-sent event streams on `url` and resolves once each has its first event. */
async function openStreams(url: string, count: number, headers: Record<string, string>): Promise<ClientRequest[]> {
  const open: ClientRequest[] = [];
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from(
        { length: Math.min(100, count - i) },
        () =>
          new Promise<void>((resolve, reject) => {
            const req = httpRequest(url, { headers, agent: false }, (res) => {
              if (res.statusCode !== 200) return reject(new Error(`stream refused: ${res.statusCode}`));
              res.once('data', () => resolve());
            });
            req.on('error', reject);
            req.end();
            open.push(req);
          }),
      ),
    );
  }
  return open;
}

async function heapAndRss(base: string): Promise<{ rss: number; heapUsed: number }> {
  return (await (await fetch(`${base}/memory`)).json()) as { rss: number; heapUsed: number };
}

/** Memory growth per open stream on a proxy process (RSS and V8 heap), after the streams settle. */
async function memoryPerStream(proxy: NodeProcess, count: number, headers: Record<string, string>) {
  const before = await heapAndRss(proxy.url);
  const streams = await openStreams(`${proxy.url}/p/sse`, count, headers);
  await new Promise((r) => setTimeout(r, 1000));
  const after = await heapAndRss(proxy.url);
  for (const s of streams) s.destroy();
  await new Promise((r) => setTimeout(r, 500));
  return {
    streams: count,
    rssBytesPerStream: Math.round((after.rss - before.rss) / count),
    heapBytesPerStream: Math.round((after.heapUsed - before.heapUsed) / count),
  };
}

export async function proxyBench(options: ProxyBenchOptions) {
  const env = { REDIS_URL: options.redisUrl, LATCHKEY_SECRET: options.secret };
  const upstream = await startNode(options.target, { BENCH_VARIANT: 'unguarded' }, '/ready');
  const withUpstream = { ...env, BENCH_UPSTREAM: upstream.url };
  const [proxy, proxyB, plain, guarded] = await Promise.all([
    startNode(options.target, { ...withUpstream, BENCH_VARIANT: 'proxy' }, '/ready'),
    startNode(options.target, { ...withUpstream, BENCH_VARIANT: 'proxy' }, '/ready'),
    startNode(options.target, { ...withUpstream, BENCH_VARIANT: 'plain-proxy' }, '/ready'),
    startNode(options.target, { ...env, BENCH_VARIANT: 'latchkey' }, '/ready'),
  ]);
  try {
    const { cookie } = await login(proxy.url, 'bench', '10.5.0.1');
    const { token } = await login(guarded.url, 'bench', '10.5.0.2');
    const cookieHeaders = { Cookie: cookie, 'X-CSRF': '1' };
    const variants: Array<[string, NodeProcess, string, Record<string, string>]> = [
      ['upstream, direct (no proxy)', upstream, `${upstream.url}/r`, {}],
      ['plain undici proxy (no authentication)', plain, `${plain.url}/p/r`, {}],
      ['bff.proxy (cookie, token attached)', proxy, `${proxy.url}/p/r`, cookieHeaders],
      ['token mode: direct call, guarded route', guarded, `${guarded.url}/r`, { Authorization: `Bearer ${token}` }],
    ];
    for (const [, , url, headers] of variants) await measure({ url, durationSeconds: 1, connections: options.connections, headers });
    // Interleaved rounds, so drift in the machine's load weighs on every variant alike.
    const samples = new Map<string, ThroughputResult[]>();
    for (let r = 0; r < options.rounds; r++) {
      for (const [name, process, url, headers] of variants) {
        const cpuBefore = options.cpuMs(process);
        const sample = await measure({ url, durationSeconds: options.durationSeconds, connections: options.connections, headers });
        sample.serverCpuUsPerRequest = ((options.cpuMs(process) - cpuBefore) * 1000) / (sample.requestsPerSecond * options.durationSeconds);
        if (sample.non2xx > 0 || sample.errors > 0) throw new Error(`${name}: ${sample.non2xx} non-2xx answers, ${sample.errors} errors`);
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      }
    }
    const mean = (list: ThroughputResult[]) => ({
      requestsPerSecond: round(avg(list.map((s) => s.requestsPerSecond)), 0),
      p50Ms: round(avg(list.map((s) => s.p50Ms))),
      p99Ms: round(avg(list.map((s) => s.p99Ms))),
      serverCpuUsPerRequest: round(avg(list.map((s) => s.serverCpuUsPerRequest ?? NaN)), 1),
    });
    const throughput = Object.fromEntries([...samples].map(([name, list]) => [name, mean(list)]));
    const direct = throughput['upstream, direct (no proxy)']!;
    const plainRow = throughput['plain undici proxy (no authentication)']!;
    const bffRow = throughput['bff.proxy (cookie, token attached)']!;
    const tokenRow = throughput['token mode: direct call, guarded route']!;

    // Added latency of one call at a time (no queueing): the proxy's own work, then the same under load (above).
    const sequential = async (url: string, headers: Record<string, string>) => {
      const times: number[] = [];
      for (let i = 0; i < 2000; i++) {
        const t0 = performance.now();
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        times.push(performance.now() - t0);
      }
      return times.sort((a, b) => a - b);
    };
    const alone = await sequential(`${upstream.url}/r`, {});
    const viaPlain = await sequential(`${plain.url}/p/r`, {});
    const viaBff = await sequential(`${proxy.url}/p/r`, cookieHeaders);
    const addedLatency = {
      sequentialCalls: alone.length,
      bffProxyP50Ms: round(percentile(viaBff, 50) - percentile(alone, 50), 3),
      bffProxyP99Ms: round(percentile(viaBff, 99) - percentile(alone, 99), 3),
      plainProxyP50Ms: round(percentile(viaPlain, 50) - percentile(alone, 50), 3),
      plainProxyP99Ms: round(percentile(viaPlain, 99) - percentile(alone, 99), 3),
      underLoadP50Ms: round(bffRow.p50Ms - direct.p50Ms),
      underLoadP99Ms: round(bffRow.p99Ms - direct.p99Ms),
    };

    const sseBff = await memoryPerStream(proxy, options.streams, { ...cookieHeaders, Accept: 'text/event-stream' });
    const ssePlain = await memoryPerStream(plain, options.streams, { Accept: 'text/event-stream' });

    // Logout-all on A, then proxied calls on B until the first 401.
    const propagation: number[] = [];
    for (let i = 0; i < options.propagationTrials; i++) {
      const device = await login(proxy.url, i % 2 ? 'alice' : 'bob', `10.6.${Math.floor(i / 250)}.${(i % 250) + 1}`);
      const onB = { Cookie: device.cookie, 'X-CSRF': '1' };
      const accepted = await fetch(`${proxyB.url}/p/r`, { headers: onB });
      await accepted.arrayBuffer();
      if (accepted.status !== 200) throw new Error(`proxied call on B refused: ${accepted.status}`);
      const res = await fetch(`${proxy.url}/auth/logout-all`, { method: 'POST', headers: onB });
      if (res.status !== 204) throw new Error(`logout-all failed: ${res.status}`);
      const t0 = performance.now();
      for (;;) {
        const call = await fetch(`${proxyB.url}/p/r`, { headers: onB });
        await call.arrayBuffer();
        if (call.status === 401) break;
        if (performance.now() - t0 > 5000) throw new Error('revocation never reached B');
      }
      propagation.push(performance.now() - t0);
    }
    propagation.sort((a, b) => a - b);

    return {
      throughput,
      ratios: {
        bffProxyOverPlainProxy: round(bffRow.requestsPerSecond / plainRow.requestsPerSecond, 3),
        bffProxyOverTokenModeDirect: round(bffRow.requestsPerSecond / tokenRow.requestsPerSecond, 3),
        bffProxyOverUpstreamDirect: round(bffRow.requestsPerSecond / direct.requestsPerSecond, 3),
        goal: 'bffProxyOverPlainProxy >= 0.85',
      },
      addedLatency,
      sseMemory: { 'bff.proxy': sseBff, 'plain undici proxy': ssePlain },
      logoutAllToProxiedCall: {
        trials: propagation.length,
        p50Ms: round(percentile(propagation, 50), 3),
        p99Ms: round(percentile(propagation, 99), 3),
        maxMs: round(propagation.at(-1)!, 3),
      },
    };
  } finally {
    await Promise.all([upstream, proxy, proxyB, plain, guarded].map((p) => p.stop()));
  }
}
