/* cpu_elementwise.c - elementwise ops, copies, layout changes. */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_simd.h"

#define EW_GRAIN 16384 /* elements per chunk: fixed, so results never depend on the thread count */

typedef struct ew_job {
    const float *x, *x2;
    float *y;
    float a, b;
    int64_t n2;        /* second size (inner width, S, ...) */
    int32_t i1, i2;
    const void *p;
} ew_job;

static void fill_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = j->a;
}

void cpu_fill(vc_backend *be, float *dst, float value, int64_t n)
{
    ew_job j = {.y = dst, .a = value};
    cpu_parallel_for(be, n, EW_GRAIN, fill_task, &j);
}

static void copy_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    memcpy((char *)j->y + b, (const char *)j->x + b, (size_t)(e - b));
}

void cpu_copy(vc_backend *be, void *dst, const void *src, size_t bytes)
{
    if (dst == src || bytes == 0) return;
    ew_job j = {.x = src, .y = dst};
    cpu_parallel_for(be, (int64_t)bytes, (int64_t)1 << 20, copy_task, &j);
}

static inline float silu1(float x) { return x / (1.0f + expf(-x)); }
/* exact erf form; constants as PyTorch's CPU kernel: x * 0.5 * (1 + erf(x * M_SQRT1_2)) */
static inline float gelu1(float x) { return x * 0.5f * (1.0f + erff(x * (float)M_SQRT1_2)); }

static void silu_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = silu1(j->x[i]);
}

#if CPU_X86
static CPU_AVX2 void silu_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
    int64_t i = b;
    for (; i + 8 <= e; i += 8) {
        __m256 x = _mm256_loadu_ps(j->x + i);
        _mm256_storeu_ps(j->y + i, _mm256_div_ps(x, _mm256_add_ps(one, cpu_exp8(_mm256_sub_ps(zero, x)))));
    }
    for (; i < e; i++) j->y[i] = silu1(j->x[i]);
}
#endif

void cpu_silu(vc_backend *be, const float *x, float *y, int64_t n)
{
    ew_job j = {.x = x, .y = y};
#if CPU_X86
    if (cpu_of(be)->simd) {
        cpu_parallel_for(be, n, EW_GRAIN, silu_task_avx2, &j);
        return;
    }
#endif
    cpu_parallel_for(be, n, EW_GRAIN, silu_task, &j);
}

#if CPU_X86
/* erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7 absolute, the form of
 * PyTorch's vectorised CPU erf): erf|x| = 1 - t(a1 + t(a2 + ... a5 t)) e^{-x^2},
 * t = 1 / (1 + p|x|), sign restored. GELU needs 1 + erf, where an absolute
 * error of 1.5e-7 is a relative one of GELU's value. */
CPU_AVX2_INLINE __m256 erf8(__m256 x)
{
    const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
    const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, one));
    __m256 p = _mm256_set1_ps(1.061405429f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.453152027f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.421413741f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.284496736f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.254829592f));
    p = _mm256_mul_ps(p, t);
    const __m256 e = cpu_exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), ax), ax));
    const __m256 r = _mm256_fnmadd_ps(p, e, one);
    return _mm256_or_ps(r, sign);
}

CPU_AVX2_INLINE __m256 gelu8(__m256 x)
{
    const __m256 h = _mm256_mul_ps(x, _mm256_set1_ps(0.5f));
    return _mm256_fmadd_ps(h, erf8(_mm256_mul_ps(x, _mm256_set1_ps((float)M_SQRT1_2))), h);
}

static CPU_AVX2 void gelu_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    int64_t i = b;
    for (; i + 8 <= e; i += 8) _mm256_storeu_ps(j->y + i, gelu8(_mm256_loadu_ps(j->x + i)));
    for (; i < e; i++) j->y[i] = gelu1(j->x[i]);
}

