/* config.c - built-in presets of the four official variants (spec §1.1, §1.3,
 * interface contract §2.1), variant detection from tensor names (contract
 * §2.2 step 2) and sizes from tensor shapes (spec §1.6). The YAML reader is in
 * config_yaml.c, the expected tensor list and strict check in schema.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *const variant_ids[] = {"t2v-512-v1", "t2v-1024-v1", "t2v-512-v2", "i2v-512-v1"};

/* open_clip ViT-H-14 (spec §1.3): built in, no JSON needed (contract §2.2.3) */
static void vit_h14(vc_clip_text_config *t, vc_clip_vision_config *v)
{
    t->width = 1024;
    t->heads = 16;
    t->layers = 24;
    t->vocab_size = 49408;
    t->context_length = 77;
    t->mlp_width = 4096;
    t->layers_used = 23; /* penultimate (§2.6) */
    t->embed_dim = 1024;
    v->width = 1280;
    v->head_width = 80;
    v->heads = 16;
    v->layers = 32;
    v->patch_size = 14;
    v->image_size = 224;
    v->mlp_width = 5120;
    v->n_tokens = 257;
    v->embed_dim = 1024;
    v->text_width = 1024;
    v->text_vocab_size = 49408;
    v->text_context_length = 77;
}

void vc_config_preset(vc_variant variant, vc_model_config *cfg)
{
    if (!cfg) return;
    if ((int)variant < 0 || (int)variant > 3) variant = VC_VARIANT_T2V_512_V1;
    memset(cfg, 0, sizeof *cfg);
    cfg->variant = variant;
    cfg->variant_id = variant_ids[variant];
    cfg->image_conditioned = variant == VC_VARIANT_I2V_512_V1;
    /* §1.1 common */
    cfg->linear_start = 0.00085;
    cfg->linear_end = 0.012;
    cfg->timesteps = 1000;
    cfg->scale_factor = 0.18215;
    cfg->scale_a = 1.0;
    cfg->scale_b = 0.3; /* constructor default; 1024 v1 relies on it (§7.5 quirk) */
    cfg->mid_step = 400;
    cfg->default_frames = 16;
    vc_unet_config *u = &cfg->unet;
    u->in_channels = 4;
    u->out_channels = 4;
    u->model_channels = 320;
    u->n_levels = 4;
    u->channel_mult[0] = 1;
    u->channel_mult[1] = 2;
    u->channel_mult[2] = 4;
    u->channel_mult[3] = 4;
    u->num_res_blocks = 2;
    u->attention_ds_mask = 0x7; /* attention_resolutions [4,2,1] */
    u->num_head_channels = 64;
    u->transformer_depth = 1;
    u->temporal_transformer_depth = 1;
    u->context_dim = 1024;
    u->temporal_length = 16;
    u->init_attn_heads = 8;
    u->use_linear = true;
    u->temporal_attention = true;
    u->temporal_selfatt_only = true;
    u->addition_attention = true;
    vc_vae_config *v = &cfg->vae;
    v->ch = 128;
    v->n_levels = 4;
    v->ch_mult[0] = 1;
    v->ch_mult[1] = 2;
    v->ch_mult[2] = 4;
    v->ch_mult[3] = 4;
    v->num_res_blocks = 2;
    v->z_channels = 4;
    v->embed_dim = 4;
    v->in_channels = 3;
    v->out_ch = 3;
    v->double_z = true;
    vit_h14(&cfg->text, &cfg->vision);
    snprintf(cfg->text_arch, sizeof cfg->text_arch, "ViT-H-14");
    cfg->resampler = (vc_resampler_config){.dim = 1024, .depth = 4, .dim_head = 64, .heads = 12, .num_queries = 16,
                                           .embedding_dim = 1280, .output_dim = 1024, .ff_mult = 4};
    switch (variant) {
    case VC_VARIANT_T2V_512_V1:
        u->use_relative_position = true;
        cfg->default_height = 320;
        cfg->default_width = 512;
        cfg->default_fps = 0;
        break;
    case VC_VARIANT_T2V_1024_V1:
        u->use_relative_position = true;
        u->fps_cond = true;
        cfg->use_scale = true;
        cfg->fix_scale_bug = true;
        cfg->default_height = 576;
        cfg->default_width = 1024;
        cfg->default_fps = 28;
        break;
    case VC_VARIANT_T2V_512_V2:
        u->temporal_conv = true;
        u->fps_cond = true;
        cfg->use_scale = true;
        cfg->scale_b = 0.7;
        cfg->default_height = 320;
        cfg->default_width = 512;
        cfg->default_fps = 28;
        break;
    case VC_VARIANT_I2V_512_V1:
        u->temporal_conv = true;
        u->fps_cond = true;
        u->use_image_attention = true;
        u->image_context_len = 16;
        cfg->use_scale = true;
        cfg->scale_b = 0.7;
        cfg->default_height = 320;
        cfg->default_width = 512;
        cfg->default_fps = 8;
        snprintf(cfg->vision_arch, sizeof cfg->vision_arch, "ViT-H-14");
        break;
    }
}

