/* context.c - vc_context, status strings, errors, logging, versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../backend/backend.h"
#include "internal.h"

/* Tokenizer teardown lives in lib/text; weak so the core links without it. */
VC_HIDDEN void vc_tokenizer_free(vc_tokenizer *tok) __attribute__((weak));

static _Thread_local char tls_last_error[2048];

const char *vc_version(void) { return VC_VERSION_STRING; }
int vc_version_number(void) { return VC_VERSION_NUMBER; }

const char *vc_status_str(vc_status status)
{
    switch (status) {
    case VC_STATUS_OK: return "ok";
    case VC_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case VC_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VC_STATUS_IO_ERROR: return "i/o error";
    case VC_STATUS_BAD_FORMAT: return "bad file format";
    case VC_STATUS_UNSUPPORTED: return "unsupported";
    case VC_STATUS_MODEL_MISMATCH: return "model mismatch";
    case VC_STATUS_BAD_SIZE: return "bad size";
    case VC_STATUS_BAD_TEXT: return "bad text";
    case VC_STATUS_CANCELLED: return "cancelled";
    case VC_STATUS_BACKEND_UNAVAILABLE: return "backend unavailable";
    case VC_STATUS_BACKEND_ERROR: return "backend error";
    case VC_STATUS_LIMIT_EXCEEDED: return "limit exceeded";
    case VC_STATUS_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *vc_last_error(void) { return tls_last_error; }

vc_status vc_failv(vc_context *ctx, vc_status status, const char *fmt, va_list ap)
{
    char buf[sizeof tls_last_error];
    vsnprintf(buf, sizeof buf, fmt, ap);
    memcpy(tls_last_error, buf, sizeof buf);
    if (ctx) {
        memcpy(ctx->errmsg, buf, sizeof ctx->errmsg);
        vc_log(ctx, VC_LOG_DEBUG, "error (%s): %s", vc_status_str(status), buf);
    }
    return status;
}

vc_status vc_fail(vc_context *ctx, vc_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vc_failv(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

void vc_clear_error(vc_context *ctx)
{
    if (ctx) ctx->errmsg[0] = '\0';
}

static const char *level_name(vc_log_level level)
{
    switch (level) {
    case VC_LOG_DEBUG: return "debug";
    case VC_LOG_INFO: return "info";
    case VC_LOG_WARN: return "warning";
    case VC_LOG_ERROR: return "error";
    default: return "log";
    }
}

void vc_log(vc_context *ctx, vc_log_level level, const char *fmt, ...)
{
    vc_log_level threshold = ctx ? ctx->log_level : VC_LOG_WARN;
    if (level < threshold || level >= VC_LOG_NONE) return;
    char line[2048]; /* on the stack: contexts may log from several threads */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (ctx && ctx->log_callback)
        ctx->log_callback(level, line, ctx->log_user_data);
    else
        fprintf(stderr, "videocrafter: %s: %s\n", level_name(level), line);
}

void vc_copy_params(void *dst, size_t dst_size, const void *src, uint32_t src_size)
{
    size_t n = src_size < dst_size ? src_size : dst_size;
    /* struct_size itself stays the library's */
    if (n > sizeof(uint32_t))
        memcpy((char *)dst + sizeof(uint32_t), (const char *)src + sizeof(uint32_t), n - sizeof(uint32_t));
}

double vc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void vc_context_default_params(vc_context_params *params)
{
    if (!params) return;
    memset(params, 0, sizeof *params);
    params->struct_size = sizeof *params;
    params->backend = NULL;
    params->device = 0;
    params->n_threads = 0;
    params->log_level = VC_LOG_WARN;
}

static int32_t default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > 256) n = 256;
    return (int32_t)n;
}

vc_status vc_context_create(const vc_context_params *user, vc_context **out)
{
    if (!out) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_context_create: out is NULL");
    *out = NULL;
    vc_context_params p;
    vc_context_default_params(&p);
    if (user) {
        if (user->struct_size < sizeof(uint32_t))
            return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT,
                           "vc_context_create: params.struct_size %u is too small (call vc_context_default_params)",
                           user->struct_size);
        vc_copy_params(&p, sizeof p, user, user->struct_size);
    }
    if (p.n_threads < 0 || p.n_threads > 1024)
        return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "n_threads %d is out of range 0..1024", p.n_threads);
    if ((int)p.log_level < VC_LOG_DEBUG || (int)p.log_level > VC_LOG_NONE)
        return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "log_level %d is out of range", (int)p.log_level);

    vc_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return vc_fail(NULL, VC_STATUS_OUT_OF_MEMORY, "out of memory creating a context");
    ctx->n_threads = p.n_threads ? p.n_threads : default_threads();
    ctx->log_level = p.log_level;
    ctx->log_callback = p.log_callback;
    ctx->log_user_data = p.log_user_data;
    atomic_init(&ctx->cancel_requested, 0);
    if (p.vocab_path && !(ctx->vocab_path = strdup(p.vocab_path))) {
        free(ctx);
        return vc_fail(NULL, VC_STATUS_OUT_OF_MEMORY, "out of memory creating a context");
    }
    const char *backend = p.backend ? p.backend : "cpu";
    vc_status st = vc_backend_create(ctx, backend, p.device, ctx->n_threads, &ctx->backend);
    if (st != VC_STATUS_OK) {
        char msg[sizeof ctx->errmsg];
        memcpy(msg, ctx->errmsg, sizeof msg);
        vc_context_free(ctx);
        vc_fail(NULL, st, "%s", msg);
        if (p.log_level <= VC_LOG_ERROR) { /* the caller's log settings, as the context would have */
            if (p.log_callback) p.log_callback(VC_LOG_ERROR, msg, p.log_user_data);
            else fprintf(stderr, "videocrafter: error: %s\n", msg);
        }
        return st;
    }
    vc_log(ctx, VC_LOG_INFO, "backend %s (device %d), %d threads%s%s", ctx->backend->ops->name, p.device,
           ctx->n_threads, ctx->backend->detail[0] ? ": " : "", ctx->backend->detail);
    *out = ctx;
    return VC_STATUS_OK;
}

void vc_context_free(vc_context *ctx)
{
    if (!ctx) return;
    vc_backend_destroy(ctx->backend);
    if (ctx->tokenizer && vc_tokenizer_free) vc_tokenizer_free(ctx->tokenizer);
    free(ctx->vocab_path);
    free(ctx);
}

const char *vc_context_errmsg(const vc_context *ctx) { return ctx ? ctx->errmsg : vc_last_error(); }
const char *vc_context_backend(const vc_context *ctx)
{
    return ctx && ctx->backend ? ctx->backend->ops->name : "";
}
int32_t vc_context_n_threads(const vc_context *ctx) { return ctx ? ctx->n_threads : 0; }

void vc_context_cancel(vc_context *ctx)
{
    if (ctx) atomic_store(&ctx->cancel_requested, 1);
}

uint64_t vc_context_peak_bytes(const vc_context *ctx)
{
    if (!ctx || !ctx->backend) return 0;
    return ctx->backend->arena.peak;
}
