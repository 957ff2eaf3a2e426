/**
 * What OpenTelemetry tracing costs the guarded route: the same Latchkey target four ways, side by side in
 * interleaved rounds (so drift in the machine's load hits each alike):
 * - tracing off (`tracing: { enabled: false }`: @opentelemetry/api never loaded);
 * - tracing on, no provider registered (the API's no-op tracer: what an app without OpenTelemetry set up pays);
 * - a provider registered, Latchkey's tracing off (the app's own OpenTelemetry setup: async context, nothing from Latchkey);
 * - a provider registered, Latchkey's tracing on (a recorded `latchkey.guard` span per request, batched, dropped).
 * Not a test: nothing asserts on time.
 */
import type { NodeProcess } from '@latchkey/testkit';
import { startNode } from './launch.js';
import { measure, type ThroughputResult } from './throughput.js';

export interface TracingCostOptions {
  target: string;
  env: Record<string, string>;
  durationSeconds: number;
  rounds: number;
  connections: number;
  login: (base: string) => Promise<string>;
  cpuMs: (child: NodeProcess) => number;
}

const VARIANTS: ReadonlyArray<[string, Record<string, string>]> = [
  ['tracing off (enabled: false)', { BENCH_LATCHKEY_TRACING: 'off' }],
  ['tracing on, no provider registered', {}],
  ['provider registered, Latchkey tracing off', { BENCH_OTEL_PROVIDER: '1', BENCH_LATCHKEY_TRACING: 'off' }],
  ['provider registered, Latchkey tracing on', { BENCH_OTEL_PROVIDER: '1' }],
];

export async function tracingCost(options: TracingCostOptions): Promise<Record<string, ThroughputResult & { ratio: number }>> {
  const targets: Array<[string, NodeProcess]> = [];
  try {
    for (const [name, env] of VARIANTS) {
      targets.push([name, await startNode(options.target, { BENCH_VARIANT: 'latchkey', ...options.env, ...env }, '/ready')]);
    }
    // One token for all: the targets share the store and the secret, so the key ring (and the token) is the same.
    const headers = { Authorization: `Bearer ${await options.login(targets[0]![1].url)}` };
    for (const [, target] of targets) await measure({ url: `${target.url}/r`, durationSeconds: 1, connections: options.connections, headers });
    const samples = new Map<string, ThroughputResult[]>();
    for (let round = 0; round < options.rounds; round++) {
      for (const [name, target] of targets) {
        const cpuBefore = options.cpuMs(target);
        const sample = await measure({ url: `${target.url}/r`, durationSeconds: options.durationSeconds, connections: options.connections, headers });
        sample.serverCpuUsPerRequest = ((options.cpuMs(target) - cpuBefore) * 1000) / (sample.requestsPerSecond * options.durationSeconds);
        samples.set(name, [...(samples.get(name) ?? []), sample]);
      }
    }
    const avg = (list: ThroughputResult[], pick: (r: ThroughputResult) => number) => list.reduce((a, r) => a + pick(r), 0) / list.length;
    const means = [...samples].map(([name, list]) => {
      const mean: ThroughputResult = {
        requestsPerSecond: avg(list, (r) => r.requestsPerSecond),
        serverCpuUsPerRequest: avg(list, (r) => r.serverCpuUsPerRequest ?? NaN),
        p50Ms: avg(list, (r) => r.p50Ms),
        p99Ms: avg(list, (r) => r.p99Ms),
        non2xx: list.reduce((a, r) => a + r.non2xx, 0),
        errors: list.reduce((a, r) => a + r.errors, 0),
      };
      return [name, mean] as const;
    });
    const base = means[0]![1].requestsPerSecond;
    // ratio: requests/s over the tracing-off target's.
    return Object.fromEntries(means.map(([name, mean]) => [name, { ...mean, ratio: Math.round((mean.requestsPerSecond / base) * 1000) / 1000 }]));
  } finally {
    await Promise.all(targets.map(([, t]) => t.stop()));
  }
}
