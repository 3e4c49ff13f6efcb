/* unet_api.c - vc_unet_eps (PLACEHOLDER until issue #5 lands). */
#include "../core/internal.h"

vc_status vc_unet_eps(vc_context *ctx, const vc_model *model, const vc_tensor *x, const vc_tensor *t,
                      const vc_tensor *context, const vc_tensor *fps, vc_tensor *eps)
{
    (void)model; (void)x; (void)t; (void)context; (void)fps; (void)eps;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_unet_eps: not implemented yet");
}
