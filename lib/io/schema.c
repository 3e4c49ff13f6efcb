/* schema.c - the exact state dict a configuration implies (spec §1.5 in the
 * general sizes of §5.0 / §4), and the strict check of a loaded file against it
 * (spec §9.1, interface contract §2.2.6). Tensors are listed in the order the
 * original modules register them, so a writer can reproduce the file layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef struct spec_builder {
    vc_tensor_spec *v;
    size_t n, cap;
    bool oom, too_long;
    char bad_name[256];
} spec_builder;

static void add_spec(spec_builder *b, const char *prefix, const char *suffix, const int64_t *shape, int ndim)
{
    if (b->oom || b->too_long) return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        vc_tensor_spec *nv = realloc(b->v, cap * sizeof *nv);
        if (!nv) {
            b->oom = true;
            return;
        }
        b->v = nv;
        b->cap = cap;
    }
    vc_tensor_spec *s = &b->v[b->n];
    int len = snprintf(s->name, sizeof s->name, "%s%s", prefix, suffix);
    if (len < 0 || (size_t)len >= sizeof s->name) {
        b->too_long = true;
        snprintf(b->bad_name, sizeof b->bad_name, "%.120s%.120s", prefix, suffix);
        return;
    }
    s->ndim = ndim;
    memset(s->shape, 0, sizeof s->shape);
    for (int i = 0; i < ndim; i++) s->shape[i] = shape[i];
    b->n++;
}

#define NDIM_OF(...) ((int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* T(b, prefix, "suffix", dims...) adds one tensor of the given shape */
#define T(b, p, sfx, ...) add_spec((b), (p), (sfx), (const int64_t[]){__VA_ARGS__}, NDIM_OF(__VA_ARGS__))
#define T0(b, p, sfx) add_spec((b), (p), (sfx), NULL, 0)

/* p + fmt(...) into a caller buffer */
static const char *pfx(char *buf, size_t cap, const char *fmt, ...) VC_PRINTF(3, 4);
static const char *pfx(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    return buf;
}
#define P(buf, ...) pfx((buf), sizeof(buf), __VA_ARGS__)

static void norm(spec_builder *b, const char *p, const char *name, int64_t c)
{
    char s[64];
    T(b, p, P(s, "%s.weight", name), c);
    T(b, p, P(s, "%s.bias", name), c);
}

static void linear(spec_builder *b, const char *p, const char *name, int64_t out, int64_t in, bool bias)
{
    char s[96];
    T(b, p, P(s, "%s.weight", name), out, in);
    if (bias) T(b, p, P(s, "%s.bias", name), out);
}

static void conv2(spec_builder *b, const char *p, const char *name, int64_t out, int64_t in, int64_t k)
{
    char s[96];
    T(b, p, P(s, "%s.weight", name), out, in, k, k);
    T(b, p, P(s, "%s.bias", name), out);
}

/* ---------------------------------------------------------------- UNet */

/* RES(p, ci, co): spec §1.5, ResBlock of lvdm openaimodel3d (registration
 * order: in_layers, emb_layers, out_layers, skip_connection, temopral_conv). */
static void unet_res(spec_builder *b, const vc_unet_config *u, const char *p, int64_t ci, int64_t co)
{
    int64_t emb = 4 * (int64_t)u->model_channels;
    norm(b, p, "in_layers.0", ci);
    conv2(b, p, "in_layers.2", co, ci, 3);
    linear(b, p, "emb_layers.1", co, emb, true);
    norm(b, p, "out_layers.0", co);
    conv2(b, p, "out_layers.3", co, co, 3);
    if (ci != co) conv2(b, p, "skip_connection", co, ci, 1);
    if (u->temporal_conv) {
        /* §1.5 quirk: the module is misspelt `temopral_conv` in every checkpoint */
        for (int k = 1; k <= 4; k++) {
            char s[96];
            T(b, p, P(s, "temopral_conv.conv%d.0.weight", k), co);
            T(b, p, P(s, "temopral_conv.conv%d.0.bias", k), co);
            int li = k == 1 ? 2 : 3;
            T(b, p, P(s, "temopral_conv.conv%d.%d.weight", k, li), co, co, 3, 1, 1);
            T(b, p, P(s, "temopral_conv.conv%d.%d.bias", k, li), co);
        }
    }
}

