/* generate.c - `videocrafter t2v` / `videocrafter i2v` (interface contract §3):
 * prompts (+ image) -> DDIM sampling -> latents -> video file. Public API only. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate.h"
#include "output.h"

#define MAX_PROMPTS 64

enum {
    OPT_PROMPT = OPT_FIRST_CMD, OPT_NEG, OPT_FRAMES, OPT_HEIGHT, OPT_WIDTH, OPT_STEPS, OPT_CFG, OPT_ETA, OPT_FPS,
    OPT_SEED, OPT_INIT_NOISE, OPT_STEP_NOISE, OPT_SAVE_LATENTS, OPT_SAVE_FPS, OPT_PROGRESS, OPT_IMAGE, OPT_NO_BATCH,
};

static void help(FILE *f, bool i2v)
{
    const char *cmd = i2v ? "i2v" : "t2v";
    fprintf(f,
            "usage: videocrafter %s MODEL --prompt TEXT%s [options] -o OUT\n"
            "\n"
            "%s with DDIM sampling and classifier-free guidance, as the original scripts\n"
            "(defaults: the model's size and fps, 16 frames, 50 steps, eta 1, cfg 12, seed 123).\n"
            "\n"
            "  --prompt TEXT          prompt (repeat for several videos)\n"
            "%s"
            "  --negative-prompt TEXT replaces the empty prompt of the unconditional pass\n"
            "  --frames N             frames (default 16)\n"
            "  --height H, --width W  video size in pixels (default: the model's, e.g. 320x512)\n"
            "  --steps N              DDIM steps (50; the original executes ceil(1000/(1000 div N)))\n"
            "  --cfg G                guidance scale (12; 1 skips the unconditional pass)\n"
            "  --eta E                DDIM eta (1.0)\n"
            "  --fps N                fps conditioning (default: the model's; ignored by t2v-512-v1)\n"
            "  --seed S               noise seed (123; docs/rng.md)\n"
            "  --init-noise x.npy     x_T [B,4,T,h,w] instead of the seeded noise\n"
            "  --step-noise n.npy     per-step noise [K,B,4,T,h,w] (noisiest step first)\n"
            "  --save-latents z.npy   also write the final latents [B,4,T,h,w]\n"
            "  --save-fps N           frames per second of the video file (10)\n"
            "  --no-batch-guidance    run the conditional and unconditional passes separately\n"
            "  --progress             progress on stderr even when it is not a terminal\n"
            "  -o, --output OUT       *.mp4, *.webm, *.gif, *.npy or a folder/ of PNGs\n" CLI_COMMON_HELP
            "\nCtrl-C cancels cleanly (exit status 130).\n",
            cmd, i2v ? " --image IMG" : "",
            i2v ? "Image (and text) to video" : "Text to video",
            i2v ? "  --image IMG            conditioning image (PNG or JPEG)\n" : "");
}

/* ------------------------------------------------------------ SIGINT -> cancel */

static vc_context *volatile g_ctx;

static void on_sigint(int sig)
{
    (void)sig;
    vc_context *ctx = g_ctx;
    if (ctx) vc_context_cancel(ctx); /* an atomic store: async-signal-safe */
}

/* ------------------------------------------------------------ progress bar */

typedef struct progress_state {
    bool show;
    bool printed;
} progress_state;

