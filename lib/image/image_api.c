/* image_api.c - public image entry points: preprocessing and I2V image encoding
 * (spec §3). vc_image_load lives in image_io.c. */
#include <stdlib.h>
#include <string.h>

#include "image.h"

static vc_status check_image(vc_context *ctx, const vc_tensor *image, const char *fn)
{
    char buf[96];
    if (!vc_tensor_is(image, VC_DTYPE_U8, 3) || image->shape[2] != 3 || image->shape[0] <= 0 ||
        image->shape[1] <= 0)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: image must be u8 [H,W,3] with H,W > 0, got %s", fn,
                       image ? vc_shape_str(image, buf, sizeof buf) : "NULL");
    if (image->shape[0] > VC_IMAGE_MAX_DIM || image->shape[1] > VC_IMAGE_MAX_DIM)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: image %s exceeds %d pixels per side", fn,
                       vc_shape_str(image, buf, sizeof buf), VC_IMAGE_MAX_DIM);
    return VC_STATUS_OK;
}

static vc_status check_size(vc_context *ctx, int32_t height, int32_t width, const char *fn)
{
    if (height <= 0 || width <= 0 || height > VC_IMAGE_MAX_DIM || width > VC_IMAGE_MAX_DIM ||
        (uint64_t)height * (uint64_t)width > VC_IMAGE_MAX_PIXELS)
        return vc_fail(ctx, VC_STATUS_BAD_SIZE, "%s: target size %dx%d (h x w) is outside 1..%d per side", fn, height,
                       width, VC_IMAGE_MAX_DIM);
    return VC_STATUS_OK;
}

/* image u8 [H0,W0,3] -> resized [1,3,h,w] (optional) and clip input [1,3,224,224] (optional). */
static vc_status preprocess(vc_context *ctx, const vc_tensor *image, int32_t height, int32_t width,
                            vc_tensor *resized, vc_tensor *clip_input)
{
    int64_t rshape[4] = {1, 3, height, width};
    int64_t cshape[4] = {1, 3, VC_CLIP_IMAGE_SIZE, VC_CLIP_IMAGE_SIZE};
    vc_tensor r = {0}, c = {0};
    vc_status st = vc_tensor_make(ctx, &r, VC_DTYPE_F32, 4, rshape);
    if (st == VC_STATUS_OK && clip_input) st = vc_tensor_make(ctx, &c, VC_DTYPE_F32, 4, cshape);
    if (st == VC_STATUS_OK &&
        !vc_image_resize_to_unit(image->data, (int32_t)image->shape[0], (int32_t)image->shape[1], height, width,
                                 r.data))
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory resizing an image to %dx%d", height, width);
    if (st == VC_STATUS_OK && clip_input && !vc_clip_preprocess(r.data, height, width, c.data))
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory preparing the CLIP image input");
    if (st != VC_STATUS_OK) {
        vc_tensor_free(&r);
        vc_tensor_free(&c);
        return st;
    }
    if (resized) *resized = r;
    else vc_tensor_free(&r);
    if (clip_input) *clip_input = c;
    return VC_STATUS_OK;
}

vc_status vc_preprocess_image(vc_context *ctx, const vc_tensor *image, int32_t height, int32_t width,
                              vc_tensor *resized, vc_tensor *clip_input)
{
    vc_clear_error(ctx);
    if (resized) memset(resized, 0, sizeof *resized);
    if (clip_input) memset(clip_input, 0, sizeof *clip_input);
    vc_status st = check_image(ctx, image, "vc_preprocess_image");
    if (st != VC_STATUS_OK) return st;
    /* 0 x 0: keep the image's own size (the gradio demo's path, §3.1) */
    if (height == 0 && width == 0) {
        height = (int32_t)image->shape[0];
        width = (int32_t)image->shape[1];
    }
    st = check_size(ctx, height, width, "vc_preprocess_image");
    if (st != VC_STATUS_OK) return st;
    return preprocess(ctx, image, height, width, resized, clip_input);
}

static vc_status check_model(vc_context *ctx, const vc_model *model, const char *fn)
{
    if (!ctx) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "%s: context is NULL", fn);
    if (!model) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: model is NULL", fn);
    if (!model->cfg.image_conditioned)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: model '%s' (%s) has no image encoder", fn,
                       model->path ? model->path : "?", model->cfg.variant_id ? model->cfg.variant_id : "?");
    return VC_STATUS_OK;
}

/* clip input [B,3,224,224] -> tokens, and unless tokens_only, the resampler output. */
static vc_status encode_clip_input(vc_context *ctx, const vc_model *model, const vc_tensor *clip_in,
                                   bool tokens_only, vc_tensor *out)
{
    vc_tensor tokens = {0};
    vc_status st =
        vc_clip_vision_tokens(ctx, model, clip_in->data, (int32_t)clip_in->shape[0], &tokens);
    if (st != VC_STATUS_OK) return st;
    if (tokens_only) {
        *out = tokens;
        return VC_STATUS_OK;
    }
    st = vc_resampler_forward(ctx, model, &tokens, out);
    vc_tensor_free(&tokens);
    return st;
}

vc_status vc_encode_image(vc_context *ctx, const vc_model *model, const vc_tensor *image, int32_t height,
                          int32_t width, uint32_t flags, vc_tensor *out)
{
    vc_clear_error(ctx);
    if (ctx) atomic_store(&ctx->cancel_requested, 0); /* a new run */
    return vc_encode_image_in_run(ctx, model, image, height, width, flags, out);
}

vc_status vc_encode_image_in_run(vc_context *ctx, const vc_model *model, const vc_tensor *image, int32_t height,
                                 int32_t width, uint32_t flags, vc_tensor *out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_image: output tensor is NULL");
    memset(out, 0, sizeof *out);
    vc_status st = check_model(ctx, model, "vc_encode_image");
    if (st == VC_STATUS_OK) st = check_image(ctx, image, "vc_encode_image");
    if (st != VC_STATUS_OK) return st;
    if (flags & ~VC_ENCODE_IMAGE_TOKENS)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_image: unknown flags 0x%x",
                       (unsigned)(flags & ~VC_ENCODE_IMAGE_TOKENS));
    if (height == 0) height = model->cfg.default_height;
    if (width == 0) width = model->cfg.default_width;
    st = check_size(ctx, height, width, "vc_encode_image");
    if (st != VC_STATUS_OK) return st;

    vc_tensor clip_in = {0};
    st = preprocess(ctx, image, height, width, NULL, &clip_in);
    if (st != VC_STATUS_OK) return st;
    st = encode_clip_input(ctx, model, &clip_in, (flags & VC_ENCODE_IMAGE_TOKENS) != 0, out);
    vc_tensor_free(&clip_in);
    return st;
}
