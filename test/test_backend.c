/* test_backend.c - every CPU backend op against a naive double-precision
 * reference, on 1, 2 and 3 threads, plus the arena.
 *
 * Thread counts: every op except the OpenBLAS-based ones (gemm, linear,
 * conv2d, conv_temporal) must give bit-identical results for 1, 2 and 3
 * threads (work is split into thread-count-independent chunks). The GEMM-based
 * ops may differ by rounding (OpenBLAS partitions the work by thread count), so
 * they are only compared to the reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "core/internal.h"
#include "backend/backend.h"
#include "linear_layouts.h"

#define NB 3
static vc_context *g_ctx[NB + 1];
static vc_backend *g_be[NB + 1]; /* [NB]: 2 threads, portable kernels (VC_CPU_SIMD=0) */

/* ---------------------------------------------------------------- helpers */
static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static float *rnd(int64_t n, float scale, float offset)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    for (int64_t i = 0; i < n; i++) p[i] = frand() * scale + offset;
    return p;
}

static float *dup(const float *x, int64_t n)
{
    float *p = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    assert_non_null(p);
    memcpy(p, x, (size_t)n * sizeof(float));
    return p;
}

static double *dalloc(int64_t n)
{
    double *p = calloc((size_t)(n > 0 ? n : 1), sizeof(double));
    assert_non_null(p);
    return p;
}

/* max|out - ref| / max|ref| */
static double rel_err(const float *out, const double *ref, int64_t n)
{
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)out[i] - ref[i]);
        if (isnan(out[i])) d = INFINITY;
        if (d > md) md = d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    return mr > 0 ? md / mr : md;
}

static double g_worst;
static void check(const char *what, int t, const float *out, const double *ref, int64_t n, double tol)
{
    double e = rel_err(out, ref, n);
    if (e > g_worst) g_worst = e;
    if (t == 0 || e > tol) print_message("  %-52s rel err %.3e (limit %.0e)\n", what, e, tol);
    if (!(e <= tol)) fail_msg("%s (%d threads): relative error %.3e exceeds %.0e", what, t + 1, e, tol);
}

/* bit-identical to the 1-thread result */
static void same(const char *what, int t, const float *out, const float *first, int64_t n)
{
    if (t == 0) return;
    if (memcmp(out, first, (size_t)n * sizeof(float)) != 0)
        fail_msg("%s: %d threads differ from 1 thread", what, t + 1);
}

static int setup(void **state)
{
    (void)state;
    for (int t = 0; t < NB; t++) {
        vc_context_params p;
        vc_context_default_params(&p);
        p.n_threads = t + 1;
        p.log_level = VC_LOG_NONE;
        if (vc_context_create(&p, &g_ctx[t]) != VC_STATUS_OK) return -1;
        g_be[t] = g_ctx[t]->backend;
    }
    vc_context_params p;
    vc_context_default_params(&p);
    p.n_threads = 2;
    p.log_level = VC_LOG_NONE;
    setenv("VC_CPU_SIMD", "0", 1);
    vc_status st = vc_context_create(&p, &g_ctx[NB]);
    unsetenv("VC_CPU_SIMD");
    if (st != VC_STATUS_OK) return -1;
    g_be[NB] = g_ctx[NB]->backend;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int t = 0; t <= NB; t++) vc_context_free(g_ctx[t]);
    print_message("  worst relative error over all op checks: %.3e\n", g_worst);
    return 0;
}

#define TOL 2e-6

/* ------------------------------------------------------------------ gemm */
static void test_gemm(void **state)
{
    (void)state;
    struct { bool ta, tb; int m, n, k, batch; float alpha, beta; int pad; } cs[] = {
        {false, false, 7, 5, 3, 1, 1.0f, 0.0f, 0},  {true, false, 33, 17, 65, 2, 0.5f, 1.0f, 3},
        {false, true, 1, 40, 129, 3, 1.0f, -0.5f, 1}, {true, true, 64, 64, 64, 1, 2.0f, 0.25f, 0},
    };
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        int m = cs[ci].m, n = cs[ci].n, k = cs[ci].k, bt = cs[ci].batch;
        int64_t lda = (cs[ci].ta ? m : k) + cs[ci].pad, ldb = (cs[ci].tb ? k : n) + cs[ci].pad, ldc = n + cs[ci].pad;
        int64_t ra = cs[ci].ta ? k : m, rb = cs[ci].tb ? n : k;
        int64_t sa = ra * lda + 5, sb = rb * ldb + 7, sc = m * ldc + 3;
        float *A = rnd(sa * bt, 1, 0), *Bm = rnd(sb * bt, 1, 0), *C0 = rnd(sc * bt, 1, 0);
        double *ref = dalloc(sc * bt);
        for (int64_t i = 0; i < sc * bt; i++) ref[i] = C0[i];
        for (int b = 0; b < bt; b++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int l = 0; l < k; l++) {
                        double av = cs[ci].ta ? A[b * sa + l * lda + i] : A[b * sa + i * lda + l];
                        double bv = cs[ci].tb ? Bm[b * sb + j * ldb + l] : Bm[b * sb + l * ldb + j];
                        s += av * bv;
                    }
                    double *c = &ref[b * sc + i * ldc + j];
                    *c = cs[ci].alpha * s + cs[ci].beta * *c;
                }
        for (int t = 0; t < NB; t++) {
            float *C = dup(C0, sc * bt);
            vc_gemm_args g = {cs[ci].ta, cs[ci].tb, m, n, k, bt, cs[ci].alpha, cs[ci].beta,
                              A, lda, sa, Bm, ldb, sb, C, ldc, sc};
            g_be[t]->ops->gemm(g_be[t], &g);
            char what[96];
            snprintf(what, sizeof what, "gemm %c%c m%d n%d k%d b%d", cs[ci].ta ? 'T' : 'N', cs[ci].tb ? 'T' : 'N', m, n,
                     k, bt);
            check(what, t, C, ref, sc * bt, TOL);
            free(C);
        }
        free(A), free(Bm), free(C0), free(ref);
    }
}

