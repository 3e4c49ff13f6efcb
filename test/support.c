/* support.c - helpers shared by the cmocka test programs. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.h"
#include "rel_err.h"

const char *vct_data_dir(void)
{
    const char *d = getenv("VC_TEST_DATA");
    return d && *d ? d : VC_SOURCE_DIR "/../shared/reference";
}

const char *vct_path(const char *fmt, ...)
{
    static char bufs[8][4096];
    static int next;
    char *b = bufs[next++ & 7];
    int n = snprintf(b, 4096, "%s/", vct_data_dir());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b + n, 4096 - (size_t)n, fmt, ap);
    va_end(ap);
    return b;
}

void vct_load(vc_tensor *t, const char *fmt, ...)
{
    char rel[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    const char *p = vct_path("%s", rel);
    vc_status st = vc_tensor_load_npy(p, t);
    if (st != VC_STATUS_OK) fail_msg("cannot load reference %s: %s", p, vc_last_error());
}

static double as_double(const vc_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case VC_DTYPE_F32: return ((const float *)t->data)[i];
    case VC_DTYPE_F64: return ((const double *)t->data)[i];
    case VC_DTYPE_I64: return (double)((const int64_t *)t->data)[i];
    case VC_DTYPE_I32: return ((const int32_t *)t->data)[i];
    case VC_DTYPE_U8: return ((const uint8_t *)t->data)[i];
    default: fail_msg("unsupported dtype %d in comparison", (int)t->dtype);
    }
    return 0;
}

double vct_rel_err(const vc_tensor *out, const vc_tensor *ref)
{
    assert_non_null(out->data);
    assert_non_null(ref->data);
    if (out->ndim != ref->ndim) fail_msg("rank %d != reference rank %d", out->ndim, ref->ndim);
    for (int i = 0; i < ref->ndim; i++)
        if (out->shape[i] != ref->shape[i])
            fail_msg("dim %d: %lld != reference %lld", i, (long long)out->shape[i], (long long)ref->shape[i]);
    int64_t n = vc_tensor_numel(ref);
    vct_err e = {0, 0};
    for (int64_t i = 0; i < n; i++) vct_err_add(&e, as_double(out, i), as_double(ref, i));
    return vct_err_value(&e);
}

double vct_tol(double fp32, double fp16)
{
    const char *prec = getenv("VIDEOCRAFTER_CUDA_PRECISION");
    const char *be = getenv("VC_TEST_BACKEND");
    return prec && be && !strcmp(prec, "fp16") && !strcmp(be, "cuda") ? fp16 : fp32;
}

void vct_assert_close(const vc_tensor *out, const vc_tensor *ref, double tol, const char *what)
{
    double err = vct_rel_err(out, ref);
    print_message("  %-40s rel err %.3e (limit %.0e)\n", what, err, tol);
    if (!(err <= tol)) fail_msg("%s: relative error %.3e exceeds %.0e", what, err, tol);
}

static void quiet_log(vc_log_level level, const char *msg, void *user)
{
    (void)user;
    if (level >= VC_LOG_WARN) fprintf(stderr, "[lib] %s\n", msg);
}

vc_context *vct_context(void)
{
    vc_context_params p;
    vc_context_default_params(&p);
    p.log_callback = quiet_log;
    const char *th = getenv("VC_TEST_THREADS");
    p.n_threads = th ? atoi(th) : 2;
    p.backend = getenv("VC_TEST_BACKEND"); /* NULL: cpu; cpu-checked for make check-isolated */
    vc_context *ctx = NULL;
    vc_status st = vc_context_create(&p, &ctx);
    if (st != VC_STATUS_OK) fail_msg("vc_context_create: %s", vc_last_error());
    return ctx;
}

const char *vct_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/vctest.%ld", base && *base ? base : "/tmp", (long)getpid());
        mkdir(dir, 0700);
    }
    return dir;
}

uint8_t *vct_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    if (fseek(f, 0, SEEK_END) != 0) fail_msg("cannot seek in %s", path);
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) fail_msg("cannot size %s", path);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) fail_msg("short read of %s", path);
    fclose(f);
    b[n] = 0;
    if (len) *len = (size_t)n;
    return b;
}

size_t vct_each_fuzz_file(const char *target, bool with_corpus, vct_fuzz_file_fn fn, void *user)
{
    static const char *const kinds[] = {"regress", "corpus"};
    size_t seen = 0;
    for (int k = 0; k < (with_corpus ? 2 : 1); k++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/test/fuzz/%s/%s", VC_SOURCE_DIR, kinds[k], target);
        DIR *dh = opendir(dir);
        if (!dh) continue;
        struct dirent *e;
        while ((e = readdir(dh))) {
            if (e->d_name[0] == '.') continue;
            char path[8192];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            size_t len;
            uint8_t *data = vct_read_file(path, &len);
            fn(path, e->d_name, data, len, user);
            free(data);
            seen++;
        }
        closedir(dh);
    }
    return seen;
}
