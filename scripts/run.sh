#!/usr/bin/env bash
# Baton's main job: builds the npm package, runs the first seed's trading example in Node
# (agents' transitions and statistics), then serves the dashboard on 127.0.0.1 and prints its
# URL (Ctrl-C stops it). Installs what it needs first. BATON_DASHBOARD_PORT picks the port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/build.sh
(cd examples && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
node examples/trading.mjs
echo
echo "The dashboard runs Baton in the page (local mode) or watches a Worker (remote mode)."
exec node scripts/serve.mjs --port "${BATON_DASHBOARD_PORT:-8080}"
