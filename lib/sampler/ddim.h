/* ddim.h - DDIM schedule and step arithmetic (spec §7), internal. */
#ifndef VC_DDIM_H
#define VC_DDIM_H

#include "../backend/backend.h"

#define VC_DDIM_MAX_STEPS 1000

/* Per executed step k (list position in the ascending timestep list). */
typedef struct vc_ddim_coef {
    int64_t t;                /* DDPM timestep fed to the UNet */
    float a, a_prev, sigma, sq1ma, scale, scale_prev; /* as the original's p_sample_ddim builds them */
    float sqrt_a;             /* fl(sqrt(a)) */
    float dir;                /* fl(sqrt(fl(fl(1 - a_prev) - fl(sigma^2)))) */
    float prev;               /* fl(sqrt(a_prev)) (x fl scale_prev when use_scale) */
} vc_ddim_coef;

/* Uniform DDIM timesteps with the +1 shift (§7.2), ascending: tau[0..K-1].
 * Refuses (VC_STATUS_INVALID_ARGUMENT, naming the nearest working counts) the
 * step counts for which the original crashes. cap must be >= K. */
VC_HIDDEN vc_status vc_ddim_timesteps(vc_context *ctx, int32_t steps, int32_t n_train, int64_t *tau,
                                      int32_t cap, int32_t *K);

/* Coefficients of §7.3/§7.5 from the stored alphas_cumprod [n_ac] (and
 * scale_arr [n_scale] or NULL when use_scale is off). */
VC_HIDDEN vc_status vc_ddim_coefs(vc_context *ctx, const float *ac, int32_t n_ac, const float *scale_arr,
                                  int32_t n_scale, const int64_t *tau, int32_t K, double eta, vc_ddim_coef *out);

/* The scalars of one step (§7.4, §7.5) for the backend's ddim_step; the
 * caller sets the pointers and n. */
VC_HIDDEN vc_ddim_args vc_ddim_args_of(const vc_ddim_coef *c, bool use_scale, float guidance);

#endif