/* ---------------------------------------------------------------- linear */
static void test_linear(void **state)
{
    (void)state;
    struct { int64_t rows; int in, out; bool bias; int res; } cs[] = {
        {1, 3, 5, false, 0}, {37, 64, 33, true, 0}, {100, 129, 17, true, 1}, {16, 40, 40, true, 2}, {5, 8, 7, false, 2},
    };
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        int64_t R = cs[ci].rows;
        int in = cs[ci].in, out = cs[ci].out;
        float *x = rnd(R * in, 1, 0), *w = rnd((int64_t)out * in, 0.3f, 0), *b = cs[ci].bias ? rnd(out, 1, 0) : NULL;
        float *r = cs[ci].res ? rnd(R * out, 1, 0) : NULL;
        double *ref = dalloc(R * out);
        for (int64_t i = 0; i < R; i++)
            for (int o = 0; o < out; o++) {
                double s = b ? b[o] : 0;
                for (int l = 0; l < in; l++) s += (double)x[i * in + l] * w[(int64_t)o * in + l];
                ref[i * out + o] = s + (r ? r[i * out + o] : 0);
            }
        for (int t = 0; t < NB; t++) {
            float *y = cs[ci].res == 2 ? dup(r, R * out) : rnd(R * out, 1, 0);
            const float *res = cs[ci].res == 2 ? y : r;
            g_be[t]->ops->linear(g_be[t], x, R, in, w, b, out, res, y);
            char what[96];
            snprintf(what, sizeof what, "linear %lldx%d->%d bias %d residual %s", (long long)R, in, out, cs[ci].bias,
                     cs[ci].res == 2 ? "aliased" : cs[ci].res ? "yes" : "no");
            check(what, t, y, ref, R * out, TOL);
            free(y);
        }
        free(x), free(w), free(b), free(r), free(ref);
    }
}

/* ------------------------------------------------------- linear_strided */
static void test_linear_strided(void **state)
{
    (void)state;
    struct { int kind, batch; int64_t rows; int in, out; bool bias; int res; } cs[] = {
        {0, 3, 37, 16, 24, true, 0}, {1, 3, 37, 24, 16, true, 1}, {1, 2, 20, 8, 8, true, 2},
        {2, 5, 13, 16, 8, true, 0},  {3, 5, 13, 8, 16, true, 2},  {3, 4, 9, 12, 12, false, 1},
        {0, 1, 70, 33, 17, false, 0}, {2, 16, 40, 32, 32, true, 0},
        /* one row per item (a 1x1 level): unit strides both ways */
        {0, 3, 1, 16, 24, true, 0}, {1, 3, 1, 24, 16, true, 1}, {2, 5, 1, 16, 8, true, 0}, {3, 5, 1, 8, 16, true, 2},
    };
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
        vc_linear_args a = strided_layout(cs[ci].kind, cs[ci].batch, cs[ci].rows, cs[ci].in, cs[ci].out);
        const int64_t nx = (int64_t)a.batch * a.rows * a.in, ny = (int64_t)a.batch * a.rows * a.out;
        float *x = rnd(nx, 1, 0), *w = rnd((int64_t)a.out * a.in, 0.3f, 0), *b = cs[ci].bias ? rnd(a.out, 1, 0) : NULL;
        float *r = cs[ci].res ? rnd(ny, 1, 0) : NULL;
        double *ref = dalloc(ny);
        for (int i = 0; i < a.batch; i++)
            for (int64_t row = 0; row < a.rows; row++)
                for (int o = 0; o < a.out; o++) {
                    double acc = b ? b[o] : 0;
                    for (int k = 0; k < a.in; k++)
                        acc += (double)x[i * a.x_batch + row * a.x_row + k * a.x_col] * w[(int64_t)o * a.in + k];
                    const int64_t yi = i * a.y_batch + row * a.y_row + o * a.y_col;
                    ref[yi] = acc + (r ? r[yi] : 0);
                }
        for (int t = 0; t < NB; t++) {
            float *y = cs[ci].res == 2 ? dup(r, ny) : rnd(ny, 1, 0);
            a.x = x, a.w = w, a.bias = b, a.residual = cs[ci].res == 2 ? y : r, a.y = y;
            g_be[t]->ops->linear_strided(g_be[t], &a);
            char what[112];
            snprintf(what, sizeof what, "linear_strided layout %d %dx%lldx%d->%d bias %d residual %s", cs[ci].kind,
                     a.batch, (long long)a.rows, a.in, a.out, cs[ci].bias,
                     cs[ci].res == 2 ? "aliased" : cs[ci].res ? "yes" : "no");
            check(what, t, y, ref, ny, TOL);
            free(y);
        }
        free(x), free(w), free(b), free(r), free(ref);
    }
}

/* ---------------------------------------------------------------- conv2d */
static void test_conv2d(void **state)
{
    (void)state;
    struct { int n, ci, h, w, co, kh, kw, s, pt, pl, pb, pr; bool bias; int res; } cs[] = {
        {2, 3, 7, 9, 5, 3, 3, 1, 1, 1, 1, 1, true, 0},    /* 3x3 pad 1 */
        {1, 4, 9, 8, 6, 3, 3, 2, 1, 1, 1, 1, true, 1},    /* downsample, stride 2 */
        {2, 5, 6, 7, 3, 3, 3, 2, 0, 0, 1, 1, false, 0},   /* asymmetric padding */
        {3, 8, 5, 6, 4, 1, 1, 1, 0, 0, 0, 0, true, 2},    /* 1x1 direct GEMM, residual aliased */
        {1, 3, 10, 11, 2, 2, 4, 1, 0, 2, 1, 0, true, 1},  /* odd kernel */
        {1, 2, 3, 3, 3, 3, 3, 1, 2, 2, 2, 2, true, 2},    /* padding larger than the kernel reach */
        {1, 64, 128, 130, 2, 3, 3, 1, 1, 1, 1, 1, true, 0}, /* im2col chunked: K*P > scratch */
        {3, 6, 9, 7, 5, 3, 3, 1, 1, 1, 1, 1, false, 1},   /* several images per GEMM, residual */
        {4, 5, 8, 9, 4, 3, 3, 2, 1, 1, 1, 1, true, 2},    /* same, stride 2, residual aliased */
        {37, 64, 20, 20, 3, 3, 3, 1, 1, 1, 1, 1, true, 0}, /* image groups: more than fit in scratch */
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int n = cs[c].n, ci = cs[c].ci, h = cs[c].h, w = cs[c].w, co = cs[c].co, kh = cs[c].kh, kw = cs[c].kw;
        int s = cs[c].s;
        int oh = (h + cs[c].pt + cs[c].pb - kh) / s + 1, ow = (w + cs[c].pl + cs[c].pr - kw) / s + 1;
        int64_t ny = (int64_t)n * co * oh * ow;
        float *x = rnd((int64_t)n * ci * h * w, 1, 0), *wt = rnd((int64_t)co * ci * kh * kw, 0.3f, 0);
        float *b = cs[c].bias ? rnd(co, 1, 0) : NULL, *r = cs[c].res ? rnd(ny, 1, 0) : NULL;
        double *ref = dalloc(ny);
        for (int i = 0; i < n; i++)
            for (int o = 0; o < co; o++)
                for (int y = 0; y < oh; y++)
                    for (int xx = 0; xx < ow; xx++) {
                        double acc = b ? b[o] : 0;
                        for (int cc = 0; cc < ci; cc++)
                            for (int u = 0; u < kh; u++)
                                for (int v = 0; v < kw; v++) {
                                    int iy = y * s - cs[c].pt + u, ix = xx * s - cs[c].pl + v;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                                    acc += (double)wt[(((int64_t)o * ci + cc) * kh + u) * kw + v] *
                                           x[(((int64_t)i * ci + cc) * h + iy) * w + ix];
                                }
                        int64_t yi = (((int64_t)i * co + o) * oh + y) * ow + xx;
                        ref[yi] = acc + (r ? r[yi] : 0);
                    }
        for (int t = 0; t < NB; t++) {
            float *yv = cs[c].res == 2 ? dup(r, ny) : rnd(ny, 1, 0);
            vc_conv2d_args a = {x, n, ci, h, w, wt, b, co, kh, kw, s, cs[c].pt, cs[c].pl, cs[c].pb, cs[c].pr,
                                cs[c].res == 2 ? yv : r, yv};
            g_be[t]->ops->conv2d(g_be[t], &a);
            char what[96];
            snprintf(what, sizeof what, "conv2d n%d %d->%d %dx%d k%dx%d s%d pad %d,%d,%d,%d res %d", n, ci, co, h, w,
                     kh, kw, s, cs[c].pt, cs[c].pl, cs[c].pb, cs[c].pr, cs[c].res);
            check(what, t, yv, ref, ny, TOL);
            free(yv);
        }
        free(x), free(wt), free(b), free(r), free(ref);
    }
}