static CPU_AVX2 void geglu_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    int64_t inner = j->n2;
    for (int64_t r = b; r < e; r++) {
        const float *xr = j->x + r * 2 * inner;
        float *yr = j->y + r * inner;
        int64_t i = 0;
        for (; i + 8 <= inner; i += 8)
            _mm256_storeu_ps(yr + i, _mm256_mul_ps(_mm256_loadu_ps(xr + i), gelu8(_mm256_loadu_ps(xr + inner + i))));
        for (; i < inner; i++) yr[i] = xr[i] * gelu1(xr[inner + i]);
    }
}
#endif

static void gelu_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = gelu1(j->x[i]);
}

void cpu_gelu(vc_backend *be, const float *x, float *y, int64_t n)
{
    ew_job j = {.x = x, .y = y};
    cpu_task_fn fn = gelu_task;
#if CPU_X86
    if (cpu_of(be)->simd) fn = gelu_task_avx2;
#endif
    cpu_parallel_for(be, n, EW_GRAIN, fn, &j);
}

static void geglu_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    int64_t inner = j->n2;
    for (int64_t r = b; r < e; r++) {
        const float *xr = j->x + r * 2 * inner;
        float *yr = j->y + r * inner;
        for (int64_t i = 0; i < inner; i++) yr[i] = xr[i] * gelu1(xr[inner + i]);
    }
}

typedef struct geglu_wave {
    ew_job *j;
    int64_t first;
    cpu_task_fn fn;
} geglu_wave;

static void geglu_wave_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    geglu_wave *w = arg;
    w->fn(w->j, w->first + b, w->first + e, tid);
}

void cpu_geglu(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner)
{
    ew_job j = {.x = x, .y = y, .n2 = inner};
    int64_t grain = inner > 0 ? EW_GRAIN / inner : rows;
    if (grain < 1) grain = 1;
    cpu_task_fn fn = geglu_task;
#if CPU_X86
    if (cpu_of(be)->simd) fn = geglu_task_avx2;
#endif
    if ((const float *)y != x) {
        cpu_parallel_for(be, rows, grain, fn, &j);
        return;
    }
    /* In place: rows [a, 2a) write [a, 2a)*inner, the input of rows [a/2, a) (done
     * before), and read [2a, 4a)*inner, which nobody writes in the same wave. */
    fn(&j, 0, rows < 1 ? rows : 1, 0);
    for (int64_t a = 1; a < rows; a *= 2) {
        int64_t end = 2 * a < rows ? 2 * a : rows;
        geglu_wave w = {&j, a, fn};
        cpu_parallel_for(be, end - a, grain, geglu_wave_task, &w);
    }
}

static void add_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = j->x[i] + j->x2[i];
}

void cpu_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n)
{
    ew_job j = {.x = a, .x2 = b, .y = y};
    cpu_parallel_for(be, n, EW_GRAIN, add_task, &j);
}

void cpu_add_inplace(vc_backend *be, float *y, const float *r, int64_t n)
{
    cpu_add(be, y, r, y, n);
}

static void axpby_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = j->a * j->x[i] + j->b * j->y[i];
}

void cpu_axpby(vc_backend *be, float a, const float *x, float b, float *y, int64_t n)
{
    ew_job j = {.x = x, .y = y, .a = a, .b = b};
    cpu_parallel_for(be, n, EW_GRAIN, axpby_task, &j);
}

static void scale_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    for (int64_t i = b; i < e; i++) j->y[i] = j->x[i] * j->a;
}

void cpu_scale(vc_backend *be, const float *x, float s, float *y, int64_t n)
{
    ew_job j = {.x = x, .y = y, .a = s};
    cpu_parallel_for(be, n, EW_GRAIN, scale_task, &j);
}

