/* registry.c - picks a backend by name. The CUDA backend lives in its own
 * shared object, loaded on demand, so the core runs on machines without CUDA. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

typedef vc_status (*cuda_create_fn)(vc_context *ctx, int32_t device, int32_t n_threads, vc_backend **out,
                                    char *msg, size_t cap);

#define CUDA_LIB "libvideocrafter-cuda.so.1"

/* Beside libvideocrafter.so first (an uninstalled build), then the loader's search path. */
static void *open_cuda_library(char *tried, size_t cap)
{
    Dl_info info;
    char path[4096];
    if (dladdr((void *)open_cuda_library, &info) && info.dli_fname) {
        const char *slash = strrchr(info.dli_fname, '/');
        if (slash) {
            snprintf(path, sizeof path, "%.*s/%s", (int)(slash - info.dli_fname), info.dli_fname, CUDA_LIB);
            void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (h) return h;
            snprintf(tried, cap, "%s (%s)", path, dlerror());
        }
    }
    void *h = dlopen(CUDA_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        size_t n = strlen(tried);
        snprintf(tried + n, cap - n, "%s%s (%s)", n ? "; " : "", CUDA_LIB, dlerror());
    }
    return h;
}

static vc_status create_cuda(vc_context *ctx, int32_t device, int32_t n_threads, vc_backend **out)
{
    char tried[2048] = "";
    void *h = open_cuda_library(tried, sizeof tried);
    if (!h)
        return vc_fail(ctx, VC_STATUS_BACKEND_UNAVAILABLE,
                       "backend \"cuda\" is not available: cannot load %s (tried %s); build it with make CUDA=1",
                       CUDA_LIB, tried);
    cuda_create_fn create = (cuda_create_fn)dlsym(h, VC_CUDA_ENTRY_NAME);
    if (!create) {
        dlclose(h);
        return vc_fail(ctx, VC_STATUS_BACKEND_UNAVAILABLE,
                       "%s has no %s: it is from another build of libvideocrafter (rebuild both)", CUDA_LIB,
                       VC_CUDA_ENTRY_NAME);
    }
    char msg[512] = "";
    vc_status st = create(ctx, device, n_threads, out, msg, sizeof msg);
    if (st != VC_STATUS_OK) {
        dlclose(h);
        return vc_fail(ctx, st, "backend \"cuda\": %s", msg);
    }
    /* the library stays loaded for the life of the process: its code backs *out */
    return VC_STATUS_OK;
}

vc_status vc_backend_create(vc_context *ctx, const char *name, int32_t device, int32_t n_threads,
                            vc_backend **out)
{
    *out = NULL;
    if (strcmp(name, "cpu") == 0) return vc_cpu_backend_create(ctx, n_threads, out);
    if (strcmp(name, "cuda") == 0) return create_cuda(ctx, device, n_threads, out);
    if (strcmp(name, "cpu-checked") == 0) return vc_checked_backend_create(ctx, n_threads, out);
    return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "unknown backend \"%s\" (known: cpu, cuda, cpu-checked)",
                   name);
}

void vc_backend_destroy(vc_backend *be)
{
    if (!be) return;
    vc_arena_destroy(be);
    be->ops->destroy(be);
}

vc_status vc_backend_sync(vc_backend *be)
{
    if (!be || !be->ops->sync) return VC_STATUS_OK;
    char msg[512] = "";
    vc_status st = be->ops->sync(be, msg, sizeof msg);
    return st == VC_STATUS_OK ? st : vc_fail(be->ctx, st, "%s", msg);
}

void vc_backend_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n)
{
    if (be->ops->widen) {
        be->ops->widen(be, dst, src, dtype, n);
        return;
    }
    enum { SMALL = 4096, BIG = 1 << 22 };
    float small[SMALL];
    float *tmp = n > SMALL ? malloc((size_t)BIG * sizeof(float)) : NULL;
    const int64_t step = tmp ? BIG : SMALL;
    float *t = tmp ? tmp : small;
    for (int64_t i = 0; i < n; i += step) {
        const int64_t k = n - i < step ? n - i : step;
        vc_half_to_f32(src + i, dtype, t, k);
        be->ops->upload(be, dst + i, t, (size_t)k * sizeof(float));
    }
    free(tmp);
}

const float *vc_arena_widen(vc_backend *be, const uint16_t *src, vc_dtype dtype, int64_t n)
{
    float *d = vc_arena_floats(be, n);
    if (d) vc_backend_widen(be, d, src, dtype, n);
    return d;
}
