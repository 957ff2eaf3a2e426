/**
 * The built demo server (`examples/demo/dist/server.js`, made by `npm run build`) as a child process on a free port,
 * ready once GET /api/public answers and it printed its documented "Latchkey demo on http://localhost:<port>" line.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEST_METRICS_TOKEN } from './metrics.js';
import { startNodeProcess, type NodeProcess } from './node-process.js';

/** The repository root (testkit/dist/.. or testkit/src/.. -> ..). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEMO_SERVER = fileURLToPath(new URL('../../examples/demo/dist/server.js', import.meta.url));
export const DEMO_PAGE_INDEX = fileURLToPath(new URL('../../examples/demo/web/dist/index.html', import.meta.url));

export interface DemoProcessOptions {
  /**
   * The demo's environment (REDIS_URL, LATCHKEY_SECRET, LATCHKEY_ISSUER, ...), on top of this process's and the
   * defaults NODE_ENV=test, LATCHKEY_LOG_LEVEL=warn and LATCHKEY_METRICS_TOKEN=TEST_METRICS_TOKEN (what fetchMetrics sends). Without LATCHKEY_ISSUER the demo's issuer is its own
   * http://localhost:<port>.
   */
  env?: Record<string, string>;
  /** Default: a free port. restart() keeps it (the browser's origin, cookie and page stay valid). */
  port?: number;
  /** Default 20 s. */
  readyTimeoutMs?: number;
}

export type DemoProcess = NodeProcess;

export async function startDemoProcess(options: DemoProcessOptions = {}): Promise<DemoProcess> {
  if (!existsSync(DEMO_SERVER)) throw new Error(`${DEMO_SERVER} is missing: run \`npm run build\` first`);
  return startNodeProcess({
    script: DEMO_SERVER,
    cwd: REPO_ROOT,
    env: { NODE_ENV: 'test', LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_METRICS_TOKEN: TEST_METRICS_TOKEN, ...options.env },
    host: 'localhost',
    readyPath: '/api/public',
    readyLine: 'Latchkey demo on http://localhost:',
    ...(options.port !== undefined ? { port: options.port } : {}),
    ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
}
