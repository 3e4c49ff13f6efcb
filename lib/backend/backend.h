/* backend.h - the compute backend vtable and its registry.
 *
 * Every tensor operation of the models goes through one vc_backend_ops table,
 * so a device backend (CUDA, in its own .so) can replace the CPU one. All
 * activations are float32, dense, row-major (C order); pointers are device
 * pointers of the backend (host memory for "cpu"). Weights are float32 arrays
 * the backend can read directly (host memory for "cpu").
 *
 * Ops never fail: arguments are validated by the callers (model code), and
 * memory comes from the caller. Allocation is the only fallible part and
 * returns NULL.
 */
#ifndef VC_BACKEND_H
#define VC_BACKEND_H

#include "../core/internal.h"

/* C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b] for b < batch; row-major,
 * op(A) is m x k, op(B) is k x n; stride_* step between batch items. */
typedef struct vc_gemm_args {
    bool trans_a, trans_b;
    int32_t m, n, k, batch;
    float alpha, beta;
    const float *a; int64_t lda, stride_a;
    const float *b; int64_t ldb, stride_b;
    float *c;       int64_t ldc, stride_c;
} vc_gemm_args;

/* GroupNorm over x [n, frames, C, S]: statistics per (n, group) over frames x
 * C/G channels x S positions, biased variance; optional SiLU after the
 * affine. frames 1: per image; > 1: jointly over a folded video's frames
 * (§5.10) without unfolding it. in_bias (may be NULL) is added to x on the way
 * in, x itself unchanged: sample i adds in_bias[(i / bias_group) * C + c] (the
 * bias of the convolution before, left to the norm, and per video the
 * ResBlock's time embedding, §5.4). y may alias x. */
typedef struct vc_group_norm_args {
    const float *x;
    float *y;
    int32_t n, frames, C, G;
    int64_t S;
    const float *gamma, *beta;              /* may be NULL: 1 and 0 */
    float eps;
    bool silu;
    const float *in_bias;                   /* may be NULL */
    int32_t bias_group;                     /* >= 1 when in_bias is set */
} vc_group_norm_args;

/* A linear layer across a transposition (the transformers' entry and exit,
 * §5.5, §5.7, without permuting the activations): for each of batch items,
 * Y = X W^T + bias (+ R) with X [rows, in], Y and R [rows, out], where
 * element (r, k) of item i's X is x[i*x_batch + r*x_row + k*x_col] and
 * element (r, o) of its Y is y[i*y_batch + r*y_row + o*y_col] (R likewise in
 * residual). x_col or x_row is 1. y is one of two dense layouts of
 * batch*rows*out floats: tokens (y_col 1, the rows of all items tile
 * [0, batch*rows)), or channel-major (y_row 1, y_col rows, y_batch out*rows).
 * w [out, in]; bias, residual may be NULL; residual may alias y, x must not. */
typedef struct vc_linear_args {
    const float *x; int64_t x_batch, x_row, x_col;
    const float *w, *bias;
    int32_t in, out;
    int64_t rows;
    int32_t batch;
    const float *residual;
    float *y; int64_t y_batch, y_row, y_col;
} vc_linear_args;

/* How a GEMM sees vc_linear_args: X row-major [rows, in] (*x_rows, leading
 * dimension *ldx) or transposed ([in, rows] row-major), Y as token rows
 * (*y_tokens, leading dimension *ldy) or channel-major. A single row or
 * column has unit strides both ways: it is read as the layout whose leading
 * dimension covers it. */
static inline void vc_linear_view(const vc_linear_args *a, bool *x_rows, int64_t *ldx, bool *y_tokens, int64_t *ldy)
{
    *x_rows = a->x_col == 1 && (a->x_row != 1 || a->rows == 1);
    if (*x_rows) *ldx = a->rows == 1 && a->x_row < a->in ? a->in : a->x_row;
    else *ldx = a->in == 1 && a->x_col < a->rows ? a->rows : a->x_col;
    *y_tokens = a->y_col == 1;
    *ldy = *y_tokens ? (a->rows == 1 && a->y_row < a->out ? a->out : a->y_row) : a->y_col;
}

/* y[n,co,oh,ow] = conv(x[n,ci,h,w], weight[co,ci,kh,kw]) + bias[co] (+ residual[n,co,oh,ow]);
 * cross-correlation, zero padding pad_{top,left,bottom,right}, oh = (h+pt+pb-kh)/stride+1.
 * y must not alias x; residual may alias y. */