/* Variant a configuration's flags correspond to (same order as detection). */
vc_variant vc_config_variant_of(const vc_model_config *cfg)
{
    if (cfg->image_conditioned) return VC_VARIANT_I2V_512_V1;
    if (cfg->unet.temporal_conv) return VC_VARIANT_T2V_512_V2;
    if (cfg->unet.fps_cond) return VC_VARIANT_T2V_1024_V1;
    return VC_VARIANT_T2V_512_V1;
}

const char *vc_config_variant_id(vc_variant v)
{
    return (int)v >= 0 && (int)v <= 3 ? variant_ids[v] : "unknown";
}

vc_variant vc_config_detect_variant(const vc_weights *w)
{
    bool image = false, tconv = false, fps = false;
    size_t n = w ? vc_weights_count(w) : 0;
    for (size_t i = 0; i < n; i++) {
        const char *name = vc_weights_at(w, i)->name;
        if (strncmp(name, "image_proj_model.", 17) == 0 || strncmp(name, "embedder.", 9) == 0 ||
            strstr(name, ".attn2.to_k_ip.weight"))
            image = true;
        else if (strncmp(name, "model.diffusion_model.", 22) == 0) {
            if (strstr(name, ".temopral_conv.")) tconv = true; /* §1.5: misspelt in every checkpoint */
            else if (strncmp(name + 22, "fps_embedding.", 14) == 0) fps = true;
        }
    }
    if (image) return VC_VARIANT_I2V_512_V1;
    if (tconv) return VC_VARIANT_T2V_512_V2;
    if (fps) return VC_VARIANT_T2V_1024_V1;
    return VC_VARIANT_T2V_512_V1;
}

/* ------------------------------------------------------- sizes from shapes */

static const vc_weight *findf(const vc_weights *w, const char *fmt, ...) VC_PRINTF(2, 3);
static const vc_weight *findf(const vc_weights *w, const char *fmt, ...)
{
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof name) return NULL;
    return vc_weights_find(w, name);
}

/* dim k of a tensor of rank ndim, or 0 */
static int64_t dimf(const vc_weight *t, int ndim, int k)
{
    if (!t || t->ndim != ndim || k >= ndim || t->shape[k] <= 0 || t->shape[k] > (1 << 24)) return 0;
    return t->shape[k];
}

/* count of consecutive indices i with fmt(i) present */
static int count_indexed(const vc_weights *w, const char *fmt, int max)
{
    int i = 0;
    while (i < max) {
        char name[256];
        snprintf(name, sizeof name, fmt, i);
        if (!vc_weights_find(w, name)) break;
        i++;
    }
    return i;
}

/* UNet structure from the input blocks (spec §1.6, general layout §5.0). Leaves
 * the preset where the file is incomplete: the strict check then names what is off. */
