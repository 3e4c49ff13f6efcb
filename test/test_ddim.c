/* test_ddim.c - the DDIM sampler (spec §7) against the original: timesteps
 * (step-count quirk, crash set), per-step coefficients bit for bit, 5-step
 * samples with eta 0 and eta 1 (recorded noise) for every reference case,
 * guidance batching, cancellation, and the counter-based RNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "core/model.h"
#include "sampler/ddim.h"
#include "sampler/rng.h"

static const char *const CASES[] = {"t2v_512_v1", "t2v_1024_v1", "t2v_512_v2", "i2v_512_v1"};

/* ------------------------------------------------------------ models */

typedef struct tmodel {
    vc_model *m;
} tmodel;

/* The case's model with its config.yaml (and open_clip_vc-tiny.json). */
static tmodel load_case(vc_context *ctx, const char *cs)
{
    tmodel t = {0};
    vc_model_params mp;
    vc_model_default_params(&mp);
    mp.config_path = vct_path("%s/config.yaml", cs);
    if (vc_model_load(ctx, vct_path("%s/model.ckpt", cs), &mp, &t.m))
        fail_msg("vc_model_load %s: %s", cs, vc_context_errmsg(ctx));
    return t;
}

static void free_case(tmodel *t)
{
    vc_model_free(t->m);
    t->m = NULL;
}

/* The case's sampling contexts: T2V ddim_{cond,uncond}_context; I2V the full
 * 93-token ones (context_full = text + image tokens, uncond_context = "" + zero image). */
static void load_contexts(const char *cs, vc_tensor *cc, vc_tensor *uc)
{
    if (strstr(cs, "i2v")) {
        vct_load(cc, "%s/context_full.npy", cs);
        vct_load(uc, "%s/uncond_context.npy", cs);
    } else {
        vct_load(cc, "%s/ddim_cond_context.npy", cs);
        vct_load(uc, "%s/ddim_uncond_context.npy", cs);
    }
}

static vc_sampler *make_sampler(vc_context *ctx, const vc_model *m, int32_t steps, float eta, bool batch)
{
    vc_sampler_params sp;
    vc_sampler_default_params(m, &sp);
    sp.steps = steps;
    sp.eta = eta;
    sp.guidance = 12.0f;
    sp.frames = 3;
    sp.height = 64;
    sp.width = 96;
    sp.batch_guidance = batch;
    vc_sampler *s = NULL;
    if (vc_sampler_create(ctx, m, &sp, &s)) fail_msg("vc_sampler_create: %s", vc_context_errmsg(ctx));
    return s;
}

/* ------------------------------------------------------------ timesteps (§7.2) */

static void test_timesteps(void **state)
{
    (void)state;
    int64_t tau[VC_DDIM_MAX_STEPS];
    int32_t K = 0;
    assert_int_equal(vc_ddim_timesteps(NULL, 5, 1000, tau, VC_DDIM_MAX_STEPS, &K), VC_STATUS_OK);
    assert_int_equal(K, 5);
    const int64_t want5[5] = {1, 201, 401, 601, 801};
    assert_memory_equal(tau, want5, sizeof want5);
    assert_int_equal(vc_ddim_timesteps(NULL, 50, 1000, tau, VC_DDIM_MAX_STEPS, &K), VC_STATUS_OK);
    assert_int_equal(K, 50);
    assert_int_equal(tau[49], 981);
    assert_int_equal(tau[1], 21);
    const int32_t quirk[][2] = {{7, 8}, {30, 31}, {60, 63}, {25, 25}, {100, 100}, {500, 500}};
    for (size_t i = 0; i < sizeof quirk / sizeof quirk[0]; i++) {
        assert_int_equal(vc_ddim_timesteps(NULL, quirk[i][0], 1000, tau, VC_DDIM_MAX_STEPS, &K), VC_STATUS_OK);
        assert_int_equal(K, quirk[i][1]);
    }
    /* the crash set is exactly {3, 9, 27, 36, 37, 101-111, 251-333, 501-1000} (plus 0 and > 1000) */
    int n_refused = 0;
    for (int32_t S = 0; S <= 1001; S++) {
        bool crash = S == 0 || S == 3 || S == 9 || S == 27 || S == 36 || S == 37 || (S >= 101 && S <= 111) ||
                     (S >= 251 && S <= 333) || S >= 501;
        vc_status st = vc_ddim_timesteps(NULL, S, 1000, tau, VC_DDIM_MAX_STEPS, &K);
        if (crash != (st != VC_STATUS_OK)) fail_msg("steps %d: status %d, crash expected %d", S, st, crash);
        if (st) {
            assert_int_equal(st, VC_STATUS_INVALID_ARGUMENT);
            n_refused++;
        } else {
            assert_true(tau[K - 1] < 1000);
        }
    }
    vc_ddim_timesteps(NULL, 3, 1000, tau, VC_DDIM_MAX_STEPS, &K);
    print_message("  %d step counts refused; 3 steps: %s\n", n_refused, vc_last_error());
    assert_non_null(strstr(vc_last_error(), "2 or 4"));
}

