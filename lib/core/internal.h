/* internal.h - shared internals of libvideocrafter (never installed). */
#ifndef VC_INTERNAL_H
#define VC_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "videocrafter.h"

#define VC_HIDDEN __attribute__((visibility("hidden")))
#define VC_PRINTF(a, b) __attribute__((format(printf, a, b)))

typedef struct vc_backend vc_backend;
typedef struct vc_tokenizer vc_tokenizer;

struct vc_context {
    vc_backend *backend;
    int32_t n_threads;
    vc_log_level log_level;
    vc_log_callback log_callback;
    void *log_user_data;
    char *vocab_path;            /* owned copy or NULL */
    vc_tokenizer *tokenizer;     /* created on first use */
    atomic_int cancel_requested;
    uint64_t peak_bytes;         /* high-water mark of the working-memory arena */
    char errmsg[2048];
};

/* Records a failure: formats the message into ctx->errmsg (ctx may be NULL)
 * and the thread-local last error, logs it at debug level, returns status. */
VC_HIDDEN vc_status vc_fail(vc_context *ctx, vc_status status, const char *fmt, ...) VC_PRINTF(3, 4);
VC_HIDDEN vc_status vc_failv(vc_context *ctx, vc_status status, const char *fmt, va_list ap);
/* Clears ctx->errmsg at the start of a public call. */
VC_HIDDEN void vc_clear_error(vc_context *ctx);
/* Logs a line through the context's callback (stderr by default; never stdout). */
VC_HIDDEN void vc_log(vc_context *ctx, vc_log_level level, const char *fmt, ...) VC_PRINTF(3, 4);

/* True once vc_context_cancel was called for the run in progress. */
static inline bool vc_cancelled(vc_context *ctx)
{
    return ctx && atomic_load_explicit(&ctx->cancel_requested, memory_order_relaxed) != 0;
}

/* Reads the prefix of a caller's params struct that it declared (struct_size),
 * over the library defaults already in *dst. */
VC_HIDDEN void vc_copy_params(void *dst, size_t dst_size, const void *src, uint32_t src_size);

/* Overflow-checked size arithmetic: false on overflow. */
static inline bool vc_mul_size(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* Tensor helpers (lib/core/tensor.c) */
VC_HIDDEN bool vc_tensor_is(const vc_tensor *t, vc_dtype dtype, int32_t ndim);
VC_HIDDEN vc_status vc_tensor_make(vc_context *ctx, vc_tensor *out, vc_dtype dtype, int32_t ndim,
                                   const int64_t *shape);
/* Names a dtype as "float32", "bfloat16", ... (for messages). */
VC_HIDDEN const char *vc_dtype_str(vc_dtype dt);
/* Describes a shape as "[2,4,16,40,64]" into buf. */
VC_HIDDEN const char *vc_shape_str(const vc_tensor *t, char *buf, size_t cap);

/* Half-precision conversions (exact widening). */
VC_HIDDEN float vc_f16_to_f32(uint16_t h);
VC_HIDDEN float vc_bf16_to_f32(uint16_t h);
VC_HIDDEN uint16_t vc_f32_to_f16(float f);
VC_HIDDEN uint16_t vc_f32_to_bf16(float f);
/* dst[i] = src[i] widened exactly, dtype VC_DTYPE_F16 or VC_DTYPE_BF16. */
VC_HIDDEN void vc_half_to_f32(const uint16_t *src, vc_dtype dtype, float *dst, int64_t n);
/* dst[i] = src[i] rounded to nearest even, dtype VC_DTYPE_F16 or VC_DTYPE_BF16. */
VC_HIDDEN void vc_f32_to_half(const float *src, vc_dtype dtype, uint16_t *dst, int64_t n);
/* The CPU has F16C and AVX2 (x86-64; false elsewhere). */
VC_HIDDEN bool vc_cpu_has_f16c_avx2(void);

/* Monotonic clock in seconds. */
VC_HIDDEN double vc_now(void);

#endif
