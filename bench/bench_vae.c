/* bench_vae.c - VAE decode at the real size (spec §4.2: ch 128, ch_mult
 * [1,2,4,4], num_res_blocks 2; random weights) for 576x1024 (or any) frames:
 * time per frame, the context's working-memory peak and the process's peak
 * resident memory during the decode.
 *
 *   bench_vae [--frames N] [--height H] [--width W] [--threads N] [--batch K]
 *
 * Defaults: 2 frames of 576x1024, all cores, 1 image per decoder pass. The
 * original decodes 16 frames; per-frame time and memory do not depend on the
 * count (frames are decoded one after the other), so a few frames measure it.
 * The weights are written once to a temporary .safetensors file (0.20 GB, the
 * decoder and post_quant_conv) and read back with the library's loader.
 *
 * `make bench` builds it as build/bench/bench_vae (it has its own options, so
 * the bench runner only builds it); run it by hand.
 *
 * Measured (CPU backend, 2 threads, OpenBLAS, on a 2-core machine shared with
 * other jobs, load average ~14, so wall time is inflated ~5x; CPU time is the
 * better guide):
 *   576x1024, 16 frames (the issue #6 figure; run at the end of the session
 *     beside a CI run, load ~3): arena peak 1208.0 MB; resident 196.0 MB before
 *     (weights, latents), peak 1498.8 MB during the decode (/usr/bin/time: max
 *     RSS 1534768 kB); 1487.6 s wall = 93.0 s per frame (61.9 GFLOP/s at
 *     5754.3 GFLOP per frame); output video 113.2 MB.
 *   576x1024, 1 frame (loaded machine): arena peak 1208.0 MB; peak resident
 *     1378.9 MB; 158 s CPU (user) per frame.
 *   320x512, 1 frame: arena peak 335.5 MB; resident peak 535.5 MB.
 *   192x128, 1 frame vs 16 frames: arena peak 50.3 MB both; resident peak
 *     276.2 vs 280.8 MB (the difference is the output video); 14.9 vs 17.4 s
 *     wall per frame.
 * The arena peak is what one decoder pass needs, planned before it runs (the
 * largest stage is up level 0's first block at full resolution: its 256-channel
 * input plus two 128-channel maps = 604 + 302 + 302 MB at 576x1024). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model.h"
#include "vae/vae.h"

typedef struct spec {
    char name[160];
    int ndim;
    int64_t shape[4];
    float scale;             /* uniform(-scale, scale); 0: ones (norm weights) */
    bool zero;
} spec;

static spec *specs;
static int n_specs, cap_specs;

static void add(const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (n_specs == cap_specs) {
        cap_specs = cap_specs ? 2 * cap_specs : 256;
        specs = realloc(specs, (size_t)cap_specs * sizeof *specs);
        if (!specs) exit(1);
    }
    spec *s = &specs[n_specs++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "first_stage_model.%s", name);
    s->ndim = ndim;
    s->shape[0] = d0, s->shape[1] = d1, s->shape[2] = d2, s->shape[3] = d3;
    int64_t fan_in = ndim == 4 ? d1 * d2 * d3 : 0;
    bool norm = strstr(name, "norm") != NULL;
    if (ndim == 4) s->scale = 1.7320508f / sqrtf((float)fan_in); /* unit-variance activations */
    else if (norm && strstr(name, ".weight")) s->scale = 0;
    else s->zero = true;
}

static void add_conv(const char *base, int64_t co, int64_t ci, int64_t k)
{
    char n[160];
    snprintf(n, sizeof n, "%s.weight", base);
    add(n, 4, co, ci, k, k);
    snprintf(n, sizeof n, "%s.bias", base);
    add(n, 1, co, 0, 0, 0);
}

static void add_norm(const char *base, int64_t c)
{
    char n[160];
    snprintf(n, sizeof n, "%s.weight", base);
    add(n, 1, c, 0, 0, 0);
    snprintf(n, sizeof n, "%s.bias", base);
    add(n, 1, c, 0, 0, 0);
}

static void add_res(const char *base, int64_t ci, int64_t co)
{
    char n[160];
    snprintf(n, sizeof n, "%s.norm1", base), add_norm(n, ci);
    snprintf(n, sizeof n, "%s.conv1", base), add_conv(n, co, ci, 3);
    snprintf(n, sizeof n, "%s.norm2", base), add_norm(n, co);
    snprintf(n, sizeof n, "%s.conv2", base), add_conv(n, co, co, 3);
    if (ci != co) snprintf(n, sizeof n, "%s.nin_shortcut", base), add_conv(n, co, ci, 1);
}

