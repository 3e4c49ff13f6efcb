/* bench_text.c - encodes one prompt with the real ViT-H/14 text tower size
 * (width 1024, 24 layers of which 23 run, 16 heads, MLP 4096, vocabulary
 * 49408; random weights, spec §1.3 / §2.6) and reports the time and the peak
 * memory next to the size of the weights.
 *
 * Build (links the static library, it uses the internal tower entry point):
 *   make && cc -O2 -Iinclude -Ilib bench/bench_text.c build/libvideocrafter.a \
 *      $(pkg-config --libs openblas yaml-0.1 libpng libjpeg zlib libutf8proc) -lm -ldl -pthread \
 *      -o build/bench_text
 * Run: build/bench_text [threads] [repeats]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/internal.h"
#include "text/clip_text.h"

enum { D = 1024, HEADS = 16, M = 4096, LAYERS = 24, VOCAB = 49408, L = 77 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;

/* uniform in [-s, s) */
static void fill(float *p, size_t n, float s, float base)
{
    for (size_t i = 0; i < n; i++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        p[i] = base + s * ((float)(rng >> 40) * (1.0f / 8388608.0f) - 1.0f);
    }
}

static double peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 0;
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    if (repeats < 1) repeats = 1;
    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.n_threads = threads;
    vc_context *ctx = NULL;
    if (vc_context_create(&cp, &ctx) != VC_STATUS_OK) {
        fprintf(stderr, "bench_text: %s\n", vc_last_error());
        return 1;
    }
    /* the whole text tower as the checkpoint holds it (all 24 blocks) */
    size_t per_block = 4 * (size_t)D + 3 * (size_t)D * D + 3 * (size_t)D + (size_t)D * D + D + (size_t)M * D + M +
                       (size_t)D * M + D;
    size_t total = (size_t)VOCAB * D + (size_t)L * D + LAYERS * per_block + 2 * (size_t)D;
    double t0 = vc_now();
    float *w = malloc(total * sizeof *w);
    if (!w) {
        fprintf(stderr, "bench_text: cannot allocate %.1f MiB of weights\n", total * 4.0 / 1048576.0);
        return 1;
    }
    float *p = w;
    vc_clip_text_weights tw;
    memset(&tw, 0, sizeof tw);
    tw.width = D;
    tw.heads = HEADS;
    tw.mlp_width = M;
    tw.vocab_size = VOCAB;
    tw.context_length = L;
    tw.layers_used = LAYERS - 1; /* "penultimate" */
    tw.token_embedding = p; fill(p, (size_t)VOCAB * D, 0.02f, 0); p += (size_t)VOCAB * D;
    tw.positional_embedding = p; fill(p, (size_t)L * D, 0.01f, 0); p += (size_t)L * D;
    vc_clip_text_block blocks[LAYERS];
    for (int i = 0; i < LAYERS; i++) {
        vc_clip_text_block *b = &blocks[i];
#define TAKE(field, n, s, base) do { b->field = p; fill(p, (size_t)(n), s, base); p += (size_t)(n); } while (0)
        TAKE(ln1_w, D, 0.1f, 1.0f); TAKE(ln1_b, D, 0.05f, 0);
        TAKE(in_w, 3 * (size_t)D * D, 0.03f, 0); TAKE(in_b, 3 * D, 0.02f, 0);
        TAKE(out_w, (size_t)D * D, 0.03f, 0); TAKE(out_b, D, 0.02f, 0);
        TAKE(ln2_w, D, 0.1f, 1.0f); TAKE(ln2_b, D, 0.05f, 0);
        TAKE(fc_w, (size_t)M * D, 0.03f, 0); TAKE(fc_b, M, 0.02f, 0);
        TAKE(proj_w, (size_t)D * M, 0.015f, 0); TAKE(proj_b, D, 0.02f, 0);
#undef TAKE
    }
    tw.blocks = blocks;
    tw.ln_final_w = p; fill(p, D, 0.1f, 1.0f); p += D;
    tw.ln_final_b = p; fill(p, D, 0.05f, 0); p += D;
    double t_init = vc_now() - t0;
    double rss_weights = peak_rss_mib();

    const char *prompt = "A corgi running on the beach at sunset, cinematic lighting, 4k, highly detailed";
    float *out = malloc((size_t)L * D * sizeof *out);
    if (!out) return 1;
    double best = 1e30, first = 0, t_tok = 0;
    for (int r = 0; r < repeats; r++) {
        int64_t tokens[L];
        double a = vc_now();
        if (vc_tokenize(ctx, prompt, tokens) != VC_STATUS_OK) {
            fprintf(stderr, "bench_text: %s\n", vc_context_errmsg(ctx));
            return 1;
        }
        double b = vc_now();
        if (vc_clip_text_forward(ctx, &tw, tokens, 1, out) != VC_STATUS_OK) {
            fprintf(stderr, "bench_text: %s\n", vc_context_errmsg(ctx));
            return 1;
        }
        double c = vc_now();
        if (r == 0) {
            first = c - a;
            t_tok = b - a;
        }
        if (c - b < best) best = c - b;
    }
    double checksum = 0;
    for (size_t i = 0; i < (size_t)L * D; i++) checksum += out[i];
    double flops = 2.0 * L * (double)(LAYERS - 1) * (4.0 * D * D + 2.0 * D * M) + 4.0 * L * L * D * (LAYERS - 1);
    printf("bench_text: ViT-H/14 text tower (%d x %d, %d heads, MLP %d, %d of %d blocks), 1 prompt, %d threads\n", D,
           LAYERS, HEADS, M, LAYERS - 1, LAYERS, vc_context_n_threads(ctx));
    printf("  weights            %.1f MiB (%zu floats, random init %.2f s)\n", total * 4.0 / 1048576.0, total, t_init);
    printf("  first call         %.1f ms (tokenizer creation + tokenize %.1f ms)\n", 1e3 * first, 1e3 * t_tok);
    printf("  forward, best of %d %.1f ms (%.1f GFLOP/s)\n", repeats, 1e3 * best, flops / best * 1e-9);
    printf("  peak RSS           %.1f MiB (after weights %.1f MiB; working arena peak %.2f MiB)\n", peak_rss_mib(),
           rss_weights, (double)vc_context_peak_bytes(ctx) / 1048576.0);
    printf("  checksum           %.6e\n", checksum);
    free(out);
    free(w);
    vc_context_free(ctx);
    return 0;
}