/* An image's result must not depend on the other images of the call: batched
 * guidance (cond + uncond in one call) has to equal two calls bit for bit. */
static void test_conv2d_batch_invariance(void **state)
{
    (void)state;
    const int h = 5, w = 8, ci = 64, co = 64, n = 8;
    const int64_t xs = (int64_t)ci * h * w, ys = (int64_t)co * h * w;
    float *x = rnd(xs * n, 1, 0), *wt = rnd((int64_t)co * ci * 9, 0.1f, 0), *b = rnd(co, 1, 0);
    float *y8 = rnd(ys * n, 1, 0), *y4 = rnd(ys * n, 1, 0);
    for (int t = 0; t < NB; t++) {
        vc_conv2d_args a = {x, n, ci, h, w, wt, b, co, 3, 3, 1, 1, 1, 1, 1, NULL, y8};
        g_be[t]->ops->conv2d(g_be[t], &a);
        a.n = 4, a.y = y4;
        g_be[t]->ops->conv2d(g_be[t], &a);
        a.n = 3, a.x = x + 4 * xs, a.y = y4 + 4 * ys;
        g_be[t]->ops->conv2d(g_be[t], &a);
        a.n = 1, a.x = x + 7 * xs, a.y = y4 + 7 * ys;
        g_be[t]->ops->conv2d(g_be[t], &a);
        assert_memory_equal(y8, y4, (size_t)(ys * n) * sizeof(float));
    }
    print_message("  conv2d: 8 images in one call == 4 + 3 + 1, bitwise (1, 2, 3 threads)\n");
    free(x), free(wt), free(b), free(y8), free(y4);
}

/* --------------------------------------------------------- conv_temporal */
static void test_conv_temporal(void **state)
{
    (void)state;
    struct { int B, ci, T, co, kt; int64_t S; bool bias; int res; } cs[] = {
        {2, 5, 7, 6, 3, 11, true, 0}, {1, 8, 1, 3, 3, 5, true, 1}, {2, 3, 6, 4, 1, 9, false, 0},
        {1, 4, 9, 4, 5, 3, true, 2}, {1, 6, 16, 6, 3, 40, false, 2}, {2, 3, 2, 5, 5, 7, true, 1},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int B = cs[c].B, ci = cs[c].ci, T = cs[c].T, co = cs[c].co, kt = cs[c].kt;
        int64_t S = cs[c].S, ny = (int64_t)B * co * T * S;
        float *x = rnd((int64_t)B * ci * T * S, 1, 0), *w = rnd((int64_t)co * ci * kt, 0.3f, 0);
        float *b = cs[c].bias ? rnd(co, 1, 0) : NULL, *r = cs[c].res ? rnd(ny, 1, 0) : NULL;
        double *ref = dalloc(ny);
        for (int bb = 0; bb < B; bb++)
            for (int o = 0; o < co; o++)
                for (int t = 0; t < T; t++)
                    for (int64_t s = 0; s < S; s++) {
                        double acc = b ? b[o] : 0;
                        for (int cc = 0; cc < ci; cc++)
                            for (int tau = 0; tau < kt; tau++) {
                                int ts = t + tau - kt / 2;
                                if (ts < 0 || ts >= T) continue;
                                acc += (double)w[((int64_t)o * ci + cc) * kt + tau] *
                                       x[(((int64_t)bb * T + ts) * ci + cc) * S + s]; /* folded [B,T,ci,S] */
                            }
                        int64_t yi = (((int64_t)bb * T + t) * co + o) * S + s;
                        ref[yi] = acc + (r ? r[yi] : 0);
                    }
        for (int t = 0; t < NB; t++) {
            float *y = cs[c].res == 2 ? dup(r, ny) : rnd(ny, 1, 0);
            g_be[t]->ops->conv_temporal(g_be[t], x, B, ci, T, S, w, b, co, kt, cs[c].res == 2 ? y : r, y);
            char what[96];
            snprintf(what, sizeof what, "conv_temporal B%d %d->%d T%d S%lld kt%d res %d", B, ci, co, T, (long long)S,
                     kt, cs[c].res);
            check(what, t, y, ref, ny, TOL);
            free(y);
        }
        free(x), free(w), free(b), free(r), free(ref);
    }
}

