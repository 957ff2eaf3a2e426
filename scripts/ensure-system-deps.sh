#!/usr/bin/env bash
# Installs what the tests need from Debian's packages when it is missing: redis-server (integration tests),
# prometheus (promtool and the server, for the alert rules' tests in deploy/test) and chromium (Playwright; it cannot
# download its own browser here). Stops with one clear line otherwise.
set -euo pipefail
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; } || missing+=(prometheus)
if [ "${LATCHKEY_SKIP_BROWSER:-0}" != "1" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing ${missing[*]} from Debian's packages..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Missing ${missing[*]}: install with 'sudo apt-get install -y ${missing[*]}' and run again." >&2
  exit 1
fi
