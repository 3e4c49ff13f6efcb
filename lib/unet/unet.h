/* unet.h - the 3-D UNet (spec §5) on the backend vtable; internal. */
#ifndef VC_UNET_H
#define VC_UNET_H

#include "../backend/backend.h"
#include "../core/model.h"

/* Where the UNet finds its weights: name without the "model.diffusion_model."
 * prefix -> the tensor (float32 view or half-resident), or NULL when absent.
 * The default (vc_unet_weights_of_model) reads model->weights; tests wrap it. */
typedef const vc_weight *(*vc_unet_weight_fn)(void *user, const char *name);

typedef struct vc_unet_weights {
    vc_unet_weight_fn find;
    void *user;
} vc_unet_weights;

/* Weight source reading model->weights ("model.diffusion_model." + name). */
VC_HIDDEN vc_unet_weights vc_unet_weights_of_model(const vc_model *model);

/* Sinusoidal embedding of one integer (spec §5.2): float32 chain, [cos | sin],
 * out[dim]. Reproduces PyTorch's CPU exp at the two one-ulp indices of dim 320. */
VC_HIDDEN void vc_unet_timestep_embedding(int64_t t, int32_t dim, float *out);

/* Checks that latent h x w (and T frames) can run: multiples of 2^(levels-1).
 * On failure returns VC_STATUS_BAD_SIZE naming the nearest valid sizes. */
VC_HIDDEN vc_status vc_unet_check_size(vc_context *ctx, const vc_unet_config *u, int32_t T, int32_t h,
                                       int32_t w);

/* Rough peak working-memory bytes of one forward of batch B (arena), for
 * deciding whether cond+uncond fit as one batch. */
VC_HIDDEN uint64_t vc_unet_estimate_bytes(const vc_unet_config *u, int32_t B, int32_t T, int32_t h,
                                          int32_t w, int32_t L);

/* One UNet call on backend memory (spec §5.1):
 *   x       [B, in_channels, T, h, w]   (backend memory)
 *   t, fps  [B] host integers (fps may be NULL: ignored unless fps_cond, then 0 is not allowed)
 *   context [B, L, context_dim]         (backend memory)
 *   eps     [B, out_channels, T, h, w]  (backend memory, written)
 * All working memory comes from the backend arena and is released on return.
 * Checks vc_cancelled between blocks (VC_STATUS_CANCELLED). */
VC_HIDDEN vc_status vc_unet_forward(vc_context *ctx, const vc_unet_config *cfg, vc_unet_weights weights,
                                    const float *x, int32_t B, int32_t T, int32_t h, int32_t w,
                                    const int64_t *t, const int64_t *fps, const float *context, int32_t L,
                                    float *eps);

#endif
