/* bench_kernels.c - the CPU backend's kernels at the UNet's real sizes
 * (320x512 video: latent 40x64, 2560 tokens per frame), against the sgemm peak. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/internal.h"
#include "backend/backend.h"

static vc_backend *be;

static float *buf(int64_t n)
{
    float *p = be->ops->alloc(be, (size_t)n * sizeof(float));
    if (!p) {
        fprintf(stderr, "out of memory (%lld floats)\n", (long long)n);
        exit(1);
    }
    uint32_t s = 12345u + (uint32_t)n;
    for (int64_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        p[i] = ((float)(s >> 8) / 16777216.0f - 0.5f);
    }
    return p;
}

/* ---------------------------------------------------------------- conv2d */
static void conv_fn(void *arg) { be->ops->conv2d(be, arg); }

static void bench_conv(const char *name, int n, int ci, int co, int h, int w, int k, int stride)
{
    if (!bench_want(name)) return;
    int pad = k / 2;
    vc_conv2d_args a = {0};
    a.n = n, a.ci = ci, a.h = h, a.w = w, a.co = co, a.kh = a.kw = k, a.stride = stride;
    a.pad_top = a.pad_left = a.pad_bottom = a.pad_right = pad;
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    float *x = buf((int64_t)n * ci * h * w), *wt = buf((int64_t)co * ci * k * k), *b = buf(co);
    float *y = buf((int64_t)n * co * oh * ow);
    a.x = x, a.weight = wt, a.bias = b, a.y = y;
    double t = bench_time(conv_fn, &a, 3);
    bench_add(name, t, 2.0 * co * (double)ci * k * k * oh * ow * n * 1e-9, 0);
    be->ops->free(be, x), be->ops->free(be, wt), be->ops->free(be, b), be->ops->free(be, y);
}

/* --------------------------------------------------------- conv_temporal */
typedef struct ct_run {
    float *x, *w, *b, *y;
    int B, C, T;
    int64_t S;
} ct_run;

static void ct_fn(void *arg)
{
    ct_run *r = arg;
    be->ops->conv_temporal(be, r->x, r->B, r->C, r->T, r->S, r->w, r->b, r->C, 3, r->y, r->y);
}

/* ------------------------------------------------------------- attention */
static void attn_fn(void *arg) { be->ops->attention(be, arg); }

static void bench_attn(const char *name, int n_seq, int heads, int lq, int lk, int d, int kv_group, int rel_max)
{
    if (!bench_want(name)) return;
    int hd = heads * d;
    vc_attn_args a = {0};
    float *q = buf((int64_t)n_seq * lq * hd), *k = buf((int64_t)n_seq / kv_group * lk * hd);
    float *v = buf((int64_t)n_seq / kv_group * lk * hd), *o = buf((int64_t)n_seq * lq * hd);
    float *rk = rel_max ? buf((int64_t)(2 * rel_max + 1) * d) : NULL;
    float *rv = rel_max ? buf((int64_t)(2 * rel_max + 1) * d) : NULL;
    a.q = q, a.k = k, a.v = v, a.o = o;
    a.n_seq = n_seq, a.heads = heads, a.lq = lq, a.lk = lk, a.d = d, a.kv_group = kv_group;
    a.q_tok = a.k_tok = a.v_tok = a.o_tok = hd;
    a.q_seq = a.o_seq = (int64_t)lq * hd, a.k_seq = a.v_seq = (int64_t)lk * hd;
    a.scale = 1.0f / sqrtf((float)d);
    a.rel_k = rk, a.rel_v = rv, a.rel_max = rel_max;
    double t = bench_time(attn_fn, &a, 3);
    /* scores + AV: 4 L_q L_k d per head and sequence; rel-pos doubles it (spec §10.1) */
    double gf = 4.0 * lq * (double)lk * d * heads * n_seq * (rel_max ? 2 : 1) * 1e-9;
    bench_add(name, t, gf, 0);
    be->ops->free(be, q), be->ops->free(be, k), be->ops->free(be, v), be->ops->free(be, o);
    if (rk) be->ops->free(be, rk), be->ops->free(be, rv);
}

/* --------------------------------------------------------- memory-bound ops */
typedef struct mb_run {
    int op;
    float *x, *y, *g, *b, *w;
    int64_t n, rows;
    int32_t C, G, D;
    int64_t S;
} mb_run;

static void mb_fn(void *arg)
{
    mb_run *r = arg;
    switch (r->op) {
    case 0: {
        const vc_group_norm_args a = {
            .x = r->x, .y = r->y, .n = (int32_t)r->rows, .frames = 1, .C = r->C, .G = r->G, .S = r->S, .gamma = r->g,
            .beta = r->b, .eps = 1e-5f, .silu = true,
        };
        be->ops->group_norm(be, &a);
        break;
    }
    case 1: be->ops->layer_norm(be, r->x, r->y, r->rows, r->D, r->g, r->b, 1e-5f); break;
    case 2: be->ops->geglu(be, r->x, r->y, r->rows, r->D); break;
    case 3: be->ops->silu(be, r->x, r->y, r->n); break;
    case 4: be->ops->add(be, r->x, r->y, r->y, r->n); break;
    case 5: {
        int64_t shape[3] = {r->rows, r->C, r->S};
        int32_t perm[3] = {0, 2, 1};
        be->ops->permute(be, r->x, r->y, 3, shape, perm);
        break;
    }
    case 6: be->ops->linear(be, r->x, r->rows, r->D, r->w, r->b, r->D, r->y, r->y); break;
    default: break;
    }
}

