// attention.cu - streaming (flash-style) multi-head attention in float32.
// One warp per query row: lanes take 32 keys at a time, the softmax is kept
// online (running max and sum), so no [lq x lk] score matrix exists anywhere;
// and, for the common head widths, a tiled kernel (below) whose 64 queries
// share each key tile.
// Covers spatial self/cross attention (kv_group lets the frames of a video
// share one context), the temporal attention with the relative-position terms
// of spec §5.7, and the single 512-wide head of the VAE (§4.1).
#include <cuda_runtime.h>
#include <math.h>

#include "vc_device.cuh"
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

// ---- tiled: 64 queries share each 64-key tile of K and V in shared memory ----
//
// The kernel above has every query's warp read all keys, which for the
// spatial self-attention (2560 tokens) reloads K and V 2560 times per
// (sequence, head). Here a block of 256 threads owns 64 queries: four threads
// a query, each taking every fourth key for the scores and every fourth
// channel for the output, with the row's softmax state shared by shuffles in
// its group of four. Float32 throughout (the float32 mode); rows padded to
// D + 1 floats against bank conflicts. Head widths 16, 32, 64, 80, 128 without
// relative-position tables.
constexpr int kTileQ = 64, kTileK = 64;

template <int D>
struct TiledSmem {
    static constexpr int ld = D + 1;
    static constexpr size_t q = 0, k = q + kTileQ * ld, v = k + kTileK * ld, p = v + kTileK * ld;
    static constexpr size_t floats = p + kTileQ * (kTileK + 1);
};

template <int D>
__global__ void __launch_bounds__(256) tiled_k(vck_attn a, int seq0)
{
    using L = TiledSmem<D>;
    constexpr int CPT = D / 4, KPT = kTileK / 4; // channels and keys per thread
    extern __shared__ float tsh[];
    float *qs = tsh + L::q, *ks = tsh + L::k, *vs = tsh + L::v, *ps = tsh + L::p;
    const int t = threadIdx.x, r = t >> 2, part = t & 3;
    const int h = blockIdx.y, sq = seq0 + blockIdx.z, q0 = blockIdx.x * kTileQ, qi = q0 + r;
    const int kvs = sq / a.kv_group;
    const float *kg = a.k + kvs * a.k_seq + (int64_t)h * D, *vg = a.v + kvs * a.v_seq + (int64_t)h * D;
    vc_load_rows(qs, L::ld, a.q + sq * a.q_seq + (int64_t)h * D, a.q_tok, q0, kTileQ, a.lq, D);
    const float *qr = qs + r * L::ld;
    float *pr = ps + r * (kTileK + 1);

    float m = -INFINITY, l = 0.0f, o[CPT];
#pragma unroll
    for (int cc = 0; cc < CPT; cc++) o[cc] = 0.0f;
    const int lk_end = a.causal ? min(a.lk, q0 + kTileQ) : a.lk;
    for (int j0 = 0; j0 < lk_end; j0 += kTileK) {
        __syncthreads(); // the previous tile is no longer read (and Q is loaded)
        vc_load_rows(ks, L::ld, kg, a.k_tok, j0, kTileK, a.lk, D);
        vc_load_rows(vs, L::ld, vg, a.v_tok, j0, kTileK, a.lk, D);
        __syncthreads();
        float sc[KPT], tmax = -INFINITY;
#pragma unroll
        for (int k = 0; k < KPT; k++) {
            const int j = part + 4 * k;
            const float *kr = ks + j * L::ld;
            float dot = 0.0f;
            for (int c = 0; c < D; c++) dot = fmaf(qr[c], kr[c], dot);
            float s = dot * a.scale;
            if (j0 + j >= a.lk || (a.causal && j0 + j > qi)) s = -INFINITY;
            sc[k] = s;
            tmax = fmaxf(tmax, s);
        }
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1)); // the row's four threads
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 2));
        const float mnew = fmaxf(m, tmax);
        const float corr = (m == -INFINITY) ? 0.0f : expf(m - mnew);
        float psum = 0.0f;
#pragma unroll
        for (int k = 0; k < KPT; k++) {
            const float p = sc[k] == -INFINITY ? 0.0f : expf(sc[k] - mnew);
            psum += p;
            pr[part + 4 * k] = p;
        }
        psum += __shfl_xor_sync(0xffffffffu, psum, 1);
        psum += __shfl_xor_sync(0xffffffffu, psum, 2);
        l = l * corr + psum;
        m = mnew;
        __syncwarp(); // the row's probabilities are written (its four threads share a warp)
#pragma unroll
        for (int cc = 0; cc < CPT; cc++) o[cc] *= corr;
        for (int j = 0; j < kTileK; j++) {
            const float p = pr[j];
            const float *vr = vs + j * L::ld + part;
#pragma unroll
            for (int cc = 0; cc < CPT; cc++) o[cc] = fmaf(p, vr[4 * cc], o[cc]);
        }
        __syncwarp(); // read before the next tile's probabilities overwrite them
    }
    if (qi >= a.lq) return;
    float *og = a.o + sq * a.o_seq + (int64_t)qi * a.o_tok + (int64_t)h * D + part;
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
    for (int cc = 0; cc < CPT; cc++) og[4 * cc] = a.accumulate ? og[4 * cc] + o[cc] * inv : o[cc] * inv;
}

template <int D>
int launch_tiled(const vck_attn *a, cudaStream_t s)
{
    const size_t smem = sizeof(float) * TiledSmem<D>::floats;
    cudaError_t e = cudaFuncSetAttribute(tiled_k<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    for (int seq0 = 0; seq0 < a->n_seq; seq0 += 65535) {
        const int nz = min(65535, a->n_seq - seq0);
        dim3 grid((unsigned)((a->lq + kTileQ - 1) / kTileQ), (unsigned)a->heads, (unsigned)nz);
        tiled_k<D><<<grid, 256, smem, s>>>(*a, seq0);
        if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    }
    return 0;
}

} // namespace

extern "C" int vck_attention(vck_stream s, const vck_attn *a)
{
    if (a->n_seq <= 0 || a->lq <= 0 || a->heads <= 0) return 0;
    if (a->lk <= 0 || a->d <= 0 || a->d > 512 || a->kv_group < 1) return (int)cudaErrorInvalidValue;
    if (a->q16 || a->k16 || a->v16 || a->o16) return (int)cudaErrorInvalidValue; /* float32 operands only */
    /* enough queries to share the key tiles, no rel-pos tables: the tiled kernel */
    if (!a->rel_k && !a->rel_v && a->lq >= 32) {
        switch (a->d) {
        case 16: return launch_tiled<16>(a, (cudaStream_t)s); /* the tiny reference models' heads */
        case 32: return launch_tiled<32>(a, (cudaStream_t)s);
        case 64: return launch_tiled<64>(a, (cudaStream_t)s);
        case 80: return launch_tiled<80>(a, (cudaStream_t)s);
        case 128: return launch_tiled<128>(a, (cudaStream_t)s);
        default: break;
        }
    }
    if (a->d <= 64) return launch<2>(a, (cudaStream_t)s);
    if (a->d <= 128) return launch<4>(a, (cudaStream_t)s);
    return launch<16>(a, (cudaStream_t)s);
}
