/* cpu_norm.c - GroupNorm (+SiLU) and LayerNorm.
 * Statistics in double (two passes: mean, then mean squared deviation), then
 * y = (x - mean) * (rstd * gamma) + beta in float. (PyTorch's CPU kernels use
 * x*scale + shift with a fused multiply-add; without the FMA that form cancels
 * badly when |mean| >> std, so the subtraction comes first here.) */
#include <math.h>

#include "cpu_internal.h"

static double sum_d(const float *x, int64_t n)
{
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += x[i + k];
    for (; i < n; i++) s[i & 7] += x[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static double sqdev_d(const float *x, int64_t n, double mean)
{
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = x[i + k] - mean;
            s[k] += d * d;
        }
    for (; i < n; i++) {
        double d = x[i] - mean;
        s[i & 7] += d * d;
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* mean (as hi + lo floats, so x - mean stays accurate when |mean| >> std) and
 * 1/sqrt(var + eps) of x[0..n), biased variance */
static void moments(const float *x, int64_t n, float eps, float *mean, float *mean_lo, float *rstd)
{
    double m = n > 0 ? sum_d(x, n) / (double)n : 0.0;
    double v = n > 0 ? sqdev_d(x, n, m) / (double)n : 0.0;
    *mean = (float)m;
    *mean_lo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + eps);
}

static inline void affine_row(const float *x, float *y, int64_t n, float mean, float mlo, float scale, float shift,
                              bool silu)
{
    if (silu) {
        for (int64_t i = 0; i < n; i++) {
            float t = ((x[i] - mean) - mlo) * scale + shift;
            y[i] = t / (1.0f + expf(-t));
        }
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = ((x[i] - mean) - mlo) * scale + shift;
    }
}

typedef struct gn_job {
    const float *x;
    float *y;
    int32_t C, G;
    int64_t S;
    const float *gamma, *beta;
    float eps;
    bool silu;
} gn_job;

/* items are (sample, group) pairs */
static void gn_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    gn_job *j = arg;
    const int64_t cpg = j->C / j->G;
    for (int64_t it = b; it < e; it++) {
        int64_t i = it / j->G, g = it % j->G;
        int64_t c0 = g * cpg;
        const float *x = j->x + (i * j->C + c0) * j->S;
        float *y = j->y + (i * j->C + c0) * j->S;
        float mean, mlo, rstd;
        moments(x, cpg * j->S, j->eps, &mean, &mlo, &rstd);
        for (int64_t c = 0; c < cpg; c++) {
            float ga = j->gamma ? j->gamma[c0 + c] : 1.0f, be = j->beta ? j->beta[c0 + c] : 0.0f;
            affine_row(x + c * j->S, y + c * j->S, j->S, mean, mlo, rstd * ga, be, j->silu);
        }
    }
}

void cpu_group_norm(vc_backend *be, const float *x, float *y, int32_t n, int32_t C, int64_t S, int32_t G,
                    const float *gamma, const float *beta, float eps, bool silu)
{
    if (n <= 0 || C <= 0 || G <= 0) return;
    gn_job j = {x, y, C, G, S, gamma, beta, eps, silu};
    cpu_parallel_for(be, (int64_t)n * G, 1, gn_task, &j);
}

typedef struct ln_job {
    const float *x;
    float *y;
    int32_t D;
    const float *gamma, *beta;
    float eps;
} ln_job;

static void ln_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ln_job *j = arg;
    const int64_t D = j->D;
    for (int64_t r = b; r < e; r++) {
        const float *x = j->x + r * D;
        float *y = j->y + r * D;
        float mean, mlo, rstd;
        moments(x, D, j->eps, &mean, &mlo, &rstd);
        for (int64_t i = 0; i < D; i++) {
            float t = ((x[i] - mean) - mlo) * rstd;
            y[i] = t * (j->gamma ? j->gamma[i] : 1.0f) + (j->beta ? j->beta[i] : 0.0f);
        }
    }
}

void cpu_layer_norm(vc_backend *be, const float *x, float *y, int64_t rows, int32_t D, const float *gamma,
                    const float *beta, float eps)
{
    if (rows <= 0 || D <= 0) return;
    ln_job j = {x, y, D, gamma, beta, eps};
    int64_t grain = 16384 / D;
    cpu_parallel_for(be, rows, grain < 1 ? 1 : grain, ln_task, &j);
}
