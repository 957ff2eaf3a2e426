import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Tests run against the TypeScript sources, so `npm test` needs no build for unit and integration tests.
const alias = {
  '@latchkey/shared': src('./shared/src/index.ts'),
  '@latchkey/bff/store': src('./bff/src/store/index.ts'),
  '@latchkey/bff/guard': src('./bff/src/guard/index.ts'),
  '@latchkey/bff': src('./bff/src/index.ts'),
  '@latchkey/client/react/devices': src('./client/src/react/devices.ts'),
  '@latchkey/client/react': src('./client/src/react/index.ts'),
  '@latchkey/client/axios': src('./client/src/axios/index.ts'),
  '@latchkey/client/live': src('./client/src/live/index.ts'),
  '@latchkey/client/proxy': src('./client/src/proxy/index.ts'),
  '@latchkey/client': src('./client/src/index.ts'),
  '@latchkey/testkit': src('./testkit/src/index.ts'),
  '@latchkey/admin-console': src('./admin-console/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'server',
          environment: 'node',
          include: [
            'shared/test/**/*.test.ts',
            'bff/test/**/*.test.ts',
            'examples/demo/test/**/*.test.ts',
            'testkit/test/**/*.test.ts',
            'docs/test/**/*.test.ts',
            'admin-console/test/**/*.test.ts',
            'deploy/test/**/*.test.ts',
          ],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // The HTTP contract suites again, with /auth served by bff.fetch instead of bff.router (bff/test/helpers/harness.ts).
          name: 'server-fetch',
          environment: 'node',
          env: { LATCHKEY_TEST_ADAPTER: 'fetch' },
          include: [
            'bff/test/http/{login,refresh,logout,sessions,current-session,csrf,cors,error-responses,rate-limits,security-log,claims-and-scopes,trust-proxy,session-hint-cookie,health,introspection,events}.test.ts',
            'bff/test/fuzz/{http-fuzz,oauth-endpoints-fuzz}.test.ts',
            'bff/test/oidc/*.test.ts',
          ],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        // `express` is Express 4 here (the `express4` alias package), for the BFF's sources and the test harness alike;
        // modules in node_modules keep their own. (An array: a key `express` would also catch `express-session`'s path.)
        resolve: { alias: [{ find: /^express$/, replacement: 'express4' }, ...Object.entries(alias).map(([find, replacement]) => ({ find, replacement }))] },
        test: {
          // The HTTP suites again on Express 4.21+, the other Express the peer range allows (bff.router, requireAuth,
          // the error handler, the Express-only routes, trust proxy).
          name: 'server-express4',
          environment: 'node',
          env: { LATCHKEY_TEST_EXPRESS: '4' },
          include: [
            'bff/test/http/!(fetch-adapter|rate-limits-cluster).test.ts',
            'bff/test/oidc/*.test.ts',
            'bff/test/admin/admin-router.test.ts',
            'bff/test/proxy/proxy.test.ts',
            'bff/test/fuzz/*.test.ts',
            'admin-console/test/admin-console.test.ts',
          ],
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'client',
          environment: 'happy-dom',
          include: ['client/test/**/*.test.ts', 'client/test/**/*.test.tsx'],
          testTimeout: 10_000,
        },
      },
    ],
  },
});
