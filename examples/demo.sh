#!/usr/bin/env bash
# demo.sh - builds everything, writes a tiny model with RANDOM weights in the
# original formats (examples/make_tiny_model.c: model.ckpt + config.yaml), and
# generates a video from a prompt with it, end to end, no download needed.
#
#   bash examples/demo.sh [OUT]          OUT: demo.mp4 (default), .webm, .gif, .npy or folder/
#
# The weights are random, so the video is coloured noise: this shows that the
# pipeline runs (text encoder, 3-D UNet, DDIM, VAE, video writer), not what the
# model can do. For real videos see "Use real weights" in README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${1:-demo.mp4}
PKGS="openblas yaml-0.1 libpng libjpeg zlib libutf8proc"

if ! pkg-config --exists $PKGS 2>/dev/null; then
    echo "demo.sh: build dependencies are missing. On Debian 12:" >&2
    echo "  sudo apt-get install build-essential pkg-config libopenblas-dev libyaml-dev libzip-dev zlib1g-dev \\" >&2
    echo "       libpng-dev libjpeg62-turbo-dev libutf8proc-dev libcmocka-dev \\" >&2
    echo "       libavcodec-dev libavformat-dev libavutil-dev libswscale-dev" >&2
    exit 1
fi
case "$OUT" in
*.mp4 | *.webm | *.gif)
    if ! pkg-config --exists libavcodec libavformat libavutil libswscale; then
        echo "demo.sh: FFmpeg development packages are missing, writing PNG frames to demo_frames/ instead" >&2
        OUT=demo_frames/
    fi ;;
esac

echo "== building (make -j$(nproc))"
make -j"$(nproc)" BUILD="$BUILD" >/dev/null
cc -std=c11 -D_GNU_SOURCE -O2 -Iinclude -Ilib examples/make_tiny_model.c "$BUILD/libvideocrafter.a" \
    $(pkg-config --libs $PKGS) -lm -ldl -pthread -o "$BUILD/make_tiny_model"

echo "== writing a tiny t2v-512-v2-like model with RANDOM WEIGHTS to $BUILD/demo/"
"$BUILD/make_tiny_model" "$BUILD/demo"

PROMPT="a red panda walking in the snow"
echo "== videocrafter t2v (16 frames of 192x128, 10 DDIM steps, cfg 12) -> $OUT"
"$BUILD/videocrafter" t2v "$BUILD/demo/model.ckpt" --config "$BUILD/demo/config.yaml" \
    --prompt "$PROMPT" --frames 16 --height 128 --width 192 --steps 10 -o "$OUT"
echo
echo "Done: $OUT was made by the whole pipeline from '$PROMPT', with RANDOM WEIGHTS:"
echo "it shows coloured noise, not the prompt. With a real checkpoint the same command line is"
echo "  $BUILD/videocrafter t2v model.ckpt --prompt \"$PROMPT\" -o $OUT"
echo "(see 'Use real weights' in README.md)."
