#!/usr/bin/env bash
# deploy/local/ferretdb.sh {install|start|stop|status}: the MongoDB-protocol server of
# the local stack, FerretDB with its SQLite backend, on 127.0.0.1.
# install: downloads the Go module github.com/FerretDB/FerretDB at
#   $COLLAB_FERRETDB_VERSION, copies its source into $COLLAB_CACHE_DIR, writes the
#   build/version/version.txt the module lacks (without it the binary panics at
#   start) and builds cmd/ferretdb there (skipped when cached).
# start: runs it with --handler=sqlite, data under $COLLAB_STACK_DIR/ferretdb,
#   telemetry disabled, and waits until a MongoDB `ping` succeeds. A no-op when
#   already running. With COLLAB_EXTERNAL_MONGO_URI set nothing is started.
# FerretDB has no transactions and no change streams; the project does not use them.
set -euo pipefail

STACK_NAME=ferretdb
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FERRETDB_MODULE="github.com/FerretDB/FerretDB"
FERRETDB_BUILD_DIR="$COLLAB_CACHE_DIR/ferretdb-$COLLAB_FERRETDB_VERSION"
FERRETDB_BINARY="$FERRETDB_BUILD_DIR/bin/ferretdb"
FERRETDB_DIR="$COLLAB_STACK_DIR/ferretdb"
FERRETDB_PID_FILE="$FERRETDB_DIR/ferretdb.pid"
FERRETDB_LOG="$COLLAB_STACK_DIR/logs/ferretdb.log"
FERRETDB_MARKER="--listen-addr=127.0.0.1:$COLLAB_MONGO_PORT"
FERRETDB_URI="mongodb://127.0.0.1:$COLLAB_MONGO_PORT/"

ferretdb_external() {
    [[ -n "${COLLAB_EXTERNAL_MONGO_URI:-}" ]]
}

# FerretDB v1.24's go.mod asks for Go 1.24. GOTOOLCHAIN=local below stops Go from
# fetching a newer toolchain by itself, so an older Go is reported plainly instead.
ferretdb_require_go() {
    stack_require_command go "Install Go 1.24 or newer (https://go.dev/doc/install); FerretDB is built from source."
    local version major minor
    version="$(GOTOOLCHAIN=local go env GOVERSION)"
    if [[ "$version" =~ ^go([0-9]+)\.([0-9]+) ]]; then
        major="${BASH_REMATCH[1]}"
        minor="${BASH_REMATCH[2]}"
        if ((major > 1 || (major == 1 && minor >= 24))); then
            return 0
        fi
    fi
    stack_die "building FerretDB needs Go 1.24 or newer; 'go env GOVERSION' says: $version"
}

ferretdb_install() {
    if [[ -x "$FERRETDB_BINARY" ]]; then
        stack_say "FerretDB $COLLAB_FERRETDB_VERSION already built: $FERRETDB_BINARY"
        return 0
    fi
    ferretdb_require_go
    export GOTOOLCHAIN=local
    stack_say "downloading the Go module $FERRETDB_MODULE@$COLLAB_FERRETDB_VERSION"
    local module_json module_dir
    # Run outside any Go module so that no go.mod around us changes the resolution.
    if ! module_json="$(cd / && GO111MODULE=on go mod download -json \
        "$FERRETDB_MODULE@$COLLAB_FERRETDB_VERSION")"; then
        stack_die "'go mod download $FERRETDB_MODULE@$COLLAB_FERRETDB_VERSION' failed: $module_json"
    fi
    module_dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$module_json")"
    if [[ -z "$module_dir" || ! -f "$module_dir/go.mod" ]]; then
        stack_die "go mod download gave no module folder: $module_json"
    fi

    # The module cache is read-only and must stay pristine: build from a copy.
    local source_dir="$FERRETDB_BUILD_DIR/src"
    rm -rf "$FERRETDB_BUILD_DIR"
    mkdir -p "$FERRETDB_BUILD_DIR/bin"
    cp -R "$module_dir" "$source_dir"
    chmod -R u+w "$source_dir"
    echo "$COLLAB_FERRETDB_VERSION" >"$source_dir/build/version/version.txt"
    stack_say "building FerretDB (first time only: a few minutes on 2 cores)"
    if ! (cd "$source_dir" && go build -trimpath -o "$FERRETDB_BINARY.tmp" ./cmd/ferretdb); then
        rm -f "$FERRETDB_BINARY.tmp"
        stack_die "building FerretDB failed (see the Go output above)"
    fi
    mv -f "$FERRETDB_BINARY.tmp" "$FERRETDB_BINARY"
    stack_say "built $FERRETDB_BINARY"
}

