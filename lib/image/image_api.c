/* image_api.c - image input and I2V encoding (PLACEHOLDER until issue #7 lands). */
#include "../core/internal.h"

vc_status vc_image_load(vc_context *ctx, const char *path, vc_tensor *out)
{
    (void)path; (void)out;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_image_load: not implemented yet");
}

vc_status vc_preprocess_image(vc_context *ctx, const vc_tensor *image, int32_t height, int32_t width,
                              vc_tensor *resized, vc_tensor *clip_input)
{
    (void)image; (void)height; (void)width; (void)resized; (void)clip_input;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_preprocess_image: not implemented yet");
}

vc_status vc_encode_image(vc_context *ctx, const vc_model *model, const vc_tensor *image, int32_t height,
                          int32_t width, uint32_t flags, vc_tensor *out)
{
    (void)model; (void)image; (void)height; (void)width; (void)flags; (void)out;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_encode_image: not implemented yet");
}
