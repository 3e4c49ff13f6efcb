/* vae.h - AutoencoderKL (`first_stage_model`, spec §4): the decoder that turns
 * latents into frames, the encoder that turns frames into latents, and the
 * frame/PNG helpers of spec §8. Internal to the library. */
#ifndef VC_VAE_H
#define VC_VAE_H

#include "../core/internal.h"

struct vc_model;

/* Decodes z [B,4,T,h,w] (sampler latent space) into *video = owned f32
 * [B,3,T,8h,8w] (spec §4.4): z * fl(1/scale_factor), then the decoder per
 * frame, frames in order. images_per_batch is how many images (frame t of
 * every batch element, then the next frames) go through the decoder at once;
 * 0 means B (one frame index per pass, as the original). Working memory: one
 * pass's activations (logged at info level with the arena peak). */
VC_HIDDEN vc_status vc_vae_decode(vc_context *ctx, const struct vc_model *model, const vc_tensor *z,
                                  int32_t images_per_batch, vc_tensor *video);

/* Encodes images [N,3,H,W] (f32, nominally [-1,1]) into the quant_conv
 * output *moments = owned f32 [N,2*embed_dim,H/f,W/f] (mean | logvar, spec
 * §4.3; f = 2^(levels-1)). With clamp_logvar the logvar half is clamped to
 * [-30,20] as DiagonalGaussianDistribution does; without it the raw
 * parameters are returned (what the original's `.parameters` holds). */
VC_HIDDEN vc_status vc_vae_encode_moments(vc_context *ctx, const struct vc_model *model,
                                          const vc_tensor *images, bool clamp_logvar, vc_tensor *moments);

/* Default images per decoder pass for vc_decode_latents:
 * $VIDEOCRAFTER_VAE_BATCH when set to a positive integer, else 0 (= B). */
VC_HIDDEN int32_t vc_vae_default_batch(void);

#endif
