// attention.cu - streaming (flash-style) multi-head attention in float32.
// One warp per query row: lanes take 32 keys at a time, the softmax is kept
// online (running max and sum), so no [lq x lk] score matrix exists anywhere.
// Covers spatial self/cross attention (kv_group lets the frames of a video
// share one context), the temporal attention with the relative-position terms
// of spec §5.7, and the single 512-wide head of the VAE (§4.1).
#include <cuda_runtime.h>
#include <math.h>

#include "vc_kernels.h"

namespace {

constexpr int kWarps = 4;

__device__ inline float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ inline float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int MAXD32>
__global__ void attention_k(vck_attn a, int seq0)
{
    extern __shared__ float qsh[];
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int i = blockIdx.x * kWarps + warp;
    const int h = blockIdx.y;
    const int sq = seq0 + blockIdx.z;
    if (i >= a.lq) return; // whole warp leaves together; no block barrier below
    const int d = a.d;
    float *q = qsh + warp * d;
    const float *qg = a.q + sq * a.q_seq + (int64_t)i * a.q_tok + (int64_t)h * d;
    for (int c = lane; c < d; c += 32) q[c] = qg[c];
    __syncwarp();
    const int kvs = sq / a.kv_group;
    const float *kb = a.k + kvs * a.k_seq + (int64_t)h * d;
    const float *vb = a.v + kvs * a.v_seq + (int64_t)h * d;
    const int M = a.rel_max;
    const int lk_end = a.causal ? min(a.lk, i + 1) : a.lk;

    float m = -INFINITY, l = 0.0f;
    float acc[MAXD32];
#pragma unroll
    for (int t = 0; t < MAXD32; t++) acc[t] = 0.0f;

    for (int j0 = 0; j0 < lk_end; j0 += 32) {
        const int j = j0 + lane;
        float sc = -INFINITY;
        if (j < lk_end) {
            const float *kr = kb + (int64_t)j * a.k_tok;
            float dot = 0.0f;
            for (int c = 0; c < d; c++) dot = fmaf(q[c], kr[c], dot);
            float s = dot * a.scale;
            if (a.rel_k) { // §5.7: the key-side table term, same scale
                int r = min(max(j - i, -M), M) + M;
                const float *rk = a.rel_k + (int64_t)r * d;
                float d2 = 0.0f;
                for (int c = 0; c < d; c++) d2 = fmaf(q[c], rk[c], d2);
                s += d2 * a.scale;
            }
            sc = s;
        }
        const float mnew = fmaxf(m, warp_max(sc));
        const float corr = (m == -INFINITY) ? 0.0f : expf(m - mnew);
        const float p = (j < lk_end) ? expf(sc - mnew) : 0.0f;
        l = l * corr + warp_sum(p);
#pragma unroll
        for (int t = 0; t < MAXD32; t++) acc[t] *= corr;
        const int n_here = min(32, lk_end - j0);
        for (int jj = 0; jj < n_here; jj++) {
            const float pj = __shfl_sync(0xffffffffu, p, jj);
            const float *vr = vb + (int64_t)(j0 + jj) * a.v_tok;
            const float *rv = nullptr;
            if (a.rel_v) rv = a.rel_v + (int64_t)(min(max(j0 + jj - i, -M), M) + M) * d;
#pragma unroll
            for (int t = 0; t < MAXD32; t++) {
                const int c = lane + 32 * t;
                if (c < d) {
                    acc[t] = fmaf(pj, vr[c], acc[t]);
                    if (rv) acc[t] = fmaf(pj, rv[c], acc[t]); // §5.7 value-side term
                }
            }
        }
        m = mnew;
    }
    float *og = a.o + sq * a.o_seq + (int64_t)i * a.o_tok + (int64_t)h * d;
    const float inv = 1.0f / l;
#pragma unroll
    for (int t = 0; t < MAXD32; t++) {
        const int c = lane + 32 * t;
        if (c < d) og[c] = a.accumulate ? og[c] + acc[t] * inv : acc[t] * inv;
    }
}

template <int MAXD32>
int launch(const vck_attn *a, cudaStream_t s)
{
    dim3 block(32 * kWarps);
    size_t smem = (size_t)kWarps * a->d * sizeof(float);
    for (int seq0 = 0; seq0 < a->n_seq; seq0 += 65535) {
        int nz = min(65535, a->n_seq - seq0);
        dim3 grid((unsigned)((a->lq + kWarps - 1) / kWarps), (unsigned)a->heads, (unsigned)nz);
        attention_k<MAXD32><<<grid, block, smem, s>>>(*a, seq0);
        cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) return (int)e;
    }
    return 0;
}

} // namespace

extern "C" int vck_attention(vck_stream s, const vck_attn *a)
{
    if (a->n_seq <= 0 || a->lq <= 0 || a->heads <= 0) return 0;
    if (a->lk <= 0 || a->d <= 0 || a->d > 512 || a->kv_group < 1) return (int)cudaErrorInvalidValue;
    if (a->d <= 64) return launch<2>(a, (cudaStream_t)s);
    if (a->d <= 128) return launch<4>(a, (cudaStream_t)s);
    return launch<16>(a, (cudaStream_t)s);
}
