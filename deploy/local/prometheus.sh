#!/usr/bin/env bash
# deploy/local/prometheus.sh {install|start|stop|status}: the Prometheus of the local
# stack, Debian's prometheus binary run by hand (never the system service), scraping
# every service's /metrics each second (targets in deploy/local/prometheus.yml).
# Configuration and TSDB live under $COLLAB_STACK_DIR/prometheus; it listens on
# 127.0.0.1:$COLLAB_PROMETHEUS_PORT. start is a no-op when it already runs and waits
# for /-/ready. The lifecycle API is on, so `curl -X POST .../-/reload` re-reads the
# configuration. The alerting rules of deploy/prometheus/rules/*.yml are copied beside
# the configuration and loaded (rule_files); an edited rule file is picked up by the
# next start like an edited template.
set -euo pipefail

STACK_NAME=prometheus
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROMETHEUS_TEMPLATE="$STACK_SCRIPT_DIR/prometheus.yml"
PROMETHEUS_RULES_SOURCE="$STACK_SCRIPT_DIR/../prometheus/rules"
PROMETHEUS_DIR="$COLLAB_STACK_DIR/prometheus"
PROMETHEUS_CONFIG="$PROMETHEUS_DIR/prometheus.yml"
PROMETHEUS_PID_FILE="$PROMETHEUS_DIR/prometheus.pid"
PROMETHEUS_LOG="$COLLAB_STACK_DIR/logs/prometheus.log"
PROMETHEUS_MARKER="--config.file=$PROMETHEUS_CONFIG"
PROMETHEUS_LOCAL_URL="http://127.0.0.1:$COLLAB_PROMETHEUS_PORT"

prometheus_install() {
    if ! command -v prometheus >/dev/null 2>&1; then
        stack_die "prometheus is not installed; run deploy/local/install-deps.sh (Debian package prometheus)"
    fi
    stack_require_command curl "Run deploy/local/install-deps.sh (Debian package curl)."
    stack_say "prometheus $(prometheus --version 2>&1 | sed -n 's/^prometheus, version \([^ ]*\).*/\1/p') is installed"
}

