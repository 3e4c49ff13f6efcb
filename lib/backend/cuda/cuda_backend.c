/* cuda_backend.c - the CUDA backend (libvideocrafter-cuda.so.1), loaded at run
 * time by the core (lib/backend/registry.c) so the core runs without CUDA.
 *
 * Activations live in device memory from the backend's alloc (the arena keeps
 * its blocks, so after the first step no allocation happens). Weight-like
 * inputs that arrive as host pointers are uploaded once (weight_cache.c);
 * half-resident models (weights_dtype f16/bf16) keep their halves on the GPU
 * and widen a layer at a time on the device. GEMMs go through cuBLAS (biases
 * of token-row linears in cuBLASLt epilogues, lt_gemm.c), convolutions through
 * cuDNN or im2col + GEMM (conv.c), the rest through the hand-written kernels
 * of kernels/. Precision: float32 by default (TF32 off,
 * spec "Conventions"). VIDEOCRAFTER_CUDA_PRECISION=fp16: weights of linear
 * layers and convolutions are cached as fp16 and multiplied with fp16
 * activations on the tensor cores (float32 accumulation and output), attention
 * runs the tensor-core flash kernel, the rest stays float32.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"

#define VC_CUDA_EXPORT __attribute__((visibility("default")))

/* First statement of every op: the context may be used from any thread (one at
 * a time), and the CUDA current device is per thread, so each op makes the
 * backend's device current on the calling thread (once per op). */
void enter(vc_backend *be, const char *op)
{
    cuda_impl *c = impl_of(be);
    if (c && c->device_set) {
        c->op_clock++;
        cudaSetDevice(c->device);
        c->op = op;
        c->half_of = NULL; /* any op but a linear layer may write the activation */
        mark(be, op);
    }
}

/* Ops that write only their output, which never aliases their input (linear
 * layers, the feed-forward, convolutions), keep the half copy of an
 * activation: the q, k and v projections of one normalised input, or the
 * convolution after a group norm, find it there. */
void enter_keeping_half(vc_backend *be, const char *op)
{
    cuda_impl *c = impl_of(be);
    const float *keep = c->half_of;
    enter(be, op);
    c->half_of = keep;
}
void wrote(vc_backend *be, const float *y, int64_t n)
{
    cuda_impl *c = impl_of(be);
    if (c->half_of && y < c->half_of + c->half_n && c->half_of < y + n) c->half_of = NULL;
}

void mark(vc_backend *be, const char *what)
{
    cuda_impl *c = impl_of(be);
    if (c->prof) vc_cuda_prof_mark(c->prof, c->stream, what);
}
/* after a part charged to its own name: back to the op */
void resume(vc_backend *be) { mark(be, impl_of(be)->op); }

/* Errors cannot be returned from ops: the first one is kept and reported by sync. */
void note_cuda(vc_backend *be, int err, const char *what)
{
    cuda_impl *c = impl_of(be);
    if (err == 0 || c->error != VC_STATUS_OK) return;
    c->error = VC_STATUS_BACKEND_ERROR;
    snprintf(c->errtext, sizeof c->errtext, "cuda: %s failed: %s", what, cudaGetErrorString((cudaError_t)err));
}

/* A write of a transient buffer this backend does not do (backend.h's
 * vc_transient_*_refusal; NULL: none): recorded, true. */
bool refuse_transient(vc_backend *be, const char *op, const char *refusal)
{
    cuda_impl *c = impl_of(be);
    if (!refusal) return false;
    if (c->error == VC_STATUS_OK) {
        c->error = VC_STATUS_BACKEND_ERROR;
        snprintf(c->errtext, sizeof c->errtext, "cuda: %s: %s", op, refusal);
    }
    return true;
}

static void note_blas(vc_backend *be, cublasStatus_t st, const char *what)
{
    cuda_impl *c = impl_of(be);
    if (st == CUBLAS_STATUS_SUCCESS || c->error != VC_STATUS_OK) return;
    c->error = VC_STATUS_BACKEND_ERROR;
    snprintf(c->errtext, sizeof c->errtext, "cublas: %s failed (status %d)", what, (int)st);
}

/* the arena's blocks: remembered as device memory, so that weight-like inputs
 * in them (embedding vectors, widened weights) need no driver query */
static void *cu_alloc(vc_backend *be, size_t bytes)
{
    enter(be, "alloc");
    cuda_impl *c = impl_of(be);
    void *p = NULL;
    if (dev_malloc(c, &p, bytes ? bytes : 64) != cudaSuccess) return NULL;
    device_block_add(c, p, bytes);
    return p;
}
static void cu_free(vc_backend *be, void *p)
{
    enter(be, "free");
    if (!p) return;
    device_block_remove(impl_of(be), p);
    cudaFree(p);
}
static void cu_upload(vc_backend *be, void *dst, const void *src, size_t n)
{
    enter(be, "upload");
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, impl_of(be)->stream), "upload");
}
static void cu_download(vc_backend *be, void *dst, const void *src, size_t n)
{
    enter(be, "download");
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, impl_of(be)->stream), "download");
    note_cuda(be, cudaStreamSynchronize(impl_of(be)->stream), "download");
}
static void cu_copy(vc_backend *be, void *dst, const void *src, size_t n)
{
    enter(be, "copy");
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, impl_of(be)->stream), "copy");
}
static void cu_fill(vc_backend *be, float *y, float v, int64_t n) { enter(be, "fill"); note_cuda(be, vck_fill(impl_of(be)->stream, y, v, n), "fill"); }

