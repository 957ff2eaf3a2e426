import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
const [dir] = process.argv.slice(2);
let total = 0;
for (const e of ['index.ts', 'axios/index.ts', 'react/index.ts']) {
  const out = await build({ stdin: { contents: `export * from ${JSON.stringify(dir + '/client-src/' + e)};`, resolveDir: dir, loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, external: ['react', 'react-dom', 'react/jsx-runtime', 'axios'], alias: { '@latchkey/shared': dir + '/shared-src/index.ts' }, logLevel: 'error' });
  const g = gzipSync(out.outputFiles[0].contents).length; total += g; process.stdout.write(e + ' ' + g + '  ');
}
console.log('total', total);