static void fill_unet(vc_context *ctx, const vc_weights *w, vc_unet_config *u)
{
    const char *up = "model.diffusion_model.";
    const vc_weight *t = findf(w, "%sinput_blocks.0.0.weight", up);
    int64_t mc = dimf(t, 4, 0), ic = dimf(t, 4, 1);
    int64_t oc = dimf(findf(w, "%sout.2.weight", up), 4, 0);
    if (mc && ic && oc) {
        u->model_channels = (int32_t)mc;
        u->in_channels = (int32_t)ic;
        u->out_channels = (int32_t)oc;
    }
    /* walk the input blocks: ResBlocks (in_layers) and Downsamples (op) */
    int levels = 0, nrb0 = -1, nrb = 0, blk = 1;
    int32_t mult[VC_MAX_LEVELS] = {0};
    uint32_t mask = 0;
    bool ok = mc > 0;
    while (ok && blk < 1000) {
        const vc_weight *r = findf(w, "%sinput_blocks.%d.0.in_layers.2.weight", up, blk);
        const vc_weight *d = findf(w, "%sinput_blocks.%d.0.op.weight", up, blk);
        if (r) {
            int64_t co = dimf(r, 4, 0);
            if (!co || co % mc || levels >= VC_MAX_LEVELS) {
                ok = false;
                break;
            }
            if (nrb > 0 && mult[levels] != (int32_t)(co / mc)) {
                ok = false;
                break;
            }
            mult[levels] = (int32_t)(co / mc);
            if (findf(w, "%sinput_blocks.%d.1.norm.weight", up, blk)) mask |= 1u << levels;
            nrb++;
        } else if (d) {
            if (nrb0 >= 0 && nrb != nrb0) ok = false;
            nrb0 = nrb;
            nrb = 0;
            levels++;
        } else break;
        blk++;
    }
    if (ok && nrb > 0 && (nrb0 < 0 || nrb == nrb0) && levels < VC_MAX_LEVELS) {
        u->n_levels = levels + 1;
        memcpy(u->channel_mult, mult, sizeof mult);
        u->num_res_blocks = nrb;
        u->attention_ds_mask = mask;
    }
    const char *mb = "model.diffusion_model.middle_block.";
    int64_t cd = dimf(findf(w, "%s1.transformer_blocks.0.attn2.to_k.weight", mb), 2, 1);
    if (cd) u->context_dim = (int32_t)cd;
    const vc_weight *pin = findf(w, "%s1.proj_in.weight", mb);
    if (pin) u->use_linear = pin->ndim == 2;
    int depth = count_indexed(w, "model.diffusion_model.middle_block.1.transformer_blocks.%d.norm1.weight", 64);
    if (depth) u->transformer_depth = depth;
    int tdepth = count_indexed(w, "model.diffusion_model.middle_block.2.transformer_blocks.%d.norm1.weight", 64);
    if (tdepth) u->temporal_transformer_depth = tdepth;
    /* §1.6: presence of the distinguishing tensors */
    u->addition_attention = findf(w, "%sinit_attn.0.norm.weight", up) != NULL;
    u->fps_cond = findf(w, "%sfps_embedding.0.weight", up) != NULL;
    const vc_weight *rp = findf(w, "%s2.transformer_blocks.0.attn1.relative_position_k.embeddings_table", mb);
    if (!rp) rp = findf(w, "%sinit_attn.0.transformer_blocks.0.attn1.relative_position_k.embeddings_table", up);
    u->use_relative_position = rp != NULL;
    int64_t rows = dimf(rp, 2, 0);
    if (rows >= 3 && rows % 2 == 1) u->temporal_length = (int32_t)((rows - 1) / 2);
    bool tconv = false, ip = false;
    size_t n = vc_weights_count(w);
    for (size_t i = 0; i < n && !(tconv && ip); i++) {
        const char *name = vc_weights_at(w, i)->name;
        if (strncmp(name, up, 22) != 0) continue;
        if (strstr(name, ".temopral_conv.")) tconv = true;
        if (strstr(name, ".attn2.to_k_ip.weight")) ip = true;
    }
    u->temporal_conv = tconv;
    u->use_image_attention = ip;
    vc_log(ctx, VC_LOG_DEBUG, "detected UNet: model_channels %d, %d levels, num_res_blocks %d, context %d%s%s%s%s",
           u->model_channels, u->n_levels, u->num_res_blocks, u->context_dim, u->temporal_conv ? ", temporal_conv" : "",
           u->fps_cond ? ", fps_cond" : "", u->use_relative_position ? ", relative position" : "",
           u->use_image_attention ? ", image attention" : "");
}

