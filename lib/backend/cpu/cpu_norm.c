/* cpu_norm.c - GroupNorm (+SiLU) and LayerNorm.
 * Statistics in double (two passes: mean, then mean squared deviation), then
 * y = (x - mean) * (rstd * gamma) + beta in float. (PyTorch's CPU kernels use
 * x*scale + shift with a fused multiply-add; without the FMA that form cancels
 * badly when |mean| >> std, so the subtraction comes first here.) */
#include <math.h>

#include "cpu_internal.h"
#include "cpu_simd.h"

/* sums of x + b (b: an input bias added in float, as a separate pass would;
 * 0 for none: x + 0 is x) */
static double sum_d(const float *x, int64_t n, float b)
{
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += x[i + k] + b;
    for (; i < n; i++) s[i & 7] += x[i] + b;
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static double sqdev_d(const float *x, int64_t n, double mean, float b)
{
    double s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = (x[i + k] + b) - mean;
            s[k] += d * d;
        }
    for (; i < n; i++) {
        double d = (x[i] + b) - mean;
        s[i & 7] += d * d;
    }
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

/* mean (as hi + lo floats, so x - mean stays accurate when |mean| >> std) and
 * 1/sqrt(var + eps) of x[0..n), biased variance */
static void moments(const float *x, int64_t n, float eps, float *mean, float *mean_lo, float *rstd)
{
    double m = n > 0 ? sum_d(x, n, 0.0f) / (double)n : 0.0;
    double v = n > 0 ? sqdev_d(x, n, m, 0.0f) / (double)n : 0.0;
    *mean = (float)m;
    *mean_lo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + eps);
}

#if CPU_X86
static CPU_AVX2 double sum_d_avx2(const float *x, int64_t n, float b)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    const __m256 vb = _mm256_set1_ps(b);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + i), vb);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    double r = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) r += x[i] + b;
    return r;
}

static CPU_AVX2 double sqdev_d_avx2(const float *x, int64_t n, double mean, float b)
{
    const __m256d m = _mm256_set1_pd(mean);
    const __m256 vb = _mm256_set1_ps(b);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_add_ps(_mm256_loadu_ps(x + i), vb);
        __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), m);
        __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), m);
        s0 = _mm256_fmadd_pd(d0, d0, s0);
        s1 = _mm256_fmadd_pd(d1, d1, s1);
    }
    double t[4];
    _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
    double r = (t[0] + t[1]) + (t[2] + t[3]);
    for (; i < n; i++) {
        double d = (x[i] + b) - mean;
        r += d * d;
    }
    return r;
}

static CPU_AVX2 void moments_avx2(const float *x, int64_t n, float eps, float *mean, float *mean_lo, float *rstd)
{
    double m = n > 0 ? sum_d_avx2(x, n, 0.0f) / (double)n : 0.0;
    double v = n > 0 ? sqdev_d_avx2(x, n, m, 0.0f) / (double)n : 0.0;
    *mean = (float)m;
    *mean_lo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + eps);
}