/* The decoder of AutoencoderKL with the given sizes (same order as the original state dict). */
static void decoder_specs(const vc_vae_config *c)
{
    char n[160];
    int64_t bi = (int64_t)c->ch * c->ch_mult[c->n_levels - 1];
    add_conv("decoder.conv_in", bi, c->z_channels, 3);
    add_res("decoder.mid.block_1", bi, bi);
    add_norm("decoder.mid.attn_1.norm", bi);
    add_conv("decoder.mid.attn_1.q", bi, bi, 1);
    add_conv("decoder.mid.attn_1.k", bi, bi, 1);
    add_conv("decoder.mid.attn_1.v", bi, bi, 1);
    add_conv("decoder.mid.attn_1.proj_out", bi, bi, 1);
    add_res("decoder.mid.block_2", bi, bi);
    for (int lv = c->n_levels - 1; lv >= 0; lv--) {
        int64_t bo = (int64_t)c->ch * c->ch_mult[lv];
        for (int b = 0; b <= c->num_res_blocks; b++) {
            snprintf(n, sizeof n, "decoder.up.%d.block.%d", lv, b);
            add_res(n, bi, bo);
            bi = bo;
        }
        if (lv) snprintf(n, sizeof n, "decoder.up.%d.upsample.conv", lv), add_conv(n, bi, bi, 3);
    }
    add_norm("decoder.norm_out", bi);
    add_conv("decoder.conv_out", c->out_ch, bi, 3);
    add_conv("post_quant_conv", c->z_channels, c->embed_dim, 1);
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static inline float urand(void)  /* xorshift64*, uniform [-1, 1) */
{
    rng ^= rng >> 12, rng ^= rng << 25, rng ^= rng >> 27;
    return (float)((rng * 2685821657736338717ull) >> 40) / (float)(1 << 23) - 1.0f;
}

static int64_t numel(const spec *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++) n *= s->shape[i];
    return n;
}

static int write_safetensors(const char *path)
{
    size_t hcap = (size_t)n_specs * 256 + 64, hl = 0;
    char *h = malloc(hcap);
    if (!h) return -1;
    int64_t off = 0;
    hl += (size_t)snprintf(h + hl, hcap - hl, "{");
    for (int i = 0; i < n_specs; i++) {
        int64_t bytes = numel(&specs[i]) * 4;
        hl += (size_t)snprintf(h + hl, hcap - hl, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", i ? "," : "", specs[i].name);
        for (int d = 0; d < specs[i].ndim; d++)
            hl += (size_t)snprintf(h + hl, hcap - hl, "%s%lld", d ? "," : "", (long long)specs[i].shape[d]);
        hl += (size_t)snprintf(h + hl, hcap - hl, "],\"data_offsets\":[%lld,%lld]}", (long long)off,
                               (long long)(off + bytes));
        off += bytes;
    }
    hl += (size_t)snprintf(h + hl, hcap - hl, "}");
    while (hl % 8) h[hl++] = ' ';
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    uint64_t n = hl;
    fwrite(&n, 8, 1, f);
    fwrite(h, 1, hl, f);
    free(h);
    float buf[4096];
    for (int i = 0; i < n_specs; i++) {
        for (int64_t k = numel(&specs[i]); k > 0;) {
            int64_t m = k < 4096 ? k : 4096;
            for (int64_t j = 0; j < m; j++)
                buf[j] = specs[i].zero ? 0.0f : specs[i].scale == 0 ? 1.0f : specs[i].scale * urand();
            fwrite(buf, 4, (size_t)m, f);
            k -= m;
        }
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* VmHWM / VmRSS of this process in MB (Linux). */
static double proc_mb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) v = atof(line + kl + 1) / 1024.0;
    fclose(f);
    return v;
}

static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) fputs("5", f), fclose(f);
}