/* lvdm CrossAttention at block width dim: q from dim, k/v from kv. */
static void unet_attn(spec_builder *b, const char *p, int64_t dim, int64_t d, int64_t kv, bool ip, int64_t ip_dim,
                      bool rp, int64_t m)
{
    linear(b, p, "to_q", dim, dim, false);
    linear(b, p, "to_k", dim, kv, false);
    linear(b, p, "to_v", dim, kv, false);
    linear(b, p, "to_out.0", dim, dim, true);
    if (ip) {
        linear(b, p, "to_k_ip", dim, ip_dim, false);
        linear(b, p, "to_v_ip", dim, ip_dim, false);
    }
    if (rp) {
        T(b, p, "relative_position_k.embeddings_table", 2 * m + 1, d);
        T(b, p, "relative_position_v.embeddings_table", 2 * m + 1, d);
    }
}

/* BLK(p, dim, kv, ip, rp): BasicTransformerBlock (attn1, ff, attn2, norm1..3). */
static void unet_blk(spec_builder *b, const char *p, int64_t dim, int64_t d, int64_t kv, bool ip, int64_t ip_dim,
                     bool rp, int64_t m)
{
    char q[256];
    unet_attn(b, P(q, "%sattn1.", p), dim, d, dim, false, 0, rp, m);
    linear(b, p, "ff.net.0.proj", 8 * dim, dim, true); /* GEGLU: value | gate of 4*dim */
    linear(b, p, "ff.net.2", dim, 4 * dim, true);
    unet_attn(b, P(q, "%sattn2.", p), dim, d, kv, ip, ip_dim, rp, m);
    norm(b, p, "norm1", dim);
    norm(b, p, "norm2", dim);
    norm(b, p, "norm3", dim);
}

/* ST(p, C) spatial (§5.5) or TT(p, C) temporal (§5.7) / init_attn (§5.8). */
static void unet_transformer(spec_builder *b, const vc_unet_config *u, const char *p, int64_t c, int64_t heads,
                             int64_t d, bool temporal, bool linear_proj, int depth)
{
    int64_t inner = heads * d;
    char q[256];
    norm(b, p, "norm", c);
    /* use_linear: Linear [inner,C]; else 1x1 Conv2d (spatial) / Conv1d (temporal) */
    if (linear_proj) linear(b, p, "proj_in", inner, c, true);
    else if (temporal) {
        T(b, p, "proj_in.weight", inner, c, 1);
        T(b, p, "proj_in.bias", inner);
    } else conv2(b, p, "proj_in", inner, c, 1);
    for (int i = 0; i < depth; i++) {
        P(q, "%stransformer_blocks.%d.", p, i);
        if (temporal) {
            /* temporal_selfatt_only: attn2 is self-attention too (kv = width) */
            unet_blk(b, q, inner, d, inner, false, 0, u->use_relative_position, u->temporal_length);
        } else {
            unet_blk(b, q, inner, d, u->context_dim, u->use_image_attention, u->context_dim, false, 0);
        }
    }
    if (linear_proj) linear(b, p, "proj_out", c, inner, true);
    else if (temporal) {
        T(b, p, "proj_out.weight", c, inner, 1);
        T(b, p, "proj_out.bias", c);
    } else conv2(b, p, "proj_out", c, inner, 1);
}

/* Sub-modules S, Tt of a block at width c starting at sub-index *idx. */
static void unet_attn_pair(spec_builder *b, const vc_unet_config *u, const char *blockp, int *idx, int64_t c)
{
    char q[256];
    int64_t d = u->num_head_channels, heads = c / d;
    unet_transformer(b, u, P(q, "%s%d.", blockp, (*idx)++), c, heads, d, false, u->use_linear, u->transformer_depth);
    if (u->temporal_attention)
        unet_transformer(b, u, P(q, "%s%d.", blockp, (*idx)++), c, heads, d, true, u->use_linear,
                         u->temporal_transformer_depth);
}

