import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { defineConfig, devices } from '@playwright/test';

/**
 * The browser suite: real Chromium (Debian's, Playwright cannot download its own here) against real redis-server
 * and the real demo server, which the specs start themselves (e2e/support/fixtures.ts).
 */
function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  try {
    const found = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
    if (found && existsSync(found)) return found;
  } catch {
    // not on PATH
  }
  return '/usr/bin/chromium';
}

const CI = !!process.env.CI;

export default defineConfig({
  testDir: 'e2e/specs',
  outputDir: 'test-results/e2e',
  globalSetup: './e2e/support/global-setup.ts',
  // Each spec file starts its own redis-server and demo server; two workers suit a two-core machine.
  workers: Number(process.env.E2E_WORKERS ?? 2),
  fullyParallel: false,
  forbidOnly: CI,
  // One retry on CI, where a red run loses everything; a retried pass is reported as "flaky" in the output.
  retries: CI ? 1 : 0,
  timeout: 60_000,
  globalTimeout: 10 * 60_000,
  expect: { timeout: 10_000 },
  reporter: CI ? [['list'], ['junit', { outputFile: 'test-results/e2e/junit.xml' }]] : [['list']],
  use: {
    ...devices['Desktop Chrome'],
    // baseURL comes from the fixture: the demo server the spec file started.
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: chromiumPath(),
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
});
