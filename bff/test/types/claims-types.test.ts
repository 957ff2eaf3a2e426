import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
const project = fileURLToPath(new URL('./fixture/tsconfig.json', import.meta.url));

describe('LatchkeyClaims module augmentation', () => {
  // The fixture declares `tenant` and `roles`, reads them from req.auth, and holds @ts-expect-error lines that fail
  // the compile if authenticate's or req.auth's types stop following the declaration.
  it('types authenticate and req.auth from the application’s declared claims', async () => {
    const result = await run(process.execPath, [tsc, '-p', project], { timeout: 170_000 }).then(
      () => ({ code: 0, output: '' }),
      (error: { code?: number; stdout?: string }) => ({ code: error.code ?? 1, output: error.stdout ?? '' }),
    );
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 180_000);
});
