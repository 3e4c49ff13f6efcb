/* test_cuda_backend.c - every op of the CUDA backend against the CPU backend on
 * random inputs of the real shapes (make check-cuda). Skips, saying so, when no
 * GPU or no libvideocrafter-cuda.so.1 is present. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/backend.h"
#include "../rel_err.h"
#include "../linear_layouts.h"

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
static bool g_small; /* --small: reduced shapes with the same edge cases (the CPU emulation) */
static double g_tol = 1e-5; /* float32 mode; the fp16 mode's pass uses 1e-2 */

static void compare(const char *what, vc_backend *gpu, const float *dev, const float *ref, int64_t n, double tol)
{
    float *h = malloc((size_t)n * sizeof *h);
    gpu->ops->download(gpu, h, dev, (size_t)n * sizeof(float));
    vc_status st = vc_backend_sync(gpu);
    if (tol == 0) { /* exact: bit patterns (NaN payloads of widened halves included) */
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) bad += memcmp(&h[i], &ref[i], sizeof *h) != 0;
        bool ok = st == VC_STATUS_OK && bad == 0;
        printf("  %-44s %lld of %lld floats differ (bitwise) %s\n", what, (long long)bad, (long long)n,
               ok ? "ok" : "FAIL");
        if (st != VC_STATUS_OK) printf("    the backend failed: %s\n", vc_last_error());
        if (!ok) failures++;
        free(h);
        return;
    }
    vct_err e = {0, 0};
    for (int64_t i = 0; i < n; i++) vct_err_add(&e, h[i], ref[i]);
    double err = vct_err_value(&e);
    bool ok = st == VC_STATUS_OK && err <= tol;
    printf("  %-44s rel err %.3e (limit %.0e) %s\n", what, err, tol, ok ? "ok" : "FAIL");
    if (st != VC_STATUS_OK) printf("    the backend failed: %s\n", vc_last_error());
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
    compare(name, p->gpu, dy, y, rows * out, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(w); free(b); free(y);
}

/* group norm + optional SiLU of x [n, frames, C, S], 32 groups */
static void gn(vc_backend *be, const float *x, float *y, int n, int frames, int C, int64_t S, const float *gam,
               const float *bet, float eps, bool silu, const float *in_bias, int bias_group)
{
    const vc_group_norm_args a = {
        .x = x, .y = y, .n = n, .frames = frames, .C = C, .G = 32, .S = S, .gamma = gam, .beta = bet, .eps = eps,
        .silu = silu, .in_bias = in_bias, .bias_group = bias_group,
    };
    be->ops->group_norm(be, &a);
}

/* a transformer's entry or exit (kind: test/linear_layouts.h); norm_first: the
 * input is a group norm's output, as at the entries (fp16 mode: its half copy) */
static void check_linear_strided(pair *p, int kind, int batch, int64_t rows, int in, int out, bool residual,
                                 bool norm_first)
{
    vc_linear_args a = strided_layout(kind, batch, rows, in, out);
    const int64_t nx = (int64_t)batch * rows * in, ny = (int64_t)batch * rows * out;
    float *x = host_rand(nx), *w = host_rand((int64_t)out * in), *b = host_rand(out), *y = host_rand(ny);
    float *gam = host_rand(in), *bet = host_rand(in), *xn = malloc((size_t)nx * 4);
    float *dx = dev_copy(p->gpu, x, nx), *dy = dev_copy(p->gpu, y, ny);
    const float *src = x, *dsrc = dx;
    if (norm_first) { /* channel-major frames [batch][in][rows] */
        gn(p->cpu, x, xn, batch, 1, in, rows, gam, bet, 1e-6f, false, NULL, 0);
        gn(p->gpu, dx, dx, batch, 1, in, rows, gam, bet, 1e-6f, false, NULL, 0);
        src = xn;
    }
    a.w = w, a.bias = b;
    a.x = src, a.residual = residual ? y : NULL, a.y = y;
    p->cpu->ops->linear_strided(p->cpu, &a);
    a.x = dsrc, a.residual = residual ? dy : NULL, a.y = dy;
    p->gpu->ops->linear_strided(p->gpu, &a);
    char name[112];
    snprintf(name, sizeof name, "%slinear_strided layout %d %dx%lldx%d->%d%s", norm_first ? "group_norm, " : "", kind,
             batch, (long long)rows, in, out, residual ? " +res(=y)" : "");
    compare(name, p->gpu, dy, y, ny, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(w); free(b); free(y); free(gam); free(bet); free(xn);
}

/* fp16 mode converts an input to half once for consecutive linear layers:
 * a second layer on the same input reuses it, and an op writing the input in
 * between must not see the stale halves */
static void check_linear_reuse(pair *p, int64_t rows, int in, int out)
{
    float *x = host_rand(rows * in), *w1 = host_rand((int64_t)out * in), *w2 = host_rand((int64_t)out * in);
    float *y1 = malloc((size_t)(rows * out) * 4), *y2 = malloc((size_t)(rows * out) * 4);
    float *dx = dev_copy(p->gpu, x, rows * in);
    float *dy1 = p->gpu->ops->alloc(p->gpu, (size_t)(rows * out) * 4), *dy2 = p->gpu->ops->alloc(p->gpu, (size_t)(rows * out) * 4);
    p->cpu->ops->linear(p->cpu, x, rows, in, w1, NULL, out, NULL, y1);
    p->cpu->ops->linear(p->cpu, x, rows, in, w2, NULL, out, NULL, y2);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w1, NULL, out, NULL, dy1);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w2, NULL, out, NULL, dy2);
    compare("linear, second layer on the same input", p->gpu, dy2, y2, rows * out, g_tol);
    compare("linear, first layer", p->gpu, dy1, y1, rows * out, g_tol);
    p->cpu->ops->scale(p->cpu, x, -3.0f, x, rows * in);
    p->gpu->ops->scale(p->gpu, dx, -3.0f, dx, rows * in);
    p->cpu->ops->linear(p->cpu, x, rows, in, w2, NULL, out, NULL, y2);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w1, NULL, out, NULL, dy1);
    p->gpu->ops->scale(p->gpu, dx, 1.0f, dx, rows * in);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w2, NULL, out, NULL, dy2);
    compare("linear after its input was rewritten", p->gpu, dy2, y2, rows * out, g_tol);
    p->gpu->ops->free(p->gpu, dx); p->gpu->ops->free(p->gpu, dy1); p->gpu->ops->free(p->gpu, dy2);
    free(x); free(w1); free(w2); free(y1); free(y2);
}

/* fp16 mode: a norm leaves its output as half too, for the convolution or the
 * linear layers that read it (or a part of it) next; an op that rewrites it in
 * between must make them convert it afresh */
