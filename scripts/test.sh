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
npx vitest run
if [ -d e2e/specs ]; then npx playwright test; fi
