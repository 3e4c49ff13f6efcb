/* model.c - vc_model: load, free, info (PLACEHOLDER until the loader lands). */
#include <stdlib.h>
#include <string.h>

#include "model.h"

void vc_model_default_params(vc_model_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->weights_dtype = VC_DTYPE_F32;
}

vc_status vc_model_load(vc_context *ctx, const char *path, const vc_model_params *params, vc_model **out)
{
    (void)path; (void)params;
    if (out) *out = NULL;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_model_load: not implemented yet");
}

void vc_model_free(vc_model *model) { (void)model; }

void vc_model_info_init(vc_model_info *info)
{
    if (!info) return;
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
}

vc_status vc_model_get_info(const vc_model *model, vc_model_info *info)
{
    (void)model; (void)info;
    return vc_fail(NULL, VC_STATUS_UNSUPPORTED, "vc_model_get_info: not implemented yet");
}

uint64_t vc_model_estimate_run_bytes(const vc_model *model, int32_t frames, int32_t height, int32_t width)
{
    (void)model; (void)frames; (void)height; (void)width;
    return 0;
}
