/* fuzz_stubs.c - the few core functions the readers call, without the rest of
 * the library (backend, models), so the fuzz targets build from lib/io alone. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"

static _Thread_local char last_error[2048];

const char *vc_last_error(void) { return last_error; }

vc_status vc_failv(vc_context *ctx, vc_status status, const char *fmt, va_list ap)
{
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    if (ctx) memcpy(ctx->errmsg, last_error, sizeof ctx->errmsg);
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

void vc_log(vc_context *ctx, vc_log_level level, const char *fmt, ...) { (void)ctx; (void)level; (void)fmt; }
