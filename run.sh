#!/usr/bin/env bash
# The one command that runs the whole system locally on 127.0.0.1: installs what
# is missing, builds the Release tree, starts the stack (Kafka, FerretDB, Redis,
# Prometheus) and every service that exists, prints where everything listens,
# and stays in the foreground. Ctrl-C (or SIGTERM) stops the services, then the
# stack.
#
# Environment: COLLAB_RUN_BUILD_DIR (default build-release), COLLAB_KEEP_STACK=1
# to leave the stack running on exit, and everything deploy/local/env.sh documents.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"

build_dir=${COLLAB_RUN_BUILD_DIR:-build-release}

deploy/local/install-deps.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j"$(nproc)"

deploy/local/stack.sh up
eval "$(deploy/local/env.sh --print)"
log_dir=$COLLAB_STACK_DIR/logs
mkdir -p "$log_dir"

# Services in pipeline order; each one that has been built is started.
services=(processor snapshotter broadcaster ingest)
pids=()
stop_all() {
  trap - INT TERM EXIT
  echo
  echo "stopping services..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${COLLAB_KEEP_STACK:-0}" != 1 ]; then
    deploy/local/stack.sh down
  fi
  exit 0
}
trap stop_all INT TERM EXIT

for svc in "${services[@]}"; do
  bin=$build_dir/bin/$svc
  [ -x "$bin" ] || continue
  "$bin" >>"$log_dir/$svc.log" 2>&1 &
  pids+=($!)
  echo "started $svc (pid $!, log $log_dir/$svc.log)"
done

echo
deploy/local/stack.sh status
if [ "${#pids[@]}" = 0 ]; then
  echo "no service is built yet: the stack alone is running."
fi
echo "Prometheus: $COLLAB_PROMETHEUS_URL   (Ctrl-C stops everything)"
# Wait until a service exits or we are told to stop.
if [ "${#pids[@]}" -gt 0 ]; then
  wait -n "${pids[@]}" || true
  echo "a service exited; see $log_dir"
else
  while true; do sleep 3600 & wait $! || true; done
fi
