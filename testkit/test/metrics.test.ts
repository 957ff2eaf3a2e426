import { describe, expect, it } from 'vitest';
import { countDelta, metricByLabel, metricSeries, metricSum, parseMetrics } from '../src/metrics.js';

const TEXT = `# HELP latchkey_refreshes_total Refreshes by outcome.
# TYPE latchkey_refreshes_total counter
latchkey_refreshes_total{outcome="rotated"} 41
latchkey_refreshes_total{outcome="reuse_detected"} 2
latchkey_event_streams 3
latchkey_revocation_propagation_seconds_bucket{le="0.1",note="a \\"quoted\\" } brace"} 7
latchkey_revocation_propagation_seconds_bucket{le="+Inf",note="x"} 9
`;

describe('Prometheus text', () => {
  it('parses samples with labels, escapes and braces inside quoted values', () => {
    const samples = parseMetrics(TEXT);
    expect(samples).toHaveLength(5);
    expect(samples[3]).toMatchObject({
      name: 'latchkey_revocation_propagation_seconds_bucket',
      labels: { le: '0.1', note: 'a "quoted" } brace' },
      value: 7,
    });
  });

  it('sums, filters by label, keys by label and by label block', () => {
    expect(metricSum(TEXT, 'latchkey_refreshes_total')).toBe(43);
    expect(metricSum(TEXT, 'latchkey_revocation_propagation_seconds_bucket', { le: '+Inf' })).toBe(9);
    expect(metricSum(TEXT, 'latchkey_absent')).toBeNull();
    expect(metricByLabel(TEXT, 'latchkey_refreshes_total', 'outcome')).toEqual({ rotated: 41, reuse_detected: 2 });
    expect(metricSeries(TEXT, 'latchkey_event_streams')).toEqual({ '': 3 });
    expect(metricSeries(TEXT, 'latchkey_refreshes_total')).toEqual({ 'outcome="rotated"': 41, 'outcome="reuse_detected"': 2 });
  });

  it('takes the difference of two readings, zeros dropped', () => {
    expect(countDelta({ rotated: 1, failed: 2 }, { rotated: 3, failed: 2, fresh: 1 })).toEqual({ rotated: 2, fresh: 1, total: 3 });
  });
});