static void unet_specs(spec_builder *b, const vc_unet_config *u)
{
    const char *up = "model.diffusion_model.";
    int64_t mc = u->model_channels, emb = 4 * mc;
    char p[256], q[256];
    linear(b, up, "time_embed.0", emb, mc, true);
    linear(b, up, "time_embed.2", emb, emb, true);
    if (u->fps_cond) {
        linear(b, up, "fps_embedding.0", emb, mc, true);
        linear(b, up, "fps_embedding.2", emb, emb, true);
    }
    /* §5.0 input blocks */
    int64_t chans[4 * VC_MAX_LEVELS * 8];
    int nchans = 0, blk = 0;
    conv2(b, P(p, "%sinput_blocks.0.", up), "0", mc, u->in_channels, 3);
    chans[nchans++] = mc;
    blk = 1;
    int64_t ch = mc;
    for (int l = 0; l < u->n_levels; l++) {
        int64_t w = mc * u->channel_mult[l];
        for (int r = 0; r < u->num_res_blocks; r++) {
            P(p, "%sinput_blocks.%d.", up, blk);
            unet_res(b, u, P(q, "%s0.", p), ch, w);
            ch = w;
            int idx = 1;
            if (u->attention_ds_mask & (1u << l)) unet_attn_pair(b, u, p, &idx, ch);
            chans[nchans++] = ch;
            blk++;
        }
        if (l != u->n_levels - 1) {
            conv2(b, P(p, "%sinput_blocks.%d.0.", up, blk), "op", ch, ch, 3);
            chans[nchans++] = ch;
            blk++;
        }
    }
    /* init_attn is registered right after the input_blocks list (§5.8: 8 heads
     * of num_head_channels, Conv1d projections, transformer_depth blocks) */
    if (u->addition_attention)
        unet_transformer(b, u, P(p, "%sinit_attn.0.", up), mc, u->init_attn_heads, u->num_head_channels, true, false,
                         u->transformer_depth);
    /* middle: R, S, Tt, R */
    {
        int idx = 0;
        P(p, "%smiddle_block.", up);
        unet_res(b, u, P(q, "%s%d.", p, idx++), ch, ch);
        unet_attn_pair(b, u, p, &idx, ch);
        unet_res(b, u, P(q, "%s%d.", p, idx++), ch, ch);
    }
    /* output blocks */
    blk = 0;
    for (int l = u->n_levels - 1; l >= 0; l--) {
        int64_t w = mc * u->channel_mult[l];
        for (int r = 0; r <= u->num_res_blocks; r++) {
            int64_t ich = nchans > 0 ? chans[--nchans] : 0;
            P(p, "%soutput_blocks.%d.", up, blk);
            unet_res(b, u, P(q, "%s0.", p), ch + ich, w);
            ch = w;
            int idx = 1;
            if (u->attention_ds_mask & (1u << l)) unet_attn_pair(b, u, p, &idx, ch);
            if (l > 0 && r == u->num_res_blocks) conv2(b, P(q, "%s%d.", p, idx), "conv", ch, ch, 3);
            blk++;
        }
    }
    norm(b, up, "out.0", ch);
    conv2(b, up, "out.2", u->out_channels, mc, 3);
}

/* ----------------------------------------------------------------- VAE */

static void vae_res(spec_builder *b, const char *p, int64_t ci, int64_t co)
{
    norm(b, p, "norm1", ci);
    conv2(b, p, "conv1", co, ci, 3);
    norm(b, p, "norm2", co);
    conv2(b, p, "conv2", co, co, 3);
    if (ci != co) conv2(b, p, "nin_shortcut", co, ci, 1);
}

static void vae_attn(spec_builder *b, const char *p, int64_t c)
{
    norm(b, p, "norm", c);
    conv2(b, p, "q", c, c, 1);
    conv2(b, p, "k", c, c, 1);
    conv2(b, p, "v", c, c, 1);
    conv2(b, p, "proj_out", c, c, 1);
}

static void vae_mid(spec_builder *b, const char *p, int64_t c)
{
    char q[256];
    vae_res(b, P(q, "%smid.block_1.", p), c, c);
    vae_attn(b, P(q, "%smid.attn_1.", p), c); /* §4: the middle attention is always present */
    vae_res(b, P(q, "%smid.block_2.", p), c, c);
}

