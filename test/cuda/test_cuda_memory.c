/* test_cuda_memory.c - the CUDA backend when device memory runs out. Runs in
 * make check-cuda-emu under the emulation with a small device
 * (VCEMU_DEVICE_MB); elsewhere it skips. In both precision modes:
 *  - more weights than fit, used one after another (a context that loads one
 *    model after another): older copies make room, every result matches the
 *    CPU backend;
 *  - the same weights used in the same order again and again (the sampling
 *    loop of a model larger than the GPU): part of them stays resident, so a
 *    pass uploads less than all of them (least-recently-used would upload
 *    every one, every pass); then the same with other weights (another
 *    model), whose copies must replace the first set's;
 *  - a weight larger than the device fails with a message naming device
 *    memory, and the context works afterwards;
 *  - a working-memory allocation that fits only without the cached weights
 *    gets their room. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "../rel_err.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static float *host_rand(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    if (!p) abort();
    for (int64_t i = 0; i < n; i++) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        p[i] = (float)((rng_state >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
    }
    return p;
}

static int failures;

static void expect(bool ok, const char *what, const char *detail)
{
    printf("  %-56s %s%s%s\n", what, ok ? "ok" : "FAIL", detail && *detail ? ": " : "", detail ? detail : "");
    if (!ok) failures++;
}

enum { ROWS = 8, IN = 3072, OUT = 1024, N_WEIGHTS = 16 }; /* 12 MiB per float32 weight */

/* gpu linear of weight w against the CPU's; false with the backend's message on failure */
static bool linear_matches(vc_backend *cpu, vc_backend *gpu, const float *x, const float *dx, const float *w,
                           const float *b, float *dy, double tol, char *msg, size_t cap)
{
    float *ref = malloc(sizeof(float) * ROWS * OUT), *got = malloc(sizeof(float) * ROWS * OUT);
    cpu->ops->linear(cpu, x, ROWS, IN, w, b, OUT, NULL, ref);
    gpu->ops->linear(gpu, dx, ROWS, IN, w, b, OUT, NULL, dy);
    gpu->ops->download(gpu, got, dy, sizeof(float) * ROWS * OUT);
    msg[0] = 0;
    vc_status st = gpu->ops->sync(gpu, msg, cap);
    vct_err e = {0, 0};
    for (int i = 0; i < ROWS * OUT; i++) vct_err_add(&e, got[i], ref[i]);
    const double err = vct_err_value(&e);
    if (st == VC_STATUS_OK && err > tol) snprintf(msg, cap, "rel err %.3e (limit %.0e)", err, tol);
    free(ref);
    free(got);
    return st == VC_STATUS_OK && err <= tol;
}

/* host-to-device bytes so far, from the emulation (0 if it is not there) */
static unsigned long long uploaded_bytes(void)
{
    static unsigned long long (*fn)(void);
    if (!fn) {
        void *h = dlopen("libvideocrafter-cuda.so.1", RTLD_NOW | RTLD_NOLOAD);
        if (h) *(void **)&fn = dlsym(h, "vcemu_uploaded_bytes");
        if (!fn) return 0;
    }
    return fn();
}

/* Three passes over the weights in order; the last one's uploads are counted.
 * A pass of an evict-least-recently-used cache uploads all 16; one keeping 4
 * resident passes (a device of 96 MiB holds 4-5 float32 or 7-8 half copies of
 * 12 MiB beside the cuBLASLt workspace and an upload's staging). */
static void cyclic_passes(vc_backend *cpu, vc_backend *gpu, const float *x, const float *dx, float *const *w,
                          const float *b, float *dy, double tol, const char *label)
{
    char msg[300] = "", what[340];
    const unsigned long long weight_bytes = sizeof(float) * (unsigned long long)OUT * IN;
    unsigned long long before = 0;
    bool ok = true;
    for (int pass = 0; pass < 3 && ok; pass++) {
        if (pass == 2) before = uploaded_bytes();
        for (int i = 0; i < N_WEIGHTS && ok; i++) ok = linear_matches(cpu, gpu, x, dx, w[i], b, dy, tol, msg, sizeof msg);
    }
    snprintf(what, sizeof what, "3 passes over %s in order", label);
    expect(ok, what, msg);
    const unsigned long long up = uploaded_bytes() - before, uploads = up / weight_bytes;
    const unsigned long long resident = N_WEIGHTS > uploads ? N_WEIGHTS - uploads : 0;
    snprintf(what, sizeof what, "%llu of 16 weights uploaded in the last pass (%llu MiB), %llu resident", uploads,
             up >> 20, resident);
    expect(ok && up > 0 && resident >= 4, "4 or more of them stay resident from pass to pass", what);
}