/* y = (((x + b) - mean) - mlo) * scale + shift (+ SiLU), b the input bias */
static CPU_AVX2 void affine_row_avx2(const float *x, float b, float *y, int64_t n, float mean, float mlo, float scale,
                                    float shift, bool silu)
{
    const __m256 vm = _mm256_set1_ps(mean), vl = _mm256_set1_ps(mlo), vs = _mm256_set1_ps(scale),
                 vb = _mm256_set1_ps(shift), one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps(),
                 vin = _mm256_set1_ps(b);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_sub_ps(_mm256_add_ps(_mm256_loadu_ps(x + i), vin), vm), vl);
        t = _mm256_add_ps(_mm256_mul_ps(t, vs), vb);
        if (silu) t = _mm256_div_ps(t, _mm256_add_ps(one, cpu_exp8(_mm256_sub_ps(zero, t))));
        _mm256_storeu_ps(y + i, t);
    }
    for (; i < n; i++) {
        float t = (((x[i] + b) - mean) - mlo) * scale + shift;
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

static inline void affine_row(const float *x, float b, float *y, int64_t n, float mean, float mlo, float scale,
                              float shift, bool silu)
{
    if (silu) {
        for (int64_t i = 0; i < n; i++) {
            float t = (((x[i] + b) - mean) - mlo) * scale + shift;
            y[i] = t / (1.0f + expf(-t));
        }
    } else {
        for (int64_t i = 0; i < n; i++) y[i] = (((x[i] + b) - mean) - mlo) * scale + shift;
    }
}

typedef struct gn_job {
    const vc_group_norm_args *a;
    bool simd;
} gn_job;

static double run_sum(const gn_job *j, const float *x, int64_t n, float b)
{
#if CPU_X86
    if (j->simd) return sum_d_avx2(x, n, b);
#endif
    return sum_d(x, n, b);
}

static double run_sqdev(const gn_job *j, const float *x, int64_t n, double mean, float b)
{
#if CPU_X86
    if (j->simd) return sqdev_d_avx2(x, n, mean, b);
#endif
    return sqdev_d(x, n, mean, b);
}

/* The statistics of one group: for each of the frames, cpg channel rows of S
 * values, C*S apart per frame; ib: the group's input biases (NULL: none).
 * Without biases a frame's rows are one contiguous run, summed at once, so one
 * frame gives exactly the single-range moments. Sums in double. */
static void group_moments(const gn_job *j, const float *x, int64_t cpg, const float *ib, float *mean, float *mlo,
                          float *rstd)
{
    const vc_group_norm_args *a = j->a;
    const int64_t S = a->S, fs = (int64_t)a->C * S, n = cpg * S * a->frames;
    double s = 0, q = 0;
    for (int32_t t = 0; t < a->frames; t++) {
        if (!ib) s += run_sum(j, x + t * fs, cpg * S, 0.0f);
        else
            for (int64_t c = 0; c < cpg; c++) s += run_sum(j, x + t * fs + c * S, S, ib[c]);
    }
    const double m = n > 0 ? s / (double)n : 0.0;
    for (int32_t t = 0; t < a->frames; t++) {
        if (!ib) q += run_sqdev(j, x + t * fs, cpg * S, m, 0.0f);
        else
            for (int64_t c = 0; c < cpg; c++) q += run_sqdev(j, x + t * fs + c * S, S, m, ib[c]);
    }
    const double v = n > 0 ? q / (double)n : 0.0;
    *mean = (float)m;
    *mlo = (float)(m - (double)*mean);
    *rstd = 1.0f / sqrtf((float)v + a->eps);
}

/* items are (sample, group) pairs */
static void gn_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    gn_job *j = arg;
    const vc_group_norm_args *a = j->a;
    const int64_t cpg = a->C / a->G, S = a->S, fs = (int64_t)a->C * S;
    for (int64_t it = b; it < e; it++) {
        int64_t i = it / a->G, g = it % a->G;
        int64_t c0 = g * cpg;
        const float *x0 = a->x + (i * a->frames * a->C + c0) * S;
        float *y0 = a->y + (i * a->frames * a->C + c0) * S;
        const float *ib = a->in_bias ? a->in_bias + (i / a->bias_group) * a->C + c0 : NULL;
        float mean, mlo, rstd;
        group_moments(j, x0, cpg, ib, &mean, &mlo, &rstd);
        for (int32_t t = 0; t < a->frames; t++) {
            const float *x = x0 + t * fs;
            float *y = y0 + t * fs;
            for (int64_t c = 0; c < cpg; c++) {
                const float ga = a->gamma ? a->gamma[c0 + c] : 1.0f, be = a->beta ? a->beta[c0 + c] : 0.0f;
                const float bin = ib ? ib[c] : 0.0f;
#if CPU_X86
                if (j->simd) {
                    affine_row_avx2(x + c * S, bin, y + c * S, S, mean, mlo, rstd * ga, be, a->silu);
                    continue;
                }
#endif
                affine_row(x + c * S, bin, y + c * S, S, mean, mlo, rstd * ga, be, a->silu);
            }
        }
    }
}

void cpu_group_norm(vc_backend *be, const vc_group_norm_args *a)
{
    if (a->n <= 0 || a->frames <= 0 || a->C <= 0 || a->G <= 0 || (a->in_bias && a->bias_group <= 0)) return;
    gn_job j = {a, cpu_of(be)->simd};
    cpu_parallel_for(be, (int64_t)a->n * a->G, 1, gn_task, &j);
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