static void fill_vae(const vc_weights *w, vc_vae_config *v)
{
    const char *d = "first_stage_model.decoder.";
    int64_t ch = dimf(findf(w, "%sconv_out.weight", d), 4, 1), out = dimf(findf(w, "%sconv_out.weight", d), 4, 0);
    int64_t zc = dimf(findf(w, "%sconv_in.weight", d), 4, 1);
    int64_t ed = dimf(findf(w, "first_stage_model.post_quant_conv.weight"), 4, 1);
    int64_t in = dimf(findf(w, "first_stage_model.encoder.conv_in.weight"), 4, 1);
    int levels = count_indexed(w, "first_stage_model.decoder.up.%d.block.0.conv1.weight", VC_MAX_LEVELS + 1);
    int blocks = count_indexed(w, "first_stage_model.decoder.up.0.block.%d.conv1.weight", 64);
    if (!ch || !out || !zc || !ed || !in || levels < 1 || levels > VC_MAX_LEVELS || blocks < 1) return;
    int32_t mult[VC_MAX_LEVELS] = {0};
    for (int i = 0; i < levels; i++) {
        int64_t co = dimf(findf(w, "%sup.%d.block.0.conv1.weight", d, i), 4, 0);
        if (!co || co % ch) return;
        mult[i] = (int32_t)(co / ch);
    }
    v->ch = (int32_t)ch;
    v->out_ch = (int32_t)out;
    v->z_channels = (int32_t)zc;
    v->embed_dim = (int32_t)ed;
    v->in_channels = (int32_t)in;
    v->n_levels = levels;
    memcpy(v->ch_mult, mult, sizeof mult);
    v->num_res_blocks = blocks - 1; /* the decoder has num_res_blocks + 1 per level */
}

/* CLIP layer counts may differ from ViT-H-14; widths may not: their head
 * counts are not in the file (contract §2.2 step 2). */
static vc_status fill_clip(vc_context *ctx, const vc_weights *w, vc_model_config *cfg)
{
    const char *c = "cond_stage_model.model.";
    vc_clip_text_config *t = &cfg->text;
    const vc_weight *te = findf(w, "%stoken_embedding.weight", c);
    int64_t width = dimf(te, 2, 1);
    if (width && width != t->width)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "CLIP text width %lld differs from the built-in ViT-H-14 (%d); its head count cannot be read "
                       "from the tensor shapes: give the model's YAML config (--config) with its open_clip arch",
                       (long long)width, t->width);
    int layers = count_indexed(w, "cond_stage_model.model.transformer.resblocks.%d.ln_1.weight", 4096);
    if (layers >= 1 && te) {
        t->layers = layers;
        t->layers_used = layers - 1; /* penultimate */
        t->vocab_size = (int32_t)dimf(te, 2, 0);
        int64_t cl = dimf(findf(w, "%spositional_embedding", c), 2, 0);
        if (cl) t->context_length = (int32_t)cl;
        int64_t m = dimf(findf(w, "%stransformer.resblocks.0.mlp.c_fc.weight", c), 2, 0);
        if (m) t->mlp_width = (int32_t)m;
        int64_t e = dimf(findf(w, "%stext_projection", c), 2, 1);
        if (e) t->embed_dim = (int32_t)e;
    }
    if (!cfg->image_conditioned) return VC_STATUS_OK;
    const char *p = "embedder.model.visual.";
    vc_clip_vision_config *v = &cfg->vision;
    const vc_weight *cw = findf(w, "%sconv1.weight", p);
    int64_t vw = dimf(cw, 4, 0);
    if (vw && vw != v->width)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "CLIP vision width %lld differs from the built-in ViT-H-14 (%d); its head count cannot be read "
                       "from the tensor shapes: give the model's YAML config (--config) with its open_clip arch",
                       (long long)vw, v->width);
    int vl = count_indexed(w, "embedder.model.visual.transformer.resblocks.%d.ln_1.weight", 4096);
    if (vl >= 1 && cw) {
        v->layers = vl;
        int64_t ps = dimf(cw, 4, 2);
        int64_t nt = dimf(findf(w, "%spositional_embedding", p), 2, 0);
        if (ps && nt) {
            v->patch_size = (int32_t)ps;
            v->n_tokens = (int32_t)nt;
            int64_t g = 1;
            while ((g + 1) * (g + 1) <= nt - 1) g++;
            v->image_size = (int32_t)(g * ps);
        }
        int64_t m = dimf(findf(w, "%stransformer.resblocks.0.mlp.c_fc.weight", p), 2, 0);
        if (m) v->mlp_width = (int32_t)m;
        int64_t e = dimf(findf(w, "%sproj", p), 2, 1);
        if (e) v->embed_dim = (int32_t)e;
    }
    const vc_weight *lte = findf(w, "embedder.model.token_embedding.weight");
    if (dimf(lte, 2, 1)) {
        v->text_width = (int32_t)dimf(lte, 2, 1);
        v->text_vocab_size = (int32_t)dimf(lte, 2, 0);
        int64_t cl = dimf(findf(w, "embedder.model.positional_embedding"), 2, 0);
        if (cl) v->text_context_length = (int32_t)cl;
    }
    return VC_STATUS_OK;
}

