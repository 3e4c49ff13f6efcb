// norm.cu - group norm (optionally fused with SiLU) and layer norm.
// Statistics are accumulated in double so the result matches the CPU backend
// to float32 round-off whatever the group size (spec §5.10: up to C/32 x T x h x w).
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "vc_kernels.h"

namespace {

constexpr int kThreads = 256;

__device__ double block_sum(double v, double *smem)
{
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) smem[warp] = v;
    __syncthreads();
    double t = 0;
    if (threadIdx.x < 32) {
        t = threadIdx.x < (blockDim.x >> 5) ? smem[threadIdx.x] : 0.0;
        for (int o = 16; o > 0; o >>= 1) t += __shfl_down_sync(0xffffffffu, t, o);
        if (threadIdx.x == 0) smem[0] = t;
    }
    __syncthreads();
    t = smem[0];
    __syncthreads();
    return t;
}

// Group statistics in two kernels so that a group of 10 channels x 16 frames x
// 2560 pixels (§5.10, joint over frames) is spread over many blocks: each
// (sample, group, part) block writes count, mean and M2 of its slice (two
// passes over the slice, double), the second kernel merges the parts (Chan's
// formula, double) and normalises its slice. A group is `frames` runs of
// L = C/G x S values, C x S apart (the frames of a folded video); a slice is
// walked run by run, so no element needs a division to find its frame.
// I: the index type within a run (uint32_t when it fits, see elementwise.cu).
struct group_slice {
    int64_t b, e;  // [b, e) of the group's frames x L values
    int64_t L, fs; // run length, distance between runs
};

__device__ group_slice slice_of(int frames, int C, int64_t S, int G, int parts, int part)
{
    group_slice s;
    s.L = (int64_t)(C / G) * S;
    s.fs = (int64_t)C * S;
    const int64_t len = s.L * frames, per = (len + parts - 1) / parts;
    s.b = min(len, (int64_t)part * per);
    s.e = min(len, s.b + per);
    return s;
}

// f(v, run offset within the group's frame block, element index within the run)
// for every element of the slice, each thread taking a stride of blockDim.x
template <typename I, typename F>
__device__ void for_slice(const group_slice &s, F f)
{
    for (int64_t r0 = s.b - s.b % s.L; r0 < s.e; r0 += s.L) { // the runs the slice touches
        const int64_t t = r0 / s.L;
        const I lo = (I)(max(s.b, r0) - r0), hi = (I)(min(s.e, r0 + s.L) - r0);
        for (I i = lo + threadIdx.x; i < hi; i += blockDim.x) f(t * s.fs, i);
    }
}

// x is float32, or IEEE half where the backend holds it so (a transient
// convolution output)
__device__ inline float value(float v) { return v; }
__device__ inline float value(__half v) { return __half2float(v); }

// ib: the group's input biases [cg] (added to x in float on the way in, as a
// separate pass would have), or NULL
template <typename I, typename X>
__device__ float biased(const X *xs, int64_t run, I i, const float *ib, int64_t S)
{
    const float v = value(xs[run + i]);
    return ib ? v + ib[i / (I)S] : v;
}

template <typename I, typename X>
__global__ void group_stats_k(const X *x, int frames, int C, int64_t S, int G, const float *in_bias,
                              int bias_group, double *work)
{
    __shared__ double smem[32];
    const int n = blockIdx.y, g = blockIdx.x, part = blockIdx.z, parts = gridDim.z;
    const int cg = C / G;
    const X *xs = x + ((int64_t)n * frames * C + (int64_t)g * cg) * S;
    const float *ib = in_bias ? in_bias + (int64_t)(n / bias_group) * C + (int64_t)g * cg : nullptr;
    const group_slice sl = slice_of(frames, C, S, G, parts, part);
    double sum = 0;
    for_slice<I>(sl, [&](int64_t run, I i) { sum += biased<I, X>(xs, run, i, ib, S); });
    const double cnt = (double)(sl.e - sl.b);
    const double tot = block_sum(sum, smem); // every thread of the block calls it
    const double mean = cnt > 0 ? tot / cnt : 0.0;
    double sq = 0;
    for_slice<I>(sl, [&](int64_t run, I i) {
        double d = biased<I, X>(xs, run, i, ib, S) - mean;
        sq += d * d;
    });
    const double m2 = block_sum(sq, smem);
    if (threadIdx.x == 0) {
        double *w = work + 3 * (((int64_t)n * G + g) * parts + part);
        w[0] = cnt, w[1] = mean, w[2] = m2;
    }
}

