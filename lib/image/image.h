/* image.h - internals of the I2V image path shared with the sampler. */
#ifndef VC_IMAGE_H
#define VC_IMAGE_H

#include "../core/model.h"

/* Decoder limits, checked on the header before any pixel memory is taken. */
#define VC_IMAGE_MAX_DIM 16384                    /* width and height */
#define VC_IMAGE_MAX_PIXELS ((uint64_t)1 << 26)   /* 64 Mi pixels (192 MiB of RGB) */
#define VC_IMAGE_MAX_FILE_BYTES ((uint64_t)1 << 30)
#define VC_CLIP_IMAGE_SIZE 224

/* Unconditional image embedding (spec §3.5): the 224x224 zero image through the
 * vision tower and the resampler; *out = owned f32 [1,16,D]. */
VC_HIDDEN vc_status vc_encode_uncond_image(vc_context *ctx, const vc_model *model, vc_tensor *out);

/* vc_encode_image without starting a new run: the cancel flag is left as it is
 * (for the sampler, which calls it inside its own run). */
VC_HIDDEN vc_status vc_encode_image_in_run(vc_context *ctx, const vc_model *model, const vc_tensor *image,
                                           int32_t height, int32_t width, uint32_t flags, vc_tensor *out);

/* Decodes a PNG or JPEG held in memory (format from the magic bytes) into an
 * owned u8 [H,W,3] like PIL's Image.open(...).convert("RGB") (spec §3.1 step 1).
 * max_pixels 0 means VC_IMAGE_MAX_PIXELS. Bad or truncated data: BAD_FORMAT;
 * sizes above the limits: LIMIT_EXCEEDED (nothing allocated). */
VC_HIDDEN vc_status vc_image_decode(vc_context *ctx, const void *data, size_t size, uint64_t max_pixels,
                                    vc_tensor *out);

/* §3.1 steps 3-4: u8 RGB [h0,w0,3] -> f32 [3,h,w] in [-1,1] through OpenCV's
 * INTER_LINEAR (IPP form). out holds 3*h*w floats. Returns false on OOM. */
VC_HIDDEN bool vc_image_resize_to_unit(const uint8_t *rgb, int32_t h0, int32_t w0, int32_t h, int32_t w,
                                       float *out);

/* §3.2: f32 [3,h,w] in [-1,1] -> CLIP input f32 [3,224,224]. Returns false on OOM. */
VC_HIDDEN bool vc_clip_preprocess(const float *x, int32_t h, int32_t w, float *out);

/* §3.3: CLIP input f32 [B,3,224,224] (host memory) -> *tokens owned f32 [B,257,width]. */
VC_HIDDEN vc_status vc_clip_vision_tokens(vc_context *ctx, const vc_model *model, const float *clip_in,
                                          int32_t batch, vc_tensor *tokens);

/* §3.4: tokens f32 [B,257,width] -> *out owned f32 [B,16,output_dim]. */
VC_HIDDEN vc_status vc_resampler_forward(vc_context *ctx, const vc_model *model, const vc_tensor *tokens,
                                         vc_tensor *out);

#endif
