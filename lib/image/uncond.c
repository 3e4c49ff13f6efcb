/* uncond.c - PLACEHOLDER until issue #7 lands. */
#include "image.h"

vc_status vc_encode_uncond_image(vc_context *ctx, const vc_model *model, vc_tensor *out)
{
    (void)model; (void)out;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "unconditional image embedding: not implemented yet");
}
