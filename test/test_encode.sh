#!/usr/bin/env bash
# test_encode.sh - `videocrafter decode` of a reference latent to .mp4/.webm/.gif
# (checked with ffprobe: codec, frame count, size, fps, pixel format), to .npy
# (checked against the reference video) and to a PNG folder.
# Skips cleanly when the encoder library was not built (no FFmpeg dev packages).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DATA=${VC_TEST_DATA:-$(cd .. && pwd)/shared/reference}
CLI="$BUILD/videocrafter"
CASE=t2v_512_v2
MODEL="$DATA/$CASE/model.ckpt"
CONFIG="$DATA/$CASE/config.yaml"

if [ ! -e "$BUILD/libvideocrafter-encode.so.1" ]; then
    echo "SKIP: $BUILD/libvideocrafter-encode.so.1 not built (FFmpeg development packages missing)"
    exit 0
fi
if ! command -v ffprobe >/dev/null; then
    echo "SKIP: ffprobe not installed"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

probe() {  # file -> "codec W H rate frames pix_fmt"
    ffprobe -v error -count_frames -select_streams v:0 \
        -show_entries stream=codec_name,width,height,r_frame_rate,nb_read_frames,pix_fmt \
        -of default=noprint_wrappers=1 "$1" |
        awk -F= '{v[$1]=$2} END {print v["codec_name"], v["width"], v["height"], v["r_frame_rate"], v["nb_read_frames"], v["pix_fmt"]}'
}

check() {  # file codec frames fps pix_fmt
    local got want
    got=$(probe "$1")
    want="$2 96 64 $4/1 $3 $5"
    echo "  $(basename "$1"): $got"
    [ "$got" = "$want" ] || fail "$1: ffprobe says '$got', expected '$want'"
}

# the reference latent: [1,4,3,8,12] -> 3 frames of 64x96
Z="$DATA/$CASE/vae_in_z.npy"
"$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/a.mp4" --quiet
check "$tmp/a.mp4" h264 3 10 yuv420p
"$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/a.webm" --save-fps 8 --quiet
check "$tmp/a.webm" vp9 3 8 yuv420p
"$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/a.gif" --quiet
check "$tmp/a.gif" gif 3 10 bgra

# a 16-frame clip (the reference latent repeated), the original's clip length
python3 - "$Z" "$tmp/z16.npy" <<'PY'
import sys, numpy as np
z = np.load(sys.argv[1])
np.save(sys.argv[2], np.concatenate([z] * 6, axis=2)[:, :, :16].astype(np.float32))
PY
"$CLI" decode "$MODEL" --config "$CONFIG" "$tmp/z16.npy" -o "$tmp/b.mp4" --quiet
check "$tmp/b.mp4" h264 16 10 yuv420p
"$CLI" decode "$MODEL" --config "$CONFIG" "$tmp/z16.npy" -o "$tmp/b.gif" --save-fps 5 --quiet
check "$tmp/b.gif" gif 16 5 bgra

# float video and PNG frames
"$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/v.npy" --quiet
python3 - "$tmp/v.npy" "$DATA/$CASE/vae_out_video.npy" <<'PY'
import sys, numpy as np
a, r = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.shape == r.shape, (a.shape, r.shape)
err = float(np.abs(a - r).max() / np.abs(r).max())
print(f"  v.npy: rel err {err:.3e} (limit 1e-4)")
assert err <= 1e-4
PY
"$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/frames/" --quiet
[ "$(ls "$tmp/frames")" = "$(printf '0000.png\n0001.png\n0002.png')" ] || fail "PNG folder: $(ls -A "$tmp/frames")"

# errors: unknown extension (before loading anything), missing latent file
if "$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/a.avi" 2>"$tmp/err"; then fail "a.avi accepted"; fi
grep -q "cannot tell the output format" "$tmp/err" || fail "a.avi: $(cat "$tmp/err")"
if "$CLI" decode "$MODEL" --config "$CONFIG" "$tmp/none.npy" -o "$tmp/c.mp4" 2>"$tmp/err"; then fail "missing z accepted"; fi
[ ! -e "$tmp/c.mp4" ] || fail "c.mp4 left behind"
# an FFmpeg failure comes back with FFmpeg's own message, and leaves nothing behind
if "$CLI" decode "$MODEL" --config "$CONFIG" "$Z" -o "$tmp/no/such/dir/d.mp4" 2>"$tmp/err"; then fail "bad dir accepted"; fi
grep -q "FFmpeg: No such file or directory" "$tmp/err" || fail "bad dir: $(cat "$tmp/err")"
echo "  bad folder: $(cat "$tmp/err")"
[ -z "$(ls "$tmp" | grep tmp)" ] || fail "temporary file left in $tmp"
# the demo path: the tiny random-weight model the project writes itself (examples/make_tiny_model.c,
# as examples/demo.sh builds it), then t2v on it end to end (few steps, small size, to stay quick)
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Ilib examples/make_tiny_model.c "$BUILD/libvideocrafter.a" \
    $(pkg-config --libs openblas yaml-0.1 libpng libjpeg zlib libutf8proc) -lm -ldl -pthread -o "$tmp/make_tiny_model"
"$tmp/make_tiny_model" "$tmp/tiny" | grep -q "RANDOM WEIGHTS" || fail "make_tiny_model did not say RANDOM WEIGHTS"
"$CLI" t2v "$tmp/tiny/model.ckpt" --config "$tmp/tiny/config.yaml" --prompt "a red panda" --frames 4 \
    --height 64 --width 96 --steps 2 -o "$tmp/demo.mp4" --quiet
check "$tmp/demo.mp4" h264 4 10 yuv420p
echo "test_encode.sh: ok"
