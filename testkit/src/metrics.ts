/**
 * Prometheus text exposition (what prom-client serves at /metrics), parsed into samples. Hand-written: the format's
 * sample lines are one regular expression, and the npm parsers for it are unmaintained.
 */

export interface MetricSample {
  name: string;
  /** Label name to (unescaped) value. */
  labels: Record<string, string>;
  /** The label block as written, without braces ('' when none): a stable key for one series. */
  labelText: string;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})?\s+(\S+)/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample line (comments and blank lines skipped). */
export function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = SAMPLE.exec(line);
    if (!match) continue;
    const labelText = match[2] ?? '';
    const labels: Record<string, string> = {};
    for (const [, name, raw] of labelText.matchAll(LABEL)) {
      labels[name!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name: match[1]!, labels, labelText, value: Number(match[3]) });
  }
  return samples;
}

/** One metric's series: label block as written ('' for none) to value. */
export function metricSeries(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sample of parseMetrics(text)) if (sample.name === name) out[sample.labelText] = sample.value;
  return out;
}

/**
 * The sum of every series of one metric, or only of those carrying all of `labels` (e.g. `{ le: '0.1' }`); null when
 * no series matched.
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number | null {
  const matching = parseMetrics(text).filter(
    (sample) => sample.name === name && Number.isFinite(sample.value) && Object.entries(labels).every(([k, v]) => sample.labels[k] === v),
  );
  return matching.length > 0 ? matching.reduce((total, sample) => total + sample.value, 0) : null;
}

/** One metric's values keyed by one label, e.g. `latchkey_refreshes_total` by `outcome`. */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sample of parseMetrics(text)) {
    const key = sample.labels[label];
    if (sample.name === name && key !== undefined) out[key] = (out[key] ?? 0) + sample.value;
  }
  return out;
}

/** GET <baseUrl>/metrics; throws unless 200. */
/**
 * The metrics token the test and bench harnesses give the demo processes they start (`LATCHKEY_METRICS_TOKEN`):
 * the demo's /metrics is closed without one. A test value, never a deployment's.
 */
export const TEST_METRICS_TOKEN = 'latchkey-test-metrics-token-0123456789';

/** GET /metrics with the bearer token (default: TEST_METRICS_TOKEN, which the harnesses give the demo). */
export async function fetchMetrics(baseUrl: string, options: { token?: string; timeoutMs?: number } = {}): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`, {
    headers: { Authorization: `Bearer ${options.token ?? TEST_METRICS_TOKEN}` },
    signal: AbortSignal.timeout(options.timeoutMs ?? 5_000),
  });
  if (!res.ok) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}`);
  return res.text();
}

/** The sum of every series of one metric as a process serves it now (0 when absent). */
export async function metricTotal(baseUrl: string, name: string): Promise<number> {
  return metricSum(await fetchMetrics(baseUrl), name) ?? 0;
}

/** `latchkey_refreshes_total` by outcome, as one process serves it. */
export async function refreshCounts(baseUrl: string): Promise<Record<string, number>> {
  return metricByLabel(await fetchMetrics(baseUrl), 'latchkey_refreshes_total', 'outcome');
}

/** The difference between two readings of one metric by label, zeros dropped; `total` sums every key. */
export function countDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const delta: Record<string, number> = {};
  let total = 0;
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[key] ?? 0) - (before[key] ?? 0);
    if (d !== 0) delta[key] = d;
    total += d;
  }
  delta.total = total;
  return delta;
}
