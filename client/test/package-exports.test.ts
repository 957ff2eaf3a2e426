// @vitest-environment node
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const dir = fileURLToPath(new URL('..', import.meta.url));
const pkg = JSON.parse(readFileSync(dir + 'package.json', 'utf8')) as { exports: Record<string, { types: string; default: string }> };

describe('@latchkey/client package exports (built output; `npm test` builds first)', () => {
  it.each(Object.entries(pkg.exports))('%s points at a built module and its declarations', (_subpath, target) => {
    expect(existsSync(dir + target.default)).toBe(true);
    expect(existsSync(dir + target.types)).toBe(true);
  });

  it('every subpath is measured by the size script (client/scripts/size.mjs)', () => {
    const script = readFileSync(dir + 'scripts/size.mjs', 'utf8');
    for (const target of Object.values(pkg.exports)) expect(script).toContain(target.default.replace('./dist/', '../src/').replace(/\.js$/, '.ts'));
  });
});
