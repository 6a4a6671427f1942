#!/bin/sh
# test_crdt_cli.sh - checks crdt-cli's contract (crdt/README.md) on a real fixture: every
# command's output, the --stream/--v2 inputs, and that malformed input gives exit status 1
# with a one-line reason on stderr. Needs COLLAB_BIN_DIR and COLLAB_DATA_DIR (ctest sets
# both).
set -eu
cli="$COLLAB_BIN_DIR/crdt-cli"
fixtures="$COLLAB_DATA_DIR/yjs-fixtures"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

"$cli" --help | grep -q "merge \[--stream\]" || fail "--help does not list merge"
"$cli" sv --help | grep -q "contains STATE UPDATE" || fail "sv --help does not list commands"

# C2.yjs (v2) holds clients 0, 1 and 2 (fixtures README).
"$cli" merge --v2 "$work/c2.bin" "$fixtures/C2.yjs"
sv=$("$cli" sv "$work/c2.bin")
echo "$sv" | grep -Eq '^\{"0":[0-9]+,"1":[0-9]+,"2":[0-9]+\}$' || fail "sv printed $sv"

# Re-encoding to v2 and back gives the same v1 state.
"$cli" encode --v2 "$work/c2.bin" "$work/c2.v2"
"$cli" merge --v2 "$work/c2-again.bin" "$work/c2.v2"
cmp -s "$work/c2.bin" "$work/c2-again.bin" || fail "v2 round trip changed the state"

# json and delta agree on the text, and contains/diff behave.
text=$("$cli" json "$work/c2.bin" text:text)
case "$text" in '{"text":"Clowny Wowny'*) ;; *) fail "json text:text" ;; esac
"$cli" delta "$work/c2.bin" text | grep -q '^\[{"insert":"Clowny Wowny' || fail "delta"
[ "$("$cli" contains "$work/c2.bin" "$work/c2.bin")" = true ] || fail "contains itself"
printf '\000' > "$work/empty.sv"
"$cli" diff "$work/c2.bin" "$work/empty.sv" "$work/diff.bin"
cmp -s "$work/c2.bin" "$work/diff.bin" || fail "diff against an empty state vector is not the state"
"$cli" merge "$work/b4.bin" "$fixtures/b4-update.bin"
[ "$("$cli" contains "$work/c2.bin" "$work/b4.bin")" = false ] || fail "contains a foreign update"

# --stream: two records, the second a duplicate of the first.
python3 - "$work/b4.bin" "$work/two.stream" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write((struct.pack('<I', len(data)) + data) * 2)
PY
"$cli" merge --stream "$work/s.bin" "$work/two.stream"
cmp -s "$work/s.bin" "$work/b4.bin" || fail "stream merge differs from a plain merge"

# Malformed input: status 1 and one line on stderr; truncated stream records too.
head -c 1000 "$work/b4.bin" > "$work/cut.bin"
set +e
"$cli" merge "$work/out.bin" "$work/cut.bin" 2> "$work/err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "truncated input exited $rc"
[ "$(wc -l < "$work/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$work/err")"
head -c 10 "$work/two.stream" > "$work/cut.stream"
if "$cli" merge --stream "$work/out.bin" "$work/cut.stream" 2> "$work/err"; then
    fail "a truncated stream record was accepted"
fi
[ "$(wc -l < "$work/err")" -eq 1 ] || fail "stderr is not one line"
if "$cli" json "$work/c2.bin" text:nonsense 2> /dev/null; then
    fail "an unknown kind was accepted"
fi
echo "crdt-cli contract: ok"
