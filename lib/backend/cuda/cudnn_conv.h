/* cudnn_conv.h - 2-D convolutions through cuDNN, loaded at run time.
 *
 * The CUDA backend does not link cuDNN: it opens libcudnn.so.9 (or the file
 * named by VIDEOCRAFTER_CUDNN; "off" disables it) when it is created and falls
 * back to im2col + cuBLAS when the library is absent, fails to initialise, or
 * has no suitable algorithm for a shape. Only the GEMM family of algorithms is
 * used (implicit GEMM, precomputed implicit GEMM, explicit GEMM): they sum the
 * same products as the CPU backend, whereas FFT and Winograd change the
 * rounding. Float32 data runs with FMA maths (no TF32); half data with
 * tensor-core maths and float32 accumulation. */
#ifndef VC_CUDNN_CONV_H
#define VC_CUDNN_CONV_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct vc_cudnn vc_cudnn;

/* Loads the library; NULL when it is unavailable, and why (cap bytes) then says
 * what happened. Its handle is made at the first plan: when that fails, every
 * plan says false and vc_cudnn_failure says why. */
vc_cudnn *vc_cudnn_open(cudaStream_t stream, char *why, size_t cap);
const char *vc_cudnn_failure(const vc_cudnn *cd); /* NULL while all is well */
void vc_cudnn_close(vc_cudnn *cd);
/* "9.x.y" of the loaded library */
const char *vc_cudnn_version(const vc_cudnn *cd);

/* One NCHW convolution: x [n, ci, h, w], weight [co, ci, kh, kw], symmetric
 * zero padding, y [n, co, oh, ow]; x, weight and y are all IEEE half or all
 * float32. Every tensor must stay below 2^31 elements. */
typedef struct vc_cudnn_shape {
    int n, ci, h, w, co, kh, kw, stride, pad_h, pad_w;
    bool half;
} vc_cudnn_shape;

/* Chooses (once per shape) an algorithm whose workspace fits ws_cap; false
 * when cuDNN offers none, and the caller uses its own path. */
bool vc_cudnn_plan(vc_cudnn *cd, const vc_cudnn_shape *s, size_t ws_cap, size_t *ws_bytes);
/* y = conv(x, w) + beta * y on the stream, with the plan's algorithm and a
 * workspace of at least its ws_bytes. Returns 0 or a message (static text). */
const char *vc_cudnn_forward(vc_cudnn *cd, const vc_cudnn_shape *s, const void *x, const void *w, float beta,
                             void *y, void *ws, size_t ws_bytes);

/* Marks the shape's plan as unusable (its first run failed): later plans say false. */
void vc_cudnn_reject(vc_cudnn *cd, const vc_cudnn_shape *s);

#endif
