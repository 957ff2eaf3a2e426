import { join } from 'node:path';
import { optionsSchema } from '../../bff/src/options.js';
import { propagationTable, proxyTable, readBench, revocationMemoryTable, sessionScriptsTable, tracingTable } from './bench-tables.js';
import { errorTable } from './error-table.js';
import { metricsTable } from './metrics-table.js';
import { optionsTable } from './options-table.js';

/** One generated block: the Markdown file (relative to the repository root) and block name, and what fills it. */
export interface GeneratedBlock {
  file: string;
  name: string;
  render(root: string): string | Promise<string>;
}

const bench = (root: string) => readBench(join(root, 'bench/results/latest.json'));

export const GENERATED_BLOCKS: readonly GeneratedBlock[] = [
  { file: 'README.md', name: 'options', render: () => optionsTable(optionsSchema, 'README.md') },
  { file: 'README.md', name: 'errors', render: () => errorTable('README.md') },
  { file: 'docs/operations.md', name: 'metrics', render: () => metricsTable() },
  { file: 'docs/tracing.md', name: 'bench:tracing', render: (root) => tracingTable(bench(root)) },
  { file: 'docs/redis.md', name: 'bench:propagation', render: (root) => propagationTable(bench(root)) },
  { file: 'docs/architecture.md', name: 'bench:session-scripts', render: (root) => sessionScriptsTable(bench(root)) },
  { file: 'docs/architecture.md', name: 'bench:revocation-memory', render: (root) => revocationMemoryTable(bench(root)) },
  { file: 'docs/proxy.md', name: 'bench:proxy', render: (root) => proxyTable(bench(root)) },
];
