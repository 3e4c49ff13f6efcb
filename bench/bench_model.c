/* bench_model.c - the issue #10 model benchmark, one process, one thread
 * count: the sgemm peak at the UNet's GEMM sizes, then on a REAL-SIZE model
 * file (random weights in the original torch.save format, written by
 * examples/make_tiny_model.c --preset; `make bench` makes it once):
 *
 *   text encoder 77 tokens          one prompt through the ViT-H/14 text tower (§3)
 *   unet 320x512 T<n>               one UNet forward, batch 1, for each --frames n (§5)
 *   ddim step cfg 320x512 T<n>      one guided DDIM step (cond + uncond UNet, the update,
 *                                   noise), through the public sampler (§6, §7)
 *   vae decode 320x512 1 frame      one latent frame to pixels (§4)
 *   video 320x512x<n> <k> steps     with --video-steps k: a whole guided video, k DDIM steps
 *                                   of n = --ddim-frames frames and the decode of every frame
 * (other sizes with --size: the UNet, DDIM and VAE rows are named after it).
 *
 * Each row: time (one timed run; a warm-up first only for rows under a few
 * seconds), GFLOP/s from the spec §10 counts, the fraction of the sgemm peak,
 * and the peak resident memory during that row (weights included).
 *
 *   bench_model --ckpt FILE [--frames 1,4,16] [--ddim-frames 16] [--weights-dtype f32|f16|bf16]
 *               [--size HxW (320x512; the UNet and DDIM rows)] [--backend cpu|cuda]
 *               [--video-steps K] [--config original.yaml (models whose heads the shapes do not tell)]
 *               [harness options: --threads N --out F --baseline F --quick --filter TEXT]
 *
 * --weights-dtype f16 keeps the UNet matrices half (vc_model_params.weights_dtype);
 * its rows are named "... (f16 weights)". --backend cuda runs everything on the
 * GPU (instead of the sgemm peak, the GEMM rate of one large linear layer
 * through the backend; VIDEOCRAFTER_CUDA_PRECISION=fp16 for the fp16 mode)
 * and names the rows "... [cuda fp32]" / "... [cuda fp16]". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/model.h"
#include "unet/unet.h"

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float urand(void) /* uniform [-1, 1) */
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 40) * (1.0 / 8388608.0) - 1.0);
}

static void die(vc_context *ctx, const char *what)
{
    fprintf(stderr, "bench_model: %s: %s\n", what, ctx ? vc_context_errmsg(ctx) : vc_last_error());
    exit(1);
}

/* A GPU's own yardstick: the rate of one large linear layer through the
 * backend (cuBLAS; in fp16 mode half operands, whose conversion the repeated
 * calls on one input skip), the denominator for "TFLOP/s achieved" ratios. */
static void backend_gemm_rate(vc_context *ctx, const char *backend)
{
    vc_backend *be = ctx->backend;
    const int64_t rows = 16384, in = 2560, out = 2560;
    float *w = malloc(sizeof(float) * (size_t)(in * out));
    float *hx = malloc(sizeof(float) * (size_t)(rows * in));
    float *x = be->ops->alloc(be, sizeof(float) * (size_t)(rows * in));
    float *y = be->ops->alloc(be, sizeof(float) * (size_t)(rows * out));
    if (!w || !hx || !x || !y) die(ctx, "memory for the GEMM rate");
    for (int64_t i = 0; i < in * out; i++) w[i] = urand() * 0.02f;
    for (int64_t i = 0; i < rows * in; i++) hx[i] = urand();
    be->ops->upload(be, x, hx, sizeof(float) * (size_t)(rows * in));
    const int reps = 20;
    double t = 0;
    for (int pass = 0; pass < 2; pass++) { /* the first uploads the weight and warms up */
        const double t0 = vc_now();
        for (int r = 0; r < (pass ? reps : 2); r++) be->ops->linear(be, x, rows, (int32_t)in, w, NULL, (int32_t)out, NULL, y);
        if (vc_backend_sync(be)) die(ctx, "the GEMM rate");
        t = (vc_now() - t0) / reps;
    }
    const double gf = 2.0 * rows * in * out * 1e-9;
    const char *prec = getenv("VIDEOCRAFTER_CUDA_PRECISION");
    printf("bench_model: %s %s GEMM rate %.1f TFLOP/s (linear %lldx%lld -> %lld, %.3f ms)\n", backend,
           prec && *prec ? prec : "fp32", gf / t * 1e-3, (long long)rows, (long long)in, (long long)out, t * 1e3);
    be->ops->free(be, x);
    be->ops->free(be, y);
    free(w);
    free(hx);
}

