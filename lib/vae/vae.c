/* vae.c - AutoencoderKL decoder and encoder (spec §4) on the backend vtable.
 *
 * Memory: the activations of one decoder pass live in the context's arena,
 * which is a stack. Each stage keeps the current feature map as the only
 * allocation above the pass's mark; a stage allocates its temporaries above
 * it and "settles" its result back down to the mark (an in-place write where
 * the shapes allow, a forward copy otherwise). So a pass never holds more than
 * the current stage's input, output and one or two temporaries: at 576x1024
 * the largest stage is the first block of up level 0 (256-channel input and
 * two 128-channel maps at full resolution, about 1.2 GB).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vae.h"
#include "../backend/backend.h"
#include "../core/model.h"

#define VAE_MAX_BLOCKS 8   /* resnet blocks per level (decoder: num_res_blocks + 1) */
#define VAE_GROUPS 32      /* GroupNorm(32, C, eps 1e-6) everywhere (§4) */
#define VAE_EPS 1e-6f
#define VAE_MAX_SIDE 16384 /* pixels per side, a sanity limit */

typedef struct vres_w {
    const float *n1g, *n1b, *c1w, *c1b, *n2g, *n2b, *c2w, *c2b, *sw, *sb;
    int32_t ci, co;
} vres_w;

typedef struct vatt_w {
    const float *ng, *nb, *qw, *qb, *kw, *kb, *vw, *vb, *pw, *pb;
    int32_t c;
} vatt_w;

typedef struct vae_net {
    int32_t n_levels, n_blocks;                  /* blocks per level */
    const float *qc_w, *qc_b;                    /* post_quant_conv / quant_conv (1x1) */
    int32_t qc_ci, qc_co;
    const float *cin_w, *cin_b;
    int32_t cin_ci, cin_co;
    vres_w blk[VC_MAX_LEVELS][VAE_MAX_BLOCKS];
    const float *rs_w[VC_MAX_LEVELS], *rs_b[VC_MAX_LEVELS]; /* up/downsample conv, NULL where none */
    int32_t rs_c[VC_MAX_LEVELS];
    vres_w mid1, mid2;
    vatt_w attn;
    const float *no_g, *no_b, *co_w, *co_b;
    int32_t co_ci, co_co;
} vae_net;

/* ------------------------------------------------------------- weights */

typedef struct wlook {
    vc_context *ctx;
    const vc_weights *w;
    vc_status st;
} wlook;

/* Float32 data of first_stage_model.<base>.<leaf> with the given shape;
 * records the first failure in L->st. */
static const float *wget(wlook *L, const char *base, const char *leaf, int32_t ndim, int64_t d0, int64_t d1,
                         int64_t d2, int64_t d3)
{
    if (L->st != VC_STATUS_OK) return NULL;
    char name[256];
    snprintf(name, sizeof name, "first_stage_model.%s%s%s", base, *leaf ? "." : "", leaf);
    const vc_weight *t = L->w ? vc_weights_find(L->w, name) : NULL;
    if (!t || !t->f32) {
        L->st = vc_fail(L->ctx, VC_STATUS_MODEL_MISMATCH, "VAE tensor %s is missing from the model", name);
        return NULL;
    }
    int64_t want[4] = {d0, d1, d2, d3};
    bool ok = t->ndim == ndim;
    for (int32_t i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
    if (!ok) {
        char got[128] = "", exp[128] = "";
        size_t gl = 0, el = 0;
        for (int32_t i = 0; i < t->ndim && i < VC_TENSOR_MAX_DIMS; i++)
            gl += (size_t)snprintf(got + gl, sizeof got - gl, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        for (int32_t i = 0; i < ndim; i++)
            el += (size_t)snprintf(exp + el, sizeof exp - el, "%s%lld", i ? "," : "", (long long)want[i]);
        L->st = vc_fail(L->ctx, VC_STATUS_MODEL_MISMATCH, "VAE tensor %s has shape [%s], expected [%s]", name, got,
                        exp);
        return NULL;
    }
    return t->f32;
}

static const float *wvec(wlook *L, const char *base, const char *leaf, int64_t n)
{
    return wget(L, base, leaf, 1, n, 0, 0, 0);
}

static const float *wconv(wlook *L, const char *base, const char *leaf, int64_t co, int64_t ci, int64_t k)
{
    return wget(L, base, leaf, 4, co, ci, k, k);
}

static void look_vres(wlook *L, vres_w *p, const char *base, int32_t ci, int32_t co)
{
    p->ci = ci;
    p->co = co;
    p->n1g = wvec(L, base, "norm1.weight", ci);
    p->n1b = wvec(L, base, "norm1.bias", ci);
    p->c1w = wconv(L, base, "conv1.weight", co, ci, 3);
    p->c1b = wvec(L, base, "conv1.bias", co);
    p->n2g = wvec(L, base, "norm2.weight", co);
    p->n2b = wvec(L, base, "norm2.bias", co);
    p->c2w = wconv(L, base, "conv2.weight", co, co, 3);
    p->c2b = wvec(L, base, "conv2.bias", co);
    p->sw = p->sb = NULL;
    if (ci != co) {
        p->sw = wconv(L, base, "nin_shortcut.weight", co, ci, 1);
        p->sb = wvec(L, base, "nin_shortcut.bias", co);
    }
}

static void look_vatt(wlook *L, vatt_w *p, const char *base, int32_t c)
{
    p->c = c;
    p->ng = wvec(L, base, "norm.weight", c);
    p->nb = wvec(L, base, "norm.bias", c);
    p->qw = wconv(L, base, "q.weight", c, c, 1);
    p->qb = wvec(L, base, "q.bias", c);
    p->kw = wconv(L, base, "k.weight", c, c, 1);
    p->kb = wvec(L, base, "k.bias", c);
    p->vw = wconv(L, base, "v.weight", c, c, 1);
    p->vb = wvec(L, base, "v.bias", c);
    p->pw = wconv(L, base, "proj_out.weight", c, c, 1);
    p->pb = wvec(L, base, "proj_out.bias", c);
}

static vc_status check_config(vc_context *ctx, const vc_vae_config *c, bool encoder)
{
    if (c->n_levels < 1 || c->n_levels > VC_MAX_LEVELS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "VAE ch_mult has %d levels; 1..%d are supported", c->n_levels,
                       VC_MAX_LEVELS);
    if (c->num_res_blocks < 1 || c->num_res_blocks + 1 > VAE_MAX_BLOCKS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "VAE num_res_blocks %d is outside 1..%d", c->num_res_blocks,
                       VAE_MAX_BLOCKS - 1);
    if (c->ch <= 0 || c->z_channels <= 0 || c->embed_dim <= 0 || c->in_channels <= 0 || c->out_ch <= 0)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "VAE sizes must be positive (ch %d, z_channels %d, embed_dim %d)",
                       c->ch, c->z_channels, c->embed_dim);
    for (int32_t i = 0; i < c->n_levels; i++) {
        int64_t ch = (int64_t)c->ch * c->ch_mult[i];
        if (c->ch_mult[i] <= 0 || ch > 65536 || ch % VAE_GROUPS)
            return vc_fail(ctx, VC_STATUS_UNSUPPORTED,
                           "VAE level %d has %lld channels; GroupNorm(32) needs a positive multiple of 32", i,
                           (long long)ch);
    }
    if (c->ch % VAE_GROUPS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "VAE ch %d is not a multiple of 32 (GroupNorm groups)", c->ch);
    if (encoder && !c->double_z)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "VAE encoder with double_z false is not supported");
    return VC_STATUS_OK;
}