typedef struct vc_conv2d_args {
    const float *x; int32_t n, ci, h, w;
    const float *weight; const float *bias; /* bias may be NULL */
    int32_t co, kh, kw, stride;
    int32_t pad_top, pad_left, pad_bottom, pad_right;
    const float *residual;                  /* may be NULL */
    float *y;
} vc_conv2d_args;

/* the output height and width of a vc_conv2d_args (stride > 0) */
static inline void vc_conv2d_out(const vc_conv2d_args *a, int64_t *oh, int64_t *ow)
{
    *oh = (a->h + a->pad_top + a->pad_bottom - a->kh) / a->stride + 1;
    *ow = (a->w + a->pad_left + a->pad_right - a->kw) / a->stride + 1;
}

/* The writes of a transient y (vc_backend_ops.transient) that are allowed:
 * the CUDA backend, which writes the halves it holds there directly, does
 * these and refuses the rest; the cpu-checked backend reports the rest.
 * NULL: allowed; else what is wrong. linear and feed_forward accumulate only
 * into y itself, linear_strided writes token rows only, the convolutions take
 * neither a bias nor a residual, and attention's keys and values are both
 * transient or neither. */
static inline const char *vc_transient_accumulate_refusal(const float *residual, const float *y)
{
    return residual && residual != y ? "a transient y written with a separate residual" : NULL;
}
static inline const char *vc_transient_strided_refusal(const vc_linear_args *a)
{
    return a->y_col != 1 ? "a transient y written channel-major" : vc_transient_accumulate_refusal(a->residual, a->y);
}
static inline const char *vc_transient_conv_refusal(const float *bias, const float *residual)
{
    return bias || residual ? "a transient y written with a bias or residual" : NULL;
}
static inline const char *vc_transient_kv_refusal(bool k_transient, bool v_transient)
{
    return k_transient != v_transient ? "keys and values not both transient or both not" : NULL;
}

/* Multi-head attention, o = softmax(scale * q k^T [+ rel-pos terms]) v, per
 * sequence and head. Head h owns channels [h*d, (h+1)*d) of a token vector.
 * Sequence s reads q at q + s*q_seq, k at k + (s/kv_group)*k_seq (same for v):
 * kv_group > 1 lets consecutive sequences (the frames of one video) share one
 * key/value set (spatial cross-attention, spec §5.5). Tokens are *_tok floats
 * apart. Implementations must not hold an [lq x lk] score matrix for all heads
 * and sequences at once (tile it). */
typedef struct vc_attn_args {
    const float *q, *k, *v;
    float *o;
    int32_t n_seq, heads, lq, lk, d;
    int32_t kv_group;                       /* >= 1 */
    int64_t q_tok, k_tok, v_tok, o_tok;
    int64_t q_seq, k_seq, v_seq, o_seq;
    float scale;
    /* Relative position (spec §5.7): tables [2*rel_max+1, d] shared by all heads;
     * S[i,j] += scale * q_i . rel_k[clamp(j-i,-M,M)+M]; o_i += sum_j P[i,j] rel_v[...]. */
    const float *rel_k, *rel_v;
    int32_t rel_max;
    bool causal;                            /* mask j > i */
    bool accumulate;                        /* o += result instead of o = result */
} vc_attn_args;

/* One DDIM step (spec §7.4), elementwise over n floats, in the original's
 * float32 order: e = eu + g (ec - eu) (eu NULL: e = ec); p0 = (x - sq1ma e) /
 * sqrt_a (/ scale when use_scale, §7.5); x_next = prev p0 + dir e (+ sigma z).
 * x_next may alias x; x0 (may be NULL) receives p0. */
typedef struct vc_ddim_args {
    float sq1ma, sqrt_a, dir, prev, scale, sigma, guidance;
    bool use_scale;
    const float *x, *ec, *eu, *z;           /* eu, z may be NULL */
    float *x_next, *x0;
    int64_t n;
} vc_ddim_args;

typedef struct vc_backend vc_backend;

