// elementwise.cu - the glue kernels of the CUDA backend (fill, im2col, activations, layouts).
#include <cuda_runtime.h>
#include <math.h>

#include "vc_kernels.h"

namespace {

constexpr int kThreads = 256;

inline unsigned blocks_for(int64_t n)
{
    int64_t b = (n + kThreads - 1) / kThreads;
    return (unsigned)(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

#define GRID_STRIDE(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); \
                               i += (int64_t)gridDim.x * blockDim.x)

__global__ void fill_k(float *y, float v, int64_t n) { GRID_STRIDE(i, n) y[i] = v; }

__global__ void im2col_k(const float *x, int ci, int h, int w, int kh, int kw, int stride, int pt, int pl, int oh,
                         int ow, float *cols)
{
    int64_t n = (int64_t)ci * kh * kw * oh * ow;
    GRID_STRIDE(i, n) {
        int64_t p = i % ((int64_t)oh * ow);
        int64_t r = i / ((int64_t)oh * ow);
        int oy = (int)(p / ow), ox = (int)(p % ow);
        int u = (int)(r % (kh * kw)) / kw, v = (int)(r % kw), c = (int)(r / (kh * kw));
        int iy = oy * stride + u - pt, ix = ox * stride + v - pl;
        cols[i] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[((int64_t)c * h + iy) * w + ix] : 0.0f;
    }
}

__global__ void bias_residual_k(float *y, const float *bias, const float *res, int64_t n, int C, int64_t S)
{
    GRID_STRIDE(i, n * C * S) {
        float v = y[i];
        if (bias) v += bias[(i / S) % C];
        if (res) v += res[i];
        y[i] = v;
    }
}

__device__ inline float silu_f(float x) { return x / (1.0f + expf(-x)); }
__device__ inline float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__global__ void silu_k(const float *x, float *y, int64_t n) { GRID_STRIDE(i, n) y[i] = silu_f(x[i]); }
__global__ void gelu_k(const float *x, float *y, int64_t n) { GRID_STRIDE(i, n) y[i] = gelu_f(x[i]); }
__global__ void geglu_k(const float *x, float *y, int64_t rows, int inner)
{
    GRID_STRIDE(i, rows * inner) {
        int64_t r = i / inner, c = i % inner;
        const float *row = x + r * 2 * inner;
        y[i] = row[c] * gelu_f(row[inner + c]); // §5.5: first half value, second half gate
    }
}
__global__ void add_k(const float *a, const float *b, float *y, int64_t n) { GRID_STRIDE(i, n) y[i] = a[i] + b[i]; }
__global__ void axpby_k(float a, const float *x, float b, float *y, int64_t n)
{
    GRID_STRIDE(i, n) y[i] = a * x[i] + b * y[i];
}
__global__ void scale_k(const float *x, float f, float *y, int64_t n) { GRID_STRIDE(i, n) y[i] = x[i] * f; }
__global__ void add_channel_k(float *x, const float *v, int64_t n, int C, int64_t S, int64_t vs)
{
    GRID_STRIDE(i, n * C * S) {
        int64_t c = (i / S) % C, b = i / (S * C);
        x[i] += v[b * vs + c];
    }
}

struct PermDesc {
    int ndim;
    int64_t out_shape[6];
    int64_t in_stride_for_out[6];
};

__global__ void permute_k(const float *x, float *y, PermDesc d, int64_t n)
{
    GRID_STRIDE(i, n) {
        int64_t rem = i, off = 0;
        for (int k = d.ndim - 1; k >= 0; k--) {
            int64_t idx = rem % d.out_shape[k];
            rem /= d.out_shape[k];
            off += idx * d.in_stride_for_out[k];
        }
        y[i] = x[off];
    }
}

__global__ void upsample2x_k(const float *x, float *y, int64_t nc, int h, int w)
{
    int64_t n = nc * 4 * h * w;
    GRID_STRIDE(i, n) {
        int64_t ox = i % (2 * w), oy = (i / (2 * w)) % (2 * h), c = i / (4 * (int64_t)h * w);
        y[i] = x[(c * h + oy / 2) * w + ox / 2];
    }
}

__global__ void concat_k(const float *a, int ca, const float *b, int cb, float *y, int64_t n, int64_t S)
{
    int64_t C = ca + cb;
    GRID_STRIDE(i, n * C * S) {
        int64_t s = i % S, c = (i / S) % C, m = i / (S * C);
        y[i] = c < ca ? a[(m * ca + c) * S + s] : b[(m * cb + (c - ca)) * S + s];
    }
}

} // namespace

#define LAUNCH(kernel, n, ...)                                                       \
    do {                                                                             \
        kernel<<<blocks_for(n), kThreads, 0, (cudaStream_t)s>>>(__VA_ARGS__);        \
        return (int)cudaGetLastError();                                              \
    } while (0)

extern "C" {

int vck_fill(vck_stream s, float *y, float v, int64_t n) { LAUNCH(fill_k, n, y, v, n); }

int vck_im2col(vck_stream s, const float *x, int ci, int h, int w, int kh, int kw, int stride, int pt, int pl,
               int oh, int ow, float *cols)
{
    LAUNCH(im2col_k, (int64_t)ci * kh * kw * oh * ow, x, ci, h, w, kh, kw, stride, pt, pl, oh, ow, cols);
}

int vck_bias_residual(vck_stream s, float *y, const float *bias, const float *residual, int64_t n, int C, int64_t S)
{
    if (!bias && !residual) return 0;
    LAUNCH(bias_residual_k, n * C * S, y, bias, residual, n, C, S);
}

int vck_silu(vck_stream s, const float *x, float *y, int64_t n) { LAUNCH(silu_k, n, x, y, n); }
int vck_gelu(vck_stream s, const float *x, float *y, int64_t n) { LAUNCH(gelu_k, n, x, y, n); }
int vck_geglu(vck_stream s, const float *x, float *y, int64_t rows, int inner)
{
    LAUNCH(geglu_k, rows * inner, x, y, rows, inner);
}
int vck_add(vck_stream s, const float *a, const float *b, float *y, int64_t n) { LAUNCH(add_k, n, a, b, y, n); }
int vck_axpby(vck_stream s, float a, const float *x, float b, float *y, int64_t n)
{
    LAUNCH(axpby_k, n, a, x, b, y, n);
}
int vck_scale(vck_stream s, const float *x, float f, float *y, int64_t n) { LAUNCH(scale_k, n, x, f, y, n); }
int vck_add_channel(vck_stream s, float *x, const float *v, int64_t n, int C, int64_t S, int64_t v_stride)
{
    LAUNCH(add_channel_k, n * C * S, x, v, n, C, S, v_stride);
}

int vck_permute(vck_stream s, const float *x, float *y, int ndim, const int64_t *shape, const int *perm)
{
    if (ndim < 1 || ndim > 6) return (int)cudaErrorInvalidValue;
    PermDesc d;
    d.ndim = ndim;
    int64_t in_stride[6];
    int64_t acc = 1, n = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        in_stride[k] = acc;
        acc *= shape[k];
    }
    for (int k = 0; k < ndim; k++) {
        d.out_shape[k] = shape[perm[k]];
        d.in_stride_for_out[k] = in_stride[perm[k]];
        n *= shape[k];
    }
    LAUNCH(permute_k, n, x, y, d, n);
}

int vck_upsample2x(vck_stream s, const float *x, float *y, int64_t nc, int h, int w)
{
    LAUNCH(upsample2x_k, nc * 4 * h * w, x, y, nc, h, w);
}

int vck_concat_channels(vck_stream s, const float *a, int ca, const float *b, int cb, float *y, int64_t n,
                        int64_t S)
{
    LAUNCH(concat_k, n * (ca + cb) * S, a, ca, b, cb, y, n, S);
}

} // extern "C"
