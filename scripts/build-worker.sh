#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/ (worker-build, feature `worker`). worker-build would
# download wasm-bindgen and wasm-opt from outside the registries: point it at ours instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
worker-build --release --features worker
echo "[build-worker] build/ ready: $(wc -c < build/index_bg.wasm 2>/dev/null || echo '?') bytes of wasm"
