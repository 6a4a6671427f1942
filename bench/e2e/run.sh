#!/usr/bin/env bash
# bench/e2e/run.sh - the end-to-end benchmark in one command: builds the four
# services, collab-admin and bench/broadcaster's bc-fanout and peer-fanout in
# Release (own build dir), installs the pinned peers (npm ci here, in client/ and tests/e2e/),
# builds the client, then runs bench.mjs: the same latency load against the
# collab pipeline, @y/websocket-server and @hocuspocus/server, and the same
# fan-out load (10,000 subscribers of one document) against our broadcaster
# (bc-fanout) and both peers (peer-fanout). Writes the "e2e" and "e2e fan-out"
# sections of docs/benchmarks.md, printing them. Needs the local stack
# (deploy/local/stack.sh up). About 10 minutes (the peers take most of it).
#
#   bench/e2e/run.sh
#
# Environment: BENCH_BUILD_DIR (default <repo>/build-bench-e2e), BENCH_CLIENTS (200),
# BENCH_DOCS (50), BENCH_RATE (2000 ops/s), BENCH_SECONDS (20), BENCH_WARMUP (3),
# BENCH_FANOUT_SUBSCRIBERS (10000), BENCH_FANOUT_OPS (1000), BENCH_FANOUT_WINDOW (50
# updates in flight), BENCH_PARTS (latency,fanout: which of the two to run; e.g.
# BENCH_PARTS=fanout for the fan-out alone), COLLAB_* server addresses.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-e2e}
say() { printf '== %s\n' "$*" >&2; }

parts=${BENCH_PARTS:-latency,fanout}
export BENCH_PARTS=$parts
targets=(broadcaster)
case ",$parts," in *,latency,*) targets+=(ingest processor snapshotter collab-admin) ;; esac
case ",$parts," in *,fanout,*) targets+=(bc-fanout peer-fanout) ;; esac
say "building ${targets[*]} (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-clang}" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

for dir in client tests/e2e bench/e2e; do
    if [ ! -d "$root/$dir/node_modules" ]; then
        say "npm ci in $dir"
        (cd "$root/$dir" && npm ci --no-audit --no-fund >/dev/null)
    fi
done
case ",$parts," in
*,latency,*)
    say "building the client (client/dist)"
    (cd "$root/client" && npm run build --silent)
    ;;
esac

# shellcheck disable=SC1091
eval "$("$root/deploy/local/env.sh" --print)"
# 10,000 subscribers need as many sockets in the reading program and in the
# server (our broadcaster or the peer's node process), each its own process.
subscribers=${BENCH_FANOUT_SUBSCRIBERS:-10000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((subscribers + 256)) ]; then
    say "open files limit $(ulimit -n) < $((subscribers + 256)) for $subscribers subscribers: raise the hard limit (ulimit -Hn, /etc/security/limits.conf)"
    exit 1
fi
BENCH_UPTIME=$(uptime | sed 's/^.*load average/load average/')
export BENCH_UPTIME
COLLAB_BIN_DIR=$build/bin node "$here/bench.mjs"
