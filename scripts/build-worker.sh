#!/usr/bin/env bash
# Builds the Cloudflare Worker into build/: the Rust entry (worker-build, feature `worker`) and
# build/site/, the dashboard the Worker serves as static assets (www/ with the npm package and
# the graph-layout library). worker-build would download wasm-bindgen and wasm-opt from outside
# the registries: it is pointed at ours instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export WASM_BINDGEN_BIN="$HOME/.cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
worker-build --release --features worker

# The dashboard, laid out as scripts/serve.mjs serves it.
[ -f pkg/baton.js ] || bash scripts/build.sh
rm -rf build/site
mkdir -p build/site/pkg build/site/vendor/dagre
cp www/* build/site/
cp pkg/*.js pkg/*.wasm pkg/*.d.ts build/site/pkg/
cp node_modules/@dagrejs/dagre/dist/dagre.esm.js build/site/vendor/dagre/
echo "[build-worker] build/ ready: $(wc -c < build/index_bg.wasm) bytes of wasm ($(gzip -9c build/index_bg.wasm | wc -c) gzipped), dashboard in build/site"