static void run_mode(vc_backend *cpu, vc_backend *gpu, double tol)
{
    char msg[300];
    float *x = host_rand(ROWS * IN), *b = host_rand(OUT);
    float *dx = gpu->ops->alloc(gpu, sizeof(float) * ROWS * IN), *dy = gpu->ops->alloc(gpu, sizeof(float) * ROWS * OUT);
    gpu->ops->upload(gpu, dx, x, sizeof(float) * ROWS * IN);
    float *w[N_WEIGHTS];
    bool all = true;
    for (int i = 0; i < N_WEIGHTS; i++) {
        w[i] = host_rand((int64_t)OUT * IN); /* all kept: every one at its own address */
        if (all && !linear_matches(cpu, gpu, x, dx, w[i], b, dy, tol, msg, sizeof msg)) {
            char what[340];
            snprintf(what, sizeof what, "weight %d: %s", i, msg);
            expect(false, "16 weights of 12 MiB one after another", what);
            all = false;
        }
    }
    if (all) expect(true, "16 weights of 12 MiB one after another", NULL);
    cyclic_passes(cpu, gpu, x, dx, w, b, dy, tol, "the 16 weights");
    /* another model's sampling loop: the first one's copies, no longer used, must give way */
    float *v[N_WEIGHTS];
    for (int i = 0; i < N_WEIGHTS; i++) v[i] = host_rand((int64_t)OUT * IN);
    cyclic_passes(cpu, gpu, x, dx, v, b, dy, tol, "16 other weights (another model)");
    for (int i = 0; i < N_WEIGHTS; i++) free(v[i]);

    /* larger than the device */
    const int64_t big_out = 12 * OUT;
    float *big = host_rand(big_out * IN), *dbig = gpu->ops->alloc(gpu, sizeof(float) * ROWS * big_out);
    gpu->ops->linear(gpu, dx, ROWS, IN, big, NULL, (int32_t)big_out, NULL, dbig);
    msg[0] = 0;
    vc_status st = gpu->ops->sync(gpu, msg, sizeof msg);
    if (st == VC_STATUS_OK) snprintf(msg, sizeof msg, "it did not fail");
    expect(st == VC_STATUS_BACKEND_ERROR && strstr(msg, "device memory"), "a 144 MiB weight fails, naming device memory",
           msg);
    gpu->ops->free(gpu, dbig);
    free(big);
    expect(linear_matches(cpu, gpu, x, dx, w[1], b, dy, tol, msg, sizeof msg), "the context works afterwards", msg);

    /* working memory that fits only once the cached weights are gone */
    void *work = gpu->ops->alloc(gpu, (size_t)56 << 20);
    expect(work != NULL, "56 MiB of working memory beside a full cache", NULL);
    gpu->ops->free(gpu, work);
    expect(linear_matches(cpu, gpu, x, dx, w[2], b, dy, tol, msg, sizeof msg), "a weight after that", msg);

    gpu->ops->free(gpu, dx);
    gpu->ops->free(gpu, dy);
    for (int i = 0; i < N_WEIGHTS; i++) free(w[i]);
    free(x);
    free(b);
}

int main(void)
{
    const char *mb = getenv("VCEMU_DEVICE_MB");
    if (!mb) {
        printf("SKIP: needs the CUDA emulation with a small device (VCEMU_DEVICE_MB, see test/cuda/emu)\n");
        return 0;
    }
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.log_level = VC_LOG_NONE;
    cp.backend = "cpu";
    vc_context *cctx = NULL;
    if (vc_context_create(&cp, &cctx) != VC_STATUS_OK) return 1;
    for (int mode = 0; mode < 2; mode++) {
        setenv("VIDEOCRAFTER_CUDA_PRECISION", mode ? "fp16" : "fp32", 1);
        cp.backend = "cuda";
        vc_context *gctx = NULL;
        vc_status st = vc_context_create(&cp, &gctx);
        if (st == VC_STATUS_BACKEND_UNAVAILABLE) {
            printf("SKIP: %s\n", vc_last_error());
            vc_context_free(cctx);
            return 0;
        }
        if (st != VC_STATUS_OK) {
            printf("FAIL: cuda context: %s\n", vc_last_error());
            return 1;
        }
        printf("%s mode, a device of %s MiB:\n", mode ? "fp16" : "float32", mb);
        run_mode(cctx->backend, gctx->backend, mode ? 1e-2 : 1e-5);
        vc_context_free(gctx);
    }
    vc_context_free(cctx);
    printf(failures ? "FAILED: %d check(s)\n" : "all device-memory checks passed\n", failures);
    return failures ? 1 : 0;
}