/* ------------------------------------------------------------ FLOPs (spec §10) */

/* One UNet forward of B x T frames at the §10.1 sizes: the 16-frame totals,
 * linear in T except the temporal attention scores (T^2). 0: not tabulated. */
static double unet_gflop(vc_variant v, int32_t T, int32_t lh, int32_t lw, int32_t B)
{
    double total, tscore; /* total and temporal-score GFLOP at 16 frames */
    const bool big = lh == 72 && lw == 128, small = lh == 40 && lw == 64;
    switch (v) {
    case VC_VARIANT_T2V_512_V1: total = 10913, tscore = 29.6 + 5.4; break;
    case VC_VARIANT_T2V_512_V2: total = 12581, tscore = 14.8 + 2.7; break;
    case VC_VARIANT_I2V_512_V1: total = 12602, tscore = 14.8 + 2.7; break;
    case VC_VARIANT_T2V_1024_V1: total = 46286, tscore = 106.5 + 19.3; break;
    default: return 0;
    }
    if (!((v == VC_VARIANT_T2V_1024_V1 && big) || (v != VC_VARIANT_T2V_1024_V1 && small))) return 0;
    const double f = T / 16.0;
    return B * ((total - tscore) * f + tscore * f * f);
}

/* Text tower (§10.2: 45.1 GFLOP for 23 blocks x 77 tokens at width 1024). */
static double text_gflop(const vc_clip_text_config *t)
{
    const double L = 77, D = t->width, M = t->mlp_width, n = t->layers_used;
    return (2.0 * L * n * (4.0 * D * D + 2.0 * D * M) + 4.0 * L * L * D * n) * 1e-9;
}

/* ------------------------------------------------------------ rows */

typedef struct bench_run {
    vc_context *ctx;
    vc_model *model;
    vc_variant variant;
    const char *suffix; /* "" or " (f16 weights)" */
    int32_t lh, lw;     /* latent of --size (320x512: 40x64) */
} bench_run;

static double timed(bench_run *b, void (*fn)(bench_run *, void *), void *arg, double *seconds)
{
    bench_rss_reset();
    double t0 = vc_now();
    fn(b, arg);
    double dt = vc_now() - t0;
    if (dt < 3.0 && !bench_quick()) { /* short: that first run was the warm-up */
        t0 = vc_now();
        fn(b, arg);
        dt = vc_now() - t0;
    }
    *seconds = dt;
    return bench_rss_hwm_mib();
}

static void row(bench_run *b, const char *name, void (*fn)(bench_run *, void *), void *arg, double gflop)
{
    char full[128];
    snprintf(full, sizeof full, "%s%s", name, b->suffix);
    if (!bench_want(full)) return;
    double s;
    double rss = timed(b, fn, arg, &s);
    bench_add(full, s, gflop, 0);
    bench_set_rss(rss);
    printf("  %-44s %9.2f s  %7.1f GFLOP/s  peak RSS %.2f GiB\n", full, s, gflop > 0 ? gflop / s : 0, rss / 1024.0);
    fflush(stdout);
}

static void run_text(bench_run *b, void *arg)
{
    (void)arg;
    const char *prompt = "A chihuahua in astronaut suit floating in space, cinematic lighting, glow effect";
    vc_tensor ctxt = {0};
    if (vc_encode_text(b->ctx, b->model, &prompt, 1, &ctxt)) die(b->ctx, "vc_encode_text");
    vc_tensor_free(&ctxt);
}

static void run_unet(bench_run *b, void *arg)
{
    const int32_t T = *(const int32_t *)arg;
    const vc_unet_config *u = &b->model->cfg.unet;
    vc_backend *be = b->ctx->backend;
    const int32_t L = u->use_image_attention ? 77 + u->image_context_len : 77;
    const int64_t nx = (int64_t)u->in_channels * T * b->lh * b->lw, nc = (int64_t)L * u->context_dim;
    size_t mark = vc_arena_mark(be);
    float *x = vc_arena_floats(be, nx), *c = vc_arena_floats(be, nc), *e = vc_arena_floats(be, nx);
    float *h = malloc((size_t)(nx > nc ? nx : nc) * sizeof(float));
    if (!x || !c || !e || !h) die(NULL, "out of memory for the UNet inputs");
    for (int64_t i = 0; i < nx; i++) h[i] = urand() * 1.7320508f;
    be->ops->upload(be, x, h, (size_t)nx * 4);
    for (int64_t i = 0; i < nc; i++) h[i] = urand();
    be->ops->upload(be, c, h, (size_t)nc * 4);
    const int64_t t = 981, fps = 28;
    vc_status st = vc_unet_forward(b->ctx, u, vc_unet_weights_of_model(b->model), x, 1, T, b->lh, b->lw, &t, &fps,
                                   c, L, e);
    if (!st) st = vc_backend_sync(be);
    if (st) die(b->ctx, "UNet forward");
    be->ops->download(be, h, e, (size_t)nx * 4);
    for (int64_t i = 0; i < nx; i++)
        if (!isfinite(h[i])) die(NULL, "UNet output is not finite");
    free(h);
    vc_arena_release(be, mark);
}

