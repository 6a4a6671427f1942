#!/usr/bin/env bash
# bench/e2e/run.sh - the end-to-end benchmark in one command: builds the four
# services, collab-admin and bench/broadcaster's bc-fanout in Release (own build
# dir), installs the pinned peers (npm ci here, in client/ and tests/e2e/),
# builds the client, then runs bench.mjs: the same load against the collab
# pipeline, @y/websocket-server and @hocuspocus/server, and the fan-out to
# 10,000 subscribers. Writes the "e2e" section of docs/benchmarks.md, printing it.
# Needs the local stack (deploy/local/stack.sh up). About 3 minutes.
#
#   bench/e2e/run.sh
#
# Environment: BENCH_BUILD_DIR (default <repo>/build-bench-e2e), BENCH_CLIENTS (200),
# BENCH_DOCS (50), BENCH_RATE (2000 ops/s), BENCH_SECONDS (20), BENCH_WARMUP (3),
# BENCH_FANOUT_SUBSCRIBERS (10000), BENCH_FANOUT_OPS (1000), COLLAB_* server addresses.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-e2e}
say() { printf '== %s\n' "$*" >&2; }

say "building the services, collab-admin and bc-fanout (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-clang}" >/dev/null
targets=(ingest processor snapshotter broadcaster collab-admin)
if [ -f "$root/bench/broadcaster/CMakeLists.txt" ]; then targets+=(bc-fanout); fi
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

for dir in client tests/e2e bench/e2e; do
    if [ ! -d "$root/$dir/node_modules" ]; then
        say "npm ci in $dir"
        (cd "$root/$dir" && npm ci --no-audit --no-fund >/dev/null)
    fi
done
say "building the client (client/dist)"
(cd "$root/client" && npm run build --silent)

# shellcheck disable=SC1091
eval "$("$root/deploy/local/env.sh" --print)"
# 10,000 subscribers need as many sockets in bc-fanout and the broadcaster.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
COLLAB_BIN_DIR=$build/bin node "$here/bench.mjs"
