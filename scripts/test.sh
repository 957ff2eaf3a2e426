#!/usr/bin/env bash
# `npm test`: the cheap checks first (types, then lint and format), then every test: unit and integration (vitest, real
# redis-server), then the browser suite (Playwright, real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
# The type check builds the packages (tsc -b) first, so ESLint's type-aware rules see their declarations.
npm run typecheck --silent
npm run lint --silent
npm run build --silent
# The browser packages' size budgets (client/scripts/size.mjs): over budget fails like a test.
npm run size --silent
npx vitest run
# The same suite on Node 24 LTS as well (Node 20 reached end of life in April 2026): on CI, or when asked.
if [ "${CI:-}" = "true" ] || [ "${LATCHKEY_TEST_NODE24:-0}" = "1" ]; then
  node24="$(bash scripts/node24.sh)"
  echo "Unit and integration tests again on Node $("$node24/node" -v)"
  # The main projects only: the adapter variants (bff.fetch, Express 4) re-run the same suites and differ by framework,
  # not by runtime; skipping them here keeps CI near 25 minutes.
  PATH="$node24:$PATH" npx vitest run --project server --project client
fi
if [ -d e2e/specs ]; then npx playwright test; fi