/* Decoder weights (spec §4.2; general layout of the original Decoder). */
static vc_status look_decoder(vc_context *ctx, const vc_model *model, vae_net *net)
{
    const vc_vae_config *c = &model->cfg.vae;
    vc_status st = check_config(ctx, c, false);
    if (st != VC_STATUS_OK) return st;
    memset(net, 0, sizeof *net);
    wlook L = {ctx, model->weights, VC_STATUS_OK};
    char base[128];
    int32_t nl = c->n_levels, block_in = c->ch * c->ch_mult[nl - 1];
    net->n_levels = nl;
    net->n_blocks = c->num_res_blocks + 1;
    net->qc_ci = c->embed_dim;
    net->qc_co = c->z_channels;
    net->qc_w = wconv(&L, "post_quant_conv", "weight", c->z_channels, c->embed_dim, 1);
    net->qc_b = wvec(&L, "post_quant_conv", "bias", c->z_channels);
    net->cin_ci = c->z_channels;
    net->cin_co = block_in;
    net->cin_w = wconv(&L, "decoder.conv_in", "weight", block_in, c->z_channels, 3);
    net->cin_b = wvec(&L, "decoder.conv_in", "bias", block_in);
    look_vres(&L, &net->mid1, "decoder.mid.block_1", block_in, block_in);
    look_vatt(&L, &net->attn, "decoder.mid.attn_1", block_in);
    look_vres(&L, &net->mid2, "decoder.mid.block_2", block_in, block_in);
    for (int32_t lv = nl - 1; lv >= 0; lv--) {
        int32_t block_out = c->ch * c->ch_mult[lv];
        for (int32_t b = 0; b < net->n_blocks; b++) {
            snprintf(base, sizeof base, "decoder.up.%d.block.%d", lv, b);
            look_vres(&L, &net->blk[lv][b], base, block_in, block_out);
            block_in = block_out;
        }
        if (lv != 0) {
            snprintf(base, sizeof base, "decoder.up.%d.upsample.conv", lv);
            net->rs_c[lv] = block_in;
            net->rs_w[lv] = wconv(&L, base, "weight", block_in, block_in, 3);
            net->rs_b[lv] = wvec(&L, base, "bias", block_in);
        }
    }
    net->no_g = wvec(&L, "decoder.norm_out", "weight", block_in);
    net->no_b = wvec(&L, "decoder.norm_out", "bias", block_in);
    net->co_ci = block_in;
    net->co_co = c->out_ch;
    net->co_w = wconv(&L, "decoder.conv_out", "weight", c->out_ch, block_in, 3);
    net->co_b = wvec(&L, "decoder.conv_out", "bias", c->out_ch);
    return L.st;
}

