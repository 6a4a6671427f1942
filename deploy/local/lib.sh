#!/usr/bin/env bash
# deploy/local/lib.sh: helpers shared by the per-server scripts of the local stack
# (kafka.sh, ferretdb.sh, redis.sh, prometheus.sh): plain error messages, pid files
# that survive pid reuse, port checks that name the holder, waiting for readiness
# with a deadline, stopping with a grace period, a lock so that two `up`s at the
# same time do not race, and building the stack-probe readiness tool.
# Sourced, never run; it sources env.sh itself.

# shellcheck source=env.sh
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

STACK_SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Rejects settings that would otherwise fail later in an obscure way (a port
# "9o92" in a config file, two servers on one port).
stack_check_settings() {
    local name value seen=" "
    for name in COLLAB_KAFKA_PORT COLLAB_KAFKA_CONTROLLER_PORT COLLAB_MONGO_PORT \
        COLLAB_FERRETDB_DEBUG_PORT COLLAB_REDIS_PORT COLLAB_PROMETHEUS_PORT; do
        value="${!name}"
        if [[ ! "$value" =~ ^[0-9]{1,5}$ ]] || ((10#$value < 1 || 10#$value > 65535)); then
            echo "${STACK_NAME:-stack}: error: $name must be a TCP port (1-65535), got '$value'" >&2
            exit 2
        fi
        if [[ "$seen" == *" $((10#$value)) "* ]]; then
            echo "${STACK_NAME:-stack}: error: $name=$value is also used by another COLLAB_*_PORT" >&2
            exit 2
        fi
        seen+="$((10#$value)) "
    done
    if [[ ! "$COLLAB_STACK_START_TIMEOUT" =~ ^[1-9][0-9]*$ ]]; then
        echo "${STACK_NAME:-stack}: error: COLLAB_STACK_START_TIMEOUT must be a whole number of seconds, got '$COLLAB_STACK_START_TIMEOUT'" >&2
        exit 2
    fi
}
stack_check_settings

# Every message names the script so that output of `stack.sh up` reads clearly.
stack_say() {
    echo "${STACK_NAME:-stack}: $*"
}

stack_die() {
    echo "${STACK_NAME:-stack}: error: $*" >&2
    exit 1
}

# Prints the last lines of a log file, framed, to stderr (used when a start fails).
stack_show_log_tail() {
    local log_file="$1"
    if [[ -s "$log_file" ]]; then
        echo "----- last 40 lines of $log_file -----" >&2
        tail -n 40 "$log_file" >&2
        echo "----- end of $log_file -----" >&2
    else
        echo "(log $log_file is empty or missing)" >&2
    fi
}

# Serialises start/stop of one server across concurrent callers (teammates running
# `stack.sh up` at the same time). The lock is released when the script exits.
stack_lock() {
    local name="$1"
    mkdir -p "$COLLAB_STACK_DIR"
    exec {STACK_LOCK_FD}>"$COLLAB_STACK_DIR/.$name.lock"
    if ! flock -w 600 "$STACK_LOCK_FD"; then
        stack_die "another start/stop of $name has held $COLLAB_STACK_DIR/.$name.lock for 10 minutes"
    fi
}

# Succeeds while the process exists and is not a zombie: a server whose parent is
# a reaper that never reaps must still count as gone once it has exited.
stack_process_running() {
    local pid="$1" stat
    stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
    # The state is the first field after the parenthesised command name.
    stat="${stat##*) }"
    [[ "${stat%% *}" != Z ]]
}

# Marks the stack folder as created by the stack: `stack.sh reset` deletes only a
# folder marked so. Called by every start.
stack_mark_dir() {
    mkdir -p "$COLLAB_STACK_DIR"
    touch "$COLLAB_STACK_DIR/.collab-stack"
}

# Succeeds when the pid in pid_file is alive and its command line contains marker,
# so that a stale pid file whose pid was reused by another program is not trusted.
stack_pid_alive() {
    local pid_file="$1" marker="$2" pid
    [[ -s "$pid_file" ]] || return 1
    pid="$(<"$pid_file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stack_process_running "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

stack_read_pid() {
    cat "$1"
}

# Describes what listens on a TCP port of 127.0.0.1 (or any address), empty if free.
stack_port_holder() {
    local port="$1" lines
    lines="$(ss -H -ltnp "sport = :$port" 2>/dev/null || true)"
    if [[ -z "$lines" ]]; then
        # Without ss, fall back to trying to connect.
        if ! command -v ss >/dev/null 2>&1 &&
            (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "an unknown process (install iproute2 for 'ss' to see which)"
        fi
        return 0
    fi
    if [[ "$lines" == *users:* ]]; then
        local users pid
        users="$(sed -n 's/.*users:((\(.*\)))/\1/p' <<<"$lines" | head -n 1)"
        pid="$(sed -n 's/.*pid=\([0-9]*\).*/\1/p' <<<"$users" | head -n 1)"
        # The command line tells "another checkout's stack" (it names its stack
        # folder) from an unrelated program.
        if [[ -n "$pid" && -r "/proc/$pid/cmdline" ]]; then
            echo "$users, command: $(tr '\0' ' ' <"/proc/$pid/cmdline" | cut -c1-300 | sed 's/ *$//')"
        else
            echo "$users"
        fi
    else
        echo "a process ss cannot name (run as root to see it)"
    fi
}

# Fails with a plain message when a port this server needs is already taken.
stack_require_port_free() {
    local port="$1" what="$2" holder
    holder="$(stack_port_holder "$port")"
    if [[ -n "$holder" ]]; then
        stack_die "port $port (needed for $what) is already taken by: $holder." \
            "Stop that process or choose another port (see deploy/local/env.sh)."
    fi
}

# Waits until `check_command...` succeeds, for at most COLLAB_STACK_START_TIMEOUT
# seconds. Fails early, with the log's tail, if the server process dies meanwhile.
stack_wait_ready() {
    local pid="$1" log_file="$2" what="$3"
    shift 3
    local deadline=$((SECONDS + COLLAB_STACK_START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if ! stack_process_running "$pid"; then
            echo "${STACK_NAME:-stack}: error: $what (pid $pid) died while starting" >&2
            stack_show_log_tail "$log_file"
            exit 1
        fi
        sleep 0.2
    done
    echo "${STACK_NAME:-stack}: error: $what was not ready within" \
        "${COLLAB_STACK_START_TIMEOUT}s (COLLAB_STACK_START_TIMEOUT); last check said:" >&2
    "$@" >&2 || true
    stack_show_log_tail "$log_file"
    exit 1
}

# Sends SIGTERM, waits up to grace_seconds for the process to exit, then SIGKILL.
stack_stop_pid() {
    local pid_file="$1" marker="$2" what="$3" grace_seconds="$4" pid
    if ! stack_pid_alive "$pid_file" "$marker"; then
        rm -f "$pid_file"
        stack_say "$what is not running"
        return 0
    fi
    pid="$(stack_read_pid "$pid_file")"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + grace_seconds))
    while stack_process_running "$pid" && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if stack_process_running "$pid"; then
        stack_say "$what (pid $pid) ignored SIGTERM for ${grace_seconds}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        deadline=$((SECONDS + 10))
        while stack_process_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
        if stack_process_running "$pid"; then
            stack_die "$what (pid $pid) is still there 10s after SIGKILL"
        fi
    fi
    rm -f "$pid_file"
    stack_say "$what stopped"
}

# Starts a long-running server detached from the caller's session and terminal (so
# that ^C in a test run or the end of a CI step does not take it down) and writes
# its pid. stdout and stderr go to log_file.
stack_spawn() {
    local pid_file="$1" log_file="$2"
    shift 2
    mkdir -p "$(dirname "$log_file")"
    # The lock descriptor must not leak into the server, or the lock would be held
    # for the server's whole life and the next start/stop would wait for it.
    if [[ -n "${STACK_LOCK_FD:-}" ]]; then
        setsid "$@" </dev/null >>"$log_file" 2>&1 {STACK_LOCK_FD}>&- &
    else
        setsid "$@" </dev/null >>"$log_file" 2>&1 &
    fi
    echo "$!" >"$pid_file"
}

stack_require_command() {
    local command_name="$1" hint="$2"
    if ! command -v "$command_name" >/dev/null 2>&1; then
        stack_die "'$command_name' is not installed. $hint"
    fi
}

# Path of the stack-probe binary, built from deploy/local/probe/stack-probe.c into
# the cache folder the first time (and again whenever the source changes). Exits
# with a plain message when the compiler or the client libraries are missing.
stack_probe_path() {
    local source_file="$STACK_SCRIPT_DIR/probe/stack-probe.c" digest binary
    digest="$(sha256sum "$source_file" | cut -c1-16)"
    binary="$COLLAB_CACHE_DIR/bin/stack-probe-$digest"
    if [[ ! -x "$binary" ]]; then
        local cc="${CC:-cc}" flags libs
        command -v "$cc" >/dev/null 2>&1 ||
            stack_die "no C compiler '$cc' to build stack-probe; run deploy/local/install-deps.sh"
        if ! flags="$(pkg-config --cflags rdkafka libmongoc-1.0 2>/dev/null)" ||
            ! libs="$(pkg-config --libs rdkafka libmongoc-1.0 2>/dev/null)"; then
            stack_die "librdkafka-dev or libmongoc-dev is missing (pkg-config cannot find" \
                "rdkafka / libmongoc-1.0); run deploy/local/install-deps.sh"
        fi
        mkdir -p "$COLLAB_CACHE_DIR/bin"
        # The libraries' headers are not ours: include them as system headers so
        # the project's strict warnings apply to our code only.
        # shellcheck disable=SC2086 # pkg-config output is a list of words
        "$cc" -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -Wshadow \
            -Wconversion -Wsign-conversion ${flags//-I/-isystem } "$source_file" \
            -o "$binary.tmp.$$" $libs ||
            stack_die "building stack-probe from $source_file failed"
        mv -f "$binary.tmp.$$" "$binary"
    fi
    echo "$binary"
}