typedef struct vc_backend_ops {
    const char *name;
    void (*destroy)(vc_backend *be);

    /* memory (bytes); alloc returns NULL on failure, 64-byte aligned */
    void *(*alloc)(vc_backend *be, size_t bytes);
    void (*free)(vc_backend *be, void *ptr);
    void (*upload)(vc_backend *be, void *dst, const void *host_src, size_t bytes);
    void (*download)(vc_backend *be, void *host_dst, const void *src, size_t bytes);
    void (*copy)(vc_backend *be, void *dst, const void *src, size_t bytes);
    void (*fill)(vc_backend *be, float *dst, float value, int64_t n);

    /* dense algebra */
    void (*gemm)(vc_backend *be, const vc_gemm_args *a);
    /* y[rows,out] = x[rows,in] . w[out,in]^T + bias[out] (+ residual[rows,out]);
     * bias, residual may be NULL; residual may alias y, x must not. */
    void (*linear)(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w,
                   const float *bias, int32_t out, const float *residual, float *y);
    void (*linear_strided)(vc_backend *be, const vc_linear_args *a);
    void (*conv2d)(vc_backend *be, const vc_conv2d_args *a);
    /* Temporal conv over frames (spec §5.4) in the folded layout: x [B,T,ci,S],
     * w [co,ci,kt], zero padding kt/2 frames on both ends, y [B,T,co,S]
     * (+ residual [B,T,co,S]). y must not alias x; residual may alias y. */
    void (*conv_temporal)(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S,
                          const float *w, const float *bias, int32_t co, int32_t kt,
                          const float *residual, float *y);

    /* normalisation */
    void (*group_norm)(vc_backend *be, const vc_group_norm_args *a);
    /* LayerNorm over the last axis of x [rows, D]; y may alias x. */
    void (*layer_norm)(vc_backend *be, const float *x, float *y, int64_t rows, int32_t D,
                       const float *gamma, const float *beta, float eps);

    void (*attention)(vc_backend *be, const vc_attn_args *a);
    /* Optional (NULL: nothing to do). Declares that, until the next call with
     * p NULL, the n floats at p are written only by linear (as y, with no
     * residual), conv2d and conv_temporal (as y, with no bias and no
     * residual), layer_norm and group_norm (y) and attention (o), and read
     * only by linear, attention (q, k, v, o) and as x by feed_forward,
     * linear_strided, conv2d, conv_temporal and group_norm -- normed
     * activations, attention intermediates, convolution outputs that only a
     * norm reads: a backend may hold them in its own format there (the CUDA
     * backend's fp16 mode: IEEE half). Call it before the first write; after
     * the mark is cleared, the memory must be written before it is read. The
     * conditions on those writes: vc_transient_*_refusal. The cpu-checked
     * backend reports any other use. Marks nest: p NULL clears all but the
     * first n (n = 0: all). */
    void (*transient)(vc_backend *be, float *p, int64_t n);

    /* elementwise (y may alias x) */
    void (*silu)(vc_backend *be, const float *x, float *y, int64_t n);
    void (*gelu)(vc_backend *be, const float *x, float *y, int64_t n);   /* exact erf form */
    /* y[r, i] = x[r, i] * gelu(x[r, inner + i]), x [rows, 2*inner], y [rows, inner] (spec §5.5) */
    void (*geglu)(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner);
    void (*add)(vc_backend *be, const float *a, const float *b, float *y, int64_t n); /* b may be a weight */
    /* y = a*x + b*y  (elementwise, scalars) */
    void (*axpby)(vc_backend *be, float a, const float *x, float b, float *y, int64_t n);
    void (*scale)(vc_backend *be, const float *x, float s, float *y, int64_t n);
    /* x[i, c, s] += v[i * v_stride + c] for x [n, C, S] (time embedding, spec §5.4) */
    void (*add_channel)(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S,
                        int64_t v_stride);
    /* y = x.permute(perm) made contiguous; shape is x's shape, ndim <= 6 */
    void (*permute)(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape,
                    const int32_t *perm);
    /* y[nc, 2h, 2w] = nearest x2 of x[nc, h, w] */
    void (*upsample_nearest2x)(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w);
    /* y[n, ca+cb, S] = concat(a[n, ca, S], b[n, cb, S]) along channels (a first) */
    void (*concat_channels)(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb,
                            float *y, int64_t n, int64_t S);

    void (*ddim_step)(vc_backend *be, const vc_ddim_args *a);

    /* Waits for queued work; returns the first failure since the last sync
     * (device backends), with its text in msg. NULL: nothing can fail. */
    vc_status (*sync)(vc_backend *be, char *msg, size_t cap);

    /* dst[n] (backend memory) = src[n] half floats (host memory, dtype
     * VC_DTYPE_F16 or VC_DTYPE_BF16) widened exactly to float32: half-resident
     * weights one layer at a time (issue #10). NULL: vc_backend_widen does it
     * on the host and uploads. */
    void (*widen)(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n);

    /* Optional fused GEGLU feed-forward (spec §5.5) on x [rows, in]:
     * y = residual + W2 geglu(W1 x + b1) + b2, w1 [2*inner, in], w2 [out, inner],
     * residual may alias y. NULL: the model composes linear, geglu, linear, which
     * is what the CPU backend does anyway; a GPU keeps the [rows, 2*inner]
     * intermediate in its own precision. */
    void (*feed_forward)(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w1,
                         const float *b1, int32_t inner, const float *w2, const float *b2, int32_t out,
                         const float *residual, float *y);

    /* Address space of *bytes whose pages take memory only once written
     * (host backends), for the arena's single stack: its resident size is then
     * the working set actually used. May lower *bytes; NULL result (or no op):
     * the arena allocates blocks with alloc. unreserve returns it. */
    void *(*reserve)(vc_backend *be, size_t *bytes);
    void (*unreserve)(vc_backend *be, void *p, size_t bytes);
} vc_backend_ops;

