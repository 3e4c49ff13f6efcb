/* registry.c - picks a backend by name. */
#include <string.h>

#include "backend.h"

vc_status vc_backend_create(vc_context *ctx, const char *name, int32_t device, int32_t n_threads,
                            vc_backend **out)
{
    *out = NULL;
    if (strcmp(name, "cpu") == 0) {
        (void)device;
        return vc_cpu_backend_create(ctx, n_threads, out);
    }
    if (strcmp(name, "cuda") == 0)
        return vc_fail(ctx, VC_STATUS_BACKEND_UNAVAILABLE,
                       "backend \"cuda\" is not available in this build (libvideocrafter-cuda.so.1 not found)");
    return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "unknown backend \"%s\" (known: cpu, cuda)", name);
}

void vc_backend_destroy(vc_backend *be)
{
    if (!be) return;
    vc_arena_destroy(be);
    be->ops->destroy(be);
}
