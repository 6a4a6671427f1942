#!/usr/bin/env bash
# bench/e2e/run.sh - the end-to-end benchmark (issue 11) in one command: builds
# the four services, collab-admin and bench/broadcaster's bc-fanout and
# peer-fanout in Release (own build dir), installs the pinned peers and
# providers (npm ci here when node_modules is missing), then runs bench.mjs,
# whose parts are, one after the other:
#   latency    200 stock providers (y-websocket WebsocketProvider,
#              HocuspocusProvider) on 50 documents at 2,000 ops/s against our
#              broadcaster's edge (both providers), @y/websocket-server and
#              @hocuspocus/server, plus our v1 lean client (ingest + merged stream);
#   sweep      the same from 2,000 to 10,000 ops/s: p99 per rate;
#   fanout     10,000 subscribers of one document: bc-fanout (v1), peer-fanout
#              against our edge and both peers;
#   memory     RSS per idle joined connection (10,000) on one edge process and each peer;
#   joinstorm  200 providers join one 5 MiB document at once.
# Writes one section of docs/benchmarks.md per part (e2e, e2e-sweep, e2e-fanout,
# e2e-memory, e2e-joinstorm), printing them. Needs the local stack
# (deploy/local/stack.sh up) and a quiet machine. About 25 minutes (the peers'
# fan-out takes 5 of them).
#
#   bench/e2e/run.sh
#   BENCH_PARTS=latency,sweep bench/e2e/run.sh
#
# Environment: BENCH_PARTS (latency,sweep,fanout,memory,joinstorm: the parts to
# run), BENCH_BUILD_DIR (default <repo>/build-bench-e2e), BENCH_DOC (the file the
# sections go to, default docs/benchmarks.md), BENCH_GENERATORS (generator
# processes of the provider loads, default the cores, 2 to 4);
# latency: BENCH_CLIENTS (200), BENCH_DOCS (50), BENCH_RATE (2000 ops/s),
# BENCH_SECONDS (20), BENCH_WARMUP (3);
# sweep: BENCH_SWEEP_RATES (2000,4000,6000,8000,10000), BENCH_SWEEP_SECONDS (10),
# BENCH_SWEEP_WARMUP (2), with BENCH_CLIENTS and BENCH_DOCS;
# fanout: BENCH_FANOUT_SUBSCRIBERS (10000), BENCH_FANOUT_OPS (1000),
# BENCH_FANOUT_WINDOW (50 updates in flight), BENCH_FANOUT_SYSTEMS (v1,edge-yws,edge-hp,yws,hp:
# the rows measured);
# memory: BENCH_MEMORY_CONNECTIONS (10000), BENCH_MEMORY_SETTLE_MS (3000);
# joinstorm: BENCH_JOIN_CLIENTS (200), BENCH_JOIN_BYTES (5242880), BENCH_JOIN_CHUNK
# (102400 bytes per update), BENCH_JOIN_SYSTEMS (edge-yws,edge-hp,yws,hp);
# COLLAB_* server addresses.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-e2e}
say() { printf '== %s\n' "$*" >&2; }

parts=${BENCH_PARTS:-latency,sweep,fanout,memory,joinstorm}
export BENCH_PARTS=$parts
# Every part starts the collab services (fanout and memory for the edge's rows).
targets=(broadcaster ingest processor snapshotter collab-admin)
case ",$parts," in *,fanout,* | *,memory,*) targets+=(peer-fanout) ;; esac
case ",$parts," in *,fanout,*) targets+=(bc-fanout) ;; esac
say "building ${targets[*]} (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-clang}" >/dev/null
cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null

# bench.mjs needs the peers and providers here (tests/e2e/lib/stack.mjs, which it
# uses to start the services, needs no package).
for dir in bench/e2e; do
    if [ ! -d "$root/$dir/node_modules" ]; then
        say "npm ci in $dir"
        (cd "$root/$dir" && npm ci --no-audit --no-fund >/dev/null)
    fi
done

# shellcheck disable=SC1091
eval "$("$root/deploy/local/env.sh" --print)"
# 10,000 subscribers (fanout) or idle connections (memory) need as many sockets
# in the client program and in the server (our broadcaster or the peer's node
# process), each its own process.
sockets=0
case ",$parts," in *,fanout,*) sockets=${BENCH_FANOUT_SUBSCRIBERS:-10000} ;; esac
case ",$parts," in *,memory,*)
    if [ "${BENCH_MEMORY_CONNECTIONS:-10000}" -gt "$sockets" ]; then
        sockets=${BENCH_MEMORY_CONNECTIONS:-10000}
    fi
    ;;
esac
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((sockets + 256)) ]; then
    say "open files limit $(ulimit -n) < $((sockets + 256)) for $sockets connections: raise the hard limit (ulimit -Hn, /etc/security/limits.conf)"
    exit 1
fi
COLLAB_BIN_DIR=$build/bin node "$here/bench.mjs"
