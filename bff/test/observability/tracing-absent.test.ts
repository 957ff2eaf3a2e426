import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Tracing } from '../../src/observability/tracing.js';

const run = promisify(execFile);
const fixture = (name: string) => fileURLToPath(new URL(`./fixture/${name}`, import.meta.url));
const ON = { enabled: true, recordUserId: false };

describe('Tracing.load: @opentelemetry/api is optional', () => {
  it('is off when the package cannot be found', async () => {
    const missing = Object.assign(new Error("Cannot find package '@opentelemetry/api'"), { code: 'ERR_MODULE_NOT_FOUND' });
    expect(await Tracing.load(ON, () => Promise.reject(missing))).toBeUndefined();
    // Node's own error for a package that is not installed.
    const notInstalled = '@opentelemetry/api-not-installed-here';
    expect(await Tracing.load(ON, () => import(/* @vite-ignore */ notInstalled))).toBeUndefined();
  });

  it('is on when the package loads', async () => {
    expect(await Tracing.load(ON)).toBeInstanceOf(Tracing);
  });

  it('throws any other import failure: a broken install must not pass for an absent one', async () => {
    await expect(Tracing.load(ON, () => Promise.reject(new SyntaxError('Unexpected token')))).rejects.toThrow('Unexpected token');
  });

  it('enabled: false never imports it', async () => {
    let imported = false;
    const result = await Tracing.load({ enabled: false, recordUserId: false }, async () => {
      imported = true;
      return import('@opentelemetry/api');
    });
    expect(result).toBeUndefined();
    expect(imported).toBe(false);
  });
});

describe('a process where @opentelemetry/api cannot be resolved', () => {
  it('loads the BFF, signs in, refreshes and guards', async () => {
    // tsx runs the BFF's sources; the hooks make `@opentelemetry/api` unresolvable, as in an app that never installed it.
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', fixture('register-hooks.mjs'), fixture('app-without-otel-api.ts')], {
      cwd: fileURLToPath(new URL('../../../', import.meta.url)),
      timeout: 60_000,
    });
    expect(JSON.parse(stdout.trim())).toEqual({ apiImport: 'ERR_MODULE_NOT_FOUND', login: 200, refresh: 200, guarded: 200, sub: 'user-alice' });
  });
});