static void vae_specs(spec_builder *b, const vc_vae_config *v)
{
    const char *e = "first_stage_model.encoder.", *d = "first_stage_model.decoder.";
    char q[256];
    int L = v->n_levels;
    int64_t ch = v->ch, zc = v->z_channels;
    /* encoder (§4.3, general ch_mult / num_res_blocks) */
    conv2(b, e, "conv_in", ch, v->in_channels, 3);
    int64_t bin = ch;
    for (int i = 0; i < L; i++) {
        int64_t bout = ch * v->ch_mult[i];
        bin = ch * (i == 0 ? 1 : v->ch_mult[i - 1]);
        for (int r = 0; r < v->num_res_blocks; r++) {
            vae_res(b, P(q, "%sdown.%d.block.%d.", e, i, r), bin, bout);
            bin = bout;
        }
        if (i != L - 1) conv2(b, P(q, "%sdown.%d.", e, i), "downsample.conv", bin, bin, 3);
    }
    vae_mid(b, e, bin);
    norm(b, e, "norm_out", bin);
    conv2(b, e, "conv_out", v->double_z ? 2 * zc : zc, bin, 3);
    /* decoder (§4.2): num_res_blocks + 1 blocks per level, up.0 last */
    bin = ch * v->ch_mult[L - 1];
    conv2(b, d, "conv_in", bin, zc, 3);
    vae_mid(b, d, bin);
    for (int i = 0; i < L; i++) {
        /* registration order is up.0 .. up.L-1, but block_in flows from the top level */
        int64_t cin = ch * v->ch_mult[L - 1];
        for (int j = L - 1; j > i; j--) cin = ch * v->ch_mult[j];
        int64_t bout = ch * v->ch_mult[i];
        for (int r = 0; r <= v->num_res_blocks; r++) {
            vae_res(b, P(q, "%sup.%d.block.%d.", d, i, r), cin, bout);
            cin = bout;
        }
        if (i != 0) conv2(b, P(q, "%sup.%d.", d, i), "upsample.conv", cin, cin, 3);
    }
    norm(b, d, "norm_out", ch * v->ch_mult[0]);
    conv2(b, d, "conv_out", v->out_ch, ch * v->ch_mult[0], 3);
    conv2(b, "first_stage_model.", "quant_conv", 2 * (int64_t)v->embed_dim, 2 * zc, 1);
    conv2(b, "first_stage_model.", "post_quant_conv", zc, v->embed_dim, 1);
}

/* ---------------------------------------------------------------- CLIP */

/* CBLK(p, D, M): open_clip ResidualAttentionBlock */
static void clip_blk(spec_builder *b, const char *p, int64_t dd, int64_t m)
{
    norm(b, p, "ln_1", dd);
    T(b, p, "attn.in_proj_weight", 3 * dd, dd);
    T(b, p, "attn.in_proj_bias", 3 * dd);
    linear(b, p, "attn.out_proj", dd, dd, true);
    norm(b, p, "ln_2", dd);
    linear(b, p, "mlp.c_fc", m, dd, true);
    linear(b, p, "mlp.c_proj", dd, m, true);
}

static void clip_text_specs(spec_builder *b, const vc_clip_text_config *t)
{
    const char *c = "cond_stage_model.model.";
    char q[256];
    T(b, c, "positional_embedding", t->context_length, t->width);
    T(b, c, "text_projection", t->width, t->embed_dim);
    T0(b, c, "logit_scale"); /* §1.5: 0-dimensional */
    for (int i = 0; i < t->layers; i++) clip_blk(b, P(q, "%stransformer.resblocks.%d.", c, i), t->width, t->mlp_width);
    T(b, c, "token_embedding.weight", t->vocab_size, t->width);
    norm(b, c, "ln_final", t->width);
}

static void clip_vision_specs(spec_builder *b, const vc_clip_vision_config *v)
{
    const char *e = "embedder.model.", *p = "embedder.model.visual.";
    char q[256];
    T(b, e, "positional_embedding", v->text_context_length, v->text_width);
    T(b, e, "text_projection", v->text_width, v->embed_dim);
    T0(b, e, "logit_scale");
    T(b, p, "class_embedding", v->width);
    T(b, p, "positional_embedding", v->n_tokens, v->width);
    T(b, p, "proj", v->width, v->embed_dim);
    T(b, p, "conv1.weight", v->width, 3, v->patch_size, v->patch_size); /* no bias */
    norm(b, p, "ln_pre", v->width);
    for (int i = 0; i < v->layers; i++) clip_blk(b, P(q, "%stransformer.resblocks.%d.", p, i), v->width, v->mlp_width);
    norm(b, p, "ln_post", v->width);
    T(b, e, "token_embedding.weight", v->text_vocab_size, v->text_width);
    norm(b, e, "ln_final", v->text_width);
}

