#!/usr/bin/env bash
# The one command that runs every test, on a fresh machine or a warm one:
# installs what is missing, builds the Debug tree (AddressSanitizer + UBSan,
# libFuzzer coverage), starts the local stack (Kafka, FerretDB, Redis,
# Prometheus), runs ctest, stops the stack it started, and exits non-zero on any
# failure.
#
#   ./test.sh                 every test
#   ./test.sh -L unit         one group (unit | integration | e2e | fuzz | static), any ctest args
#
# Environment: COLLAB_TEST_BUILD_DIR (default build), COLLAB_TEST_JOBS (default 2),
# and everything deploy/local/env.sh documents (ports, external servers).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$repo"

build_dir=${COLLAB_TEST_BUILD_DIR:-build}
jobs=${COLLAB_TEST_JOBS:-2}
t0=$SECONDS
phase() { printf '\n== %s (%ds)\n' "$*" $((SECONDS - t0)); }

phase "install dependencies"
deploy/local/install-deps.sh

phase "configure and build ($build_dir, Debug)"
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_COMPILER=clang >"$build_dir.configure.log" 2>&1 ||
  { cat "$build_dir.configure.log"; exit 1; }
cmake --build "$build_dir" -j"$jobs"

# Only groups that talk to servers need the stack; a unit-only run skips it.
need_stack=1
case " $* " in *" -L unit "*|*" -L fuzz "*|*" -L static "*) need_stack=0 ;; esac

started_by_us=0
if [ "$need_stack" = 1 ]; then
  phase "start the local stack"
  if ! deploy/local/stack.sh status >/dev/null 2>&1; then
    started_by_us=1
  fi
  if [ "$started_by_us" = 1 ]; then
    trap 'phase "stop the local stack"; deploy/local/stack.sh down || true' EXIT
  fi
  deploy/local/stack.sh up
fi

phase "run the tests"
# shellcheck disable=SC1091
eval "$(deploy/local/env.sh --print)"
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -j"$jobs" "$@"
phase "done"