/* Encoder weights (spec §4.3; general layout of the original Encoder). */
static vc_status look_encoder(vc_context *ctx, const vc_model *model, vae_net *net)
{
    const vc_vae_config *c = &model->cfg.vae;
    vc_status st = check_config(ctx, c, true);
    if (st != VC_STATUS_OK) return st;
    memset(net, 0, sizeof *net);
    wlook L = {ctx, model->weights, VC_STATUS_OK};
    char base[128];
    int32_t nl = c->n_levels, block_in = c->ch;
    net->n_levels = nl;
    net->n_blocks = c->num_res_blocks;
    net->cin_ci = c->in_channels;
    net->cin_co = c->ch;
    net->cin_w = wconv(&L, "encoder.conv_in", "weight", c->ch, c->in_channels, 3);
    net->cin_b = wvec(&L, "encoder.conv_in", "bias", c->ch);
    for (int32_t lv = 0; lv < nl; lv++) {
        int32_t block_out = c->ch * c->ch_mult[lv];
        for (int32_t b = 0; b < net->n_blocks; b++) {
            snprintf(base, sizeof base, "encoder.down.%d.block.%d", lv, b);
            look_vres(&L, &net->blk[lv][b], base, block_in, block_out);
            block_in = block_out;
        }
        if (lv != nl - 1) {
            snprintf(base, sizeof base, "encoder.down.%d.downsample.conv", lv);
            net->rs_c[lv] = block_in;
            net->rs_w[lv] = wconv(&L, base, "weight", block_in, block_in, 3);
            net->rs_b[lv] = wvec(&L, base, "bias", block_in);
        }
    }
    look_vres(&L, &net->mid1, "encoder.mid.block_1", block_in, block_in);
    look_vatt(&L, &net->attn, "encoder.mid.attn_1", block_in);
    look_vres(&L, &net->mid2, "encoder.mid.block_2", block_in, block_in);
    net->no_g = wvec(&L, "encoder.norm_out", "weight", block_in);
    net->no_b = wvec(&L, "encoder.norm_out", "bias", block_in);
    net->co_ci = block_in;
    net->co_co = 2 * c->z_channels;
    net->co_w = wconv(&L, "encoder.conv_out", "weight", 2 * c->z_channels, block_in, 3);
    net->co_b = wvec(&L, "encoder.conv_out", "bias", 2 * c->z_channels);
    net->qc_ci = 2 * c->z_channels;
    net->qc_co = 2 * c->embed_dim;
    net->qc_w = wconv(&L, "quant_conv", "weight", 2 * c->embed_dim, 2 * c->z_channels, 1);
    net->qc_b = wvec(&L, "quant_conv", "bias", 2 * c->embed_dim);
    return L.st;
}

/* ------------------------------------------------------------ kernels */

typedef struct vae_run {
    vc_context *ctx;
    vc_backend *be;
    const vc_backend_ops *op;                    /* the backend's, or plan_ops */
    int32_t n;                                   /* images in this pass */
    bool plan;                                   /* only measure the stack: no memory, no kernels */
    size_t pos, peak;                            /* plan: simulated arena offset and its maximum */
} vae_run;

/* Planning runs the pass with kernels that do nothing and a simulated arena,
 * so the exact working memory of a pass is known (and reserved as one block)
 * before the first kernel runs. */
static void nop_conv2d(vc_backend *be, const vc_conv2d_args *a) { (void)be, (void)a; }
static void nop_gn(vc_backend *be, const vc_group_norm_args *a) { (void)be, (void)a; }
static void nop_permute(vc_backend *be, const float *x, float *y, int32_t nd, const int64_t *sh, const int32_t *pm)
{
    (void)be, (void)x, (void)y, (void)nd, (void)sh, (void)pm;
}
static void nop_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w, const float *b,
                       int32_t out, const float *res, float *y)
{
    (void)be, (void)x, (void)rows, (void)in, (void)w, (void)b, (void)out, (void)res, (void)y;
}
static void nop_attention(vc_backend *be, const vc_attn_args *a) { (void)be, (void)a; }
static void nop_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n)
{
    (void)be, (void)a, (void)b, (void)y, (void)n;
}
static void nop_up(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w)
{
    (void)be, (void)x, (void)y, (void)nc, (void)h, (void)w;
}
static void nop_copy(vc_backend *be, void *d, const void *s, size_t n) { (void)be, (void)d, (void)s, (void)n; }

static const vc_backend_ops plan_ops = {
    .name = "plan", .conv2d = nop_conv2d, .group_norm = nop_gn, .permute = nop_permute, .linear = nop_linear,
    .attention = nop_attention, .add = nop_add, .upsample_nearest2x = nop_up, .copy = nop_copy,
};

#define ARENA_ALIGN 64 /* as lib/backend/arena.c rounds */

static void r_release(vae_run *r, size_t m)
{
    if (r->plan) {
        if (m < r->pos) r->pos = m;
    } else {
        vc_arena_release(r->be, m);
    }
}

static float *r_floats(vae_run *r, int64_t count)
{
    if (!r->plan) return vc_arena_floats(r->be, count);
    if (count < 0 || (uint64_t)count > SIZE_MAX / 8) return NULL;
    size_t need = ((size_t)count * sizeof(float) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    float *p = (float *)(uintptr_t)(ARENA_ALIGN + r->pos); /* never dereferenced: the kernels are no-ops */
    r->pos += need;
    if (r->pos > r->peak) r->peak = r->pos;
    return p;
}

static vc_status oom(vae_run *r, int64_t floats)
{
    return vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY,
                   "out of memory: the VAE needs %.1f MB more working memory (%d image(s) per pass, %.1f MB held)",
                   (double)floats * 4.0 / 1e6, r->n, (double)r->be->arena.used / 1e6);
}

#define ALLOC(p, count)                                                                                       \
    do {                                                                                                      \
        (p) = r_floats(r, (count));                                                                           \
        if (!(p)) return oom(r, (count));                                                                     \
    } while (0)