static void resampler_specs(spec_builder *b, const vc_resampler_config *r)
{
    const char *p = "image_proj_model.";
    char q[256];
    int64_t inner = (int64_t)r->heads * r->dim_head, ff = (int64_t)r->dim * r->ff_mult;
    T(b, p, "latents", 1, r->num_queries, r->dim);
    linear(b, p, "proj_in", r->dim, r->embedding_dim, true);
    linear(b, p, "proj_out", r->output_dim, r->dim, true);
    norm(b, p, "norm_out", r->output_dim);
    for (int i = 0; i < r->depth; i++) {
        P(q, "%slayers.%d.", p, i);
        norm(b, q, "0.norm1", r->dim);
        norm(b, q, "0.norm2", r->dim);
        linear(b, q, "0.to_q", inner, r->dim, false);
        linear(b, q, "0.to_kv", 2 * inner, r->dim, false);
        linear(b, q, "0.to_out", r->dim, inner, false);
        norm(b, q, "1.0", r->dim);
        linear(b, q, "1.1", ff, r->dim, false);
        linear(b, q, "1.3", r->dim, ff, false);
    }
}

static const char *const schedule_names[] = {
    "betas", "alphas_cumprod", "alphas_cumprod_prev", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod",
    "log_one_minus_alphas_cumprod", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod",
    "posterior_variance", "posterior_log_variance_clipped", "posterior_mean_coef1", "posterior_mean_coef2",
};

vc_status vc_config_expected_tensors(vc_context *ctx, const vc_model_config *cfg, vc_tensor_spec **specs,
                                     size_t *n_specs)
{
    if (!cfg || !specs || !n_specs) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "expected tensors: NULL argument");
    *specs = NULL;
    *n_specs = 0;
    const vc_unet_config *u = &cfg->unet;
    if (u->n_levels < 1 || u->n_levels > VC_MAX_LEVELS || u->num_res_blocks < 0 || u->num_res_blocks > 8 ||
        u->num_head_channels <= 0 || cfg->vae.n_levels < 1 || cfg->vae.n_levels > VC_MAX_LEVELS ||
        cfg->vae.num_res_blocks < 0 || cfg->text.layers < 0 || cfg->text.layers > 1024 ||
        cfg->vision.layers < 0 || cfg->vision.layers > 1024 || cfg->resampler.depth < 0 ||
        cfg->resampler.depth > 1024 || u->transformer_depth < 0 || u->transformer_depth > 64 ||
        u->temporal_transformer_depth < 0 || u->temporal_transformer_depth > 64)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "expected tensors: configuration sizes out of range");
    spec_builder b = {0};
    /* root buffers first (LatentDiffusion registers them before its sub-modules) */
    for (size_t i = 0; i < sizeof schedule_names / sizeof schedule_names[0]; i++)
        T(&b, "", schedule_names[i], cfg->timesteps);
    if (cfg->use_scale) {
        /* §7.5: mid_step + (timesteps - mid_step if fix_scale_bug else timesteps) */
        T(&b, "", "scale_arr", cfg->mid_step + (cfg->fix_scale_bug ? cfg->timesteps - cfg->mid_step : cfg->timesteps));
    }
    if (cfg->learn_logvar) T(&b, "", "logvar", cfg->timesteps);
    unet_specs(&b, u);
    vae_specs(&b, &cfg->vae);
    clip_text_specs(&b, &cfg->text);
    if (cfg->image_conditioned) {
        clip_vision_specs(&b, &cfg->vision);
        resampler_specs(&b, &cfg->resampler);
    }
    if (b.oom) {
        free(b.v);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "expected tensors: out of memory");
    }
    if (b.too_long) {
        free(b.v);
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "expected tensor name '%s...' exceeds %zu characters",
                       b.bad_name, sizeof(((vc_tensor_spec *)0)->name) - 1);
    }
    *specs = b.v;
    *n_specs = b.n;
    return VC_STATUS_OK;
}

