#!/usr/bin/env bash
# deploy/local/install-deps.sh: installs what building, testing and running the
# project locally needs, and does nothing on a machine that already has it.
#  1. Debian packages (compilers, C libraries, redis-server, prometheus, ...): checked
#     with dpkg-query; only the missing ones are installed, as root, non-interactively,
#     after one `apt-get update`.
#  2. Java 17+, Maven, Go, Node 20+ and npm are not taken from Debian (its Go and Node
#     are too old): checked, and each missing one is named with how to get it.
#  3. `npm ci` in every folder of the repository with a package-lock.json whose
#     node_modules is missing or older than the lock file.
# Exit status 0 when everything is in place, 1 with a list of what is missing.
set -euo pipefail

STACK_NAME=install-deps
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEPS_DEBIAN_PACKAGES=(
    build-essential pkg-config cmake clang clang-format clang-tidy libclang-rt-14-dev
    librdkafka-dev libavro-dev libmongoc-dev libbson-dev libhiredis-dev
    libwebsockets-dev libjwt-dev libjansson-dev libsodium-dev libcmocka-dev
    # the WebSocket services run lws on libev (epoll): lws' libev plugin and libev itself.
    libwebsockets-evlib-ev libev-dev
    redis-server prometheus curl ca-certificates
    # ss (port holders) for the stack scripts; missing from minimal images.
    iproute2
    # headless browser for the client's browser test (real WebSocket and IndexedDB).
    chromium
    # the dashboards test reads the Grafana provisioning and alert rules (YAML).
    python3-yaml
)

deps_missing_debian_packages() {
    local package
    for package in "${DEPS_DEBIAN_PACKAGES[@]}"; do
        if [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" != "install ok installed" ]]; then
            echo "$package"
        fi
    done
}

deps_install_debian_packages() {
    command -v dpkg-query >/dev/null 2>&1 ||
        stack_die "dpkg-query not found: this script installs Debian packages and needs Debian (or Ubuntu)"
    local missing
    mapfile -t missing < <(deps_missing_debian_packages)
    if ((${#missing[@]} == 0)); then
        stack_say "all ${#DEPS_DEBIAN_PACKAGES[@]} Debian packages are installed"
        return 0
    fi
    if ((EUID != 0)); then
        stack_die "missing Debian packages: ${missing[*]}. Installing them needs root:" \
            "sudo deploy/local/install-deps.sh"
    fi
    stack_say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
    mapfile -t missing < <(deps_missing_debian_packages)
    if ((${#missing[@]} != 0)); then
        stack_die "apt-get finished but these packages are still not installed: ${missing[*]}"
    fi
}

# Prints the major version found in a version string ("v20.1.0" -> 20, "17.0.2" -> 17,
# "1.8.0_392" -> 8, since Java up to 8 called itself 1.x).
deps_major_version() {
    local text="$1" major
    major="$(grep -oE '[0-9]+(\.[0-9]+)?' <<<"$text" | head -n 1)"
    if [[ "$major" == 1.* ]]; then major="${major#1.}"; else major="${major%%.*}"; fi
    echo "${major:-0}"
}

# Appends to DEPS_PROBLEMS instead of stopping at the first, so one run lists all.
deps_check_toolchains() {
    local version
    if command -v java >/dev/null 2>&1; then
        version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -n 1)"
        if (($(deps_major_version "$version") < 17)); then
            DEPS_PROBLEMS+=("Java $version is too old: Kafka needs 17+ (Debian: openjdk-17-jre-headless)")
        fi
    else
        DEPS_PROBLEMS+=("java is missing: Kafka needs Java 17+ (Debian: openjdk-17-jre-headless)")
    fi
    if ! command -v mvn >/dev/null 2>&1; then
        DEPS_PROBLEMS+=("mvn is missing: it resolves Kafka from Maven Central (Debian: maven)")
    fi
    if command -v go >/dev/null 2>&1; then
        version="$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null || echo unknown)"
        if [[ ! "$version" =~ ^go(1\.(2[4-9]|[3-9][0-9])|[2-9]) ]]; then
            DEPS_PROBLEMS+=("Go $version is too old: FerretDB needs Go 1.24+ (https://go.dev/doc/install)")
        fi
    else
        DEPS_PROBLEMS+=("go is missing: FerretDB is built with Go 1.24+ (https://go.dev/doc/install)")
    fi
    if command -v node >/dev/null 2>&1; then
        version="$(node --version)"
        if (($(deps_major_version "$version") < 20)); then
            DEPS_PROBLEMS+=("Node $version is too old: the client and the Yjs tests need Node 20+")
        fi
    else
        DEPS_PROBLEMS+=("node is missing: the client and the Yjs tests need Node 20+ (https://nodejs.org)")
    fi
    if ! command -v npm >/dev/null 2>&1; then
        DEPS_PROBLEMS+=("npm is missing: it comes with Node 20+ (https://nodejs.org)")
    fi
}

# npm ci wipes and rebuilds node_modules, so a node_modules newer than its lock file
# was installed from that lock file.
deps_install_node_modules() {
    command -v npm >/dev/null 2>&1 || return 0
    local lock_file folder ran=0
    while IFS= read -r -d '' lock_file; do
        folder="$(dirname "$lock_file")"
        if [[ -d "$folder/node_modules" && ! "$lock_file" -nt "$folder/node_modules" ]]; then
            continue
        fi
        stack_say "npm ci in ${folder#"$COLLAB_REPO_DIR"/}"
        if ! (cd "$folder" && npm ci --no-audit --no-fund); then
            DEPS_PROBLEMS+=("npm ci failed in $folder")
        fi
        ran=$((ran + 1))
    done < <(find "$COLLAB_REPO_DIR" \
        \( -name node_modules -o -name .git -o -path "$COLLAB_REPO_DIR/.local" \
        -o -path "$COLLAB_REPO_DIR/.cache" -o -path "$COLLAB_REPO_DIR/build*" \) -prune \
        -o -name package-lock.json -type f -print0)
    if ((ran == 0)); then
        stack_say "node_modules are up to date"
    fi
}

DEPS_PROBLEMS=()
deps_install_debian_packages
deps_check_toolchains
deps_install_node_modules
if ((${#DEPS_PROBLEMS[@]})); then
    echo "install-deps: error: not everything is in place:" >&2
    printf '  - %s\n' "${DEPS_PROBLEMS[@]}" >&2
    exit 1
fi
stack_say "everything is in place"
