import { readFileSync } from 'node:fs';
import { table } from './markdown.js';

/**
 * Tables of measured figures, read from the bench's JSON (`bench/results/latest.json`, written by `npm run bench`):
 * a figure in the docs is always the committed result's, never one copied by hand.
 */

type Json = Record<string, unknown>;

const round = (n: number, digits = 1) => String(Number(n.toFixed(digits)));
const ms = (n: number) => `${round(n)} ms`;

function at(json: Json, path: string): unknown {
  let value: unknown = json;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object' || !(key in value)) throw new Error(`bench results have no ${path}`);
    value = (value as Json)[key];
  }
  return value;
}

const num = (json: Json, path: string) => {
  const value = at(json, path);
  if (typeof value !== 'number') throw new Error(`bench results: ${path} is not a number`);
  return value;
};

/** Free text from the JSON, safe in Markdown prose (`<build>` would read as an HTML tag). */
const prose = (text: unknown) => String(text ?? '').replace(/</g, '\\<');

const day = (iso: unknown) => (typeof iso === 'string' ? iso.slice(0, 10) : 'date not recorded');

export function readBench(path: string): Json {
  return JSON.parse(readFileSync(path, 'utf8')) as Json;
}

const SOURCE = (part: string) => `From \`bench/results/latest.json\` (\`${part}\`), regenerated from it by \`npm run docs:generate\`.`;

/** The guarded route four ways (tracing off, on without a provider, a provider with and without Latchkey's spans). */
export function tracingTable(bench: Json): string {
  const runs = at(bench, 'tracing') as Record<string, Json>;
  const rows = Object.entries(runs).map(([target, r]) => [
    target,
    round(num(r, 'requestsPerSecond'), 0),
    String(num(r, 'ratio')),
    round(num(r, 'serverCpuUsPerRequest'), 0),
    round(num(r, 'p50Ms'), 0),
    round(num(r, 'p99Ms'), 0),
  ]);
  return `${table(['target (guarded route, Redis store)', 'req/s', 'ratio', 'server CPU µs/req', 'p50 ms', 'p99 ms'], rows)}\n${SOURCE('tracing')}\n`;
}

/** Logout-all on one process to the first 401 on another, and the guard's own `applied` figure, per store and build. */
export function propagationTable(bench: Json): string {
  const row = (what: string, path: string) => [
    what,
    String(num(bench, `${path}.trials`)),
    ms(num(bench, `${path}.p50Ms`)),
    ms(num(bench, `${path}.p99Ms`)),
    ms(num(bench, `${path}.maxMs`)),
    `p50 <= ${num(bench, `${path}.applied.p50MsAtMost`)} ms, p99 <= ${num(bench, `${path}.applied.p99MsAtMost`)} ms`,
  ];
  const rows = [row('one Redis', 'propagation'), row('Redis Cluster', 'propagationCluster')];
  if ('propagationBaseline' in bench) {
    rows.push(row('one Redis, baseline build', 'propagationBaseline.oneRedis'), row('Redis Cluster, baseline build', 'propagationBaseline.cluster'));
  }
  const run = 'propagationRun' in bench ? (at(bench, 'propagationRun') as Json) : undefined;
  const note = run ? ` Run of ${day(run.date)}: ${prose(run.note)}.` : '';
  return `${table(['store', 'trials', 'p50', 'p99', 'max', "applied (B's histogram bucket)"], rows)}\n${SOURCE('propagation')}${note}\n`;
}

/** One user's session list and logout-all: uncapped (10 000 sessions) against the cap. */
export function sessionScriptsTable(bench: Json): string {
  const runs = at(bench, 'sessionScripts') as Record<string, Json>;
  const rows = Object.entries(runs).map(([what, r]) => [
    what,
    String(num(r, 'sessionsListed')),
    `${num(r, 'listReplyBytes')} B`,
    ms(num(r, 'listMs')),
    ms(num(r, 'logoutAllMs')),
  ]);
  const run = 'sessionScriptsRun' in bench ? (at(bench, 'sessionScriptsRun') as Json) : undefined;
  const load = run ? (run.loadAverage as Json | undefined) : undefined;
  const note = run ? ` Run of ${day(run.date)}${typeof load?.note === 'string' ? ` (load: ${prose(load.note)})` : ''}.` : '';
  return `${table(['user', 'sessions listed', 'list reply', 'list script', 'logout-all script'], rows)}\n${SOURCE('sessionScripts')}${note}\n`;
}

