import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const repo = (path: string) => fileURLToPath(new URL('../../../' + path, import.meta.url));

// The page is built from the library sources, so the demo always shows the code in this checkout.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [react()],
  resolve: {
    // Exact matches: '@latchkey/client' must not swallow '@latchkey/client/react'.
    alias: [
      { find: /^@latchkey\/client\/react$/, replacement: repo('client/src/react/index.ts') },
      { find: /^@latchkey\/client\/react\/devices$/, replacement: repo('client/src/react/devices.ts') },
      { find: /^@latchkey\/client\/axios$/, replacement: repo('client/src/axios/index.ts') },
      { find: /^@latchkey\/client\/live$/, replacement: repo('client/src/live/index.ts') },
      { find: /^@latchkey\/client\/proxy$/, replacement: repo('client/src/proxy/index.ts') },
      { find: /^@latchkey\/client$/, replacement: repo('client/src/index.ts') },
      { find: /^@latchkey\/shared$/, replacement: repo('shared/src/index.ts') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      // The demo page, and the browser entry of the server-rendered page (/ssr), under a fixed name the server links.
      input: { main: fileURLToPath(new URL('index.html', import.meta.url)), ssr: fileURLToPath(new URL('src/ssr-main.tsx', import.meta.url)) },
      output: { entryFileNames: (chunk) => (chunk.name === 'ssr' ? 'assets/ssr.js' : 'assets/[name]-[hash].js') },
    },
  },
  // `npx vite` in this folder: the page with hot reload, the BFF and API from a demo server on :3000.
  server: {
    proxy: { '/auth': 'http://localhost:3000', '/api': 'http://localhost:3000' },
  },
});