/* ------------------------------------------------------------------ norms */
static void test_group_norm(void **state)
{
    (void)state;
    /* frames > 1: folded videos [n, frames, C, S], statistics over all frames;
     * bias_group > 0: an input bias in_bias[(i / bias_group) * C + c] */
    struct { int n, F, C, G; int64_t S; bool silu, inplace, affine; float off; int bias_group; } cs[] = {
        {2, 1, 8, 4, 13, false, false, true, 0.0f, 0},   {1, 1, 64, 32, 101, true, true, true, 3.0f, 0},
        {3, 1, 6, 3, 1, true, false, false, 0.0f, 0},    {1, 1, 32, 32, 5000, false, true, true, 100.0f, 0},
        {2, 1, 96, 32, 257, true, false, true, -0.5f, 0}, {2, 5, 64, 32, 37, true, false, true, 1.0f, 0},
        {1, 16, 32, 32, 40, false, true, true, 50.0f, 0}, {3, 2, 6, 3, 1, true, true, false, 0.0f, 0},
        {6, 1, 64, 32, 45, true, true, true, 0.0f, 3},   {2, 4, 32, 16, 23, true, false, true, 2.0f, 2},
        {4, 1, 6, 3, 9, false, false, false, 0.0f, 1},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int n = cs[c].n, F = cs[c].F, C = cs[c].C, G = cs[c].G, bg = cs[c].bias_group;
        int64_t S = cs[c].S, N = (int64_t)n * F * C * S, cpg = C / G;
        float *x = rnd(N, 2, cs[c].off);
        float *ga = cs[c].affine ? rnd(C, 1, 1) : NULL, *be = cs[c].affine ? rnd(C, 1, 0) : NULL;
        float *ib = bg ? rnd((int64_t)(n + bg - 1) / bg * C, 3, 0) : NULL;
        double *ref = dalloc(N);
        for (int i = 0; i < n; i++)
            for (int g = 0; g < G; g++) {
                /* element k of frame f of the group: x[((i F + f) C + g cpg) S + k], plus its input bias */
#define GN_AT(f, k) ((((int64_t)i * F + (f)) * C + g * cpg) * S + (k))
#define GN_X(f, k) ((double)(ib ? x[GN_AT(f, k)] + ib[(i / bg) * C + g * cpg + (k) / S] : x[GN_AT(f, k)]))
                double m = 0, v = 0;
                for (int f = 0; f < F; f++)
                    for (int64_t k = 0; k < cpg * S; k++) m += GN_X(f, k);
                m /= (double)(cpg * S * F);
                for (int f = 0; f < F; f++)
                    for (int64_t k = 0; k < cpg * S; k++) v += (GN_X(f, k) - m) * (GN_X(f, k) - m);
                v /= (double)(cpg * S * F);
                for (int f = 0; f < F; f++)
                    for (int64_t cc = 0; cc < cpg; cc++)
                        for (int64_t s = 0; s < S; s++) {
                            int64_t ch = g * cpg + cc, k = cc * S + s;
                            double yv = (GN_X(f, k) - m) / sqrt(v + 1e-5) * (ga ? ga[ch] : 1) + (be ? be[ch] : 0);
                            if (cs[c].silu) yv = yv / (1 + exp(-yv));
                            ref[GN_AT(f, k)] = yv;
                        }
#undef GN_X
#undef GN_AT
            }
        float *first = NULL;
        for (int t = 0; t <= NB; t++) {
            float *y = cs[c].inplace ? dup(x, N) : rnd(N, 1, 0);
            const vc_group_norm_args a = {
                .x = cs[c].inplace ? y : x, .y = y, .n = n, .frames = F, .C = C, .G = G, .S = S, .gamma = ga,
                .beta = be, .eps = 1e-5f, .silu = cs[c].silu, .in_bias = ib, .bias_group = bg,
            };
            g_be[t]->ops->group_norm(g_be[t], &a);
            if (t == NB) {
                check("  (portable kernels)", 0, y, ref, N, TOL);
                free(y);
                continue;
            }
            char what[128];
            snprintf(what, sizeof what, "group_norm n%d frames %d C%d G%d S%lld silu %d inplace %d mean %g bias/%d", n,
                     F, C, G, (long long)S, cs[c].silu, cs[c].inplace, cs[c].off, bg);
            check(what, t, y, ref, N, TOL);
            if (t == 0) first = y;
            else {
                same(what, t, y, first, N);
                free(y);
            }
        }
        free(ib);
        free(first), free(x), free(ga), free(be), free(ref);
    }
}

static void test_layer_norm(void **state)
{
    (void)state;
    struct { int64_t rows; int D; bool inplace; float off; } cs[] = {
        {1, 7, false, 0}, {77, 64, true, 2}, {33, 1024, false, 50}, {5, 1, false, 0},
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int64_t R = cs[c].rows, N = R * cs[c].D;
        int D = cs[c].D;
        float *x = rnd(N, 1, cs[c].off), *ga = rnd(D, 1, 1), *be = rnd(D, 1, 0);
        double *ref = dalloc(N);
        for (int64_t r = 0; r < R; r++) {
            double m = 0, v = 0;
            for (int i = 0; i < D; i++) m += x[r * D + i];
            m /= D;
            for (int i = 0; i < D; i++) v += (x[r * D + i] - m) * (x[r * D + i] - m);
            v /= D;
            for (int i = 0; i < D; i++) ref[r * D + i] = (x[r * D + i] - m) / sqrt(v + 1e-5) * ga[i] + be[i];
        }
        float *first = NULL;
        for (int t = 0; t <= NB; t++) {
            float *y = cs[c].inplace ? dup(x, N) : rnd(N, 1, 0);
            g_be[t]->ops->layer_norm(g_be[t], cs[c].inplace ? y : x, y, R, D, ga, be, 1e-5f);
            if (t == NB) {
                check("  (portable kernels)", 0, y, ref, N, TOL);
                free(y);
                continue;
            }
            char what[96];
            snprintf(what, sizeof what, "layer_norm %lldx%d inplace %d mean %g", (long long)R, D, cs[c].inplace,
                     cs[c].off);
            check(what, t, y, ref, N, TOL);
            if (t == 0) first = y;
            else {
                same(what, t, y, first, N);
                free(y);
            }
        }
        free(first), free(x), free(ga), free(be), free(ref);
    }
}

/* -------------------------------------------------------------- attention */
typedef struct attn_case {
    int n_seq, heads, lq, lk, d, kv_group, rel_max;
    bool rel, causal, accumulate, packed; /* packed: q, k, v interleaved in one [tok, 3*heads*d] buffer */
    float qscale;
} attn_case;

