/* vae_api.c - latents to video (PLACEHOLDER until issue #6 lands). */
#include "../core/internal.h"

vc_status vc_decode_latents(vc_context *ctx, const vc_model *model, const vc_tensor *z, vc_tensor *video)
{
    (void)model; (void)z; (void)video;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_decode_latents: not implemented yet");
}

vc_status vc_encode_images(vc_context *ctx, const vc_model *model, const vc_tensor *images, vc_tensor *latent)
{
    (void)model; (void)images; (void)latent;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_encode_images: not implemented yet");
}

vc_status vc_video_to_frames(vc_context *ctx, const vc_tensor *video, int32_t b, vc_tensor *frames)
{
    (void)video; (void)b; (void)frames;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_video_to_frames: not implemented yet");
}

vc_status vc_frames_write_png(vc_context *ctx, const vc_tensor *frames, const char *dir)
{
    (void)frames; (void)dir;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_frames_write_png: not implemented yet");
}
