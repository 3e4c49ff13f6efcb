/* uncond.c - the unconditional image embedding (spec §3.5). */
#include <string.h>

#include "image.h"

/* §3.5 Quirk: the 224x224 all-zero image (mid-grey in [-1,1]), not a zero image
 * at the video size; its resize is the identity, so the CLIP input is the
 * per-channel constant (0.5 - mean)/std. */
vc_status vc_encode_uncond_image(vc_context *ctx, const vc_model *model, vc_tensor *out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "unconditional image: output tensor is NULL");
    memset(out, 0, sizeof *out);
    if (!ctx || !model) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "unconditional image: NULL context or model");
    if (!model->cfg.image_conditioned)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "unconditional image: model %s has no image encoder",
                       model->cfg.variant_id ? model->cfg.variant_id : "?");
    const int32_t S = VC_CLIP_IMAGE_SIZE;
    int64_t shape[4] = {1, 3, S, S};
    vc_tensor zero = {0}, clip_in = {0}, tokens = {0};
    vc_status st = vc_tensor_make(ctx, &zero, VC_DTYPE_F32, 4, shape);
    if (st == VC_STATUS_OK) st = vc_tensor_make(ctx, &clip_in, VC_DTYPE_F32, 4, shape);
    if (st == VC_STATUS_OK && !vc_clip_preprocess(zero.data, S, S, clip_in.data))
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory preparing the unconditional image");
    if (st == VC_STATUS_OK) st = vc_clip_vision_tokens(ctx, model, clip_in.data, 1, &tokens);
    if (st == VC_STATUS_OK) st = vc_resampler_forward(ctx, model, &tokens, out);
    vc_tensor_free(&tokens);
    vc_tensor_free(&clip_in);
    vc_tensor_free(&zero);
    return st;
}
