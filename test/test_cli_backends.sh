#!/usr/bin/env bash
# test_cli_backends.sh - the whole CLI pipeline (text encoder, sampler with eta 1 and
# guidance, VAE, .npy writer) on the cpu-checked backend gives the CPU backend's bytes:
# nothing on the way touches backend memory from the host (docs/cuda.md).
set -euo pipefail
BUILD=${BUILD:-build}
DATA=${VC_TEST_DATA:-../shared/reference}
case=t2v_512_v2
model="$DATA/$case/model.ckpt"
if [ ! -f "$model" ]; then echo "-- skipped: $model missing (set VC_TEST_DATA)"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for be in cpu cpu-checked; do
    "$BUILD/videocrafter" t2v "$model" --config "$DATA/$case/config.yaml" --prompt "a red panda" \
        --negative-prompt "blurry" --frames 3 --height 64 --width 96 --steps 4 --eta 1 --threads 2 -v \
        --backend "$be" --save-latents "$tmp/z_$be.npy" -o "$tmp/video_$be.npy" 2>"$tmp/log_$be"
    grep -q "backend $be " "$tmp/log_$be" || { echo "-- the $be run did not report backend $be:"; cat "$tmp/log_$be"; exit 1; }
done
cmp "$tmp/z_cpu.npy" "$tmp/z_cpu-checked.npy"
cmp "$tmp/video_cpu.npy" "$tmp/video_cpu-checked.npy"
echo "-- t2v on cpu-checked == cpu (latents and video, bitwise)"
