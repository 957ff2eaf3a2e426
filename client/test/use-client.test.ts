// @vitest-environment node
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const shared = fileURLToPath(new URL('../../shared/dist/index.js', import.meta.url));

// Both React entries: the binding and the device-list hook (`@latchkey/client/react/devices`).
describe.each([
  ['react/index.js', 'SessionProvider'],
  ['react/devices.js', 'useDevices'],
])('"use client" on dist/%s (built output; `npm test` builds first)', (file, name) => {
  const built = fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

  it('is the first statement, so Next.js App Router treats it as a client module', () => {
    const code = readFileSync(built, 'utf8');
    expect(code.split('\n')[0]).toBe("'use client';");
  });

  it('bundles without complaint, and an application bundle that imports it does not carry the directive', async () => {
    const out = await build({
      stdin: { contents: `import { ${name} } from ${JSON.stringify(built)}; console.log(${name});`, resolveDir: '.', loader: 'js' },
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
    expect(out.outputFiles[0]!.text).toContain(name);
  });
});
