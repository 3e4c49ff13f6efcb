/* cuda_backend.c - the CUDA backend (libvideocrafter-cuda.so.1), loaded at run
 * time by the core (lib/backend/registry.c) so the core runs without CUDA.
 *
 * Activations live in device memory from the backend's alloc. Read-only inputs
 * that arrive as host pointers (the model's weights, which are host arrays of
 * the weight store) are uploaded once and cached by (pointer, size): weights
 * upload once per context and stay on the GPU. GEMMs and convolutions go
 * through cuBLAS (convolutions as im2col + GEMM), the rest through the
 * hand-written kernels of kernels/. Precision: float32 by default (TF32 off,
 * spec "Conventions"); VIDEOCRAFTER_CUDA_PRECISION=fp16 lets cuBLAS use fp16
 * tensor cores with float32 accumulation.
 */
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../kernels/vc_kernels.h"
#include "../backend.h"

#define VC_CUDA_EXPORT __attribute__((visibility("default")))

typedef struct weight_slot {
    const void *host;
    size_t bytes;
    void *dev;
} weight_slot;

typedef struct cuda_impl {
    int device;
    cudaStream_t stream;
    cublasHandle_t blas;
    bool fast16;
    vc_status error;           /* first failure since the last sync */
    char errtext[256];
    weight_slot *slots;        /* open addressing on the host pointer */
    size_t n_slots, used_slots;
    float *scratch;            /* im2col buffer */
    size_t scratch_bytes;
} cuda_impl;

static cuda_impl *impl_of(vc_backend *be) { return (cuda_impl *)be->impl; }

/* Errors cannot be returned from ops: the first one is kept and reported by sync. */
static void note_cuda(vc_backend *be, int err, const char *what)
{
    cuda_impl *c = impl_of(be);
    if (err == 0 || c->error != VC_STATUS_OK) return;
    c->error = VC_STATUS_BACKEND_ERROR;
    snprintf(c->errtext, sizeof c->errtext, "cuda: %s failed: %s", what, cudaGetErrorString((cudaError_t)err));
}

static void note_blas(vc_backend *be, cublasStatus_t st, const char *what)
{
    cuda_impl *c = impl_of(be);
    if (st == CUBLAS_STATUS_SUCCESS || c->error != VC_STATUS_OK) return;
    c->error = VC_STATUS_BACKEND_ERROR;
    snprintf(c->errtext, sizeof c->errtext, "cublas: %s failed (status %d)", what, (int)st);
}

static size_t hash_ptr(const void *p, size_t n) { return (((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) & (n - 1); }

static bool grow_slots(cuda_impl *c)
{
    size_t n = c->n_slots ? c->n_slots * 2 : 4096;
    weight_slot *s = calloc(n, sizeof *s);
    if (!s) return false;
    for (size_t i = 0; i < c->n_slots; i++) {
        if (!c->slots[i].host) continue;
        size_t h = hash_ptr(c->slots[i].host, n);
        while (s[h].host) h = (h + 1) & (n - 1);
        s[h] = c->slots[i];
    }
    free(c->slots);
    c->slots = s;
    c->n_slots = n;
    return true;
}

/* Device view of a read-only input: device pointers pass through, host memory
 * is uploaded once (weights) and cached. */
static const float *dev_in(vc_backend *be, const void *p, size_t bytes)
{
    if (!p) return NULL;
    cuda_impl *c = impl_of(be);
    struct cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, p) == cudaSuccess &&
        (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged))
        return p;
    cudaGetLastError(); /* clear the sticky "invalid value" of unregistered host memory */
    if (c->n_slots) {
        for (size_t h = hash_ptr(p, c->n_slots); c->slots[h].host; h = (h + 1) & (c->n_slots - 1))
            if (c->slots[h].host == p && c->slots[h].bytes >= bytes) return c->slots[h].dev;
    }
    if ((c->used_slots + 1) * 2 > c->n_slots && !grow_slots(c)) {
        note_cuda(be, cudaErrorMemoryAllocation, "weight cache");
        return NULL;
    }
    void *d = NULL;
    int e = cudaMalloc(&d, bytes ? bytes : 4);
    if (e == 0) e = cudaMemcpyAsync(d, p, bytes, cudaMemcpyHostToDevice, c->stream);
    if (e) {
        note_cuda(be, e, "weight upload");
        return NULL;
    }
    size_t h = hash_ptr(p, c->n_slots);
    while (c->slots[h].host && c->slots[h].host != p) h = (h + 1) & (c->n_slots - 1);
    if (c->slots[h].host == p) cudaFree(c->slots[h].dev); /* a larger view of the same pointer */
    else c->used_slots++;
    c->slots[h] = (weight_slot){p, bytes, d};
    return d;
}

