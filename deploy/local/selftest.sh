#!/usr/bin/env bash
# deploy/local/selftest.sh: checks the stack scripts themselves, end to end, on a
# second, private stack (its own temporary COLLAB_STACK_DIR and ports from
# COLLAB_SELFTEST_PORT_BASE, default 29000) so that it never disturbs the stack
# developers and tests are using. The download/build cache is shared, so after the
# first `stack.sh up` on the machine it takes about a minute.
# Checked: up/status/down, two concurrent ups, idempotent up, a port held by another program gives a
# message naming port and holder, a server that dies on start shows its log tail,
# kill -9 then up recovers (Kafka keeps its topics' data), external Redis is not
# started, reset deletes the data and refuses an unmarked folder.
# Prints "N passed, N failed"; exit status 0 only when nothing failed.
set -uo pipefail

SELFTEST_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SELFTEST_BASE="${COLLAB_SELFTEST_PORT_BASE:-29000}"
SELFTEST_TMP="$(mktemp -d "${TMPDIR:-/tmp}/collab-stack-selftest.XXXXXX")"
export COLLAB_STACK_DIR="$SELFTEST_TMP/stack"
export COLLAB_KAFKA_PORT=$((SELFTEST_BASE + 92))
export COLLAB_KAFKA_CONTROLLER_PORT=$((SELFTEST_BASE + 93))
export COLLAB_MONGO_PORT=$((SELFTEST_BASE + 17))
export COLLAB_FERRETDB_DEBUG_PORT=$((SELFTEST_BASE + 88))
export COLLAB_REDIS_PORT=$((SELFTEST_BASE + 79))
export COLLAB_PROMETHEUS_PORT=$((SELFTEST_BASE + 90))
# The client variables must follow the private ports, not an outer environment.
unset COLLAB_KAFKA_BROKERS COLLAB_MONGO_URI COLLAB_REDIS_URL COLLAB_PROMETHEUS_URL \
    COLLAB_EXTERNAL_KAFKA_BROKERS COLLAB_EXTERNAL_MONGO_URI COLLAB_EXTERNAL_REDIS_URL

SELFTEST_PASSED=0
SELFTEST_FAILED=0
SELFTEST_OUT="$SELFTEST_TMP/last-output"
SELFTEST_HOLDER_PID=""

selftest_cleanup() {
    if [[ -n "$SELFTEST_HOLDER_PID" ]]; then
        kill "$SELFTEST_HOLDER_PID" 2>/dev/null || true
    fi
    "$SELFTEST_SCRIPT_DIR/stack.sh" down >/dev/null 2>&1 || true
    rm -rf "$SELFTEST_TMP"
}
trap selftest_cleanup EXIT

selftest_pass() {
    SELFTEST_PASSED=$((SELFTEST_PASSED + 1))
    echo "ok   - $1"
}

selftest_fail() {
    SELFTEST_FAILED=$((SELFTEST_FAILED + 1))
    echo "FAIL - $1"
    echo "       output was:"
    sed 's/^/       | /' "$SELFTEST_OUT"
}

# selftest_expect DESCRIPTION EXPECTED_STATUS COMMAND...: runs the command, keeping
# its output for selftest_output_has, and checks its exit status.
selftest_expect() {
    local description="$1" expected="$2" status
    shift 2
    "$@" >"$SELFTEST_OUT" 2>&1
    status=$?
    if [[ "$status" == "$expected" ]]; then
        selftest_pass "$description"
    else
        echo "       (exit status $status, expected $expected)" >>"$SELFTEST_OUT"
        selftest_fail "$description"
    fi
}

# Checks that the last command's output contains a fixed string.
selftest_output_has() {
    local description="$1" text="$2"
    if grep -qF -- "$text" "$SELFTEST_OUT"; then
        selftest_pass "$description"
    else
        selftest_fail "$description (no '$text')"
    fi
}

selftest_pid_of() {
    cat "$COLLAB_STACK_DIR/$1/$1.pid" 2>/dev/null
}

