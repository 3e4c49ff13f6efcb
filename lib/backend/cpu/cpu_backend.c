/* cpu_backend.c - PLACEHOLDER: memory only; the kernels land with issue #3's backend work. */
#include <stdlib.h>
#include <string.h>

#include "../backend.h"

static void cpu_destroy(vc_backend *be) { free(be); }
static void *cpu_alloc(vc_backend *be, size_t bytes)
{
    (void)be;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}
static void cpu_free(vc_backend *be, void *p) { (void)be; free(p); }

static const vc_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
};

vc_status vc_cpu_backend_create(vc_context *ctx, int32_t n_threads, vc_backend **out)
{
    vc_backend *be = calloc(1, sizeof *be);
    if (!be) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the cpu backend");
    be->ops = &cpu_ops;
    be->ctx = ctx;
    be->n_threads = n_threads;
    *out = be;
    return VC_STATUS_OK;
}
