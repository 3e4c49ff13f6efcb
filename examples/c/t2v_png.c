/*
 * t2v_png.c - text to video with the public API only, frames written as PNGs.
 *
 *   cc -std=c99 t2v_png.c $(pkg-config --cflags --libs videocrafter) -o t2v_png
 *   ./t2v_png model.ckpt "a red panda in the snow" out/ [--config X.yaml] [--steps N]
 *             [--frames N] [--height H] [--width W] [--seed S] [--threads N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "videocrafter.h"

static int on_progress(const vc_progress *p, void *user)
{
    (void)user;
    fprintf(stderr, "\r%s %d/%d", p->stage, p->step, p->total);
    if (p->step == p->total) fputc('\n', stderr);
    return 0; /* non-zero would cancel */
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL PROMPT OUTDIR [--config YAML] [--steps N] [--frames N]\n"
                        "       [--height H] [--width W] [--seed S] [--threads N]\n", argv[0]);
        return 2;
    }
    const char *model_path = argv[1], *prompt = argv[2], *outdir = argv[3], *config = NULL;
    long steps = 0, frames = 0, height = 0, width = 0, threads = 0;
    unsigned long long seed = 123;
    int have_seed = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--config")) config = v;
        else if (!strcmp(k, "--steps")) steps = strtol(v, NULL, 10);
        else if (!strcmp(k, "--frames")) frames = strtol(v, NULL, 10);
        else if (!strcmp(k, "--height")) height = strtol(v, NULL, 10);
        else if (!strcmp(k, "--width")) width = strtol(v, NULL, 10);
        else if (!strcmp(k, "--threads")) threads = strtol(v, NULL, 10);
        else if (!strcmp(k, "--seed")) { seed = strtoull(v, NULL, 10); have_seed = 1; }
        else { fprintf(stderr, "unknown option %s\n", k); return 2; }
    }

    int rc = 1;
    vc_status st;
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_sampler *sampler = NULL;
    vc_tensor z = {0}, video = {0}, rgb = {0};

    vc_context_params cp;
    vc_context_default_params(&cp);
    cp.n_threads = (int32_t)threads;
    if ((st = vc_context_create(&cp, &ctx)) != VC_STATUS_OK) {
        fprintf(stderr, "context: %s\n", vc_last_error());
        return 1;
    }

    vc_model_params mp;
    vc_model_default_params(&mp);
    mp.config_path = config;
    if ((st = vc_model_load(ctx, model_path, &mp, &model)) != VC_STATUS_OK) goto fail;

    vc_sampler_params sp;
    vc_sampler_default_params(model, &sp);
    if (steps) sp.steps = (int32_t)steps;
    if (frames) sp.frames = (int32_t)frames;
    if (height) sp.height = (int32_t)height;
    if (width) sp.width = (int32_t)width;
    if (have_seed) sp.seed = seed;
    sp.progress = on_progress;
    if ((st = vc_sampler_create(ctx, model, &sp, &sampler)) != VC_STATUS_OK) goto fail;

    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    in.prompts = &prompt;
    in.n_prompts = 1;
    if ((st = vc_sampler_run(sampler, &in, &z)) != VC_STATUS_OK) goto fail;
    if ((st = vc_decode_latents(ctx, model, &z, &video)) != VC_STATUS_OK) goto fail;
    if ((st = vc_video_to_frames(ctx, &video, 0, &rgb)) != VC_STATUS_OK) goto fail;
    if ((st = vc_frames_write_png(ctx, &rgb, outdir)) != VC_STATUS_OK) goto fail;
    printf("wrote %lld frames of %lldx%lld to %s\n", (long long)rgb.shape[0], (long long)rgb.shape[2],
           (long long)rgb.shape[1], outdir);
    rc = 0;
    goto out;

fail:
    fprintf(stderr, "error: %s (%s)\n", vc_context_errmsg(ctx), vc_status_str(st));
    rc = st == VC_STATUS_UNSUPPORTED ? 77 : 1; /* 77: "skipped" to test harnesses */
out:
    vc_tensor_free(&rgb);
    vc_tensor_free(&video);
    vc_tensor_free(&z);
    vc_sampler_free(sampler);
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