/* Stack-like working-memory arena on the backend's memory. */
typedef struct vc_arena_block vc_arena_block;
typedef struct vc_arena {
    vc_arena_block *blocks;
    size_t used, peak;
} vc_arena;

struct vc_backend {
    const vc_backend_ops *ops;
    vc_context *ctx;
    int32_t n_threads;
    vc_arena arena;
    void *impl;
    char detail[384];            /* optional: what the backend runs on and how, logged at INFO */
};

/* The CUDA library's entry point (lib/backend/cuda/cuda_backend.c), looked up by
 * name: the number changes whenever struct vc_backend or vc_backend_ops change,
 * so a core and a CUDA library from different builds refuse each other cleanly. */
#define VC_CUDA_ENTRY vc_cuda_backend_create_v3
#define VC_CUDA_ENTRY_NAME "vc_cuda_backend_create_v3"

/* Registry: creates the backend called name ("cpu", "cuda"). */
VC_HIDDEN vc_status vc_backend_create(vc_context *ctx, const char *name, int32_t device,
                                      int32_t n_threads, vc_backend **out);
VC_HIDDEN void vc_backend_destroy(vc_backend *be);
/* Completes queued work and reports a device failure through vc_fail. Call at
 * the end of every public operation that ran kernels. */
VC_HIDDEN vc_status vc_backend_sync(vc_backend *be);

/* ops->widen, or host widening in chunks + upload where a backend has none. */
VC_HIDDEN void vc_backend_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n);
/* n half-resident weights widened into a new arena allocation (freed with the
 * caller's mark): the per-layer view of weights_dtype f16/bf16. NULL when the
 * arena is full. */
VC_HIDDEN const float *vc_arena_widen(vc_backend *be, const uint16_t *src, vc_dtype dtype, int64_t n);

/* The CPU backend (lib/backend/cpu/). */
/* "cpu-checked" (lib/backend/checked.c): the CPU backend behind device
 * addresses the host cannot dereference, and strict about which arguments may
 * be host memory: runs the models as a GPU backend would see them, on any
 * machine (make check-isolated). */
VC_HIDDEN vc_status vc_checked_backend_create(vc_context *ctx, int32_t n_threads, vc_backend **out);
VC_HIDDEN vc_status vc_cpu_backend_create(vc_context *ctx, int32_t n_threads, vc_backend **out);

/* Arena: marks are released in LIFO order; vc_arena_alloc returns NULL on OOM. */
VC_HIDDEN size_t vc_arena_mark(vc_backend *be);
VC_HIDDEN void *vc_arena_alloc(vc_backend *be, size_t bytes);
VC_HIDDEN float *vc_arena_floats(vc_backend *be, int64_t n);
VC_HIDDEN void vc_arena_release(vc_backend *be, size_t mark);
VC_HIDDEN void vc_arena_destroy(vc_backend *be);

#endif
