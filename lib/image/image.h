/* image.h - internals of the I2V image path shared with the sampler. */
#ifndef VC_IMAGE_H
#define VC_IMAGE_H

#include "../core/model.h"

/* Unconditional image embedding (spec §3.5): the 224x224 zero image through the
 * vision tower and the resampler; *out = owned f32 [1,16,D]. */
VC_HIDDEN vc_status vc_encode_uncond_image(vc_context *ctx, const vc_model *model, vc_tensor *out);

#endif
