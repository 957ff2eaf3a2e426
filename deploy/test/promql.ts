/**
 * Just enough PromQL reading to check that the alert rules and the dashboard name metrics and labels that exist: the
 * vector selectors of an expression (metric name and label matchers) and the labels of its grouping clauses
 * (`by`, `without`, `on`, `ignoring`, `group_left`, `group_right`). Not a parser: it tokenizes, which is all that needs.
 */

export interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

export interface Selector {
  metric: string;
  matchers: Matcher[];
}

export interface ExpressionParts {
  selectors: Selector[];
  /** Labels named in grouping clauses. */
  groupingLabels: string[];
}

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan', 'atan2']);
/** Aggregation operators: their grouping clause may come between the name and the parenthesis (`sum by (job) (...)`). */
const AGGREGATIONS = new Set([
  'sum',
  'avg',
  'min',
  'max',
  'count',
  'group',
  'stddev',
  'stdvar',
  'topk',
  'bottomk',
  'quantile',
  'count_values',
  'limitk',
  'limit_ratio',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const IDENT = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?/;

export function parseExpression(expr: string): ExpressionParts {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const end = findClosingQuote(expr, i);
      i = end + 1;
    } else if (c === '[') {
      // A range or subquery: durations and Grafana variables, no metric.
      i = expr.indexOf(']', i) + 1;
      if (i === 0) throw new Error(`unclosed [ in ${expr}`);
    } else if (c === '$') {
      i += /^\$[a-zA-Z0-9_]*/.exec(expr.slice(i))![0].length;
    } else if (/[0-9.]/.test(c)) {
      i += /^[0-9.][0-9a-zA-Z.+]*/.exec(expr.slice(i))![0].length;
    } else if (c === '{') {
      // A selector without a metric name before it.
      const { matchers, end } = readMatchers(expr, i);
      const name = matchers.find((m) => m.label === '__name__');
      if (!name || name.op !== '=') throw new Error(`a selector without a literal metric name in ${expr}`);
      selectors.push({ metric: name.value, matchers: matchers.filter((m) => m !== name) });
      i = end;
    } else if (IDENT.test(expr.slice(i))) {
      const ident = IDENT.exec(expr.slice(i))![0];
      i += ident.length;
      skipSpace();
      const next = expr[i];
      if (GROUPING.has(ident)) {
        if (next === '(') {
          const close = expr.indexOf(')', i);
          for (const label of expr.slice(i + 1, close).split(',')) if (label.trim() !== '') groupingLabels.push(label.trim());
          i = close + 1;
        }
      } else if (KEYWORDS.has(ident.toLowerCase()) || AGGREGATIONS.has(ident)) {
        // an operator or a modifier
      } else if (next === '(') {
        // a function or an aggregation
      } else if (next === '{') {
        const { matchers, end } = readMatchers(expr, i);
        selectors.push({ metric: ident, matchers });
        i = end;
      } else {
        selectors.push({ metric: ident, matchers: [] });
      }
    } else {
      i++;
    }
  }
  return { selectors, groupingLabels };
}

function findClosingQuote(expr: string, start: number): number {
  const quote = expr[start]!;
  for (let j = start + 1; j < expr.length; j++) {
    if (expr[j] === '\\') j++;
    else if (expr[j] === quote) return j;
  }
  throw new Error(`unclosed string in ${expr}`);
}

function readMatchers(expr: string, open: number): { matchers: Matcher[]; end: number } {
  const matchers: Matcher[] = [];
  let rest = expr.slice(open + 1);
  let consumed = open + 1;
  for (;;) {
    const close = /^\s*\}/.exec(rest);
    if (close) return { matchers, end: consumed + close[0].length };
    const m = MATCHER.exec(rest);
    if (!m) throw new Error(`cannot read the label matchers at "${rest.slice(0, 40)}" in ${expr}`);
    matchers.push({ label: m[1]!, op: m[2] as Matcher['op'], value: m[3]!.replace(/\\(.)/g, '$1') });
    rest = rest.slice(m[0].length);
    consumed += m[0].length;
  }
}
