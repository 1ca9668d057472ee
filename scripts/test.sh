#!/usr/bin/env bash
# Runs every test: the native core, the built package's types, the wasm-bindgen-test suite in Node
# and in headless Chrome, the package as a user installs it (README examples, examples/, stores),
# the dashboard and the package in pages under Chromium (playwright-core), the Cloudflare Worker
# under `wrangler dev` (workerd), and the benchmark harness in its verify-only mode.
# Installs what it needs first (scripts/install.sh). Ends with one line: "N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

logs="$(mktemp -d)"
passed=0
failed=0

# step NAME MIN_TESTS COMMAND...: runs COMMAND, counts its passed/failed tests from the runner's
# summary lines, and fails the step if fewer than MIN_TESTS ran (a runner that silently skips
# everything must not look green).
step() {
  local name="$1" min="$2"; shift 2
  printf '\n== %s ==\n' "$name"
  local log="$logs/$(echo "$name" | tr -c 'a-z0-9' '-').log" status=0
  "$@" 2>&1 | tee "$log" || status=$?
  local p f
  # Counting must not trip `set -e` when a runner prints no summary line.
  p=$( (grep -Eo 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -Eo '[0-9]+ passed' | grep -Eo '[0-9]+'; grep -E '^# pass [0-9]+' "$log" | grep -Eo '[0-9]+') | awk '{s+=$1} END {print s+0}' || true)
  f=$( (grep -Eo '[0-9]+ failed' "$log" | grep -Eo '[0-9]+'; grep -E '^# fail [0-9]+' "$log" | grep -Eo '[0-9]+') | awk '{s+=$1} END {print s+0}' || true)
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$status" -ne 0 ]; then
    echo "FAILED: $name (exit $status)"
    [ "$f" -gt 0 ] || failed=$((failed + 1))
    return 0
  fi
  if [ "$p" -lt "$min" ]; then
    echo "FAILED: $name ran $p tests, expected at least $min"
    failed=$((failed + 1))
  fi
}

step "core: cargo test (native)" 70 cargo test --all-targets
step "build: pkg/" 0 bash scripts/build.sh
step "types: tsc over the package's .d.ts" 0 bash -c '
  set -e
  tsc -p tests/types
  tsc -p tests/types/no-dom
  if grep -nE "(:|<|,|\||=) *any\b|\bany\[\]" js/baton.d.ts; then echo "the public types must not use any"; exit 1; fi
  echo "types ok"'
step "wasm-bindgen-test: Node" 42 wasm-pack test --node -- --test js_api
step "wasm-bindgen-test: headless Chrome" 42 bash scripts/chrome-tests.sh
step "node --test: the package as a user installs it, README examples, examples/, stores" 17 node --test tests/node/
step "Chromium via playwright-core: the dashboard, IndexedDB reload, 1,000-task trace, the package in pages" 8 node --test --test-concurrency=1 tests/browser/
step "worker: build (worker-build, feature worker) and the dashboard site" 0 bash scripts/build-worker.sh
step "worker: wrangler dev on 127.0.0.1 with HTTP agents: REST, alarms, auth, bad inputs, SIGKILL restarts, remote dashboard" 10 node --test --test-concurrency=1 tests/worker/
if [ -d ../shared/peers ]; then
  step "bench: the peers' harness with Baton, --verify-only (correctness, not timing)" 0 bash bench/run.sh --verify-only
else
  echo "== bench: skipped, ../shared/peers is not beside this checkout =="
fi

rm -rf "$logs"
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