int main(int argc, char **argv)
{
    bench_init(argc, argv, "bench_kernels");
    vc_context *ctx = bench_context();
    be = ctx->backend;
    double peak = bench_peak();
    (void)peak;
    const int F = bench_quick() ? 2 : 4; /* frames per conv call */

    bench_conv("conv2d 3x3 320->320 40x64 (4 frames)", F, 320, 320, 40, 64, 3, 1);
    bench_conv("conv2d 3x3 640->640 20x32 (4 frames)", F, 640, 640, 20, 32, 3, 1);
    bench_conv("conv2d 3x3 1280->1280 10x16 (4 frames)", F, 1280, 1280, 10, 16, 3, 1);
    bench_conv("conv2d 3x3 1280->1280 5x8 (16 frames)", 4 * F, 1280, 1280, 5, 8, 3, 1);
    bench_conv("conv2d 3x3 s2 320->320 40x64 (4 frames)", F, 320, 320, 40, 64, 3, 2);
    bench_conv("conv2d 1x1 640->320 40x64 (4 frames)", F, 640, 320, 40, 64, 1, 1);
    bench_conv("conv2d 3x3 4->320 40x64 (16 frames)", 4 * F, 4, 320, 40, 64, 3, 1);

    if (bench_want("conv_temporal")) {
        ct_run r = {0};
        r.B = 1, r.C = 320, r.T = 16, r.S = bench_quick() ? 640 : 2560;
        r.x = buf((int64_t)r.C * r.T * r.S), r.y = buf((int64_t)r.C * r.T * r.S);
        r.w = buf((int64_t)r.C * r.C * 3), r.b = buf(r.C);
        double t = bench_time(ct_fn, &r, 3);
        bench_add(r.S == 2560 ? "conv_temporal 320ch T16 40x64" : "conv_temporal 320ch T16 20x32", t,
                  2.0 * r.C * r.C * 3.0 * r.T * r.S * 1e-9, 0);
        be->ops->free(be, r.x), be->ops->free(be, r.y), be->ops->free(be, r.w), be->ops->free(be, r.b);
    }

    bench_attn("attention self 2560 tok x 5 heads x 64 (2 frames)", 2, 5, 2560, 2560, 64, 1, 0);
    bench_attn("attention self 640 tok x 10 heads x 64 (4 frames)", 4, 10, 640, 640, 64, 1, 0);
    bench_attn("attention cross 2560 x 77 tok x 5 heads (16 frames)", 16, 5, 2560, 77, 64, 16, 0);
    bench_attn("attention temporal 16 frames x 5 heads rel-pos (2560 px)", 2560, 5, 16, 16, 64, 1, 16);
    bench_attn("attention vae mid 4096 tok x 1 head x 512 (1 image)", 1, 1, bench_quick() ? 1024 : 4096,
               bench_quick() ? 1024 : 4096, 512, 1, 0);

    {
        const int64_t N = 16LL * 320 * 2560; /* one ds-1 feature map */
        mb_run r = {0};
        r.x = buf(N), r.y = buf(N), r.g = buf(2560), r.b = buf(2560), r.w = buf(320 * 320);
        r.op = 0, r.rows = 16, r.C = 320, r.G = 32, r.S = 2560;
        if (bench_want("group_norm+silu 16x320x2560")) bench_add("group_norm+silu 16x320x2560", bench_time(mb_fn, &r, 5), 0, 8.0 * N * 1e-9);
        r.op = 1, r.rows = 16 * 2560, r.D = 320;
        if (bench_want("layer_norm 40960x320")) bench_add("layer_norm 40960x320", bench_time(mb_fn, &r, 5), 0, 8.0 * N * 1e-9);
        r.op = 2, r.rows = 16 * 2560 / 4, r.D = 640; /* x [rows, 1280] -> y [rows, 640] */
        if (bench_want("geglu 10240x(2x640)")) bench_add("geglu 10240x(2x640)", bench_time(mb_fn, &r, 5), 0, 6.0 * N / 4 * 1e-9);
        r.op = 3, r.n = N;
        if (bench_want("silu 13.1M")) bench_add("silu 13.1M", bench_time(mb_fn, &r, 5), 0, 8.0 * N * 1e-9);
        r.op = 4;
        if (bench_want("add 13.1M")) bench_add("add 13.1M", bench_time(mb_fn, &r, 5), 0, 12.0 * N * 1e-9);
        r.op = 5, r.rows = 16, r.C = 320, r.S = 2560;
        if (bench_want("permute [16,320,2560]->[16,2560,320]")) bench_add("permute [16,320,2560]->[16,2560,320]", bench_time(mb_fn, &r, 5), 0, 8.0 * N * 1e-9);
        r.op = 6, r.rows = 16 * 2560, r.D = 320;
        if (bench_want("linear 40960x320->320 +bias +residual")) bench_add("linear 40960x320->320 +bias +residual", bench_time(mb_fn, &r, 3),
                  2.0 * 16 * 2560 * 320.0 * 320 * 1e-9, 0);
        be->ops->free(be, r.x), be->ops->free(be, r.y), be->ops->free(be, r.g), be->ops->free(be, r.b);
        be->ops->free(be, r.w);
    }
    return bench_finish();
}
