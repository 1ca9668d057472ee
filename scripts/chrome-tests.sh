#!/usr/bin/env bash
# The wasm-bindgen-test suite in headless Chrome. On this kind of machine ChromeDriver sometimes
# hangs while it starts Chrome, before any test is loaded (about one start in five; a good run
# takes seconds). Such a start is cut off after a minute, its processes are killed, and Chrome is
# started again, up to six times. A test that fails is not retried.
set -uo pipefail
cd "$(dirname "$0")/.."
export WASM_BINDGEN_USE_BROWSER=1

cleanup() {
  # Only the processes a WebDriver session started: its ChromeDriver and its scoped Chrome profile.
  pkill -f "chromedriver --port" 2>/dev/null
  pkill -f "org.chromium.Chromium.scoped_dir" 2>/dev/null
  pkill -f "wasm-bindgen-test-runner" 2>/dev/null
  sleep 1
}

for attempt in 1 2 3 4 5 6; do
  log=$(mktemp)
  timeout --kill-after=5 60 wasm-pack test --headless --chrome -- --test js_api 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  if [ "$status" -eq 0 ]; then rm -f "$log"; exit 0; fi
  if grep -q "test result: FAILED" "$log"; then rm -f "$log"; exit "$status"; fi
  rm -f "$log"
  echo "chrome-tests: Chrome did not start the suite (attempt $attempt, exit $status); starting it again"
  cleanup
done
exit 1
