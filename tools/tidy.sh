#!/bin/sh
# tidy.sh - the house static check: clang-tidy with the root .clang-tidy over every C file
# of the tree that the build compiles (generated files in the build directory excluded),
# two files at a time. Prints the findings of each failing file in one piece and exits
# non-zero if any file has a finding (every check is an error, see .clang-tidy).
#
# usage: tools/tidy.sh [-b build-dir] [path-prefix ...]
#   build-dir    a configured build directory holding compile_commands.json
#                (default: build-tidy); a Debug clang build sees the same code as the tests
#   path-prefix  only files under these folders of the tree, e.g. crdt processor/items.c
#
# Run by ctest as static_clang_tidy (label static; 1.5 min on two quiet cores, longer
# when they are busy); see docs/operations.md.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build-tidy"
if [ "${1:-}" = "-b" ]; then
    [ $# -ge 2 ] || { echo "tidy.sh: -b needs a build directory" >&2; exit 2; }
    build=$(cd "$2" && pwd)
    shift 2
fi
db="$build/compile_commands.json"
if [ ! -f "$db" ]; then
    echo "tidy.sh: no $db; configure first, e.g.:" >&2
    echo "  cmake -S $root -B $build -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang" >&2
    exit 2
fi
command -v clang-tidy >/dev/null || { echo "tidy.sh: clang-tidy not found" >&2; exit 2; }

list=$(mktemp)
trap 'rm -f "$list"' EXIT
# Source files of the tree, relative to it; the database may list a file more than once.
sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$db" | sort -u | while read -r f; do
    case "$f" in
    "$build"/*) continue ;; # generated
    "$root"/*) rel=${f#"$root"/} ;;
    *) continue ;;
    esac
    if [ $# -eq 0 ]; then
        echo "$rel"
    else
        for prefix in "$@"; do
            case "$rel" in "${prefix%/}" | "${prefix%/}"/*) echo "$rel"; break ;; esac
        done
    fi
done >"$list"

count=$(wc -l <"$list")
if [ "$count" -eq 0 ]; then
    echo "tidy.sh: no compiled C file matches: $*" >&2
    exit 2
fi
echo "tidy.sh: $count files, clang-tidy -p $build" >&2

cd "$root"
# xargs exits 123 when any invocation failed; each file's output is held until it is done so
# that the two parallel runs do not interleave.
status=0
xargs -P2 -n1 sh -c '
    out=$(clang-tidy -p "$1" --quiet "$2" 2>&1) && exit 0
    printf "%s\n" "$out" | grep -v "^[0-9]* warnings\{0,1\} generated\.$" >&2
    exit 1
' tidy "$build" <"$list" || status=$?

if [ "$status" -ne 0 ]; then
    echo "tidy.sh: findings above (exit $status)" >&2
    exit 1
fi
echo "tidy.sh: clean" >&2