/* ---------------------------------------------------------- strict check */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static const char *shape_text(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < ndim && o < cap; i++) o += (size_t)snprintf(buf + o, cap - o, i ? ",%lld" : "%lld", (long long)shape[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

#define CHECK_LIST_CAP 20

typedef struct msg_buf {
    char text[1800];
    size_t len;
    int listed;
} msg_buf;

static void msg_add(msg_buf *m, const char *fmt, ...) VC_PRINTF(2, 3);
static void msg_add(msg_buf *m, const char *fmt, ...)
{
    if (m->len >= sizeof m->text - 1) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m->text + m->len, sizeof m->text - m->len, fmt, ap);
    va_end(ap);
    if (n > 0) m->len += (size_t)n;
    if (m->len > sizeof m->text - 1) m->len = sizeof m->text - 1;
}

vc_status vc_config_check_weights(vc_context *ctx, const vc_model_config *cfg, const vc_weights *w)
{
    if (!cfg || !w) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "strict check: NULL argument");
    vc_tensor_spec *specs;
    size_t n;
    vc_status st = vc_config_expected_tensors(ctx, cfg, &specs, &n);
    if (st != VC_STATUS_OK) return st;
    /* hash set of the expected names, to find unexpected file tensors */
    size_t cap = 1;
    while (cap < 2 * n + 2) cap <<= 1;
    int64_t *slots = malloc(cap * sizeof *slots);
    if (!slots) {
        free(specs);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "strict check: out of memory");
    }
    for (size_t i = 0; i < cap; i++) slots[i] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)hash_str(specs[i].name) & (cap - 1);
        while (slots[h] >= 0) h = (h + 1) & (cap - 1);
        slots[h] = (int64_t)i;
    }
    size_t n_missing = 0, n_unexpected = 0, n_shape = 0;
    msg_buf m = {0};
    char sa[160], sb[160];
    for (size_t i = 0; i < n; i++) {
        const vc_weight *t = vc_weights_find(w, specs[i].name);
        if (!t) {
            if (m.listed++ < CHECK_LIST_CAP) msg_add(&m, "\n  missing %s %s", specs[i].name, shape_text(sa, sizeof sa, specs[i].ndim, specs[i].shape));
            n_missing++;
            continue;
        }
        bool same = t->ndim == specs[i].ndim;
        for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == specs[i].shape[k];
        if (!same) {
            if (m.listed++ < CHECK_LIST_CAP)
                msg_add(&m, "\n  mis-shaped %s: file %s, expected %s", specs[i].name,
                        shape_text(sa, sizeof sa, t->ndim, t->shape), shape_text(sb, sizeof sb, specs[i].ndim, specs[i].shape));
            n_shape++;
        }
    }
    size_t nw = vc_weights_count(w);
    for (size_t i = 0; i < nw; i++) {
        const vc_weight *t = vc_weights_at(w, i);
        size_t h = (size_t)hash_str(t->name) & (cap - 1);
        bool found = false;
        while (slots[h] >= 0) {
            if (strcmp(specs[slots[h]].name, t->name) == 0) {
                found = true;
                break;
            }
            h = (h + 1) & (cap - 1);
        }
        if (!found) {
            if (m.listed++ < CHECK_LIST_CAP) msg_add(&m, "\n  unexpected %s %s", t->name, shape_text(sa, sizeof sa, t->ndim, t->shape));
            n_unexpected++;
        }
    }
    free(slots);
    free(specs);
    if (n_missing + n_unexpected + n_shape == 0) return VC_STATUS_OK;
    size_t total = n_missing + n_unexpected + n_shape;
    if (total > CHECK_LIST_CAP) msg_add(&m, "\n  ... and %zu more", total - CHECK_LIST_CAP);
    return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                   "model file does not match the %s configuration%s: %zu missing, %zu unexpected, %zu mis-shaped "
                   "tensors (of %zu expected, %zu in the file):%s",
                   cfg->variant_id ? cfg->variant_id : "given", cfg->from_yaml ? " (from YAML)" : " (detected)",
                   n_missing, n_unexpected, n_shape, n, nw, m.text);
}
