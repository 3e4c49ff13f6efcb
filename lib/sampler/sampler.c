/* sampler.c - DDIM sampler (PLACEHOLDER until issue #5 lands). */
#include <string.h>

#include "../core/internal.h"

void vc_sampler_default_params(const vc_model *model, vc_sampler_params *p)
{
    (void)model;
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->steps = 50;
    p->eta = 1.0f;
    p->guidance = 12.0f;
    p->seed = 123;
    p->frames = 16;
    p->batch = 1;
    p->batch_guidance = true;
}

vc_status vc_sampler_create(vc_context *ctx, const vc_model *model, const vc_sampler_params *params,
                            vc_sampler **out)
{
    (void)model; (void)params;
    if (out) *out = NULL;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_sampler_create: not implemented yet");
}

void vc_sampler_free(vc_sampler *s) { (void)s; }
int32_t vc_sampler_n_steps(const vc_sampler *s) { (void)s; return 0; }

vc_status vc_sampler_get_timesteps(const vc_sampler *s, int64_t *timesteps, int32_t capacity)
{
    (void)s; (void)timesteps; (void)capacity;
    return vc_fail(NULL, VC_STATUS_UNSUPPORTED, "vc_sampler_get_timesteps: not implemented yet");
}

void vc_sample_inputs_init(vc_sample_inputs *in)
{
    if (!in) return;
    memset(in, 0, sizeof *in);
    in->struct_size = sizeof *in;
}

vc_status vc_sampler_run(vc_sampler *s, const vc_sample_inputs *in, vc_tensor *latent)
{
    (void)s; (void)in; (void)latent;
    return vc_fail(NULL, VC_STATUS_UNSUPPORTED, "vc_sampler_run: not implemented yet");
}
