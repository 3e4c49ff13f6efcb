/* common.c - option handling and error reporting shared by the subcommands. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("videocrafter: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_FAILED;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "videocrafter %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see videocrafter %s --help)\n", cmd);
    va_end(ap);
    return CLI_USAGE;
}

int cli_fail_status(vc_context *ctx, vc_status st, const char *what)
{
    const char *msg = ctx ? vc_context_errmsg(ctx) : vc_last_error();
    if (!msg || !*msg) msg = vc_status_str(st);
    if (st == VC_STATUS_CANCELLED) {
        fprintf(stderr, "videocrafter: %s cancelled\n", what);
        return CLI_CANCELLED;
    }
    return cli_fail("%s: %s", what, msg);
}

bool cli_parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < min || v > max) return false;
    *out = v;
    return true;
}

bool cli_parse_float(const char *s, double *out)
{
    if (!s || !*s) return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno) return false;
    *out = v;
    return true;
}

int cli_common_option(cli_common *c, int opt, const char *arg)
{
    long v;
    switch (opt) {
    case OPT_CONFIG: c->config_path = arg; return 1;
    case OPT_THREADS:
        if (!cli_parse_int(arg, 0, 1024, &v)) return -1;
        c->threads = (int)v;
        return 1;
    case OPT_BACKEND: c->backend = arg; return 1;
    case OPT_WEIGHTS_DTYPE:
        if (strcmp(arg, "f32") && strcmp(arg, "f16") && strcmp(arg, "bf16")) return -1;
        c->weights_dtype = arg;
        return 1;
    case OPT_QUIET: c->verbosity = -1; return 1;
    case 'v': c->verbosity++; return 1;
    default: return 0;
    }
}

vc_status cli_open_context(const cli_common *c, vc_context **ctx)
{
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.backend = c->backend;
    cp.n_threads = c->threads;
    cp.log_level = c->verbosity < 0 ? VC_LOG_ERROR : c->verbosity == 0 ? VC_LOG_WARN
                   : c->verbosity == 1 ? VC_LOG_INFO : VC_LOG_DEBUG;
    return vc_context_create(&cp, ctx);
}

vc_status cli_open_model(const cli_common *c, vc_context **ctx, vc_model **model)
{
    *model = NULL;
    vc_status st = cli_open_context(c, ctx);
    if (st != VC_STATUS_OK) return st;
    vc_model_params mp;
    vc_model_default_params(&mp);
    mp.config_path = c->config_path;
    if (c->weights_dtype && strcmp(c->weights_dtype, "f16") == 0) mp.weights_dtype = VC_DTYPE_F16;
    if (c->weights_dtype && strcmp(c->weights_dtype, "bf16") == 0) mp.weights_dtype = VC_DTYPE_BF16;
    return vc_model_load(*ctx, c->model_path, &mp, model);
}
