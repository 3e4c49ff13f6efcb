#!/usr/bin/env bash
# test_cuda_entry.sh - asking for the CUDA backend where its library is missing, or
# comes from another build (an older entry point), fails with a message naming the
# problem, and nothing of the foreign library is called.
set -euo pipefail
BUILD=${BUILD:-build}
DATA=${VC_TEST_DATA:-../shared/reference}
model="$DATA/t2v_512_v2/model.ckpt"
if [ ! -f "$model" ]; then echo "-- skipped: $model missing (set VC_TEST_DATA)"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the CLI and its libraries alone in a folder: the core looks for the CUDA library beside itself
cp "$BUILD/videocrafter" "$tmp/"
cp -L "$BUILD/libvideocrafter.so.1" "$BUILD/libvideocrafter-encode.so.1" "$tmp/"
run() {
    set +e
    LD_LIBRARY_PATH="$tmp" "$tmp/videocrafter" encode-text "$model" --config "$DATA/t2v_512_v2/config.yaml" \
        --prompt "a" -o "$tmp/ctx.npy" --backend cuda > "$tmp/out" 2> "$tmp/err"
    rc=$?
    set -e
}
expect() { # rc != 0, nothing on stdout, the message on stderr
    if [ "$rc" = 0 ] || [ -s "$tmp/out" ] || ! grep -q "$1" "$tmp/err"; then
        echo "-- expected a failure saying '$1' (rc $rc):"; cat "$tmp/out" "$tmp/err"; exit 1
    fi
    echo "-- $2: $(head -c 300 "$tmp/err")"
}

if ! ldconfig -p 2>/dev/null | grep -q "libvideocrafter-cuda.so.1 "; then
    run
    expect "cannot load libvideocrafter-cuda.so.1" "no CUDA library"
fi

cat > "$tmp/old.c" <<'EOF'
/* a CUDA library of an older build: the entry point of the previous struct layout */
int vc_cuda_backend_create_v2(void) { __builtin_trap(); }
EOF
${CC:-cc} -shared -fPIC -o "$tmp/libvideocrafter-cuda.so.1" "$tmp/old.c"
run
expect "another build of libvideocrafter" "CUDA library of another build"