static void check_norm_consumers(pair *p, int n, int C, int h, int w)
{
    const int64_t S = (int64_t)h * w, nx = n * C * S, rows = n * S;
    float *x = host_rand(nx), *g = malloc((size_t)nx * 4), *gam = host_rand(C), *bet = host_rand(C);
    float *wc = host_rand((int64_t)C * C * 9), *bc = host_rand(C), *wl = host_rand((int64_t)C * C);
    float *y = malloc((size_t)nx * 4), *yl = malloc((size_t)nx * 4);
    float *dx = dev_copy(p->gpu, x, nx), *dg = p->gpu->ops->alloc(p->gpu, (size_t)nx * 4);
    float *dy = p->gpu->ops->alloc(p->gpu, (size_t)nx * 4), *dyl = p->gpu->ops->alloc(p->gpu, (size_t)nx * 4);
    for (int rewrite = 0; rewrite < 2; rewrite++) {
        vc_conv2d_args a = {g, n, C, h, w, wc, bc, C, 3, 3, 1, 1, 1, 1, 1, NULL, y};
        gn(p->cpu, x, g, n, 1, C, S, gam, bet, 1e-5f, true, NULL, 0);
        gn(p->gpu, dx, dg, n, 1, C, S, gam, bet, 1e-5f, true, NULL, 0);
        if (rewrite) {
            p->cpu->ops->scale(p->cpu, g, -2.0f, g, nx);
            p->gpu->ops->scale(p->gpu, dg, -2.0f, dg, nx);
        }
        p->cpu->ops->conv2d(p->cpu, &a);
        a.x = dg;
        a.y = dy;
        p->gpu->ops->conv2d(p->gpu, &a);
        compare(rewrite ? "group_norm, rewritten, conv2d" : "group_norm then conv2d on it", p->gpu, dy, y, nx, g_tol);
    }
    /* layer norm over [rows, C], then two linear layers: all rows, and the second half of them */
    p->cpu->ops->layer_norm(p->cpu, x, g, rows, C, gam, bet, 1e-5f);
    p->gpu->ops->layer_norm(p->gpu, dx, dg, rows, C, gam, bet, 1e-5f);
    p->cpu->ops->linear(p->cpu, g, rows, C, wl, NULL, C, NULL, y);
    p->cpu->ops->linear(p->cpu, g + rows / 2 * C, rows - rows / 2, C, wc, NULL, C, NULL, yl);
    p->gpu->ops->linear(p->gpu, dg, rows, C, wl, NULL, C, NULL, dy);
    p->gpu->ops->linear(p->gpu, dg + rows / 2 * C, rows - rows / 2, C, wc, NULL, C, NULL, dyl);
    compare("layer_norm then linear on it", p->gpu, dy, y, rows * C, g_tol);
    compare("layer_norm then linear on its second half", p->gpu, dyl, yl, (rows - rows / 2) * C, g_tol);
    p->gpu->ops->free(p->gpu, dx); p->gpu->ops->free(p->gpu, dg);
    p->gpu->ops->free(p->gpu, dy); p->gpu->ops->free(p->gpu, dyl);
    free(x); free(g); free(gam); free(bet); free(wc); free(bc); free(wl); free(y); free(yl);
}

