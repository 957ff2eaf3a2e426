// ESLint (`npm run lint`): typescript-eslint's recommended rules plus the type-aware ones that find real bugs (a promise
// nobody awaits, a promise where a callback's result is ignored, `await` on a non-promise), the React hooks rules for the
// React binding and the demo page, and eslint-config-prettier last so that formatting is Prettier's alone.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import reactHooks from 'eslint-plugin-react-hooks';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** One `no-restricted-imports` rule per layer. A file in several groups gets the last group's rule only (flat config replaces a rule's options). */
function bffLayers(layers) {
  return layers.map(({ files, regex, message }) => ({
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }] }] },
  }));
}

export default defineConfig(
  globalIgnores(['**/dist/', '**/.next/', '**/next-env.d.ts', '**/*.tsbuildinfo', 'bench/results/', 'test-results/', 'playwright-report/', '.redis-tmp/']),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
      // Each file is checked with the types of the nearest tsconfig.json that includes it (the root one for tests).
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  // The BFF's layers (docs/architecture.md): each folder imports only from the layers below it.
  ...bffLayers([
    {
      // The stores sit under the session layer; they share its credential rule, a file with no imports.
      files: ['bff/src/store/**'],
      regex: '(^|/)(http|routes|adapters|guard|events|oidc)/|(^|/)session/(?!credential-rule\\.js$)|^express$',
      message: 'The store layer imports no layer above it (only session/credential-rule.js).',
    },
    {
      files: ['bff/src/session/**'],
      regex: '(^|/)(http|routes|adapters|guard|events|oidc)/|^express$',
      message: 'The session layer is framework-neutral: no Express, and no HTTP, route, adapter, guard, event or OIDC code.',
    },
    {
      files: ['bff/src/http/**'],
      regex: '(^|/)(routes|adapters)/',
      message: 'The HTTP building blocks import no route and no adapter.',
    },
    {
      files: ['bff/src/routes/**'],
      regex: '(^|/)adapters/',
      message: 'Routes import no adapter: the adapters import the routes.',
    },
    {
      // After the rule for every route (the later rule replaces it for these files, so it repeats its pattern): the
      // framework-neutral routes, one request shape in, one answer out, for bff.router and bff.fetch alike.
      // Every /auth route; not proxy.ts (bff.proxy is an Express router by contract) nor admin/ (the admin router).
      files: [
        'bff/src/routes/{auth-routes,route-table,jwks,login,refresh,logout,logout-all,logout-others,sessions,current-session,events}.ts',
        'bff/src/routes/{introspect,revoke,oauth-endpoints,oidc-login,oidc-callback,oidc-logout,oidc-backchannel-logout}.ts',
      ],
      regex: '^express$|(^|/)adapters/',
      message: 'A framework-neutral route imports neither Express nor an adapter.',
    },
  ]),
  {
    files: ['client/src/**', 'client/test/**', 'examples/demo/web/**', 'examples/next/app/**', 'admin-console/web/**', 'e2e/**'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['client/src/react/**/*.{ts,tsx}', 'examples/demo/web/src/**/*.{ts,tsx}', 'examples/next/app/**/*.{ts,tsx}', 'admin-console/web/src/**/*.{ts,tsx}'],
    extends: [reactHooks.configs.flat.recommended],
  },
  {
    // Playwright reads a fixture's dependencies from its first parameter's pattern: `{}` means none.
    files: ['e2e/**'],
    rules: { 'no-empty-pattern': 'off' },
  },
  {
    // Plain JavaScript is in no tsconfig: no type information for it.
    files: ['**/*.{js,mjs,cjs}'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  prettier,
);
