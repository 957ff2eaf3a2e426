import autocannon from 'autocannon';

export interface ThroughputResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  /** Server CPU time per request served (µs), when the bench could read it. */
  serverCpuUsPerRequest?: number;
}

export interface LoadOptions {
  url: string;
  durationSeconds: number;
  connections: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
}

export async function measure(options: LoadOptions): Promise<ThroughputResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    connections: options.connections,
    duration: options.durationSeconds,
    headers: options.headers ?? {},
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

/**
 * Closed-loop load from `workers` concurrent callers, each awaiting its own `call` in turn. Used where every request
 * depends on the previous answer (refresh: each response carries the next cookie), which autocannon cannot express.
 */
export async function measureLoop(workers: number, durationSeconds: number, call: (worker: number) => Promise<boolean>): Promise<ThroughputResult> {
  const latencies: number[] = [];
  let failures = 0;
  const end = performance.now() + durationSeconds * 1000;
  await Promise.all(
    Array.from({ length: workers }, async (_, worker) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        const ok = await call(worker).catch(() => false);
        latencies.push(performance.now() - t0);
        if (!ok) failures++;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (p: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]! * 100) / 100;
  return { requestsPerSecond: latencies.length / durationSeconds, p50Ms: at(0.5), p99Ms: at(0.99), non2xx: failures, errors: 0 };
}