/* Resampler sizes from shapes; heads 12 x 64 as the original hard-codes
 * (contract §2.2.4). Used with and without a YAML. */
static vc_status fill_resampler(vc_context *ctx, const vc_weights *w, vc_model_config *cfg)
{
    vc_resampler_config *r = &cfg->resampler;
    const char *p = "image_proj_model.";
    const vc_weight *lat = findf(w, "%slatents", p);
    int64_t nq = dimf(lat, 3, 1), dim = dimf(lat, 3, 2);
    int64_t emb = dimf(findf(w, "%sproj_in.weight", p), 2, 1);
    int64_t od = dimf(findf(w, "%sproj_out.weight", p), 2, 0);
    int depth = count_indexed(w, "image_proj_model.layers.%d.0.norm1.weight", 1024);
    int64_t ff = dimf(findf(w, "%slayers.0.1.1.weight", p), 2, 0);
    if (!nq || !dim || !emb || !od || depth < 1 || !ff) return VC_STATUS_OK; /* the strict check reports it */
    r->num_queries = (int32_t)nq;
    r->dim = (int32_t)dim;
    r->embedding_dim = (int32_t)emb;
    r->output_dim = (int32_t)od;
    r->depth = depth;
    r->heads = 12;
    r->dim_head = 64;
    r->ff_mult = ff % dim == 0 ? (int32_t)(ff / dim) : 4;
    int64_t inner = dimf(findf(w, "%slayers.0.0.to_q.weight", p), 2, 0);
    if (inner && inner != (int64_t)r->heads * r->dim_head)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "image_proj_model.layers.0.0.to_q.weight has %lld rows; the Resampler is built with 12 heads x 64 "
                       "(768) as the original hard-codes, and head counts are not guessed from shapes",
                       (long long)inner);
    cfg->unet.image_context_len = r->num_queries;
    return VC_STATUS_OK;
}

vc_status vc_config_fill_from_weights(vc_context *ctx, const vc_weights *w, vc_model_config *cfg)
{
    if (!w || !cfg) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "fill config: NULL argument");
    vc_status st;
    if (!cfg->from_yaml) {
        vc_model_config preset = *cfg;
        fill_unet(ctx, w, &cfg->unet);
        fill_vae(w, &cfg->vae);
        /* heads = width / num_head_channels (contract §2.2.5): the preset's
         * head width is kept; a width it does not divide means the file needs its YAML */
        const vc_unet_config *u = &cfg->unet;
        int64_t d = u->num_head_channels;
        for (int l = 0; l < u->n_levels; l++) {
            int64_t wl = (int64_t)u->model_channels * u->channel_mult[l];
            if (wl % d)
                return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                               "UNet level %d width %lld is not a multiple of num_head_channels %lld of the %s preset; "
                               "head counts are not recoverable from tensor shapes: give the model's YAML config "
                               "(--config)", l, (long long)wl, (long long)d, cfg->variant_id);
        }
        st = fill_clip(ctx, w, cfg);
        if (st != VC_STATUS_OK) return st;
        if (memcmp(&preset.unet, &cfg->unet, sizeof cfg->unet) || memcmp(&preset.vae, &cfg->vae, sizeof cfg->vae))
            vc_log(ctx, VC_LOG_WARN, "model sizes differ from the %s preset; sizes taken from the tensor shapes, "
                   "UNet heads of %d channels assumed (give the YAML config to be sure)", cfg->variant_id, u->num_head_channels);
    }
    if (cfg->image_conditioned) {
        st = fill_resampler(ctx, w, cfg);
        if (st != VC_STATUS_OK) return st;
    }
    return VC_STATUS_OK;
}
