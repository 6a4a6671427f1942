#!/usr/bin/env bash
# bench/ingest/run.sh - the ingest benchmark in one command: builds ingest,
# collab-admin and ingest-loadgen in Release (own build dir), starts one ingest
# process on free ports against the local stack (Kafka, MongoDB, Redis; start it
# with deploy/local/stack.sh start), creates a user and BENCH_DOCS documents,
# then drives BENCH_CONNECTIONS WebSocket connections with ingest-loadgen:
#   1. open loop at BENCH_RATE ops/s (default 10,000): p50/p99 ACK latency,
#      each op timed from when the schedule made it due, with ingest's own
#      per-stage histograms (ingest_op_stage_seconds) and CPU beside it
#   2. closed loop (BENCH_WINDOW ops in flight per connection): the most ops/s
#      one ingest acknowledges
# and writes the ingest section of docs/benchmarks.md, printing it too. The
# Kafka broker is whatever COLLAB_KAFKA_BROKERS names (the local stack's by
# default); the section records its GC and heap.
#
#   bench/ingest/run.sh
#
# Environment: BENCH_BUILD_DIR (default <repo>/build-bench-ingest),
# BENCH_CONNECTIONS (1000), BENCH_DOCS (100), BENCH_RATE (10000),
# BENCH_SECONDS (20), BENCH_WINDOW (16), CC (default cc), and the COLLAB_*
# server addresses (deploy/local/env.sh). For experiments:
# BENCH_INGEST_ARGS (extra ingest flags, e.g. "--linger 5ms"),
# BENCH_LOADGEN_ARGS (extra ingest-loadgen flags), BENCH_CLOSED=0
# (open loop only), BENCH_WRITE_DOC=0 (print, leave docs/ alone) and BENCH_KEEP=1
# (keep the run's topic and database; by default bench-drop-run removes them).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench-ingest}
connections=${BENCH_CONNECTIONS:-1000}
docs=${BENCH_DOCS:-100}
rate=${BENCH_RATE:-10000}
seconds=${BENCH_SECONDS:-20}
window=${BENCH_WINDOW:-16}
eval "$("$root/deploy/local/env.sh" --print)"

