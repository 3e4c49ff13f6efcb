// cudnn_emu.cc - a libcudnn.so.9 for the CPU emulation (make check-cuda-emu):
// the convolution subset of lib/backend/cuda/cudnn_conv.c, computed directly
// on the emulated device memory. It checks what a real cuDNN would reject
// (mismatched descriptors and data types, host pointers, a short workspace)
// and, to exercise the caller's choice, ranks FFT and Winograd first, which
// the caller must skip; it plans stride-3 convolutions but refuses them at
// launch, as a real one may, so that the caller's retreat is tested. Half data is read as half and the output rounded to
// half, with float accumulation. A test double only: nothing here ships.
#include <stdlib.h>
#include <string.h>

#include "include/cudnn.h"
#include "include/vcemu_kernel.h"

#define EXPORT extern "C" __attribute__((visibility("default")))

struct vcemu_dnn_handle { int unused; };
struct vcemu_dnn_tensor { cudnnDataType_t dt; int n, c, h, w; bool set; };
struct vcemu_dnn_filter { cudnnDataType_t dt; int k, c, h, w; bool set; };
struct vcemu_dnn_conv { int pad_h, pad_w, u, v; cudnnMathType_t math; bool set; };

namespace {
constexpr size_t kPrecompWorkspace = 4096; // what the emulated precomputed GEMM asks for

float load(const void *p, cudnnDataType_t dt, size_t i)
{
    return dt == CUDNN_DATA_HALF ? vcemu::f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}
void store(void *p, cudnnDataType_t dt, size_t i, float v)
{
    if (dt == CUDNN_DATA_HALF) ((uint16_t *)p)[i] = vcemu::f32_to_f16(v);
    else ((float *)p)[i] = v;
}
bool consistent(const vcemu_dnn_tensor *x, const vcemu_dnn_filter *w, const vcemu_dnn_conv *c,
                const vcemu_dnn_tensor *y)
{
    if (!x || !w || !c || !y || !x->set || !w->set || !c->set || !y->set) return false;
    if (x->dt != w->dt || x->dt != y->dt || x->c != w->c || y->c != w->k || y->n != x->n) return false;
    return y->h == (x->h + 2 * c->pad_h - w->h) / c->u + 1 && y->w == (x->w + 2 * c->pad_w - w->w) / c->v + 1;
}
} // namespace