/* The sampler refuses a crash-set step count cleanly. */
static void test_sampler_crash_steps(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, CASES[0]);
    vc_sampler_params sp;
    vc_sampler_default_params(tm.m, &sp);
    sp.steps = 9;
    vc_sampler *s = (vc_sampler *)1;
    assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_INVALID_ARGUMENT);
    assert_null(s);
    print_message("  %s\n", vc_context_errmsg(ctx));
    sp.steps = 7;
    sp.height = 64;
    sp.width = 96;
    assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_OK);
    assert_int_equal(vc_sampler_n_steps(s), 8);
    int64_t ts[8];
    assert_int_equal(vc_sampler_get_timesteps(s, ts, 8), VC_STATUS_OK);
    assert_int_equal(ts[0], 995);
    assert_int_equal(ts[7], 1);
    vc_sampler_free(s);
    /* sizes the UNet cannot run: pixels must be multiples of 8 * 4 = 32 here */
    sp.height = 70;
    assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_BAD_SIZE);
    print_message("  %s\n", vc_context_errmsg(ctx));
    assert_non_null(strstr(vc_context_errmsg(ctx), "64x96 or 96x96"));
    free_case(&tm);
    vc_context_free(ctx);
}

/* ------------------------------------------------------------ coefficients (§7.3, §7.5) */

static void test_coefficients(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    for (size_t ci = 0; ci < 4; ci++) {
        const char *cs = CASES[ci];
        tmodel tm = load_case(ctx, cs);
        const vc_model *m = tm.m;
        vc_tensor ts = {0};
        vct_load(&ts, "%s/ddim5_timesteps.npy", cs);
        for (int eta = 0; eta <= 1; eta++) {
            vc_tensor ref = {0};
            vct_load(&ref, "%s/ddim5_eta%d_coefs.npy", cs, eta);
            assert_int_equal(ref.dtype, VC_DTYPE_F64);
            int64_t tau[VC_DDIM_MAX_STEPS];
            int32_t K;
            vc_ddim_coef c[VC_DDIM_MAX_STEPS];
            assert_int_equal(vc_ddim_timesteps(ctx, 5, 1000, tau, VC_DDIM_MAX_STEPS, &K), VC_STATUS_OK);
            assert_int_equal(vc_ddim_coefs(ctx, m->alphas_cumprod, m->cfg.timesteps,
                                           m->cfg.use_scale ? m->scale_arr : NULL, m->n_scale_arr, tau, K,
                                           (double)eta, c),
                             VC_STATUS_OK);
            const double *r = ref.data;
            for (int32_t j = 0; j < K; j++) {
                const vc_ddim_coef *k = &c[K - 1 - j]; /* file rows in execution order */
                assert_int_equal(k->t, ((const int64_t *)ts.data)[j]);
                const double mine[7] = {(double)k->t, k->a, k->a_prev, k->sigma, k->sq1ma, k->scale, k->scale_prev};
                for (int q = 0; q < 7; q++)
                    if (mine[q] != r[j * 7 + q])
                        fail_msg("%s eta %d step %d column %d: %.9g != %.9g", cs, eta, j, q, mine[q], r[j * 7 + q]);
            }
            print_message("  %s eta %d: 5 x 7 coefficients bit-identical (sigma[0] %.9g)\n", cs, eta,
                          (double)c[K - 1].sigma);
            vc_tensor_free(&ref);
        }
        vc_tensor_free(&ts);
        free_case(&tm);
    }
    vc_context_free(ctx);
}