#define FBYTES(n) ((size_t)(n) * sizeof(float))

static void *cu_alloc(vc_backend *be, size_t bytes)
{
    void *p = NULL;
    if (cudaMalloc(&p, bytes ? bytes : 64) != cudaSuccess) {
        cudaGetLastError();
        return NULL;
    }
    return p;
}
static void cu_free(vc_backend *be, void *p)
{
    if (p) cudaFree(p);
}
static void cu_upload(vc_backend *be, void *dst, const void *src, size_t n)
{
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, impl_of(be)->stream), "upload");
}
static void cu_download(vc_backend *be, void *dst, const void *src, size_t n)
{
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, impl_of(be)->stream), "download");
    note_cuda(be, cudaStreamSynchronize(impl_of(be)->stream), "download");
}
static void cu_copy(vc_backend *be, void *dst, const void *src, size_t n)
{
    note_cuda(be, cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, impl_of(be)->stream), "copy");
}
static void cu_fill(vc_backend *be, float *y, float v, int64_t n) { note_cuda(be, vck_fill(impl_of(be)->stream, y, v, n), "fill"); }

/* Row-major C = op(A) op(B) through column-major cuBLAS: C^T = op(B)^T op(A)^T. */
static void gemm_rm(vc_backend *be, bool ta, bool tb, int m, int n, int k, float alpha, const float *A, int64_t lda,
                    int64_t sa, const float *B, int64_t ldb, int64_t sb, float beta, float *C, int64_t ldc, int64_t sc,
                    int batch)
{
    cuda_impl *c = impl_of(be);
    cublasOperation_t opa = tb ? CUBLAS_OP_T : CUBLAS_OP_N, opb = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasComputeType_t ct = c->fast16 ? CUBLAS_COMPUTE_32F_FAST_16F : CUBLAS_COMPUTE_32F;
    cublasStatus_t st = cublasGemmStridedBatchedEx(c->blas, opa, opb, n, m, k, &alpha, B, CUDA_R_32F, (int)ldb, sb, A,
                                                   CUDA_R_32F, (int)lda, sa, &beta, C, CUDA_R_32F, (int)ldc, sc, batch,
                                                   ct, CUBLAS_GEMM_DEFAULT);
    note_blas(be, st, "gemm");
}

static void cu_gemm(vc_backend *be, const vc_gemm_args *a)
{
    gemm_rm(be, a->trans_a, a->trans_b, a->m, a->n, a->k, a->alpha, a->a, a->lda, a->stride_a, a->b, a->ldb,
            a->stride_b, a->beta, a->c, a->ldc, a->stride_c, a->batch);
}

static void cu_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w, const float *bias,
                      int32_t out, const float *residual, float *y)
{
    const float *dw = dev_in(be, w, FBYTES((int64_t)out * in));
    const float *db = dev_in(be, bias, FBYTES(out));
    if (!dw || (bias && !db)) return;
    if (residual && residual != y) cu_copy(be, y, residual, FBYTES(rows * out));
    gemm_rm(be, false, true, (int)rows, out, in, 1.0f, x, in, 0, dw, in, 0, residual ? 1.0f : 0.0f, y, out, 0, 1);
    if (db) note_cuda(be, vck_add_channel(impl_of(be)->stream, y, db, rows, out, 1, 0), "bias");
}

static float *scratch(vc_backend *be, size_t bytes)
{
    cuda_impl *c = impl_of(be);
    if (c->scratch_bytes < bytes) {
        if (c->scratch) cudaFree(c->scratch);
        c->scratch = NULL;
        c->scratch_bytes = 0;
        if (cudaMalloc((void **)&c->scratch, bytes) != cudaSuccess) {
            note_cuda(be, cudaErrorMemoryAllocation, "im2col buffer");
            return NULL;
        }
        c->scratch_bytes = bytes;
    }
    return c->scratch;
}

