// norm.cu - group norm (optionally fused with SiLU) and layer norm.
// Statistics are accumulated in double so the result matches the CPU backend
// to float32 round-off whatever the group size (spec §5.10: up to C/32 x T x h x w).
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

// one block per (sample, group)
__global__ void group_norm_k(const float *x, float *y, int C, int64_t S, int G, const float *gamma,
                             const float *beta, float eps, bool silu)
{
    __shared__ double smem[32];
    int n = blockIdx.y, g = blockIdx.x;
    int cg = C / G;
    int64_t len = (int64_t)cg * S;
    const float *xs = x + ((int64_t)n * C + (int64_t)g * cg) * S;
    float *ys = y + ((int64_t)n * C + (int64_t)g * cg) * S;
    double sum = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) sum += xs[i];
    double mean = block_sum(sum, smem) / (double)len;
    double sq = 0;
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
        double d = xs[i] - mean;
        sq += d * d;
    }
    double var = block_sum(sq, smem) / (double)len; // biased
    float fmean = (float)mean;
    float rstd = (float)(1.0 / sqrt(var + (double)eps));
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x) {
        int c = g * cg + (int)(i / S);
        float v = (xs[i] - fmean) * rstd * gamma[c] + beta[c];
        if (silu) v = v / (1.0f + expf(-v));
        ys[i] = v;
    }
}

// one block per row
__global__ void layer_norm_k(const float *x, float *y, int D, const float *gamma, const float *beta, float eps)
{
    __shared__ double smem[32];
    int64_t r = blockIdx.x;
    const float *xr = x + r * D;
    float *yr = y + r * D;
    double sum = 0;
    for (int i = threadIdx.x; i < D; i += blockDim.x) sum += xr[i];
    double mean = block_sum(sum, smem) / D;
    double sq = 0;
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        double d = xr[i] - mean;
        sq += d * d;
    }
    double var = block_sum(sq, smem) / D;
    float fmean = (float)mean, rstd = (float)(1.0 / sqrt(var + (double)eps));
    for (int i = threadIdx.x; i < D; i += blockDim.x) yr[i] = (xr[i] - fmean) * rstd * gamma[i] + beta[i];
}

} // namespace

extern "C" {

int vck_group_norm(vck_stream s, const float *x, float *y, int n, int C, int64_t S, int G, const float *gamma,
                   const float *beta, float eps, bool silu)
{
    dim3 grid((unsigned)G, (unsigned)n);
    group_norm_k<<<grid, kThreads, 0, (cudaStream_t)s>>>(x, y, C, S, G, gamma, beta, eps, silu);
    return (int)cudaGetLastError();
}

int vck_layer_norm(vck_stream s, const float *x, float *y, int64_t rows, int D, const float *gamma,
                   const float *beta, float eps)
{
    if (rows <= 0) return 0;
    layer_norm_k<<<(unsigned)rows, kThreads, 0, (cudaStream_t)s>>>(x, y, D, gamma, beta, eps);
    return (int)cudaGetLastError();
}

} // extern "C"
