// @vitest-environment node
import { fileURLToPath } from 'node:url';
import { createSessionClient } from '@latchkey/client';
import { build } from 'esbuild';
import { afterEach, describe, expect, it, vi } from 'vitest';

const src = (path: string) => fileURLToPath(new URL(`../src/${path}`, import.meta.url));

afterEach(() => void vi.unstubAllEnvs());

describe('checks that only catch a developer mistake run in development, never in production builds', () => {
  it('in development (and tests) an unknown option, a wrong type, or mode: proxy throws; mode: token is the default', () => {
    expect(() => createSessionClient({ refreshMargin: 5 } as never)).toThrow(new TypeError('latchkey: invalid option refreshMargin'));
    expect(() => createSessionClient({ handoverWaitMs: '150' } as never)).toThrow(new TypeError('latchkey: invalid option handoverWaitMs'));
    expect(() => createSessionClient({ mode: 'proxy' } as never)).toThrow(new TypeError('latchkey: invalid option mode'));
    expect(createSessionClient({ mode: 'token' }).options.bffUrl).toBe('/auth');
  });

  it('in production those checks are skipped, but apiOrigins (where the token goes) is still checked', () => {
    vi.stubEnv('NODE_ENV', 'production');
    expect(() => createSessionClient({ refreshMargin: 5 } as never)).not.toThrow();
    expect(() => createSessionClient({ apiOrigins: ['https://api.example.test/v1'] })).toThrow(
      new TypeError('latchkey: invalid option apiOrigins: https://api.example.test/v1'),
    );
    expect(() => createSessionClient({ apiOrigins: ['not a url'] })).toThrow(TypeError);
    expect(createSessionClient({ apiOrigins: ['https://API.example.test'] }).options.apiOrigins).toEqual(['https://api.example.test']);
  });

  it.each([
    ['production', false],
    ['development', true],
  ])('a %s bundle carries the development messages: %s', async (mode, carried) => {
    const out = await build({
      stdin: {
        contents: ['index.ts', 'react/index.ts'].map((f) => `export * from ${JSON.stringify(src(f))};`).join('\n'),
        resolveDir: src('.'),
        loader: 'ts',
      },
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      external: ['react'],
      alias: { '@latchkey/shared': fileURLToPath(new URL('../../shared/src/index.ts', import.meta.url)) },
      define: { 'process.env.NODE_ENV': JSON.stringify(mode) },
      logLevel: 'silent',
    });
    const code = out.outputFiles[0]!.text;
    for (const text of ['no SessionProvider', 'add origin to origins.allowed', '"backoffMaxMs"', '"bffUrl"']) expect(code.includes(text)).toBe(carried);
    // The apiOrigins check stays in both.
    expect(code).toContain('apiOrigins: ');
    expect(code).not.toContain('process.env');
  });
});