static void fmt_time(char *b, size_t n, double s)
{
    if (!(s >= 0) || s > 359999) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(b, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(b, n, "%ld:%02ld", t / 60, t % 60);
}

static int on_progress(const vc_progress *p, void *user)
{
    progress_state *ps = user;
    if (!ps->show) return 0;
    double rate = p->elapsed_s > 0 ? p->step / p->elapsed_s : 0;
    char eta[32], el[32];
    fmt_time(eta, sizeof eta, rate > 0 ? (p->total - p->step) / rate : 0);
    fmt_time(el, sizeof el, p->elapsed_s);
    const int width = 30, done = p->total > 0 ? width * p->step / p->total : width;
    char bar[64];
    for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
    bar[width] = 0;
    if (rate >= 1 || rate == 0)
        fprintf(stderr, "\r%s [%s] step %d/%d  %.2f it/s  elapsed %s  ETA %s ", p->stage, bar, p->step, p->total,
                rate, el, eta);
    else
        fprintf(stderr, "\r%s [%s] step %d/%d  %.1f s/it  elapsed %s  ETA %s ", p->stage, bar, p->step, p->total,
                1.0 / rate, el, eta);
    fflush(stderr);
    ps->printed = true;
    return 0;
}

/* ------------------------------------------------------------ main body */

static int load_npy(const char *cmd, const char *what, const char *path, vc_tensor *t)
{
    vc_status st = vc_tensor_load_npy(path, t);
    if (st) return cli_fail("%s: cannot read %s %s: %s", cmd, what, path, vc_last_error());
    return CLI_OK;
}

int cli_generate(int argc, char **argv, bool i2v)
{
    const char *cmd = i2v ? "i2v" : "t2v";
    static const struct option opts[] = {
        CLI_COMMON_OPTIONS,
        {"output", required_argument, 0, 'o'},
        {"prompt", required_argument, 0, OPT_PROMPT},
        {"negative-prompt", required_argument, 0, OPT_NEG},
        {"frames", required_argument, 0, OPT_FRAMES},
        {"height", required_argument, 0, OPT_HEIGHT},
        {"width", required_argument, 0, OPT_WIDTH},
        {"steps", required_argument, 0, OPT_STEPS},
        {"cfg", required_argument, 0, OPT_CFG},
        {"eta", required_argument, 0, OPT_ETA},
        {"fps", required_argument, 0, OPT_FPS},
        {"seed", required_argument, 0, OPT_SEED},
        {"init-noise", required_argument, 0, OPT_INIT_NOISE},
        {"step-noise", required_argument, 0, OPT_STEP_NOISE},
        {"save-latents", required_argument, 0, OPT_SAVE_LATENTS},
        {"save-fps", required_argument, 0, OPT_SAVE_FPS},
        {"progress", no_argument, 0, OPT_PROGRESS},
        {"no-batch-guidance", no_argument, 0, OPT_NO_BATCH},
        {"image", required_argument, 0, OPT_IMAGE},
        {0, 0, 0, 0},
    };
    cli_common c;
    memset(&c, 0, sizeof c);
    const char *prompts[MAX_PROMPTS];
    int n_prompts = 0;
    const char *neg = NULL, *out = NULL, *init_path = NULL, *step_path = NULL, *lat_path = NULL, *image_path = NULL;
    long frames = -1, height = -1, width = -1, steps = -1, fps = -1, save_fps = 10;
    double cfg = NAN, eta = NAN;
    unsigned long long seed = 0;
    bool have_seed = false, force_progress = false, no_batch = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "o:v", opts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            help(stdout, i2v);
            return CLI_OK;
        }
        int r = cli_common_option(&c, opt, optarg);
        if (r < 0) return cli_usage(cmd, "bad value '%s' for an option", optarg ? optarg : "");
        if (r > 0) continue;
        switch (opt) {
        case 'o': out = optarg; break;
        case OPT_PROMPT:
            if (n_prompts == MAX_PROMPTS) return cli_usage(cmd, "at most %d prompts", MAX_PROMPTS);
            prompts[n_prompts++] = optarg;
            break;
        case OPT_NEG: neg = optarg; break;
        case OPT_FRAMES:
            if (!cli_parse_int(optarg, 1, 1024, &frames)) return cli_usage(cmd, "--frames wants 1..1024, not '%s'", optarg);
            break;
        case OPT_HEIGHT:
            if (!cli_parse_int(optarg, 1, 65536, &height)) return cli_usage(cmd, "--height wants pixels, not '%s'", optarg);
            break;
        case OPT_WIDTH:
            if (!cli_parse_int(optarg, 1, 65536, &width)) return cli_usage(cmd, "--width wants pixels, not '%s'", optarg);
            break;
        case OPT_STEPS:
            if (!cli_parse_int(optarg, 1, 1000, &steps)) return cli_usage(cmd, "--steps wants 1..1000, not '%s'", optarg);
            break;
        case OPT_CFG:
            if (!cli_parse_float(optarg, &cfg) || !isfinite(cfg)) return cli_usage(cmd, "--cfg wants a number, not '%s'", optarg);
            break;
        case OPT_ETA:
            if (!cli_parse_float(optarg, &eta) || !(eta >= 0) || !isfinite(eta))
                return cli_usage(cmd, "--eta wants a number >= 0, not '%s'", optarg);
            break;
        case OPT_FPS:
            if (!cli_parse_int(optarg, 1, 1000000, &fps)) return cli_usage(cmd, "--fps wants a positive integer, not '%s'", optarg);
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            seed = strtoull(optarg, &end, 10);
            if (!*optarg || *end || errno || optarg[0] == '-')
                return cli_usage(cmd, "--seed wants a non-negative integer, not '%s'", optarg);
            have_seed = true;
            break;
        }
        case OPT_INIT_NOISE: init_path = optarg; break;
        case OPT_STEP_NOISE: step_path = optarg; break;
        case OPT_SAVE_LATENTS: lat_path = optarg; break;
        case OPT_SAVE_FPS:
            if (!cli_parse_int(optarg, 1, 240, &save_fps)) return cli_usage(cmd, "--save-fps wants 1..240, not '%s'", optarg);
            break;
        case OPT_PROGRESS: force_progress = true; break;
        case OPT_NO_BATCH: no_batch = true; break;
        case OPT_IMAGE:
            if (!i2v) return cli_usage(cmd, "--image belongs to 'videocrafter i2v'");
            image_path = optarg;
            break;
        default: return cli_usage(cmd, "unknown option");
        }
    }
    if (argc - optind != 1) return cli_usage(cmd, argc - optind < 1 ? "expected MODEL" : "expected one MODEL");
    c.model_path = argv[optind];
    if (n_prompts == 0) {
        if (!i2v) return cli_usage(cmd, "--prompt TEXT is required");
        prompts[n_prompts++] = ""; /* i2v without text: the image alone */
    }
    if (i2v && !image_path) return cli_usage(cmd, "--image IMG is required");
    if (!out && !lat_path) return cli_usage(cmd, "-o OUT (or --save-latents z.npy) is required");
    if (out && cli_output_check(out) != CLI_OK) return CLI_FAILED;

    int rc = CLI_OK;
    vc_context *ctx = NULL;
    vc_model *model = NULL;
    vc_sampler *s = NULL;
    vc_tensor init = {0}, stepn = {0}, image = {0}, z = {0};
    vc_status st = cli_open_model(&c, &ctx, &model);
    if (st) {
        rc = cli_fail_status(ctx, st, "loading the model");
        goto done;
    }
    if (init_path && (rc = load_npy(cmd, "--init-noise", init_path, &init))) goto done;
    if (step_path && (rc = load_npy(cmd, "--step-noise", step_path, &stepn))) goto done;
    if (image_path && (st = vc_image_load(ctx, image_path, &image))) {
        rc = cli_fail_status(ctx, st, "reading the image");
        goto done;
    }

    progress_state ps = {.show = force_progress || isatty(STDERR_FILENO)};
    vc_sampler_params sp;
    vc_sampler_default_params(model, &sp);
    if (frames > 0) sp.frames = (int32_t)frames;
    if (height > 0) sp.height = (int32_t)height;
    if (width > 0) sp.width = (int32_t)width;
    if (steps > 0) sp.steps = (int32_t)steps;
    if (!isnan(cfg)) sp.guidance = (float)cfg;
    if (!isnan(eta)) sp.eta = (float)eta;
    if (fps > 0) sp.fps = (int32_t)fps;
    if (have_seed) sp.seed = seed;
    sp.batch_guidance = !no_batch;
    sp.progress = on_progress;
    sp.progress_user_data = &ps;
    if ((st = vc_sampler_create(ctx, model, &sp, &s))) {
        rc = cli_fail_status(ctx, st, "setting up the sampler");
        goto done;
    }

    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    in.prompts = prompts;
    in.n_prompts = n_prompts;
    in.negative_prompt = neg;
    in.image = image_path ? &image : NULL;
    in.init_noise = init_path ? &init : NULL;
    in.step_noise = step_path ? &stepn : NULL;

    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C kills at once */
    g_ctx = ctx;
    sigaction(SIGINT, &sa, &old);
    st = vc_sampler_run(s, &in, &z);
    sigaction(SIGINT, &old, NULL);
    g_ctx = NULL;
    if (ps.printed) fputc('\n', stderr);
    if (st) {
        rc = cli_fail_status(ctx, st, "sampling");
        goto done;
    }
    if (lat_path && (st = vc_tensor_save_npy(lat_path, &z))) {
        rc = cli_fail("cannot write %s: %s", lat_path, vc_last_error());
        goto done;
    }
    if (out) rc = cli_write_output(ctx, model, &z, out, (int)save_fps);

done:
    vc_tensor_free(&z);
    vc_tensor_free(&init);
    vc_tensor_free(&stepn);
    vc_tensor_free(&image);
    vc_sampler_free(s);
    vc_model_free(model);
    vc_context_free(ctx);
    return rc;
}
