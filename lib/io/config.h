/* config.h - model configuration: the four official presets, the original
 * YAML schema, variant detection from tensor names (interface contract §2.2). */
#ifndef VC_CONFIG_H
#define VC_CONFIG_H

#include "../core/internal.h"
#include "weights.h"

#define VC_MAX_LEVELS 8

typedef enum vc_variant {
    VC_VARIANT_T2V_512_V1 = 0,
    VC_VARIANT_T2V_1024_V1 = 1,
    VC_VARIANT_T2V_512_V2 = 2,
    VC_VARIANT_I2V_512_V1 = 3
} vc_variant;

typedef struct vc_unet_config {
    int32_t in_channels, out_channels, model_channels;
    int32_t n_levels;                    /* len(channel_mult) */
    int32_t channel_mult[VC_MAX_LEVELS];
    int32_t num_res_blocks;
    uint32_t attention_ds_mask;          /* bit l set: ds 2^l has transformers */
    int32_t num_head_channels;           /* d (64) */
    int32_t transformer_depth, temporal_transformer_depth;
    int32_t context_dim;
    int32_t temporal_length;             /* M of the relative-position tables */
    int32_t init_attn_heads;             /* 8 (spec §5.8) */
    bool use_linear, temporal_conv, temporal_attention, temporal_selfatt_only;
    bool use_relative_position, use_causal_attention, addition_attention;
    bool use_image_attention, fps_cond;
    int32_t image_context_len;           /* 16 image tokens after the 77 text ones (I2V) */
} vc_unet_config;

typedef struct vc_vae_config {
    int32_t ch, n_levels, ch_mult[VC_MAX_LEVELS], num_res_blocks;
    int32_t z_channels, embed_dim, in_channels, out_ch;
    bool double_z;
} vc_vae_config;

typedef struct vc_clip_text_config {
    int32_t width, heads, layers, vocab_size, context_length, mlp_width;
    int32_t layers_used;                 /* penultimate: layers - 1 (spec §2.6) */
    int32_t embed_dim;                   /* text_projection [width, embed_dim] (unused by inference) */
} vc_clip_text_config;

typedef struct vc_clip_vision_config {
    int32_t width, head_width, heads, layers, patch_size, image_size, mlp_width;
    int32_t n_tokens;                    /* (image/patch)^2 + 1 */
    int32_t embed_dim;                   /* visual.proj [width, embed_dim] (unused by inference) */
    /* text leftovers of the image embedder's CLIP (embedder.model.*, spec §1.4),
     * sized by the vision arch's text_cfg; unused by inference */
    int32_t text_width, text_vocab_size, text_context_length;
} vc_clip_vision_config;

typedef struct vc_resampler_config {
    int32_t dim, depth, dim_head, heads, num_queries, embedding_dim, output_dim, ff_mult;
} vc_resampler_config;

typedef struct vc_model_config {
    vc_variant variant;
    const char *variant_id;              /* "t2v-512-v1", ... (static string) */
    bool image_conditioned;              /* LatentVisualDiffusion */
    double linear_start, linear_end;
    int32_t timesteps;
    double scale_factor;
    bool use_scale;
    double scale_a, scale_b;
    int32_t mid_step;
    bool fix_scale_bug;
    int32_t default_height, default_width, default_frames, default_fps;
    vc_unet_config unet;
    vc_vae_config vae;
    vc_clip_text_config text;
    vc_clip_vision_config vision;        /* I2V only */
    vc_resampler_config resampler;       /* I2V only */
    bool from_yaml;                      /* sizes came from a YAML (else preset + shapes) */
    bool learn_logvar;                   /* a `logvar` [timesteps] parameter is stored */
    char text_arch[64], vision_arch[64]; /* open_clip arch names ("ViT-H-14") */
} vc_model_config;

/* Built-in preset of an official variant (spec §1.1). */
VC_HIDDEN void vc_config_preset(vc_variant variant, vc_model_config *cfg);
/* Variant whose flags cfg has (image -> i2v, temporal_conv -> v2, fps -> 1024 v1). */
VC_HIDDEN vc_variant vc_config_variant_of(const vc_model_config *cfg);
/* "t2v-512-v1", ... (static). */
VC_HIDDEN const char *vc_config_variant_id(vc_variant v);
/* Variant from tensor names (contract §2.2 step 2). */
VC_HIDDEN vc_variant vc_config_detect_variant(const vc_weights *w);
/* Reads an original inference_*.yaml (and open_clip_<arch>.json beside it). */
VC_HIDDEN vc_status vc_config_load_yaml(vc_context *ctx, const char *path, vc_model_config *cfg);
/* Same as vc_config_load_yaml on text[0..len) in memory (the fuzz entry point);
 * `what` names the text in errors; open_clip_<arch>.json is looked up in `dir`
 * (NULL: only the built-in ViT-H-14 arch is available). */
VC_HIDDEN vc_status vc_config_parse_yaml(vc_context *ctx, const char *what, const char *text, size_t len,
                                         const char *dir, vc_model_config *cfg);
/* Completes sizes the YAML/preset does not carry from the tensor shapes. */
VC_HIDDEN vc_status vc_config_fill_from_weights(vc_context *ctx, const vc_weights *w, vc_model_config *cfg);
/* Strict check (spec §9.1, contract §2.2.6): the expected names/shapes of cfg
 * against w; the error lists every offending tensor (20 names + a count). */
VC_HIDDEN vc_status vc_config_check_weights(vc_context *ctx, const vc_model_config *cfg, const vc_weights *w);

/* The exact state-dict contents cfg implies (spec §1.5 templates, general sizes
 * of §5.0): every tensor name with its shape, in a stable order. *specs is
 * malloc'd (free()). Used by the strict check and by the tiny-model writer. */
typedef struct vc_tensor_spec {
    char name[192];
    int32_t ndim;
    int64_t shape[VC_TENSOR_MAX_DIMS];
} vc_tensor_spec;
VC_HIDDEN vc_status vc_config_expected_tensors(vc_context *ctx, const vc_model_config *cfg,
                                               vc_tensor_spec **specs, size_t *n_specs);

#endif