EXPORT size_t cudnnGetVersion(void) { return 90000; }
EXPORT const char *cudnnGetErrorString(cudnnStatus_t s)
{
    return s == CUDNN_STATUS_SUCCESS ? "CUDNN_STATUS_SUCCESS" : s == CUDNN_STATUS_BAD_PARAM ? "CUDNN_STATUS_BAD_PARAM"
                                                                                           : "CUDNN_STATUS_ERROR";
}
EXPORT cudnnStatus_t cudnnCreate(cudnnHandle_t *h) { return (*h = new vcemu_dnn_handle()) ? CUDNN_STATUS_SUCCESS : CUDNN_STATUS_NOT_INITIALIZED; }
EXPORT cudnnStatus_t cudnnDestroy(cudnnHandle_t h) { delete h; return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnSetStream(cudnnHandle_t, cudaStream_t) { return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnCreateTensorDescriptor(cudnnTensorDescriptor_t *d) { *d = new vcemu_dnn_tensor(); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyTensorDescriptor(cudnnTensorDescriptor_t d) { delete d; return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnCreateFilterDescriptor(cudnnFilterDescriptor_t *d) { *d = new vcemu_dnn_filter(); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyFilterDescriptor(cudnnFilterDescriptor_t d) { delete d; return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnCreateConvolutionDescriptor(cudnnConvolutionDescriptor_t *d) { *d = new vcemu_dnn_conv(); return CUDNN_STATUS_SUCCESS; }
EXPORT cudnnStatus_t cudnnDestroyConvolutionDescriptor(cudnnConvolutionDescriptor_t d) { delete d; return CUDNN_STATUS_SUCCESS; }

EXPORT cudnnStatus_t cudnnSetTensor4dDescriptor(cudnnTensorDescriptor_t d, cudnnTensorFormat_t f, cudnnDataType_t dt,
                                                int n, int c, int h, int w)
{
    if (f != CUDNN_TENSOR_NCHW || n < 1 || c < 1 || h < 1 || w < 1 || (int64_t)n * c * h * w > 0x7fffffff)
        return CUDNN_STATUS_BAD_PARAM;
    *d = {dt, n, c, h, w, true};
    return CUDNN_STATUS_SUCCESS;
}
EXPORT cudnnStatus_t cudnnSetFilter4dDescriptor(cudnnFilterDescriptor_t d, cudnnDataType_t dt, cudnnTensorFormat_t f,
                                                int k, int c, int h, int w)
{
    if (f != CUDNN_TENSOR_NCHW || k < 1 || c < 1 || h < 1 || w < 1) return CUDNN_STATUS_BAD_PARAM;
    *d = {dt, k, c, h, w, true};
    return CUDNN_STATUS_SUCCESS;
}
EXPORT cudnnStatus_t cudnnSetConvolution2dDescriptor(cudnnConvolutionDescriptor_t d, int ph, int pw, int u, int v,
                                                     int dh, int dw, cudnnConvolutionMode_t mode,
                                                     cudnnDataType_t compute)
{
    if (ph < 0 || pw < 0 || u < 1 || v < 1 || dh != 1 || dw != 1 || mode != CUDNN_CROSS_CORRELATION ||
        compute != CUDNN_DATA_FLOAT)
        return CUDNN_STATUS_NOT_SUPPORTED; // only what the backend asks for
    *d = {ph, pw, u, v, d->math, true};
    return CUDNN_STATUS_SUCCESS;
}
EXPORT cudnnStatus_t cudnnSetConvolutionMathType(cudnnConvolutionDescriptor_t d, cudnnMathType_t m)
{
    d->math = m;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionForwardAlgorithm_v7(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                            const cudnnFilterDescriptor_t w,
                                                            const cudnnConvolutionDescriptor_t c,
                                                            const cudnnTensorDescriptor_t y, const int requested,
                                                            int *returned, cudnnConvolutionFwdAlgoPerf_t *perf)
{
    if (!consistent(x, w, c, y) || requested < 1) return CUDNN_STATUS_BAD_PARAM;
    const cudnnConvolutionFwdAlgo_t order[] = {CUDNN_CONVOLUTION_FWD_ALGO_FFT, CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED,
                                               CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM,
                                               CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM};
    int n = 0;
    for (cudnnConvolutionFwdAlgo_t a : order) {
        if (n == requested) break;
        perf[n] = {};
        perf[n].algo = a;
        perf[n].status = CUDNN_STATUS_SUCCESS;
        perf[n].memory = a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ? kPrecompWorkspace : 0;
        perf[n].determinism = CUDNN_DETERMINISTIC;
        perf[n].mathType = c->math;
        n++;
    }
    *returned = n;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnGetConvolutionForwardWorkspaceSize(cudnnHandle_t, const cudnnTensorDescriptor_t x,
                                                             const cudnnFilterDescriptor_t w,
                                                             const cudnnConvolutionDescriptor_t c,
                                                             const cudnnTensorDescriptor_t y,
                                                             cudnnConvolutionFwdAlgo_t algo, size_t *bytes)
{
    if (!consistent(x, w, c, y)) return CUDNN_STATUS_BAD_PARAM;
    *bytes = algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ? kPrecompWorkspace : 0;
    return CUDNN_STATUS_SUCCESS;
}

EXPORT cudnnStatus_t cudnnConvolutionForward(cudnnHandle_t, const void *alpha_p, const cudnnTensorDescriptor_t xd,
                                             const void *x, const cudnnFilterDescriptor_t wd, const void *w,
                                             const cudnnConvolutionDescriptor_t cd, cudnnConvolutionFwdAlgo_t algo,
                                             void *ws, size_t ws_bytes, const void *beta_p,
                                             const cudnnTensorDescriptor_t yd, void *y)
{
    if (!consistent(xd, wd, cd, yd)) return CUDNN_STATUS_BAD_PARAM;
    if (algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM && algo != CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM)
        return CUDNN_STATUS_NOT_SUPPORTED;
    if (cd->u == 3) return CUDNN_STATUS_NOT_SUPPORTED;
    struct scope { // device memory is accessible to the emulated device's work only (emu.cc)
        scope() { vcemu_device_enter(); }
        ~scope() { vcemu_device_leave(); }
    } in_device;
    if (algo == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM) {
        if (ws_bytes < kPrecompWorkspace || !vcemu_is_device(ws)) return CUDNN_STATUS_BAD_PARAM;
        memset(ws, 0xA5, kPrecompWorkspace); // scribbled on, as a real one does
    }
    if (!vcemu_is_device(x) || !vcemu_is_device(w) || !vcemu_is_device(y)) return CUDNN_STATUS_BAD_PARAM;
    const float alpha = *(const float *)alpha_p, beta = *(const float *)beta_p;
    const cudnnDataType_t dt = xd->dt;
    const int N = xd->n, C = xd->c, H = xd->h, W = xd->w, K = wd->k, R = wd->h, S = wd->w;
    const int OH = yd->h, OW = yd->w;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    float acc = 0.0f;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++) {
                            const int iy = oy * cd->u + r - cd->pad_h;
                            if (iy < 0 || iy >= H) continue;
                            for (int s = 0; s < S; s++) {
                                const int ix = ox * cd->v + s - cd->pad_w;
                                if (ix < 0 || ix >= W) continue;
                                acc += load(x, dt, (((size_t)n * C + c) * H + iy) * W + ix) *
                                       load(w, dt, (((size_t)k * C + c) * R + r) * S + s);
                            }
                        }
                    const size_t o = (((size_t)n * K + k) * OH + oy) * OW + ox;
                    // beta 0: y is not read (it may hold anything)
                    store(y, dt, o, beta == 0.0f ? alpha * acc : alpha * acc + beta * load(y, dt, o));
                }
    return CUDNN_STATUS_SUCCESS;
}
