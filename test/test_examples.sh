#!/usr/bin/env bash
# examples/: the header compiles as strict C99 and C++11, the C and C++ examples build against
# $BUILD, the exported symbols are vc_* only, and all four examples (C, C++, Python, Lua) run
# on a tiny reference model (the run step is skipped, saying so, while t2v is UNSUPPORTED).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DATA=${VC_TEST_DATA:-$(cd .. && pwd)/shared/reference}
CC=${CC:-cc}
CXX=${CXX:-c++}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "-- header: C99 -pedantic and C++11"
printf '#include "videocrafter.h"\nint main(void) { return vc_version_number() == VC_VERSION_NUMBER ? 0 : 1; }\n' > "$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"
$CC -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h_c.o"
$CC -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h_c11.o"
$CXX -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.cpp" -o "$tmp/h_cpp.o"
if command -v clang >/dev/null; then
    clang -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -c "$tmp/h.c" -o "$tmp/h_clang.o"
fi

echo "-- exported symbols of $BUILD/libvideocrafter.so.1: vc_* only"
extra=$(nm -D --defined-only "$BUILD/libvideocrafter.so.1" | awk '{print $3}' | sed 's/@.*//' | grep -v -E '^(vc_|VC_1$)' || true)
if [ -n "$extra" ]; then echo "exports non-vc_ symbols: $extra"; exit 1; fi

echo "-- build examples/c and examples/cpp against $BUILD"
LINK="-L$BUILD -lvideocrafter -Wl,-rpath,$PWD/$BUILD"
$CC -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude examples/c/t2v_png.c -o "$tmp/t2v_png" $LINK
$CXX -std=c++11 -pedantic -Wall -Wextra -Werror -Iinclude examples/cpp/t2v.cpp -o "$tmp/t2v_cpp" $LINK
python3 -m py_compile examples/python/t2v.py
luajit -bl examples/lua/t2v.lua >/dev/null

case=t2v_512_v1
model="$DATA/$case/model.ckpt"
config="$DATA/$case/config.yaml"
if [ ! -f "$model" ]; then echo "-- run step skipped: $model missing (set VC_TEST_DATA)"; exit 0; fi
prompt=$(head -n1 "$DATA/$case/prompt.txt")
export VIDEOCRAFTER_LIB="$PWD/$BUILD/libvideocrafter.so.1"

# run NAME CMD...: 0 -> check the PNGs; 77 -> the library said UNSUPPORTED (skip)
status=0
run() {
    local name=$1; shift
    local out="$tmp/out_$name"
    set +e
    "$@" "$out" >"$tmp/$name.log" 2>&1
    local rc=$?
    set -e
    if [ $rc -eq 77 ]; then
        echo "-- $name example: run skipped, library reports VC_STATUS_UNSUPPORTED: $(grep -m1 error "$tmp/$name.log")"
        return
    fi
    if [ $rc -ne 0 ]; then echo "-- $name example FAILED (exit $rc):"; cat "$tmp/$name.log"; status=1; return; fi
    for f in 0000 0001 0002; do
        [ -s "$out/$f.png" ] || { echo "-- $name example: $out/$f.png missing"; status=1; return; }
    done
    echo "-- $name example: $(tail -n1 "$tmp/$name.log")"
    eval "png_$name=\$(cat \"\$out\"/*.png | md5sum | cut -c1-32)"
}
# the positional OUTDIR comes last for the wrappers below
c_ex()   { "$tmp/t2v_png" "$model" "$prompt" "$1" --config "$config" --steps 2 --frames 3 --height 64 --width 96 --threads 2; }
cpp_ex() { "$tmp/t2v_cpp" "$model" "$prompt" "$1" "$config" 2 3 64 96 2; }
py_ex()  { PYTHONPATH=bindings/python python3 examples/python/t2v.py "$model" "$prompt" "$1" --config "$config" --steps 2 --frames 3 --height 64 --width 96 --threads 2; }
lua_ex() { LUA_PATH="bindings/lua/?.lua;;" luajit examples/lua/t2v.lua "$model" "$prompt" "$1" "$config" 2 3 64 96 2; }
run c c_ex
run cpp cpp_ex
run python py_ex
run lua lua_ex
# same model, prompt, seed and sizes: the four write the same PNG bytes
if [ -n "${png_c:-}" ]; then
    for l in cpp python lua; do
        v=$(eval echo "\${png_$l:-}")
        if [ -n "$v" ] && [ "$v" != "$png_c" ]; then echo "-- $l example's PNGs differ from the C example's"; status=1; fi
    done
    [ $status -eq 0 ] && echo "-- all examples wrote identical PNGs"
fi
exit $status
