/* unet.c - the 3-D UNet forward (spec §5) on the backend vtable.
 *
 * Layout: the whole network runs on folded activations [(B T), C, h, w]
 * (row n = b*T + t, spec conventions). The joint-over-frames GroupNorm and the
 * temporal convolution take the folded video as it is (group_norm's frames,
 * conv_temporal's [B,T,C,S]); the transformers' proj_in/proj_out read and
 * write the frames across the transposition to token rows [(N h w), C] or
 * per-pixel sequences [(B h w), T, C] (linear_strided, §5.12), so only the
 * network's input and output are permuted.
 *
 * Memory: one forward takes, from the backend arena, the skip tensors plus two
 * ping-pong buffers for the decoder path (allocated once at the bottom), and
 * above them each block's working set, released after the block (mark/release),
 * so the peak is about the skips + one block. Feed-forward hidden layers are
 * computed in row chunks; attention is tiled by the backend.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unet.h"

#define GN_GROUPS 32
#define MAX_RES_BLOCKS 16
#define MAX_SKIPS (1 + VC_MAX_LEVELS * MAX_RES_BLOCKS + VC_MAX_LEVELS)
/* feed-forward hidden rows are processed in chunks of at most this many floats */
#define FF_CHUNK_FLOATS ((int64_t)16 << 20)

typedef struct run {
    vc_context *ctx;
    vc_backend *be;
    const vc_backend_ops *op;
    const vc_unet_config *u;
    vc_unet_weights wts;
    int32_t B, T, N;        /* batch, frames, N = B*T folded frames */
    int32_t L, D, L_txt;    /* context tokens, context width, text tokens (I2V split, §5.6) */
    int32_t E;              /* time-embedding width 4*mc */
    const float *context;   /* [B, L, D] */
    const float *emb_silu;  /* [B, E] = SiLU(emb): every ResBlock emb_layers starts with SiLU */
    vc_status st;           /* first failure */
    int64_t n_marks;        /* transient marks open (vc_backend_ops.transient) */
} run;

/* ------------------------------------------------------------ weights */

static const vc_weight *model_weight(void *user, const char *name)
{
    const vc_model *m = user;
    char full[320];
    int n = snprintf(full, sizeof full, "model.diffusion_model.%s", name);
    if (n < 0 || n >= (int)sizeof full || !m->weights) return NULL;
    return vc_weights_find(m->weights, full);
}

vc_unet_weights vc_unet_weights_of_model(const vc_model *model)
{
    vc_unet_weights w = {model_weight, (void *)model};
    return w;
}

/* Float32 data of weight `fmt...`, which must have exactly numel elements; NULL
 * with r->st set otherwise. A half-resident weight (vc_weights_open_as) is
 * widened into the arena: it lives until the caller's mark is released, so
 * each module takes its mark before looking up its weights. */
VC_PRINTF(3, 4) static const float *wt(run *r, int64_t numel, const char *fmt, ...)
{
    if (r->st) return NULL;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= (int)sizeof name) {
        r->st = vc_fail(r->ctx, VC_STATUS_INTERNAL, "UNet weight name too long (%s...)", name);
        return NULL;
    }
    const vc_weight *t = r->wts.find(r->wts.user, name);
    if (!t || (!t->f32 && !t->half)) {
        r->st = vc_fail(r->ctx, VC_STATUS_MODEL_MISMATCH,
                        "UNet weight model.diffusion_model.%s is missing (or not a float tensor)", name);
        return NULL;
    }
    if (t->numel != numel) {
        r->st = vc_fail(r->ctx, VC_STATUS_MODEL_MISMATCH,
                        "UNet weight model.diffusion_model.%s has %lld elements; the configuration needs %lld",
                        name, (long long)t->numel, (long long)numel);
        return NULL;
    }
    if (t->f32) return t->f32;
    const float *d = vc_arena_widen(r->be, t->half, t->half_dtype, numel);
    if (!d)
        r->st = vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY, "UNet: out of working memory widening %s (%.1f MiB)", name,
                        (double)numel * 4.0 / 1048576.0);
    return d;
}

/* ------------------------------------------------------------ memory */

static float *buf(run *r, int64_t n)
{
    if (r->st) return NULL;
    float *p = vc_arena_floats(r->be, n);
    if (!p)
        r->st = vc_fail(r->ctx, VC_STATUS_OUT_OF_MEMORY,
                        "UNet: out of working memory allocating %.1f MiB (%.1f MiB already in use)",
                        (double)n * 4.0 / 1048576.0, (double)r->be->arena.used / 1048576.0);
    return p;
}

/* ------------------------------------------------------------ op helpers */

/* GroupNorm of n images [C,S] (frames 1) or of n folded videos [frames,C,S]
 * with statistics over all their frames, after an input bias the producer
 * left out (sample i adds in_bias[(i / bias_group) * C + c]; NULL: none) */
static void gn_biased(run *r, const float *x, float *y, int64_t n, int32_t frames, int32_t C, int64_t S,
                      const float *in_bias, int32_t bias_group, const float *g, const float *b, float eps, bool silu)
{
    const vc_group_norm_args a = {
        .x = x, .y = y, .n = (int32_t)n, .frames = frames, .C = C, .G = GN_GROUPS, .S = S, .gamma = g, .beta = b,
        .eps = eps, .silu = silu, .in_bias = in_bias, .bias_group = bias_group,
    };
    r->op->group_norm(r->be, &a);
}

static void gn(run *r, const float *x, float *y, int64_t n, int32_t frames, int32_t C, int64_t S, const float *g,
               const float *b, float eps, bool silu)
{
    gn_biased(r, x, y, n, frames, C, S, NULL, 0, g, b, eps, silu);
}

static void conv(run *r, const float *x, int32_t n, int32_t ci, int32_t h, int32_t w, const float *wgt,
                 const float *bias, int32_t co, int32_t k, int32_t stride, int32_t pad, const float *res, float *y)
{
    vc_conv2d_args a = {
        .x = x, .n = n, .ci = ci, .h = h, .w = w, .weight = wgt, .bias = bias, .co = co, .kh = k, .kw = k,
        .stride = stride, .pad_top = pad, .pad_left = pad, .pad_bottom = pad, .pad_right = pad,
        .residual = res, .y = y,
    };
    r->op->conv2d(r->be, &a);
}

