// Bundles each entry point the way an application would ship it (minified ESM for the browser, peers
// external, @latchkey/shared bundled, a production build: `process.env.NODE_ENV` is 'production', as every bundler's
// production mode sets it) and reports min and min+gzip sizes, each entry alone and each budgeted combination as ONE
// bundle of its entries (an application ships one bundle: modules the entries share count once, and gzip runs once over
// it). Budgets: core + axios + react and proxy + react (what every application of each mode loads), the live entry
// (`@latchkey/client/live`) on its own, and what the device-list hook (`@latchkey/client/react/devices`) adds to core +
// axios + react: the two opt-in entries are paid only by applications that import them. Exits non-zero when one is
// exceeded; `npm test` runs it.
// Usage: node client/scripts/size.mjs [out.json]
import { build } from 'esbuild';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const entries = {
  core: here('../src/index.ts'),
  axios: here('../src/axios/index.ts'),
  react: here('../src/react/index.ts'),
  live: here('../src/live/index.ts'),
  proxy: here('../src/proxy/index.ts'),
  devices: here('../src/react/devices.ts'),
};
/** min+gzip budgets: the entries every application loads together, and each opt-in entry. */
const BUDGETS = [
  { name: 'core+axios+react', entries: ['core', 'axios', 'react'], gzipBytes: 4096 },
  { name: 'live', entries: ['live'], gzipBytes: 1024 },
  // Proxy mode (`@latchkey/client/proxy`: its client and axios adapter) with the React binding.
  { name: 'proxy+react', entries: ['proxy', 'react'], gzipBytes: 4096 },
  // What the device-list hook adds to the token-mode bundle (it builds on the React binding, counted there).
  { name: 'devices (added to core+axios+react)', entries: ['core', 'axios', 'react', 'devices'], over: 'core+axios+react', gzipBytes: 256 },
];
const PEERS = ['react', 'react-dom', 'react/jsx-runtime', 'axios'];

/** The runtime exports of one entry (its own bundle's export list). */
const exportCache = new Map();
async function exportsOf(name) {
  if (!exportCache.has(name)) {
    const out = await build({
      entryPoints: [entries[name]],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      external: PEERS,
      alias: { '@latchkey/shared': here('../../shared/src/index.ts') },
      logLevel: 'error',
    });
    exportCache.set(name, Object.values(out.metafile.outputs)[0].exports);
  }
  return exportCache.get(name);
}

/** Minified ESM of the given entries bundled together, as an application that imports them ships it. */
async function bundle(names) {
  const out = await build({
    // Bundled as an application imports it (`export * from` the entry), not as the bundle's own entry: a bundler
    // keeps a module-level directive ('use client' on the React entries) only on its entry file, never in the
    // application's bundle, so measuring the entry itself would count bytes no application ships.
    // Several entries: every export of every entry re-exported by name, so that each is kept, as an application
    // importing all of them would (by name: an application never builds the namespace objects `export * as` would
    // add). A name two entries both export would be dropped silently (ambiguous); the check below refuses that.
    stdin: {
      contents: names.map((n) => `export * from ${JSON.stringify(entries[n])};`).join('\n'),
      resolveDir: here('..'),
      loader: 'ts',
    },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    external: PEERS,
    alias: { '@latchkey/shared': here('../../shared/src/index.ts') },
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'error',
  });
  const exported = Object.values(out.metafile.outputs)[0].exports;
  const expected = new Set();
  for (const n of names) for (const name of await exportsOf(n)) expected.add(name);
  if (exported.length != expected.size)
    throw new Error(`bundle of ${names.join('+')} lost exports: ${[...expected].filter((e) => !exported.includes(e)).join(', ')}`);
  const code = out.outputFiles[0].contents;
  const text = Buffer.from(code).toString('utf8');
  // Static (`from"x"`, `import"x"`), dynamic (`import("x")`) and esbuild's require shim (`require("x")`).
  const peerImports = [...text.matchAll(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
  return { minBytes: code.length, gzipBytes: gzipSync(code).length, imports: [...new Set(peerImports)] };
}

const results = [];
for (const name of Object.keys(entries)) results.push({ entry: name, ...(await bundle([name])) });

const budgets = [];
const measured = new Map();
for (const b of BUDGETS) {
  const { minBytes, gzipBytes: bundleGzipBytes } = await bundle(b.entries);
  // An opt-in entry's budget is what it adds to the bundle it builds on.
  const gzipBytes = b.over ? bundleGzipBytes - measured.get(b.over) : bundleGzipBytes;
  measured.set(b.name, bundleGzipBytes);
  // The entries bundled one by one, summed: what the budget measured before (shared modules and gzip counted per entry).
  const separateGzipBytes = results.filter((r) => b.entries.includes(r.entry)).reduce((a, r) => a + r.gzipBytes, 0);
  budgets.push({
    budget: b.name,
    entries: b.entries,
    over: b.over,
    minBytes,
    gzipBytes,
    separateGzipBytes,
    budgetGzipBytes: b.gzipBytes,
    within: gzipBytes <= b.gzipBytes,
  });
}
const pad = (s, n) => String(s).padEnd(n);
console.log(pad('entry', 18) + pad('min (B)', 10) + pad('min+gzip (B)', 14) + 'imports');
for (const r of results) console.log(pad(r.entry, 18) + pad(r.minBytes, 10) + pad(r.gzipBytes, 14) + r.imports.join(', '));
for (const b of budgets) {
  console.log(
    `budget ${b.budget}: ${b.gzipBytes} / ${b.budgetGzipBytes} B min+gzip${b.over ? '' : ` as one bundle (entries bundled apart, summed: ${b.separateGzipBytes})`}${b.within ? '' : '  OVER BUDGET'}`,
  );
}
const within = budgets.every((b) => b.within);

// `total` and `budgetGzipBytes` keep the shape earlier reports had (core + axios + react).
const main = budgets[0];
const total = { entry: 'total', minBytes: main.minBytes, gzipBytes: main.gzipBytes, imports: [] };
const report = { budgetGzipBytes: main.budgetGzipBytes, withinBudget: within, budgets, entries: [...results, total] };
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(report, null, 2) + '\n');

// The core must stay framework-free: an application without React or axios must be able to use it.
const core = results.find((r) => r.entry == 'core');
const leaked = core.imports.filter((i) => PEERS.includes(i) || i.startsWith('react/') || i.startsWith('axios/'));
if (leaked.length) {
  console.error(`core bundle imports ${leaked.join(', ')}: the core must not depend on React or axios`);
  process.exit(1);
}

if (!within) {
  console.error(
    'over budget: ' +
      budgets
        .filter((b) => !b.within)
        .map((b) => b.budget)
        .join(', '),
  );
  process.exit(1);
}