# Copies the rule files into $PROMETHEUS_DIR/rules (checked first, so a broken rule
# never replaces working ones); prints "changed" when they differ from what was there.
prometheus_write_rules() {
    local staged="$PROMETHEUS_DIR/rules.tmp"
    rm -rf "$staged"
    mkdir -p "$staged" "$PROMETHEUS_DIR/rules"
    local file
    for file in "$PROMETHEUS_RULES_SOURCE"/*.yml; do
        [[ -f "$file" ]] && cp "$file" "$staged/"
    done
    if command -v promtool >/dev/null 2>&1 && compgen -G "$staged/*.yml" >/dev/null &&
        ! promtool check rules "$staged"/*.yml >/dev/null 2>"$PROMETHEUS_DIR/promtool.err"; then
        stack_die "invalid alerting rules in $PROMETHEUS_RULES_SOURCE: $(cat "$PROMETHEUS_DIR/promtool.err")"
    fi
    if ! diff -r "$staged" "$PROMETHEUS_DIR/rules" >/dev/null 2>&1; then
        echo changed
    fi
    rm -rf "$PROMETHEUS_DIR/rules"
    mv "$staged" "$PROMETHEUS_DIR/rules"
}

# Renders the template into PROMETHEUS_CONFIG, with the rule files; prints "changed"
# when the content (or a rule file) differs from what was there.
prometheus_write_config() {
    mkdir -p "$PROMETHEUS_DIR/data" "$(dirname "$PROMETHEUS_LOG")"
    local rules_outcome
    rules_outcome="$(prometheus_write_rules)" || exit 1
    {
        sed -e "s/@COLLAB_PROMETHEUS_PORT@/$COLLAB_PROMETHEUS_PORT/g" \
            -e "s/@COLLAB_FERRETDB_DEBUG_PORT@/$COLLAB_FERRETDB_DEBUG_PORT/g" "$PROMETHEUS_TEMPLATE"
        # Relative to the configuration file, which lives beside rules/ (unless the
        # template lists rule files itself: a second key would be invalid).
        if ! grep -q '^rule_files:' "$PROMETHEUS_TEMPLATE"; then
            printf '\n# Added by deploy/local/prometheus.sh: deploy/prometheus/rules/*.yml, copied here.\n'
            printf 'rule_files:\n  - rules/*.yml\n'
        fi
    } >"$PROMETHEUS_CONFIG.tmp"
    if command -v promtool >/dev/null 2>&1 &&
        ! promtool check config "$PROMETHEUS_CONFIG.tmp" >/dev/null 2>"$PROMETHEUS_DIR/promtool.err"; then
        stack_die "the generated $PROMETHEUS_CONFIG is invalid: $(cat "$PROMETHEUS_DIR/promtool.err")"
    fi
    if [[ "$rules_outcome" == changed ]] || ! cmp -s "$PROMETHEUS_CONFIG.tmp" "$PROMETHEUS_CONFIG"; then
        echo changed
    fi
    mv -f "$PROMETHEUS_CONFIG.tmp" "$PROMETHEUS_CONFIG"
}

# A running Prometheus re-reads an edited template without losing its data.
prometheus_reload_if_changed() {
    local outcome
    outcome="$(prometheus_write_config)" || exit 1
    if [[ "$outcome" == changed ]]; then
        curl -fsS --max-time 10 -X POST "$PROMETHEUS_LOCAL_URL/-/reload" >/dev/null ||
            stack_die "the configuration changed but $PROMETHEUS_LOCAL_URL/-/reload failed (see $PROMETHEUS_LOG)"
        stack_say "configuration changed: reloaded"
    fi
}

prometheus_ready() {
    curl -fsS --max-time 2 "$PROMETHEUS_LOCAL_URL/-/ready" >/dev/null
}

prometheus_start() {
    stack_mark_dir
    stack_lock prometheus
    if stack_pid_alive "$PROMETHEUS_PID_FILE" "$PROMETHEUS_MARKER"; then
        stack_wait_ready "$(stack_read_pid "$PROMETHEUS_PID_FILE")" "$PROMETHEUS_LOG" "Prometheus" prometheus_ready
        prometheus_reload_if_changed
        stack_say "already running (pid $(stack_read_pid "$PROMETHEUS_PID_FILE")) on 127.0.0.1:$COLLAB_PROMETHEUS_PORT"
        return 0
    fi
    rm -f "$PROMETHEUS_PID_FILE"
    prometheus_install >/dev/null
    stack_require_port_free "$COLLAB_PROMETHEUS_PORT" "Prometheus, COLLAB_PROMETHEUS_PORT"
    prometheus_write_config >/dev/null

    local started=$SECONDS
    echo "=== $(date -u +%FT%TZ) prometheus.sh start ===" >>"$PROMETHEUS_LOG"
    stack_spawn "$PROMETHEUS_PID_FILE" "$PROMETHEUS_LOG" \
        prometheus "$PROMETHEUS_MARKER" \
        "--storage.tsdb.path=$PROMETHEUS_DIR/data" \
        --storage.tsdb.retention.time=7d \
        "--web.listen-address=127.0.0.1:$COLLAB_PROMETHEUS_PORT" \
        --web.enable-lifecycle
    stack_wait_ready "$(stack_read_pid "$PROMETHEUS_PID_FILE")" "$PROMETHEUS_LOG" "Prometheus" prometheus_ready
    stack_say "ready on 127.0.0.1:$COLLAB_PROMETHEUS_PORT (pid $(stack_read_pid "$PROMETHEUS_PID_FILE"), $((SECONDS - started))s)"
}

prometheus_stop() {
    stack_lock prometheus
    stack_stop_pid "$PROMETHEUS_PID_FILE" "$PROMETHEUS_MARKER" "Prometheus" 30
}

# Exit status 0 when /-/ready answers, 3 when it does not.
prometheus_status() {
    if ! stack_pid_alive "$PROMETHEUS_PID_FILE" "$PROMETHEUS_MARKER"; then
        stack_say "stopped"
        return 3
    fi
    local pid
    pid="$(stack_read_pid "$PROMETHEUS_PID_FILE")"
    if prometheus_ready 2>/dev/null; then
        stack_say "running, pid $pid, $PROMETHEUS_LOCAL_URL, log $PROMETHEUS_LOG"
        return 0
    fi
    stack_say "process $pid is up but $PROMETHEUS_LOCAL_URL/-/ready does not answer (see $PROMETHEUS_LOG)"
    return 3
}

case "${1:-}" in
install) prometheus_install ;;
start) prometheus_start ;;
stop) prometheus_stop ;;
status) prometheus_status ;;
*)
    echo "usage: deploy/local/prometheus.sh {install|start|stop|status}" >&2
    exit 2
    ;;
esac
