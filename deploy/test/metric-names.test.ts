import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBff, MemoryStore, type Bff } from '@latchkey/bff';
import { allRules, dashboardQueries, variableSelectors } from './deploy-files.js';
import { parseExpression } from './promql.js';

/**
 * Every metric the alert rules and the Grafana dashboard query exists in a running BFF's registry, with the labels
 * they use, and every label value they match on is one the BFF's code writes. Series named `level:metric:ops` must be
 * recorded by the rules.
 */

/** Labels Prometheus adds when it scrapes (job, instance), and a histogram's bucket bound. */
const SCRAPE_LABELS = ['job', 'instance'];

interface Known {
  type: string;
  labels: Set<string>;
}

type Registry = Map<string, Known>;

const BFF_SRC = fileURLToPath(new URL('../../bff/src/', import.meta.url));
const sourceText = readdirSync(BFF_SRC, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join(BFF_SRC, f), 'utf8'))
  .join('\n');

/** The series names one metric exposes: a counter `x_total`, a histogram `x_bucket`, `x_sum`, `x_count`. */
function exposed(registry: Registry): Map<string, { base: string; labels: Set<string> }> {
  const names = new Map<string, { base: string; labels: Set<string> }>();
  for (const [name, known] of registry) {
    if (known.type === 'histogram') {
      names.set(`${name}_bucket`, { base: name, labels: new Set([...known.labels, 'le']) });
      names.set(`${name}_sum`, { base: name, labels: known.labels });
      names.set(`${name}_count`, { base: name, labels: known.labels });
    } else {
      names.set(name, { base: name, labels: known.labels });
    }
  }
  return names;
}

/** What is wrong with one expression against the registry and the recorded series (their labels); empty when nothing. */
export function problemsOf(expr: string, registry: Registry, recorded: Map<string, Set<string>>): string[] {
  const problems: string[] = [];
  const series = exposed(registry);
  const { selectors, groupingLabels } = parseExpression(expr);
  if (selectors.length === 0) problems.push(`no metric in ${expr}`);
  const inScope = new Set(SCRAPE_LABELS);
  for (const selector of selectors) {
    const labels = selector.metric.includes(':') ? recorded.get(selector.metric) : series.get(selector.metric)?.labels;
    if (labels === undefined) {
      problems.push(selector.metric.includes(':') ? `${selector.metric} is not recorded by the rules` : `${selector.metric} is not a metric of the BFF`);
      continue;
    }
    for (const label of labels) inScope.add(label);
    for (const matcher of selector.matchers) {
      if (!labels.has(matcher.label) && !SCRAPE_LABELS.includes(matcher.label)) problems.push(`${selector.metric} has no label ${matcher.label}`);
      if (SCRAPE_LABELS.includes(matcher.label) || matcher.label === 'le' || matcher.value.startsWith('$')) continue;
      // The values matched on must be ones the code writes (a literal in bff/src), a regex an alternation of them.
      const values = matcher.op.endsWith('~') ? matcher.value.split('|') : [matcher.value];
      for (const value of values) {
        if (!sourceText.includes(`'${value}'`)) problems.push(`${selector.metric}{${matcher.label}}: the BFF never writes "${value}"`);
      }
    }
  }
  for (const label of groupingLabels) if (!inScope.has(label)) problems.push(`grouping by ${label}, which no metric of ${expr} has`);
  return problems;
}

/** Each recorded series with the labels it keeps (its `by` labels, or those of its source for a plain function). */
function recordedSeries(registry: Registry): Map<string, Set<string>> {
  const recorded = new Map<string, Set<string>>();
  for (const rule of allRules()) {
    if (rule.record === undefined) continue;
    const { selectors, groupingLabels } = parseExpression(rule.expr);
    const labels =
      groupingLabels.length > 0
        ? groupingLabels.filter((l) => l !== 'le')
        : selectors.flatMap((s) => [...(recorded.get(s.metric) ?? registry.get(s.metric)?.labels ?? [])]);
    recorded.set(rule.record, new Set(labels));
  }
  return recorded;
}