/* ------------------------------------------------------------ 5-step samples (§7.4) */

static void ddim_case(const char *cs)
{
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, cs);
    vc_tensor cc = {0}, uc = {0}, xT = {0}, noise = {0};
    load_contexts(cs, &cc, &uc);
    vct_load(&xT, "%s/ddim_x_T.npy", cs);
    vct_load(&noise, "%s/ddim5_eta1_noise.npy", cs);
    for (int eta = 0; eta <= 1; eta++) {
        vc_sampler *s = make_sampler(ctx, tm.m, 5, (float)eta, true);
        vc_sample_inputs in;
        vc_sample_inputs_init(&in);
        vc_tensor steps = {0}, z = {0}, ref = {0}, fin = {0};
        in.context = &cc;
        in.uncond_context = &uc;
        in.init_noise = &xT;
        in.step_noise = eta ? &noise : NULL; /* eta 0: sigma = 0, no noise needed */
        in.steps_out = &steps;
        if (vc_sampler_run(s, &in, &z)) fail_msg("%s eta %d: %s", cs, eta, vc_context_errmsg(ctx));
        vct_load(&ref, "%s/ddim5_eta%d_cfg12_steps.npy", cs, eta);
        vct_load(&fin, "%s/ddim5_eta%d_cfg12.npy", cs, eta);
        assert_int_equal(steps.ndim, 6);
        const int64_t n = vc_tensor_numel(&z);
        for (int j = 0; j < 5; j++) {
            vc_tensor a = z, b = fin;
            a.flags = b.flags = 0;
            a.data = (float *)steps.data + j * n;
            b.data = (float *)ref.data + j * n;
            char what[96];
            snprintf(what, sizeof what, "%s eta%d step %d", cs, eta, j + 1);
            vct_assert_close(&a, &b, vct_tol(1e-4, 3e-2), what);
        }
        char what[96];
        snprintf(what, sizeof what, "%s eta%d final", cs, eta);
        vct_assert_close(&z, &fin, vct_tol(1e-4, 3e-2), what);
        vc_tensor_free(&steps);
        vc_tensor_free(&z);
        vc_tensor_free(&ref);
        vc_tensor_free(&fin);
        vc_sampler_free(s);
    }
    vc_tensor_free(&cc);
    vc_tensor_free(&uc);
    vc_tensor_free(&xT);
    vc_tensor_free(&noise);
    free_case(&tm);
    vc_context_free(ctx);
}

static void test_ddim_t2v_512_v1(void **state) { (void)state; ddim_case(CASES[0]); }
static void test_ddim_t2v_1024_v1(void **state) { (void)state; ddim_case(CASES[1]); }
static void test_ddim_t2v_512_v2(void **state) { (void)state; ddim_case(CASES[2]); }
static void test_ddim_i2v_512_v1(void **state) { (void)state; ddim_case(CASES[3]); }

/* From the prompt (and image): text encoder (+ CLIP vision, resampler, zero-image
 * uncond) -> contexts -> the same 5-step samples. */
