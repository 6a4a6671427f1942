#!/usr/bin/env bash
# deploy/local/stack.sh {up|down|status|logs [SERVER] [-f]|reset}: the whole local
# stack in one command: Kafka, FerretDB (MongoDB protocol), Redis and Prometheus on
# 127.0.0.1, each through its own script in this folder.
#   up      starts (installing when missing) each server in order, printing how long
#           each took; servers already running are left alone, so `up` is idempotent.
#   down    stops every server, in reverse order, also after a partial `up`.
#   status  what runs on which port; exit status 0 only when all four answer.
#   logs    the last lines of each server's log (or of one; -f follows them).
#   reset   down, then deletes the stack's data folder ($COLLAB_STACK_DIR); the
#           download/build cache ($COLLAB_CACHE_DIR) is kept.
set -euo pipefail

STACK_NAME=stack
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK_SERVERS=(kafka ferretdb redis prometheus)

stack_up() {
    local started=$SECONDS server begin
    for server in "${STACK_SERVERS[@]}"; do
        begin=$SECONDS
        "$STACK_SCRIPT_DIR/$server.sh" start
        printf 'stack: %-10s %3ds\n' "$server" $((SECONDS - begin))
    done
    stack_say "up in $((SECONDS - started))s; environment for clients:"
    collab_env_print | grep -E 'COLLAB_(KAFKA_BROKERS|MONGO_URI|MONGO_DB|REDIS_URL|PROMETHEUS_URL)='
}

# Stops every server even when one of them fails to stop, then reports.
stack_down() {
    local index failed=0
    for ((index = ${#STACK_SERVERS[@]} - 1; index >= 0; index--)); do
        "$STACK_SCRIPT_DIR/${STACK_SERVERS[index]}.sh" stop || failed=1
    done
    if ((failed)); then
        stack_die "some server did not stop cleanly (see above)"
    fi
}

stack_status() {
    local server all_up=0
    for server in "${STACK_SERVERS[@]}"; do
        "$STACK_SCRIPT_DIR/$server.sh" status || all_up=3
    done
    return "$all_up"
}

stack_logs() {
    local follow=0 selected=() argument server
    for argument in "$@"; do
        case "$argument" in
        -f | --follow) follow=1 ;;
        kafka | ferretdb | redis | prometheus) selected+=("$argument") ;;
        *) stack_die "unknown server '$argument' (kafka, ferretdb, redis, prometheus)" ;;
        esac
    done
    ((${#selected[@]})) || selected=("${STACK_SERVERS[@]}")
    local files=()
    for server in "${selected[@]}"; do
        files+=("$COLLAB_STACK_DIR/logs/$server.log")
    done
    if ((follow)); then
        exec tail -n 20 -F "${files[@]}"
    fi
    for server in "${selected[@]}"; do
        echo "===== $server: $COLLAB_STACK_DIR/logs/$server.log ====="
        tail -n 30 "$COLLAB_STACK_DIR/logs/$server.log" 2>/dev/null || echo "(no log yet)"
    done
}

stack_reset() {
    if [[ ! -d "$COLLAB_STACK_DIR" ]]; then
        stack_say "nothing to delete: $COLLAB_STACK_DIR does not exist"
        return 0
    fi
    # Refuse to touch a folder the stack did not create (a mistyped COLLAB_STACK_DIR).
    if [[ ! -f "$COLLAB_STACK_DIR/.collab-stack" ]]; then
        stack_die "$COLLAB_STACK_DIR has no .collab-stack marker; not deleting a folder the stack did not create"
    fi
    stack_down
    rm -rf "$COLLAB_STACK_DIR"
    stack_say "deleted $COLLAB_STACK_DIR (data, logs, pid files)"
}

case "${1:-}" in
up) stack_up ;;
down) stack_down ;;
status) stack_status ;;
logs)
    shift
    stack_logs "$@"
    ;;
reset) stack_reset ;;
*)
    echo "usage: deploy/local/stack.sh {up|down|status|logs [kafka|ferretdb|redis|prometheus] [-f]|reset}" >&2
    exit 2
    ;;
esac
