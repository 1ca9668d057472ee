#!/usr/bin/env bash
# Baton's main job: builds the npm package and the Cloudflare Worker, runs the first seed's
# trading example in Node, then starts the Worker locally with `wrangler dev` on 127.0.0.1
# (state kept in .baton-state/, demo agents registered) and prints its URL, the dashboard's and a
# curl example. Installs what it needs first. Ctrl-C stops it. BATON_PORT picks the port (8787).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/build.sh
bash scripts/build-worker.sh
(cd examples && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
node examples/trading.mjs
echo
exec node scripts/dev.mjs