static void e2e_case(const char *cs, int eta)
{
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, cs);
    char prompt[1024] = "";
    FILE *f = fopen(vct_path("%s/prompt.txt", cs), "rb");
    assert_non_null(f);
    size_t n = fread(prompt, 1, sizeof prompt - 1, f);
    fclose(f);
    prompt[n] = 0;
    if (n && prompt[n - 1] == '\n') prompt[n - 1] = 0; /* inference.py strips it */
    const char *pp = prompt;
    vc_tensor xT = {0}, noise = {0}, img = {0}, z = {0}, ref = {0};
    vct_load(&xT, "%s/ddim_x_T.npy", cs);
    vct_load(&noise, "%s/ddim5_eta1_noise.npy", cs);
    vc_sampler *s = make_sampler(ctx, tm.m, 5, (float)eta, true);
    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    in.prompts = &pp;
    in.n_prompts = 1;
    in.init_noise = &xT;
    in.step_noise = eta ? &noise : NULL;
    if (strstr(cs, "i2v")) {
        assert_int_equal(vc_image_load(ctx, vct_path("%s/input.png", cs), &img), VC_STATUS_OK);
        in.image = &img;
    }
    if (vc_sampler_run(s, &in, &z)) fail_msg("%s: %s", cs, vc_context_errmsg(ctx));
    vct_load(&ref, "%s/ddim5_eta%d_cfg12.npy", cs, eta);
    char what[96];
    snprintf(what, sizeof what, "%s from prompt%s, eta %d", cs, img.data ? "+image" : "", eta);
    vct_assert_close(&z, &ref, vct_tol(1e-4, 3e-2), what);
    vc_tensor_free(&xT);
    vc_tensor_free(&noise);
    vc_tensor_free(&img);
    vc_tensor_free(&z);
    vc_tensor_free(&ref);
    vc_sampler_free(s);
    free_case(&tm);
    vc_context_free(ctx);
}

static void test_e2e_t2v_prompt(void **state) { (void)state; e2e_case(CASES[0], 0); }
static void test_e2e_i2v_prompt_image(void **state) { (void)state; e2e_case(CASES[3], 1); }

/* negative_prompt replaces "" in the unconditional pass: the same as giving
 * encode_text(negative) as uncond_context, bit for bit, and unlike "". */
static void test_negative_prompt(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, CASES[2]);
    const char *prompt = "a red panda", *neg = "blurry, low quality";
    vc_tensor un = {0}, xT = {0}, z[3] = {{0}};
    assert_int_equal(vc_encode_text(ctx, tm.m, &neg, 1, &un), VC_STATUS_OK);
    vct_load(&xT, "%s/ddim_x_T.npy", CASES[2]);
    for (int r = 0; r < 3; r++) {
        vc_sampler *s = make_sampler(ctx, tm.m, 2, 0.0f, true);
        vc_sample_inputs in;
        vc_sample_inputs_init(&in);
        in.prompts = &prompt;
        in.n_prompts = 1;
        in.init_noise = &xT;
        if (r == 0) in.negative_prompt = neg;
        if (r == 1) in.uncond_context = &un;
        assert_int_equal(vc_sampler_run(s, &in, &z[r]), VC_STATUS_OK);
        vc_sampler_free(s);
    }
    const size_t bytes = (size_t)vc_tensor_numel(&z[0]) * 4;
    assert_memory_equal(z[0].data, z[1].data, bytes);
    assert_true(memcmp(z[0].data, z[2].data, bytes) != 0);
    print_message("  negative prompt == its encoding as uncond_context (bitwise), != empty prompt\n");
    for (int r = 0; r < 3; r++) vc_tensor_free(&z[r]);
    vc_tensor_free(&un);
    vc_tensor_free(&xT);
    free_case(&tm);
    vc_context_free(ctx);
}

/* ------------------------------------------------------------ guidance batching */

/* cond + uncond as one batch of 2B == two passes of B, bit for bit; with a
 * batch of 2 videos per prompt and seeded noise. */