/** Redis bytes per revoked token: a stream entry against a key per jti. */
export function revocationMemoryTable(bench: Json): string {
  const perEntry = num(bench, 'revocationMemory.bytesPerRevokedToken');
  const perKey = num(bench, 'revocationMemory.plainKeyPerJtiBytes');
  const rows = [
    ['a stream entry in the revocation log (Latchkey)', `${round(perEntry)} B`],
    ['a key per jti with its own TTL', `${round(perKey)} B`],
    ['ratio', round(perEntry / perKey, 2)],
    [
      `left after the longest token lifetime (of ${num(bench, 'revocationMemory.revoked')} revoked)`,
      String(num(bench, 'revocationMemory.entriesLeftAfterLongestLifetime')),
    ],
  ];
  return `${table(['Redis memory per revoked token', ''], rows)}\n${SOURCE('revocationMemory')}\n`;
}

/** `bff.proxy` beside the same upstream reached directly, through a plain undici proxy, and by token mode's direct call. */
export function proxyTable(bench: Json): string {
  const runs = at(bench, 'proxy.throughput') as Record<string, Json>;
  const rows = Object.entries(runs).map(([way, r]) => [
    way,
    round(num(r, 'requestsPerSecond'), 0),
    round(num(r, 'p50Ms'), 1),
    round(num(r, 'p99Ms'), 1),
    round(num(r, 'serverCpuUsPerRequest'), 0),
  ]);
  const ratio = (key: string) => String(num(bench, `proxy.ratios.${key}`));
  const added = (key: string) => ms(num(bench, `proxy.addedLatency.${key}`));
  // Keyed by the proxy's name, which has a dot: read without `at`'s dotted paths.
  const memory = at(bench, 'proxy.sseMemory') as Record<string, Json>;
  const sse = (key: string, field: string) => round(num(memory[key] ?? {}, field) / 1024, 1);
  const streams = num(memory['bff.proxy'] ?? {}, 'streams');
  return [
    table(['the same upstream route', 'req/s', 'p50 ms', 'p99 ms', 'server CPU µs/req'], rows),
    table(
      ['figure', 'value'],
      [
        ['bff.proxy / plain undici proxy (req/s; goal >= 0.85)', ratio('bffProxyOverPlainProxy')],
        ['bff.proxy / token mode direct call (req/s)', ratio('bffProxyOverTokenModeDirect')],
        ['added latency, one call at a time: p50 / p99', `${added('bffProxyP50Ms')} / ${added('bffProxyP99Ms')}`],
        ['plain undici proxy, the same: p50 / p99', `${added('plainProxyP50Ms')} / ${added('plainProxyP99Ms')}`],
        [
          `memory per open SSE stream (${streams} streams): bff.proxy RSS / heap`,
          `${sse('bff.proxy', 'rssBytesPerStream')} KiB / ${sse('bff.proxy', 'heapBytesPerStream')} KiB`,
        ],
        ['plain undici proxy, the same', `${sse('plain undici proxy', 'rssBytesPerStream')} KiB / ${sse('plain undici proxy', 'heapBytesPerStream')} KiB`],
        [
          `logout-all on process A to the first 401 of a proxied call on B (${num(bench, 'proxy.logoutAllToProxiedCall.trials')} trials): p50 / p99 / max`,
          `${ms(num(bench, 'proxy.logoutAllToProxiedCall.p50Ms'))} / ${ms(num(bench, 'proxy.logoutAllToProxiedCall.p99Ms'))} / ${ms(num(bench, 'proxy.logoutAllToProxiedCall.maxMs'))}`,
        ],
      ],
    ),
    // Figures from a busy machine are not a quiet run's: say how busy it was.
    `Measured ${day(bench.date)}, load average at start ${prose(JSON.stringify((bench.loadAverage as Json | undefined)?.atStart ?? 'not recorded'))} on 2 cores. ${SOURCE('proxy')}`,
    '',
  ].join('\n');
}