# kill -9 and wait (bounded) until the process is really gone (an unreaped zombie
# counts as gone: it holds no port and no file).
selftest_kill9() {
    local pid="$1" deadline=$((SECONDS + 30)) stat
    kill -KILL "$pid" 2>/dev/null || return 1
    while stat="$(cat "/proc/$pid/stat" 2>/dev/null)" && [[ "${stat##*) }" != Z* ]]; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

stack() {
    "$SELFTEST_SCRIPT_DIR/stack.sh" "$@"
}

echo "# private stack in $COLLAB_STACK_DIR, ports from $SELFTEST_BASE"

selftest_expect "status of a stack never started exits 3" 3 stack status
selftest_output_has "status says stopped" "kafka: stopped"

# Two developers typing `up` at the same moment: both succeed, one server each.
stack up >"$SELFTEST_TMP/up-a" 2>&1 &
up_a=$!
stack up >"$SELFTEST_TMP/up-b" 2>&1 &
up_b=$!
wait "$up_a"
status_a=$?
wait "$up_b"
status_b=$?
cat "$SELFTEST_TMP/up-a" "$SELFTEST_TMP/up-b" >"$SELFTEST_OUT"
if ((status_a == 0 && status_b == 0)); then selftest_pass "two concurrent ups both succeed"; else
    selftest_fail "two concurrent ups both succeed (exit statuses $status_a, $status_b)"
fi
selftest_output_has "up prints the Kafka client variable" "COLLAB_KAFKA_BROKERS=127.0.0.1:$COLLAB_KAFKA_PORT"
selftest_expect "status after up exits 0" 0 stack status
selftest_output_has "status names the FerretDB port" "127.0.0.1:$COLLAB_MONGO_PORT"

kafka_count="$(pgrep -fc "kafka.Kafka $COLLAB_STACK_DIR/" || true)"
redis_count="$(pgrep -fc "redis-server 127.0.0.1:$COLLAB_REDIS_PORT" || true)"
if [[ "$kafka_count" == 1 && "$redis_count" == 1 ]]; then
    selftest_pass "after concurrent ups one Kafka and one Redis run"
else
    echo "kafka processes: $kafka_count, redis processes: $redis_count" >"$SELFTEST_OUT"
    selftest_fail "after concurrent ups one Kafka and one Redis run"
fi

first_kafka_pid="$(selftest_pid_of kafka)"
selftest_expect "a second up succeeds" 0 stack up
selftest_output_has "a second up leaves Kafka alone" "kafka: already running (pid $first_kafka_pid)"
selftest_output_has "a second up leaves Prometheus alone" "prometheus: already running"

# Data written before a kill -9 must survive it: a Redis key saved to disk, and
# Kafka's formatted storage (same cluster id, no reformat).
redis-cli -p "$COLLAB_REDIS_PORT" set selftest-key kept >/dev/null
redis-cli -p "$COLLAB_REDIS_PORT" save >/dev/null
cluster_id_before="$(cat "$COLLAB_STACK_DIR/kafka/cluster.id")"

killed=1
for server in kafka ferretdb redis prometheus; do
    selftest_kill9 "$(selftest_pid_of "$server")" || killed=0
done
if ((killed)); then selftest_pass "kill -9 of all four servers"; else
    echo "a server survived kill -9" >"$SELFTEST_OUT"
    selftest_fail "kill -9 of all four servers"
fi
selftest_expect "status after kill -9 exits 3" 3 stack status
selftest_expect "up after kill -9 recovers" 0 stack up
selftest_expect "status after recovery exits 0" 0 stack status
if [[ "$(redis-cli -p "$COLLAB_REDIS_PORT" get selftest-key)" == "kept" &&
    "$(cat "$COLLAB_STACK_DIR/kafka/cluster.id")" == "$cluster_id_before" ]]; then
    selftest_pass "Redis data and Kafka cluster id survive kill -9"
else
    echo "redis get: $(redis-cli -p "$COLLAB_REDIS_PORT" get selftest-key)" >"$SELFTEST_OUT"
    selftest_fail "Redis data and Kafka cluster id survive kill -9"
fi

selftest_expect "down stops all four" 0 stack down
selftest_expect "status after down exits 3" 3 stack status
selftest_expect "down when already down succeeds" 0 stack down

# A port taken by another program: redis-server is at hand on every machine that
# runs the stack, so it plays the stranger on Kafka's port.
redis-server --port "$COLLAB_KAFKA_PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --daemonize no --dir "$SELFTEST_TMP" >"$SELFTEST_TMP/holder.log" 2>&1 &
SELFTEST_HOLDER_PID=$!
deadline=$((SECONDS + 10))
until [[ "$(redis-cli -p "$COLLAB_KAFKA_PORT" ping 2>/dev/null)" == "PONG" ]] || ((SECONDS > deadline)); do
    sleep 0.1
done
selftest_expect "kafka start on a taken port fails" 1 "$SELFTEST_SCRIPT_DIR/kafka.sh" start
selftest_output_has "the message names the port" "port $COLLAB_KAFKA_PORT"
selftest_output_has "the message names the holder" "redis-server"
kill "$SELFTEST_HOLDER_PID"
wait "$SELFTEST_HOLDER_PID" 2>/dev/null
SELFTEST_HOLDER_PID=""

# A server that dies while starting: a heap size the JVM rejects.
COLLAB_KAFKA_HEAP=not-a-size selftest_expect "kafka with a bad heap size fails" 1 \
    "$SELFTEST_SCRIPT_DIR/kafka.sh" start
selftest_output_has "the failure says it died" "died while starting"
selftest_output_has "the failure shows the log tail" "Invalid maximum heap size"

COLLAB_EXTERNAL_REDIS_URL="redis://127.0.0.1:1" selftest_expect \
    "redis start with an external Redis succeeds" 0 "$SELFTEST_SCRIPT_DIR/redis.sh" start
selftest_output_has "and says it does not start one" "not starting a local one"
if [[ ! -e "$COLLAB_STACK_DIR/redis/redis.pid" ]] &&
    [[ -z "$(redis-cli -p "$COLLAB_REDIS_PORT" ping 2>/dev/null)" ]]; then
    selftest_pass "no local Redis runs"
else
    echo "a local Redis answers on $COLLAB_REDIS_PORT" >"$SELFTEST_OUT"
    selftest_fail "no local Redis runs"
fi
COLLAB_EXTERNAL_REDIS_URL="redis://127.0.0.1:1" selftest_expect \
    "status of an unreachable external Redis exits 3" 3 "$SELFTEST_SCRIPT_DIR/redis.sh" status
COLLAB_EXTERNAL_MONGO_URI="mongodb://db.example:27017" selftest_expect \
    "env.sh --print follows an external MongoDB" 0 "$SELFTEST_SCRIPT_DIR/env.sh" --print
selftest_output_has "COLLAB_MONGO_URI is the external one" "COLLAB_MONGO_URI=mongodb://db.example:27017"

selftest_expect "reset succeeds" 0 stack reset
if [[ ! -e "$COLLAB_STACK_DIR" ]]; then selftest_pass "reset deleted the stack folder"; else
    ls -la "$COLLAB_STACK_DIR" >"$SELFTEST_OUT"
    selftest_fail "reset deleted the stack folder"
fi
mkdir -p "$SELFTEST_TMP/not-a-stack"
COLLAB_STACK_DIR="$SELFTEST_TMP/not-a-stack" selftest_expect \
    "reset refuses a folder without the marker" 1 "$SELFTEST_SCRIPT_DIR/stack.sh" reset
if [[ -d "$SELFTEST_TMP/not-a-stack" ]]; then selftest_pass "the unmarked folder is still there"; else
    echo "deleted" >"$SELFTEST_OUT"
    selftest_fail "the unmarked folder is still there"
fi

echo "$SELFTEST_PASSED passed, $SELFTEST_FAILED failed"
((SELFTEST_FAILED == 0))
