#!/usr/bin/env bash
# device_run.sh - everything issue #9 wants measured on a GPU, in one call of the
# device tool (make devpack first; the call carries .devpack):
#   run(command="bash test/cuda/device_run.sh", carry=[".devpack"], timeout_s=590)
# 1. kernel checks against the CPU backend (fp32 and fp16 modes)
# 2. the reference cases end to end on the GPU, fp32 then fp16 mode
# 3. bench: a real-size t2v-512-v2 file (random weights), our UNet step and a
#    320x512x16 50-step guided video, against our PyTorch model in fp16 on the
#    same card; peak GPU memory sampled with nvidia-smi.
# 4. compute-sanitizer racecheck and memcheck on the reduced kernel checks, if
#    time is left.
# Logs go to $OUT (device tool) or ./device-out. Each phase has its own timeout
# so the whole stays under ~9 minutes. DEVICE_RUN_NO_BENCH=1: checks only (a
# dry run of the packing on a machine without a GPU).
set -u
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
LOG=$OUT/device.log
exec > >(tee -a "$LOG") 2>&1
T0=$(date +%s)
phase() { echo; echo "=== [$(( $(date +%s) - T0 )) s] $*"; }
W=/tmp/vc
rm -rf "$W" && mkdir -p "$W" && tar -C "$W" -xJf .devpack/pack.tar.xz || { echo "no .devpack/pack.tar.xz"; exit 1; }
cublas=""
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 /usr/lib/x86_64-linux-gnu \
         $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, s, "lib") for p in nvidia.__path__ for s in os.listdir(p)))' 2>/dev/null); do
    [ -e "$d/libcublas.so.13" ] && cublas="$cublas:$d"
    # cuDNN is optional (convolutions fall back to im2col + cuBLAS); its sub-libraries sit beside it
    [ -z "${cudnn:-}" ] && [ -e "$d/libcudnn.so.9" ] && cudnn=$d && cublas="$cublas:$d"
done
export LD_LIBRARY_PATH="$W/build:$W/lib$cublas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export VC_TEST_DATA=$W/ref/reference VC_TEST_THREADS=8
B=$W/build
phase "machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
echo "cuBLAS from:${cublas:-NOT FOUND}"; echo "cuDNN from: ${cudnn:-NOT FOUND}"; nproc
nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/gpumem.csv" 2>/dev/null &
SMI=$!
mark() { echo "$(date '+%Y/%m/%d %H:%M:%S').000, MARK $*" >> "$OUT/gpumem.csv"; }

phase "1. kernels vs CPU backend"
mark kernels
timeout 150 "$B/test/cuda/test_cuda_backend"; echo "rc=$?"

for prec in fp32 fp16; do
    phase "2. reference cases on cuda ($prec)"
    mark "parity $prec"
    for t in text unet ddim vae image; do
        echo "== test_$t (cuda $prec)"
        VC_TEST_BACKEND=cuda VIDEOCRAFTER_CUDA_PRECISION=$prec timeout 90 "$B/test/test_$t" 2>&1 |
            grep -E 'rel err|OK|FAILED|PASSED|ERROR|error|SKIP' | head -60
    done
done

if [ "${DEVICE_RUN_NO_BENCH:-0}" = 1 ]; then phase "bench skipped (DEVICE_RUN_NO_BENCH=1)"; exit 0; fi
phase "3. bench: real-size t2v-512-v2 file"
M=/tmp/vcmodel
timeout 150 "$B/bench/make_tiny_model" $M --preset t2v-512-v2 | tail -2; ls -la $M/model.ckpt
for prec in fp32 fp16; do
    steps=0; [ $prec = fp16 ] && steps=50
    mark "bench ours $prec"
    VIDEOCRAFTER_CUDA_PRECISION=$prec timeout 150 "$B/bench/bench_model" --backend cuda --ckpt $M/model.ckpt \
        --frames 16 --ddim-frames 16 --video-steps $steps --threads 8 --out "$OUT/bench_cuda_$prec.json"