/* Row-major C = op(A) op(B) through column-major cuBLAS: C^T = op(B)^T op(A)^T.
 * A and B are float32 (half16 false) or both IEEE half; C is float32, or IEEE
 * half when c16 (then A and B must be half). */
void gemm_rm_ex(vc_backend *be, bool half16, bool c16, bool ta, bool tb, int m, int n, int k, float alpha,
                       const void *A, int64_t lda, int64_t sa, const void *B, int64_t ldb, int64_t sb, float beta,
                       void *C, int64_t ldc, int64_t sc, int batch)
{
    cuda_impl *c = impl_of(be);
    cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cudaDataType_t ab = half16 ? CUDA_R_16F : CUDA_R_32F;
    cublasComputeType_t ct = half16 ? CUBLAS_COMPUTE_32F : c->fast16 ? CUBLAS_COMPUTE_32F_FAST_16F : CUBLAS_COMPUTE_32F;
    mark(be, half16 ? "cublas gemm (fp16)" : "cublas gemm");
    cublasStatus_t st = cublasGemmStridedBatchedEx(c->blas, opa, opb, n, m, k, &alpha, B, ab, (int)ldb, sb, A, ab,
                                                   (int)lda, sa, &beta, C, c16 ? CUDA_R_16F : CUDA_R_32F, (int)ldc,
                                                   sc, batch, ct, CUBLAS_GEMM_DEFAULT);
    resume(be);
    note_blas(be, st, "gemm");
}