/* the fused GEGLU feed-forward against the CPU backend's linear, geglu, linear */
static void check_feed_forward(pair *p, int64_t rows, int in, int inner, bool residual)
{
    if (!p->gpu->ops->feed_forward) return;
    const int out = in;
    float *x = host_rand(rows * in), *w1 = host_rand((int64_t)2 * inner * in), *b1 = host_rand(2 * inner);
    float *w2 = host_rand((int64_t)out * inner), *b2 = host_rand(out), *y = host_rand(rows * out);
    float *hid = malloc((size_t)(rows * 2 * inner) * 4), *gg = malloc((size_t)(rows * inner) * 4);
    float *dx = dev_copy(p->gpu, x, rows * in), *dy = dev_copy(p->gpu, y, rows * out);
    for (int64_t i = 0; i < (int64_t)2 * inner * in; i++) w1[i] *= 0.125f; /* keep gelu's input moderate */
    p->cpu->ops->linear(p->cpu, x, rows, in, w1, b1, 2 * inner, NULL, hid);
    p->cpu->ops->geglu(p->cpu, hid, gg, rows, inner);
    p->cpu->ops->linear(p->cpu, gg, rows, inner, w2, b2, out, residual ? y : NULL, y);
    p->gpu->ops->feed_forward(p->gpu, dx, rows, in, w1, b1, inner, w2, b2, out, residual ? dy : NULL, dy);
    char name[96];
    snprintf(name, sizeof name, "feed_forward %lldx%d (inner %d)%s", (long long)rows, in, inner,
             residual ? " +res(=y)" : "");
    compare(name, p->gpu, dy, y, rows * out, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(w1); free(b1); free(w2); free(b2); free(y); free(hid); free(gg);
}

/* A transformer block's layer norm into a transient buffer (fp16 mode: only
 * its halves are written), read by a linear layer (as the q projection does)
 * and by the feed-forward (with the residual, as the UNet runs it). */
static void check_norm_transient(pair *p, int64_t rows, int C, int inner)
{
    if (!p->gpu->ops->feed_forward || !p->gpu->ops->transient) return;
    const int64_t n = rows * C;
    float *x = host_rand(n), *gam = host_rand(C), *bet = host_rand(C), *wq = host_rand((int64_t)C * C);
    float *w1 = host_rand((int64_t)2 * inner * C), *b1 = host_rand(2 * inner), *w2 = host_rand((int64_t)C * inner);
    float *b2 = host_rand(C), *y = host_rand(n), *nrm = malloc((size_t)n * 4), *q = malloc((size_t)n * 4);
    float *hid = malloc((size_t)(rows * 2 * inner) * 4), *gg = malloc((size_t)(rows * inner) * 4);
    for (int64_t i = 0; i < (int64_t)2 * inner * C; i++) w1[i] *= 0.125f; /* keep gelu's input moderate */
    vc_backend *g = p->gpu;
    float *dx = dev_copy(g, x, n), *dy = dev_copy(g, y, n), *dn = g->ops->alloc(g, (size_t)n * 4);
    float *dq = g->ops->alloc(g, (size_t)n * 4);
    p->cpu->ops->layer_norm(p->cpu, x, nrm, rows, C, gam, bet, 1e-5f);
    p->cpu->ops->linear(p->cpu, nrm, rows, C, wq, NULL, C, NULL, q);
    p->cpu->ops->linear(p->cpu, nrm, rows, C, w1, b1, 2 * inner, NULL, hid);
    p->cpu->ops->geglu(p->cpu, hid, gg, rows, inner);
    p->cpu->ops->linear(p->cpu, gg, rows, inner, w2, b2, C, y, y);
    g->ops->transient(g, dn, n);
    g->ops->layer_norm(g, dx, dn, rows, C, gam, bet, 1e-5f);
    g->ops->linear(g, dn, rows, C, wq, NULL, C, NULL, dq);
    g->ops->feed_forward(g, dn, rows, C, w1, b1, inner, w2, b2, C, dy, dy);
    g->ops->transient(g, NULL, 0);
    char name[96];
    snprintf(name, sizeof name, "layer_norm (transient), linear on it %lldx%d", (long long)rows, C);
    compare(name, g, dq, q, n, g_tol);
    snprintf(name, sizeof name, "layer_norm (transient), feed_forward on it %lldx%d", (long long)rows, C);
    compare(name, g, dy, y, n, g_tol);
    g->ops->free(g, dx); g->ops->free(g, dy); g->ops->free(g, dn); g->ops->free(g, dq);
    free(x); free(gam); free(bet); free(wq); free(w1); free(b1); free(w2); free(b2); free(y); free(nrm); free(q);
    free(hid); free(gg);
}

/* pad < 0: the VAE encoder's asymmetric (0, 1, 0, 1) padding (spec §4.1);
 * residual: y starts from random values and is its own residual */
static void check_conv(pair *p, int n, int ci, int h, int w, int co, int k, int stride, int pad, bool residual)
{
    const int pt = pad < 0 ? 0 : pad, pb = pad < 0 ? 1 : pad;
    int oh = (h + pt + pb - k) / stride + 1, ow = (w + pt + pb - k) / stride + 1;
    int64_t nx = (int64_t)n * ci * h * w, ny = (int64_t)n * co * oh * ow;
    float *x = host_rand(nx), *wt = host_rand((int64_t)co * ci * k * k), *b = host_rand(co), *y = host_rand(ny);
    float *dx = dev_copy(p->gpu, x, nx), *dy = dev_copy(p->gpu, y, ny);
    vc_conv2d_args a = {x, n, ci, h, w, wt, b, co, k, k, stride, pt, pt, pb, pb, residual ? y : NULL, y};
    p->cpu->ops->conv2d(p->cpu, &a);
    a.x = dx;
    a.y = dy;
    a.residual = residual ? dy : NULL;
    p->gpu->ops->conv2d(p->gpu, &a);
    char name[96];
    snprintf(name, sizeof name, "conv2d %dx%dx%dx%d k%d s%d p%s -> %d%s", n, ci, h, w, k, stride,
             pad < 0 ? "0101" : pad ? "1" : "0", co, residual ? " +res(=y)" : "");
    compare(name, p->gpu, dy, y, ny, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(wt); free(b); free(y);
}

/* x, y folded [B,T,ci,S] and [B,T,co,S] */
/* weight_on_device: the weight in device memory, as a half-resident model's
 * per-layer widened weights are (not cached: reordered at each use) */
static void check_conv_temporal(pair *p, int B, int ci, int T, int64_t S, int co, bool residual, bool weight_on_device)
{
    int64_t nx = (int64_t)B * ci * T * S, ny = (int64_t)B * co * T * S, nw = (int64_t)co * ci * 3;
    float *x = host_rand(nx), *w = host_rand(nw), *b = host_rand(co), *y = host_rand(ny);
    float *dx = dev_copy(p->gpu, x, nx), *dy = dev_copy(p->gpu, y, ny);
    float *dw = weight_on_device ? dev_copy(p->gpu, w, nw) : NULL;
    p->cpu->ops->conv_temporal(p->cpu, x, B, ci, T, S, w, b, co, 3, residual ? y : NULL, y);
    p->gpu->ops->conv_temporal(p->gpu, dx, B, ci, T, S, dw ? dw : w, b, co, 3, residual ? dy : NULL, dy);
    char name[96];
    snprintf(name, sizeof name, "conv_temporal %dx%dx%dx%lld -> %d%s%s", B, T, ci, (long long)S, co,
             residual ? " +res(=y)" : "", dw ? " (device weight)" : "");
    compare(name, p->gpu, dy, y, ny, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    p->gpu->ops->free(p->gpu, dw);
    free(x); free(w); free(b); free(y);
}

/* The UNet's temporal convolution layer (§5.4): group norm + SiLU jointly over
 * a folded video's frames (adding the previous convolution's bias), then the convolution on its output (in fp16 mode
 * its half copy) with the block input as the residual, into a third buffer. */
static void check_temporal_layer(pair *p, int B, int C, int T, int64_t S)
{
    const int64_t n = (int64_t)B * T * C * S;
    float *x = host_rand(n), *gam = host_rand(C), *bet = host_rand(C), *w = host_rand((int64_t)C * C * 3);
    float *b = host_rand(C), *g = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    float *dx = dev_copy(p->gpu, x, n), *dg = p->gpu->ops->alloc(p->gpu, (size_t)n * 4);
    float *dy = p->gpu->ops->alloc(p->gpu, (size_t)n * 4);
    gn(p->cpu, x, g, B, T, C, S, gam, bet, 1e-5f, true, b, B);
    p->cpu->ops->conv_temporal(p->cpu, g, B, C, T, S, w, b, C, 3, x, y);
    gn(p->gpu, dx, dg, B, T, C, S, gam, bet, 1e-5f, true, b, B);
    p->gpu->ops->conv_temporal(p->gpu, dg, B, C, T, S, w, b, C, 3, dx, dy);
    char name[96];
    snprintf(name, sizeof name, "group_norm over %d frames, conv_temporal on it, %dx%dx%lld", T, B, C, (long long)S);
    compare(name, p->gpu, dy, y, n, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dg);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(gam); free(bet); free(w); free(b); free(g); free(y);
}

/* A group norm into a transient buffer (fp16 mode: only its halves written),
 * then the consumers the UNet gives it: a 3x3 convolution (frames 1), the
 * temporal convolution (frames T), a transformer's proj_in (frames 1). */
static void check_norm_transient_conv(pair *p, int B, int T, int C, int h, int w)
{
    if (!p->gpu->ops->transient) return;
    const int64_t S = (int64_t)h * w, n = (int64_t)B * T * C * S;
    float *x = host_rand(n), *gam = host_rand(C), *bet = host_rand(C), *g = malloc((size_t)n * 4);
    float *wc = host_rand((int64_t)C * C * 9), *wt = host_rand((int64_t)C * C * 3), *wl = host_rand((int64_t)C * C);
    float *b = host_rand(C), *y = malloc((size_t)n * 4);
    vc_backend *gp = p->gpu;
    float *dx = dev_copy(gp, x, n), *dg = gp->ops->alloc(gp, (size_t)n * 4), *dy = gp->ops->alloc(gp, (size_t)n * 4);
    for (int use = 0; use < 3; use++) {
        const int frames = use == 1 ? T : 1, nn = use == 1 ? B : B * T;
        vc_linear_args l = strided_layout(0, B * T, S, C, C);
        l.w = wl, l.bias = b;
        gn(p->cpu, x, g, nn, frames, C, S, gam, bet, 1e-5f, true, NULL, 0);
        gp->ops->transient(gp, dg, n);
        gn(gp, dx, dg, nn, frames, C, S, gam, bet, 1e-5f, true, NULL, 0);
        const char *what = use == 0 ? "conv2d 3x3" : use == 1 ? "conv_temporal" : "linear_strided (proj_in)";
        if (use == 0) {
            vc_conv2d_args a = {g, B * T, C, h, w, wc, b, C, 3, 3, 1, 1, 1, 1, 1, NULL, y};
            p->cpu->ops->conv2d(p->cpu, &a);
            a.x = dg, a.y = dy;
            gp->ops->conv2d(gp, &a);
        } else if (use == 1) {
            p->cpu->ops->conv_temporal(p->cpu, g, B, C, T, S, wt, b, C, 3, NULL, y);
            gp->ops->conv_temporal(gp, dg, B, C, T, S, wt, b, C, 3, NULL, dy);
        } else {
            l.x = g, l.y = y;
            p->cpu->ops->linear_strided(p->cpu, &l);
            l.x = dg, l.y = dy;
            gp->ops->linear_strided(gp, &l);
        }
        gp->ops->transient(gp, NULL, 0);
        char name[112];
        snprintf(name, sizeof name, "group_norm (transient), %s on it %dx%dx%dx%lld", what, B, T, C, (long long)S);
        compare(name, gp, dy, y, n, g_tol);
    }
    gp->ops->free(gp, dx); gp->ops->free(gp, dg); gp->ops->free(gp, dy);
    free(x); free(gam); free(bet); free(g); free(wc); free(wt); free(wl); free(b); free(y);
}

/* A convolution into a transient buffer (no bias), the norm on it in place
 * (with the bias as its input bias), a convolution on that: the ResBlock's
 * first half (kind 0, conv2d 3x3 over B*T frames) and a temporal conv
 * block's inner convolutions (kind 1, joint over T frames). In fp16 mode the
 * intermediate is half throughout. */
static void check_conv_transient_norm(pair *p, int kind, int B, int T, int C, int h, int w)
{
    if (!p->gpu->ops->transient) return;
    const int64_t S = (int64_t)h * w, n = (int64_t)B * T * C * S;
    const int kk = kind == 0 ? 9 : 3, frames = kind == 0 ? 1 : T, nn = kind == 0 ? B * T : B;
    float *x = host_rand(n), *w1 = host_rand((int64_t)C * C * kk), *w2 = host_rand((int64_t)C * C * kk);
    float *b1 = host_rand(C), *b2 = host_rand(C), *gam = host_rand(C), *bet = host_rand(C);
    float *t = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    vc_backend *gp = p->gpu, *cp = p->cpu;
    float *dx = dev_copy(gp, x, n), *dt = gp->ops->alloc(gp, (size_t)n * 4), *dy = gp->ops->alloc(gp, (size_t)n * 4);
    for (int side = 0; side < 2; side++) { /* 0: the CPU reference, 1: the GPU with dt transient */
        vc_backend *be = side ? gp : cp;
        const float *xx = side ? dx : x;
        float *tt = side ? dt : t, *yy = side ? dy : y;
        if (side) be->ops->transient(be, dt, n);
        if (kind == 0) {
            vc_conv2d_args a = {xx, B * T, C, h, w, w1, NULL, C, 3, 3, 1, 1, 1, 1, 1, NULL, tt};
            be->ops->conv2d(be, &a);
        } else {
            be->ops->conv_temporal(be, xx, B, C, T, S, w1, NULL, C, 3, NULL, tt);
        }
        gn(be, tt, tt, nn, frames, C, S, gam, bet, 1e-5f, true, b1, nn);
        if (kind == 0) {
            vc_conv2d_args a = {tt, B * T, C, h, w, w2, b2, C, 3, 3, 1, 1, 1, 1, 1, xx, yy};
            be->ops->conv2d(be, &a);
        } else {
            be->ops->conv_temporal(be, tt, B, C, T, S, w2, b2, C, 3, xx, yy);
        }
        if (side) be->ops->transient(be, NULL, 0);
    }
    char name[112];
    snprintf(name, sizeof name, "%s (transient), group_norm, %s %dx%dx%dx%lld", kind ? "conv_temporal" : "conv2d 3x3",
             kind ? "conv_temporal" : "conv2d", B, T, C, (long long)S);
    compare(name, gp, dy, y, n, g_tol);
    gp->ops->free(gp, dx); gp->ops->free(gp, dt); gp->ops->free(gp, dy);
    free(x); free(w1); free(w2); free(b1); free(b2); free(gam); free(bet); free(t); free(y);
}

/* the convolutions, run once more with cuDNN off (im2col + cuBLAS; temporal as batched GEMMs) */
static void run_conv_checks(pair *p)
{
    if (g_small) {
        check_conv(p, 2, 8, 9, 13, 16, 3, 1, 1, false);
        check_conv(p, 3, 8, 9, 13, 16, 3, 1, 1, true);
        check_conv(p, 2, 8, 9, 13, 16, 3, 2, 1, false);
        check_conv(p, 2, 8, 10, 12, 8, 3, 2, -1, false);
        check_conv(p, 2, 16, 5, 7, 8, 1, 1, 0, true);
        check_conv(p, 2, 8, 11, 13, 8, 3, 3, 1, true); /* the emulated cuDNN refuses it at launch */
        check_conv_temporal(p, 2, 8, 5, 37, 12, true, false);
        check_conv_temporal(p, 1, 8, 4, 20, 8, false, false);
        check_conv_temporal(p, 1, 8, 1, 20, 8, true, false); /* one frame: only the centre tap */
        check_conv_temporal(p, 2, 8, 5, 37, 12, false, true);
        check_temporal_layer(p, 2, 64, 5, 30);
        check_norm_transient_conv(p, 2, 3, 64, 5, 7);
        check_conv_transient_norm(p, 0, 2, 3, 64, 5, 7);
        check_conv_transient_norm(p, 1, 2, 5, 64, 6, 5);
        return;
    }
    check_conv(p, 2, 320, 40, 64, 320, 3, 1, 1, false);
    check_conv(p, 32, 320, 40, 64, 320, 3, 1, 1, true);
    check_conv(p, 2, 320, 40, 64, 320, 3, 2, 1, false);
    check_conv(p, 2, 128, 160, 256, 128, 3, 2, -1, false); /* VAE encoder downsampling */
    check_conv(p, 2, 640, 20, 32, 320, 1, 1, 0, true);
    check_conv(p, 2, 4, 40, 64, 320, 3, 1, 1, false);
    check_conv_temporal(p, 2, 320, 16, 2560, 320, true, false);
    check_conv_temporal(p, 1, 640, 16, 640, 640, false, false);
    check_conv_temporal(p, 1, 320, 16, 2560, 320, false, true);
    check_temporal_layer(p, 2, 320, 16, 2560);
    check_norm_transient_conv(p, 2, 16, 320, 40, 64);
    check_conv_transient_norm(p, 0, 2, 16, 320, 40, 64);
    check_conv_transient_norm(p, 1, 2, 16, 320, 40, 64);
}

/* x [n, frames, C, S], statistics over each sample's frames; bias_group > 0:
 * an input bias per (n / bias_group, channel) */
static void check_group_norm(pair *p, int n, int frames, int C, int64_t S, bool silu, int bias_group)
{
    int64_t nx = (int64_t)n * frames * C * S;
    float *x = host_rand(nx), *g = host_rand(C), *b = host_rand(C), *y = malloc((size_t)nx * 4);
    const int64_t nb = bias_group ? (int64_t)(n + bias_group - 1) / bias_group * C : 1;
    float *ib = host_rand(nb), *dib = bias_group ? dev_copy(p->gpu, ib, nb) : NULL;
    gn(p->cpu, x, y, n, frames, C, S, g, b, 1e-5f, silu, bias_group ? ib : NULL, bias_group);
    float *dx = dev_copy(p->gpu, x, nx);
    gn(p->gpu, dx, dx, n, frames, C, S, g, b, 1e-5f, silu, dib, bias_group); /* in place, device input bias */
    char name[96];
    snprintf(name, sizeof name, "group_norm %dx%dx%dx%lld%s%s", n, frames, C, (long long)S, silu ? " +silu" : "",
             bias_group ? " +input bias" : "");
    compare(name, p->gpu, dx, y, nx, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    if (dib) p->gpu->ops->free(p->gpu, dib);
    free(x); free(g); free(b); free(y); free(ib);
}

enum {
    CAUSAL = 1,
    ACCUMULATE = 2,
    ODD_STRIDE = 4, /* token stride C + 3: no 16-byte loads */
    SHIFTED_Q = 8   /* a chain's q buffer 4 bytes into its block: a half Q without 16-byte loads */
};

static void check_attention(pair *p, int n_seq, int heads, int lq, int lk, int d, int kv_group, int rel_max, int flags)
{
    const int C = heads * d, tok = C + (flags & ODD_STRIDE ? 3 : 0);
    int64_t nq = (int64_t)n_seq * lq * tok, nk = (int64_t)(n_seq / kv_group) * lk * tok;
    float *q = host_rand(nq), *k = host_rand(nk), *v = host_rand(nk), *o = host_rand(nq);
    float *rk = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *rv = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *dq = dev_copy(p->gpu, q, nq), *dk = dev_copy(p->gpu, k, nk), *dv = dev_copy(p->gpu, v, nk);
    float *dout = dev_copy(p->gpu, o, nq); /* what accumulate adds to */
    vc_attn_args a = {q, k, v, o, n_seq, heads, lq, lk, d, kv_group, tok, tok, tok, tok, (int64_t)lq * tok,
                      (int64_t)lk * tok, (int64_t)lk * tok, (int64_t)lq * tok, 1.0f / sqrtf((float)d), rk, rv, rel_max,
                      (flags & CAUSAL) != 0, (flags & ACCUMULATE) != 0};
    p->cpu->ops->attention(p->cpu, &a);
    a.q = dq; a.k = dk; a.v = dv; a.o = dout;
    p->gpu->ops->attention(p->gpu, &a);
    char name[96];
    snprintf(name, sizeof name, "attention seq%d h%d %dx%d d%d g%d rel%d%s%s%s", n_seq, heads, lq, lk, d, kv_group,
             rel_max, flags & CAUSAL ? " causal" : "", flags & ACCUMULATE ? " +=" : "",
             flags & ODD_STRIDE ? " tok+3" : "");
    compare(name, p->gpu, dout, o, nq, g_tol);
    p->gpu->ops->free(p->gpu, dq); p->gpu->ops->free(p->gpu, dk);
    p->gpu->ops->free(p->gpu, dv); p->gpu->ops->free(p->gpu, dout);
    free(q); free(k); free(v); free(o); free(rk); free(rv);
}


/* A transformer block's attention as the UNet runs it (§5.5, §5.7): q from x,
 * k and v from kv (x itself or a context), attention, then the output layer
 * with bias onto the residual y; flags ACCUMULATE: a second key/value set
 * added as its own softmax (I2V, §5.6). On the GPU q, k, v and o are declared
 * transient (fp16 mode: held as half between the linear layers and the
 * attention kernels). */
static void check_attention_chain(pair *p, int n_seq, int heads, int lq, int lk, int d, int kv_group, int rel_max,
                                  int flags)
{
    const int C = heads * d, n_kv = n_seq / kv_group;
    const int64_t nq = (int64_t)n_seq * lq * C, nk = (int64_t)n_kv * lk * C;
    float *x = host_rand(nq), *kv = host_rand(nk), *y = host_rand(nq), *bo = host_rand(C);
    float *w[5];
    for (int i = 0; i < 5; i++) w[i] = host_rand((int64_t)C * C); /* q, k, v, out, second k */
    float *rk = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *rv = rel_max ? host_rand((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *dx = dev_copy(p->gpu, x, nq), *dkv = dev_copy(p->gpu, kv, nk), *dy = dev_copy(p->gpu, y, nq);
    for (int side = 0; side < 2; side++) {
        vc_backend *be = side ? p->gpu : p->cpu;
        const float *xs = side ? dx : x, *kvs = side ? dkv : kv;
        float *ys = side ? dy : y, *b[4];
        const int shift = flags & SHIFTED_Q ? 1 : 0;
        for (int i = 0; i < 4; i++) {
            const size_t bytes = (size_t)((i == 1 || i == 2 ? nk : nq) + (i == 0 ? shift : 0)) * 4;
            b[i] = side ? be->ops->alloc(be, bytes) : malloc(bytes);
        }
        float *q = b[0] + shift, *k = b[1], *v = b[2], *o = b[3];
        if (be->ops->transient)
            for (int i = 0; i < 4; i++) be->ops->transient(be, i ? b[i] : q, i == 1 || i == 2 ? nk : nq);
        vc_attn_args a = {q, k, v, o, n_seq, heads, lq, lk, d, kv_group, C, C, C, C, (int64_t)lq * C,
                          (int64_t)lk * C, (int64_t)lk * C, (int64_t)lq * C, 1.0f / sqrtf((float)d), rk, rv, rel_max,
                          (flags & CAUSAL) != 0, false};
        be->ops->linear(be, xs, (int64_t)n_seq * lq, C, w[0], NULL, C, NULL, q);
        be->ops->linear(be, kvs, (int64_t)n_kv * lk, C, w[1], NULL, C, NULL, k);
        be->ops->linear(be, kvs, (int64_t)n_kv * lk, C, w[2], NULL, C, NULL, v);
        be->ops->attention(be, &a);
        if (flags & ACCUMULATE) { /* keys from the second weight, values as before */
            be->ops->linear(be, kvs, (int64_t)n_kv * lk, C, w[4], NULL, C, NULL, k);
            a.accumulate = true;
            be->ops->attention(be, &a);
        }
        be->ops->linear(be, o, (int64_t)n_seq * lq, C, w[3], bo, C, ys, ys);
        if (be->ops->transient) be->ops->transient(be, NULL, 0);
        for (int i = 0; i < 4; i++) side ? be->ops->free(be, b[i]) : free(b[i]);
    }
    char name[112];
    snprintf(name, sizeof name, "linear, attention, linear seq%d h%d %dx%d d%d g%d rel%d%s%s%s", n_seq, heads, lq, lk,
             d, kv_group, rel_max, flags & CAUSAL ? " causal" : "", flags & ACCUMULATE ? " +=" : "",
             flags & SHIFTED_Q ? " q+4B" : "");
    compare(name, p->gpu, dy, y, nq, g_tol);
    p->gpu->ops->free(p->gpu, dx); p->gpu->ops->free(p->gpu, dkv); p->gpu->ops->free(p->gpu, dy);
    free(x); free(kv); free(y); free(bo); free(rk); free(rv);
    for (int i = 0; i < 5; i++) free(w[i]);
}

static void check_layer_norm(pair *p, int64_t rows, int D)
{
    int64_t n = rows * D;
    float *x = host_rand(n), *g = host_rand(D), *b = host_rand(D), *y = malloc((size_t)n * 4);
    p->cpu->ops->layer_norm(p->cpu, x, y, rows, D, g, b, 1e-5f);
    float *dx = dev_copy(p->gpu, x, n);
    p->gpu->ops->layer_norm(p->gpu, dx, dx, rows, D, g, b, 1e-5f);
    char name[96];
    snprintf(name, sizeof name, "layer_norm %lldx%d", (long long)rows, D);
    compare(name, p->gpu, dx, y, n, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    free(x); free(g); free(b); free(y);
}

/* geglu, gelu, silu, add_channel, permute, upsample, concat: float32 maths on
 * both (layout ops exact); s scales the sizes down for the emulation */
static void check_elementwise(pair *p, int s)
{
    const int64_t rows = 2560 / s, inner = 1280 / s, n = rows * 2 * inner;
    const int C = (int)inner, P = 640 / s;
    float *x = host_rand(n), *y = malloc((size_t)n * 4), *v = host_rand(2 * inner);
    float *dx = dev_copy(p->gpu, x, n), *dy = p->gpu->ops->alloc(p->gpu, (size_t)n * 4);
    char name[96];
    p->cpu->ops->geglu(p->cpu, x, y, rows, (int)inner);
    p->gpu->ops->geglu(p->gpu, dx, dy, rows, (int)inner);
    snprintf(name, sizeof name, "geglu %lldx(2x%lld)", (long long)rows, (long long)inner);
    compare(name, p->gpu, dy, y, rows * inner, 1e-5);
    p->cpu->ops->gelu(p->cpu, x, y, n);
    p->gpu->ops->gelu(p->gpu, dx, dy, n);
    compare("gelu", p->gpu, dy, y, n, 1e-5);
    p->cpu->ops->silu(p->cpu, x, y, n);
    p->gpu->ops->silu(p->gpu, dx, dy, n);
    compare("silu", p->gpu, dy, y, n, 1e-5);
    memcpy(y, x, (size_t)n * 4);
    p->cpu->ops->add_channel(p->cpu, y, v, 2, C, rows, C); /* x as [2, C, rows] */
    p->gpu->ops->copy(p->gpu, dy, dx, (size_t)n * 4);
    p->gpu->ops->add_channel(p->gpu, dy, v, 2, C, rows, C);
    compare("add_channel", p->gpu, dy, y, n, 1e-6);
    int64_t shape[5] = {2, C / 4, 16 / (s > 1 ? 4 : 1), 20, (int64_t)(n / (2 * (C / 4) * (16 / (s > 1 ? 4 : 1)) * 20))};
    int perm[5] = {0, 3, 4, 2, 1};
    int64_t np = shape[0] * shape[1] * shape[2] * shape[3] * shape[4];
    p->cpu->ops->permute(p->cpu, x, y, 5, shape, perm);
    p->gpu->ops->permute(p->gpu, dx, dy, 5, shape, perm);
    compare("permute b c t h w -> b h w t c", p->gpu, dy, y, np, 0);
    /* the UNet's transposing permutes (tiled kernel), at sizes that are not multiples of its 32 x 32 tiles */
    const struct { int nd; int64_t sh[4]; int pm[4]; const char *what; } tp[] = {
        {3, {3, 70, 45}, {0, 2, 1}, "permute n c s -> n s c"},
        {4, {2, 37, 5, 33}, {0, 3, 2, 1}, "permute b c t s -> b s t c"},
        {4, {2, 33, 5, 37}, {0, 2, 3, 1}, "permute b s t c -> b t c s"},
        {2, {1000 / s + 3, 7}, {1, 0}, "permute 2-d transpose"},
    };
    for (size_t t = 0; t < sizeof tp / sizeof tp[0]; t++) {
        int64_t nt = 1;
        for (int k = 0; k < tp[t].nd; k++) nt *= tp[t].sh[k];
        p->cpu->ops->permute(p->cpu, x, y, tp[t].nd, tp[t].sh, tp[t].pm);
        p->gpu->ops->permute(p->gpu, dx, dy, tp[t].nd, tp[t].sh, tp[t].pm);
        compare(tp[t].what, p->gpu, dy, y, nt, 0);
    }
    p->cpu->ops->upsample_nearest2x(p->cpu, x, y, C / 2, 20 / (s > 1 ? 2 : 1), 32 / (s > 1 ? 2 : 1));
    p->gpu->ops->upsample_nearest2x(p->gpu, dx, dy, C / 2, 20 / (s > 1 ? 2 : 1), 32 / (s > 1 ? 2 : 1));
    compare("upsample x2", p->gpu, dy, y, (int64_t)(C / 2) * 4 * (20 / (s > 1 ? 2 : 1)) * (32 / (s > 1 ? 2 : 1)), 0);
    p->cpu->ops->concat_channels(p->cpu, x, C / 2, x + 1000 / s, C / 4, y, 4, P);
    p->gpu->ops->concat_channels(p->gpu, dx, C / 2, dx + 1000 / s, C / 4, dy, 4, P);
    compare("concat", p->gpu, dy, y, 4 * (int64_t)(C / 2 + C / 4) * P, 0);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    free(x); free(y); free(v);
}

/* the DDIM step must round exactly as the CPU backend (no FMA contraction) */
static void check_ddim(pair *p, bool use_scale, bool noise)
{
    const int64_t n = 4 * 16 * 40 * 64;
    float *x = host_rand(n), *ec = host_rand(n), *eu = host_rand(n), *z = host_rand(n);
    float *y = malloc((size_t)n * 4), *x0 = malloc((size_t)n * 4);
    vc_ddim_args a = {.sq1ma = 0.83f, .sqrt_a = 0.557f, .dir = 0.71f, .prev = 0.69f, .scale = 0.93f,
                      .sigma = noise ? 0.11f : 0.0f, .guidance = 12.0f, .use_scale = use_scale,
                      .x = x, .ec = ec, .eu = eu, .z = noise ? z : NULL, .x_next = y, .x0 = x0, .n = n};
    p->cpu->ops->ddim_step(p->cpu, &a);
    float *dx = dev_copy(p->gpu, x, n), *dec = dev_copy(p->gpu, ec, n), *deu = dev_copy(p->gpu, eu, n);
    float *dz = dev_copy(p->gpu, z, n), *dx0 = p->gpu->ops->alloc(p->gpu, (size_t)n * 4);
    a.x = dx; a.ec = dec; a.eu = deu; a.z = noise ? dz : NULL; a.x_next = dx; a.x0 = dx0;
    p->gpu->ops->ddim_step(p->gpu, &a);
    char name[96];
    snprintf(name, sizeof name, "ddim_step%s%s (in place)", use_scale ? " scaled" : "", noise ? " +noise" : "");
    compare(name, p->gpu, dx, y, n, 0);
    compare("ddim_step x0", p->gpu, dx0, x0, n, 0);
    p->gpu->ops->free(p->gpu, dx); p->gpu->ops->free(p->gpu, dec); p->gpu->ops->free(p->gpu, deu);
    p->gpu->ops->free(p->gpu, dz); p->gpu->ops->free(p->gpu, dx0);
    free(x); free(ec); free(eu); free(z); free(y); free(x0);
}

/* half-resident weights widened on the device, and the weight cache seeing new
 * contents at an old address */
static void check_widen_and_cache(pair *p)
{
    const int64_t n = 1 << 20;
    uint16_t *h = malloc((size_t)n * 2);
    float *ref = malloc((size_t)n * 4);
    for (int64_t i = 0; i < n; i++) h[i] = (uint16_t)(i * 40503u);
    for (int bf = 0; bf < 2; bf++) {
        vc_dtype dt = bf ? VC_DTYPE_BF16 : VC_DTYPE_F16;
        vc_half_to_f32(h, dt, ref, n);
        float *d = p->gpu->ops->alloc(p->gpu, (size_t)n * 4);
        p->gpu->ops->widen(p->gpu, d, h, dt, n);
        compare(bf ? "widen bf16 (device)" : "widen f16 (device)", p->gpu, d, ref, n, 0);
        p->gpu->ops->free(p->gpu, d);
    }
    const int rows = 64, in = 256, out = 128;
    float *x = host_rand(rows * in), *w = host_rand(out * in), *y = malloc((size_t)rows * out * 4);
    float *dx = dev_copy(p->gpu, x, rows * in), *dy = p->gpu->ops->alloc(p->gpu, (size_t)rows * out * 4);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w, NULL, out, NULL, dy);
    for (int i = 0; i < out * in; i++) w[i] = frand(); /* same address, new weights */
    p->cpu->ops->linear(p->cpu, x, rows, in, w, NULL, out, NULL, y);
    p->gpu->ops->linear(p->gpu, dx, rows, in, w, NULL, out, NULL, dy);
    compare("weight cache: new contents, same address", p->gpu, dy, y, rows * out, g_tol);
    p->gpu->ops->free(p->gpu, dx);
    p->gpu->ops->free(p->gpu, dy);
    /* the same for a temporal convolution's reordered copy */
    const int B = 1, T = 4, ci = 16, co = 24;
    const int64_t S = 30, nx = (int64_t)B * T * ci * S, ny = (int64_t)B * T * co * S;
    float *tx = host_rand(nx), *tw = host_rand(co * ci * 3), *ty = malloc((size_t)ny * 4);
    float *dtx = dev_copy(p->gpu, tx, nx), *dty = p->gpu->ops->alloc(p->gpu, (size_t)ny * 4);
    p->gpu->ops->conv_temporal(p->gpu, dtx, B, ci, T, S, tw, NULL, co, 3, NULL, dty);
    for (int i = 0; i < co * ci * 3; i++) tw[i] = frand();
    p->cpu->ops->conv_temporal(p->cpu, tx, B, ci, T, S, tw, NULL, co, 3, NULL, ty);
    p->gpu->ops->conv_temporal(p->gpu, dtx, B, ci, T, S, tw, NULL, co, 3, NULL, dty);
    compare("weight cache: new taps, same address", p->gpu, dty, ty, ny, g_tol);
    p->gpu->ops->free(p->gpu, dtx);
    p->gpu->ops->free(p->gpu, dty);
    free(tx); free(tw); free(ty);
    free(h); free(ref); free(x); free(w); free(y);
}

/* every attention kernel path; in fp16 mode run once more with the tiled
 * variant of the tensor-core kernel (VIDEOCRAFTER_CUDA_FLASH_REGS=0) */
static void run_attention_checks(pair *p)
{
    if (g_small) {
        check_attention(p, 2, 2, 130, 150, 64, 1, 0, 0);  /* partial tiles on both sides */
        check_attention(p, 4, 2, 70, 77, 32, 2, 0, 0);    /* cross, kv shared by 2 sequences */
        check_attention(p, 2, 1, 65, 93, 80, 1, 0, 0);
        check_attention(p, 1, 1, 40, 40, 128, 1, 0, 0);
        check_attention(p, 20, 2, 16, 16, 64, 1, 16, 0);  /* temporal, rel-pos */
        check_attention(p, 8, 2, 20, 20, 32, 1, 16, 0);   /* clamp binds */
        check_attention(p, 3, 2, 33, 33, 64, 1, 16, 0);   /* rel-pos past the short-sequence kernel's 32 */
        check_attention(p, 5, 3, 32, 32, 128, 1, 16, 0);  /* the short-sequence kernel at its limits */
        check_attention(p, 1, 1, 96, 96, 512, 1, 0, 0);   /* VAE-style single wide head */
        check_attention(p, 2, 2, 70, 70, 64, 1, 0, CAUSAL);
        check_attention(p, 3, 4, 80, 77, 16, 3, 0, 0); /* the tiny reference models' head width */
        check_attention(p, 4, 2, 70, 16, 32, 2, 0, ACCUMULATE);
        check_attention(p, 2, 2, 70, 77, 32, 1, 0, ODD_STRIDE);
        check_attention_chain(p, 2, 2, 70, 70, 32, 1, 0, 0);         /* spatial self: tensor-core kernel */
        check_attention_chain(p, 4, 2, 40, 16, 32, 2, 0, ACCUMULATE); /* cross, I2V's second set */
        check_attention_chain(p, 12, 2, 6, 6, 16, 1, 4, 0);          /* temporal with rel-pos */
        check_attention_chain(p, 3, 2, 40, 40, 24, 1, 4, 0);         /* float32 kernel only: widened operands */
        check_attention_chain(p, 2, 2, 70, 70, 32, 1, 0, SHIFTED_Q);
        return;
    }
    check_attention(p, 2, 5, 2560, 2560, 64, 1, 0, 0);   /* spatial self */
    check_attention(p, 16, 5, 2560, 77, 64, 16, 0, 0);   /* cross, context shared by 16 frames */
    check_attention(p, 16, 10, 640, 93, 64, 16, 0, 0);   /* I2V cross: 77 text + 16 image tokens */
    check_attention(p, 2560, 5, 16, 16, 64, 1, 16, 0);   /* temporal with relative position */
    check_attention(p, 2560, 5, 16, 16, 64, 1, 0, 0);    /* temporal without */
    check_attention(p, 64, 5, 20, 20, 64, 1, 16, 0);     /* clamp binds (T > M) */
    check_attention(p, 64, 5, 40, 40, 64, 1, 16, 0);     /* T > 32: the general kernel with rel-pos */
    check_attention(p, 1, 1, 2560, 2560, 512, 1, 0, 0);  /* VAE mid attention */
    check_attention(p, 2, 16, 257, 257, 80, 1, 0, 0);    /* CLIP vision, head width 80 */
    check_attention(p, 2, 16, 77, 77, 64, 1, 0, CAUSAL); /* text tower */
    check_attention(p, 16, 10, 640, 16, 64, 16, 0, ACCUMULATE); /* I2V: the image tokens' own softmax, added */
    check_attention(p, 2, 5, 640, 640, 64, 1, 0, ODD_STRIDE);
    check_attention_chain(p, 2, 5, 2560, 2560, 64, 1, 0, 0);    /* the top level's blocks */
    check_attention_chain(p, 16, 5, 2560, 77, 64, 16, 0, 0);
    check_attention_chain(p, 2560, 5, 16, 16, 64, 1, 16, 0);
    check_attention_chain(p, 16, 10, 640, 16, 64, 16, 0, ACCUMULATE);
    check_attention_chain(p, 2, 5, 640, 640, 64, 1, 0, SHIFTED_Q);
}

/* A transformer's token stream held transient, as the UNet holds it (§5.5,
 * §5.7): proj_in (layout kind 0 spatial, 2 temporal) writes the tokens, a
 * layer norm reads them, a linear layer and the feed-forward add onto them
 * (residual = y), proj_out reads them back onto the block input. In fp16
 * mode the tokens stay half from proj_in to proj_out. */
static void check_token_stream(pair *p, int kind, int batch, int64_t rows, int C)
{
    if (!p->gpu->ops->transient) return;
    const int64_t n = (int64_t)batch * rows * C, inner = 2 * C;
    float *x = host_rand(n), *wi = host_rand((int64_t)C * C), *bi = host_rand(C), *wo = host_rand((int64_t)C * C);
    float *bo = host_rand(C), *wl = host_rand((int64_t)C * C), *bl = host_rand(C), *g = host_rand(C), *be_ = host_rand(C);
    float *w1 = host_rand(2 * inner * C), *b1 = host_rand(2 * inner), *w2 = host_rand(inner * C), *b2 = host_rand(C);
    float *tok = malloc((size_t)n * 4), *nrm = malloc((size_t)n * 4), *y = malloc((size_t)n * 4);
    float *hid = malloc((size_t)(batch * rows * 2 * inner) * 4), *gg = malloc((size_t)(batch * rows * inner) * 4);
    vc_backend *gp = p->gpu, *cp = p->cpu;
    float *dx = dev_copy(gp, x, n), *dtok = gp->ops->alloc(gp, (size_t)n * 4), *dnrm = gp->ops->alloc(gp, (size_t)n * 4);
    float *dy = gp->ops->alloc(gp, (size_t)n * 4);
    const int64_t tr = (int64_t)batch * rows; /* token rows */
    for (int side = 0; side < 2; side++) {
        vc_backend *be = side ? gp : cp;
        float *t = side ? dtok : tok, *nm = side ? dnrm : nrm, *yy = side ? dy : y;
        if (side) {
            be->ops->transient(be, dtok, n);
            be->ops->transient(be, dnrm, n);
        }
        vc_linear_args in = strided_layout(kind, batch, rows, C, C);
        in.x = side ? dx : x, in.w = wi, in.bias = bi, in.y = t;
        be->ops->linear_strided(be, &in);
        be->ops->layer_norm(be, t, nm, tr, C, g, be_, 1e-5f);
        be->ops->linear(be, nm, tr, C, wl, bl, C, t, t);
        be->ops->layer_norm(be, t, nm, tr, C, g, be_, 1e-5f);
        if (side) {
            be->ops->feed_forward(be, nm, tr, C, w1, b1, (int32_t)inner, w2, b2, C, t, t);
        } else {
            be->ops->linear(be, nm, tr, C, w1, b1, (int32_t)(2 * inner), NULL, hid);
            be->ops->geglu(be, hid, gg, tr, (int32_t)inner);
            be->ops->linear(be, gg, tr, (int32_t)inner, w2, b2, C, t, t);
        }
        if (side) be->ops->transient(be, NULL, 1); /* the norm's mark goes, the stream's stays (nesting) */
        vc_linear_args out = strided_layout(kind + 1, batch, rows, C, C);
        out.x = t, out.w = wo, out.bias = bo, out.residual = side ? dx : x, out.y = yy;
        be->ops->linear_strided(be, &out);
        if (side) be->ops->transient(be, NULL, 0);
    }
    char name[112];
    snprintf(name, sizeof name, "token stream (transient), %s %dx%lldx%d", kind ? "temporal" : "spatial", batch,
             (long long)rows, C);
    compare(name, gp, dy, y, n, g_tol);
    gp->ops->free(gp, dx); gp->ops->free(gp, dtok); gp->ops->free(gp, dnrm); gp->ops->free(gp, dy);
    free(x); free(wi); free(bi); free(wo); free(bo); free(wl); free(bl); free(g); free(be_);
    free(w1); free(b1); free(w2); free(b2); free(tok); free(nrm); free(y); free(hid); free(gg);
}

/* Shapes for the CPU emulation (test/cuda/emu/): every code path of the
 * kernels (tile edges, kv groups, causal, rel-pos, each flash head width) at a
 * size a CPU runs in seconds. */
static void run_small_checks(pair *p)
{
    check_linear(p, 70, 48, 40);
    check_linear(p, 77, 64, 64);
    check_linear(p, 50, 36, 24); /* the emulated cuBLASLt has no algorithm for it: the plain path */
    check_feed_forward(p, 70, 32, 48, true);
    check_linear_reuse(p, 50, 40, 24);
    check_norm_consumers(p, 2, 64, 7, 9);
    check_linear_strided(p, 0, 3, 37, 64, 48, false, true);
    check_linear_strided(p, 1, 3, 37, 48, 64, true, false);
    check_linear_strided(p, 2, 5, 13, 64, 32, false, false);
    check_linear_strided(p, 3, 5, 13, 32, 64, true, false);
    check_linear_strided(p, 0, 3, 1, 64, 48, false, false); /* one row per item (a 1x1 level) */
    check_linear_strided(p, 1, 3, 1, 48, 64, true, false);
    check_linear_strided(p, 2, 5, 1, 64, 32, false, false);
    check_linear_strided(p, 3, 5, 1, 32, 64, true, false);
    check_feed_forward(p, 33, 16, 40, false);
    check_norm_transient(p, 70, 64, 96);
    check_token_stream(p, 0, 3, 37, 64);
    check_token_stream(p, 2, 5, 13, 32);
    run_conv_checks(p);
    check_group_norm(p, 3, 1, 64, 300, true, 0);
    check_group_norm(p, 1, 1, 64, 40000, false, 0); /* several blocks per group */
    check_group_norm(p, 2, 5, 64, 300, true, 0);    /* folded videos */
    check_group_norm(p, 1, 16, 64, 2500, false, 0); /* blocks whose slices span frames */
    check_group_norm(p, 6, 1, 64, 300, true, 3);    /* a ResBlock's conv bias + time embedding per video */
    check_group_norm(p, 2, 16, 64, 2500, true, 2);  /* a temporal conv's bias */
    check_layer_norm(p, 70, 96);
    run_attention_checks(p);
    check_elementwise(p, 16);
    check_ddim(p, false, false);
    check_ddim(p, true, true);
    check_widen_and_cache(p);
}

static void run_checks(pair *p)
{
    if (g_small) {
        run_small_checks(p);
        return;
    }
    check_linear(p, 2560, 320, 320);
    check_linear(p, 77, 1024, 1024);
    check_linear(p, 16 * 2560, 320, 2560);
    check_feed_forward(p, 6553, 320, 1280, true); /* one chunk of the UNet's top level */
    check_linear_reuse(p, 2560, 320, 320);
    check_norm_consumers(p, 16, 320, 40, 64);
    check_linear_strided(p, 0, 32, 2560, 320, 320, false, true); /* spatial transformer, top level */
    check_linear_strided(p, 1, 32, 2560, 320, 320, true, false);
    check_linear_strided(p, 2, 16, 2560, 320, 320, false, false); /* temporal, one video */
    check_linear_strided(p, 3, 16, 2560, 320, 320, true, false);
    check_feed_forward(p, 640, 1280, 5120, false);
    check_norm_transient(p, 6553, 320, 1280);
    check_token_stream(p, 0, 16, 2560, 320);
    check_token_stream(p, 2, 16, 2560, 320);
    run_conv_checks(p);
    check_group_norm(p, 16, 1, 320, 2560, true, 0);
    check_group_norm(p, 2, 16, 320, 2560, true, 2); /* the UNet's joint-over-frames norm (§5.10) */
    check_group_norm(p, 32, 1, 320, 2560, true, 16); /* ResBlock: conv bias + embedding per video */
    check_layer_norm(p, 16 * 2560, 320);
    check_layer_norm(p, 77, 1024);
    run_attention_checks(p);
    check_elementwise(p, 1);
    check_ddim(p, false, false);
    check_ddim(p, true, true);
    check_widen_and_cache(p);
}

int main(int argc, char **argv)
{
    const bool probe = argc > 1 && !strcmp(argv[1], "--probe"); /* exit 0 iff a GPU context can be made */
    bool expect_cudnn = false; /* --expect-cudnn: fail unless cuDNN is in use (the emulation has one) */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--small")) g_small = true;
        else if (!strcmp(argv[i], "--expect-cudnn")) expect_cudnn = true;
    }
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.backend = "cuda";
    cp.log_level = VC_LOG_NONE;
    vc_context *gctx = NULL;
    vc_status st = vc_context_create(&cp, &gctx);
    if (probe) {
        vc_context_free(gctx);
        return st == VC_STATUS_OK ? 0 : 1;
    }
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
    vc_context_free(gctx);
    /* float32 mode (limit 1e-5 of the largest |value|), then fp16 mode (half GEMM
     * operands, tensor-core attention and convolutions, float32 accumulation;
     * limit 1e-2); in each, the convolutions once more with cuDNN off */
    const char *cudnn_env = getenv("VIDEOCRAFTER_CUDNN");
    char *cudnn_saved = cudnn_env ? strdup(cudnn_env) : NULL;
    for (int mode = 0; mode < 2; mode++) {
        setenv("VIDEOCRAFTER_CUDA_PRECISION", mode ? "fp16" : "fp32", 1);
        g_tol = mode ? 1e-2 : 1e-5;
        /* pass 0: everything; 1: the convolutions without cuDNN; 2 (fp16): attention
         * through the tiled tensor-core kernel */
        for (int pass = 0; pass < (mode ? 3 : 2); pass++) {
            const bool off = pass == 1;
            if (off) setenv("VIDEOCRAFTER_CUDNN", "off", 1);
            else if (cudnn_saved) setenv("VIDEOCRAFTER_CUDNN", cudnn_saved, 1);
            else unsetenv("VIDEOCRAFTER_CUDNN");
            if (pass == 2) setenv("VIDEOCRAFTER_CUDA_FLASH_REGS", "0", 1);
            else unsetenv("VIDEOCRAFTER_CUDA_FLASH_REGS");
            cp.backend = "cuda";
            if (vc_context_create(&cp, &gctx) != VC_STATUS_OK) {
                printf("FAIL: cuda context: %s\n", vc_last_error());
                return 1;
            }
            const char *detail = gctx->backend->detail;
            printf("%s mode%s (limit %.0e): %s\n", mode ? "fp16" : "float32",
                   pass == 1 ? ", convolutions without cuDNN" : pass == 2 ? ", tiled attention kernel" : "", g_tol,
                   detail);
            pair p = {cctx->backend, gctx->backend};
            if (pass == 1) run_conv_checks(&p);
            else if (pass == 2) run_attention_checks(&p);
            else run_checks(&p);
            /* after the convolutions: the handle is made at the first one */
            if (pass == 0 && !strstr(detail, "convolutions cuDNN")) printf("  now: %s\n", detail);
            if (pass == 0 && expect_cudnn && !strstr(detail, "convolutions cuDNN")) {
                printf("FAIL: cuDNN expected but not in use\n");
                failures++;
            }
            if (pass == 0 && expect_cudnn && !strstr(detail, "cuBLASLt epilogues")) {
                printf("FAIL: cuBLASLt expected but not in use\n");
                failures++;
            }
            if (pass == 0 && mode && expect_cudnn && !strstr(detail, "attention in registers")) {
                printf("FAIL: the emulation's accumulator layout should pass the probe\n");
                failures++;
            }
            vc_context_free(gctx);
            gctx = NULL;
        }
    }
    unsetenv("VIDEOCRAFTER_CUDA_FLASH_REGS");
    free(cudnn_saved);
    vc_context_free(cctx);
    printf(failures ? "FAILED: %d check(s)\n" : "all CUDA backend checks passed\n", failures);
    return failures ? 1 : 0;
}