describe('metric names in the rules and the dashboard', () => {
  let bff: Bff;
  let registry: Registry;
  beforeAll(async () => {
    bff = await createBff({
      store: new MemoryStore({ warnInProduction: false }),
      secrets: ['deploy-test-secret-0123456789-abcdefghijklmnop'],
      tokens: { issuer: 'https://app.example.test' },
      authenticate: async () => null,
    });
    registry = new Map();
    for (const metric of await bff.metrics.registry.getMetricsAsJSON()) {
      const labelNames = (bff.metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames;
      registry.set(metric.name, { type: String(metric.type), labels: new Set(labelNames) });
    }
  });
  afterAll(() => bff?.close());

  it('reads the registry (the check has something to check against)', () => {
    expect(registry.get('latchkey_auth_decisions_total')).toEqual({ type: 'counter', labels: new Set(['outcome']) });
    expect(registry.get('latchkey_auth_check_seconds')?.type).toBe('histogram');
  });

  it('every rule expression names metrics and labels that exist', () => {
    const recorded = recordedSeries(registry);
    const problems = allRules().flatMap((r) => problemsOf(r.expr, registry, recorded).map((p) => `${r.alert ?? r.record}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('every dashboard query (and variable) names metrics and labels that exist', () => {
    const recorded = recordedSeries(registry);
    const queries = [...dashboardQueries(), ...variableSelectors().map((v) => ({ panel: `variable ${v.variable}`, expr: v.expr }))];
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const problems = queries.flatMap((q) => problemsOf(q.expr, registry, recorded).map((p) => `${q.panel}: ${p}`));
    expect(problems).toEqual([]);
    for (const v of variableSelectors()) expect(SCRAPE_LABELS).toContain(v.label);
  });

  it('the dashboard shows what an operator needs (issue 23)', () => {
    const used = new Set(dashboardQueries().flatMap((q) => parseExpression(q.expr).selectors.map((s) => s.metric)));
    for (const metric of [
      'latchkey_auth_decisions_total',
      'latchkey_auth_check_seconds_bucket',
      'latchkey_refreshes_total',
      'latchkey_theft_detections_total',
      'latchkey_revocation_propagation_seconds_bucket',
      'latchkey_event_streams',
      'latchkey_store_errors_total',
      'latchkey_fail_open_total',
    ]) {
      expect(used, metric).toContain(metric);
    }
  });

  it('the check catches a wrong name, label, label value, histogram suffix, grouping or recorded series', () => {
    const recorded = recordedSeries(registry);
    const check = (expr: string) => problemsOf(expr, registry, recorded);
    expect(check('rate(latchkey_login_total[5m])')).toEqual(['latchkey_login_total is not a metric of the BFF']);
    expect(check('rate(latchkey_logins_total{outcom="success"}[5m])')).toEqual(['latchkey_logins_total has no label outcom']);
    expect(check('rate(latchkey_logins_total{outcome="sucess"}[5m])')).toEqual(['latchkey_logins_total{outcome}: the BFF never writes "sucess"']);
    expect(check('rate(latchkey_logins_total{outcome=~"success|ratelimited"}[5m])')).toEqual([
      'latchkey_logins_total{outcome}: the BFF never writes "ratelimited"',
    ]);
    expect(check('rate(latchkey_auth_check_seconds[5m])')).toEqual(['latchkey_auth_check_seconds is not a metric of the BFF']);
    expect(check('sum by (reason) (rate(latchkey_logins_total[5m]))')).toEqual([expect.stringMatching(/^grouping by reason/)]);
    expect(check('latchkey:logins:rate5m > 1')).toEqual(['latchkey:logins:rate5m is not recorded by the rules']);
    expect(check('sum by (job, le) (rate(latchkey_auth_check_seconds_bucket{job=~"$job"}[$__rate_interval]))')).toEqual([]);
  });
});
