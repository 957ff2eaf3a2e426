// Bundles each entry point the way an application would ship it (minified ESM for the browser, peers
// external, @latchkey/shared bundled) and reports min and min+gzip sizes.
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
};
const BUDGET_GZIP = 4096;
const PEERS = ['react', 'react-dom', 'react/jsx-runtime', 'axios'];

const results = [];
for (const [name, entry] of Object.entries(entries)) {
  const out = await build({
    // Bundled as an application imports it (`export * from` the entry), not as the bundle's own entry: a bundler
    // keeps a module-level directive ('use client' on the React entry) only on its entry file, never in the
    // application's bundle, so measuring the entry itself would count bytes no application ships.
    stdin: { contents: `export * from ${JSON.stringify(entry)};`, resolveDir: here('..'), loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    external: PEERS,
    alias: { '@latchkey/shared': here('../../shared/src/index.ts') },
    logLevel: 'error',
  });
  const code = out.outputFiles[0].contents;
  const text = Buffer.from(code).toString('utf8');
  // Static (`from"x"`, `import"x"`), dynamic (`import("x")`) and esbuild's require shim (`require("x")`).
  const peerImports = [...text.matchAll(/(?:\bfrom|\bimport|\brequire)\s*\(?\s*["']([^"']+)["']/g)].map((m) => m[1]);
  results.push({ entry: name, minBytes: code.length, gzipBytes: gzipSync(code).length, imports: peerImports });
}

const total = { entry: 'total', minBytes: 0, gzipBytes: 0, imports: [] };
for (const r of results) {
  total.minBytes += r.minBytes;
  total.gzipBytes += r.gzipBytes;
}
const rows = [...results, total];
const pad = (s, n) => String(s).padEnd(n);
console.log(pad('entry', 8) + pad('min (B)', 10) + pad('min+gzip (B)', 14) + 'imports');
for (const r of rows) console.log(pad(r.entry, 8) + pad(r.minBytes, 10) + pad(r.gzipBytes, 14) + r.imports.join(', '));
const within = total.gzipBytes <= BUDGET_GZIP;
console.log(`budget: ${total.gzipBytes} / ${BUDGET_GZIP} B min+gzip for all three${within ? '' : '  OVER BUDGET'}`);

const report = { budgetGzipBytes: BUDGET_GZIP, withinBudget: within, entries: rows };
if (process.argv[2]) writeFileSync(process.argv[2], JSON.stringify(report, null, 2) + '\n');

// The core must stay framework-free: an application without React or axios must be able to use it.
const core = results.find((r) => r.entry == 'core');
const leaked = core.imports.filter((i) => PEERS.includes(i) || i.startsWith('react/') || i.startsWith('axios/'));
if (leaked.length) {
  console.error(`core bundle imports ${leaked.join(', ')}: the core must not depend on React or axios`);
  process.exit(1);
}