static void conv(vae_run *r, const float *x, int32_t ci, int32_t h, int32_t w, const float *wt, const float *b,
                 int32_t co, int32_t k, int32_t stride, int32_t pt, int32_t pl, int32_t pb, int32_t pr,
                 const float *res, float *y)
{
    vc_conv2d_args a = {
        .x = x, .n = r->n, .ci = ci, .h = h, .w = w, .weight = wt, .bias = b, .co = co, .kh = k, .kw = k,
        .stride = stride, .pad_top = pt, .pad_left = pl, .pad_bottom = pb, .pad_right = pr, .residual = res, .y = y,
    };
    r->op->conv2d(r->be, &a);
}

static void conv3(vae_run *r, const float *x, int32_t ci, int32_t h, int32_t w, const float *wt, const float *b,
                  int32_t co, const float *res, float *y)
{
    conv(r, x, ci, h, w, wt, b, co, 3, 1, 1, 1, 1, 1, res, y);
}

static void conv1(vae_run *r, const float *x, int32_t ci, int32_t h, int32_t w, const float *wt, const float *b,
                  int32_t co, float *y)
{
    conv(r, x, ci, h, w, wt, b, co, 1, 1, 0, 0, 0, 0, NULL, y);
}

static void gn(vae_run *r, const float *x, float *y, int32_t C, int64_t S, const float *g, const float *b, bool silu)
{
    const vc_group_norm_args a = {
        .x = x, .y = y, .n = r->n, .frames = 1, .C = C, .G = VAE_GROUPS, .S = S, .gamma = g, .beta = b,
        .eps = VAE_EPS, .silu = silu,
    };
    r->op->group_norm(r->be, &a);
}

/* Copies count floats from src to dst where the ranges may overlap. */
static void move_floats(vae_run *r, float *dst, const float *src, int64_t count)
{
    if (dst == src || count <= 0 || r->plan) return;
    uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
    size_t bytes = (size_t)count * sizeof(float);
    if (d + bytes <= s || s + bytes <= d) {
        r->op->copy(r->be, dst, src, bytes);
        return;
    }
    size_t gap = d < s ? s - d : d - s;
    if (d < s) {
        for (size_t off = 0; off < bytes; off += gap)
            r->op->copy(r->be, (char *)dst + off, (const char *)src + off, bytes - off < gap ? bytes - off : gap);
    } else {
        for (size_t end = bytes; end > 0;) {
            size_t len = end < gap ? end : gap;
            end -= len;
            r->op->copy(r->be, (char *)dst + end, (const char *)src + end, len);
        }
    }
}

/* Makes res (count floats, allocated above mark m) the only allocation above
 * m and stores its address in *cur. The re-allocation never needs new memory:
 * res itself is a fitting place at or after m. */
static vc_status settle(vae_run *r, size_t m, float **cur, float *res, int64_t count)
{
    r_release(r, m);
    float *dst = r_floats(r, count);
    if (!dst) return oom(r, count);
    move_floats(r, dst, res, count);
    *cur = dst;
    return VC_STATUS_OK;
}

static vc_status check_cancel(vae_run *r)
{
    if (vc_cancelled(r->ctx)) return vc_fail(r->ctx, VC_STATUS_CANCELLED, "VAE run cancelled");
    return VC_STATUS_OK;
}

/* VRES (§4.1): *x [n,ci,h,w] -> [n,co,h,w]. */
static vc_status vres(vae_run *r, size_t m, float **x, int32_t h, int32_t w, const vres_w *p)
{
    int64_t S = (int64_t)h * w, n = r->n;
    float *in = *x, *t, *h1;
    if (p->ci == p->co) {
        ALLOC(t, n * p->ci * S);
        ALLOC(h1, n * p->co * S);
        gn(r, in, t, p->ci, S, p->n1g, p->n1b, true);
        conv3(r, t, p->ci, h, w, p->c1w, p->c1b, p->co, NULL, h1);
        gn(r, h1, h1, p->co, S, p->n2g, p->n2b, true);
        conv3(r, h1, p->co, h, w, p->c2w, p->c2b, p->co, in, in); /* x + h, written over x */
        return settle(r, m, x, in, n * p->co * S);
    }
    float *s;
    ALLOC(s, n * p->co * S);
    ALLOC(h1, n * p->co * S);
    conv1(r, in, p->ci, h, w, p->sw, p->sb, p->co, s);            /* shortcut first: x is normalised in place */
    gn(r, in, in, p->ci, S, p->n1g, p->n1b, true);
    conv3(r, in, p->ci, h, w, p->c1w, p->c1b, p->co, NULL, h1);
    gn(r, h1, h1, p->co, S, p->n2g, p->n2b, true);
    float *dst = p->co <= p->ci ? in : s;                          /* the dead input holds the result if it fits */
    conv3(r, h1, p->co, h, w, p->c2w, p->c2b, p->co, s, dst);
    return settle(r, m, x, dst, n * p->co * S);
}

