import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { allRules, RULES_FILE, RULES_TEST_FILE, RUNBOOK_FILE } from './deploy-files.js';

/**
 * deploy/prometheus/latchkey-rules.yml: valid for Prometheus (`promtool check rules`), every alert unit-tested
 * (`promtool test rules`, real promtool from Debian's prometheus package), and every alert with a severity, a summary
 * and a runbook link that lands on a section of docs/operations.md.
 */

function promtool(...args: string[]): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is missing (Debian package prometheus): run bash scripts/ensure-system-deps.sh (${run.error.message})`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorOf = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

const alerts = allRules().filter((r) => r.alert !== undefined);

interface AlertRuleTest {
  eval_time: string;
  alertname: string;
  exp_alerts?: unknown[];
}
const unitTests = (parse(readFileSync(RULES_TEST_FILE, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertRuleTest[] }> }).tests.flatMap(
  (t) => t.alert_rule_test ?? [],
);

describe('Prometheus rules', () => {
  it('promtool check rules: the file is valid', () => {
    const result = promtool('check', 'rules', RULES_FILE);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  it('promtool test rules: every unit test passes', () => {
    const result = promtool('test', 'rules', RULES_TEST_FILE);
    expect(result.output).toMatch(/SUCCESS/);
    expect(result.output).not.toMatch(/FAILED/);
    expect(result.status).toBe(0);
  }, 120_000);

  it('has the alerts the runbook documents (issue 23)', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      [
        'LatchkeyEventStreamsRefused',
        'LatchkeyGuardFailingClosed',
        'LatchkeyGuardFailingOpen',
        'LatchkeyIdpUnreachable',
        'LatchkeyLoginFailuresHigh',
        'LatchkeyLoginRateLimitingHigh',
        'LatchkeyRevocationFeedStale',
        'LatchkeyRevocationPropagationSlow',
        'LatchkeyStoreErrors',
        'LatchkeyTheftDetectionSpike',
      ].sort(),
    );
  });

  it('every alert has a unit test where it fires and one where it must not', () => {
    for (const alert of alerts) {
      const cases = unitTests.filter((t) => t.alertname === alert.alert);
      expect(
        cases.some((t) => (t.exp_alerts ?? []).length > 0),
        `${alert.alert} fires in a test`,
      ).toBe(true);
      expect(
        cases.some((t) => (t.exp_alerts ?? []).length === 0),
        `${alert.alert} stays quiet in a test`,
      ).toBe(true);
    }
  });

  it('every alert has a severity, a summary, a description and a runbook link to a section of docs/operations.md', () => {
    const runbook = readFileSync(RUNBOOK_FILE, 'utf8');
    const anchors = new Set([...runbook.matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1]!)));
    for (const alert of alerts) {
      expect(['critical', 'warning'], alert.alert).toContain(alert.labels?.severity);
      expect(alert.annotations?.summary, alert.alert).toBeTruthy();
      expect(alert.annotations?.description, alert.alert).toBeTruthy();
      const link = /^docs\/operations\.md#(.+)$/.exec(alert.annotations?.runbook_url ?? '');
      expect(link, `${alert.alert} runbook_url`).not.toBeNull();
      expect(anchors.has(link![1]!), `${alert.alert}: no heading for #${link![1]} in docs/operations.md`).toBe(true);
    }
  });

  it('recorded series follow the level:metric:operations naming, and each is recorded once', () => {
    const records = allRules()
      .map((r) => r.record)
      .filter((r) => r !== undefined);
    expect(new Set(records).size).toBe(records.length);
    for (const record of records) expect(record).toMatch(/^latchkey:[a-z0-9_]+:[a-z0-9_:]+$/);
  });

  it('a broken rule file is refused by promtool (the check can fail)', () => {
    expect(() =>
      execFileSync('promtool', ['check', 'rules', '/dev/stdin'], {
        input: 'groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n',
        stdio: 'pipe',
      }),
    ).toThrow();
  });
});
