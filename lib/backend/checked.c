/* checked.c - the "cpu-checked" backend: the CPU backend seen through device
 * addresses, for testing the model code's host/device discipline without a GPU.
 *
 * Memory from alloc/reserve is handed out at its address plus 2^62, which is
 * not canonical on x86-64 (nor mapped on any 64-bit host), so model code that
 * dereferences backend memory on the host faults at once instead of working by
 * accident as it would on the plain CPU backend. Each op turns such addresses
 * back before calling the CPU op. Arguments are also checked the way a device
 * backend needs them: outputs and activations must be backend memory; only the
 * weight-like inputs (weights, biases, norm affines, relative-position tables,
 * the time-embedding vector) may be host arrays, which a device backend uploads
 * once and caches (add's second operand too: position tables). Transient
 * buffers (vc_backend_ops.transient) may be touched only by the ops allowed
 * to; once their marks are cleared, their memory holds the backend's own
 * format (the CUDA fp16 mode: halves) until an op writes it again, so an op
 * that reads it before then is reported too. The first violation is reported
 * by sync as a backend error naming the op and the argument.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define FAKE_BIT ((uintptr_t)1 << 62)

#define MAX_TRANSIENT 32

typedef struct addr_range {
    uintptr_t begin, end; /* handed-out addresses */
} addr_range;

typedef struct checked_impl {
    vc_backend *cpu;
    char violation[256];
    addr_range transient[MAX_TRANSIENT];
    int n_transient;
    addr_range stale[MAX_TRANSIENT]; /* cleared transient memory not written since */
    int n_stale;
} checked_impl;

static checked_impl *impl_of(vc_backend *be) { return be->impl; }
static vc_backend *inner(vc_backend *be) { return impl_of(be)->cpu; }

static bool is_fake(const void *p) { return ((uintptr_t)p & FAKE_BIT) != 0; }
static void *fake(void *p) { return p ? (void *)((uintptr_t)p | FAKE_BIT) : NULL; }

/* arg NULL: why names the argument itself (backend.h's vc_transient_*_refusal) */
static void violate(vc_backend *be, const char *op, const char *arg, const char *why)
{
    checked_impl *c = impl_of(be);
    if (c->violation[0]) return;
    snprintf(c->violation, sizeof c->violation, "cpu-checked: %s: %s%s%s", op, arg ? arg : "", arg ? " " : "", why);
}

static bool in_ranges(const addr_range *r, int n, const void *p)
{
    for (int i = 0; i < n; i++)
        if ((uintptr_t)p >= r[i].begin && (uintptr_t)p < r[i].end) return true;
    return false;
}

static bool in_transient(vc_backend *be, const void *p)
{
    const checked_impl *c = impl_of(be);
    return in_ranges(c->transient, c->n_transient, p);
}

/* [begin, end) is no longer stale: trims or splits the stale ranges it meets
 * (a range that does not fit any more is forgotten: fewer checks, never a
 * false report) */
static void unstale(checked_impl *c, uintptr_t begin, uintptr_t end)
{
    addr_range keep[2 * MAX_TRANSIENT];
    int n = 0;
    for (int i = 0; i < c->n_stale; i++) {
        const addr_range r = c->stale[i];
        if (end <= r.begin || begin >= r.end) {
            keep[n++] = r;
            continue;
        }
        if (r.begin < begin) keep[n++] = (addr_range){r.begin, begin};
        if (end < r.end) keep[n++] = (addr_range){end, r.end};
    }
    c->n_stale = n < MAX_TRANSIENT ? n : MAX_TRANSIENT;
    memcpy(c->stale, keep, (size_t)c->n_stale * sizeof *keep);
}

/* After an op: what it wrote (bytes from the handed-out address p) holds
 * floats again. */
static void wrote(vc_backend *be, const void *p, int64_t bytes)
{
    checked_impl *c = impl_of(be);
    if (p && is_fake(p) && bytes > 0 && c->n_stale) unstale(c, (uintptr_t)p, (uintptr_t)p + (uintptr_t)bytes);
}
#define WROTE(p, n) wrote(be, p, (int64_t)(n) * (int64_t)sizeof(float))

/* Arguments an op only writes (or also reads, in place: those reads go
 * unchecked, which misses rather than misreports). */
static bool output_arg(const char *arg)
{
    static const char *const outs[] = {"y", "o", "c", "dst", "x_next", "x0", "ptr", "p"};
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        if (!strcmp(arg, outs[i])) return true;
    return false;
}

/* The arguments through which a transient buffer may be used: linear's x and
 * y, attention's q, k, v, o, y of the norms, the convolutions (without bias
 * and residual), linear_strided (token rows) and feed_forward (the ops check
 * the conditions), and x of feed_forward, linear_strided, conv2d,
 * conv_temporal and both norms. */