static void attn_ref(const vc_attn_args *a, const float *o0, double *ref, int64_t no)
{
    for (int64_t i = 0; i < no; i++) ref[i] = o0[i]; /* padding between rows is left alone */
    double *sc = dalloc(a->lk);
    for (int s = 0; s < a->n_seq; s++)
        for (int h = 0; h < a->heads; h++)
            for (int i = 0; i < a->lq; i++) {
                const float *q = a->q + s * a->q_seq + i * a->q_tok + h * a->d;
                int kvs = s / a->kv_group;
                double mx = -INFINITY;
                for (int j = 0; j < a->lk; j++) {
                    if (a->causal && j > i) {
                        sc[j] = -INFINITY;
                        continue;
                    }
                    const float *k = a->k + kvs * a->k_seq + j * a->k_tok + h * a->d;
                    double dk = 0, dr = 0;
                    for (int c = 0; c < a->d; c++) dk += (double)q[c] * k[c];
                    if (a->rel_k) {
                        int r = j - i < -a->rel_max ? -a->rel_max : j - i > a->rel_max ? a->rel_max : j - i;
                        for (int c = 0; c < a->d; c++) dr += (double)q[c] * a->rel_k[(r + a->rel_max) * a->d + c];
                    }
                    sc[j] = dk * a->scale + dr * a->scale;
                    if (sc[j] > mx) mx = sc[j];
                }
                double sum = 0;
                for (int j = 0; j < a->lk; j++) {
                    sc[j] = sc[j] == -INFINITY ? 0 : exp(sc[j] - mx);
                    sum += sc[j];
                }
                double *o = ref + s * a->o_seq + i * a->o_tok + h * a->d;
                if (!a->accumulate)
                    for (int c = 0; c < a->d; c++) o[c] = 0.0;
                for (int j = 0; j < a->lk; j++) {
                    double p = sc[j] / sum;
                    const float *v = a->v + kvs * a->v_seq + j * a->v_tok + h * a->d;
                    int r = j - i < -a->rel_max ? -a->rel_max : j - i > a->rel_max ? a->rel_max : j - i;
                    for (int c = 0; c < a->d; c++) {
                        o[c] += p * v[c];
                        if (a->rel_v) o[c] += p * a->rel_v[(r + a->rel_max) * a->d + c];
                    }
                }
            }
    free(sc);
}

static void test_attention(void **state)
{
    (void)state;
    attn_case cs[] = {
        {2, 2, 5, 7, 8, 1, 0, false, false, false, false, 1.0f},
        {1, 3, 70, 130, 16, 1, 0, false, false, false, true, 3.0f},    /* lk not a multiple of the tile, packed qkv */
        {4, 2, 1, 77, 64, 2, 0, false, false, true, false, 1.0f},      /* lq = 1, kv_group 2, accumulate */
        {6, 2, 33, 16, 32, 3, 0, false, false, false, false, 2.0f},    /* cross-attention shape, kv shared by 3 */
        {3, 2, 20, 20, 16, 1, 4, true, false, false, true, 2.0f},      /* rel-pos, T = 20 > M = 4: clamp binds */
        {2, 1, 16, 16, 16, 1, 16, true, false, true, false, 1.0f},     /* rel-pos as in the models, accumulate */
        {2, 2, 67, 67, 8, 1, 0, false, true, false, false, 4.0f},      /* causal across several tiles */
        {1, 2, 9, 9, 4, 1, 2, true, true, false, false, 1.0f},         /* rel-pos + causal */
        {1, 1, 130, 129, 80, 1, 0, false, false, false, false, 5.0f},  /* d = 80 (ViT-H) */
    };
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        attn_case *k = &cs[c];
        int hd = k->heads * k->d, nkv = k->n_seq / k->kv_group;
        vc_attn_args a = {0};
        float *qbuf, *kbuf = NULL, *vbuf = NULL;
        if (k->packed) {
            /* [seq, tok, 3*hd]; q, k, v at offsets 0, hd, 2*hd; lq == lk required */
            int L = k->lq > k->lk ? k->lq : k->lk;
            qbuf = rnd((int64_t)k->n_seq * L * 3 * hd, k->qscale, 0);
            a.q = qbuf, a.k = qbuf + hd, a.v = qbuf + 2 * hd;
            a.q_tok = a.k_tok = a.v_tok = 3 * hd;
            a.q_seq = a.k_seq = a.v_seq = (int64_t)L * 3 * hd;
        } else {
            qbuf = rnd((int64_t)k->n_seq * k->lq * hd, k->qscale, 0);
            kbuf = rnd((int64_t)nkv * k->lk * hd, 1, 0);
            vbuf = rnd((int64_t)nkv * k->lk * hd, 1, 0);
            a.q = qbuf, a.k = kbuf, a.v = vbuf;
            a.q_tok = a.k_tok = a.v_tok = hd;
            a.q_seq = (int64_t)k->lq * hd, a.k_seq = a.v_seq = (int64_t)k->lk * hd;
        }
        float *rk = NULL, *rv = NULL;
        if (k->rel) {
            rk = rnd((int64_t)(2 * k->rel_max + 1) * k->d, 1, 0);
            rv = rnd((int64_t)(2 * k->rel_max + 1) * k->d, 1, 0);
        }
        a.n_seq = k->n_seq, a.heads = k->heads, a.lq = k->lq, a.lk = k->lk, a.d = k->d, a.kv_group = k->kv_group;
        a.o_tok = hd + 3; /* output rows padded: tests o_tok / o_seq */
        a.o_seq = (int64_t)k->lq * a.o_tok + 5;
        a.scale = 1.0f / sqrtf((float)k->d);
        a.rel_k = rk, a.rel_v = rv, a.rel_max = k->rel_max, a.causal = k->causal, a.accumulate = k->accumulate;
        int64_t no = k->n_seq * a.o_seq;
        float *o0 = rnd(no, 1, 0);
        double *ref = dalloc(no);
        attn_ref(&a, o0, ref, no);
        float *first = NULL;
        for (int t = 0; t <= NB; t++) {
            float *o = dup(o0, no);
            a.o = o;
            g_be[t]->ops->attention(g_be[t], &a);
            if (t == NB) { /* portable kernels: other rounding, same tolerance */
                check("  (portable kernels)", 0, o, ref, no, TOL);
                free(o);
                continue;
            }
            char what[128];
            snprintf(what, sizeof what, "attention s%d h%d lq%d lk%d d%d g%d rel %d/M%d causal %d acc %d", k->n_seq,
                     k->heads, k->lq, k->lk, k->d, k->kv_group, k->rel, k->rel_max, k->causal, k->accumulate);
            check(what, t, o, ref, no, TOL);
            if (t == 0) first = o;
            else {
                same(what, t, o, first, no);
                free(o);
            }
        }
        free(first), free(o0), free(ref), free(qbuf), free(kbuf), free(vbuf), free(rk), free(rv);
    }
}

