import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const repo = (path: string) => fileURLToPath(new URL('../../' + path, import.meta.url));

// Built from the library sources, like the demo page. `base: './'`: the application chooses where to mount the console,
// so every URL in the page is relative to it (the router redirects `/admin-console` to `/admin-console/`).
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  plugins: [react()],
  resolve: {
    alias: [
      { find: /^@latchkey\/client\/react$/, replacement: repo('client/src/react/index.ts') },
      { find: /^@latchkey\/client\/live$/, replacement: repo('client/src/live/index.ts') },
      { find: /^@latchkey\/client$/, replacement: repo('client/src/index.ts') },
      { find: /^@latchkey\/shared$/, replacement: repo('shared/src/index.ts') },
    ],
  },
  build: { outDir: '../dist/app', emptyOutDir: true },
});