static void test_guidance_batching(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    for (size_t ci = 0; ci < 4; ci += 3) {
        tmodel tm = load_case(ctx, CASES[ci]);
        vc_tensor cc = {0}, uc = {0}, z[2] = {{0}};
        load_contexts(CASES[ci], &cc, &uc);
        for (int b = 0; b < 2; b++) {
            vc_sampler_params sp;
            vc_sampler_default_params(tm.m, &sp);
            sp.steps = 2;
            sp.frames = 2;
            sp.height = 32;
            sp.width = 64;
            sp.batch = 2;
            sp.seed = 7;
            sp.batch_guidance = b == 0;
            vc_sampler *s = NULL;
            assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_OK);
            vc_sample_inputs in;
            vc_sample_inputs_init(&in);
            in.context = &cc;
            in.uncond_context = &uc;
            if (vc_sampler_run(s, &in, &z[b])) fail_msg("%s", vc_context_errmsg(ctx));
            vc_sampler_free(s);
        }
        assert_int_equal(z[0].shape[0], 2);
        assert_memory_equal(z[0].data, z[1].data, (size_t)vc_tensor_numel(&z[0]) * 4);
        print_message("  %s: batched guidance (B=2 -> 4) == two passes, bitwise\n", CASES[ci]);
        vc_tensor_free(&z[0]);
        vc_tensor_free(&z[1]);
        vc_tensor_free(&cc);
        vc_tensor_free(&uc);
        free_case(&tm);
    }
    vc_context_free(ctx);
}

/* guidance 1: the uncond pass is skipped (no uncond context is ever needed) */
static void test_guidance_one(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, CASES[2]);
    vc_tensor cc = {0}, uc = {0}, xT = {0}, z = {0};
    load_contexts(CASES[2], &cc, &uc);
    vct_load(&xT, "%s/ddim_x_T.npy", CASES[2]);
    vc_sampler *s = make_sampler(ctx, tm.m, 2, 0.0f, true);
    s = (vc_sampler_free(s), NULL);
    vc_sampler_params sp;
    vc_sampler_default_params(tm.m, &sp);
    sp.steps = 2;
    sp.guidance = 1.0f;
    sp.frames = 3;
    sp.height = 64;
    sp.width = 96;
    assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_OK);
    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    in.context = &cc; /* no uncond_context: encoding "" would need the text encoder */
    in.init_noise = &xT;
    assert_int_equal(vc_sampler_run(s, &in, &z), VC_STATUS_OK);
    for (int64_t i = 0; i < vc_tensor_numel(&z); i++) assert_true(isfinite(((float *)z.data)[i]));
    vc_tensor_free(&z);
    vc_sampler_free(s);
    vc_tensor_free(&cc);
    vc_tensor_free(&uc);
    vc_tensor_free(&xT);
    free_case(&tm);
    vc_context_free(ctx);
}

/* ------------------------------------------------------------ progress and cancel */

typedef struct prog {
    int calls, cancel_at;
    bool saw_x0;
    vc_context *ctx;
    bool use_ctx_cancel;
} prog;

static int on_progress(const vc_progress *p, void *user)
{
    prog *g = user;
    g->calls++;
    assert_int_equal(p->step, g->calls);
    assert_string_equal(p->stage, "sample");
    assert_true(p->elapsed_s >= 0);
    if (p->x0) g->saw_x0 = true;
    if (g->calls == g->cancel_at) {
        if (g->use_ctx_cancel) vc_context_cancel(g->ctx);
        else return 1;
    }
    return 0;
}

