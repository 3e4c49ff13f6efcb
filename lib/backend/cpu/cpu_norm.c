/* cpu_norm.c - GroupNorm (+SiLU) and LayerNorm.
 * Statistics in double (two passes: mean, then mean squared deviation), then
 * y = (x - mean) * (rstd * gamma) + beta in float. (PyTorch's CPU kernels use
 * x*scale + shift with a fused multiply-add; without the FMA that form cancels
 * badly when |mean| >> std, so the subtraction comes first here.) */
#include <math.h>

#include "cpu_internal.h"
#include "cpu_simd.h"

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

#if CPU_X86
static CPU_AVX2 double sum_d_avx2(const float *x, int64_t n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    double r = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) r += x[i];
    return r;
}

static CPU_AVX2 double sqdev_d_avx2(const float *x, int64_t n, double mean)
{
    const __m256d m = _mm256_set1_pd(mean);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    double r = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) {
        double d = x[i] - mean;
        r += d * d;
    }
    return r;
}

static CPU_AVX2 void moments_avx2(const float *x, int64_t n, float eps, float *mean, float *mean_lo, float *rstd)
{
    double m = n > 0 ? sum_d_avx2(x, n) / (double)n : 0.0;
    double v = n > 0 ? sqdev_d_avx2(x, n, m) / (double)n : 0.0;
    *mean = (float)m;
    *mean_lo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + eps);
}

/* y = ((x - mean) - mlo) * scale + shift (+ SiLU); gamma_row/beta_row: per-element affine (LayerNorm) */
static CPU_AVX2 void affine_row_avx2(const float *x, float *y, int64_t n, float mean, float mlo, float scale,
                                    float shift, bool silu)
{
    const __m256 vm = _mm256_set1_ps(mean), vl = _mm256_set1_ps(mlo), vs = _mm256_set1_ps(scale),
                 vb = _mm256_set1_ps(shift), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vl);
        t = _mm256_add_ps(_mm256_mul_ps(t, vs), vb);
        if (silu) t = _mm256_div_ps(t, _mm256_add_ps(one, cpu_exp8(_mm256_sub_ps(zero, t))));
        _mm256_storeu_ps(y + i, t);
    }
    for (; i < n; i++) {
        float t = ((x[i] - mean) - mlo) * scale + shift;
        y[i] = silu ? t / (1.0f + expf(-t)) : t;
    }
}

static CPU_AVX2 void ln_row_avx2(const float *x, float *y, int64_t D, float eps, const float *g, const float *b)
{
    float mean, mlo, rstd;
    moments_avx2(x, D, eps, &mean, &mlo, &rstd);
    const __m256 vm = _mm256_set1_ps(mean), vl = _mm256_set1_ps(mlo), vr = _mm256_set1_ps(rstd);
    int64_t i = 0;
    if (g && b)
        for (; i + 8 <= D; i += 8) {
            __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vl), vr);
            _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(t, _mm256_loadu_ps(g + i)), _mm256_loadu_ps(b + i)));
        }
    for (; i < D; i++) {
        float t = ((x[i] - mean) - mlo) * rstd;
        y[i] = t * (g ? g[i] : 1.0f) + (b ? b[i] : 0.0f);
    }
}
#endif

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
    int32_t frames, C, G;
    int64_t S;
    const float *gamma, *beta;
    float eps;
    bool silu, simd;
} gn_job;

/* The statistics of one group: `frames` runs of len values, fs apart (one per
 * frame of a folded video; a single run per image). Summed run after run in
 * double, so one run gives exactly the single-range moments. */
static void group_moments(const gn_job *j, const float *x, int64_t len, int64_t fs, float *mean, float *mlo,
                          float *rstd)
{
    const int64_t n = len * j->frames;
    double s = 0, q = 0;
    for (int32_t t = 0; t < j->frames; t++) {
#if CPU_X86
        if (j->simd) {
            s += sum_d_avx2(x + t * fs, len);
            continue;
        }
#endif
        s += sum_d(x + t * fs, len);
    }
    const double m = n > 0 ? s / (double)n : 0.0;
    for (int32_t t = 0; t < j->frames; t++) {
#if CPU_X86
        if (j->simd) {
            q += sqdev_d_avx2(x + t * fs, len, m);
            continue;
        }
#endif
        q += sqdev_d(x + t * fs, len, m);
    }
    const double v = n > 0 ? q / (double)n : 0.0;
    *mean = (float)m;
    *mlo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + j->eps);
}

/* items are (sample, group) pairs */
static void gn_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    gn_job *j = arg;
    const int64_t cpg = j->C / j->G, fs = (int64_t)j->C * j->S;
    for (int64_t it = b; it < e; it++) {
        int64_t i = it / j->G, g = it % j->G;
        int64_t c0 = g * cpg;
        const float *x0 = j->x + (i * j->frames * j->C + c0) * j->S;
        float *y0 = j->y + (i * j->frames * j->C + c0) * j->S;
        float mean, mlo, rstd;
        group_moments(j, x0, cpg * j->S, fs, &mean, &mlo, &rstd);
        for (int32_t t = 0; t < j->frames; t++) {
            const float *x = x0 + t * fs;
            float *y = y0 + t * fs;
            for (int64_t c = 0; c < cpg; c++) {
                float ga = j->gamma ? j->gamma[c0 + c] : 1.0f, be = j->beta ? j->beta[c0 + c] : 0.0f;
#if CPU_X86
                if (j->simd) {
                    affine_row_avx2(x + c * j->S, y + c * j->S, j->S, mean, mlo, rstd * ga, be, j->silu);
                    continue;
                }
#endif
                affine_row(x + c * j->S, y + c * j->S, j->S, mean, mlo, rstd * ga, be, j->silu);
            }
        }
    }
}

void cpu_group_norm(vc_backend *be, const float *x, float *y, int32_t n, int32_t frames, int32_t C, int64_t S,
                    int32_t G, const float *gamma, const float *beta, float eps, bool silu)
{
    if (n <= 0 || frames <= 0 || C <= 0 || G <= 0) return;
    gn_job j = {x, y, frames, C, G, S, gamma, beta, eps, silu, cpu_of(be)->simd};
    cpu_parallel_for(be, (int64_t)n * G, 1, gn_task, &j);
}

typedef struct ln_job {
    const float *x;
    float *y;
    int32_t D;
    const float *gamma, *beta;
    float eps;
    bool simd;
} ln_job;

static void ln_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ln_job *j = arg;
    const int64_t D = j->D;
    for (int64_t r = b; r < e; r++) {
        const float *x = j->x + r * D;
        float *y = j->y + r * D;
#if CPU_X86
        if (j->simd) {
            ln_row_avx2(x, y, D, j->eps, j->gamma, j->beta);
            continue;
        }
#endif
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
    ln_job j = {x, y, D, gamma, beta, eps, cpu_of(be)->simd};
    int64_t grain = 16384 / D;
    cpu_parallel_for(be, rows, grain < 1 ? 1 : grain, ln_task, &j);
}
