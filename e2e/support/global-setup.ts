/**
 * Runs once before the browser suite: makes sure what the specs start is built.
 * - the demo server (`examples/demo/dist/server.js`, tsc -b examples/demo), when missing;
 * - the demo page (`examples/demo/web/dist`, Vite from the client and shared sources), when missing or older than
 *   its sources.
 * - the Next.js example's production build (`next build` in examples/next), when missing or older than its sources or
 *   the compiled packages it imports.
 * `npm test` has already run `npm run build`; this covers `npx playwright test` on its own and a page that
 * `npm run build` does not build. Set E2E_SKIP_BUILD=1 to skip it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_PAGE_INDEX, DEMO_SERVER, REPO_ROOT } from '@latchkey/testkit';

const WEB_DIR = join(REPO_ROOT, 'examples/demo/web');
const SKIP = new Set(['node_modules', 'dist', '.vite', 'test-results', '.next']);
/** The Next.js example (e2e/specs/next.spec.ts runs its production build: `next build`, then `next start`). */
export const NEXT_DIR = join(REPO_ROOT, 'examples/next');
export const NEXT_BUILD_ID = join(NEXT_DIR, '.next/BUILD_ID');

/** The newest modification time of any file below `path` (0 when it does not exist). */
function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let max = 0;
  for (const entry of readdirSync(path)) {
    if (SKIP.has(entry)) continue;
    max = Math.max(max, newest(join(path, entry)));
  }
  return max;
}

function run(command: string, args: string[], cwd: string): void {
  process.stdout.write(`[e2e setup] ${command} ${args.join(' ')} (in ${cwd.replace(REPO_ROOT, '') || '.'})\n`);
  execFileSync(command, args, { cwd, stdio: 'inherit', env: process.env });
}

export default function globalSetup(): void {
  if (process.env.E2E_SKIP_BUILD === '1') return;
  // The server needs shared, bff and the demo compiled (the page is built from sources by Vite).
  if (!existsSync(DEMO_SERVER)) run('npx', ['tsc', '-b', 'examples/demo'], REPO_ROOT);

  if (!existsSync(WEB_DIR)) {
    process.stdout.write('[e2e setup] examples/demo/web does not exist: the page specs will fail (the server serves a placeholder)\n');
    return;
  }
  const built = existsSync(DEMO_PAGE_INDEX) ? statSync(DEMO_PAGE_INDEX).mtimeMs : 0;
  const sources = Math.max(newest(WEB_DIR), newest(join(REPO_ROOT, 'client/src')), newest(join(REPO_ROOT, 'shared/src')));
  if (built === 0 || sources > built) run('npx', ['vite', 'build', '--logLevel', 'warn'], WEB_DIR);
  if (!existsSync(DEMO_PAGE_INDEX)) throw new Error(`${DEMO_PAGE_INDEX} is missing after the Vite build`);

  if (existsSync(NEXT_DIR)) {
    const nextBuilt = existsSync(NEXT_BUILD_ID) ? statSync(NEXT_BUILD_ID).mtimeMs : 0;
    const nextSources = Math.max(newest(NEXT_DIR), newest(join(REPO_ROOT, 'client/dist')), newest(join(REPO_ROOT, 'bff/dist')));
    if (nextBuilt === 0 || nextSources > nextBuilt) {
      if (!existsSync(join(REPO_ROOT, 'client/dist')) || !existsSync(join(REPO_ROOT, 'bff/dist'))) run('npx', ['tsc', '-b', 'tsconfig.build.json'], REPO_ROOT);
      const started = Date.now();
      run('npm', ['run', 'build', '--silent'], NEXT_DIR);
      process.stdout.write(`[e2e setup] next build took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }
}
