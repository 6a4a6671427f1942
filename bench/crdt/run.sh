#!/usr/bin/env bash
# bench/crdt/run.sh - the crdt benchmark in one command: builds the engine's bench
# program in Release (own build dir), installs the peers (Yjs and ywasm from npm,
# pycrdt from PyPI into a venv in the build dir), generates the workloads once (cached
# in the build dir), runs every peer in its own process on every workload, and writes
# the table into docs/benchmarks.md (crdt section), printing it too.
#
#   bench/crdt/run.sh
#
# Timings are taken in BENCH_ROUNDS rounds (default 3); in each round every peer runs
# in a fresh process and times BENCH_REPEATS runs (default 3), and the peers take turns,
# so that load from elsewhere on the machine falls on all of them alike.
#
# Environment: BENCH_BUILD_DIR (default <repo>/build-bench-release), BENCH_ROUNDS,
# BENCH_REPEATS, BENCH_DOCS (small documents, default 10000), CC (compiler for the
# engine, default cc), COLLAB_DATA_DIR (default <repo>/data).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-release}
rounds=${BENCH_ROUNDS:-3}
repeats=${BENCH_REPEATS:-3}
docs=${BENCH_DOCS:-10000}
export COLLAB_DATA_DIR=${COLLAB_DATA_DIR:-$root/data}
data=$build/bench-data
results=$build/bench-results

say() { printf '== %s\n' "$*" >&2; }

say "building crdt-bench (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
cmake --build "$build" -j2 --target crdt-bench >/dev/null
bench_bin=$build/bin/crdt-bench

if [ ! -f "$here/node_modules/.package-lock.json" ] ||
    [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    say "npm ci in bench/crdt (yjs, ywasm)"
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ ! -d "$root/tests/crdt-differential/node_modules" ]; then
    # gen-workloads.js reuses the trace replay of the differential tests.
    say "npm ci in tests/crdt-differential"
    (cd "$root/tests/crdt-differential" && npm ci --no-audit --no-fund --loglevel=error)
fi

venv=$build/bench-venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$venv/requirements.txt"; then
    say "python venv with pycrdt in $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$venv/requirements.txt"
fi

if [ ! -f "$data/manifest.json" ] || [ "$here/gen-workloads.js" -nt "$data/manifest.json" ] ||
    [ "$root/tests/crdt-differential/lib/traces.js" -nt "$data/manifest.json" ]; then
    say "generating workloads with Yjs (once; cached in $data)"
    node "$here/gen-workloads.js" "$data" >/dev/null
fi

rm -rf "$results"
mkdir -p "$results"

# run_peer PEER ARGS...: one process of one peer; its JSON line goes to stdout.
run_peer() {
    local peer=$1
    shift
    case $peer in
    engine) "$bench_bin" "$@" ;;
    yjs) node --expose-gc "$here/peers/yjs.js" "$@" ;;
    ywasm) node --expose-gc "$here/peers/ywasm.js" "$@" ;;
    pycrdt) "$venv/bin/python" "$here/peers/pycrdt_peer.py" "$@" ;;
    esac
}

# measure NAME PEER ARGS...: runs it and appends its JSON line to $results/NAME-PEER.json;
# a failing peer is reported, its results are dropped (the table shows "failed") and the
# rest go on.
failures=0
measure() {
    local name=$1 peer=$2
    shift 2
    [ -e "$results/$name-$peer.failed" ] && return 0
    say "$name: $peer"
    if ! run_peer "$peer" "$@" >>"$results/$name-$peer.json" 2>"$results/$name-$peer.err"; then
        say "$name: $peer FAILED: $(tail -n 3 "$results/$name-$peer.err")"
        rm -f "$results/$name-$peer.json"
        touch "$results/$name-$peer.failed"
        failures=$((failures + 1))
    fi
}

peers="engine yjs ywasm pycrdt"
for round in $(seq "$rounds"); do
    say "round $round of $rounds"
    for trace in automerge-paper friendsforever clownschool; do
        for peer in $peers; do
            measure "apply-$trace" "$peer" apply "$data/$trace.stream" "$data/$trace.txt" "$repeats"
        done
    done
done
for peer in $peers; do
    measure memory-automerge-paper "$peer" memory "$data/automerge-paper.stream" "$data/automerge-paper.txt"
    measure docs "$peer" docs "$data/small-doc.bin" "$data/small-doc.txt" "$docs"
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
compiler=$("${CC:-cc}" --version | head -n 1)
node -e '
const [date, cpu, cores, compiler, python, rounds, repeats, docs, manifest] = process.argv.slice(1)
const m = JSON.parse(require("fs").readFileSync(manifest, "utf8"))
console.log(JSON.stringify({ date, cpu, cores: Number(cores), compiler, node: process.versions.node, python,
  rounds: Number(rounds), repeats: Number(repeats), docs: Number(docs), smallDocBytes: m.workloads["small-doc"].stateBytes,
  smallDocText: m.workloads["small-doc"].textLength }))
' "$(date -u +%Y-%m-%d)" "${cpu:-unknown CPU}" "$(nproc)" "$compiler" \
    "$("$venv/bin/python" -c 'import platform; print(platform.python_version())')" \
    "$rounds" "$repeats" "$docs" "$data/manifest.json" >"$results/environment.json"

node "$here/report.js" "$results" "$root/docs/benchmarks.md"
if [ "$failures" -gt 0 ]; then
    say "$failures measurement(s) failed; see $results/*.err"
    exit 1
fi
