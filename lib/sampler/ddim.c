/* ddim.c - DDIM timesteps, coefficients and one step, exactly as the
 * original computes them (spec §7.2-§7.5). Plain float32 C: the build is ISO
 * C11 (no FP contraction), so every operation below rounds once, like the
 * PyTorch tensor ops it mirrors. */
#include <math.h>

#include "ddim.h"

/* true when the original's uniform schedule for `steps` works */
static bool steps_ok(int32_t steps, int32_t n_train)
{
    if (steps < 1 || steps > n_train) return false;
    int32_t c = n_train / steps;
    int32_t last = (n_train - 1) / c * c; /* last multiple of c below n_train */
    return last + 1 < n_train;            /* §7.2 quirk: tau containing n_train indexes past the end */
}

vc_status vc_ddim_timesteps(vc_context *ctx, int32_t steps, int32_t n_train, int64_t *tau, int32_t cap,
                            int32_t *K)
{
    if (n_train < 2 || n_train > 100000)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "diffusion timesteps %d out of range", n_train);
    if (!steps_ok(steps, n_train)) {
        int32_t lo = steps < n_train ? steps : n_train, hi = steps < 1 ? 1 : steps;
        while (lo > 0 && !steps_ok(lo, n_train)) lo--;
        while (hi <= n_train && !steps_ok(hi, n_train)) hi++;
        if (steps < 1 || steps > n_train)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "DDIM steps %d is out of range 1..%d (try %d)", steps,
                           n_train, lo > 0 ? lo : 1);
        if (hi <= n_train)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                           "DDIM steps %d: the original's timestep list would reach %d and index past "
                           "alphas_cumprod (it crashes; spec §7.2); nearest working step counts: %d or %d",
                           steps, n_train, lo, hi);
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                       "DDIM steps %d: the original's timestep list would reach %d and index past "
                       "alphas_cumprod (it crashes; spec §7.2); largest working step count: %d",
                       steps, n_train, lo);
    }
    int32_t c = n_train / steps, k = 0;
    for (int32_t v = 0; v < n_train; v += c) {
        if (k >= cap) return vc_fail(ctx, VC_STATUS_INTERNAL, "DDIM timestep buffer too small (%d)", cap);
        tau[k++] = v + 1; /* range(0, N, c) + 1 */
    }
    *K = k;
    return VC_STATUS_OK;
}

vc_status vc_ddim_coefs(vc_context *ctx, const float *ac, int32_t n_ac, const float *scale_arr, int32_t n_scale,
                        const int64_t *tau, int32_t K, double eta, vc_ddim_coef *out)
{
    if (!ac) return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "the model has no alphas_cumprod");
    for (int32_t k = 0; k < K; k++) {
        if (tau[k] < 0 || tau[k] >= n_ac)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "DDIM timestep %lld outside alphas_cumprod[%d]",
                           (long long)tau[k], n_ac);
        if (scale_arr && tau[k] >= n_scale)
            return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "DDIM timestep %lld outside scale_arr[%d]",
                           (long long)tau[k], n_scale);
    }
    for (int32_t k = 0; k < K; k++) {
        vc_ddim_coef *c = &out[k];
        c->t = tau[k];
        c->a = ac[tau[k]];
        c->a_prev = k > 0 ? ac[tau[k - 1]] : ac[0]; /* §7.3 quirk: the last step targets ac[0], not 1 */
        /* §7.3: (1-a_prev)/(1-a) is evaluated as fl(1/fl(1-a)) times the float64 array */
        float r = 1.0f / (1.0f - c->a);
        double a = c->a, ap = c->a_prev;
        c->sigma = (float)(eta * sqrt(((1.0 - ap) * (double)r) * (1.0 - a / ap)));
        c->sq1ma = sqrtf(1.0f - c->a);
        c->scale = scale_arr ? scale_arr[tau[k]] : 1.0f;
        c->scale_prev = scale_arr ? (k > 0 ? scale_arr[tau[k - 1]] : scale_arr[0]) : 1.0f;
        c->sqrt_a = sqrtf(c->a);
        float dir2 = (1.0f - c->a_prev) - c->sigma * c->sigma;
        if (!(dir2 >= 0.0f))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                           "eta %g is too large: at timestep %lld the DDIM direction term sqrt(1 - a_prev - "
                           "sigma^2) has a negative argument (the original would produce NaN)",
                           eta, (long long)tau[k]);
        c->dir = sqrtf(dir2);
        float sap = sqrtf(c->a_prev);
        c->prev = scale_arr ? sap * c->scale_prev : sap; /* a_prev.sqrt() * scale_t_prev */
    }
    return VC_STATUS_OK;
}

vc_ddim_args vc_ddim_args_of(const vc_ddim_coef *c, bool use_scale, float guidance)
{
    return (vc_ddim_args){.sq1ma = c->sq1ma, .sqrt_a = c->sqrt_a, .dir = c->dir, .prev = c->prev,
                          .scale = c->scale, .sigma = c->sigma, .guidance = guidance, .use_scale = use_scale};
}
