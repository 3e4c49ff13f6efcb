/* vae_api.c - public VAE entry points (spec §4, §8): argument checks live in vae.c. */
#include <stdlib.h>
#include <string.h>

#include "vae.h"
#include "../core/model.h"

vc_status vc_decode_latents(vc_context *ctx, const vc_model *model, const vc_tensor *z, vc_tensor *video)
{
    vc_clear_error(ctx);
    if (ctx) atomic_store(&ctx->cancel_requested, 0); /* a new run */
    return vc_vae_decode(ctx, model, z, vc_vae_default_batch(), video);
}

vc_status vc_encode_images(vc_context *ctx, const vc_model *model, const vc_tensor *images, vc_tensor *latent)
{
    vc_clear_error(ctx);
    if (ctx) atomic_store(&ctx->cancel_requested, 0);
    if (!latent) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_images: latent is NULL");
    memset(latent, 0, sizeof *latent);
    vc_tensor mom;
    vc_status st = vc_vae_encode_moments(ctx, model, images, true, &mom);
    if (st != VC_STATUS_OK) return st;
    int64_t N = mom.shape[0], half = mom.shape[1] / 2, hw = mom.shape[2] * mom.shape[3];
    int64_t shape[4] = {N, half, mom.shape[2], mom.shape[3]};
    st = vc_tensor_make(ctx, latent, VC_DTYPE_F32, 4, shape);
    if (st == VC_STATUS_OK) {
        /* posterior mode = mean; get_first_stage_encoding multiplies by fl(scale_factor) (§4.3) */
        const float s = (float)model->cfg.scale_factor;
        const float *m = mom.data;
        float *o = latent->data;
        for (int64_t i = 0; i < N; i++)
            for (int64_t k = 0; k < half * hw; k++) o[i * half * hw + k] = s * m[i * 2 * half * hw + k];
    }
    vc_tensor_free(&mom);
    return st;
}