static void cu_conv2d(vc_backend *be, const vc_conv2d_args *a)
{
    cuda_impl *c = impl_of(be);
    int oh = (a->h + a->pad_top + a->pad_bottom - a->kh) / a->stride + 1;
    int ow = (a->w + a->pad_left + a->pad_right - a->kw) / a->stride + 1;
    int64_t K = (int64_t)a->ci * a->kh * a->kw, P = (int64_t)oh * ow;
    const float *dw = dev_in(be, a->weight, FBYTES(a->co * K));
    const float *db = dev_in(be, a->bias, FBYTES(a->co));
    if (!dw || (a->bias && !db)) return;
    bool direct = a->kh == 1 && a->kw == 1 && a->stride == 1 && !a->pad_top && !a->pad_left && !a->pad_bottom &&
                  !a->pad_right;
    float *cols = direct ? NULL : scratch(be, FBYTES(K * P));
    if (!direct && !cols) return;
    for (int i = 0; i < a->n; i++) {
        const float *xi = a->x + (int64_t)i * a->ci * a->h * a->w;
        float *yi = a->y + (int64_t)i * a->co * P;
        if (!direct) {
            note_cuda(be, vck_im2col(c->stream, xi, a->ci, a->h, a->w, a->kh, a->kw, a->stride, a->pad_top,
                                     a->pad_left, oh, ow, cols), "im2col");
        }
        /* y[co, P] = W[co, K] . cols[K, P] */
        gemm_rm(be, false, false, a->co, (int)P, (int)K, 1.0f, dw, K, 0, direct ? xi : cols, P, 0, 0.0f, yi, P, 0, 1);
    }
    note_cuda(be, vck_bias_residual(c->stream, a->y, db, a->residual, a->n, a->co, P), "conv bias");
}

static void cu_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S,
                             const float *w, const float *bias, int32_t co, int32_t kt, const float *residual, float *y)
{
    cuda_impl *c = impl_of(be);
    /* repack w [co, ci, kt] into kt matrices [co, ci] once, through the cache of the packed copy */
    const float *dw = dev_in(be, w, FBYTES((int64_t)co * ci * kt));
    const float *db = dev_in(be, bias, FBYTES(co));
    if (!dw || (bias && !db)) return;
    float *wt = scratch(be, FBYTES((int64_t)co * ci * kt));
    if (!wt) return;
    int64_t shape[3] = {co, ci, kt};
    int perm[3] = {2, 0, 1};
    note_cuda(be, vck_permute(c->stream, dw, wt, 3, shape, perm), "temporal weight");
    int pad = kt / 2;
    cu_fill(be, y, 0.0f, (int64_t)B * co * T * S); /* frames a tap does not reach stay zero-padded */
    for (int b = 0; b < B; b++) {
        const float *xb = x + (int64_t)b * ci * T * S;
        float *yb = y + (int64_t)b * co * T * S;
        for (int tau = 0; tau < kt; tau++) {
            int shift = tau - pad;        /* y[t] += W_tau x[t + shift] */
            int t0 = shift < 0 ? -shift : 0, t1 = shift > 0 ? T - shift : T;
            if (t1 <= t0) continue;
            gemm_rm(be, false, false, co, (int)((t1 - t0) * S), ci, 1.0f, wt + (int64_t)tau * co * ci, ci, 0,
                    xb + (int64_t)(t0 + shift) * S, (int64_t)T * S, 0, 1.0f, yb + (int64_t)t0 * S,
                    (int64_t)T * S, 0, 1);
        }
    }
    note_cuda(be, vck_bias_residual(c->stream, y, db, residual, B, co, (int64_t)T * S), "temporal bias");
}

static void cu_group_norm(vc_backend *be, const float *x, float *y, int32_t n, int32_t C, int64_t S, int32_t G,
                          const float *gamma, const float *beta, float eps, bool silu)
{
    const float *g = dev_in(be, gamma, FBYTES(C)), *b = dev_in(be, beta, FBYTES(C));
    if (!g || !b) return;
    note_cuda(be, vck_group_norm(impl_of(be)->stream, x, y, n, C, S, G, g, b, eps, silu), "group_norm");
}

static void cu_layer_norm(vc_backend *be, const float *x, float *y, int64_t rows, int32_t D, const float *gamma,
                          const float *beta, float eps)
{
    const float *g = dev_in(be, gamma, FBYTES(D)), *b = dev_in(be, beta, FBYTES(D));
    const float *dx = dev_in(be, x, FBYTES(rows * D));
    if (!g || !b || !dx) return;
    note_cuda(be, vck_layer_norm(impl_of(be)->stream, dx, y, rows, D, g, b, eps), "layer_norm");
}