static void random_tensor(vc_tensor *t, int32_t ndim, const int64_t *shape)
{
    if (vc_tensor_alloc(t, VC_DTYPE_F32, ndim, shape)) die(NULL, "vc_tensor_alloc");
    float *p = t->data;
    for (int64_t i = 0, n = vc_tensor_numel(t); i < n; i++) p[i] = urand();
}

/* A guided sampler run of `steps` DDIM steps over `frames` frames with random
 * contexts, and with decode the VAE decode of every frame. */
typedef struct video_job {
    int32_t frames, steps;
    bool decode;
} video_job;

static void run_video(bench_run *b, void *arg)
{
    const video_job *v = arg;
    vc_sampler_params sp;
    vc_sampler_default_params(b->model, &sp);
    sp.steps = v->steps;
    sp.frames = v->frames;
    sp.height = 8 * b->lh;
    sp.width = 8 * b->lw;
    vc_sampler *s = NULL;
    if (vc_sampler_create(b->ctx, b->model, &sp, &s)) die(b->ctx, "vc_sampler_create");
    const int64_t cs[3] = {1, 77, b->model->cfg.unet.context_dim};
    vc_tensor c = {0}, uc = {0}, lat = {0}, video = {0};
    random_tensor(&c, 3, cs);
    random_tensor(&uc, 3, cs);
    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    in.context = &c;
    in.uncond_context = &uc;
    if (vc_sampler_run(s, &in, &lat)) die(b->ctx, "vc_sampler_run");
    if (v->decode && vc_decode_latents(b->ctx, b->model, &lat, &video)) die(b->ctx, "vc_decode_latents");
    vc_tensor_free(&video);
    vc_tensor_free(&lat);
    vc_tensor_free(&c);
    vc_tensor_free(&uc);
    vc_sampler_free(s);
}

static void run_vae(bench_run *b, void *arg)
{
    (void)arg;
    const int64_t zs[5] = {1, 4, 1, b->lh, b->lw};
    vc_tensor z = {0}, video = {0};
    random_tensor(&z, 5, zs);
    if (vc_decode_latents(b->ctx, b->model, &z, &video)) die(b->ctx, "vc_decode_latents");
    vc_tensor_free(&video);
    vc_tensor_free(&z);
}

/* Reads one byte per page of every resident tensor, so the timed rows do not
 * pay the first-touch page faults of the mapped file (as torch_bench.py). */
static double prefault(const vc_model *m)
{
    volatile unsigned sum = 0;
    for (size_t i = 0, n = vc_weights_count(m->weights); i < n; i++) {
        const vc_weight *t = vc_weights_at(m->weights, i);
        const unsigned char *p = t->f32 ? (const void *)t->f32 : t->half ? (const void *)t->half : NULL;
        const size_t bytes = (size_t)t->numel * (t->f32 ? 4 : 2);
        for (size_t k = 0; p && k < bytes; k += 4096) sum += p[k];
    }
    return (double)sum;
}

