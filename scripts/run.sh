#!/usr/bin/env bash
# Baton's main job for now: builds the npm package and runs the first seed's trading example in
# Node, printing the agents' transitions and the statistics. Installs what it needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/build.sh
(cd examples && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
node examples/trading.mjs
