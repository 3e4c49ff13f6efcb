/* model.c - vc_model: load (weights + configuration + strict check), free,
 * info and a memory estimate. Configuration discovery follows interface
 * contract §2.2: the YAML when given, else the variant detected from the
 * tensor names with its preset, sizes completed from the shapes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void vc_model_default_params(vc_model_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->weights_dtype = VC_DTYPE_F32;
}

/* A schedule buffer as stored, widened to float32 (spec §7.1 rule, §7.5). */
static vc_status schedule_buffer(vc_context *ctx, const vc_weights *w, const char *name, int64_t min_len,
                                 const float **out, int32_t *len)
{
    const vc_weight *t = vc_weights_find(w, name);
    if (!t || !t->f32 || t->ndim != 1 || t->numel < min_len || t->numel > (1 << 24))
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "schedule buffer '%s' is missing, not a float tensor or shorter than %lld",
                       name, (long long)min_len);
    *out = t->f32;
    if (len) *len = (int32_t)t->numel;
    return VC_STATUS_OK;
}

vc_status vc_model_load(vc_context *ctx, const char *path, const vc_model_params *params, vc_model **out)
{
    vc_clear_error(ctx);
    if (out) *out = NULL;
    if (!out || !path) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_model_load: %s is NULL", !out ? "out" : "path");
    vc_model_params p;
    vc_model_default_params(&p);
    if (params) {
        if (params->struct_size < sizeof(uint32_t))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_model_load: params.struct_size %u is too small "
                           "(fill params with vc_model_default_params)", params->struct_size);
        vc_copy_params(&p, sizeof p, params, params->struct_size);
    }
    if (p.weights_dtype != VC_DTYPE_F32 && p.weights_dtype != VC_DTYPE_F16 && p.weights_dtype != VC_DTYPE_BF16)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_model_load: weights_dtype %d must be f32, f16 or bf16",
                       (int)p.weights_dtype);
    vc_model *m = calloc(1, sizeof *m);
    if (!m) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "vc_model_load: out of memory");
    m->path = strdup(path);
    vc_status st = m->path ? VC_STATUS_OK : vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "vc_model_load: out of memory");
    if (st == VC_STATUS_OK) st = vc_weights_open_as(ctx, path, p.weights_dtype, &m->weights);
    if (st == VC_STATUS_OK) {
        if (p.config_path) {
            st = vc_config_load_yaml(ctx, p.config_path, &m->cfg);
        } else {
            vc_variant v = vc_config_detect_variant(m->weights);
            vc_config_preset(v, &m->cfg);
            vc_log(ctx, VC_LOG_DEBUG, "%s: no config given; detected variant %s from the tensor names", path,
                   m->cfg.variant_id);
        }
    }
    if (st == VC_STATUS_OK) st = vc_config_fill_from_weights(ctx, m->weights, &m->cfg);
    if (st == VC_STATUS_OK) st = vc_config_check_weights(ctx, &m->cfg, m->weights);
    /* DDIM reads the stored alphas_cumprod and scale_arr (spec §7.1 rule, §7.5) */
    if (st == VC_STATUS_OK) st = schedule_buffer(ctx, m->weights, "alphas_cumprod", m->cfg.timesteps, &m->alphas_cumprod, NULL);
    if (st == VC_STATUS_OK && m->cfg.use_scale)
        st = schedule_buffer(ctx, m->weights, "scale_arr", m->cfg.timesteps, &m->scale_arr, &m->n_scale_arr);
    if (st != VC_STATUS_OK) {
        vc_model_free(m);
        return st;
    }
    if (p.weights_dtype != VC_DTYPE_F32)
        vc_log(ctx, VC_LOG_INFO, "%s: UNet matrices kept as %s, widened a layer at a time", path,
               vc_dtype_str(p.weights_dtype));
    vc_log(ctx, VC_LOG_DEBUG, "%s: loaded %s (%zu tensors, config %s)", path, m->cfg.variant_id,
           vc_weights_count(m->weights), p.config_path ? p.config_path : "detected");
    *out = m;
    return VC_STATUS_OK;
}

