/**
 * The soak's HTTP side: one request with its timing, the cookie it set, and the error code it answered; and the
 * tally of every request by kind and status. A device's cookie jar is just the one `__Host-latchkey` pair it holds.
 */
import { performance } from 'node:perf_hooks';

export interface Proc {
  name: 'A' | 'B';
  url: string;
  pid: number;
}

export interface HttpResult {
  /** HTTP status; 0 = network error, -1 = timed out on the client side. */
  status: number;
  /** `error` from a JSON error body. */
  code?: string;
  json?: unknown;
  /** undefined: no Set-Cookie for the session cookie; null: the cookie was cleared; else the `name=value` pair. */
  setCookie?: string | null;
  /** performance.now() just before the request was handed to fetch, and when its body had been read. */
  tSend: number;
  tRecv: number;
  /** Date.now() at send, to compare with token expiry (epoch ms). */
  wallSend: number;
  /** Retry-After, when the answer had one. */
  retryAfter?: string;
  error?: string;
}

export interface RequestOptions {
  cookie?: string | null;
  token?: string;
  body?: unknown;
  /** X-Forwarded-For: the demo trusts loopback proxies, so each simulated device gets its own client IP. */
  xff?: string;
  timeoutMs: number;
}

const COOKIE_PREFIX = '__Host-latchkey=';

export async function send(proc: Proc, method: string, path: string, options: RequestOptions): Promise<HttpResult> {
  const headers: Record<string, string> = {};
  if (path.startsWith('/auth/')) headers['X-CSRF'] = '1';
  if (options.cookie) headers.Cookie = options.cookie;
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.xff) headers['X-Forwarded-For'] = options.xff;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const wallSend = Date.now();
  const tSend = performance.now();
  try {
    const res = await fetch(`${proc.url}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await res.text();
    const tRecv = performance.now();
    const result: HttpResult = { status: res.status, tSend, tRecv, wallSend };
    const retryAfter = res.headers.get('retry-after');
    if (retryAfter !== null) result.retryAfter = retryAfter;
    const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(COOKIE_PREFIX));
    if (setCookie !== undefined) {
      const pair = setCookie.split(';')[0]!;
      result.setCookie = pair === COOKIE_PREFIX ? null : pair;
    }
    if (text.length > 0 && (res.headers.get('content-type') ?? '').includes('json')) {
      try {
        result.json = JSON.parse(text);
        if (res.status >= 400) result.code = (result.json as { error?: string }).error;
      } catch {
        // not JSON after all
      }
    }
    return result;
  } catch (error) {
    const e = error as Error;
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
    return { status: timedOut ? -1 : 0, tSend, tRecv: performance.now(), wallSend, error: `${e.name}: ${e.message}` };
  }
}

export function statusLabel(r: HttpResult): string {
  if (r.status === -1) return 'timeout';
  if (r.status === 0) return 'network error';
  return r.status >= 400 && r.code ? `${r.status} ${r.code}` : String(r.status);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Requests by kind and status, latencies by kind. */
export class Tally {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly latencies = new Map<string, number[]>();
  errors = 0;
  timeouts = 0;
  readonly errorSamples: string[] = [];

  record(kind: string, r: HttpResult, proc?: Proc): void {
    const label = statusLabel(r);
    const byStatus = this.counts.get(kind) ?? new Map<string, number>();
    byStatus.set(label, (byStatus.get(label) ?? 0) + 1);
    this.counts.set(kind, byStatus);
    if (r.status > 0) {
      const list = this.latencies.get(kind) ?? [];
      list.push(r.tRecv - r.tSend);
      this.latencies.set(kind, list);
    }
    if (r.status === -1) this.timeouts++;
    if (r.status <= 0 || r.status >= 500) {
      this.errors++;
      if (this.errorSamples.length < 20) this.errorSamples.push(`${kind} on ${proc?.name ?? '?'}: ${label}${r.error ? ` (${r.error})` : ''}`);
    }
  }

  total(): number {
    let n = 0;
    for (const byStatus of this.counts.values()) for (const c of byStatus.values()) n += c;
    return n;
  }

  /** { kind: { status: count } } */
  byKind(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [kind, byStatus] of [...this.counts].sort(([a], [b]) => a.localeCompare(b))) {
      out[kind] = Object.fromEntries([...byStatus].sort(([a], [b]) => a.localeCompare(b)));
    }
    return out;
  }

  latency(): Record<string, { count: number; p50Ms: number; p99Ms: number; maxMs: number }> {
    const round = (n: number) => Math.round(n * 100) / 100;
    const out: Record<string, { count: number; p50Ms: number; p99Ms: number; maxMs: number }> = {};
    for (const [kind, list] of [...this.latencies].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...list].sort((a, b) => a - b);
      out[kind] = { count: sorted.length, p50Ms: round(percentile(sorted, 50)), p99Ms: round(percentile(sorted, 99)), maxMs: round(sorted.at(-1) ?? NaN) };
    }
    return out;
  }
}