ferretdb_probe() {
    "$FERRETDB_PROBE" mongo "$FERRETDB_URI" 1000
}

ferretdb_start() {
    if ferretdb_external; then
        stack_say "external MongoDB (COLLAB_EXTERNAL_MONGO_URI): not starting FerretDB"
        if ! "$(stack_probe_path)" mongo "$COLLAB_EXTERNAL_MONGO_URI" 5000; then
            stack_say "warning: the external MongoDB does not answer ping"
        fi
        return 0
    fi
    FERRETDB_PROBE="$(stack_probe_path)"
    stack_mark_dir
    stack_lock ferretdb
    if stack_pid_alive "$FERRETDB_PID_FILE" "$FERRETDB_MARKER"; then
        stack_wait_ready "$(stack_read_pid "$FERRETDB_PID_FILE")" "$FERRETDB_LOG" "FerretDB" ferretdb_probe
        stack_say "already running (pid $(stack_read_pid "$FERRETDB_PID_FILE")) on 127.0.0.1:$COLLAB_MONGO_PORT"
        return 0
    fi
    rm -f "$FERRETDB_PID_FILE"
    ferretdb_install
    stack_require_port_free "$COLLAB_MONGO_PORT" "FerretDB, COLLAB_MONGO_PORT"
    stack_require_port_free "$COLLAB_FERRETDB_DEBUG_PORT" "FerretDB's debug/metrics listener, COLLAB_FERRETDB_DEBUG_PORT"
    mkdir -p "$FERRETDB_DIR/data" "$FERRETDB_DIR/state" "$(dirname "$FERRETDB_LOG")"

    local started=$SECONDS
    echo "=== $(date -u +%FT%TZ) ferretdb.sh start ===" >>"$FERRETDB_LOG"
    # The SQLite URL names a folder: one SQLite file per database inside it.
    stack_spawn "$FERRETDB_PID_FILE" "$FERRETDB_LOG" \
        "$FERRETDB_BINARY" --handler=sqlite \
        "--sqlite-url=file:$FERRETDB_DIR/data/" \
        "$FERRETDB_MARKER" \
        "--debug-addr=127.0.0.1:$COLLAB_FERRETDB_DEBUG_PORT" \
        "--state-dir=$FERRETDB_DIR/state" \
        --telemetry=disable --log-level=info --log-format=console
    stack_wait_ready "$(stack_read_pid "$FERRETDB_PID_FILE")" "$FERRETDB_LOG" "FerretDB" ferretdb_probe
    stack_say "ready on 127.0.0.1:$COLLAB_MONGO_PORT (pid $(stack_read_pid "$FERRETDB_PID_FILE"), $((SECONDS - started))s)"
}

ferretdb_stop() {
    if ferretdb_external; then
        stack_say "external MongoDB: nothing to stop"
        return 0
    fi
    stack_lock ferretdb
    stack_stop_pid "$FERRETDB_PID_FILE" "$FERRETDB_MARKER" "FerretDB" 20
}

# Exit status 0 when the server answers a ping, 3 when it does not.
ferretdb_status() {
    FERRETDB_PROBE="$(stack_probe_path)"
    if ferretdb_external; then
        # The URI may carry a password: never print it.
        if "$FERRETDB_PROBE" mongo "$COLLAB_EXTERNAL_MONGO_URI" 2000 2>/dev/null; then
            stack_say "external MongoDB (COLLAB_EXTERNAL_MONGO_URI) answers ping"
            return 0
        fi
        stack_say "external MongoDB (COLLAB_EXTERNAL_MONGO_URI) does NOT answer ping"
        return 3
    fi
    if ! stack_pid_alive "$FERRETDB_PID_FILE" "$FERRETDB_MARKER"; then
        stack_say "stopped"
        return 3
    fi
    local pid
    pid="$(stack_read_pid "$FERRETDB_PID_FILE")"
    if ferretdb_probe 2>/dev/null; then
        stack_say "running, pid $pid, MongoDB protocol 127.0.0.1:$COLLAB_MONGO_PORT, debug 127.0.0.1:$COLLAB_FERRETDB_DEBUG_PORT, log $FERRETDB_LOG"
        return 0
    fi
    stack_say "process $pid is up but does not answer ping on 127.0.0.1:$COLLAB_MONGO_PORT (see $FERRETDB_LOG)"
    return 3
}

case "${1:-}" in
install)
    stack_lock ferretdb
    ferretdb_install
    ;;
start) ferretdb_start ;;
stop) ferretdb_stop ;;
status) ferretdb_status ;;
*)
    echo "usage: deploy/local/ferretdb.sh {install|start|stop|status}" >&2
    exit 2
    ;;
esac
