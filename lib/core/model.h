/* model.h - the vc_model handle: configuration + weights, read-only after load. */
#ifndef VC_MODEL_H
#define VC_MODEL_H

#include "../io/config.h"
#include "../io/weights.h"

struct vc_model {
    vc_model_config cfg;
    vc_weights *weights;
    char *path;
    /* schedule buffers from the file, widened to float32 (spec §7.1, §7.5) */
    const float *alphas_cumprod;         /* [timesteps] */
    const float *scale_arr;              /* [n_scale_arr] or NULL */
    int32_t n_scale_arr;
};

#endif