done
mark "bench torch fp16"
PYTHONUNBUFFERED=1 timeout 170 python3 bench/torch_bench.py --ckpt $M/model.ckpt --device cuda --dtype fp16 \
    --frames 16 --ddim-frames 16 --video-steps 50 --quick --out "$OUT/torch_cuda_fp16.json"
mark "bench ours fp16 without cuDNN"
echo "== UNet step with convolutions through im2col + cuBLAS (A/B against the fp16 row above)"
VIDEOCRAFTER_CUDA_PRECISION=fp16 VIDEOCRAFTER_CUDNN=off timeout 90 "$B/bench/bench_model" --backend cuda \
    --ckpt $M/model.ckpt --frames 16 --ddim-frames 0 --video-steps 0 --threads 8 --out "$OUT/bench_cuda_fp16_im2col.json.txt"
echo "== GPU time per op, fp16 UNet step T16 (VIDEOCRAFTER_CUDA_PROFILE=1; events between ops, so a little slower)"
VIDEOCRAFTER_CUDA_PRECISION=fp16 VIDEOCRAFTER_CUDA_PROFILE=1 timeout 90 "$B/bench/bench_model" --backend cuda \
    --ckpt $M/model.ckpt --frames 16 --ddim-frames 0 --video-steps 0 --threads 8 --out "$OUT/bench_cuda_fp16_profile.json.txt" 2>&1 |
    grep -A 40 'cuda profile'
mark "bench ours fp16 without cuBLASLt"
echo "== UNet step with the linear biases in their own pass (VIDEOCRAFTER_CUBLASLT=off; A/B against the fp16 row)"
VIDEOCRAFTER_CUDA_PRECISION=fp16 VIDEOCRAFTER_CUBLASLT=off timeout 60 "$B/bench/bench_model" --backend cuda \
    --ckpt $M/model.ckpt --frames 16 --ddim-frames 0 --video-steps 0 --threads 8 --out "$OUT/bench_cuda_fp16_nolt.json.txt"
# 4. compute-sanitizer on the reduced kernel checks, in the time left: hazards
# in shared memory (racecheck) and out-of-bounds or misaligned accesses
# (memcheck) on the hardware itself. It refuses the device under gVisor.
left=$(( 540 - ($(date +%s) - T0) ))
if [ $left -gt 60 ] && command -v compute-sanitizer >/dev/null; then
    for tool in racecheck memcheck; do
        phase "4. compute-sanitizer --tool $tool (kernel checks, --small)"
        mark "sanitizer $tool"
        timeout $(( left / 2 - 5 )) compute-sanitizer --tool $tool --print-limit 20 \
            "$B/test/cuda/test_cuda_backend" --small 2>&1 | grep -v ' ok$' | tail -40
        left=$(( 540 - ($(date +%s) - T0) ))
        [ $left -gt 30 ] || break
    done
else
    phase "4. compute-sanitizer skipped (${left} s left, or not installed)"
fi
mark end
kill $SMI 2>/dev/null
phase "peak GPU memory used (MiB) per phase"
awk -F', ' '/MARK/{p=$0; sub(/.*MARK /,"",p); next} {if ($2+0 > m[p]) m[p]=$2+0} END{for (k in m) print k": "m[k]}' "$OUT/gpumem.csv"
python3 bench/compare.py "$OUT"/bench_cuda_*.json "$OUT"/torch_cuda_fp16.json 2>&1 | tail -20
phase "summary"
cp "$LOG" "$W/log.snapshot" # the summary is appended to the log it reads
grep -E 'FAIL|all CUDA backend checks passed|\[  PASSED  \]|GEMM rate|unet 320x512|ddim step|video 320x512|cuda profile|SUMMARY' \
    "$W/log.snapshot" | grep -v '^ *attention seq' | head -60
phase "done"
