/* cpu_backend.c - the "cpu" backend: memory, thread pool and scratch, op table.
 * Kernels live in cpu_gemm.c, cpu_norm.c, cpu_attention.c, cpu_elementwise.c. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_internal.h"
#include "cpu_simd.h"

static void *cpu_alloc(vc_backend *be, size_t bytes)
{
    (void)be;
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? bytes : 64) != 0) return NULL;
    return p;
}

static void cpu_free(vc_backend *be, void *p)
{
    (void)be;
    free(p);
}

static void *cpu_reserve(vc_backend *be, size_t *bytes)
{
    (void)be;
    void *p = mmap(NULL, *bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void cpu_unreserve(vc_backend *be, void *p, size_t bytes)
{
    (void)be;
    munmap(p, bytes);
}

static void cpu_memcpy(vc_backend *be, void *dst, const void *src, size_t bytes)
{
    cpu_copy(be, dst, src, bytes);
}

static void cpu_destroy(vc_backend *be)
{
    if (!be) return;
    cpu_impl *im = be->impl;
    if (im) {
        cpu_pool_destroy(im->pool);
        if (im->tscratch)
            for (int32_t t = 0; t < im->n_threads; t++) free(im->tscratch[t]);
        free(im->tscratch);
        free(im->scratch);
        free(im);
    }
    free(be);
}

static const vc_backend_ops cpu_ops = {
    .name = "cpu",
    .destroy = cpu_destroy,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_memcpy,
    .download = cpu_memcpy,
    .copy = cpu_memcpy,
    .fill = cpu_fill,
    .gemm = cpu_gemm,
    .linear = cpu_linear,
    .conv2d = cpu_conv2d,
    .linear_strided = cpu_linear_strided,
    .conv_temporal = cpu_conv_temporal,
    .group_norm = cpu_group_norm,
    .layer_norm = cpu_layer_norm,
    .attention = cpu_attention,
    .silu = cpu_silu,
    .gelu = cpu_gelu,
    .geglu = cpu_geglu,
    .add = cpu_add,
    .axpby = cpu_axpby,
    .scale = cpu_scale,
    .add_channel = cpu_add_channel,
    .permute = cpu_permute,
    .upsample_nearest2x = cpu_upsample_nearest2x,
    .concat_channels = cpu_concat_channels,
    .ddim_step = cpu_ddim_step,
    .widen = cpu_widen,
    .reserve = cpu_reserve,
    .unreserve = cpu_unreserve,
};

vc_status vc_cpu_backend_create(vc_context *ctx, int32_t n_threads, vc_backend **out)
{
    *out = NULL;
    if (n_threads < 1) n_threads = 1;
    vc_backend *be = calloc(1, sizeof *be);
    cpu_impl *im = calloc(1, sizeof *im);
    if (!be || !im) {
        free(be);
        free(im);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the cpu backend");
    }
    be->ops = &cpu_ops;
    be->ctx = ctx;
    be->n_threads = n_threads;
    be->impl = im;
    im->n_threads = n_threads;
    const char *simd = getenv("VC_CPU_SIMD");
    im->simd = cpu_have_avx2() && !(simd && strcmp(simd, "0") == 0);
    im->f16c = im->simd && vc_cpu_has_f16c_avx2();
    im->scratch = cpu_alloc(be, (size_t)CPU_SCRATCH_FLOATS * sizeof(float));
    im->tscratch = calloc((size_t)n_threads, sizeof *im->tscratch);
    bool ok = im->scratch && im->tscratch;
    for (int32_t t = 0; ok && t < n_threads; t++)
        ok = (im->tscratch[t] = cpu_alloc(be, (size_t)CPU_TSCRATCH_FLOATS * sizeof(float))) != NULL;
    if (!ok) {
        cpu_destroy(be);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY,
                       "out of memory creating the cpu backend scratch (%d threads, %lld MiB)", n_threads,
                       (long long)((CPU_SCRATCH_FLOATS + n_threads * CPU_TSCRATCH_FLOATS) * 4 >> 20));
    }
    im->pool = cpu_pool_create(n_threads);
    if (!im->pool) {
        cpu_destroy(be);
        return vc_fail(ctx, VC_STATUS_BACKEND_ERROR, "cannot start %d cpu threads", n_threads);
    }
    *out = be;
    return VC_STATUS_OK;
}