say() { printf '== %s\n' "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

say "building ingest, collab-admin, ingest-loadgen (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER="${CC:-cc}" >/dev/null
cmake --build "$build" -j2 --target ingest collab-admin ingest-loadgen bench-drop-run >/dev/null

run_id=$(date +%s)-$$
export COLLAB_MONGO_DB=bench_ingest_${run_id//-/_}
export COLLAB_JWT_SECRET=bench-secret-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export COLLAB_ARGON2_OPSLIMIT=1 COLLAB_ARGON2_MEMLIMIT=8MiB
topic=bench.ingest.$run_id
port=$(free_port)
metrics_port=$(free_port)
log=$build/ingest-bench.log

ulimit -n "$(ulimit -Hn)"
say "starting ingest on 127.0.0.1:$port (topic $topic, log $log)"
"$build/bin/ingest" --listen "127.0.0.1:$port" --metrics-listen "127.0.0.1:$metrics_port" \
    --ops-topic "$topic" --max-connections 20000 --max-ops-per-second 100000 \
    --log-level warn ${BENCH_INGEST_ARGS:-} >"$log" 2>&1 &
ingest_pid=$!
# On exit: stop ingest, then drop the run's topic and database (BENCH_KEEP=1 keeps them).
cleanup() {
    kill "$ingest_pid" 2>/dev/null || true
    wait "$ingest_pid" 2>/dev/null || true
    if [[ "${BENCH_KEEP:-0}" != 1 ]]; then
        "$build/bin/bench-drop-run" --topic "$topic" --database "$COLLAB_MONGO_DB" || true
    fi
}
trap cleanup EXIT
for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
    kill -0 "$ingest_pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
done

say "creating a user and $docs documents"
"$build/bin/collab-admin" user-create --username bench --password bench-password >/dev/null
token=$(curl -fs -X POST "http://127.0.0.1:$port/v1/login" \
    -d '{"username":"bench","password":"bench-password"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
doc_list=""
for i in $(seq 1 "$docs"); do
    curl -fs -X POST "http://127.0.0.1:$port/v1/documents" -H "authorization: Bearer $token" \
        -d "{\"id\":\"bench-$run_id-$i\"}" >/dev/null
    doc_list+="${doc_list:+,}bench-$run_id-$i"
done

loadgen() {
    "$build/bin/ingest-loadgen" --url "ws://127.0.0.1:$port" --token "$token" --docs "$doc_list" \
        --connections "$connections" --seconds "$seconds" --warmup 3 ${BENCH_LOADGEN_ARGS:-} "$@"
}
# Server side: ingest's own histograms, as a cross-check of what the load
# generator sees and to tell where the time goes: the share of ops within
# 10 ms from receive to delivery report, and p50/p99 (upper bucket bounds) of
# each stage of ingest_op_stage_seconds over the run.
scrape() { curl -fs "http://127.0.0.1:$metrics_port/metrics" >"$1"; }
server_side() {
    python3 - "$1" "$2" <<'PY'
import re, sys
def load(path):
    h = {}
    for line in open(path):
        m = re.match(r'(ingest_produce_latency_seconds|ingest_op_stage_seconds)_bucket\{(?:stage="(\w+)",)?le="([^"]+)"\} (\S+)', line)
        if m:
            h.setdefault(m.group(1) + ":" + (m.group(2) or ""), {})[m.group(3)] = float(m.group(4))
    return h
a, b = load(sys.argv[1]), load(sys.argv[2])
def delta(key):
    return sorted(((float("inf") if le == "+Inf" else float(le), n - a.get(key, {}).get(le, 0.0))
                   for le, n in b[key].items()))
def quantile(d, q):
    total = d[-1][1]
    for le, n in d:
        if total and n >= q * total:
            return "<=%g ms" % (le * 1000) if le != float("inf") else ">250 ms"
    return "-"
d = delta("ingest_produce_latency_seconds:")
share = 100.0 * dict(d).get(0.01, 0.0) / max(1.0, d[-1][1])
stages = ", ".join("%s p50 %s p99 %s" % (k.split(":")[1], quantile(delta(k), 0.5), quantile(delta(k), 0.99))
                   for k in ("ingest_op_stage_seconds:validate", "ingest_op_stage_seconds:kafka",
                             "ingest_op_stage_seconds:handoff", "ingest_op_stage_seconds:write") if k in b)
print("%.1f|%s" % (share, stages))
PY
}
# A short run first: the producer's start (metadata, producer id) and the
# broker's JIT would otherwise land in the server-side histograms below,
# which, unlike the load generator, have no warm-up of their own.
say "warming up: 5 s at $rate ops/s"
loadgen --rate "$rate" --window 256 --seconds 2 >/dev/null
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
say "open loop: $connections connections, $rate ops/s for $seconds s (load $load_before)"
# CPU seconds ingest used (user + system, from /proc: clock ticks).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$ingest_pid/stat"; }
scrape "$build/metrics-before"
ticks_before=$(cpu_ticks)
open_loop=$(loadgen --rate "$rate" --window 256)
ticks_after=$(cpu_ticks)
scrape "$build/metrics-after"
ingest_cpu=$(python3 -c "print(f'{($ticks_after - $ticks_before) / $(getconf CLK_TCK):.1f}')")
server=$(server_side "$build/metrics-before" "$build/metrics-after")
server_share=${server%%|*}
server_stages=${server#*|}
say "$open_loop"
say "server side: ${server_share}% within 10 ms; $server_stages; ingest used ${ingest_cpu} s of CPU"
if [[ "${BENCH_CLOSED:-1}" == 0 ]]; then
    exit 0
fi
load_closed=$(cut -d' ' -f1-3 /proc/loadavg)
say "closed loop: $connections connections, $window ops in flight each, $seconds s (load $load_closed)"
closed_loop=$(loadgen --rate 0 --window "$window")
say "$closed_loop"

# The JVM options of the local broker listening on the benchmark's port.
broker_jvm() {
    local port=${COLLAB_KAFKA_BROKERS##*:} pid config
    for pid in $(pgrep -f kafka.Kafka); do
        config=$(tr '\0' '\n' 2>/dev/null <"/proc/$pid/cmdline" | tail -n 1) || continue
        if grep -qs "PLAINTEXT://127.0.0.1:$port" "$config"; then
            tr '\0' '\n' <"/proc/$pid/cmdline" | grep -E -- '^-(Xmx|XX:\+Use.*GC)' | tr '\n' ' ' | sed 's/ $//'
            return
        fi
    done
    echo "not a local broker"
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
section=$(cat <<MD
<!-- bench:ingest:begin (written by bench/ingest/run.sh; edits here are overwritten) -->
## ingest: WebSocket -> Kafka, ACK after the delivery report

Measured by \`bench/ingest/run.sh\` on $(date -u +%F): $cpu, $(nproc) cores shared by the load generator, ingest, the Kafka broker (same machine, KRaft, one node, $COLLAB_KAFKA_BROKERS: $(broker_jvm)), FerretDB and Redis. One ingest process (Release; ${BENCH_INGEST_ARGS:-default settings}), $connections WebSocket connections over $docs documents from one load-generator thread (\`ingest-loadgen\` ${BENCH_LOADGEN_ARGS:-with its defaults}), each op an UPDATE with a 30-byte Yjs update validated by the crdt engine, Avro-encoded, produced with acks=all (idempotent) and acknowledged from the delivery report. Latency: from the moment the op was due in the load generator's schedule (open loop: start + n / rate, so a late generator or a stalled server cannot hide the ops queued behind it) to its ACK received, after a 5 s warm-up run and a 3 s warm-up, over $seconds s. Load average (1/5/15 min) when the runs began: open loop $load_before, closed loop ${load_closed:-} - with more runnable threads than cores every thread hop on the path waits for a core, and that is what the tail measures on a busy machine.

| run | target | acked ops/s | p50 ms | p99 ms | p99.9 ms | max ms | generator lag p99 ms | NACKs | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
| open loop | $rate ops/s | $(field "$open_loop" ops_per_s) | $(field "$open_loop" p50_ms) | $(field "$open_loop" p99_ms) | $(field "$open_loop" p999_ms) | $(field "$open_loop" max_ms) | $(field "$open_loop" send_lag_p99_ms) | $(field "$open_loop" nacked) | $(field "$open_loop" errors) |
| closed loop, $window in flight per connection | as fast as acked | $(field "$closed_loop" ops_per_s) | $(field "$closed_loop" p50_ms) | $(field "$closed_loop" p99_ms) | $(field "$closed_loop" p999_ms) | $(field "$closed_loop" max_ms) | - | $(field "$closed_loop" nacked) | $(field "$closed_loop" errors) |

Server side during the open-loop run (ingest's histograms; quantiles are bucket bounds): ${server_share}% of ops within 10 ms from receive to delivery report; by stage: $server_stages. CPU: ingest ${ingest_cpu} s, load generator $(field "$open_loop" cpu_s) s over the open-loop run. Generator lag: due -> written by the load generator.

Targets (issue 4): at least 50,000 ops/s through one ingest; p99 ACK latency at most 10 ms at 10,000 ops/s.
<!-- bench:ingest:end -->
MD
)
if [[ "${BENCH_WRITE_DOC:-1}" == 0 ]]; then
    printf '%s\n' "$section"
    exit 0
fi
doc=$root/docs/benchmarks.md
python3 - "$doc" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read() if __import__('os').path.exists(path) else "# Benchmarks\n"
pattern = re.compile(r"<!-- bench:ingest:begin.*?<!-- bench:ingest:end -->", re.S)
text = pattern.sub(lambda m: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section + "\n"
open(path, "w").write(text)
PY
printf '%s\n' "$section"