static bool transient_use(const char *op, const char *arg)
{
    static const char *const readers[] = {"feed_forward", "linear_strided", "conv2d", "conv_temporal", "group_norm",
                                          "layer_norm"};
    static const char *const writers[] = {"layer_norm", "group_norm", "conv2d", "conv_temporal", "linear_strided",
                                          "feed_forward"};
    if (!strcmp(op, "linear") || !strcmp(op, "attention")) return true;
    if (!strcmp(arg, "y"))
        for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++)
            if (!strcmp(op, writers[i])) return true;
    if (!strcmp(arg, "x"))
        for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
            if (!strcmp(op, readers[i])) return true;
    return false;
}

/* Backend memory argument: must be a handed-out address (or NULL), and inside a
 * transient buffer only where transient_use allows. */
static void *dev(vc_backend *be, const void *p, const char *op, const char *arg)
{
    if (!p) return NULL;
    if (!is_fake(p)) {
        violate(be, op, arg, "is host memory where backend memory is required");
        return (void *)p;
    }
    if (!transient_use(op, arg) && in_transient(be, p))
        violate(be, op, arg, "is in a transient buffer (vc_backend_ops.transient), which this op may not touch");
    const checked_impl *c = impl_of(be);
    if (!output_arg(arg) && in_ranges(c->stale, c->n_stale, p))
        violate(be, op, arg, "reads a transient buffer after its mark was cleared, before anything rewrote it");
    return (void *)((uintptr_t)p & ~FAKE_BIT);
}

/* Weight-like input: backend memory or a host array. */
static const float *wgt(const void *p) { return (const float *)((uintptr_t)p & ~FAKE_BIT); }

/* Host memory argument of upload/download/widen. */
static void *host(vc_backend *be, const void *p, const char *op, const char *arg)
{
    if (is_fake(p)) {
        violate(be, op, arg, "is backend memory where host memory is required");
        return (void *)((uintptr_t)p & ~FAKE_BIT);
    }
    return (void *)p;
}

#define OPS (inner(be)->ops)
#define D(p, arg) dev(be, p, __func__ + 3, arg)

static void *ck_alloc(vc_backend *be, size_t bytes) { return fake(OPS->alloc(inner(be), bytes)); }
static void ck_free(vc_backend *be, void *p) { OPS->free(inner(be), D(p, "ptr")); }
static void ck_upload(vc_backend *be, void *dst, const void *src, size_t n)
{
    OPS->upload(inner(be), D(dst, "dst"), host(be, src, "upload", "src"), n);
    wrote(be, dst, (int64_t)n);
}
static void ck_download(vc_backend *be, void *dst, const void *src, size_t n)
{
    OPS->download(inner(be), host(be, dst, "download", "dst"), D(src, "src"), n);
}
static void ck_copy(vc_backend *be, void *dst, const void *src, size_t n)
{
    OPS->copy(inner(be), D(dst, "dst"), D(src, "src"), n);
    wrote(be, dst, (int64_t)n);
}
static void ck_fill(vc_backend *be, float *y, float v, int64_t n)
{
    OPS->fill(inner(be), D(y, "y"), v, n);
    WROTE(y, n);
}