static void perm4(run *r, const float *x, float *y, int64_t d0, int64_t d1, int64_t d2, int64_t d3, int p0,
                  int p1, int p2, int p3)
{
    const int64_t shape[4] = {d0, d1, d2, d3};
    const int32_t perm[4] = {p0, p1, p2, p3};
    r->op->permute(r->be, x, y, 4, shape, perm);
}

/* y = x W^T + b (+ res) on rows that hold B equal, contiguous per-video slabs.
 * Each video is its own GEMM: OpenBLAS rounds some shapes differently when M
 * changes, and this keeps a batch of 2B (guidance batching) bit-identical to
 * two batches of B. */
static void lin(run *r, const float *x, int64_t rows, int32_t in, const float *w, const float *b, int32_t out,
                const float *res, float *y)
{
    const int64_t per = rows / r->B;
    for (int32_t v = 0; v < r->B; v++)
        r->op->linear(r->be, x + v * per * in, per, in, w, b, out, res ? res + v * per * out : NULL,
                      y + v * per * out);
}

/* vc_backend_ops.transient, where the backend has it. Marks nest: a block
 * releases the ones it made (transient_release to the count it began with),
 * an enclosing block's stay. */
static void transient(run *r, float *p, int64_t n)
{
    r->n_marks++;
    if (r->op->transient) r->op->transient(r->be, p, n);
}

static void transient_release(run *r, int64_t keep)
{
    r->n_marks = keep;
    if (r->op->transient) r->op->transient(r->be, NULL, keep);
}

/* What a block function takes from the arena and the transient marks it
 * opens, given back together when it returns. */
typedef struct block_scope {
    size_t arena;
    int64_t marks;
} block_scope;

static block_scope block_open(run *r) { return (block_scope){vc_arena_mark(r->be), r->n_marks}; }

static void block_close(run *r, block_scope s)
{
    transient_release(r, s.marks);
    vc_arena_release(r->be, s.arena);
}

static bool cancelled(run *r)
{
    if (r->st) return true;
    if (vc_cancelled(r->ctx)) {
        r->st = vc_fail(r->ctx, VC_STATUS_CANCELLED, "UNet forward cancelled");
        return true;
    }
    return false;
}

/* ------------------------------------------------------------ timestep embedding (§5.2) */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