static void cu_attention(vc_backend *be, const vc_attn_args *a)
{
    vck_attn k = {a->q, a->k, a->v, a->o, a->n_seq, a->heads, a->lq, a->lk, a->d, a->kv_group,
                  a->q_tok, a->k_tok, a->v_tok, a->o_tok, a->q_seq, a->k_seq, a->v_seq, a->o_seq, a->scale,
                  NULL, NULL, a->rel_max, a->causal, a->accumulate};
    size_t rel = FBYTES((int64_t)(2 * a->rel_max + 1) * a->d);
    if (a->rel_k) k.rel_k = dev_in(be, a->rel_k, rel);
    if (a->rel_v) k.rel_v = dev_in(be, a->rel_v, rel);
    if ((a->rel_k && !k.rel_k) || (a->rel_v && !k.rel_v)) return;
    note_cuda(be, vck_attention(impl_of(be)->stream, &k), "attention");
}

#define ELEMENTWISE(name, call) note_cuda(be, call, name)
static void cu_silu(vc_backend *be, const float *x, float *y, int64_t n) { ELEMENTWISE("silu", vck_silu(impl_of(be)->stream, x, y, n)); }
static void cu_gelu(vc_backend *be, const float *x, float *y, int64_t n) { ELEMENTWISE("gelu", vck_gelu(impl_of(be)->stream, x, y, n)); }
static void cu_geglu(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner)
{
    ELEMENTWISE("geglu", vck_geglu(impl_of(be)->stream, x, y, rows, inner));
}
static void cu_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n)
{
    const float *da = dev_in(be, a, FBYTES(n)), *db = dev_in(be, b, FBYTES(n));
    if (da && db) ELEMENTWISE("add", vck_add(impl_of(be)->stream, da, db, y, n));
}
static void cu_axpby(vc_backend *be, float a, const float *x, float b, float *y, int64_t n)
{
    const float *dx = dev_in(be, x, FBYTES(n));
    if (dx) ELEMENTWISE("axpby", vck_axpby(impl_of(be)->stream, a, dx, b, y, n));
}
static void cu_scale(vc_backend *be, const float *x, float s, float *y, int64_t n)
{
    ELEMENTWISE("scale", vck_scale(impl_of(be)->stream, x, s, y, n));
}
static void cu_add_channel(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S, int64_t vs)
{
    const float *dv = dev_in(be, v, FBYTES((n - 1) * vs + C));
    if (dv) ELEMENTWISE("add_channel", vck_add_channel(impl_of(be)->stream, x, dv, n, C, S, vs));
}
static void cu_permute(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape, const int32_t *perm)
{
    int p[6];
    int64_t n = 1;
    for (int i = 0; i < ndim && i < 6; i++) {
        p[i] = perm[i];
        n *= shape[i];
    }
    const float *dx = dev_in(be, x, FBYTES(n));
    if (dx) ELEMENTWISE("permute", vck_permute(impl_of(be)->stream, dx, y, ndim, shape, p));
}
static void cu_upsample(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w)
{
    ELEMENTWISE("upsample", vck_upsample2x(impl_of(be)->stream, x, y, nc, h, w));
}
static void cu_concat(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb, float *y, int64_t n,
                      int64_t S)
{
    ELEMENTWISE("concat", vck_concat_channels(impl_of(be)->stream, a, ca, b, cb, y, n, S));
}

static void cu_destroy(vc_backend *be)
{
    cuda_impl *c = impl_of(be);
    if (c) {
        for (size_t i = 0; i < c->n_slots; i++)
            if (c->slots[i].host) cudaFree(c->slots[i].dev);
        free(c->slots);
        if (c->scratch) cudaFree(c->scratch);
        if (c->blas) cublasDestroy(c->blas);
        if (c->stream) cudaStreamDestroy(c->stream);
        free(c);
    }
    free(be);
}

static vc_status cu_sync(vc_backend *be, char *msg, size_t cap)
{
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
    .conv_temporal = cu_conv_temporal,
    .group_norm = cu_group_norm,
    .layer_norm = cu_layer_norm,
    .attention = cu_attention,
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
    .sync = cu_sync,
};

/* Entry point looked up by the core with dlsym. Writes a message into msg on failure. */
VC_CUDA_EXPORT vc_status vc_cuda_backend_create_v1(vc_context *ctx, int32_t device, int32_t n_threads,
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
    *out = be;
    return VC_STATUS_OK;
}
