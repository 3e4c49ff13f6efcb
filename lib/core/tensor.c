/* tensor.c - vc_tensor helpers and half-precision conversion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

size_t vc_dtype_size(vc_dtype dtype)
{
    switch (dtype) {
    case VC_DTYPE_F32: return 4;
    case VC_DTYPE_F16: return 2;
    case VC_DTYPE_BF16: return 2;
    case VC_DTYPE_F64: return 8;
    case VC_DTYPE_I64: return 8;
    case VC_DTYPE_I32: return 4;
    case VC_DTYPE_U8: return 1;
    }
    return 0;
}

int64_t vc_tensor_numel(const vc_tensor *t)
{
    if (!t) return 0;
    int64_t n = 1;
    for (int32_t i = 0; i < t->ndim && i < VC_TENSOR_MAX_DIMS; i++) n *= t->shape[i];
    return n;
}

/* Largest tensor the library allocates on a caller's behalf (16 GiB). */
#define VC_TENSOR_MAX_BYTES ((size_t)1 << 34)

vc_status vc_tensor_make(vc_context *ctx, vc_tensor *out, vc_dtype dtype, int32_t ndim, const int64_t *shape)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "tensor output is NULL");
    memset(out, 0, sizeof *out);
    size_t esz = vc_dtype_size(dtype);
    if (!esz) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "unknown dtype %d", (int)dtype);
    if (ndim < 0 || ndim > VC_TENSOR_MAX_DIMS || (ndim > 0 && !shape))
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "tensor rank %d is out of range 0..%d", ndim,
                       VC_TENSOR_MAX_DIMS);
    size_t bytes = esz;
    for (int32_t i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "tensor dimension %d is negative (%lld)", i,
                           (long long)shape[i]);
        if (!vc_mul_size(bytes, (size_t)shape[i], &bytes) || bytes > VC_TENSOR_MAX_BYTES)
            return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "tensor of %d dims is larger than the 16 GiB limit", ndim);
    }
    void *data = calloc(bytes ? bytes : 1, 1);
    if (!data) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory allocating a %zu-byte tensor", bytes);
    out->dtype = dtype;
    out->ndim = ndim;
    for (int32_t i = 0; i < ndim; i++) out->shape[i] = shape[i];
    out->data = data;
    out->flags = VC_TENSOR_OWNED;
    return VC_STATUS_OK;
}

vc_status vc_tensor_alloc(vc_tensor *out, vc_dtype dtype, int32_t ndim, const int64_t *shape)
{
    return vc_tensor_make(NULL, out, dtype, ndim, shape);
}

void vc_tensor_free(vc_tensor *t)
{
    if (!t) return;
    if (t->flags & VC_TENSOR_OWNED) free(t->data);
    memset(t, 0, sizeof *t);
}

bool vc_tensor_is(const vc_tensor *t, vc_dtype dtype, int32_t ndim)
{
    return t && t->data && t->dtype == dtype && t->ndim == ndim;
}

const char *vc_dtype_str(vc_dtype dt)
{
    switch (dt) {
    case VC_DTYPE_F32: return "float32";
    case VC_DTYPE_F16: return "float16";
    case VC_DTYPE_BF16: return "bfloat16";
    case VC_DTYPE_F64: return "float64";
    case VC_DTYPE_I64: return "int64";
    case VC_DTYPE_I32: return "int32";
    case VC_DTYPE_U8: return "uint8";
    }
    return "unknown dtype";
}

const char *vc_shape_str(const vc_tensor *t, char *buf, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return buf;
    buf[0] = '\0';
    len += (size_t)snprintf(buf + len, cap - len, "[");
    for (int32_t i = 0; t && i < t->ndim && i < VC_TENSOR_MAX_DIMS && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, i ? ",%lld" : "%lld", (long long)t->shape[i]);
    if (len < cap) snprintf(buf + len, cap - len, "]");
    return buf;
}

float vc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float vc_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t vc_f32_to_bf16(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40u); /* NaN */
    bits += 0x7fffu + ((bits >> 16) & 1u); /* round to nearest even */
    return (uint16_t)(bits >> 16);
}

uint16_t vc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t absx = x & 0x7fffffffu;
    if (absx > 0x7f800000u) return (uint16_t)(sign | 0x7e00u);
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* overflow -> inf */
    if (absx < 0x38800000u) {                                   /* subnormal or zero */
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e; /* 14 + (113 - e) */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t e = (absx >> 23) - 112;
    uint32_t m = absx & 0x7fffffu;
    uint32_t half = (e << 10) | (m >> 13);
    uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1u))) half++;
    return (uint16_t)(sign | half);
}

void vc_half_to_f32(const uint16_t *src, vc_dtype dtype, float *dst, int64_t n)
{
    if (dtype == VC_DTYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)src[i] << 16;
            memcpy(&dst[i], &u, 4);
        }
    } else {
        for (int64_t i = 0; i < n; i++) dst[i] = vc_f16_to_f32(src[i]);
    }
}

/* Narrowing f32 -> f16/bf16, round to nearest even, as vc_f32_to_f16 and
 * vc_f32_to_bf16 (NaN stays NaN). F16C/AVX2 where the CPU has them: loading a
 * float32 file half-resident converts ~1.5 G values. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

bool vc_cpu_has_f16c_avx2(void)
{
    /* cpuid, not __builtin_cpu_supports: clang's does not know "f16c" */
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29))) return false; /* F16C */
    return __builtin_cpu_supports("avx2");
}

__attribute__((target("avx2,f16c"))) static int64_t narrow_simd(const float *src, vc_dtype dtype, uint16_t *dst,
                                                                int64_t n)
{
    int64_t i = 0;
    if (dtype == VC_DTYPE_F16) {
        for (; i + 8 <= n; i += 8)
            _mm_storeu_si128((__m128i *)(dst + i),
                             _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        return i;
    }
    const __m256i lsb = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff);
    for (; i + 8 <= n; i += 8) {
        __m256 x = _mm256_loadu_ps(src + i);
        __m256i u = _mm256_castps_si256(x);
        __m256i r = _mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(_mm256_srli_epi32(u, 16), lsb)));
        __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(x, x, _CMP_UNORD_Q));
        r = _mm256_blendv_epi8(r, _mm256_or_si256(u, _mm256_set1_epi32(0x00400000)), nan); /* quiet NaN */
        r = _mm256_srli_epi32(r, 16);
        __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
        _mm_storeu_si128((__m128i *)(dst + i), packed);
    }
    return i;
}
#else
bool vc_cpu_has_f16c_avx2(void) { return false; }
#endif

void vc_f32_to_half(const float *src, vc_dtype dtype, uint16_t *dst, int64_t n)
{
    int64_t i = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    if (vc_cpu_has_f16c_avx2()) i = narrow_simd(src, dtype, dst, n);
#endif
    for (; i < n; i++) dst[i] = dtype == VC_DTYPE_F16 ? vc_f32_to_f16(src[i]) : vc_f32_to_bf16(src[i]);
}