static void test_cancel(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    tmodel tm = load_case(ctx, CASES[3]);
    vc_tensor cc = {0}, uc = {0};
    load_contexts(CASES[3], &cc, &uc);
    for (int mode = 0; mode < 3; mode++) {
        prog g = {.cancel_at = mode == 2 ? 99 : 2, .ctx = ctx, .use_ctx_cancel = mode == 1};
        vc_sampler_params sp;
        vc_sampler_default_params(tm.m, &sp);
        sp.steps = 5;
        sp.frames = 3;
        sp.height = 64;
        sp.width = 96;
        sp.progress = on_progress;
        sp.progress_user_data = &g;
        sp.preview_x0 = true;
        vc_sampler *s = NULL;
        assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_OK);
        vc_sample_inputs in;
        vc_sample_inputs_init(&in);
        in.context = &cc;
        in.uncond_context = &uc;
        vc_tensor steps = {0}, z = {0};
        in.steps_out = &steps;
        if (mode == 2) vc_context_cancel(ctx); /* a stale cancel is cleared when the run starts */
        vc_status st = vc_sampler_run(s, &in, &z);
        if (mode < 2) {
            assert_int_equal(st, VC_STATUS_CANCELLED);
            assert_int_equal(g.calls, 2);
            assert_null(z.data);
            assert_null(steps.data); /* nothing handed out, nothing leaked (ASan run) */
            print_message("  %s\n", vc_context_errmsg(ctx));
        } else {
            assert_int_equal(st, VC_STATUS_OK);
            assert_int_equal(g.calls, 5);
            assert_true(g.saw_x0);
            vc_tensor_free(&z);
            vc_tensor_free(&steps);
        }
        vc_sampler_free(s);
    }
    vc_tensor_free(&cc);
    vc_tensor_free(&uc);
    free_case(&tm);
    vc_context_free(ctx);
}

/* ------------------------------------------------------------ RNG (docs/rng.md) */

static void test_philox_kat(void **state)
{
    (void)state;
    /* Random123 known-answer vectors for Philox4x32-10 */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
         0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
         0x5001e420, 0x24126ea1},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        vc_philox4x32_10(kat[i], kat[i] + 4, out);
        assert_memory_equal(out, kat[i] + 6, sizeof out);
    }
    /* the mapping of docs/rng.md: a few values pinned so other implementations can check theirs */
    const float z0 = vc_rng_normal_at(123, 0, 0), z1 = vc_rng_normal_at(123, 0, 1), z5 = vc_rng_normal_at(123, 1, 5);
    print_message("  seed 123: stream 0 [0] = %.9g, [1] = %.9g; stream 1 [5] = %.9g\n", (double)z0, (double)z1,
                  (double)z5);
}

static void test_rng_threads(void **state)
{
    (void)state;
    const int64_t n = 4 * 16 * 40 * 64 + 3; /* x_T of 16 frames at 320x512, odd tail */
    float *a = malloc((size_t)n * 4), *b = malloc((size_t)n * 4), *c = malloc((size_t)n * 4);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    vc_rng_normal_fill(123, VC_RNG_STREAM_INIT, 0, n, a, 1);
    vc_rng_normal_fill(123, VC_RNG_STREAM_INIT, 0, n, b, 2);
    assert_memory_equal(a, b, (size_t)n * 4);
    vc_rng_normal_fill(123, VC_RNG_STREAM_INIT, 0, n, b, 3);
    assert_memory_equal(a, b, (size_t)n * 4);
    /* element i depends only on (seed, stream, i): an offset window matches */
    vc_rng_normal_fill(123, VC_RNG_STREAM_INIT, 1001, n - 1001, c, 2);
    assert_memory_equal(a + 1001, c, (size_t)(n - 1001) * 4);
    assert_true(a[7] == vc_rng_normal_at(123, 0, 7));
    /* other streams and seeds differ; moments of N(0,1) */
    vc_rng_normal_fill(123, VC_RNG_STREAM_STEP(0), 0, n, b, 2);
    assert_true(memcmp(a, b, (size_t)n * 4) != 0);
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        s1 += a[i];
        s2 += (double)a[i] * a[i];
    }
    double mean = s1 / n, var = s2 / n - mean * mean;
    print_message("  %lld normals: mean %.4f var %.4f; 1/2/3 threads bit-identical\n", (long long)n, mean, var);
    assert_true(fabs(mean) < 0.01 && fabs(var - 1) < 0.01);
    free(a);
    free(b);
    free(c);
}

/* A seeded run draws x_T from stream 0 and the step-k noise from stream k+1
 * (docs/rng.md): it equals a run given those tensors, bit for bit; and the
 * draws are the same on 1 and 2 threads. */
