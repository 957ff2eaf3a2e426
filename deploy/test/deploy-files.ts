/** The operations files under deploy/, read for the tests. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const RULES_FILE = fileURLToPath(new URL('../prometheus/latchkey-rules.yml', import.meta.url));
export const RULES_TEST_FILE = fileURLToPath(new URL('../prometheus/latchkey-rules.test.yml', import.meta.url));
export const DASHBOARD_FILE = fileURLToPath(new URL('../grafana/latchkey.json', import.meta.url));
export const RUNBOOK_FILE = fileURLToPath(new URL('../../docs/operations.md', import.meta.url));

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  interval?: string;
  rules: Rule[];
}

export function readRules(file = RULES_FILE): RuleGroup[] {
  return (parse(readFileSync(file, 'utf8')) as { groups: RuleGroup[] }).groups;
}

export const allRules = (groups: RuleGroup[] = readRules()): Rule[] => groups.flatMap((g) => g.rules);

interface Panel {
  title: string;
  targets?: Array<{ expr: string }>;
  panels?: Panel[];
}

interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every query of the dashboard's panels, with its panel's title. */
export function dashboardQueries(dashboard = readDashboard()): Array<{ panel: string; expr: string }> {
  const walk = (panels: Panel[]): Array<{ panel: string; expr: string }> =>
    panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })), ...walk(p.panels ?? [])]);
  return walk(dashboard.panels);
}

/** The PromQL inside the templating variables' `label_values(<selector>, <label>)` queries. */
export function variableSelectors(dashboard = readDashboard()): Array<{ variable: string; expr: string; label: string }> {
  return dashboard.templating.list
    .filter((v) => v.type === 'query')
    .map((v) => {
      const query = typeof v.query === 'string' ? v.query : v.query!.query;
      const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query);
      if (!m) throw new Error(`variable ${v.name}: not a label_values() query: ${query}`);
      return { variable: v.name, expr: m[1]!, label: m[2]! };
    });
}