void gemm_rm(vc_backend *be, bool half16, bool ta, bool tb, int m, int n, int k, float alpha, const void *A,
                    int64_t lda, int64_t sa, const void *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc,
                    int64_t sc, int batch)
{
    gemm_rm_ex(be, half16, false, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

static void cu_gemm(vc_backend *be, const vc_gemm_args *a)
{
    enter(be, "gemm");
    gemm_rm(be, false, a->trans_a, a->trans_b, a->m, a->n, a->k, a->alpha, a->a, a->lda, a->stride_a, a->b, a->ldb,
            a->stride_b, a->beta, a->c, a->ldc, a->stride_c, a->batch);
}

/* Frees the scratch buffers no part of the current op has asked for (they
 * are made again when needed), or only those unused for a sampling step's
 * ops (c->reuse_period, weight_cache.c); false: there were none. */
static bool release_idle_scratch(cuda_impl *c, bool stale_only)
{
    bool any = false;
    for (int i = 0; i < SCRATCH_N; i++) {
        if (!c->scratch[i] || c->scratch_used[i] == c->op_clock) continue;
        if (stale_only && c->scratch_used[i] + c->reuse_period >= c->op_clock) continue;
        cudaFree(c->scratch[i]);
        c->scratch[i] = NULL;
        c->scratch_bytes[i] = 0;
        if (i == SCRATCH_HALF) c->half_of = NULL;
        any = true;
    }
    return any;
}

/* cudaMalloc that makes room when the device is full: scratch unused for a
 * step first (a cudaMalloc to make it again), then cached weights (an upload
 * each), then scratch used in the step. A buffer that every step needs, freed
 * to make room for a weight, would only evict weights when it is made again
 * (a cudaFree waiting for the device besides). */
cudaError_t dev_malloc(cuda_impl *c, void **p, size_t bytes)
{
    for (;;) {
        cudaError_t e = cudaMalloc(p, bytes ? bytes : 4);
        if (e == cudaSuccess) return e;
        *p = NULL;
        cudaGetLastError(); /* not sticky: clear it */
        if (e != cudaErrorMemoryAllocation ||
            (!release_idle_scratch(c, true) && !weight_cache_evict(c, bytes) && !release_idle_scratch(c, false)))
            return e;
    }
}

/* A device buffer of at least bytes, kept between ops (stream order makes the
 * reuse safe; cudaFree waits for queued work before a buffer grows). */
void *scratch_try(cuda_impl *c, int which, size_t bytes)
{
    c->scratch_used[which] = c->op_clock;
    if (c->scratch_bytes[which] < bytes) {
        if (c->scratch[which]) cudaFree(c->scratch[which]);
        c->scratch[which] = NULL;
        c->scratch_bytes[which] = 0;
        if (dev_malloc(c, &c->scratch[which], bytes) != cudaSuccess) return NULL;
        c->scratch_bytes[which] = bytes;
    }
    return c->scratch[which];
}

void *scratch(vc_backend *be, int which, size_t bytes)
{
    void *p = scratch_try(impl_of(be), which, bytes);
    if (!p) note_cuda(be, cudaErrorMemoryAllocation, "scratch buffer (device memory full)");
    return p;
}

/* fp16 mode: a norm writes its output also as half into the half scratch, for
 * the linear layers or convolution that read it next (it fails quietly: then
 * they convert it themselves). NULL in float32 mode. */
static void *half_shadow(vc_backend *be, const float *y, int64_t n)
{
    cuda_impl *c = impl_of(be);
    if (!c->fast16) return NULL;
    void *h = scratch_try(c, SCRATCH_HALF, (size_t)n * 2);
    if (!h) return NULL;
    c->half_of = y;
    c->half_n = n;
    return h;
}

/* fp16 mode: a transient buffer (vc_backend_ops.transient) holds its floats'
 * values as IEEE half, element i of the buffer at half i of its memory, so
 * pointer arithmetic in floats carries over. The half address of p, or NULL
 * where p is in none. */
void *half_at(const cuda_impl *c, const float *p)
{
    for (int i = 0; i < c->n_transient; i++)
        if (p >= c->transient[i].p && p < c->transient[i].p + c->transient[i].n)
            return (uint16_t *)c->transient[i].p + (p - c->transient[i].p);
    return NULL;
}

/* fp16 mode: activations rounded to half in the half scratch (or found there:
 * a part of what a norm or the previous conversion left, or a transient
 * buffer's own halves) */
const void *act_half(vc_backend *be, const float *x, int64_t n)
{
    cuda_impl *c = impl_of(be);
    void *t = half_at(c, x); /* a transient buffer: held as half already */
    if (t) return t;
    if (c->half_of && x >= c->half_of && x + n <= c->half_of + c->half_n)
        return (const uint16_t *)c->scratch[SCRATCH_HALF] + (x - c->half_of);
    void *h = scratch(be, SCRATCH_HALF, (size_t)n * 2);
    c->half_of = NULL;
    if (!h) return NULL;
    mark(be, "activation to fp16");
    note_cuda(be, vck_f32_to_f16(c->stream, x, h, n), "activation to fp16");
    resume(be);
    c->half_of = x;
    c->half_n = n;
    return h;
}

static void cu_transient(vc_backend *be, float *p, int64_t n)
{
    cuda_impl *c = impl_of(be);
    if (!p) {
        if (n < c->n_transient) c->n_transient = n > 0 ? (int)n : 0; /* the first n stay */
    } else if (c->fast16 && n > 0 && c->n_transient < MAX_TRANSIENT) {
        c->transient[c->n_transient++] = (transient_buf){p, n};
    }
}

/* The cached half copy of a host bias, for cuBLASLt writing half (NULL: none,
 * or the bias is device memory, whose half copy would take the staging buffer
 * a per-layer widened weight's half is held in). */
static const void *bias_half(vc_backend *be, const float *bias, int32_t out)
{
    if (!bias || !impl_of(be)->lt) return NULL;
    bool on_device = false;
    const void *b = dev_weight(be, bias, FBYTES(out), COPY_F16, &on_device);
    return on_device ? NULL : b;
}

/* y[rows, out] = x w^T + bias (+ y when accumulate) through cuBLASLt, the bias
 * in the GEMM's epilogue: float32 y with the float32 device bias db, or the
 * halves y16 of a transient y with the half bias b16 (bias_half); false: not
 * done, the caller takes GEMM + bias pass */
static bool lt_linear(vc_backend *be, bool half_in, int64_t rows, int32_t in, int32_t out, const void *x,
                      const void *w, const float *db, const void *b16, bool accumulate, float *y, void *y16)
{
    cuda_impl *c = impl_of(be);
    const void *b = y16 ? b16 : (const void *)db;
    if (!c->lt || !b || rows > 0x7fffffff) return false;
    void *ws = scratch_try(c, SCRATCH_LT_WS, LT_WS_BYTES);
    if (!ws) return false;
    mark(be, "cublasLt gemm + bias");
    const bool done = vc_lt_linear(c->lt, c->stream, half_in, y16 != NULL, (int)rows, in, out, x, in, w, b, accumulate,
                                   y16 ? y16 : (void *)y, out, ws, LT_WS_BYTES);
    resume(be);
    return done;
}

/* fp16 mode, a linear layer's GEMM on half operands: y[rows, out] = xh wh^T +
 * bias (+ y when beta is 1, + after), into float32 y or the halves y16 of a
 * transient y (then after is NULL); cuBLASLt where it takes the shape */
static void half_linear_out(vc_backend *be, int64_t rows, int32_t in, int32_t out, const void *xh, const void *wh,
                            const float *db, const void *b16, float beta, const float *after, float *y, void *y16)
{
    cuda_impl *c = impl_of(be);
    if (!after && lt_linear(be, true, rows, in, out, xh, wh, db, b16, beta != 0.0f, y, y16)) return;
    gemm_rm_ex(be, true, y16 != NULL, false, true, (int)rows, out, in, 1.0f, xh, in, 0, wh, in, 0, beta,
               y16 ? y16 : (void *)y, out, 0, 1);
    if (y16) {
        if (db) note_cuda(be, vck_bias_half(c->stream, y16, db, rows, out), "bias");
    } else if (db || after) {
        note_cuda(be, vck_bias_residual(c->stream, y, db, after, rows, out, 1), "bias");
    }
}

static void cu_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w, const float *bias,
                      int32_t out, const float *residual, float *y)
{
    enter_keeping_half(be, "linear");
    cuda_impl *c = impl_of(be);
    const float *db = dev_in(be, bias, FBYTES(out));
    if (bias && !db) return;
    /* an aliased residual is accumulated onto by the GEMM; another one joins the bias pass */
    const float beta = residual == y ? 1.0f : 0.0f, *after = residual != y ? residual : NULL;
    if (c->fast16) {
        /* transient x or y: read or written as the half it is held as (a
         * residual into a transient y is y itself: accumulated in half) */
        void *y16 = half_at(c, y);
        const void *x16 = half_at(c, x);
        if (y16 && refuse_transient(be, "linear", vc_transient_accumulate_refusal(residual, y))) return;
        const void *b16 = y16 ? bias_half(be, bias, out) : NULL;
        const void *wh = weight_half(be, w, (int64_t)out * in), *xh = x16 ? x16 : act_half(be, x, rows * in);
        if (!wh || !xh) return;
        half_linear_out(be, rows, in, out, xh, wh, db, b16, beta, after, y, y16);
        wrote(be, y, rows * out); /* its memory may hold what a half copy was made of */
        return;
    } else {
        const float *dw = dev_in(be, w, FBYTES((int64_t)out * in));
        if (!dw) return;
        if (!after && lt_linear(be, false, rows, in, out, x, dw, db, NULL, beta != 0.0f, y, NULL)) {
            wrote(be, y, rows * out);
            return;
        }
        gemm_rm(be, false, false, true, (int)rows, out, in, 1.0f, x, in, 0, dw, in, 0, beta, y, out, 0, 1);
    }
    if (db || after) note_cuda(be, vck_bias_residual(c->stream, y, db, after, rows, out, 1), "bias");
    wrote(be, y, rows * out);
}

/* vc_linear_args: one batched GEMM over the items, X read through its strides
 * (transposed where its rows are the unit-stride axis), Y written as token
 * rows (Y = X W^T) or channel-major (Y^T = W X^T); bias over the dense y. */
static void cu_linear_strided(vc_backend *be, const vc_linear_args *a)
{
    enter_keeping_half(be, "linear_strided");
    cuda_impl *c = impl_of(be);
    if (a->rows <= 0 || a->out <= 0 || a->batch <= 0) return;
    bool x_rows_major, tokens;
    int64_t ldx, ldy;
    vc_linear_view(a, &x_rows_major, &ldx, &tokens, &ldy);
    const int64_t total = (int64_t)a->batch * a->rows * a->out;
    const int64_t x_span = (a->batch - 1) * a->x_batch + (a->rows - 1) * a->x_row + (int64_t)(a->in - 1) * a->x_col + 1;
    if (a->rows > 0x7fffffff || ldx > 0x7fffffff || ldy > 0x7fffffff) {
        note_cuda(be, cudaErrorInvalidValue, "linear size");
        return;
    }
    const float *db = dev_in(be, a->bias, FBYTES(a->out));
    if (a->bias && !db) return;
    const void *w, *x;
    if (c->fast16) {
        w = weight_half(be, a->w, (int64_t)a->out * a->in);
        x = act_half(be, a->x, x_span);
    } else {
        w = dev_in(be, a->w, FBYTES((int64_t)a->out * a->in));
        x = a->x;
    }
    if (!w || !x) return;
    const float beta = a->residual == a->y ? 1.0f : 0.0f, *after = a->residual != a->y ? a->residual : NULL;
    void *y16 = c->fast16 ? half_at(c, a->y) : NULL; /* a transient token stream: written as half */
    if (y16) {
        if (refuse_transient(be, "linear_strided", vc_transient_strided_refusal(a))) return;
        gemm_rm_ex(be, true, true, !x_rows_major, true, (int)a->rows, a->out, a->in, 1.0f, x, ldx, a->x_batch, w,
                   a->in, 0, beta, y16, ldy, a->y_batch, a->batch);
        if (db) note_cuda(be, vck_bias_half(c->stream, y16, db, total / a->out, a->out), "bias");
        wrote(be, a->y, total);
        return;
    }
    if (tokens)
        gemm_rm(be, c->fast16, !x_rows_major, true, (int)a->rows, a->out, a->in, 1.0f, x, ldx, a->x_batch, w, a->in,
                0, beta, a->y, ldy, a->y_batch, a->batch);
    else
        gemm_rm(be, c->fast16, false, x_rows_major, a->out, (int)a->rows, a->in, 1.0f, w, a->in, 0, x, ldx,
                a->x_batch, beta, a->y, ldy, a->y_batch, a->batch);
    if (db || after)
        note_cuda(be, tokens ? vck_bias_residual(c->stream, a->y, db, after, total / a->out, a->out, 1)
                             : vck_bias_residual(c->stream, a->y, db, after, a->batch, a->out, a->rows),
                  "bias");
    wrote(be, a->y, total);
}

void describe(vc_backend *be, const char *conv)
{
    cuda_impl *c = impl_of(be);
    const char *mode = !c->fast16 ? "float32 mode" : c->flash_regs ? "fp16 mode (attention in registers)"
                                                                    : "fp16 mode (attention through shared tiles)";
    snprintf(be->detail, sizeof be->detail, "%.80s, %s, convolutions %.200s, linear biases %s", c->gpu, mode, conv,
             c->lt ? "in cuBLASLt epilogues" : "in a pass of their own");
}

static void cu_group_norm(vc_backend *be, const vc_group_norm_args *a)
{
    enter(be, "group_norm");
    const float *g = dev_in(be, a->gamma, FBYTES(a->C)), *b = dev_in(be, a->beta, FBYTES(a->C));
    if ((a->gamma && !g) || (a->beta && !b)) return;
    const int64_t bias_rows = a->in_bias && a->bias_group > 0 ? (a->n + a->bias_group - 1) / a->bias_group : 0;
    const float *ib = dev_in(be, a->in_bias, FBYTES(bias_rows * a->C));
    if (a->in_bias && !ib) return;
    const size_t parts = (size_t)vck_group_norm_parts(a->n, a->frames, a->C, a->S, a->G);
    double *work = scratch(be, SCRATCH_NORM, sizeof(double) * 3 * (size_t)a->n * a->G * parts);
    if (!work) return;
    void *t16 = half_at(impl_of(be), a->y); /* a transient output: only its halves are written */
    const vck_group_norm_args k = {
        .x = a->x, .x16 = half_at(impl_of(be), a->x), .y = t16 ? NULL : a->y, .n = a->n, .frames = a->frames,
        .C = a->C, .G = a->G, .S = a->S, .gamma = g, .beta = b,
        .in_bias = ib, .bias_group = a->bias_group, .eps = a->eps, .silu = a->silu, .work = work,
        .y16 = t16 ? t16 : half_shadow(be, a->y, (int64_t)a->n * a->frames * a->C * a->S),
    };
    note_cuda(be, vck_group_norm(impl_of(be)->stream, &k), "group_norm");
}

static void cu_layer_norm(vc_backend *be, const float *x, float *y, int64_t rows, int32_t D, const float *gamma,
                          const float *beta, float eps)
{
    enter(be, "layer_norm");
    cuda_impl *c = impl_of(be);
    const float *g = dev_in(be, gamma, FBYTES(D)), *b = dev_in(be, beta, FBYTES(D));
    if ((gamma && !g) || (beta && !b)) return;
    void *t16 = half_at(c, y); /* a transient output: only its halves are written */
    void *y16 = t16 ? t16 : half_shadow(be, y, rows * D);
    note_cuda(be, vck_layer_norm(c->stream, x, half_at(c, x), t16 ? NULL : y, rows, D, g, b, eps, y16), "layer_norm");
}

/* elements from the first of an operand's to the last any sequence reads */
static int64_t attn_span(int64_t n_seq, int64_t seq, int64_t len, int64_t tok, int64_t width)
{
    return (n_seq - 1) * seq + (len - 1) * tok + width;
}

/* The register attention kernel reads K and V as half: each (sequence, head)'s
 * keys are read once per 128 queries, so converting them once halves that
 * traffic. The copies keep the layout: the span from the first key element to
 * the last one any sequence reads. */
static bool half_kv(vc_backend *be, vck_attn *k)
{
    cuda_impl *c = impl_of(be);
    const int64_t nkv = (k->n_seq + k->kv_group - 1) / k->kv_group, width = (int64_t)k->heads * k->d;
    const int64_t kspan = attn_span(nkv, k->k_seq, k->lk, k->k_tok, width);
    const int64_t vspan = attn_span(nkv, k->v_seq, k->lk, k->v_tok, width);
    void *k16 = scratch(be, SCRATCH_ATT_K, (size_t)kspan * 2), *v16 = scratch(be, SCRATCH_ATT_V, (size_t)vspan * 2);
    if (!k16 || !v16) return false;
    mark(be, "attention K, V to fp16");
    note_cuda(be, vck_f32_to_f16(c->stream, k->k, k16, kspan), "attention K to fp16");
    note_cuda(be, vck_f32_to_f16(c->stream, k->v, v16, vspan), "attention V to fp16");
    k->k16 = k16;
    k->v16 = v16;
    return true;
}

/* Half operands (transient buffers) for a shape only the float32 kernel takes
 * (head widths the tensor-core kernel lacks, relative positions over more
 * than 32 frames): float copies in, the float32 kernel, the output back. */
static void attention_widened(vc_backend *be, vck_attn *k)
{
    cuda_impl *c = impl_of(be);
    const int64_t width = (int64_t)k->heads * k->d, nkv = (k->n_seq + k->kv_group - 1) / k->kv_group;
    struct { const void *h; float **f; int64_t span; int slot; } ops[4] = {
        {k->q16, (float **)&k->q, attn_span(k->n_seq, k->q_seq, k->lq, k->q_tok, width), SCRATCH_ATT_Q},
        {k->k16, (float **)&k->k, attn_span(nkv, k->k_seq, k->lk, k->k_tok, width), SCRATCH_ATT_K},
        {k->v16, (float **)&k->v, attn_span(nkv, k->v_seq, k->lk, k->v_tok, width), SCRATCH_ATT_V},
        {k->o16, &k->o, attn_span(k->n_seq, k->o_seq, k->lq, k->o_tok, width), SCRATCH_ATT_O},
    };
    mark(be, "attention (fp32, widened operands)");
    for (int i = 0; i < 4; i++) {
        if (!ops[i].h) continue;
        float *f = scratch(be, ops[i].slot, FBYTES(ops[i].span));
        if (!f) return;
        if (i < 3 || k->accumulate) note_cuda(be, vck_widen(c->stream, ops[i].h, false, f, ops[i].span), "attention operand");
        *ops[i].f = f;
    }
    void *o16 = k->o16;
    k->q16 = k->k16 = k->v16 = k->o16 = NULL;
    note_cuda(be, vck_attention(c->stream, k), "attention");
    if (o16) note_cuda(be, vck_f32_to_f16(c->stream, k->o, o16, ops[3].span), "attention output");
}

static void cu_attention(vc_backend *be, const vc_attn_args *a)
{
    enter(be, "attention");
    cuda_impl *c = impl_of(be);
    vck_attn k = {
        .q = a->q, .k = a->k, .v = a->v, .o = a->o, .n_seq = a->n_seq, .heads = a->heads, .lq = a->lq, .lk = a->lk,
        .d = a->d, .kv_group = a->kv_group, .q_tok = a->q_tok, .k_tok = a->k_tok, .v_tok = a->v_tok,
        .o_tok = a->o_tok, .q_seq = a->q_seq, .k_seq = a->k_seq, .v_seq = a->v_seq, .o_seq = a->o_seq,
        .scale = a->scale, .rel_max = a->rel_max, .causal = a->causal, .accumulate = a->accumulate,
        /* transient operands are read and written as the halves they are held as */
        .q16 = half_at(c, a->q), .k16 = half_at(c, a->k), .v16 = half_at(c, a->v), .o16 = half_at(c, a->o),
    };
    if (refuse_transient(be, "attention", vc_transient_kv_refusal(k.k16, k.v16))) return;
    size_t rel = FBYTES((int64_t)(2 * a->rel_max + 1) * a->d);
    if (a->rel_k) k.rel_k = dev_in(be, a->rel_k, rel);
    if (a->rel_v) k.rel_v = dev_in(be, a->rel_v, rel);
    if ((a->rel_k && !k.rel_k) || (a->rel_v && !k.rel_v)) return;
    if (vck_temporal_attention_supported(&k)) { /* the temporal transformer's T frames (§5.7) */
        mark(be, "attention (temporal)");
        note_cuda(be, vck_temporal_attention(c->stream, &k), "attention (temporal)");
    } else if (c->fast16 && vck_attention_fp16_supported(&k)) {
        if (c->flash_regs && !k.k16 && !half_kv(be, &k)) return;
        mark(be, c->flash_regs ? "attention (fp16 flash)" : "attention (fp16 flash, tiles)");
        note_cuda(be, vck_attention_fp16(c->stream, &k, c->flash_regs), "attention (fp16)");
    } else if (k.q16 || k.k16 || k.o16) {
        attention_widened(be, &k);
    } else {
        mark(be, "attention (fp32)");
        note_cuda(be, vck_attention(c->stream, &k), "attention");
    }
}

#define ELEMENTWISE(name, call) note_cuda(be, call, name)
static void cu_silu(vc_backend *be, const float *x, float *y, int64_t n) { enter(be, "silu"); ELEMENTWISE("silu", vck_silu(impl_of(be)->stream, x, y, n)); }
static void cu_gelu(vc_backend *be, const float *x, float *y, int64_t n) { enter(be, "gelu"); ELEMENTWISE("gelu", vck_gelu(impl_of(be)->stream, x, y, n)); }
static void cu_geglu(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner)
{
    enter(be, "geglu");
    ELEMENTWISE("geglu", vck_geglu(impl_of(be)->stream, x, y, rows, inner));
}

/* GEGLU feed-forward (§5.5). fp16 mode keeps the intermediates in half: the
 * first GEMM writes [rows, 2*inner] halves, one pass adds its bias and gates
 * them into [rows, inner] halves, which are the second GEMM's operand as they
 * are; float32 mode composes the ops it has. */
static void cu_feed_forward(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w1,
                            const float *b1, int32_t inner, const float *w2, const float *b2, int32_t out,
                            const float *residual, float *y)
{
    enter_keeping_half(be, "feed_forward");
    cuda_impl *c = impl_of(be);
    const size_t esz = c->fast16 ? 2 : 4;
    void *hid = scratch(be, SCRATCH_FF_HID, (size_t)(rows * 2 * inner) * esz);
    void *gg = scratch(be, SCRATCH_FF_ACT, (size_t)(rows * inner) * esz);
    if (!hid || !gg) return;
    if (!c->fast16) {
        cu_linear(be, x, rows, in, w1, b1, 2 * inner, NULL, hid);
        cu_geglu(be, hid, gg, rows, inner);
        cu_linear(be, gg, rows, inner, w2, b2, out, residual, y);
        return;
    }
    const float *db1 = dev_in(be, b1, FBYTES(2 * inner)), *db2 = dev_in(be, b2, FBYTES(out));
    if ((b1 && !db1) || (b2 && !db2)) return;
    /* the second weight after the first GEMM is queued: a per-layer widened
     * weight is rounded into the one staging buffer (weight_half) */
    const void *x16 = half_at(c, x); /* a transient layer norm output */
    const void *w1h = weight_half(be, w1, (int64_t)2 * inner * in), *xh = x16 ? x16 : act_half(be, x, rows * in);
    if (!w1h || !xh) return;
    gemm_rm_ex(be, true, true, false, true, (int)rows, 2 * inner, in, 1.0f, xh, in, 0, w1h, in, 0, 0.0f, hid,
               2 * inner, 0, 1);
    note_cuda(be, vck_geglu_bias_half(c->stream, hid, db1, gg, rows, inner), "geglu");
    void *y16 = half_at(c, y); /* a transient token stream: accumulated in half */
    const void *b16 = y16 ? bias_half(be, b2, out) : NULL;
    const void *w2h = weight_half(be, w2, (int64_t)out * inner);
    if (!w2h) return;
    const float *after = residual != y ? residual : NULL;
    if (y16 && refuse_transient(be, "feed_forward", vc_transient_accumulate_refusal(residual, y))) return;
    half_linear_out(be, rows, inner, out, gg, w2h, db2, b16, residual == y ? 1.0f : 0.0f, after, y, y16);
    wrote(be, y, rows * out);
}
static void cu_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n)
{
    enter(be, "add");
    const float *db = dev_in(be, b, FBYTES(n)); /* b may be a weight (position table) */
    if (db) ELEMENTWISE("add", vck_add(impl_of(be)->stream, a, db, y, n));
}
static void cu_axpby(vc_backend *be, float a, const float *x, float b, float *y, int64_t n)
{
    enter(be, "axpby");
    ELEMENTWISE("axpby", vck_axpby(impl_of(be)->stream, a, x, b, y, n));
}
static void cu_scale(vc_backend *be, const float *x, float s, float *y, int64_t n)
{
    enter(be, "scale");
    ELEMENTWISE("scale", vck_scale(impl_of(be)->stream, x, s, y, n));
}
static void cu_add_channel(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S, int64_t vs)
{
    enter(be, "add_channel");
    const float *dv = dev_in(be, v, FBYTES((n - 1) * vs + C));
    if (dv) ELEMENTWISE("add_channel", vck_add_channel(impl_of(be)->stream, x, dv, n, C, S, vs));
}
static void cu_permute(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape, const int32_t *perm)
{
    enter(be, "permute");
    int p[6] = {0};
    for (int i = 0; i < ndim && i < 6; i++) p[i] = perm[i];
    ELEMENTWISE("permute", vck_permute(impl_of(be)->stream, x, y, ndim, shape, p));
}
static void cu_upsample(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w)
{
    enter(be, "upsample_nearest2x");
    ELEMENTWISE("upsample", vck_upsample2x(impl_of(be)->stream, x, y, nc, h, w));
}
static void cu_concat(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb, float *y, int64_t n,
                      int64_t S)
{
    enter(be, "concat_channels");
    ELEMENTWISE("concat", vck_concat_channels(impl_of(be)->stream, a, ca, b, cb, y, n, S));
}
static void cu_ddim_step(vc_backend *be, const vc_ddim_args *a)
{
    enter(be, "ddim_step");
    vck_ddim d = {a->sq1ma, a->sqrt_a, a->dir, a->prev, a->scale, a->sigma, a->guidance, a->use_scale,
                  a->x, a->ec, a->eu, a->z, a->x_next, a->x0, a->n};
    ELEMENTWISE("ddim_step", vck_ddim_step(impl_of(be)->stream, &d));
}