void vc_model_free(vc_model *model)
{
    if (!model) return;
    vc_weights_free(model->weights);
    free(model->path);
    free(model);
}

void vc_model_info_init(vc_model_info *info)
{
    if (!info) return;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
}

static vc_component component_of(const char *name)
{
    static const struct {
        const char *prefix;
        vc_component c;
    } map[] = {
        {"model.diffusion_model.", VC_COMPONENT_UNET},
        {"first_stage_model.encoder.", VC_COMPONENT_VAE_ENCODER},
        {"first_stage_model.decoder.", VC_COMPONENT_VAE_DECODER},
        {"cond_stage_model.", VC_COMPONENT_TEXT},
        {"embedder.model.visual.", VC_COMPONENT_VISION},
        {"image_proj_model.", VC_COMPONENT_RESAMPLER},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(name, map[i].prefix, strlen(map[i].prefix)) == 0) return map[i].c;
    return VC_COMPONENT_OTHER; /* schedule buffers, quant convs, embedder text leftovers */
}

vc_status vc_model_get_info(const vc_model *model, vc_model_info *info)
{
    if (!model || !info) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_model_get_info: NULL argument");
    if (info->struct_size < sizeof(uint32_t))
        return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_model_get_info: info.struct_size %u is too small "
                       "(call vc_model_info_init first)", info->struct_size);
    const vc_model_config *c = &model->cfg;
    vc_model_info r;
    vc_model_info_init(&r);
    r.variant = c->variant_id;
    r.image_conditioned = c->image_conditioned;
    r.fps_conditioned = c->unet.fps_cond;
    r.default_height = c->default_height;
    r.default_width = c->default_width;
    r.default_frames = c->default_frames;
    r.default_fps = c->unet.fps_cond ? c->default_fps : 0;
    r.latent_channels = c->unet.out_channels;
    r.latent_multiple = 1 << (c->unet.n_levels - 1); /* §5.0 */
    r.context_length = c->text.context_length + (c->image_conditioned ? c->unet.image_context_len : 0);
    r.context_dim = c->unet.context_dim;
    r.model_channels = c->unet.model_channels;
    size_t n = vc_weights_count(model->weights);
    r.n_tensors = (int32_t)n;
    int64_t by_dtype[8] = {0};
    uint64_t resident = 0;
    for (size_t i = 0; i < n; i++) {
        const vc_weight *t = vc_weights_at(model->weights, i);
        r.params[component_of(t->name)] += t->numel;
        if ((unsigned)t->stored_dtype < 8) by_dtype[t->stored_dtype] += t->numel;
        resident += (uint64_t)t->numel * (t->f32 ? sizeof(float) : t->half ? 2 : vc_dtype_size(t->stored_dtype));
    }
    int best = 0;
    for (int d = 1; d < 8; d++)
        if (by_dtype[d] > by_dtype[best]) best = d;
    r.stored_dtype = (vc_dtype)best;
    r.file_bytes = vc_weights_file_bytes(model->weights);
    /* what compute reads: the float32 view of every tensor (mapped in place
     * when stored as f32, widened copies otherwise), or the half-resident copy */
    r.weight_bytes = resident;
    uint32_t keep = info->struct_size;
    size_t len = keep < sizeof r ? keep : sizeof r;
    memcpy(info, &r, len);
    info->struct_size = keep;
    return VC_STATUS_OK;
}

