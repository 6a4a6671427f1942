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

# ingest issues tokens and the broadcaster checks them: both read the same HS256
# secret, made once per stack (override with COLLAB_JWT_SECRET / _FILE, or RS256 keys).
if [ -z "${COLLAB_JWT_SECRET:-}" ] && [ -z "${COLLAB_JWT_SECRET_FILE:-}" ]; then
  secret_file=$COLLAB_STACK_DIR/jwt-secret
  if [ ! -s "$secret_file" ]; then
    (umask 077 && head -c 48 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$secret_file")
  fi
  export COLLAB_JWT_SECRET_FILE=$secret_file
fi

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
  # Own session: a terminal's Ctrl-C reaches only this script, which then stops
  # the services one SIGTERM each, so they drain instead of exiting at once.
  setsid "$bin" >>"$log_dir/$svc.log" 2>&1 </dev/null &
  pids+=($!)
  echo "started $svc (pid $!, log $log_dir/$svc.log)"
done

echo
deploy/local/stack.sh status
admin=$build_dir/bin/collab-admin
cat <<EOT

The pipeline is up:
  HTTP API   http://127.0.0.1:8080/v1/  (POST /v1/login, /v1/documents; docs/api.md)
  write      ws://127.0.0.1:8080/v1/documents/{doc}/write?access_token=JWT   (ingest)
  read       ws://127.0.0.1:8081/v1/documents/{doc}/read?access_token=JWT    (broadcaster)
  y-websocket  new WebsocketProvider('ws://127.0.0.1:8081/yjs', doc, ydoc, {params: {token: JWT}})
  Hocuspocus   new HocuspocusProvider({url: 'ws://127.0.0.1:8081/hocuspocus', name: doc, token: JWT, document: ydoc})
  metrics    127.0.0.1:9101-9104/metrics, Prometheus $COLLAB_PROMETHEUS_URL

Connect a client (in another terminal):
  $admin user-create --username alice --password alice-secret
  $admin doc-create --doc demo --owner alice
  (cd client && npm run build) && node client/examples/edit.mjs --user alice --password alice-secret --doc demo
Run that last line twice (or with a second user granted with '$admin grant')
to see two clients edit one document; any stock Yjs app connects with the
y-websocket or Hocuspocus lines above. Protocol: docs/protocol.md.
Ctrl-C stops everything.
EOT
# Wait until a service exits or we are told to stop.
if [ "${#pids[@]}" -gt 0 ]; then
  wait -n "${pids[@]}" || true
  echo "a service exited; see $log_dir"
else
  while true; do sleep 3600 & wait $! || true; done
fi
