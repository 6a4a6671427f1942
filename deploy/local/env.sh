#!/usr/bin/env bash
# deploy/local/env.sh: the one list of settings for the local stack and for every
# service and test that talks to it. Sourced by every script in deploy/local/; each
# setting keeps a value already present in the environment, otherwise takes the
# documented default (docs/operations.md). Run `deploy/local/env.sh --print` to see
# the effective values as `export` lines (eval-able:
# `eval "$(deploy/local/env.sh --print)"`).
#
# External servers: when COLLAB_EXTERNAL_KAFKA_BROKERS, COLLAB_EXTERNAL_MONGO_URI or
# COLLAB_EXTERNAL_REDIS_URL is set, the stack does not start that server and the
# client-side variable points at the external one instead.

COLLAB_REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

# Where the running stack keeps data, logs and pid files (deleted by `stack.sh reset`).
: "${COLLAB_STACK_DIR:=$COLLAB_REPO_DIR/.local/stack}"
# Downloads and builds kept between runs (Kafka jars, FerretDB binary, probe tool).
: "${COLLAB_CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/collab}"

# Ports the local servers listen on, all on 127.0.0.1.
: "${COLLAB_KAFKA_PORT:=9092}"
: "${COLLAB_KAFKA_CONTROLLER_PORT:=9093}"
: "${COLLAB_MONGO_PORT:=27017}"
: "${COLLAB_FERRETDB_DEBUG_PORT:=8088}"
: "${COLLAB_REDIS_PORT:=6379}"
: "${COLLAB_PROMETHEUS_PORT:=9090}"

# Kafka JVM heap: the machine has 2 cores and is shared with builds and tests.
: "${COLLAB_KAFKA_HEAP:=1g}"
# FerretDB release built from its Go module.
: "${COLLAB_FERRETDB_VERSION:=v1.24.2}"
# Seconds a server may take to become ready before its start is declared failed.
: "${COLLAB_STACK_START_TIMEOUT:=120}"

# Client side: what every service and test reads to find the servers.
if [[ -n "${COLLAB_EXTERNAL_KAFKA_BROKERS:-}" ]]; then
    COLLAB_KAFKA_BROKERS="$COLLAB_EXTERNAL_KAFKA_BROKERS"
fi
if [[ -n "${COLLAB_EXTERNAL_MONGO_URI:-}" ]]; then
    COLLAB_MONGO_URI="$COLLAB_EXTERNAL_MONGO_URI"
fi
if [[ -n "${COLLAB_EXTERNAL_REDIS_URL:-}" ]]; then
    COLLAB_REDIS_URL="$COLLAB_EXTERNAL_REDIS_URL"
fi
: "${COLLAB_KAFKA_BROKERS:=127.0.0.1:$COLLAB_KAFKA_PORT}"
: "${COLLAB_MONGO_URI:=mongodb://127.0.0.1:$COLLAB_MONGO_PORT}"
: "${COLLAB_MONGO_DB:=collab}"
: "${COLLAB_REDIS_URL:=redis://127.0.0.1:$COLLAB_REDIS_PORT}"
: "${COLLAB_PROMETHEUS_URL:=http://127.0.0.1:$COLLAB_PROMETHEUS_PORT}"

COLLAB_ENV_NAMES=(
    COLLAB_STACK_DIR COLLAB_CACHE_DIR
    COLLAB_KAFKA_PORT COLLAB_KAFKA_CONTROLLER_PORT COLLAB_MONGO_PORT
    COLLAB_FERRETDB_DEBUG_PORT COLLAB_REDIS_PORT COLLAB_PROMETHEUS_PORT
    COLLAB_KAFKA_HEAP COLLAB_FERRETDB_VERSION COLLAB_STACK_START_TIMEOUT
    COLLAB_KAFKA_BROKERS COLLAB_MONGO_URI COLLAB_MONGO_DB COLLAB_REDIS_URL
    COLLAB_PROMETHEUS_URL
)
# shellcheck disable=SC2163 # exporting the variable whose name is in $name
for name in "${COLLAB_ENV_NAMES[@]}"; do export "$name"; done
unset name

# Prints the effective settings as eval-able export lines, external ones included.
collab_env_print() {
    local name
    for name in "${COLLAB_ENV_NAMES[@]}" COLLAB_EXTERNAL_KAFKA_BROKERS \
        COLLAB_EXTERNAL_MONGO_URI COLLAB_EXTERNAL_REDIS_URL; do
        if [[ -n "${!name:-}" ]]; then
            printf 'export %s=%q\n' "$name" "${!name}"
        fi
    done
}

if [[ "${1:-}" == "--print" ]]; then
    collab_env_print
elif [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "usage: deploy/local/env.sh --print   (or source it from bash)" >&2
    exit 2
fi
