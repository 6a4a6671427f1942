#!/usr/bin/env bash
# bench/processor/run.sh - the processor benchmark in one command: builds the
# processor and processor_bench in Release (own build dir), runs the four modes
# against the local stack (deploy/local/stack.sh up first) and writes the
# "processor" section of docs/benchmarks.md, printing it too.
#
#   bench/processor/run.sh
#
# Environment: BENCH_BUILD_DIR (default <repo>/build-bench-processor), BENCH_OPS
# (throughput ops, 200000), BENCH_RATE (latency ops/s, 5000), BENCH_SECONDS (20),
# BENCH_RECOVERY_DOCS (10000), BENCH_RECORDS (1000000), BENCH_VIEW_ROWS (50000),
# COLLAB_* server addresses.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-processor}
say() { printf '== %s\n' "$*" >&2; }

say "building processor and processor_bench (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
cmake --build "$build" -j2 --target processor processor_bench >/dev/null
export BENCH_BIN_DIR=$build/bin
results=$build/bench-results
mkdir -p "$results"

say "throughput (${BENCH_OPS:-200000} ops backlog, 1000 documents)"
BENCH_DOCS=1000 "$build/bin/processor_bench" throughput | tee "$results/throughput.json"
say "latency (${BENCH_RATE:-5000} ops/s for ${BENCH_SECONDS:-20} s, 100 documents)"
cut -d' ' -f1-3 /proc/loadavg >"$results/latency-load.txt"
BENCH_DOCS=100 "$build/bin/processor_bench" latency | tee "$results/latency.json"
say "recovery (${BENCH_RECOVERY_DOCS:-10000} documents, ${BENCH_RECORDS:-1000000} log records)"
BENCH_DOCS=${BENCH_RECOVERY_DOCS:-10000} "$build/bin/processor_bench" recovery |
    tee "$results/recovery.json"

say "view writes alone on FerretDB (${BENCH_VIEW_ROWS:-50000} rows, 1000 documents)"
BENCH_DOCS=1000 "$build/bin/processor_bench" views | tee "$results/views.json"

node "$here/report.js" "$results" "$root/docs/benchmarks.md"