void vc_unet_timestep_embedding(int64_t t, int32_t dim, float *out)
{
    const int32_t half = dim / 2;
    const float neg_log = (float)(-log(10000.0)); /* 0xc1135d8e */
    const float ft = (float)t;                     /* exact for |t| < 2^24 */
    for (int32_t i = 0; i < half; i++) {
        float a = neg_log * (float)i;
        float b = a / (float)half;
        float f = (float)exp((double)b);
        /* §5.2: PyTorch's CPU exp is one ulp above the correctly rounded value here */
        if (half == 160 && i == 2) f = f32_from_bits(0x3f642906u);
        if (half == 160 && i == 55) f = f32_from_bits(0x3d2cba16u);
        float arg = ft * f;
        out[i] = (float)cos((double)arg);       /* cos first, then sin (§5.2 quirk) */
        out[half + i] = (float)sin((double)arg);
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

/* ------------------------------------------------------------ ResBlock (§5.4) */

/* TemporalConvBlock: x, out folded [B,T,C,S]. */
static void temporal_conv(run *r, const char *p, const float *x, int32_t C, int64_t S, float *out)
{
    const float *g[5], *b[5], *w[5], *c[5];
    const block_scope scope = block_open(r);
    for (int k = 1; k <= 4; k++) {
        g[k] = wt(r, C, "%s.temopral_conv.conv%d.0.weight", p, k); /* §1.5: misspelt in every checkpoint */
        b[k] = wt(r, C, "%s.temopral_conv.conv%d.0.bias", p, k);
        w[k] = wt(r, (int64_t)C * C * 3, "%s.temopral_conv.conv%d.%d.weight", p, k, k == 1 ? 2 : 3);
        c[k] = wt(r, C, "%s.temopral_conv.conv%d.%d.bias", p, k, k == 1 ? 2 : 3);
    }
    const int32_t B = r->B, T = r->T;
    const int64_t n = (int64_t)r->N * C * S;
    float *y1 = buf(r, n), *y2 = buf(r, n);
    if (!r->st) {
        /* folded throughout: the norm and the convolution take the video's
         * frames as [T,C,S] blocks, so nothing is unfolded. Convolutions 1-3
         * leave their bias to the next norm, which adds it on the way in. */
        transient(r, y1, n); /* each norm's output is read only by the convolution after it, */
        transient(r, y2, n); /* convolutions 1-3's outputs only by the norm after them */
        for (int k = 1; k <= 4; k++) {
            /* §5.4 quirk: 5-D GroupNorm, statistics over all frames */
            if (k == 1) gn(r, x, y1, B, T, C, S, g[k], b[k], 1e-5f, true);
            else gn_biased(r, y2, y1, B, T, C, S, c[k - 1], B, g[k], b[k], 1e-5f, true);
            r->op->conv_temporal(r->be, y1, B, C, T, S, w[k], k == 4 ? c[k] : NULL, C, 3, k == 4 ? x : NULL,
                                 k == 4 ? out : y2);
        }
    }
    block_close(r, scope);
}

/* x [N,ci,hh,ww] -> out [N,co,hh,ww]. */
static void res_block(run *r, const char *p, const float *x, int32_t ci, int32_t co, int32_t hh, int32_t ww,
                      float *out)
{
    const int64_t S = (int64_t)hh * ww, N = r->N;
    const block_scope scope = block_open(r);
    const float *g1 = wt(r, ci, "%s.in_layers.0.weight", p), *b1 = wt(r, ci, "%s.in_layers.0.bias", p);
    const float *w1 = wt(r, (int64_t)co * ci * 9, "%s.in_layers.2.weight", p);
    const float *c1 = wt(r, co, "%s.in_layers.2.bias", p);
    const float *we = wt(r, (int64_t)co * r->E, "%s.emb_layers.1.weight", p);
    const float *be = wt(r, co, "%s.emb_layers.1.bias", p);
    const float *g2 = wt(r, co, "%s.out_layers.0.weight", p), *b2 = wt(r, co, "%s.out_layers.0.bias", p);
    const float *w2 = wt(r, (int64_t)co * co * 9, "%s.out_layers.3.weight", p);
    const float *c2 = wt(r, co, "%s.out_layers.3.bias", p);
    const float *ws = NULL, *bs = NULL;
    if (ci != co) {
        ws = wt(r, (int64_t)co * ci, "%s.skip_connection.weight", p);
        bs = wt(r, co, "%s.skip_connection.bias", p);
    }
    float *a = buf(r, N * ci * S), *h = buf(r, N * co * S), *e = buf(r, (int64_t)r->B * co);
    float *sk = ci != co ? buf(r, N * co * S) : NULL;
    float *h2 = r->u->temporal_conv ? buf(r, N * co * S) : NULL;
    if (!r->st) {
        transient(r, a, N * ci * S); /* read only by the convolution, */
        transient(r, h, N * co * S); /* written by it (no bias), read by the norm and the next convolution */
        gn(r, x, a, N, 1, ci, S, g1, b1, 1e-5f, true); /* GroupNormSpecific, per frame (§5.10) */
        /* h = conv(a) + c1 + emb of the frame's video: the bias and the
         * embedding go into the norm's input bias (e[b] + c1, per video) */
        conv(r, a, (int32_t)N, ci, hh, ww, w1, NULL, co, 3, 1, 1, NULL, h);
        lin(r, r->emb_silu, r->B, r->E, we, be, co, NULL, e);
        r->op->add_channel(r->be, e, c1, r->B, co, 1, 0);
        gn_biased(r, h, h, N, 1, co, S, e, r->T, g2, b2, 1e-5f, true);
        const float *skip = x;
        if (sk) {
            conv(r, x, (int32_t)N, ci, hh, ww, ws, bs, co, 1, 1, 0, NULL, sk);
            skip = sk;
        }
        if (h2) {
            conv(r, h, (int32_t)N, co, hh, ww, w2, c2, co, 3, 1, 1, skip, h2);
            temporal_conv(r, p, h2, co, S, out);
        } else {
            conv(r, h, (int32_t)N, co, hh, ww, w2, c2, co, 3, 1, 1, skip, out);
        }
    }
    block_close(r, scope);
}

/* ------------------------------------------------------------ attention blocks */

static void attn_args(vc_attn_args *a, const float *q, const float *k, const float *v, float *o, int32_t n_seq,
                      int32_t heads, int32_t d, int32_t lq, int32_t lk, int64_t C)
{
    memset(a, 0, sizeof *a);
    a->q = q;
    a->k = k;
    a->v = v;
    a->o = o;
    a->n_seq = n_seq;
    a->heads = heads;
    a->lq = lq;
    a->lk = lk;
    a->d = d;
    a->kv_group = 1;
    a->q_tok = a->k_tok = a->v_tok = a->o_tok = C;
    a->q_seq = a->o_seq = (int64_t)lq * C;
    a->k_seq = a->v_seq = (int64_t)lk * C;
    a->scale = (float)pow((double)d, -0.5); /* fl(d^-1/2), §5.11 */
}

/* BasicTransformerBlock (§5.5; temporal variant §5.7) on tokens a [rows, C],
 * rows = n_seq sequences of lq tokens; updated in place. */
static void basic_block(run *r, const char *p, float *a, int64_t rows, int32_t C, int32_t heads, int32_t d,
                        int32_t n_seq, int32_t lq, bool spatial)
{
    const vc_unet_config *u = r->u;
    const int64_t CC = (int64_t)C * C;
    const int32_t kvw = spatial ? r->D : C;
    const bool ip = spatial && u->use_image_attention;
    const bool rel = !spatial && u->use_relative_position;
    const block_scope scope = block_open(r);
    const float *n1w = wt(r, C, "%s.norm1.weight", p), *n1b = wt(r, C, "%s.norm1.bias", p);
    const float *n2w = wt(r, C, "%s.norm2.weight", p), *n2b = wt(r, C, "%s.norm2.bias", p);
    const float *n3w = wt(r, C, "%s.norm3.weight", p), *n3b = wt(r, C, "%s.norm3.bias", p);
    const float *q1 = wt(r, CC, "%s.attn1.to_q.weight", p), *k1 = wt(r, CC, "%s.attn1.to_k.weight", p);
    const float *v1 = wt(r, CC, "%s.attn1.to_v.weight", p);
    const float *o1 = wt(r, CC, "%s.attn1.to_out.0.weight", p), *o1b = wt(r, C, "%s.attn1.to_out.0.bias", p);
    const float *q2 = wt(r, CC, "%s.attn2.to_q.weight", p);
    const float *k2 = wt(r, (int64_t)C * kvw, "%s.attn2.to_k.weight", p);
    const float *v2 = wt(r, (int64_t)C * kvw, "%s.attn2.to_v.weight", p);
    const float *o2 = wt(r, CC, "%s.attn2.to_out.0.weight", p), *o2b = wt(r, C, "%s.attn2.to_out.0.bias", p);
    const float *kip = NULL, *vip = NULL;
    if (ip) {
        kip = wt(r, (int64_t)C * r->D, "%s.attn2.to_k_ip.weight", p);
        vip = wt(r, (int64_t)C * r->D, "%s.attn2.to_v_ip.weight", p);
    }
    const float *rk1 = NULL, *rv1 = NULL, *rk2 = NULL, *rv2 = NULL;
    const int32_t M = u->temporal_length;
    if (rel) {
        const int64_t tn = (int64_t)(2 * M + 1) * d;
        rk1 = wt(r, tn, "%s.attn1.relative_position_k.embeddings_table", p);
        rv1 = wt(r, tn, "%s.attn1.relative_position_v.embeddings_table", p);
        rk2 = wt(r, tn, "%s.attn2.relative_position_k.embeddings_table", p);
        rv2 = wt(r, tn, "%s.attn2.relative_position_v.embeddings_table", p);
    }
    const float *fw1 = wt(r, 8 * CC, "%s.ff.net.0.proj.weight", p);
    const float *fb1 = wt(r, (int64_t)8 * C, "%s.ff.net.0.proj.bias", p);
    const float *fw2 = wt(r, 4 * CC, "%s.ff.net.2.weight", p), *fb2 = wt(r, C, "%s.ff.net.2.bias", p);

    const int64_t n = rows * C;
    float *nrm = buf(r, n), *q = buf(r, n), *k = buf(r, n), *v = buf(r, n), *o = buf(r, n);
    if (r->st) goto done;
    /* the normed tokens and the attention intermediates pass only between
     * the norms, linear layers and attention (vc_backend_ops.transient) */
    transient(r, nrm, n);
    transient(r, q, n);
    transient(r, k, n);
    transient(r, v, n);
    transient(r, o, n);
    vc_attn_args aa;

    /* self-attention (attn1) */
    r->op->layer_norm(r->be, a, nrm, rows, C, n1w, n1b, 1e-5f);
    lin(r, nrm, rows, C, q1, NULL, C, NULL, q);
    lin(r, nrm, rows, C, k1, NULL, C, NULL, k);
    lin(r, nrm, rows, C, v1, NULL, C, NULL, v);
    attn_args(&aa, q, k, v, o, n_seq, heads, d, lq, lq, C);
    if (rel) {
        aa.rel_k = rk1;
        aa.rel_v = rv1;
        aa.rel_max = M;
    }
    r->op->attention(r->be, &aa);
    lin(r, o, rows, C, o1, o1b, C, a, a);

    /* attn2: cross-attention on the context (spatial) or a second self-attention (temporal, §5.7) */
    r->op->layer_norm(r->be, a, nrm, rows, C, n2w, n2b, 1e-5f);
    lin(r, nrm, rows, C, q2, NULL, C, NULL, q);
    if (spatial) {
        /* keys/values once per video: the context is the same for its T frames (§5.5) */
        const int64_t cr = (int64_t)r->B * r->L;
        float *kc = buf(r, cr * C), *vc = buf(r, cr * C);
        if (r->st) goto done;
        transient(r, kc, cr * C);
        transient(r, vc, cr * C);
        lin(r, r->context, cr, r->D, k2, NULL, C, NULL, kc);
        lin(r, r->context, cr, r->D, v2, NULL, C, NULL, vc);
        attn_args(&aa, q, kc, vc, o, n_seq, heads, d, lq, r->L_txt, C);
        aa.kv_group = r->T;
        aa.k_seq = aa.v_seq = (int64_t)r->L * C;
        r->op->attention(r->be, &aa);
        if (ip) {
            /* §5.6: image tokens after the text ones, own softmax, summed with weight 1.0 */
            lin(r, r->context, cr, r->D, kip, NULL, C, NULL, kc);
            lin(r, r->context, cr, r->D, vip, NULL, C, NULL, vc);
            attn_args(&aa, q, kc + (int64_t)r->L_txt * C, vc + (int64_t)r->L_txt * C, o, n_seq, heads, d, lq,
                      r->L - r->L_txt, C);
            aa.kv_group = r->T;
            aa.k_seq = aa.v_seq = (int64_t)r->L * C;
            aa.accumulate = true;
            r->op->attention(r->be, &aa);
        }
    } else {
        lin(r, nrm, rows, C, k2, NULL, C, NULL, k);
        lin(r, nrm, rows, C, v2, NULL, C, NULL, v);
        attn_args(&aa, q, k, v, o, n_seq, heads, d, lq, lq, C);
        if (rel) {
            aa.rel_k = rk2;
            aa.rel_v = rv2;
            aa.rel_max = M;
        }
        r->op->attention(r->be, &aa);
    }
    lin(r, o, rows, C, o2, o2b, C, a, a);

    /* GEGLU feed-forward (§5.5), in row chunks */
    r->op->layer_norm(r->be, a, nrm, rows, C, n3w, n3b, 1e-5f);
    {
        /* chunks within each video, so the GEMM shapes do not depend on the batch */
        const int64_t per = rows / r->B;
        int64_t chunk = FF_CHUNK_FLOATS / (8 * (int64_t)C);
        if (chunk < 256) chunk = 256;
        if (chunk > per) chunk = per;
        const bool fused = r->op->feed_forward != NULL;
        float *hid = fused ? NULL : buf(r, chunk * 8 * C), *gg = fused ? NULL : buf(r, chunk * 4 * C);
        if (r->st) goto done;
        for (int64_t v0 = 0; v0 < rows; v0 += per) {
            for (int64_t r0 = v0; r0 < v0 + per; r0 += chunk) {
                int64_t m = v0 + per - r0 < chunk ? v0 + per - r0 : chunk;
                if (fused) {
                    r->op->feed_forward(r->be, nrm + r0 * C, m, C, fw1, fb1, 4 * C, fw2, fb2, C, a + r0 * C,
                                        a + r0 * C);
                    continue;
                }
                r->op->linear(r->be, nrm + r0 * C, m, C, fw1, fb1, 8 * C, NULL, hid);
                r->op->geglu(r->be, hid, gg, m, 4 * C);
                r->op->linear(r->be, gg, m, 4 * C, fw2, fb2, C, a + r0 * C, a + r0 * C);
            }
        }
    }
done:
    block_close(r, scope);
}

/* SpatialTransformer (§5.5): x, out [N,C,S] per frame. */
static void spatial_tf(run *r, const char *p, const float *x, int32_t C, int64_t S, float *out)
{
    const int64_t CC = (int64_t)C * C, N = r->N, rows = N * S;
    const int32_t d = r->u->num_head_channels;
    const block_scope scope = block_open(r);
    const float *gw = wt(r, C, "%s.norm.weight", p), *gb = wt(r, C, "%s.norm.bias", p);
    const float *pi = wt(r, CC, "%s.proj_in.weight", p), *pib = wt(r, C, "%s.proj_in.bias", p);
    const float *po = wt(r, CC, "%s.proj_out.weight", p), *pob = wt(r, C, "%s.proj_out.bias", p);
    float *g = buf(r, rows * C), *tok = buf(r, rows * C);
    if (!r->st) {
        transient(r, g, rows * C); /* read only by proj_in */
        /* the token stream: written by proj_in and the blocks' residual layers,
         * read by their norms and proj_out */
        transient(r, tok, rows * C);
        gn(r, x, g, N, 1, C, S, gw, gb, 1e-6f, false); /* nn.GroupNorm eps 1e-6, per frame (§5.10) */
        /* proj_in reads each normed frame [C,S] as S token rows: tok [N,S,C],
         * token = row*ww + col (use_linear false would use 1x1 convs: the same
         * arithmetic) */
        const vc_linear_args in = {
            .x = g, .x_batch = (int64_t)C * S, .x_row = 1, .x_col = S, .w = pi, .bias = pib, .in = C, .out = C,
            .rows = S, .batch = (int32_t)N, .y = tok, .y_batch = (int64_t)S * C, .y_row = C, .y_col = 1,
        };
        r->op->linear_strided(r->be, &in);
        char bp[256];
        for (int32_t i = 0; i < r->u->transformer_depth && !r->st; i++) {
            snprintf(bp, sizeof bp, "%s.transformer_blocks.%d", p, i);
            basic_block(r, bp, tok, rows, C, C / d, d, (int32_t)N, (int32_t)S, true);
        }
        /* proj_out writes the frames back channel-major, plus the block input */
        const vc_linear_args o = {
            .x = tok, .x_batch = (int64_t)S * C, .x_row = C, .x_col = 1, .w = po, .bias = pob, .in = C, .out = C,
            .rows = S, .batch = (int32_t)N, .residual = x, .y = out, .y_batch = (int64_t)C * S, .y_row = 1, .y_col = S,
        };
        r->op->linear_strided(r->be, &o);
    }
    block_close(r, scope);
}

/* TemporalTransformer (§5.7) and init_attn (§5.8, inner width Ci != C):
 * x, out folded [B,T,C,S]. */
static void temporal_tf(run *r, const char *p, const float *x, int32_t C, int32_t Ci, int32_t heads, int32_t d,
                        int64_t S, int32_t depth, float *out)
{
    const int32_t B = r->B, T = r->T;
    const int64_t rows = (int64_t)B * S * T;
    /* init_attn's Conv1d weights [Ci,C,1] have the Linear's elements */
    const block_scope scope = block_open(r);
    const float *gw = wt(r, C, "%s.norm.weight", p), *gb = wt(r, C, "%s.norm.bias", p);
    const float *pi = wt(r, (int64_t)Ci * C, "%s.proj_in.weight", p), *pib = wt(r, Ci, "%s.proj_in.bias", p);
    const float *po = wt(r, (int64_t)C * Ci, "%s.proj_out.weight", p), *pob = wt(r, C, "%s.proj_out.bias", p);
    float *un = buf(r, rows * C), *a = buf(r, rows * Ci);
    if (!r->st) {
        transient(r, un, rows * C); /* read only by proj_in */
        transient(r, a, rows * Ci); /* the token stream, as in spatial_tf */
        gn(r, x, un, B, T, C, S, gw, gb, 1e-6f, false); /* all frames (§5.10), on the folded video */
        /* per video: proj_in reads frame t's [C,S] as S token rows and writes
         * rows (s, t) of the sequences [(B S), T, Ci]; proj_out the reverse,
         * plus the block input: no permutes */
        const int64_t vid_x = (int64_t)T * C * S, vid_a = (int64_t)S * T * Ci;
        for (int32_t b = 0; b < B; b++) {
            const vc_linear_args in = {
                .x = un + b * vid_x, .x_batch = (int64_t)C * S, .x_row = 1, .x_col = S, .w = pi, .bias = pib,
                .in = C, .out = Ci, .rows = S, .batch = T, .y = a + b * vid_a, .y_batch = Ci,
                .y_row = (int64_t)T * Ci, .y_col = 1,
            };
            r->op->linear_strided(r->be, &in);
        }
        char bp[256];
        for (int32_t i = 0; i < depth && !r->st; i++) {
            snprintf(bp, sizeof bp, "%s.transformer_blocks.%d", p, i);
            basic_block(r, bp, a, rows, Ci, heads, d, (int32_t)(B * S), T, false);
        }
        for (int32_t b = 0; b < B; b++) {
            const vc_linear_args o = {
                .x = a + b * vid_a, .x_batch = Ci, .x_row = (int64_t)T * Ci, .x_col = 1, .w = po, .bias = pob,
                .in = Ci, .out = C, .rows = S, .batch = T, .residual = x + b * vid_x, .y = out + b * vid_x,
                .y_batch = (int64_t)C * S, .y_row = 1, .y_col = S,
            };
            r->op->linear_strided(r->be, &o);
        }
    }
    block_close(r, scope);
}

/* ------------------------------------------------------------ down/up-sampling (§5.9) */

static void downsample(run *r, const char *p, const float *x, int32_t C, int32_t hh, int32_t ww, float *out)
{
    size_t mark = vc_arena_mark(r->be);
    const float *w = wt(r, (int64_t)C * C * 9, "%s.op.weight", p), *b = wt(r, C, "%s.op.bias", p);
    if (!r->st) conv(r, x, r->N, C, hh, ww, w, b, C, 3, 2, 1, NULL, out); /* stride 2, padding 1 all sides */
    vc_arena_release(r->be, mark);
}

static void upsample(run *r, const char *p, const float *x, int32_t C, int32_t hh, int32_t ww, float *out)
{
    size_t mark = vc_arena_mark(r->be);
    const float *w = wt(r, (int64_t)C * C * 9, "%s.conv.weight", p), *b = wt(r, C, "%s.conv.bias", p);
    float *up = buf(r, (int64_t)r->N * C * 4 * hh * ww);
    if (!r->st) {
        r->op->upsample_nearest2x(r->be, x, up, (int64_t)r->N * C, hh, ww);
        conv(r, up, r->N, C, 2 * hh, 2 * ww, w, b, C, 3, 1, 1, NULL, out);
    }
    vc_arena_release(r->be, mark);
}

/* ------------------------------------------------------------ blocks */

/* One [R, S?, Tt?, U?] block (input, output or the first half of the middle):
 * in [N,ci,hh,ww] -> dest; dest has [N,co,hh,ww] (or 2hh x 2ww with U). */
static void seq_block(run *r, const char *p, const float *in, int32_t ci, int32_t co, int32_t hh, int32_t ww,
                      bool attn, bool up, float *dest)
{
    const vc_unet_config *u = r->u;
    const int64_t S = (int64_t)hh * ww;
    const bool tt = attn && u->temporal_attention;
    const int n_mod = 1 + (attn ? 1 : 0) + (tt ? 1 : 0) + (up ? 1 : 0);
    size_t mark = vc_arena_mark(r->be);
    char mp[256];
    int idx = 0;
    const float *cur = in;
    float *o;

    o = idx == n_mod - 1 ? dest : buf(r, (int64_t)r->N * co * S);
    snprintf(mp, sizeof mp, "%s.%d", p, idx++);
    if (!r->st) res_block(r, mp, cur, ci, co, hh, ww, o);
    cur = o;
    if (attn) {
        o = idx == n_mod - 1 ? dest : buf(r, (int64_t)r->N * co * S);
        snprintf(mp, sizeof mp, "%s.%d", p, idx++);
        if (!r->st) spatial_tf(r, mp, cur, co, S, o);
        cur = o;
    }
    if (tt) {
        o = idx == n_mod - 1 ? dest : buf(r, (int64_t)r->N * co * S);
        snprintf(mp, sizeof mp, "%s.%d", p, idx++);
        if (!r->st) temporal_tf(r, mp, cur, co, co, co / u->num_head_channels, u->num_head_channels, S,
                                u->temporal_transformer_depth, o);
        cur = o;
    }
    if (up) {
        /* Upsample sits after the block's other modules: sub-index 1 or 3 (§5.0) */
        snprintf(mp, sizeof mp, "%s.%d", p, idx++);
        if (!r->st) upsample(r, mp, cur, co, hh, ww, dest);
    }
    vc_arena_release(r->be, mark);
}

/* ------------------------------------------------------------ checks */

static int32_t level_width(const vc_unet_config *u, int32_t l) { return u->model_channels * u->channel_mult[l]; }

static vc_status check_config(vc_context *ctx, const vc_unet_config *u)
{
    if (u->n_levels < 1 || u->n_levels > VC_MAX_LEVELS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet with %d levels (supported 1..%d)", u->n_levels,
                       VC_MAX_LEVELS);
    if (u->num_res_blocks < 1 || u->num_res_blocks > MAX_RES_BLOCKS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet num_res_blocks %d (supported 1..%d)", u->num_res_blocks,
                       MAX_RES_BLOCKS);
    if (u->num_head_channels < 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet num_head_channels %d (only positive values supported)",
                       u->num_head_channels);
    if (u->model_channels < 1 || u->in_channels < 1 || u->out_channels < 1 || u->context_dim < 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet sizes are not positive");
    if (u->transformer_depth < 1 || u->temporal_transformer_depth < 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet transformer depth < 1");
    if (u->use_relative_position && u->temporal_length < 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet temporal_length %d with relative positions",
                       u->temporal_length);
    if (u->use_causal_attention)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet use_causal_attention is not implemented");
    if (!u->temporal_selfatt_only && u->temporal_attention)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet temporal_selfatt_only=false is not implemented");
    if (u->addition_attention && u->init_attn_heads < 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet init_attn heads %d", u->init_attn_heads);
    if (u->model_channels % GN_GROUPS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet model_channels %d is not a multiple of %d",
                       u->model_channels, GN_GROUPS);
    for (int32_t l = 0; l < u->n_levels; l++) {
        int32_t w = level_width(u, l);
        if (u->channel_mult[l] < 1 || w % GN_GROUPS || w % u->num_head_channels)
            return vc_fail(ctx, VC_STATUS_UNSUPPORTED,
                           "UNet level %d width %d must be a positive multiple of %d and of the head width %d", l,
                           w, GN_GROUPS, u->num_head_channels);
    }
    return VC_STATUS_OK;
}

vc_status vc_unet_check_size(vc_context *ctx, const vc_unet_config *u, int32_t T, int32_t h, int32_t w)
{
    if (T < 1) return vc_fail(ctx, VC_STATUS_BAD_SIZE, "frame count %d: at least 1 frame is needed", T);
    if (u->n_levels < 1 || u->n_levels > VC_MAX_LEVELS)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "UNet with %d levels", u->n_levels);
    const int32_t m = 1 << (u->n_levels - 1);
    if (h >= m && w >= m && h % m == 0 && w % m == 0 && h <= (1 << 20) && w <= (1 << 20)) return VC_STATUS_OK;
    int32_t hl = h / m * m, wl = w / m * m;
    if (hl < m) hl = m;
    if (wl < m) wl = m;
    int32_t hu = (h + m - 1) / m * m, wu = (w + m - 1) / m * m;
    if (hu < m) hu = m;
    if (wu < m) wu = m;
    return vc_fail(ctx, VC_STATUS_BAD_SIZE,
                   "latent size %dx%d: height and width must be positive multiples of %d (2^(levels-1), "
                   "spec §5.1); nearest valid latent sizes %dx%d or %dx%d",
                   h, w, m, hl, wl, hu, wu);
}

uint64_t vc_unet_estimate_bytes(const vc_unet_config *u, int32_t B, int32_t T, int32_t h, int32_t w, int32_t L)
{
    if (u->n_levels < 1 || u->n_levels > VC_MAX_LEVELS) return 0;
    const uint64_t N = (uint64_t)B * T;
    uint64_t skips = 0, worst = 0, hmax = 0;
    uint64_t S = (uint64_t)h * w;
    skips += N * u->model_channels * S;
    for (int32_t l = 0; l < u->n_levels; l++) {
        uint64_t Sl = S >> (2 * l), C = (uint64_t)level_width(u, l);
        skips += (uint64_t)u->num_res_blocks * N * C * Sl;
        if (l < u->n_levels - 1) skips += N * C * (Sl >> 2);
        uint64_t up = l > 0 ? N * C * (Sl << 2) : 0;
        if (N * C * Sl > hmax) hmax = N * C * Sl;
        if (up > hmax) hmax = up;
        /* a transformer block: ~8 token buffers plus FF chunk, cross K/V */
        uint64_t blk = 9 * N * 2 * C * Sl + 3 * (uint64_t)FF_CHUNK_FLOATS / 2 + 2 * (uint64_t)B * L * C;
        if (blk > worst) worst = blk;
    }
    if (u->addition_attention) {
        uint64_t Ci = (uint64_t)u->init_attn_heads * u->num_head_channels;
        uint64_t blk = N * S * (2 * u->model_channels + 7 * Ci) + 3 * (uint64_t)FF_CHUNK_FLOATS / 2;
        if (blk > worst) worst = blk;
    }
    return 4 * (skips + 2 * hmax + worst) + ((uint64_t)64 << 20);
}

static vc_status check_ops(vc_context *ctx, const vc_backend_ops *o)
{
    const char *missing = !o->linear ? "linear" : !o->linear_strided ? "linear_strided" : !o->conv2d ? "conv2d"
                          : !o->conv_temporal ? "conv_temporal" : !o->group_norm ? "group_norm" : !o->layer_norm ? "layer_norm"
                          : !o->attention ? "attention" : !o->silu ? "silu" : !o->geglu ? "geglu"
                          : !o->add ? "add" : !o->add_channel ? "add_channel" : !o->permute ? "permute"
                          : !o->upsample_nearest2x ? "upsample_nearest2x"
                          : !o->concat_channels ? "concat_channels" : !o->upload ? "upload" : NULL;
    if (missing)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "backend '%s' has no %s kernel (needed by the UNet)", o->name,
                       missing);
    return VC_STATUS_OK;
}

/* ------------------------------------------------------------ forward (§5.1) */

vc_status vc_unet_forward(vc_context *ctx, const vc_unet_config *u, vc_unet_weights weights, const float *x,
                          int32_t B, int32_t T, int32_t h, int32_t w, const int64_t *t, const int64_t *fps,
                          const float *context, int32_t L, float *eps)
{
    if (!ctx || !ctx->backend || !u || !weights.find || !x || !t || !context || !eps)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_unet_forward: NULL argument");
    vc_status st;
    if ((st = check_config(ctx, u)) || (st = check_ops(ctx, ctx->backend->ops)) ||
        (st = vc_unet_check_size(ctx, u, T, h, w)))
        return st;
    if (B < 1) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "UNet batch %d < 1", B);
    if ((int64_t)B * T > INT32_MAX / 4)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "UNet batch x frames %lld is too large",
                       (long long)B * T);
    int32_t L_txt = L;
    if (u->use_image_attention) {
        L_txt = L - u->image_context_len; /* §5.6: text tokens first, image tokens after */
        if (u->image_context_len < 1 || L_txt < 1)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                           "I2V context has %d tokens; it needs text tokens followed by %d image tokens", L,
                           u->image_context_len);
    } else if (L < 1) {
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "context has %d tokens", L);
    }
    if (u->fps_cond && !fps)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "this UNet is fps-conditioned but no fps was given");

    run R = {
        .ctx = ctx, .be = ctx->backend, .op = ctx->backend->ops, .u = u, .wts = weights, .B = B, .T = T,
        .N = B * T, .L = L, .D = u->context_dim, .L_txt = L_txt, .E = 4 * u->model_channels,
        .context = context,
    };
    run *r = &R;
    const int32_t nl = u->n_levels, nrb = u->num_res_blocks, mc = u->model_channels, d = u->num_head_channels;
    const int32_t E = r->E, N = r->N;
    size_t mark0 = vc_arena_mark(r->be);

    /* time (+ fps) embedding (§5.2, §5.3): sinusoids on the host, MLPs on the backend */
    {
        const float *t0w = wt(r, (int64_t)E * mc, "time_embed.0.weight"), *t0b = wt(r, E, "time_embed.0.bias");
        const float *t2w = wt(r, (int64_t)E * E, "time_embed.2.weight"), *t2b = wt(r, E, "time_embed.2.bias");
        const float *f0w = NULL, *f0b = NULL, *f2w = NULL, *f2b = NULL;
        if (u->fps_cond) {
            f0w = wt(r, (int64_t)E * mc, "fps_embedding.0.weight");
            f0b = wt(r, E, "fps_embedding.0.bias");
            f2w = wt(r, (int64_t)E * E, "fps_embedding.2.weight");
            f2b = wt(r, E, "fps_embedding.2.bias");
        }
        float *host = r->st ? NULL : malloc((size_t)B * mc * sizeof(float));
        if (!r->st && !host) r->st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory (time embedding)");
        float *sin_d = buf(r, (int64_t)B * mc), *t1 = buf(r, (int64_t)B * E), *emb = buf(r, (int64_t)B * E);
        if (!r->st) {
            for (int32_t b = 0; b < B; b++) vc_unet_timestep_embedding(t[b], mc, host + (size_t)b * mc);
            r->op->upload(r->be, sin_d, host, (size_t)B * mc * sizeof(float));
            lin(r, sin_d, B, mc, t0w, t0b, E, NULL, t1);
            r->op->silu(r->be, t1, t1, (int64_t)B * E);
            lin(r, t1, B, E, t2w, t2b, E, NULL, emb);
            if (u->fps_cond) {
                for (int32_t b = 0; b < B; b++) vc_unet_timestep_embedding(fps[b], mc, host + (size_t)b * mc);
                r->op->upload(r->be, sin_d, host, (size_t)B * mc * sizeof(float));
                lin(r, sin_d, B, mc, f0w, f0b, E, NULL, t1);
                r->op->silu(r->be, t1, t1, (int64_t)B * E);
                lin(r, t1, B, E, f2w, f2b, E, emb, emb); /* emb = temb + femb */
            }
            r->op->silu(r->be, emb, emb, (int64_t)B * E);
            r->emb_silu = emb;
        }
        free(host);
    }

    /* skip tensors and decoder ping-pong buffers, at the bottom of the arena */
    int32_t hs[VC_MAX_LEVELS], ws[VC_MAX_LEVELS];
    hs[0] = h;
    ws[0] = w;
    for (int32_t l = 1; l < nl; l++) {
        hs[l] = hs[l - 1] / 2;
        ws[l] = ws[l - 1] / 2;
    }
