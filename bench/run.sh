#!/usr/bin/env bash
# Runs ../shared/peers with Baton beside the peers and writes the tables to bench/results/.
#   bash bench/run.sh                 the default cases and queue-100k (~7 min), throughput and memory, and
#                                     1M pending tasks in wasm memory (bench/pending.mjs)
#   bash bench/run.sh --quick         3 short samples
#   bash bench/run.sh --verify-only   correctness only (what CI runs); exits non-zero on failure
# Extra arguments go to the harness's bench.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
peers_src="$root/../shared/peers"
[ -d "$peers_src" ] || { echo "bench: ../shared/peers is missing" >&2; exit 2; }
[ -f pkg/node.js ] || bash scripts/build.sh

# The harness is read-only where it is shared: work on a copy, with its own node_modules, made
# again whenever any file of the harness changed (its code and cases as much as its lock file).
work="$root/bench/.peers"
sums() { (cd "$1" && find . -type f -not -path './node_modules/*' -not -path './results/*' -not -name '.source.sums' | LC_ALL=C sort | xargs -d '\n' sha256sum); }
if [ ! -f "$work/.source.sums" ] || ! sums "$peers_src" | cmp -s - "$work/.source.sums"; then
  rm -rf "$work" && mkdir -p "$work"
  (cd "$peers_src" && tar --exclude=node_modules --exclude=results -cf - .) | (cd "$work" && tar -xf -)
  chmod -R u+w "$work"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
  sums "$peers_src" > "$work/.source.sums"
fi

if [[ " $* " == *" --verify-only "* ]]; then
  exec node "$work/bench.mjs" --add "$root/bench/baton.mjs" "$@"
fi

# The default cases and the 100k queue, so that "100k waiting, no worse per task than 10k" is
# read from one run (the harness leaves queue-100k out by default).
cases=()
[[ " $* " == *" --cases "* ]] || cases=(--cases floor,chain,fanout,dag,queue-c1,queue-c16,queue-cinf,queue-100k)

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
out="$root/bench/results/$stamp"
node "$work/bench.mjs" --add "$root/bench/baton.mjs" --json "$out-bench.json" "${cases[@]}" "$@" > "$out-bench.md"
node "$root/bench/table.mjs" "$out-bench.json" > "$out-table.md"
node "$work/mem.mjs" --add "$root/bench/baton.mjs" > "$out-mem.md"
node "$root/bench/pending.mjs" > "$out-pending.md"
echo "bench: wrote $out-bench.md (the README's table: $out-table.md), $out-mem.md and $out-pending.md"