/* VATT (§4.1): single-head self-attention over the h*w positions of each image. */
static vc_status vatt(vae_run *r, size_t m, float **x, int32_t h, int32_t w, const vatt_w *p)
{
    int64_t P = (int64_t)h * w, n = r->n, C = p->c, sz = n * C * P;
    float *in = *x, *a, *at, *q, *k, *v, *o;
    ALLOC(a, sz);
    ALLOC(at, sz);
    ALLOC(q, sz);
    ALLOC(k, sz);
    ALLOC(v, sz);
    ALLOC(o, sz);
    gn(r, in, a, p->c, P, p->ng, p->nb, false);
    /* [n,C,P] -> [n,P,C]: tokens with contiguous channels, so the 1x1 convs are linears */
    int64_t shape[3] = {n, C, P};
    int32_t perm[3] = {0, 2, 1};
    r->op->permute(r->be, a, at, 3, shape, perm);
    r->op->linear(r->be, at, n * P, p->c, p->qw, p->qb, p->c, NULL, q);
    r->op->linear(r->be, at, n * P, p->c, p->kw, p->kb, p->c, NULL, k);
    r->op->linear(r->be, at, n * P, p->c, p->vw, p->vb, p->c, NULL, v);
    vc_attn_args aa = {
        .q = q, .k = k, .v = v, .o = o, .n_seq = r->n, .heads = 1, .lq = (int32_t)P, .lk = (int32_t)P, .d = p->c,
        .kv_group = 1, .q_tok = C, .k_tok = C, .v_tok = C, .o_tok = C, .q_seq = P * C, .k_seq = P * C,
        .v_seq = P * C, .o_seq = P * C,
        .scale = (float)pow((double)p->c, -0.5), /* int(c)**(-0.5), rounded to float32 */
    };
    r->op->attention(r->be, &aa);                /* tiled by the backend: no [P x P] matrix */
    r->op->linear(r->be, o, n * P, p->c, p->pw, p->pb, p->c, NULL, q);
    int64_t shape2[3] = {n, P, C};
    r->op->permute(r->be, q, a, 3, shape2, perm);
    r->op->add(r->be, in, a, in, sz);
    return settle(r, m, x, in, sz);
}

/* Nearest x2 then conv3x3 (Upsample with_conv) without holding the whole
 * upsampled map: the output is made in bands of rows, each from the input rows
 * it needs (one-row halos, so no seams), upsampled into a small buffer. */
static vc_status upsample(vae_run *r, size_t m, float **x, int32_t C, int32_t h, int32_t w, const float *wt,
                          const float *b)
{
    const int64_t nC = (int64_t)r->n * C, H2 = 2 * (int64_t)h, W2 = 2 * (int64_t)w;
    const int64_t R = 2 * ((h + 7) / 8);        /* output rows per band (even): 8 bands */
    const int64_t rin_max = R / 2 + 2;
    float *in = *x, *o, *g, *u, *os;
    ALLOC(o, nC * H2 * W2);
    ALLOC(g, nC * rin_max * w);
    ALLOC(u, nC * 2 * rin_max * W2);
    ALLOC(os, nC * (2 * rin_max) * W2);
    for (int64_t r0 = 0; r0 < H2; r0 += R) {
        const int64_t r1 = r0 + R < H2 ? r0 + R : H2;
        const int64_t a = r0 / 2 - 1 > 0 ? r0 / 2 - 1 : 0;        /* input rows [a, bnd) */
        const int64_t bnd = r1 / 2 + 1 < h ? r1 / 2 + 1 : h;
        const int64_t rin = bnd - a;
        const int32_t pt = a == 0, pb = bnd == h;
        for (int64_t i = 0; i < nC; i++)
            r->op->copy(r->be, g + i * rin * w, in + (i * h + a) * w, (size_t)(rin * w) * sizeof(float));
        r->op->upsample_nearest2x(r->be, g, u, nC, (int32_t)rin, w);
        /* band output row q is the 3x3 window centred on upsampled row 2a + q + 1 - pt */
        const int64_t ro = 2 * rin + pt + pb - 2, q0 = r0 - 2 * a + pt - 1;
        if (q0 < 0 || q0 + (r1 - r0) > ro)
            return vc_fail(r->ctx, VC_STATUS_INTERNAL, "VAE upsample band %lld..%lld is inconsistent",
                           (long long)r0, (long long)r1);
        conv(r, u, C, (int32_t)(2 * rin), (int32_t)W2, wt, b, C, 3, 1, pt, 1, pb, 1, NULL, os);
        for (int64_t i = 0; i < nC; i++)
            r->op->copy(r->be, o + (i * H2 + r0) * W2, os + (i * ro + q0) * W2,
                        (size_t)((r1 - r0) * W2) * sizeof(float));
    }
    return settle(r, m, x, o, nC * H2 * W2);
}

/* Downsample with_conv (§4.3): pad right and bottom by one zero, 3x3 stride 2. */
static vc_status downsample(vae_run *r, size_t m, float **x, int32_t C, int32_t h, int32_t w, const float *wt,
                            const float *b)
{
    int32_t oh = (h + 1 - 3) / 2 + 1, ow = (w + 1 - 3) / 2 + 1;
    int64_t sz = (int64_t)r->n * C * oh * ow;
    float *o;
    ALLOC(o, sz);
    conv(r, *x, C, h, w, wt, b, C, 3, 2, 0, 0, 1, 1, NULL, o);
    return settle(r, m, x, o, sz);
}

#define TRY(expr)                                                                                             \
    do {                                                                                                      \
        vc_status st_ = (expr);                                                                               \
        if (st_ != VC_STATUS_OK) return st_;                                                                  \
    } while (0)

/* One decoder pass: *x [n,embed_dim,h,w] (already z * fl(1/scale_factor)),
 * the only allocation above m -> [n,out_ch,H,W] in the same place. */
