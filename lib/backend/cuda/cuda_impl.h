/* cuda_impl.h - state and helpers shared by the CUDA backend's files:
 * cuda_backend.c (the ops, creation), weight_cache.c (device copies of
 * weights), conv.c (convolutions). Everything here is internal to
 * libvideocrafter-cuda.so.1 (built with hidden visibility). */
#ifndef VC_CUDA_IMPL_H
#define VC_CUDA_IMPL_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../../kernels/vc_kernels.h"
#include "../backend.h"
#include "cudnn_conv.h"
#include "lt_gemm.h"
#include "profile.h"

#define FBYTES(n) ((size_t)(n) * sizeof(float))

/* kinds of cached device copy: float32 as it is, rounded to half, the half
 * bytes of a half-resident weight, and a temporal convolution's weight
 * reordered taps-major in either precision (conv_temporal) */
enum { COPY_F32 = 0, COPY_F16 = 1, COPY_RAW = 2, COPY_TAPS_F32 = 3, COPY_TAPS_F16 = 4 };

typedef struct weight_slot {
    const void *host;          /* NULL: empty */
    int kind;
    size_t bytes;              /* host bytes the copy was made from */
    size_t dev_bytes;
    uint32_t print[4];         /* sampled host words at upload time */
    uint64_t used;             /* op count at the last use */
    uint64_t period;           /* ops between its last two uses (0: used once so far) */
    void *dev;
} weight_slot;

#define MAX_DEVICE_BLOCKS 64 /* backend allocations remembered as device memory (the arena has a few) */
typedef struct device_block {
    const char *p;
    size_t bytes;
} device_block;

enum { SCRATCH_COLS, SCRATCH_HALF, SCRATCH_STAGE, SCRATCH_NORM, SCRATCH_CONV_WS, SCRATCH_FF_HID, SCRATCH_FF_ACT,
       SCRATCH_ATT_K, SCRATCH_ATT_V, SCRATCH_ATT_Q, SCRATCH_ATT_O, SCRATCH_TAPS, SCRATCH_LT_WS, SCRATCH_WIDE,
       SCRATCH_UPLOAD, SCRATCH_N };

#define LT_WS_BYTES ((size_t)32 << 20) /* cuBLASLt workspace */

#define MAX_TRANSIENT 16 /* transient buffers declared at once (a transformer block has 6) */
typedef struct transient_buf {
    const float *p;
    int64_t n;
} transient_buf;

typedef struct cuda_impl {
    int device;
    bool device_set;           /* creation finished: ops select the device */
    cudaStream_t stream;
    cublasHandle_t blas;
    vc_cudnn *dnn;             /* NULL: convolutions through im2col + cuBLAS */
    vc_lt *lt;                 /* NULL: biases of linear layers in a pass of their own */
    bool fast16;
    bool flash_regs;           /* fp16 attention keeps scores and output in registers (probed layout) */
    char gpu[96];              /* the device's name, for the description */
    vc_status error;           /* first failure since the last sync */
    char errtext[256];
    uint64_t op_clock;         /* ops entered so far */
    weight_slot *slots;        /* open addressing on the host pointer */
    size_t n_slots, used_slots;
    uint64_t evictions;        /* weight copies freed to make room */
    uint64_t reuse_period;     /* the latest reuse distance of any copy (a sampling step's op count) */
    device_block blocks[MAX_DEVICE_BLOCKS]; /* live allocations of alloc */
    int n_blocks;
    void *scratch[SCRATCH_N];  /* im2col columns or half conv output, half activations, a device weight's
                                  half copy, norm statistics, cuDNN workspace, feed-forward intermediates,
                                  attention operands (half K and V, or float copies of transient ones), the
                                  temporal convolution's taps-major weight, cuBLASLt workspace, a widened
                                  transient input, weight-upload staging (weight_cache.c) */
    size_t scratch_bytes[SCRATCH_N];
    uint64_t scratch_used[SCRATCH_N]; /* op count at the last request */
    vc_cuda_prof *prof;        /* NULL unless VIDEOCRAFTER_CUDA_PROFILE=1 */
    const char *op;            /* the op being run, for the profile */
    const float *half_of;      /* the half scratch holds x[0, half_n) of this activation, */
    int64_t half_n;            /* until an op writes memory (consecutive linears keep it) */
    transient_buf transient[MAX_TRANSIENT]; /* fp16 mode: held as half (see half_at) */
    int n_transient;
} cuda_impl;

static inline cuda_impl *impl_of(vc_backend *be) { return (cuda_impl *)be->impl; }

/* cuda_backend.c: op bookkeeping */
void enter(vc_backend *be, const char *op);
void enter_keeping_half(vc_backend *be, const char *op);
void wrote(vc_backend *be, const float *y, int64_t n);
void mark(vc_backend *be, const char *what);
void resume(vc_backend *be);
void note_cuda(vc_backend *be, int err, const char *what);
bool refuse_transient(vc_backend *be, const char *op, const char *refusal);
void describe(vc_backend *be, const char *conv);

/* cuda_backend.c: device buffers and GEMMs */
cudaError_t dev_malloc(cuda_impl *c, void **p, size_t bytes); /* makes room when the device is full */
void *scratch_try(cuda_impl *c, int which, size_t bytes);
void *scratch(vc_backend *be, int which, size_t bytes);
void gemm_rm_ex(vc_backend *be, bool half16, bool c16, bool ta, bool tb, int m, int n, int k, float alpha,
                const void *A, int64_t lda, int64_t sa, const void *B, int64_t ldb, int64_t sb, float beta, void *C,
                int64_t ldc, int64_t sc, int batch);
void gemm_rm(vc_backend *be, bool half16, bool ta, bool tb, int m, int n, int k, float alpha, const void *A,
             int64_t lda, int64_t sa, const void *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc,
             int64_t sc, int batch);
void *half_at(const cuda_impl *c, const float *p);
const void *act_half(vc_backend *be, const float *x, int64_t n);

/* weight_cache.c */
/* frees at least bytes of copies the current op has not used, those needed latest first; false: none */
bool weight_cache_evict(cuda_impl *c, size_t bytes);
void device_block_add(cuda_impl *c, const void *p, size_t bytes);
void device_block_remove(cuda_impl *c, const void *p);
const void *dev_weight(vc_backend *be, const void *p, size_t bytes, int kind, bool *is_device);
const float *dev_in(vc_backend *be, const void *p, size_t bytes);
const void *weight_half(vc_backend *be, const float *w, int64_t n);
const void *weight_taps(vc_backend *be, const float *w, int32_t co, int32_t ci, int32_t kt);
void weight_cache_free(cuda_impl *c);

/* conv.c */
void cu_conv2d(vc_backend *be, const vc_conv2d_args *a);
void cu_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S, const float *w,
                      const float *bias, int32_t co, int32_t kt, const float *residual, float *y);

#endif