/* ------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    const char *ckpt = "out/models/t2v-512-v2/model.ckpt", *frames_list = "1,4,16", *wdt = "f32";
    const char *backend = "cpu", *config = NULL;
    int32_t ddim_frames = 16, height = 320, width = 512, video_steps = 0;
    char *hargv[64];
    int hargc = 0;
    hargv[hargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--ckpt") && i + 1 < argc) ckpt = argv[++i];
        else if (!strcmp(argv[i], "--frames") && i + 1 < argc) frames_list = argv[++i];
        else if (!strcmp(argv[i], "--ddim-frames") && i + 1 < argc) ddim_frames = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--weights-dtype") && i + 1 < argc) wdt = argv[++i];
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc) backend = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--video-steps") && i + 1 < argc) video_steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
            if (sscanf(argv[++i], "%dx%d", &height, &width) != 2 || height < 8 || width < 8) {
                fprintf(stderr, "bench_model: --size wants HxW, e.g. 576x1024\n");
                return 2;
            }
        }
        else if (hargc < 63) hargv[hargc++] = argv[i];
    }
    bench_init(hargc, hargv, "bench_model");
    const bool on_cpu = !strcmp(backend, "cpu");
    if (!on_cpu) setenv("VC_BENCH_BACKEND", backend, 1);
    vc_model_params mp;
    vc_model_default_params(&mp);
    mp.config_path = config;
    mp.weights_dtype = !strcmp(wdt, "f16") ? VC_DTYPE_F16 : !strcmp(wdt, "bf16") ? VC_DTYPE_BF16 : VC_DTYPE_F32;
    bench_run b = {.ctx = bench_context(), .suffix = ""};
    char suffix[64] = "";
    if (mp.weights_dtype != VC_DTYPE_F32) snprintf(suffix, sizeof suffix, " (%s weights)", wdt);
    if (!on_cpu) {
        const char *prec = getenv("VIDEOCRAFTER_CUDA_PRECISION");
        size_t n = strlen(suffix);
        snprintf(suffix + n, sizeof suffix - n, " [%s %s]", backend, prec && *prec ? prec : "fp32");
    }
    b.suffix = suffix;
    if (on_cpu) {
        double peak = bench_peak();
        printf("bench_model: sgemm peak %.1f GFLOP/s on %d threads\n", peak, bench_threads());
    } else {
        backend_gemm_rate(b.ctx, backend);
    }

    bench_rss_reset();
    double t0 = vc_now();
    if (vc_model_load(b.ctx, ckpt, &mp, &b.model)) die(b.ctx, ckpt);
    const double load_s = vc_now() - t0;
    prefault(b.model);
    vc_model_info info;
    vc_model_info_init(&info);
    vc_model_get_info(b.model, &info);
    b.variant = b.model->cfg.variant;
    b.lh = height / 8, b.lw = width / 8;
    printf("bench_model: %s loaded in %.1f s: %d tensors, resident weights %.2f GiB (%s), RSS %.2f GiB\n", info.variant,
           load_s, (int)info.n_tensors, (double)info.weight_bytes / 1073741824.0, wdt, bench_rss_hwm_mib() / 1024.0);
    fflush(stdout);

    row(&b, "text encoder 77 tokens", run_text, NULL, text_gflop(&b.model->cfg.text));
    for (const char *fp = frames_list; *fp;) {
        int32_t T = (int32_t)strtol(fp, (char **)&fp, 10);
        while (*fp == ',') fp++;
        if (T < 1) break;
        char name[64];
        snprintf(name, sizeof name, "unet %dx%d T%d", height, width, T);
        row(&b, name, run_unet, &T, unet_gflop(b.variant, T, b.lh, b.lw, 1));
    }
    if (ddim_frames > 0) {
        char name[64];
        snprintf(name, sizeof name, "ddim step cfg %dx%d T%d", height, width, ddim_frames);
        video_job one = {ddim_frames, 1, false}; /* one executed step: timestep 1 (§7.2) */
        row(&b, name, run_video, &one, unet_gflop(b.variant, ddim_frames, b.lh, b.lw, 2));
    }
    {
        /* §10.2: 1563.5 GFLOP per 320x512 frame, 5754.3 per 576x1024; other sizes scaled by pixels */
        char name[64];
        snprintf(name, sizeof name, "vae decode %dx%d 1 frame", height, width);
        const double px = (double)height * width;
        const double gf = height == 576 && width == 1024 ? 5754.3 : 1563.5 * px / (320.0 * 512.0);
        row(&b, name, run_vae, NULL, gf);
    }
    if (video_steps > 0) {
        char name[64];
        snprintf(name, sizeof name, "video %dx%dx%d %d steps", height, width, ddim_frames, video_steps);
        video_job v = {ddim_frames, video_steps, true};
        const double px = (double)height * width;
        const double vae = height == 576 && width == 1024 ? 5754.3 : 1563.5 * px / (320.0 * 512.0);
        row(&b, name, run_video, &v, video_steps * unet_gflop(b.variant, ddim_frames, b.lh, b.lw, 2) + ddim_frames * vae);
    }
    printf("bench_model: resident weights %.2f GiB; working-memory peak (arena) %.2f GiB\n",
           (double)info.weight_bytes / 1073741824.0, (double)vc_context_peak_bytes(b.ctx) / 1073741824.0);
    vc_model_free(b.model);
    return bench_finish();
}
