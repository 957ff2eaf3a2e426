// @vitest-environment node
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const built = fileURLToPath(new URL('../dist/react/index.js', import.meta.url));
const shared = fileURLToPath(new URL('../../shared/dist/index.js', import.meta.url));

describe('"use client" on the React entry (built output; `npm test` builds first)', () => {
  it('is the first statement of dist/react/index.js, so Next.js App Router treats it as a client module', () => {
    const code = readFileSync(built, 'utf8');
    expect(code.split('\n')[0]).toBe("'use client';");
  });

  it('bundles without complaint, and an application bundle that imports it does not carry the directive', async () => {
    const out = await build({
      stdin: { contents: `import { SessionProvider } from ${JSON.stringify(built)}; console.log(SessionProvider);`, resolveDir: '.', loader: 'js' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      external: ['react'],
      alias: { '@latchkey/shared': shared },
      logLevel: 'silent',
    });
    expect(out.errors).toEqual([]);
    expect(out.warnings).toEqual([]);
    expect(out.outputFiles[0]!.text).not.toContain('use client');
    expect(out.outputFiles[0]!.text).toContain('SessionProvider');
  });
});