static vc_status decoder_pass(vae_run *r, const vae_net *net, size_t m, float **x, int32_t h, int32_t w)
{
    float *t;
    int64_t n = r->n;
    ALLOC(t, n * net->qc_co * h * w);
    conv1(r, *x, net->qc_ci, h, w, net->qc_w, net->qc_b, net->qc_co, t);
    TRY(settle(r, m, x, t, n * net->qc_co * h * w));
    ALLOC(t, n * net->cin_co * h * w);
    conv3(r, *x, net->cin_ci, h, w, net->cin_w, net->cin_b, net->cin_co, NULL, t);
    TRY(settle(r, m, x, t, n * net->cin_co * h * w));
    TRY(vres(r, m, x, h, w, &net->mid1));
    TRY(vatt(r, m, x, h, w, &net->attn));
    TRY(vres(r, m, x, h, w, &net->mid2));
    TRY(check_cancel(r));
    for (int32_t lv = net->n_levels - 1; lv >= 0; lv--) {  /* up.3 first: index order reversed (§4.2) */
        for (int32_t b = 0; b < net->n_blocks; b++) {
            TRY(vres(r, m, x, h, w, &net->blk[lv][b]));
            TRY(check_cancel(r));
        }
        if (net->rs_w[lv]) {
            TRY(upsample(r, m, x, net->rs_c[lv], h, w, net->rs_w[lv], net->rs_b[lv]));
            h *= 2;
            w *= 2;
        }
    }
    gn(r, *x, *x, net->co_ci, (int64_t)h * w, net->no_g, net->no_b, true);
    ALLOC(t, n * net->co_co * h * w);
    conv3(r, *x, net->co_ci, h, w, net->co_w, net->co_b, net->co_co, NULL, t);
    return settle(r, m, x, t, n * net->co_co * h * w);
}

/* One encoder pass: *x [n,in_channels,H,W] -> quant_conv output [n,2*embed_dim,h,w]. */
static vc_status encoder_pass(vae_run *r, const vae_net *net, size_t m, float **x, int32_t h, int32_t w)
{
    float *t;
    int64_t n = r->n;
    ALLOC(t, n * net->cin_co * h * w);
    conv3(r, *x, net->cin_ci, h, w, net->cin_w, net->cin_b, net->cin_co, NULL, t);
    TRY(settle(r, m, x, t, n * net->cin_co * h * w));
    for (int32_t lv = 0; lv < net->n_levels; lv++) {
        for (int32_t b = 0; b < net->n_blocks; b++) {
            TRY(vres(r, m, x, h, w, &net->blk[lv][b]));
            TRY(check_cancel(r));
        }
        if (net->rs_w[lv]) {
            TRY(downsample(r, m, x, net->rs_c[lv], h, w, net->rs_w[lv], net->rs_b[lv]));
            h = (h + 1 - 3) / 2 + 1;
            w = (w + 1 - 3) / 2 + 1;
        }
    }
    TRY(vres(r, m, x, h, w, &net->mid1));
    TRY(vatt(r, m, x, h, w, &net->attn));
    TRY(vres(r, m, x, h, w, &net->mid2));
    gn(r, *x, *x, net->co_ci, (int64_t)h * w, net->no_g, net->no_b, true);
    ALLOC(t, n * net->co_co * h * w);
    conv3(r, *x, net->co_ci, h, w, net->co_w, net->co_b, net->co_co, NULL, t);
    TRY(settle(r, m, x, t, n * net->co_co * h * w));
    ALLOC(t, n * net->qc_co * h * w);
    conv1(r, *x, net->qc_ci, h, w, net->qc_w, net->qc_b, net->qc_co, t);
    return settle(r, m, x, t, n * net->qc_co * h * w);
}

/* Plans one pass of n images, then takes its whole working memory as one
 * block of the arena; *base becomes the mark where each pass starts. */
static vc_status reserve(vae_run *r, const vae_net *net, int32_t n, int32_t h, int32_t w, bool decoder, size_t *base)
{
    vae_run p = {r->ctx, r->be, &plan_ops, n, true, 0, 0};
    int64_t in = (int64_t)n * (decoder ? net->qc_ci : net->cin_ci) * h * w;
    float *x = r_floats(&p, in);
    vc_status st = decoder ? decoder_pass(&p, net, 0, &x, h, w) : encoder_pass(&p, net, 0, &x, h, w);
    if (st != VC_STATUS_OK) return st;
    size_t need = p.peak;
    if (!vc_arena_alloc(r->be, need))
        return vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY,
                       "out of memory: the VAE %s needs %.1f MB of working memory for %d image(s) per pass "
                       "(input %dx%d)", decoder ? "decoder" : "encoder", (double)need / 1e6, n, h, w);
    *base = vc_arena_mark(r->be) - need;  /* need is a multiple of the arena's alignment */
    vc_arena_release(r->be, *base);
    vc_log(r->ctx, VC_LOG_DEBUG, "vae: %s pass of %d image(s) planned at %.1f MB", decoder ? "decoder" : "encoder", n,
           (double)need / 1e6);
    return VC_STATUS_OK;
}

/* ------------------------------------------------------------ entry points */

int32_t vc_vae_default_batch(void)
{
    const char *s = getenv("VIDEOCRAFTER_VAE_BATCH");
    if (!s || !*s) return 0;
    char *end;
    long v = strtol(s, &end, 10);
    return (*end || v <= 0 || v > 4096) ? 0 : (int32_t)v;
}