/* spec §7.4 (and §7.5 for use_scale) in the original's float32 order */
static void ddim_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    (void)tid;
    const vc_ddim_args *a = arg;
    const float g = a->guidance;
    for (int64_t i = b; i < e; i++) {
        float eps = a->ec[i];
        if (a->eu) {
            float u = a->eu[i];
            eps = u + g * (eps - u); /* uncond + g * (cond - uncond) */
        }
        float p0 = (a->x[i] - a->sq1ma * eps) / a->sqrt_a;
        float d = a->dir * eps;
        if (a->use_scale) p0 = p0 / a->scale; /* x0 divided by s_t, the next latent re-scaled by s_prev */
        float xn = a->prev * p0 + d;
        if (a->z) xn = xn + a->sigma * a->z[i];
        a->x_next[i] = xn;
        if (a->x0) a->x0[i] = p0;
    }
}

void cpu_ddim_step(vc_backend *be, const vc_ddim_args *a)
{
    cpu_parallel_for(be, a->n, EW_GRAIN, ddim_task, (void *)a);
}

/* items are (i, c) rows of S floats */
static void add_channel_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    ew_job *j = arg;
    int64_t S = j->n2, C = j->i1, vs = (int64_t)(intptr_t)j->p;
    for (int64_t r = b; r < e; r++) {
        float v = j->x[(r / C) * vs + r % C];
        float *xr = j->y + r * S;
        for (int64_t s = 0; s < S; s++) xr[s] += v;
    }
}

void cpu_add_channel(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S,
                     int64_t v_stride)
{
    ew_job j = {.x = v, .y = x, .n2 = S, .i1 = C, .p = (const void *)(intptr_t)v_stride};
    int64_t grain = S > 0 ? EW_GRAIN / S : 1;
    cpu_parallel_for(be, n * C, grain < 1 ? 1 : grain, add_channel_task, &j);
}

typedef struct bias_job {
    float *y;
    int64_t cols, ld;
    const float *bias;
    int64_t per_row_mod;
} bias_job;

static void rows_bias_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    bias_job *j = arg;
    for (int64_t r = b; r < e; r++) {
        float *yr = j->y + r * j->ld;
        if (!j->bias) {
            memset(yr, 0, (size_t)j->cols * sizeof(float));
        } else if (j->per_row_mod > 0) {
            float v = j->bias[r % j->per_row_mod];
            for (int64_t c = 0; c < j->cols; c++) yr[c] = v;
        } else {
            memcpy(yr, j->bias, (size_t)j->cols * sizeof(float));
        }
    }
}

void cpu_rows_set_bias(vc_backend *be, float *y, int64_t rows, int64_t cols, int64_t ld, const float *bias,
                       int64_t per_row_mod)
{
    bias_job j = {.y = y, .cols = cols, .ld = ld, .bias = bias, .per_row_mod = per_row_mod};
    int64_t grain = cols > 0 ? EW_GRAIN / cols : 1;
    cpu_parallel_for(be, rows, grain < 1 ? 1 : grain, rows_bias_task, &j);
}

/* ------------------------------------------------------------------ permute */
typedef struct perm_job {
    const float *x;
    float *y;
    int64_t oshape[6], istride[6]; /* output shape and the input stride of each output axis */
    int64_t inner;                 /* oshape[5] */
} perm_job;

/* items are rows of the last output axis */
static void permute_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    perm_job *j = arg;
    int64_t inner = j->inner, st = j->istride[5];
    for (int64_t r = b; r < e; r++) {
        int64_t rem = r, off = 0;
        for (int k = 4; k >= 0; k--) {
            int64_t idx = rem % j->oshape[k];
            rem /= j->oshape[k];
            off += idx * j->istride[k];
        }
        const float *src = j->x + off;
        float *dst = j->y + r * inner;
        if (st == 1) {
            memcpy(dst, src, (size_t)inner * sizeof(float));
        } else {
            for (int64_t i = 0; i < inner; i++) dst[i] = src[i * st];
        }
    }
}