static void ck_gemm(vc_backend *be, const vc_gemm_args *a)
{
    vc_gemm_args g = *a;
    g.a = D(a->a, "a");
    g.b = D(a->b, "b");
    g.c = D(a->c, "c");
    OPS->gemm(inner(be), &g);
    if (a->batch > 0 && a->m > 0) WROTE(a->c, (a->batch - 1) * a->stride_c + (int64_t)(a->m - 1) * a->ldc + a->n);
}
static void ck_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w, const float *bias,
                      int32_t out, const float *residual, float *y)
{
    const char *refusal = vc_transient_accumulate_refusal(residual, y);
    if (refusal && in_transient(be, y)) violate(be, "linear", NULL, refusal);
    OPS->linear(inner(be), D(x, "x"), rows, in, wgt(w), wgt(bias), out, D(residual, "residual"), D(y, "y"));
    WROTE(y, rows * out);
}
static void ck_linear_strided(vc_backend *be, const vc_linear_args *a)
{
    const char *refusal = vc_transient_strided_refusal(a);
    if (refusal && in_transient(be, a->y)) violate(be, "linear_strided", NULL, refusal);
    vc_linear_args l = *a;
    l.x = D(a->x, "x");
    l.w = wgt(a->w);
    l.bias = wgt(a->bias);
    l.residual = D(a->residual, "residual");
    l.y = D(a->y, "y");
    OPS->linear_strided(inner(be), &l);
    if (a->batch > 0 && a->rows > 0 && a->out > 0)
        WROTE(a->y, (a->batch - 1) * a->y_batch + (a->rows - 1) * a->y_row + (int64_t)(a->out - 1) * a->y_col + 1);
}
static void ck_conv2d(vc_backend *be, const vc_conv2d_args *a)
{
    const char *refusal = vc_transient_conv_refusal(a->bias, a->residual);
    if (refusal && in_transient(be, a->y)) violate(be, "conv2d", NULL, refusal);
    vc_conv2d_args c = *a;
    c.x = D(a->x, "x");
    c.weight = wgt(a->weight);
    c.bias = wgt(a->bias);
    c.residual = D(a->residual, "residual");
    c.y = D(a->y, "y");
    OPS->conv2d(inner(be), &c);
    if (a->stride > 0) {
        int64_t oh, ow;
        vc_conv2d_out(a, &oh, &ow);
        WROTE(a->y, (int64_t)a->n * a->co * oh * ow);
    }
}
static void ck_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S,
                             const float *w, const float *bias, int32_t co, int32_t kt, const float *residual, float *y)
{
    const char *refusal = vc_transient_conv_refusal(bias, residual);
    if (refusal && in_transient(be, y)) violate(be, "conv_temporal", NULL, refusal);
    OPS->conv_temporal(inner(be), D(x, "x"), B, ci, T, S, wgt(w), wgt(bias), co, kt, D(residual, "residual"),
                       D(y, "y"));
    WROTE(y, (int64_t)B * T * co * S);
}
static void ck_group_norm(vc_backend *be, const vc_group_norm_args *a)
{
    vc_group_norm_args g = *a;
    g.x = D(a->x, "x");
    g.y = D(a->y, "y");
    g.gamma = wgt(a->gamma);
    g.beta = wgt(a->beta);
    g.in_bias = wgt(a->in_bias);
    OPS->group_norm(inner(be), &g);
    WROTE(a->y, (int64_t)a->n * a->frames * a->C * a->S);
}
static void ck_layer_norm(vc_backend *be, const float *x, float *y, int64_t rows, int32_t width, const float *gamma,
                          const float *beta, float eps)
{
    OPS->layer_norm(inner(be), D(x, "x"), D(y, "y"), rows, width, wgt(gamma), wgt(beta), eps);
    WROTE(y, rows * width);
}
static void ck_attention(vc_backend *be, const vc_attn_args *a)
{
    const char *refusal = vc_transient_kv_refusal(in_transient(be, a->k), in_transient(be, a->v));
    if (refusal) violate(be, "attention", NULL, refusal);
    vc_attn_args t = *a;
    t.q = D(a->q, "q");
    t.k = D(a->k, "k");
    t.v = D(a->v, "v");
    t.o = D(a->o, "o");
    t.rel_k = wgt(a->rel_k);
    t.rel_v = wgt(a->rel_v);
    OPS->attention(inner(be), &t);
    if (a->n_seq > 0 && a->lq > 0)
        WROTE(a->o, (a->n_seq - 1) * a->o_seq + (a->lq - 1) * a->o_tok + (int64_t)a->heads * a->d);
}
static void ck_transient(vc_backend *be, float *p, int64_t n)
{
    checked_impl *c = impl_of(be);
    if (!p) { /* the marks after the first n go, their memory stale */
        const int keep = n <= 0 ? 0 : n < c->n_transient ? (int)n : c->n_transient;
        for (int i = keep; i < c->n_transient && c->n_stale < MAX_TRANSIENT; i++) c->stale[c->n_stale++] = c->transient[i];
        c->n_transient = keep;
        return;
    }
    (void)D(p, "p");
    if (c->n_transient == MAX_TRANSIENT || n <= 0) return;
    unstale(c, (uintptr_t)p, (uintptr_t)(p + n));
    c->transient[c->n_transient].begin = (uintptr_t)p;
    c->transient[c->n_transient].end = (uintptr_t)(p + n);
    c->n_transient++;
}
static void ck_silu(vc_backend *be, const float *x, float *y, int64_t n)
{
    OPS->silu(inner(be), D(x, "x"), D(y, "y"), n);
    WROTE(y, n);
}
static void ck_gelu(vc_backend *be, const float *x, float *y, int64_t n)
{
    OPS->gelu(inner(be), D(x, "x"), D(y, "y"), n);
    WROTE(y, n);
}
static void ck_geglu(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner_n)
{
    OPS->geglu(inner(be), D(x, "x"), D(y, "y"), rows, inner_n);
    WROTE(y, rows * inner_n);
}
static void ck_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n)
{
    OPS->add(inner(be), D(a, "a"), wgt(b), D(y, "y"), n); /* b may be a weight (position table) */
    WROTE(y, n);
}
static void ck_axpby(vc_backend *be, float a, const float *x, float b, float *y, int64_t n)
{
    OPS->axpby(inner(be), a, D(x, "x"), b, D(y, "y"), n);
    WROTE(y, n);
}
static void ck_scale(vc_backend *be, const float *x, float s, float *y, int64_t n)
{
    OPS->scale(inner(be), D(x, "x"), s, D(y, "y"), n);
    WROTE(y, n);
}
static void ck_add_channel(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S, int64_t vs)
{
    OPS->add_channel(inner(be), D(x, "x"), wgt(v), n, C, S, vs);
    WROTE(x, n * C * S);
}
static void ck_permute(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape,
                       const int32_t *perm)
{
    OPS->permute(inner(be), D(x, "x"), D(y, "y"), ndim, shape, perm);
    int64_t n = 1;
    for (int32_t i = 0; i < ndim; i++) n *= shape[i];
    WROTE(y, n);
}
static void ck_upsample(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w)
{
    OPS->upsample_nearest2x(inner(be), D(x, "x"), D(y, "y"), nc, h, w);
    WROTE(y, nc * 4 * h * w);
}
static void ck_concat(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb, float *y, int64_t n,
                      int64_t S)
{
    OPS->concat_channels(inner(be), D(a, "a"), ca, D(b, "b"), cb, D(y, "y"), n, S);
    WROTE(y, n * (ca + cb) * S);
}
static void ck_ddim_step(vc_backend *be, const vc_ddim_args *a)
{
    vc_ddim_args t = *a;
    t.x = D(a->x, "x");
    t.ec = D(a->ec, "ec");
    t.eu = D(a->eu, "eu");
    t.z = D(a->z, "z");
    t.x_next = D(a->x_next, "x_next");
    t.x0 = D(a->x0, "x0");
    OPS->ddim_step(inner(be), &t);
    WROTE(a->x_next, a->n);
    WROTE(a->x0, a->n);
}
static void ck_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n)
{
    OPS->widen(inner(be), D(dst, "dst"), host(be, src, "widen", "src"), dtype, n);
    WROTE(dst, n);
}
static void *ck_reserve(vc_backend *be, size_t *bytes) { return fake(OPS->reserve(inner(be), bytes)); }
static void ck_unreserve(vc_backend *be, void *p, size_t bytes) { OPS->unreserve(inner(be), D(p, "ptr"), bytes); }