static vc_status check_ops(vc_context *ctx, const vc_backend_ops *o)
{
    const char *missing = !o->conv2d ? "conv2d" : !o->group_norm ? "group_norm" : !o->linear ? "linear"
                          : !o->attention ? "attention" : !o->permute ? "permute" : !o->add ? "add"
                          : !o->upsample_nearest2x ? "upsample_nearest2x" : !o->copy ? "copy"
                          : !o->upload ? "upload" : !o->download ? "download" : NULL;
    if (missing)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "backend '%s' has no %s kernel (needed by the VAE)", o->name,
                       missing);
    return VC_STATUS_OK;
}

static vc_status check_common(vc_context *ctx, const vc_model *model, const vc_tensor *in, const void *out,
                              const char *fn)
{
    if (!ctx) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "%s: ctx is NULL", fn);
    if (!model || !model->weights) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (!in || !in->data) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: input tensor is NULL or empty", fn);
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: output tensor is NULL", fn);
    if (!ctx->backend) return vc_fail(ctx, VC_STATUS_INTERNAL, "%s: context has no backend", fn);
    return check_ops(ctx, ctx->backend->ops);
}

/* Peak of the arena during one call; the context-wide high-water mark keeps its maximum. */
static size_t peak_begin(vc_backend *be)
{
    size_t old = be->arena.peak;
    be->arena.peak = be->arena.used;
    return old;
}

static size_t peak_end(vc_backend *be, size_t old, size_t base)
{
    size_t p = be->arena.peak - base;
    if (old > be->arena.peak) be->arena.peak = old;
    return p;
}

vc_status vc_vae_decode(vc_context *ctx, const vc_model *model, const vc_tensor *z, int32_t images_per_batch,
                        vc_tensor *video)
{
    vc_status st = check_common(ctx, model, z, video, "vc_decode_latents");
    if (st != VC_STATUS_OK) return st;
    memset(video, 0, sizeof *video);
    const vc_vae_config *c = &model->cfg.vae;
    char sh[96];
    if (z->dtype != VC_DTYPE_F32 || z->ndim != 5 || z->shape[1] != c->embed_dim)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                       "vc_decode_latents: z must be float32 [B,%d,T,h,w]; got %s %s", c->embed_dim,
                       vc_dtype_str(z->dtype), vc_shape_str(z, sh, sizeof sh));
    for (int i = 0; i < 5; i++)
        if (z->shape[i] < 1 || z->shape[i] > VAE_MAX_SIDE)
            return vc_fail(ctx, VC_STATUS_BAD_SIZE, "vc_decode_latents: z shape %s has a dimension outside 1..%d",
                           vc_shape_str(z, sh, sizeof sh), VAE_MAX_SIDE);
    vae_net *net = malloc(sizeof *net);
    if (!net) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory (VAE weight table)");
    st = look_decoder(ctx, model, net);
    if (st != VC_STATUS_OK) goto out_net;
    int32_t B = (int32_t)z->shape[0], T = (int32_t)z->shape[2], h = (int32_t)z->shape[3], w = (int32_t)z->shape[4];
    int32_t zc = c->embed_dim, f = 1 << (net->n_levels - 1), oc = net->co_co;
    if ((int64_t)h * f > VAE_MAX_SIDE || (int64_t)w * f > VAE_MAX_SIDE) {
        st = vc_fail(ctx, VC_STATUS_BAD_SIZE, "vc_decode_latents: frames of %lldx%lld pixels exceed %d per side",
                     (long long)h * f, (long long)w * f, VAE_MAX_SIDE);
        goto out_net;
    }
    int32_t H = h * f, W = w * f;
    int64_t vshape[5] = {B, oc, T, H, W};
    st = vc_tensor_make(ctx, video, VC_DTYPE_F32, 5, vshape);
    if (st != VC_STATUS_OK) goto out_net;

    int64_t total = (int64_t)B * T, hw = (int64_t)h * w, HW = (int64_t)H * W;
    int64_t ipb = images_per_batch > 0 ? images_per_batch : B;
    if (ipb > total) ipb = total;
    float *zb = malloc((size_t)(ipb * zc * hw) * sizeof(float));
    if (!zb) {
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory staging %lld latent images", (long long)ipb);
        goto out_video;
    }
    const float scale = (float)(1.0 / model->cfg.scale_factor); /* 1/0.18215 -> fl32 = 5.4899807 (§4.4) */
    const float *zd = z->data;
    float *vd = video->data;
    vc_backend *be = ctx->backend;
    vae_run r = {ctx, be, be->ops, 0, false, 0, 0};
    size_t m0 = vc_arena_mark(be), old_peak = peak_begin(be), m = m0;
    st = reserve(&r, net, (int32_t)ipb, h, w, true, &m);
    double t0 = vc_now();
    /* image i is frame t = i / B of batch element b = i % B: frames in order (§4.4) */
    for (int64_t i0 = 0; i0 < total && st == VC_STATUS_OK; i0 += ipb) {
        int64_t cnt = total - i0 < ipb ? total - i0 : ipb;
        for (int64_t j = 0; j < cnt; j++) {
            int64_t t = (i0 + j) / B, b = (i0 + j) % B;
            for (int32_t ch = 0; ch < zc; ch++) {
                const float *src = zd + ((b * zc + ch) * T + t) * hw;
                float *dst = zb + (j * zc + ch) * hw;
                for (int64_t p = 0; p < hw; p++) dst[p] = scale * src[p];
            }
        }
        r.n = (int32_t)cnt;
        vc_arena_release(be, m);
        float *x = vc_arena_floats(be, cnt * zc * hw);
        if (!x) {
            st = oom(&r, cnt * zc * hw);
            break;
        }
        be->ops->upload(be, x, zb, (size_t)(cnt * zc * hw) * sizeof(float));
        st = decoder_pass(&r, net, m, &x, h, w);
        if (st == VC_STATUS_OK) st = vc_backend_sync(be);  /* device failures surface here */
        if (st == VC_STATUS_OK) {
            for (int64_t j = 0; j < cnt; j++) {
                int64_t t = (i0 + j) / B, b = (i0 + j) % B;
                for (int32_t ch = 0; ch < oc; ch++)
                    be->ops->download(be, vd + ((b * oc + ch) * T + t) * HW, x + (j * oc + ch) * HW,
                                      (size_t)HW * sizeof(float));
            }
            vc_log(ctx, VC_LOG_DEBUG, "vae: decoded images %lld..%lld of %lld", (long long)i0,
                   (long long)(i0 + cnt - 1), (long long)total);
        }
        vc_arena_release(be, m);
        if (st == VC_STATUS_OK) st = check_cancel(&r);
    }
    vc_arena_release(be, m0);
    size_t peak = peak_end(be, old_peak, m0);
    if (st == VC_STATUS_OK)
        vc_log(ctx, VC_LOG_INFO,
               "vae: decoded %lld frame image(s) of %dx%d in %.2f s (%lld per pass), peak working memory %.1f MB",
               (long long)total, H, W, vc_now() - t0, (long long)ipb, (double)peak / 1e6);
    free(zb);