#define SZ(l) ((int64_t)hs[l] * ws[l])
    float *sk[MAX_SKIPS];
    int32_t sk_ch[MAX_SKIPS], n_sk = 0;
    sk_ch[n_sk] = mc;
    sk[n_sk] = buf(r, (int64_t)N * mc * SZ(0));
    n_sk++;
    int64_t hmax = (int64_t)N * level_width(u, nl - 1) * SZ(nl - 1);
    for (int32_t l = 0; l < nl; l++) {
        const int32_t wl = level_width(u, l);
        for (int32_t j = 0; j < nrb; j++) {
            sk_ch[n_sk] = wl;
            sk[n_sk++] = buf(r, (int64_t)N * wl * SZ(l));
        }
        if (l < nl - 1) {
            sk_ch[n_sk] = wl;
            sk[n_sk++] = buf(r, (int64_t)N * wl * SZ(l + 1));
        }
        int64_t hl = (int64_t)N * wl * (l > 0 ? SZ(l - 1) : SZ(l));
        if (hl > hmax) hmax = hl;
    }
    float *hA = buf(r, hmax), *hB = buf(r, hmax);

    /* input block 0: fold, conv 3x3, then init_attn before s0 is saved (§5.8 quirk) */
    if (!r->st) {
        size_t m = vc_arena_mark(r->be);
        float *xf = buf(r, (int64_t)N * u->in_channels * SZ(0));
        const float *cw = wt(r, (int64_t)mc * u->in_channels * 9, "input_blocks.0.0.weight");
        const float *cb = wt(r, mc, "input_blocks.0.0.bias");
        float *c0 = u->addition_attention ? buf(r, (int64_t)N * mc * SZ(0)) : sk[0];
        if (!r->st) {
            perm4(r, x, xf, B, u->in_channels, T, SZ(0), 0, 2, 1, 3);
            conv(r, xf, N, u->in_channels, h, w, cw, cb, mc, 3, 1, 1, NULL, c0);
            if (u->addition_attention)
                temporal_tf(r, "init_attn.0", c0, mc, u->init_attn_heads * d, u->init_attn_heads, d, SZ(0),
                            u->transformer_depth, sk[0]);
        }
        vc_arena_release(r->be, m);
    }

    /* input blocks 1.. (§5.0) */
    int32_t k = 0, ch = mc;
    char p[64];
    for (int32_t l = 0; l < nl && !cancelled(r); l++) {
        const int32_t wl = level_width(u, l);
        const bool attn = (u->attention_ds_mask >> l) & 1u;
        for (int32_t j = 0; j < nrb && !cancelled(r); j++) {
            k++;
            snprintf(p, sizeof p, "input_blocks.%d", k);
            seq_block(r, p, sk[k - 1], ch, wl, hs[l], ws[l], attn, false, sk[k]);
            ch = wl;
        }
        if (l < nl - 1 && !cancelled(r)) {
            k++;
            snprintf(p, sizeof p, "input_blocks.%d.0", k);
            downsample(r, p, sk[k - 1], ch, hs[l], ws[l], sk[k]);
        }
    }

    /* middle block: R, S, Tt, R at the last level (§5.9) */
    if (!cancelled(r)) {
        const int32_t l = nl - 1;
        const int64_t S = SZ(l);
        size_t m = vc_arena_mark(r->be);
        float *a = buf(r, (int64_t)N * ch * S), *b = buf(r, (int64_t)N * ch * S);
        int idx = 0;
        if (!r->st) {
            snprintf(p, sizeof p, "middle_block.%d", idx++);
            res_block(r, p, sk[n_sk - 1], ch, ch, hs[l], ws[l], a);
            snprintf(p, sizeof p, "middle_block.%d", idx++);
            if (!cancelled(r)) spatial_tf(r, p, a, ch, S, b);
            if (u->temporal_attention && !cancelled(r)) {
                snprintf(p, sizeof p, "middle_block.%d", idx++);
                temporal_tf(r, p, b, ch, ch, ch / d, d, S, u->temporal_transformer_depth, a);
                float *tmp = a;
                a = b;
                b = tmp;
            }
            snprintf(p, sizeof p, "middle_block.%d", idx++);
            if (!cancelled(r)) res_block(r, p, b, ch, ch, hs[l], ws[l], hA);
        }
        vc_arena_release(r->be, m);
    }

    /* output blocks: concat(current, skip) -> R, S, Tt, U (§5.1) */
    float *cur = hA, *nxt = hB;
    int32_t top = n_sk, ko = 0;
    for (int32_t l = nl - 1; l >= 0 && !cancelled(r); l--) {
        const int32_t wl = level_width(u, l);
        const bool attn = (u->attention_ds_mask >> l) & 1u;
        for (int32_t j = 0; j <= nrb && !cancelled(r); j++) {
            const float *s = sk[--top];
            const int32_t sc = sk_ch[top], ci = ch + sc;
            size_t m = vc_arena_mark(r->be);
            float *cat = buf(r, (int64_t)N * ci * SZ(l));
            if (!r->st) {
                r->op->concat_channels(r->be, cur, ch, s, sc, cat, N, SZ(l)); /* current first, skip second */
                snprintf(p, sizeof p, "output_blocks.%d", ko);
                seq_block(r, p, cat, ci, wl, hs[l], ws[l], attn, l > 0 && j == nrb, nxt);
            }
            vc_arena_release(r->be, m);
            ko++;
            ch = wl;
            float *tmp = cur;
            cur = nxt;
            nxt = tmp;
        }
    }

    /* output head: GN, SiLU, conv 3x3, unfold (§5.9) */
    if (!cancelled(r)) {
        size_t m = vc_arena_mark(r->be);
        const float *gw = wt(r, mc, "out.0.weight"), *gb = wt(r, mc, "out.0.bias");
        const float *cw = wt(r, (int64_t)u->out_channels * mc * 9, "out.2.weight");
        const float *cb = wt(r, u->out_channels, "out.2.bias");
        float *g = buf(r, (int64_t)N * mc * SZ(0)), *o = buf(r, (int64_t)N * u->out_channels * SZ(0));
        if (!r->st) {
            gn(r, cur, g, N, 1, mc, SZ(0), gw, gb, 1e-5f, true);
            conv(r, g, N, mc, h, w, cw, cb, u->out_channels, 3, 1, 1, NULL, o);
            perm4(r, o, eps, B, T, u->out_channels, SZ(0), 0, 2, 1, 3);
        }
        vc_arena_release(r->be, m);
    }
#undef SZ
    vc_arena_release(r->be, mark0);
    if (ctx->peak_bytes < r->be->arena.peak) ctx->peak_bytes = r->be->arena.peak;
    return r->st;
}