static void test_seeded_noise_streams(void **state)
{
    (void)state;
    const int64_t n = 1 * 4 * 3 * 8 * 12;
    float *xt[2];
    for (int t = 0; t < 2; t++) {
        vc_context_params cp;
        vc_context_default_params(&cp);
        cp.n_threads = t + 1;
        cp.log_level = VC_LOG_NONE;
        vc_context *ctx = NULL;
        assert_int_equal(vc_context_create(&cp, &ctx), VC_STATUS_OK);
        xt[t] = malloc((size_t)n * 4);
        assert_non_null(xt[t]);
        vc_rng_normal_fill(42, VC_RNG_STREAM_INIT, 0, n, xt[t], vc_context_n_threads(ctx));
        if (t == 1) {
            tmodel tm = load_case(ctx, CASES[1]);
            vc_tensor cc = {0}, uc = {0}, z[2] = {{0}}, xT = {0}, sn = {0};
            load_contexts(CASES[1], &cc, &uc);
            int64_t xs[5] = {1, 4, 3, 8, 12}, ss[6] = {2, 1, 4, 3, 8, 12};
            assert_int_equal(vc_tensor_alloc(&xT, VC_DTYPE_F32, 5, xs), VC_STATUS_OK);
            assert_int_equal(vc_tensor_alloc(&sn, VC_DTYPE_F32, 6, ss), VC_STATUS_OK);
            memcpy(xT.data, xt[t], (size_t)n * 4);
            for (int j = 0; j < 2; j++)
                vc_rng_normal_fill(42, VC_RNG_STREAM_STEP(j), 0, n, (float *)sn.data + j * n, 1);
            for (int r = 0; r < 2; r++) {
                vc_sampler_params sp;
                vc_sampler_default_params(tm.m, &sp);
                sp.steps = 2;
                sp.eta = 1.0f;
                sp.frames = 3;
                sp.height = 64;
                sp.width = 96;
                sp.seed = 42;
                vc_sampler *s = NULL;
                assert_int_equal(vc_sampler_create(ctx, tm.m, &sp, &s), VC_STATUS_OK);
                vc_sample_inputs in;
                vc_sample_inputs_init(&in);
                in.context = &cc;
                in.uncond_context = &uc;
                if (r == 1) {
                    in.init_noise = &xT;
                    in.step_noise = &sn;
                }
                assert_int_equal(vc_sampler_run(s, &in, &z[r]), VC_STATUS_OK);
                vc_sampler_free(s);
            }
            assert_memory_equal(z[0].data, z[1].data, (size_t)n * 4);
            print_message("  seeded run == run with streams 0, 1, 2 supplied (bitwise)\n");
            vc_tensor_free(&z[0]);
            vc_tensor_free(&z[1]);
            vc_tensor_free(&xT);
            vc_tensor_free(&sn);
            vc_tensor_free(&cc);
            vc_tensor_free(&uc);
            free_case(&tm);
        }
        vc_context_free(ctx);
    }
    assert_memory_equal(xt[0], xt[1], (size_t)n * 4);
    free(xt[0]);
    free(xt[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timesteps),
        cmocka_unit_test(test_sampler_crash_steps),
        cmocka_unit_test(test_coefficients),
        cmocka_unit_test(test_ddim_t2v_512_v1),
        cmocka_unit_test(test_ddim_t2v_1024_v1),
        cmocka_unit_test(test_ddim_t2v_512_v2),
        cmocka_unit_test(test_ddim_i2v_512_v1),
        cmocka_unit_test(test_e2e_t2v_prompt),
        cmocka_unit_test(test_e2e_i2v_prompt_image),
        cmocka_unit_test(test_negative_prompt),
        cmocka_unit_test(test_guidance_batching),
        cmocka_unit_test(test_guidance_one),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_philox_kat),
        cmocka_unit_test(test_rng_threads),
        cmocka_unit_test(test_seeded_noise_streams),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