out_video:
    if (st != VC_STATUS_OK) vc_tensor_free(video);
out_net:
    free(net);
    return st;
}

vc_status vc_vae_encode_moments(vc_context *ctx, const vc_model *model, const vc_tensor *images, bool clamp_logvar,
                                vc_tensor *moments)
{
    vc_status st = check_common(ctx, model, images, moments, "vc_encode_images");
    if (st != VC_STATUS_OK) return st;
    memset(moments, 0, sizeof *moments);
    const vc_vae_config *c = &model->cfg.vae;
    char sh[96];
    if (images->dtype != VC_DTYPE_F32 || images->ndim != 4 || images->shape[1] != c->in_channels)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                       "vc_encode_images: images must be float32 [N,%d,H,W]; got %s %s", c->in_channels,
                       vc_dtype_str(images->dtype), vc_shape_str(images, sh, sizeof sh));
    vae_net *net = malloc(sizeof *net);
    if (!net) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory (VAE weight table)");
    st = look_encoder(ctx, model, net);
    if (st != VC_STATUS_OK) goto out_net;
    int64_t N = images->shape[0], H = images->shape[2], W = images->shape[3];
    int64_t f = (int64_t)1 << (net->n_levels - 1);
    if (N < 1 || H < f || W < f || H % f || W % f || H > VAE_MAX_SIDE || W > VAE_MAX_SIDE || N > 65536) {
        st = vc_fail(ctx, VC_STATUS_BAD_SIZE,
                     "vc_encode_images: images %s: N must be >= 1 and H, W multiples of %lld in %lld..%d",
                     vc_shape_str(images, sh, sizeof sh), (long long)f, (long long)f, VAE_MAX_SIDE);
        goto out_net;
    }
    int64_t h = H / f, w = W / f, mc = net->qc_co, ic = c->in_channels;
    int64_t mshape[4] = {N, mc, h, w};
    st = vc_tensor_make(ctx, moments, VC_DTYPE_F32, 4, mshape);
    if (st != VC_STATUS_OK) goto out_net;
    vc_backend *be = ctx->backend;
    vae_run r = {ctx, be, be->ops, 1, false, 0, 0};
    size_t m0 = vc_arena_mark(be), old_peak = peak_begin(be), m = m0;
    st = reserve(&r, net, 1, (int32_t)H, (int32_t)W, false, &m);
    float *md = moments->data;
    for (int64_t i = 0; i < N && st == VC_STATUS_OK; i++) {  /* one image per pass */
        vc_arena_release(be, m);
        float *x = vc_arena_floats(be, ic * H * W);
        if (!x) {
            st = oom(&r, ic * H * W);
            break;
        }
        be->ops->upload(be, x, (const float *)images->data + i * ic * H * W, (size_t)(ic * H * W) * sizeof(float));
        st = encoder_pass(&r, net, m, &x, (int32_t)H, (int32_t)W);
        if (st == VC_STATUS_OK) st = vc_backend_sync(be);
        if (st == VC_STATUS_OK) be->ops->download(be, md + i * mc * h * w, x, (size_t)(mc * h * w) * sizeof(float));
    }
    vc_arena_release(be, m0);
    size_t peak = peak_end(be, old_peak, m0);
    if (st == VC_STATUS_OK) {
        if (clamp_logvar) {  /* DiagonalGaussianDistribution: logvar = clamp(logvar, -30, 20) (§4.3) */
            int64_t half = mc / 2;
            for (int64_t i = 0; i < N; i++)
                for (int64_t k = half * h * w; k < mc * h * w; k++) {
                    float *v = md + i * mc * h * w + k;
                    if (*v < -30.0f) *v = -30.0f;
                    if (*v > 20.0f) *v = 20.0f;
                }
        }
        vc_log(ctx, VC_LOG_INFO, "vae: encoded %lld image(s) of %lldx%lld, peak working memory %.1f MB",
               (long long)N, (long long)H, (long long)W, (double)peak / 1e6);
    } else {
        vc_tensor_free(moments);
    }
out_net:
    free(net);
    return st;
}
