// temporal_attention.cu - attention over short sequences: the temporal
// transformer's self-attention (spec §5.7), T <= 32 frames per pixel, with the
// relative-position terms of VideoCrafter1.
//
// There are H*W*B sequences of T tokens each, so the work is tiny per
// sequence and the cost is reading Q, K, V once. One block owns one
// (sequence, head): it copies the T x d rows of Q, K, V (and the shared
// relative-position tables) into shared memory with coalesced loads, forms
// the whole T x T score matrix there (at most 32 x 32), takes the softmax one
// warp per row with one key per lane, and writes O = P V with consecutive
// threads on consecutive channels. The arithmetic is float32 in both precision
// modes (fp16 mode's transient buffers are read and written as half): at this arithmetic intensity (about 4 FLOP per byte) the tensor
// cores would not make it faster.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <math.h>

#include "vc_device.cuh"
#include "vc_kernels.h"

namespace {

constexpr int kThreads = 256, kMaxLen = 32, kMaxD = 128;
constexpr size_t kMaxSmem = 96 * 1024; // within every sm_80/sm_90 opt-in limit

// float offsets of the shared arrays; rows are padded to d+1 floats so that
// threads reading different rows at one channel hit different banks
struct Layout {
    int ld, q, k, v, rk, rv, p, total;
    __host__ __device__ Layout(int T, int d, int n_rel)
    {
        ld = d + 1;
        q = 0;
        k = q + T * ld;
        v = k + T * ld;
        rk = v + T * ld;
        rv = rk + n_rel * ld;
        p = rv + n_rel * ld;
        total = p + T * kMaxLen;
    }
};

__device__ inline int rel_row(int i, int j, int M) { return min(max(j - i, -M), M) + M; }

__global__ void __launch_bounds__(kThreads) temporal_k(vck_attn a, int seq0)
{
    extern __shared__ float sh[];
    const int T = a.lq, d = a.d, h = blockIdx.x, sq = seq0 + blockIdx.y;
    const int M = a.rel_max, n_rel = (a.rel_k || a.rel_v) ? 2 * M + 1 : 0;
    const Layout L(T, d, n_rel);
    const int kvs = sq / a.kv_group;
    vc_load_rows_from(sh + L.q, L.ld, a.q, a.q16, sq * a.q_seq + (int64_t)h * d, a.q_tok, 0, T, T, d);
    vc_load_rows_from(sh + L.k, L.ld, a.k, a.k16, kvs * a.k_seq + (int64_t)h * d, a.k_tok, 0, T, T, d);
    vc_load_rows_from(sh + L.v, L.ld, a.v, a.v16, kvs * a.v_seq + (int64_t)h * d, a.v_tok, 0, T, T, d);
    if (a.rel_k) vc_load_rows(sh + L.rk, L.ld, a.rel_k, d, 0, n_rel, n_rel, d); // one table for all heads (§5.7)
    if (a.rel_v) vc_load_rows(sh + L.rv, L.ld, a.rel_v, d, 0, n_rel, n_rel, d);
    __syncthreads();

    // scores, in the order of the other kernels: scale * (q.k) + scale * (q.rel_k)
    float *P = sh + L.p;
    for (int e = threadIdx.x; e < T * T; e += blockDim.x) {
        const int i = e / T, j = e % T;
        const float *qi = sh + L.q + i * L.ld, *kj = sh + L.k + j * L.ld;
        float dot = 0.0f;
        for (int c = 0; c < d; c++) dot = fmaf(qi[c], kj[c], dot);
        float s = dot * a.scale;
        if (a.rel_k) {
            const float *rk = sh + L.rk + rel_row(i, j, M) * L.ld;
            float d2 = 0.0f;
            for (int c = 0; c < d; c++) d2 = fmaf(qi[c], rk[c], d2);
            s += d2 * a.scale;
        }
        P[i * kMaxLen + j] = (a.causal && j > i) ? -INFINITY : s;
    }
    __syncthreads();

    // softmax, one warp per row, lane j holds key j
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    for (int i = warp; i < T; i += kThreads / 32) {
        const float s = lane < T ? P[i * kMaxLen + lane] : -INFINITY;
        float m = s;
        for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
        const float p = s == -INFINITY ? 0.0f : expf(s - m);
        float l = p;
        for (int o = 16; o > 0; o >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o);
        if (lane < T) P[i * kMaxLen + lane] = p / l;
    }
    __syncthreads();

    // O = P V (+ P rel_v), consecutive threads on consecutive channels
    for (int e = threadIdx.x; e < T * d; e += blockDim.x) {
        const int i = e / d, c = e % d;
        const float *pi = P + i * kMaxLen;
        float acc = 0.0f;
        for (int j = 0; j < T; j++) {
            acc = fmaf(pi[j], sh[L.v + j * L.ld + c], acc);
            if (a.rel_v) acc = fmaf(pi[j], sh[L.rv + rel_row(i, j, M) * L.ld + c], acc); // §5.7 value term
        }
        vc_store_out(a.o, a.o16, sq * a.o_seq + (int64_t)i * a.o_tok + (int64_t)h * d + c, acc, a.accumulate);
    }
}

size_t smem_bytes(const vck_attn *a)
{
    const int n_rel = (a->rel_k || a->rel_v) ? 2 * a->rel_max + 1 : 0;
    return sizeof(float) * (size_t)Layout(a->lq, a->d, n_rel).total;
}

} // namespace

extern "C" bool vck_temporal_attention_supported(const vck_attn *a)
{
    if (a->lq != a->lk || a->lq < 1 || a->lq > kMaxLen || a->d < 1 || a->d > kMaxD || a->rel_max < 0) return false;
    if ((a->rel_k || a->rel_v) && a->rel_max > 4 * kMaxLen) return false;
    return smem_bytes(a) <= kMaxSmem;
}

extern "C" int vck_temporal_attention(vck_stream s, const vck_attn *a)
{
    if (a->n_seq <= 0 || a->heads <= 0) return 0;
    if (a->kv_group < 1 || !vck_temporal_attention_supported(a)) return (int)cudaErrorInvalidValue;
    const size_t smem = smem_bytes(a);
    cudaError_t e = cudaFuncSetAttribute(temporal_k, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    for (int seq0 = 0; seq0 < a->n_seq; seq0 += 65535) {
        const int ny = min(65535, a->n_seq - seq0);
        temporal_k<<<dim3((unsigned)a->heads, (unsigned)ny), kThreads, smem, (cudaStream_t)s>>>(*a, seq0);
        if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    }
    return 0;
}