/* ------------------------------------------------------------ elementwise */
static void test_elementwise(void **state)
{
    (void)state;
    int64_t sizes[] = {1, 17, 40000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int64_t n = sizes[si];
        float *x = rnd(n, 6, 0), *x2 = rnd(n, 3, 0);
        /* keep max|ref| O(1): gelu's 1 + erf(x) cancels for x << 0 (as in PyTorch) */
        x[0] = 2.0f;
        double *ref = dalloc(n);
        for (int op = 0; op < 6; op++) {
            float *first = NULL;
            static const char *names[] = {"silu", "gelu", "add", "axpby", "scale", "fill"};
            for (int64_t i = 0; i < n; i++) {
                double v = x[i];
                switch (op) {
                case 0: ref[i] = v / (1 + exp(-v)); break;
                case 1: ref[i] = 0.5 * v * (1 + erf(v / sqrt(2.0))); break;
                case 2: ref[i] = v + x2[i]; break;
                case 3: ref[i] = 0.75 * v + -1.5 * x2[i]; break;
                case 4: ref[i] = v * 0.3f; break;
                default: ref[i] = 2.5; break;
                }
            }
            for (int t = 0; t < NB; t++) {
                vc_backend *be = g_be[t];
                float *y = dup(x2, n);
                bool inplace = t == 2; /* the 3-thread run works in place where the op allows */
                float *src = inplace ? dup(x, n) : (float *)x;
                if (inplace && op != 3) {
                    free(y);
                    y = src;
                }
                switch (op) {
                case 0: be->ops->silu(be, src, y, n); break;
                case 1: be->ops->gelu(be, src, y, n); break;
                case 2: be->ops->add(be, src, x2, y, n); break;
                case 3: be->ops->axpby(be, 0.75f, src, -1.5f, y, n); break;
                case 4: be->ops->scale(be, src, 0.3f, y, n); break;
                default: be->ops->fill(be, y, 2.5f, n); break;
                }
                char what[64];
                snprintf(what, sizeof what, "%s n%lld", names[op], (long long)n);
                check(what, t, y, ref, n, TOL);
                if (t == 0) first = y;
                else {
                    same(what, t, y, first, n);
                    free(y);
                }
                if (inplace && op == 3) free(src);
            }
            free(first);
        }
        free(x), free(x2), free(ref);
    }
}

static void test_geglu(void **state)
{
    (void)state;
    struct { int64_t rows; int inner; } cs[] = {{1, 5}, {7, 33}, {300, 64}, {3, 10000}};
    for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
        int64_t R = cs[c].rows, inner = cs[c].inner;
        float *x = rnd(R * 2 * inner, 4, 0);
        double *ref = dalloc(R * inner);
        for (int64_t r = 0; r < R; r++)
            for (int64_t i = 0; i < inner; i++) {
                double g = x[r * 2 * inner + inner + i];
                ref[r * inner + i] = x[r * 2 * inner + i] * 0.5 * g * (1 + erf(g / sqrt(2.0)));
            }
        float *first = NULL;
        for (int t = 0; t < NB; t++) {
            for (int inplace = 0; inplace < 2; inplace++) {
                float *buf = dup(x, R * 2 * inner);
                float *y = inplace ? buf : malloc((size_t)(R * inner) * sizeof(float));
                g_be[t]->ops->geglu(g_be[t], buf, y, R, (int32_t)inner);
                char what[64];
                snprintf(what, sizeof what, "geglu %lldx%lld inplace %d", (long long)R, (long long)inner, inplace);
                check(what, t, y, ref, R * inner, TOL);
                if (!first) first = dup(y, R * inner);
                else same(what, 1, y, first, R * inner);
                if (!inplace) free(y);
                free(buf);
            }
        }
        free(first), free(x), free(ref);
    }
}

static void test_layout_ops(void **state)
{
    (void)state;
    /* add_channel */
    {
        int64_t n = 3, S = 37;
        int32_t C = 5, vs = 9;
        float *x = rnd(n * C * S, 1, 0), *v = rnd(n * vs, 1, 0);
        double *ref = dalloc(n * C * S);
        for (int64_t i = 0; i < n * C * S; i++) ref[i] = (float)(x[i] + v[(i / (C * S)) * vs + (i / S) % C]);
        for (int t = 0; t < NB; t++) {
            float *y = dup(x, n * C * S);
            g_be[t]->ops->add_channel(g_be[t], y, v, n, C, S, vs);
            check("add_channel", t, y, ref, n * C * S, 0);
            free(y);
        }
        free(x), free(v), free(ref);
    }
    /* permute, ndim 1..6 */
    {
        struct { int nd; int64_t sh[6]; int32_t p[6]; } cs[] = {
            {1, {7}, {0}},
            {2, {5, 9}, {1, 0}},
            {3, {2, 3, 4}, {0, 2, 1}},
            {4, {2, 3, 5, 7}, {0, 2, 1, 3}},     /* fold/unfold [B,C,T,S] <-> [B,T,C,S] */
            {4, {2, 6, 5, 9}, {0, 3, 2, 1}},
            {5, {2, 3, 4, 5, 6}, {4, 0, 3, 1, 2}},
            {6, {2, 3, 2, 3, 2, 5}, {5, 4, 3, 2, 1, 0}},
        };
        for (size_t c = 0; c < sizeof cs / sizeof cs[0]; c++) {
            int nd = cs[c].nd;
            int64_t n = 1, istr[6], ostr[6], osh[6];
            for (int k = 0; k < nd; k++) n *= cs[c].sh[k];
            for (int k = nd - 1, s = 1; k >= 0; k--) istr[k] = s, s *= (int)cs[c].sh[k];
            for (int k = 0; k < nd; k++) osh[k] = cs[c].sh[cs[c].p[k]];
            for (int k = nd - 1, s = 1; k >= 0; k--) ostr[k] = s, s *= (int)osh[k];
            float *x = rnd(n, 1, 0);
            double *ref = dalloc(n);
            for (int64_t o = 0; o < n; o++) {
                int64_t rem = o, off = 0;
                for (int k = 0; k < nd; k++) {
                    int64_t idx = rem / ostr[k];
                    rem %= ostr[k];
                    off += idx * istr[cs[c].p[k]];
                }
                ref[o] = x[off];
            }
            for (int t = 0; t < NB; t++) {
                float *y = rnd(n, 1, 0);
                g_be[t]->ops->permute(g_be[t], x, y, nd, cs[c].sh, cs[c].p);
                char what[64];
                snprintf(what, sizeof what, "permute ndim %d", nd);
                check(what, t, y, ref, n, 0);
                free(y);
            }
            free(x), free(ref);
        }
    }
    /* upsample_nearest2x */
    {
        int64_t nc = 6;
        int32_t h = 5, w = 7;
        float *x = rnd(nc * h * w, 1, 0);
        double *ref = dalloc(nc * 4 * h * w);
        for (int64_t p = 0; p < nc; p++)
            for (int i = 0; i < 2 * h; i++)
                for (int j = 0; j < 2 * w; j++) ref[(p * 2 * h + i) * 2 * w + j] = x[(p * h + i / 2) * w + j / 2];
        for (int t = 0; t < NB; t++) {
            float *y = rnd(nc * 4 * h * w, 1, 0);
            g_be[t]->ops->upsample_nearest2x(g_be[t], x, y, nc, h, w);
            check("upsample_nearest2x", t, y, ref, nc * 4 * h * w, 0);
            free(y);
        }
        free(x), free(ref);
    }
    /* concat_channels, copy, upload, download */
    {
        int64_t n = 3, S = 11;
        int32_t ca = 2, cb = 5;
        float *a = rnd(n * ca * S, 1, 0), *b = rnd(n * cb * S, 1, 0);
        int64_t ny = n * (ca + cb) * S;
        double *ref = dalloc(ny);
        for (int64_t i = 0; i < n; i++)
            for (int64_t k = 0; k < (ca + cb) * S; k++)
                ref[i * (ca + cb) * S + k] = k < ca * S ? a[i * ca * S + k] : b[i * cb * S + k - ca * S];
        for (int t = 0; t < NB; t++) {
            vc_backend *be = g_be[t];
            float *y = rnd(ny, 1, 0), *z = be->ops->alloc(be, (size_t)ny * sizeof(float)), *w = rnd(ny, 1, 0);
            assert_non_null(z);
            assert_int_equal((uintptr_t)z % 64, 0);
            be->ops->concat_channels(be, a, ca, b, cb, y, n, S);
            check("concat_channels", t, y, ref, ny, 0);
            be->ops->upload(be, z, y, (size_t)ny * sizeof(float));
            be->ops->copy(be, y, z, (size_t)ny * sizeof(float));
            be->ops->download(be, w, y, (size_t)ny * sizeof(float));
            check("upload/copy/download", t, w, ref, ny, 0);
            be->ops->free(be, z);
            free(y), free(w);
        }
        free(a), free(b), free(ref);
    }
}

