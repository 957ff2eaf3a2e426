#!/usr/bin/env bash
# `npm test`: every test. Unit and integration (vitest, real redis-server), then the browser suite (Playwright, real Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
npm run build --silent
npx vitest run
if [ -d e2e/specs ]; then npx playwright test; fi