/* Half-resident weights: the halves are uploaded once and stay on the GPU;
 * each use widens them on the device into the arena. */
static void cu_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n)
{
    enter(be, "widen");
    const void *d = dev_weight(be, src, (size_t)n * 2, COPY_RAW, NULL);
    if (d) ELEMENTWISE("widen", vck_widen(impl_of(be)->stream, d, dtype == VC_DTYPE_BF16, dst, n));
}

static void cu_destroy(vc_backend *be)
{
    enter(be, "destroy");
    cuda_impl *c = impl_of(be);
    if (c) {
        weight_cache_free(c);
        for (int i = 0; i < SCRATCH_N; i++)
            if (c->scratch[i]) cudaFree(c->scratch[i]);
        if (c->prof) {
            vc_cuda_prof_report(c->prof);
            vc_cuda_prof_free(c->prof);
        }
        vc_cudnn_close(c->dnn);
        vc_lt_destroy(c->lt);
        if (c->blas) cublasDestroy(c->blas);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

static vc_status cu_sync(vc_backend *be, char *msg, size_t cap)
{
    enter(be, "sync");
    cuda_impl *c = impl_of(be);
    note_cuda(be, cudaStreamSynchronize(c->stream), "synchronize");
    vc_status st = c->error;
    if (st != VC_STATUS_OK && msg && cap) snprintf(msg, cap, "%s", c->errtext);
    c->error = VC_STATUS_OK;
    return st;
}

static const vc_backend_ops cuda_ops = {
    .name = "cuda",
    .destroy = cu_destroy,
    .alloc = cu_alloc,
    .free = cu_free,
    .upload = cu_upload,
    .download = cu_download,
    .copy = cu_copy,
    .fill = cu_fill,
    .gemm = cu_gemm,
    .linear = cu_linear,
    .conv2d = cu_conv2d,
    .linear_strided = cu_linear_strided,
    .conv_temporal = cu_conv_temporal,
    .group_norm = cu_group_norm,
    .layer_norm = cu_layer_norm,
    .attention = cu_attention,
    .transient = cu_transient,
    .silu = cu_silu,
    .gelu = cu_gelu,
    .geglu = cu_geglu,
    .add = cu_add,
    .axpby = cu_axpby,
    .scale = cu_scale,
    .add_channel = cu_add_channel,
    .permute = cu_permute,
    .upsample_nearest2x = cu_upsample,
    .concat_channels = cu_concat,
    .ddim_step = cu_ddim_step,
    .sync = cu_sync,
    .widen = cu_widen,
    .feed_forward = cu_feed_forward,
};

/* fp16 mode: whether the attention kernel may rely on the accumulator layout
 * it assumes (kernels/flash_attention.cu); VIDEOCRAFTER_CUDA_FLASH_REGS=0 keeps
 * the variant that does not (for comparisons). */
static cudaError_t probe_flash_layout(cuda_impl *c)
{
    const char *env = getenv("VIDEOCRAFTER_CUDA_FLASH_REGS");
    c->flash_regs = false;
    if (env && !strcmp(env, "0")) return cudaSuccess;
    int *work = NULL;
    cudaError_t e = cudaMalloc((void **)&work, 32 * sizeof(int));
    if (e != cudaSuccess) return e;
    bool holds = false;
    e = (cudaError_t)vck_wmma_layout_probe(c->stream, work, &holds);
    cudaFree(work);
    c->flash_regs = e == cudaSuccess && holds;
    return e;
}

/* Entry point looked up by the core with dlsym. Writes a message into msg on failure. */
VC_CUDA_EXPORT vc_status VC_CUDA_ENTRY(vc_context *ctx, int32_t device, int32_t n_threads,
                                       vc_backend **out, char *msg, size_t cap)
{
    *out = NULL;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        snprintf(msg, cap, "no CUDA device is available (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return VC_STATUS_BACKEND_UNAVAILABLE;
    }
    if (device < 0 || device >= count) {
        snprintf(msg, cap, "CUDA device %d does not exist (this machine has %d)", device, count);
        return VC_STATUS_INVALID_ARGUMENT;
    }
    vc_backend *be = calloc(1, sizeof *be);
    cuda_impl *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        snprintf(msg, cap, "out of memory creating the cuda backend");
        return VC_STATUS_OUT_OF_MEMORY;
    }
    be->ops = &cuda_ops;
    be->ctx = ctx;
    be->n_threads = n_threads;
    be->impl = c;
    c->device = device;
    const char *prec = getenv("VIDEOCRAFTER_CUDA_PRECISION");
    c->fast16 = prec && strcmp(prec, "fp16") == 0;
    if ((e = cudaSetDevice(device)) != cudaSuccess || (e = cudaStreamCreate(&c->stream)) != cudaSuccess) {
        snprintf(msg, cap, "cuda: cannot initialise device %d: %s", device, cudaGetErrorString(e));
        cu_destroy(be);
        return VC_STATUS_BACKEND_ERROR;
    }
    if (cublasCreate(&c->blas) != CUBLAS_STATUS_SUCCESS) {
        snprintf(msg, cap, "cublas: cannot create a handle");
        cu_destroy(be);
        return VC_STATUS_BACKEND_ERROR;
    }
    cublasSetStream(c->blas, c->stream);
    /* float32 mode must be true float32: no TF32 (spec "Conventions") */
    cublasSetMathMode(c->blas, c->fast16 ? CUBLAS_DEFAULT_MATH : CUBLAS_PEDANTIC_MATH);
    const char *prof = getenv("VIDEOCRAFTER_CUDA_PROFILE");
    if (prof && !strcmp(prof, "1") && !(c->prof = vc_cuda_prof_new())) {
        snprintf(msg, cap, "cuda: cannot set up profiling (VIDEOCRAFTER_CUDA_PROFILE=1)");
        cu_destroy(be);
        return VC_STATUS_BACKEND_ERROR;
    }
    if (c->fast16 && (e = probe_flash_layout(c)) != cudaSuccess) {
        snprintf(msg, cap, "cuda: the fragment layout probe failed: %s", cudaGetErrorString(e));
        cu_destroy(be);
        return VC_STATUS_BACKEND_ERROR;
    }
    char why[200] = "", conv[240];
    c->dnn = vc_cudnn_open(c->stream, why, sizeof why);
    const char *lt = getenv("VIDEOCRAFTER_CUBLASLT"); /* off: the A/B comparison */
    if (!lt || strcmp(lt, "off")) c->lt = vc_lt_create();
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) snprintf(prop.name, sizeof prop.name, "?");
    snprintf(c->gpu, sizeof c->gpu, "%.80s", prop.name);
    if (c->dnn) snprintf(conv, sizeof conv, "cuDNN %s (its handle made at the first one)", vc_cudnn_version(c->dnn));
    else snprintf(conv, sizeof conv, "im2col + cuBLAS (cuDNN: %.200s)", why);
    describe(be, conv);
    c->device_set = true;
    *out = be;
    return VC_STATUS_OK;
}