/* ------------------------------------------------------------------ arena */
/* Bit-equal, except that NaN only has to stay NaN (F16C quiets signalling NaNs). */
static void assert_same_floats(const float *a, const float *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (memcmp(&a[i], &b[i], 4) != 0) fail_msg("element %lld: %a vs %a", (long long)i, (double)a[i], (double)b[i]);
    }
}

/* Half -> float widening (half-resident weights): exact, so bit-equal to the
 * scalar conversion for every pattern kind (normals, subnormals, +-0, inf,
 * NaN), any thread count, the SIMD and portable kernels, and the host
 * fallback used by backends without a widen op. */
static void test_widen(void **state)
{
    (void)state;
    const int64_t n = 70003;
    uint16_t *h = malloc((size_t)n * sizeof *h);
    float *ref = malloc((size_t)n * sizeof *ref), *out = malloc((size_t)n * sizeof *out);
    assert_non_null(h);
    assert_non_null(ref);
    assert_non_null(out);
    for (int64_t i = 0; i < n; i++) h[i] = (uint16_t)(i * 40503u + (uint32_t)(i >> 3)); /* all patterns */
    h[0] = 0x0000, h[1] = 0x8000, h[2] = 0x7c00, h[3] = 0xfc00, h[4] = 0x7e00, h[5] = 0x0001, h[6] = 0x03ff;
    const vc_dtype dts[2] = {VC_DTYPE_F16, VC_DTYPE_BF16};
    for (int d = 0; d < 2; d++) {
        vc_half_to_f32(h, dts[d], ref, n);
        if (dts[d] == VC_DTYPE_F16) {
            assert_true(ref[5] == 0x1p-24f && ref[6] == 1023 * 0x1p-24f && isinf(ref[2]) && isnan(ref[4]));
            assert_true(ref[1] == 0.0f && signbit(ref[1]));
        } else {
            uint32_t u = (uint32_t)h[9] << 16;
            float f;
            memcpy(&f, &u, 4);
            assert_memory_equal(&f, &ref[9], 4);
        }
        for (int b = 0; b <= NB; b++) {
            memset(out, 0xA5, (size_t)n * sizeof *out);
            g_be[b]->ops->widen(g_be[b], out, h, dts[d], n);
            assert_same_floats(out, ref, n);
        }
        vc_backend_ops no_widen = *g_be[1]->ops;
        no_widen.widen = NULL;
        vc_backend fake = *g_be[1];
        fake.ops = &no_widen;
        memset(out, 0xA5, (size_t)n * sizeof *out);
        vc_backend_widen(&fake, out, h, dts[d], n);
        assert_same_floats(out, ref, n);
    }
    /* and the narrowing at load (vc_f32_to_half, F16C where present) rounds like the scalar code */
    float *f = malloc((size_t)n * sizeof *f);
    uint16_t *a = malloc((size_t)n * sizeof *a);
    assert_non_null(f);
    assert_non_null(a);
    for (int64_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)(i * 2654435761u) ^ (uint32_t)(i << 7); /* every exponent, halfway mantissas */
        memcpy(&f[i], &u, 4);
    }
    f[0] = 65520.0f, f[1] = -0.0f, f[2] = 0x1p-25f, f[3] = 0x1.8p-24f, f[4] = 1.0f + 0x1p-11f, f[5] = NAN;
    for (int d = 0; d < 2; d++) {
        vc_f32_to_half(f, dts[d], a, n);
        for (int64_t i = 0; i < n; i++) {
            uint16_t want = dts[d] == VC_DTYPE_F16 ? vc_f32_to_f16(f[i]) : vc_f32_to_bf16(f[i]);
            if (isnan(f[i])) {
                float back;
                vc_half_to_f32(&a[i], dts[d], &back, 1);
                assert_true(isnan(back));
            } else if (a[i] != want) {
                fail_msg("narrow %s of %a: 0x%04x, want 0x%04x", d ? "bf16" : "f16", (double)f[i], a[i], want);
            }
        }
    }
    free(f);
    free(a);
    print_message("  widen f16/bf16, %lld elements: bit-exact on 1-3 threads, portable and host fallback; "
                  "narrowing equals the scalar rounding\n", (long long)n);
    free(h);
    free(ref);
    free(out);
}

