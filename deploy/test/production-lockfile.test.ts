import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// What a production install of the published packages pulls in is pinned by the lockfile: each package at one exact
// version with a sha512 integrity, from the registry (docs/security.md "Supply chain"). `npm ci` installs exactly this.
interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8')) as {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
};
const PUBLISHED = ['shared', 'bff', 'client', 'admin-console'];

/** npm's lookup: `<from>/node_modules/<name>`, then each parent folder's, up to the root's. */
function locate(from: string, name: string): string | undefined {
  let base = from;
  for (;;) {
    const key = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (lock.packages[key]) return key;
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut === -1 ? '' : base.slice(0, cut);
  }
}

function productionTree(): Map<string, LockEntry> {
  const seen = new Map<string, LockEntry>();
  const queue = [...PUBLISHED];
  while (queue.length > 0) {
    const key = queue.shift()!;
    if (seen.has(key)) continue;
    const entry = lock.packages[key];
    if (!entry) throw new Error(`${key} is not in the lockfile`);
    seen.set(key, entry);
    for (const name of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) {
      const found = locate(key, name);
      if (found === undefined) {
        if (entry.optionalDependencies?.[name]) continue;
        throw new Error(`${key} depends on ${name}, which the lockfile does not hold`);
      }
      const target = lock.packages[found]!;
      // A workspace package is a link to its folder.
      queue.push(target.link && target.resolved ? target.resolved : found);
    }
  }
  return seen;
}

describe('the production dependency tree in package-lock.json', () => {
  const tree = productionTree();
  const external = [...tree].filter(([key]) => key.includes('node_modules/'));

  it('is a lockfile v3 holding every runtime dependency of the published packages', () => {
    expect(lock.lockfileVersion).toBe(3);
    expect(external.length).toBeGreaterThan(20);
    const names = external.map(([key]) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length));
    for (const name of ['jose', 'ioredis', 'express-session', 'zod', 'openid-client', 'pino', 'undici']) expect(names).toContain(name);
  });

  it('pins each package to one exact version with a sha512 integrity, from the npm registry', () => {
    const unpinned = external.filter(([, entry]) => !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(entry.version ?? '') || !entry.integrity?.startsWith('sha512-'));
    expect(unpinned.map(([key]) => key)).toEqual([]);
    const elsewhere = external.filter(([, entry]) => entry.resolved !== undefined && !entry.resolved.startsWith('https://registry.npmjs.org/'));
    expect(elsewhere.map(([key, entry]) => `${key} ${entry.resolved}`)).toEqual([]);
  });
});
