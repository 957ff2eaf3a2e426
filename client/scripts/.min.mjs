import { build } from 'esbuild';
const out = await build({ stdin: { contents: `export * from "/work/wt/stepup/client/src/index.ts";`, resolveDir: '/work/wt/stepup', loader: 'ts' }, bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, external: ['react', 'axios'], alias: { '@latchkey/shared': '/work/wt/stepup/shared/src/index.ts' }, logLevel: 'error' });
console.log(out.outputFiles[0].text);
