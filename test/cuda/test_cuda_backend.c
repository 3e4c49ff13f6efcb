/* test_cuda_backend.c - every op of the CUDA backend against the CPU backend on
 * random inputs of the real shapes (make check-cuda). Skips, saying so, when no
 * GPU or no libvideocrafter-cuda.so.1 is present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"

static uint64_t rng_state = 88172645463325252ull;
static float frand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
}

static float *host_rand(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

typedef struct pair {
    vc_backend *cpu, *gpu;
} pair;

static float *dev_copy(vc_backend *be, const float *h, int64_t n)
{
    float *d = be->ops->alloc(be, (size_t)n * sizeof(float));
    be->ops->upload(be, d, h, (size_t)n * sizeof(float));
    return d;
}

static int failures;

static void compare(const char *what, vc_backend *gpu, const float *dev, const float *ref, int64_t n, double tol)
{
    float *h = malloc((size_t)n * sizeof *h);
    gpu->ops->download(gpu, h, dev, (size_t)n * sizeof(float));
    vc_status st = vc_backend_sync(gpu);
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)h[i] - ref[i]);
        if (!(d <= md)) md = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    double err = mr > 0 ? md / mr : md;
    bool ok = st == VC_STATUS_OK && err <= tol;
    printf("  %-44s rel err %.3e (limit %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
    if (!ok) failures++;
    free(h);
}

static void check_linear(pair *p, int64_t rows, int in, int out)
{
    float *x = host_rand(rows * in), *w = host_rand((int64_t)out * in), *b = host_rand(out);
    float *y = malloc((size_t)(rows * out) * sizeof *y);
    p->cpu->ops->linear(p->cpu, x, rows, in, w, b, out, NULL, y);
    float *dx = dev_copy(p->gpu, x, rows * in), *dy = p->gpu->ops->alloc(p->gpu, (size_t)(rows * out) * 4);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w, b, out, NULL, dy);
    char name[96];
    snprintf(name, sizeof name, "linear %lldx%d->%d", (long long)rows, in, out);
    compare(name, p->gpu, dy, y, rows * out, 1e-5);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(w); free(b); free(y);
}

static void check_conv(pair *p, int n, int ci, int h, int w, int co, int k, int stride, int pad)
{
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    int64_t nx = (int64_t)n * ci * h * w, ny = (int64_t)n * co * oh * ow;
    float *x = host_rand(nx), *wt = host_rand((int64_t)co * ci * k * k), *b = host_rand(co), *y = malloc((size_t)ny * 4);
    vc_conv2d_args a = {x, n, ci, h, w, wt, b, co, k, k, stride, pad, pad, pad, pad, NULL, y};
    p->cpu->ops->conv2d(p->cpu, &a);
    float *dx = dev_copy(p->gpu, x, nx), *dy = p->gpu->ops->alloc(p->gpu, (size_t)ny * 4);
    a.x = dx;
    a.y = dy;
    p->gpu->ops->conv2d(p->gpu, &a);
    char name[96];
    snprintf(name, sizeof name, "conv2d %dx%dx%dx%d k%d s%d -> %d", n, ci, h, w, k, stride, co);
    compare(name, p->gpu, dy, y, ny, 1e-5);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(wt); free(b); free(y);
}

static void check_group_norm(pair *p, int n, int C, int64_t S, bool silu)
{
    int64_t nx = (int64_t)n * C * S;
    float *x = host_rand(nx), *g = host_rand(C), *b = host_rand(C), *y = malloc((size_t)nx * 4);
    p->cpu->ops->group_norm(p->cpu, x, y, n, C, S, 32, g, b, 1e-5f, silu);
    float *dx = dev_copy(p->gpu, x, nx);
    p->gpu->ops->group_norm(p->gpu, dx, dx, n, C, S, 32, g, b, 1e-5f, silu);
    char name[96];
    snprintf(name, sizeof name, "group_norm %dx%dx%lld%s", n, C, (long long)S, silu ? " +silu" : "");
    compare(name, p->gpu, dx, y, nx, 1e-5);
    p->gpu->ops->free(p->gpu, dx);
    free(x); free(g); free(b); free(y);
}

static void check_attention(pair *p, int n_seq, int heads, int lq, int lk, int d, int kv_group, int rel_max)
{
    int C = heads * d;
    int64_t nq = (int64_t)n_seq * lq * C, nk = (int64_t)(n_seq / kv_group) * lk * C;
    float *q = host_rand(nq), *k = host_rand(nk), *v = host_rand(nk), *o = malloc((size_t)nq * 4);
    float *rk = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *rv = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    vc_attn_args a = {q, k, v, o, n_seq, heads, lq, lk, d, kv_group, C, C, C, C, (int64_t)lq * C, (int64_t)lk * C,
                      (int64_t)lk * C, (int64_t)lq * C, 1.0f / sqrtf((float)d), rk, rv, rel_max, false, false};
    p->cpu->ops->attention(p->cpu, &a);
    float *dq = dev_copy(p->gpu, q, nq), *dk = dev_copy(p->gpu, k, nk), *dv = dev_copy(p->gpu, v, nk);
    float *dout = p->gpu->ops->alloc(p->gpu, (size_t)nq * 4);
    a.q = dq; a.k = dk; a.v = dv; a.o = dout;
    p->gpu->ops->attention(p->gpu, &a);
    char name[96];
    snprintf(name, sizeof name, "attention seq%d h%d %dx%d d%d g%d rel%d", n_seq, heads, lq, lk, d, kv_group, rel_max);
    compare(name, p->gpu, dout, o, nq, 1e-5);
    p->gpu->ops->free(p->gpu, dq); p->gpu->ops->free(p->gpu, dk);
    p->gpu->ops->free(p->gpu, dv); p->gpu->ops->free(p->gpu, dout);
    free(q); free(k); free(v); free(o); free(rk); free(rv);
}

int main(void)
{
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.backend = "cuda";
    cp.log_level = VC_LOG_NONE;
    vc_context *gctx = NULL;
    vc_status st = vc_context_create(&cp, &gctx);
    if (st == VC_STATUS_BACKEND_UNAVAILABLE) {
        printf("SKIP: %s\n", vc_last_error());
        return 0;
    }
    if (st != VC_STATUS_OK) {
        printf("FAIL: cuda context: %s\n", vc_last_error());
        return 1;
    }
    cp.backend = "cpu";
    vc_context *cctx = NULL;
    if (vc_context_create(&cp, &cctx) != VC_STATUS_OK) return 1;
    pair p = {cctx->backend, gctx->backend};
    check_linear(&p, 2560, 320, 320);
    check_linear(&p, 77, 1024, 1024);
    check_conv(&p, 2, 320, 40, 64, 320, 3, 1, 1);
    check_conv(&p, 2, 320, 40, 64, 320, 3, 2, 1);
    check_conv(&p, 2, 640, 20, 32, 320, 1, 1, 0);
    check_group_norm(&p, 16, 320, 2560, true);
    check_group_norm(&p, 1, 320, 16 * 2560, false);
    check_attention(&p, 2, 5, 2560, 2560, 64, 1, 0);   /* spatial self */
    check_attention(&p, 16, 5, 2560, 77, 64, 16, 0);   /* cross, context shared by 16 frames */
    check_attention(&p, 2560, 5, 16, 16, 64, 1, 16);   /* temporal with relative position */
    check_attention(&p, 64, 5, 20, 20, 64, 1, 16);     /* clamp binds (T > M) */
    check_attention(&p, 1, 1, 2560, 2560, 512, 1, 0);  /* VAE mid attention */
    check_attention(&p, 2, 16, 257, 257, 80, 1, 0);    /* CLIP vision, head width 80 */
    vc_context_free(cctx);
    vc_context_free(gctx);
    printf(failures ? "FAILED: %d check(s)\n" : "all CUDA backend checks passed\n", failures);
    return failures ? 1 : 0;
}