int main(int argc, char **argv)
{
    int frames = 2, H = 576, W = 1024, threads = 0, batch = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--frames")) frames = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--height")) H = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--width")) W = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_vae [--frames N] [--height H] [--width W] [--threads N] [--batch K]\n");
            return 2;
        }
    }
    if (frames < 1 || H % 8 || W % 8 || H < 8 || W < 8) {
        fprintf(stderr, "bench_vae: need frames >= 1 and H, W multiples of 8\n");
        return 2;
    }
    struct vc_model m;
    memset(&m, 0, sizeof m);
    vc_vae_config *c = &m.cfg.vae;  /* the released models' first_stage_config (spec §4.2) */
    c->ch = 128, c->n_levels = 4, c->ch_mult[0] = 1, c->ch_mult[1] = 2, c->ch_mult[2] = 4, c->ch_mult[3] = 4;
    c->num_res_blocks = 2, c->z_channels = 4, c->embed_dim = 4, c->in_channels = 3, c->out_ch = 3, c->double_z = true;
    m.cfg.scale_factor = 0.18215;
    decoder_specs(c);
    char path[256];
    snprintf(path, sizeof path, "%s/bench_vae.%ld.safetensors", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (long)getpid());
    int64_t params = 0;
    for (int i = 0; i < n_specs; i++) params += numel(&specs[i]);
    if (write_safetensors(path) != 0) {
        fprintf(stderr, "bench_vae: cannot write %s\n", path);
        return 1;
    }
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.n_threads = threads;
    vc_context *ctx;
    if (vc_context_create(&cp, &ctx) != VC_STATUS_OK) return 1;
    if (vc_weights_open(ctx, path, &m.weights) != VC_STATUS_OK) {
        fprintf(stderr, "bench_vae: %s\n", vc_context_errmsg(ctx));
        return 1;
    }
    unlink(path);
    /* touch the weights once so that they count as resident before the measurement */
    double wsum = 0;
    for (size_t i = 0; i < vc_weights_count(m.weights); i++) {
        const vc_weight *t = vc_weights_at(m.weights, i);
        for (int64_t k = 0; k < t->numel; k += 1024) wsum += t->f32[k];
    }
    int64_t zs[5] = {1, 4, frames, H / 8, W / 8};
    vc_tensor z, video;
    vc_tensor_alloc(&z, VC_DTYPE_F32, 5, zs);
    for (int64_t i = 0; i < vc_tensor_numel(&z); i++) ((float *)z.data)[i] = 0.18215f * urand() * 1.7320508f;
    double rss0 = proc_mb("VmRSS:");
    reset_peak_rss();
    double t0 = vc_now();
    vc_status st = vc_vae_decode(ctx, &m, &z, batch, &video);
    double dt = vc_now() - t0;
    double hwm = proc_mb("VmHWM:");
    if (st != VC_STATUS_OK) {
        fprintf(stderr, "bench_vae: %s\n", vc_context_errmsg(ctx));
        return 1;
    }
    double vmin = 1e30, vmax = -1e30;
    for (int64_t i = 0; i < vc_tensor_numel(&video); i++) {
        float v = ((float *)video.data)[i];
        vmin = v < vmin ? v : vmin, vmax = v > vmax ? v : vmax;
    }
    printf("bench_vae: real-size VAE decoder (%.1f M params, %d tensors, random weights, checksum %.3g)\n",
           (double)params / 1e6, n_specs, wsum);
    printf("  %d frame(s) of %dx%d, %d image(s) per pass, backend %s, %d threads\n", frames, W, H, batch,
           vc_context_backend(ctx), vc_context_n_threads(ctx));
    printf("  time: %.2f s total, %.2f s per frame (%.1f GFLOP/s at 5754.3 GFLOP per 576x1024 frame, §10.2)\n", dt,
           dt / frames, 5754.3 * ((double)H * W / (576.0 * 1024.0)) * frames / dt);
    printf("  working memory (arena) peak: %.1f MB\n", (double)vc_context_peak_bytes(ctx) / 1e6);
    printf("  resident memory: %.1f MB before the decode (weights, latents), peak %.1f MB during it\n", rss0, hwm);
    printf("  output video [1,3,%d,%d,%d] %.1f MB, values in [%.3f, %.3f]\n", frames, H, W,
           (double)vc_tensor_numel(&video) * 4 / 1e6, vmin, vmax);
    vc_tensor_free(&video);
    vc_tensor_free(&z);
    vc_weights_free(m.weights);
    vc_context_free(ctx);
    free(specs);
    return 0;
}
