#!/usr/bin/env bash
# LuaJIT bindings: bindings/lua/test.lua against $BUILD/libvideocrafter.so.1. The struct
# layouts, enums and macros it checks come from a program compiled from include/videocrafter.h.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
command -v luajit >/dev/null || { echo "test_lua.sh: luajit not installed (Debian: apt-get install luajit)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 bindings/layout/header.py layout-c include/videocrafter.h > "$tmp/layout.c"
${CC:-cc} -std=c11 -Iinclude "$tmp/layout.c" -o "$tmp/layout"
"$tmp/layout" > "$tmp/layout.txt"
export VIDEOCRAFTER_LIB="$PWD/$BUILD/libvideocrafter.so.1"
export VC_TEST_DATA=${VC_TEST_DATA:-$(cd .. && pwd)/shared/reference}
export VC_LAYOUT="$tmp/layout.txt" VC_TMP="$tmp/scratch" VC_CLI="$PWD/$BUILD/videocrafter"
luajit bindings/lua/test.lua
