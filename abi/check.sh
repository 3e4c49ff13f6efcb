#!/usr/bin/env bash
# make abi-check: compare BUILD/libvideocrafter.so.1 and include/videocrafter.h with the
# baseline in abi/ (rules: docs/abi.md). `abi/check.sh BUILD --update` rewrites the baseline.
#  1. abidiff (libabigail) of the exported functions and the types they reach: a removed
#     function, a changed signature or type is a failure; added functions and new enum values
#     are fine; params structs may grow at the end (abi/suppressions.abignore).
#  2. abi/layout_check.py: every struct field keeps its offset and size, enum values and
#     pinned macros keep their values (catches what a suppression could hide).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SO="$BUILD/libvideocrafter.so.1"
[ -f "$SO" ] || { echo "abi-check: $SO not built"; exit 1; }
for tool in abidw abidiff; do
    command -v $tool >/dev/null || { echo "abi-check: $tool missing (Debian: apt-get install abigail-tools)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
abidw --headers-dir include --no-show-locs --no-comp-dir-path --no-corpus-path --drop-private-types \
    "$SO" > "$tmp/current.abi"
python3 bindings/layout/header.py layout-c include/videocrafter.h > "$tmp/layout.c"
${CC:-cc} -std=c11 -Iinclude "$tmp/layout.c" -o "$tmp/layout"
"$tmp/layout" > "$tmp/current.layout"

if [ "${2:-}" = "--update" ]; then
    cp "$tmp/current.abi" abi/videocrafter.abi
    cp "$tmp/current.layout" abi/videocrafter.layout
    echo "abi baseline updated from $SO ($(grep -c '<elf-symbol ' abi/videocrafter.abi) symbols)"
    exit 0
fi

status=0
set +e
abidiff --no-added-syms --suppressions abi/suppressions.abignore abi/videocrafter.abi "$tmp/current.abi" \
    > "$tmp/abidiff.txt" 2>&1
rc=$?
set -e
if [ $rc -ne 0 ]; then
    # bit 1: error, 2: usage, 4: ABI change, 8: incompatible change (abidiff(1))
    echo "abi-check: abidiff reports a change (exit $rc):"
    cat "$tmp/abidiff.txt"
    status=1
else
    echo "abi-check: abidiff: no incompatible change against abi/videocrafter.abi"
fi
python3 abi/layout_check.py abi/videocrafter.layout "$tmp/current.layout" || status=1
added=$(comm -13 <(grep -o "<elf-symbol name='[^']*'" abi/videocrafter.abi | sort -u) \
                 <(grep -o "<elf-symbol name='[^']*'" "$tmp/current.abi" | sort -u) | sed "s/.*name='//; s/'//" | tr '\n' ' ')
[ -n "$added" ] && echo "abi-check: functions added since the baseline (fine in a minor version): $added"
exit $status