static void test_arena(void **state)
{
    (void)state;
    vc_backend *be = g_be[1];
    size_t m0 = vc_arena_mark(be);
    assert_int_equal(m0, 0);
    float *a = vc_arena_floats(be, 100);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 64, 0);
    size_t m1 = vc_arena_mark(be);
    assert_true(m1 >= 400);
    char *b = vc_arena_alloc(be, 1);
    assert_non_null(b);
    assert_int_equal((uintptr_t)b % 64, 0);
    assert_true(b >= (char *)(a + 100));
    memset(a, 1, 400);
    b[0] = 7;
    size_t peak = be->arena.peak;
    assert_true(peak >= vc_arena_mark(be));
    vc_arena_release(be, m1);
    assert_int_equal(vc_arena_mark(be), m1);
    char *b2 = vc_arena_alloc(be, 1);
    assert_ptr_equal(b, b2); /* released memory is reused */
    vc_arena_release(be, m0);
    /* a request bigger than the block: a new block; small ones after release reuse the first */
    size_t big = ((size_t)64 << 20) + 4096;
    char *c = vc_arena_alloc(be, big);
    assert_non_null(c);
    c[big - 1] = 1;
    assert_true(be->arena.peak >= big);
    size_t pk = be->arena.peak;
    vc_arena_release(be, m0);
    float *d = vc_arena_floats(be, 10);
    assert_ptr_equal(d, a);
    vc_arena_release(be, m0);
    c = vc_arena_alloc(be, big);
    assert_non_null(c);
    assert_int_equal(be->arena.peak, pk); /* same layout again: no growth */
    vc_arena_release(be, m0);
    assert_null(vc_arena_floats(be, -1));
    assert_null(vc_arena_floats(be, INT64_MAX));
    assert_int_equal(vc_arena_mark(be), m0);
    assert_int_equal(vc_context_peak_bytes(g_ctx[1]), be->arena.peak);
}

/* cpu-checked: its memory is not host-addressable, its results are the CPU
 * backend's, and host memory where backend memory belongs is reported by sync. */
static void test_checked_backend(void **state)
{
    (void)state;
    vc_context_params p;
    vc_context_default_params(&p);
    p.backend = "cpu-checked";
    p.log_level = VC_LOG_NONE;
    vc_context *ctx = NULL;
    assert_int_equal(vc_context_create(&p, &ctx), VC_STATUS_OK);
    assert_string_equal(vc_context_backend(ctx), "cpu-checked");
    vc_backend *be = ctx->backend, *cpu = g_be[1];
    enum { N = 1000 };
    float x[N], y[N], ref[N];
    for (int i = 0; i < N; i++) x[i] = (float)i * 0.01f - 3.0f;
    float *dx = be->ops->alloc(be, sizeof x), *dy = vc_arena_floats(be, N);
    assert_non_null(dx);
    assert_non_null(dy);
    assert_true(((uintptr_t)dx >> 62) == 1 && ((uintptr_t)dy >> 62) == 1); /* faults if the host touches it */
    be->ops->upload(be, dx, x, sizeof x);
    be->ops->silu(be, dx, dy, N);
    be->ops->download(be, y, dy, sizeof y);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    cpu->ops->silu(cpu, x, ref, N);
    assert_memory_equal(y, ref, sizeof y);

    be->ops->silu(be, x, dy, N); /* host input where an activation belongs */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "silu: x is host memory"));
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK); /* reported once */
    be->ops->download(be, y, x, sizeof y);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "download: src is host memory"));
    be->ops->upload(be, dx, dy, sizeof x);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "upload: src is backend memory"));

    /* transient buffers: only the listed ops touch them; once cleared, their
     * memory must be rewritten before anything reads it */
    float *t = vc_arena_floats(be, N), *u = vc_arena_floats(be, N);
    assert_non_null(t);
    assert_non_null(u);
    be->ops->transient(be, t, N);
    be->ops->silu(be, dx, t, N);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "silu: y is in a transient buffer"));
    be->ops->layer_norm(be, dx, t, 10, N / 10, NULL, NULL, 1e-5f);
    be->ops->linear(be, t, 10, N / 10, x, NULL, 10, NULL, u); /* x: a host weight [10, 100] */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    be->ops->transient(be, NULL, 0);
    be->ops->silu(be, t, u, N);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "silu: x reads a transient buffer after its mark was cleared"));
    be->ops->fill(be, t, 1.0f, N / 2); /* the first half rewritten: floats again */
    be->ops->silu(be, t, u, N / 2);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    be->ops->scale(be, t + N / 2, 2.0f, u, N / 2); /* the second half is still stale */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "scale: x reads a transient buffer"));
    be->ops->scale(be, u, 2.0f, t + N / 2, N / 2);
    be->ops->add(be, t, t + N / 2, u, N / 2);
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    /* marks nest: transient(NULL, 1) keeps the first */
    be->ops->transient(be, t, N / 2);
    be->ops->transient(be, u, N);
    be->ops->transient(be, NULL, 1);
    be->ops->silu(be, dx, u, N); /* u's mark is gone: it may be written */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    be->ops->silu(be, dx, t, N / 2); /* t's stays */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "silu: y is in a transient buffer"));
    be->ops->transient(be, NULL, 0);
    /* writes of a transient y that backend.h's vc_transient_*_refusal refuses
     * (the CUDA backend cannot do them) */
    float *tk = vc_arena_floats(be, N), *tv = vc_arena_floats(be, N);
    assert_non_null(tk);
    assert_non_null(tv);
    be->ops->fill(be, tk, 0.5f, N);
    be->ops->fill(be, tv, 0.25f, N);
    be->ops->transient(be, tk, N);
    be->ops->linear(be, dx, 10, N / 10, x, NULL, 10, tv, tk); /* a separate residual */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "linear: a transient y written with a separate residual"));
    be->ops->linear(be, dx, 10, N / 10, x, NULL, 10, tk, tk); /* accumulating into itself: allowed */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_OK);
    const vc_attn_args mixed = {.q = tv, .k = tk, .v = tv, .o = tv + N / 2, .n_seq = 1, .heads = 1, .lq = 2, .lk = 2,
                                .d = 4, .kv_group = 1, .q_tok = 4, .k_tok = 4, .v_tok = 4, .o_tok = 4, .scale = 0.5f};
    be->ops->attention(be, &mixed); /* keys transient, values not */
    assert_int_equal(vc_backend_sync(be), VC_STATUS_BACKEND_ERROR);
    assert_non_null(strstr(vc_context_errmsg(ctx), "attention: keys and values not both transient"));
    be->ops->transient(be, NULL, 0);
    be->ops->free(be, dx);
    vc_context_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm),          cmocka_unit_test(test_linear),
        cmocka_unit_test(test_conv2d),        cmocka_unit_test(test_conv2d_batch_invariance),
        cmocka_unit_test(test_linear_strided),
        cmocka_unit_test(test_conv_temporal),
        cmocka_unit_test(test_group_norm),    cmocka_unit_test(test_layer_norm),
        cmocka_unit_test(test_attention),     cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_geglu),         cmocka_unit_test(test_layout_ops),
        cmocka_unit_test(test_arena),         cmocka_unit_test(test_widen),
        cmocka_unit_test(test_checked_backend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