void cpu_permute(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape,
                 const int32_t *perm)
{
    perm_job j = {.x = x, .y = y};
    int64_t istr[6];
    int64_t s = 1;
    for (int k = ndim - 1; k >= 0; k--) {
        istr[k] = s;
        s *= shape[k];
    }
    if (s == 0) return;
    int pad = 6 - ndim;
    for (int k = 0; k < 6; k++) {
        if (k < pad) {
            j.oshape[k] = 1;
            j.istride[k] = 0;
        } else {
            j.oshape[k] = shape[perm[k - pad]];
            j.istride[k] = istr[perm[k - pad]];
        }
    }
    j.inner = j.oshape[5];
    int64_t rows = s / j.inner;
    int64_t grain = EW_GRAIN / j.inner;
    cpu_parallel_for(be, rows, grain < 1 ? 1 : grain, permute_task, &j);
}

/* --------------------------------------------------------------- upsample */
typedef struct up_job {
    const float *x;
    float *y;
    int32_t h, w;
} up_job;

/* items are input rows (nc * h) */
static void upsample_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    up_job *j = arg;
    int64_t w = j->w;
    for (int64_t r = b; r < e; r++) {
        const float *src = j->x + r * w;
        float *d0 = j->y + r * 4 * w; /* output rows 2i and 2i+1 of plane r/h are contiguous */
        for (int64_t c = 0; c < w; c++) d0[2 * c] = d0[2 * c + 1] = src[c];
        memcpy(d0 + 2 * w, d0, (size_t)(2 * w) * sizeof(float));
    }
}

void cpu_upsample_nearest2x(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w)
{
    up_job j = {.x = x, .y = y, .h = h, .w = w};
    int64_t grain = w > 0 ? EW_GRAIN / (4 * (int64_t)w) : 1;
    cpu_parallel_for(be, nc * h, grain < 1 ? 1 : grain, upsample_task, &j);
}

/* ----------------------------------------------------------------- concat */
typedef struct cat_job {
    const float *a, *b;
    float *y;
    int64_t na, nb; /* floats per item of a and b */
} cat_job;

static void concat_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    cat_job *j = arg;
    for (int64_t i = b; i < e; i++) {
        float *dst = j->y + i * (j->na + j->nb);
        memcpy(dst, j->a + i * j->na, (size_t)j->na * sizeof(float));
        memcpy(dst + j->na, j->b + i * j->nb, (size_t)j->nb * sizeof(float));
    }
}

void cpu_concat_channels(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb, float *y,
                         int64_t n, int64_t S)
{
    cat_job j = {.a = a, .b = b, .y = y, .na = (int64_t)ca * S, .nb = (int64_t)cb * S};
    cpu_parallel_for(be, n, 1, concat_task, &j);
}

/* ------------------------------------------------------------ half -> float (half-resident weights) */

typedef struct widen_job {
    const uint16_t *src;
    float *dst;
    vc_dtype dtype;
} widen_job;

static void widen_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    widen_job *j = arg;
    vc_half_to_f32(j->src + b, j->dtype, j->dst + b, e - b);
}

#if CPU_X86
/* F16C's conversion is exact (every half is a float); bf16 is a shift. */
static __attribute__((target("avx2,f16c"))) void widen_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid)
{
    widen_job *j = arg;
    int64_t i = b;
    if (j->dtype == VC_DTYPE_F16) {
        for (; i + 8 <= e; i += 8)
            _mm256_storeu_ps(j->dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(j->src + i))));
    } else {
        for (; i + 8 <= e; i += 8) {
            __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(j->src + i)));
            _mm256_storeu_ps(j->dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
        }
    }
    if (i < e) vc_half_to_f32(j->src + i, j->dtype, j->dst + i, e - i);
}
#endif

void cpu_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n)
{
    widen_job j = {.src = src, .dst = dst, .dtype = dtype};
#if CPU_X86
    if (cpu_of(be)->f16c) {
        cpu_parallel_for(be, n, (int64_t)1 << 16, widen_task_avx2, &j);
        return;
    }
#endif
    cpu_parallel_for(be, n, (int64_t)1 << 16, widen_task, &j);
}
