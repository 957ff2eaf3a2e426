#!/usr/bin/env bash
# Prints the bin folder of a Node 24 LTS, installed once from the npm registry's `node` package into a cache folder
# (the package ships the binary; nothing is downloaded from elsewhere). Used by `npm test` on CI to run the
# unit and integration suite on Node 24 as well as on the machine's Node.
set -euo pipefail
dir="${LATCHKEY_NODE24_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/latchkey-node24}"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error --prefix . node@24 >/dev/null)
fi
echo "$dir/node_modules/.bin"