template <typename I, typename X>
__global__ void group_apply_k(const X *x, float *y, int frames, int C, int64_t S, int G, const float *in_bias,
                              int bias_group, const double *work, const float *gamma, const float *beta, float eps,
                              bool silu, __half *y16)
{
    const int n = blockIdx.y, g = blockIdx.x, part = blockIdx.z, parts = gridDim.z;
    const double *w = work + 3 * (((int64_t)n * G + g) * parts);
    double cnt = 0, mean = 0, m2 = 0;
    for (int k = 0; k < parts; k++) { // same order in every thread: identical results
        const double nb = w[3 * k], mb = w[3 * k + 1], qb = w[3 * k + 2];
        if (nb == 0) continue;
        const double tot = cnt + nb, d = mb - mean;
        mean += d * nb / tot;
        m2 += qb + d * d * cnt * nb / tot;
        cnt = tot;
    }
    const double var = m2 / cnt; // biased
    const float fmean = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)eps));
    const int cg = C / G;
    const int64_t off = ((int64_t)n * frames * C + (int64_t)g * cg) * S;
    const float *ib = in_bias ? in_bias + (int64_t)(n / bias_group) * C : nullptr;
    const group_slice sl = slice_of(frames, C, S, G, parts, part);
    for_slice<I>(sl, [&](int64_t run, I i) {
        const int c = g * cg + (int)(i / (I)S);
        const int64_t at = off + run + i;
        const float xv = ib ? value(x[at]) + ib[c] : value(x[at]);
        float v = (xv - fmean) * rstd * (gamma ? gamma[c] : 1.0f) + (beta ? beta[c] : 0.0f);
        if (silu) v = v / (1.0f + expf(-v));
        if (y) y[at] = v; // NULL: the half output alone
        if (y16) y16[at] = __float2half_rn(v); // the next convolution's operand (fp16 mode)
    });
}

// one block per row; x float32 or IEEE half (a transient token stream)
template <typename X>
__global__ void layer_norm_k(const X *x, float *y, int D, const float *gamma, const float *beta, float eps,
                             __half *y16)
{
    __shared__ double smem[32];
    int64_t r = blockIdx.x;
    const X *xr = x + r * D;
    float *yr = y ? y + r * D : nullptr; // NULL: the half output alone
    double sum = 0;
    for (int i = threadIdx.x; i < D; i += blockDim.x) sum += value(xr[i]);
    double mean = block_sum(sum, smem) / D;
    double sq = 0;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        double d = value(xr[i]) - mean;
        sq += d * d;
    }
    double var = block_sum(sq, smem) / D;
    float fmean = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)eps));
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        const float v = (value(xr[i]) - fmean) * rstd * (gamma ? gamma[i] : 1.0f) + (beta ? beta[i] : 0.0f);
        if (yr) yr[i] = v;
        if (y16) y16[r * D + i] = __float2half_rn(v); // the next linear layers' operand (fp16 mode)
    }
}

template <typename I, typename X>
int group_norm_launch(cudaStream_t st, const vck_group_norm_args *a, const X *x)
{
    const int n = a->n, frames = a->frames, C = a->C, G = a->G;
    const int64_t S = a->S;
    dim3 grid((unsigned)G, (unsigned)n, (unsigned)vck_group_norm_parts(n, frames, C, S, G));
    group_stats_k<I, X><<<grid, kThreads, 0, st>>>(x, frames, C, S, G, a->in_bias, a->bias_group, a->work);
    group_apply_k<I, X><<<grid, kThreads, 0, st>>>(x, a->y, frames, C, S, G, a->in_bias, a->bias_group, a->work,
                                                   a->gamma, a->beta, a->eps, a->silu, (__half *)a->y16);
    return (int)cudaGetLastError();
}

} // namespace

extern "C" {

int vck_group_norm_parts(int n, int frames, int C, int64_t S, int G)
{
    const int64_t len = (int64_t)(C / G) * S * frames, blocks = (int64_t)n * G;
    int64_t parts = (len + 16383) / 16384;      // at least 16K elements a block
    const int64_t want = (4 * 132 + blocks - 1) / blocks; // enough blocks to fill a large GPU
    if (parts > want) parts = want;
    if (parts < 1) parts = 1;
    return (int)(parts > 1024 ? 1024 : parts);
}

int vck_group_norm(vck_stream s, const vck_group_norm_args *a)
{
    const int n = a->n, frames = a->frames, C = a->C, G = a->G;
    const int64_t S = a->S;
    if (n <= 0 || frames <= 0 || G <= 0 || C / G <= 0 || S <= 0 || (a->in_bias && a->bias_group <= 0)) return 0;
    cudaStream_t st = (cudaStream_t)s;
    const __half *x16 = (const __half *)a->x16;
    if ((int64_t)(C / G) * S <= 0x7fffffff)
        return x16 ? group_norm_launch<uint32_t>(st, a, x16) : group_norm_launch<uint32_t>(st, a, a->x);
    return x16 ? group_norm_launch<int64_t>(st, a, x16) : group_norm_launch<int64_t>(st, a, a->x);
}

int vck_layer_norm(vck_stream s, const float *x, const void *x16, float *y, int64_t rows, int D, const float *gamma,
                   const float *beta, float eps, void *y16)
{
    if (rows <= 0) return 0;
    cudaStream_t st = (cudaStream_t)s;
    if (x16)
        layer_norm_k<__half><<<(unsigned)rows, kThreads, 0, st>>>((const __half *)x16, y, D, gamma, beta, eps,
                                                                  (__half *)y16);
    else
        layer_norm_k<float><<<(unsigned)rows, kThreads, 0, st>>>(x, y, D, gamma, beta, eps, (__half *)y16);
    return (int)cudaGetLastError();
}

} // extern "C"
