#!/usr/bin/env bash
# Builds the npm package into pkg/: the wasm core (wasm-pack, web target, wasm-opt from the
# `binaryen` npm package) plus the JS driver, entry points, types and package.json from js/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"

wasm-pack build --release --target web --out-dir pkg --out-name baton_wasm --no-pack --quiet
cp js/driver.js js/stores.js js/ownership.js js/file-store.js js/baton.js js/node.js js/baton.d.ts js/package.json pkg/
cp js/README.md pkg/README.md
cp LICENSE pkg/LICENSE
rm -f pkg/.gitignore
echo "[build] pkg/ ready: $(wc -c < pkg/baton_wasm_bg.wasm) bytes of wasm ($(gzip -9c pkg/baton_wasm_bg.wasm | wc -c) gzipped)"