static vc_status ck_sync(vc_backend *be, char *msg, size_t cap)
{
    checked_impl *c = impl_of(be);
    if (!c->violation[0]) return VC_STATUS_OK;
    if (msg && cap) snprintf(msg, cap, "%s", c->violation);
    c->violation[0] = 0;
    return VC_STATUS_BACKEND_ERROR;
}

static void ck_destroy(vc_backend *be)
{
    if (!be) return;
    if (be->impl) vc_backend_destroy(inner(be));
    free(be->impl);
    free(be);
}

static const vc_backend_ops checked_ops = {
    .name = "cpu-checked",
    .destroy = ck_destroy,
    .alloc = ck_alloc,
    .free = ck_free,
    .upload = ck_upload,
    .download = ck_download,
    .copy = ck_copy,
    .fill = ck_fill,
    .gemm = ck_gemm,
    .linear = ck_linear,
    .linear_strided = ck_linear_strided,
    .conv2d = ck_conv2d,
    .conv_temporal = ck_conv_temporal,
    .group_norm = ck_group_norm,
    .layer_norm = ck_layer_norm,
    .attention = ck_attention,
    .transient = ck_transient,
    .silu = ck_silu,
    .gelu = ck_gelu,
    .geglu = ck_geglu,
    .add = ck_add,
    .axpby = ck_axpby,
    .scale = ck_scale,
    .add_channel = ck_add_channel,
    .permute = ck_permute,
    .upsample_nearest2x = ck_upsample,
    .concat_channels = ck_concat,
    .ddim_step = ck_ddim_step,
    .sync = ck_sync,
    .widen = ck_widen,
    .reserve = ck_reserve,
    .unreserve = ck_unreserve,
};

vc_status vc_checked_backend_create(vc_context *ctx, int32_t n_threads, vc_backend **out)
{
    *out = NULL;
    if (sizeof(void *) != 8) return vc_fail(ctx, VC_STATUS_BACKEND_UNAVAILABLE, "cpu-checked needs a 64-bit host");
    vc_backend *be = calloc(1, sizeof *be);
    checked_impl *c = calloc(1, sizeof *c);
    if (!be || !c) {
        free(be);
        free(c);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the cpu-checked backend");
    }
    vc_status st = vc_cpu_backend_create(ctx, n_threads, &c->cpu);
    if (st != VC_STATUS_OK) {
        free(be);
        free(c);
        return st;
    }
    be->ops = &checked_ops;
    be->ctx = ctx;
    be->n_threads = n_threads;
    be->impl = c;
    *out = be;
    return VC_STATUS_OK;
}
