#!/usr/bin/env bash
# devpack.sh - packs what test/cuda/device_run.sh needs on a bare GPU machine
# (the device tool's machines have nvcc, cuBLAS and PyTorch but none of the
# Debian libraries the core links): the CUDA=1 build's library, test and bench
# programs, their non-system shared libraries, and the reference cases.
# Writes .devpack/pack.tar.xz (git-ignored); `make devpack` runs it after the build.
#   usage: BUILD=build SHARED=../shared bash test/cuda/devpack.sh
set -euo pipefail
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
[ -d "$SHARED/reference" ] || { echo "devpack: no $SHARED/reference" >&2; exit 1; }
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/build/test/cuda" "$stage/build/bench" "$stage/lib"
cp -a "$BUILD"/libvideocrafter.so* "$BUILD"/libvideocrafter-cuda.so* "$stage/build/"
bins="test/test_text test/test_unet test/test_ddim test/test_vae test/test_image test/cuda/test_cuda_backend
      bench/bench_model bench/make_tiny_model"
for b in $bins; do cp "$BUILD/$b" "$stage/build/$b"; done
# shared libraries outside glibc/libstdc++ and the CUDA driver, which the device has
for b in $bins libvideocrafter.so.1 libvideocrafter-cuda.so.1; do
    f="$BUILD/$b"
    ldd "$f" | awk '/=> \//{print $3}'
done | sort -u | grep -v -E '/(libc|libm|libdl|libpthread|librt|ld-linux[^/]*|libgcc_s|libstdc\+\+|libcuda)\.so' |
    grep -v -E 'libcublas' | while read -r lib; do cp -L "$lib" "$stage/lib/"; done
mkdir -p "$stage/ref"
tar -C "$SHARED" --exclude=reference/loader -cf - reference | tar -C "$stage/ref" -xf -
mkdir -p .devpack
tar -C "$stage" -cf - . | xz -6 -T0 > .devpack/pack.tar.xz
echo "devpack: .devpack/pack.tar.xz $(du -h .devpack/pack.tar.xz | cut -f1) ($(ls "$stage/lib" | tr '\n' ' '))"