/* Estimated peak working memory of one sampling run (weights excluded),
 * following spec §10.3 with a streaming (tiled) attention: no score matrix is
 * ever materialised beyond a tile. Assumptions: float32 activations, the
 * conditional and unconditional passes batched (B = 2, the sampler default),
 * every skip tensor of the UNet kept for the decoder path, and the largest
 * transient of any single stage on top of them:
 *   init_attn (§5.8): tokens x (in 3C + widened 3·512 + GEGLU hidden 8·512 + 4·512)
 *   transformer at level l: tokens x (3C + 8C GEGLU proj + 4C product)
 *   ResBlock: 5 feature maps of the concatenated input width
 *   attention tiles: 16 workers x 64 queries x all keys
 * The VAE decodes one frame at a time (B images): 3 maps of the largest level
 * plus its middle-attention tile. Plus the latents and noise (a few copies of
 * [B,4,T,h,w]). Accurate to within ~2x; meant for "will it fit", not for
 * allocation. */
uint64_t vc_model_estimate_run_bytes(const vc_model *model, int32_t frames, int32_t height, int32_t width)
{
    if (!model || frames <= 0 || height <= 0 || width <= 0) return 0;
    const vc_model_config *c = &model->cfg;
    const vc_unet_config *u = &c->unet;
    const double F = 4.0, B = 2.0;
    int32_t vf = 1 << (c->vae.n_levels - 1);
    double h = (height + vf - 1) / vf, w = (width + vf - 1) / vf;
    double N = B * frames;
    double P[VC_MAX_LEVELS + 1] = {0};
    for (int l = 0; l <= u->n_levels && l <= VC_MAX_LEVELS; l++) {
        double hh = h, ww = w;
        for (int k = 0; k < l; k++) {
            hh = (double)(((int64_t)hh + 1) / 2);
            ww = (double)(((int64_t)ww + 1) / 2);
        }
        P[l] = hh * ww;
    }
    double mc = u->model_channels;
    /* skip stack (§5.1) */
    double skips = mc * P[0];
    for (int l = 0; l < u->n_levels; l++) {
        double cl = mc * u->channel_mult[l];
        skips += u->num_res_blocks * cl * P[l];
        if (l != u->n_levels - 1) skips += cl * P[l + 1];
    }
    skips *= N * F;
    double transient = 0;
    if (u->addition_attention) {
        double inner = (double)u->init_attn_heads * u->num_head_channels;
        double t = N * P[0] * (3 * mc + 3 * inner + 8 * inner + 4 * inner) * F;
        if (t > transient) transient = t;
    }
    for (int l = 0; l < u->n_levels; l++) {
        double cl = mc * u->channel_mult[l];
        double tokens = N * P[l];
        if (u->attention_ds_mask & (1u << l) || l == u->n_levels - 1) {
            double t = tokens * (3 * cl + 8 * cl + 4 * cl) * F + 16.0 * 64 * P[l] * F;
            if (t > transient) transient = t;
        }
        double cin = 2 * cl; /* output blocks concatenate a skip */
        double t = tokens * 5 * cin * F;
        if (t > transient) transient = t;
    }
    double latents = 8 * N * u->in_channels * P[0] * F;
    double unet = skips + transient + latents;
    /* VAE decoder per frame (§4.2, §4.4) */
    double vae = 0, Hp = h, Wp = w;
    for (int i = c->vae.n_levels - 1; i >= 0; i--) {
        double ci = (double)c->vae.ch * c->vae.ch_mult[i];
        double hin = Hp, win = Wp;
        if (i != c->vae.n_levels - 1) {
            hin *= 2;
            win *= 2;
        }
        Hp = hin;
        Wp = win;
        double cprev = (double)c->vae.ch * c->vae.ch_mult[i == c->vae.n_levels - 1 ? i : i + 1];
        double t = (B / 2) * (3 * (ci > cprev ? ci : cprev) * hin * win) * F;
        if (t > vae) vae = t;
    }
    double vmid = 16.0 * 64 * h * w * F + 3.0 * c->vae.ch * c->vae.ch_mult[c->vae.n_levels - 1] * h * w * F;
    if (vmid > vae) vae = vmid;
    vae += 3.0 * frames * height * width * F; /* the float video being assembled */
    double peak = unet > vae ? unet : vae;
    return (uint64_t)peak;
}
