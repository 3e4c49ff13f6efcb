/* sampler.c - the DDIM sampler (spec §6, §7): contexts, noise, guidance,
 * progress and cancellation around vc_unet_forward.
 *
 * The latent stays on the host between steps and the step arithmetic runs
 * there in plain float32 (ddim.c), so every backend gives the same update;
 * only the UNet calls run on the backend. Conditional and unconditional passes
 * go through the UNet as one batch of 2B when batch_guidance is set and the
 * working memory allows (identical results: batch elements never interact). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../image/image.h"
#include "../unet/unet.h"
#include "ddim.h"
#include "rng.h"

struct vc_sampler {
    vc_context *ctx;
    const vc_model *model;
    vc_sampler_params p;
    int32_t K;                     /* executed steps */
    int64_t tau[VC_DDIM_MAX_STEPS]; /* ascending */
    vc_ddim_coef coef[VC_DDIM_MAX_STEPS];
    int32_t frames, lh, lw;        /* latent frames and size */
    int32_t height, width;         /* pixels */
};

/* Pixel size per latent element: the VAE's downsampling (2^(levels-1)). */
static int32_t vae_factor(const vc_model *m)
{
    int32_t n = m->cfg.vae.n_levels;
    return n >= 1 && n <= 8 ? 1 << (n - 1) : 8;
}

void vc_sampler_default_params(const vc_model *model, vc_sampler_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->steps = 50;
    p->eta = 1.0f;
    p->guidance = 12.0f;
    p->fps = 0; /* model default */
    p->seed = 123;
    p->frames = model && model->cfg.default_frames > 0 ? model->cfg.default_frames : 16;
    p->height = 0;
    p->width = 0;
    p->batch = 1;
    p->batch_guidance = true;
}

vc_status vc_sampler_create(vc_context *ctx, const vc_model *model, const vc_sampler_params *params,
                            vc_sampler **out)
{
    vc_clear_error(ctx);
    if (out) *out = NULL;
    if (!ctx || !model || !out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_sampler_create: NULL argument");
    vc_sampler_params p;
    vc_sampler_default_params(model, &p);
    if (params) {
        if (params->struct_size < sizeof(uint32_t))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                           "vc_sampler_create: params.struct_size %u is too small (call vc_sampler_default_params)",
                           params->struct_size);
        vc_copy_params(&p, sizeof p, params, params->struct_size);
    }
    p.struct_size = sizeof p;
    const vc_model_config *cfg = &model->cfg;
    if (!isfinite(p.eta) || p.eta < 0.0f)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "eta %g must be a finite value >= 0", (double)p.eta);
    if (!isfinite(p.guidance))
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "guidance scale %g is not finite", (double)p.guidance);
    if (p.frames < 1 || p.frames > 1024)
        return vc_fail(ctx, VC_STATUS_BAD_SIZE, "frames %d is out of range 1..1024", p.frames);
    if (p.batch < 1 || p.batch > 256)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "batch %d is out of range 1..256", p.batch);
    if (p.fps < 0 || p.fps > (1 << 24))
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "fps %d is out of range", p.fps);
    if (p.height < 0 || p.width < 0 || p.height > (1 << 16) || p.width > (1 << 16))
        return vc_fail(ctx, VC_STATUS_BAD_SIZE, "size %dx%d is out of range", p.height, p.width);

    vc_sampler *s = calloc(1, sizeof *s);
    if (!s) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating a sampler");
    s->ctx = ctx;
    s->model = model;
    s->height = p.height ? p.height : cfg->default_height;
    s->width = p.width ? p.width : cfg->default_width;
    const int32_t f = vae_factor(model), lv = cfg->unet.n_levels >= 1 ? cfg->unet.n_levels : 1;
    const int32_t m = f << (lv - 1); /* pixels must be multiples of this */
    if (s->height < m || s->width < m || s->height % m || s->width % m) {
        int32_t hl = s->height / m * m, wl = s->width / m * m;
        int32_t hu = (s->height + m - 1) / m * m, wu = (s->width + m - 1) / m * m;
        vc_status st = vc_fail(ctx, VC_STATUS_BAD_SIZE,
                               "video size %dx%d: height and width must be positive multiples of %d for this model "
                               "(latent multiples of %d, spec §5.1); nearest valid sizes %dx%d or %dx%d",
                               s->height, s->width, m, m / f, hl < m ? m : hl, wl < m ? m : wl, hu < m ? m : hu,
                               wu < m ? m : wu);
        free(s);
        return st;
    }
    s->lh = s->height / f;
    s->lw = s->width / f;
    s->frames = p.frames;
    if (!p.fps) p.fps = cfg->default_fps > 0 ? cfg->default_fps : 24;
    s->p = p;
    vc_status st = vc_ddim_timesteps(ctx, p.steps, cfg->timesteps, s->tau, VC_DDIM_MAX_STEPS, &s->K);
    if (!st && cfg->use_scale && !model->scale_arr)
        st = vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "use_scale is set but the model has no scale_arr");
    if (!st)
        st = vc_ddim_coefs(ctx, model->alphas_cumprod, cfg->timesteps, cfg->use_scale ? model->scale_arr : NULL,
                           model->n_scale_arr, s->tau, s->K, (double)p.eta, s->coef);
    if (st) {
        free(s);
        return st;
    }
    if (s->K != p.steps)
        vc_log(ctx, VC_LOG_INFO, "DDIM: %d requested steps execute as %d (original's uniform schedule, spec §7.2)",
               p.steps, s->K);
    *out = s;
    return VC_STATUS_OK;
}

void vc_sampler_free(vc_sampler *s) { free(s); }

int32_t vc_sampler_n_steps(const vc_sampler *s) { return s ? s->K : 0; }

vc_status vc_sampler_get_timesteps(const vc_sampler *s, int64_t *timesteps, int32_t capacity)
{
    if (!s || !timesteps)
        return vc_fail(s ? s->ctx : NULL, VC_STATUS_INVALID_ARGUMENT, "vc_sampler_get_timesteps: NULL argument");
    if (capacity < s->K)
        return vc_fail(s->ctx, VC_STATUS_INVALID_ARGUMENT, "vc_sampler_get_timesteps: capacity %d < %d steps",
                       capacity, s->K);
    for (int32_t j = 0; j < s->K; j++) timesteps[j] = s->tau[s->K - 1 - j]; /* noisiest first */
    return VC_STATUS_OK;
}

void vc_sample_inputs_init(vc_sample_inputs *in)
{
    if (!in) return;
    memset(in, 0, sizeof *in);
    in->struct_size = sizeof *in;
}

/* ------------------------------------------------------------ contexts */

/* [n, La+Lb, D] = concat of a [n, La, D] and b [1 or n, Lb, D] along tokens (§3.5, §6). */
static vc_status concat_tokens(vc_context *ctx, const vc_tensor *a, const vc_tensor *b, vc_tensor *out)
{
    const int64_t n = a->shape[0], La = a->shape[1], Lb = b->shape[1], D = a->shape[2];
    if (b->shape[2] != D || (b->shape[0] != 1 && b->shape[0] != n))
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "image tokens [%lld,%lld,%lld] do not fit text context width %lld",
                       (long long)b->shape[0], (long long)Lb, (long long)b->shape[2], (long long)D);
    int64_t shape[3] = {n, La + Lb, D};
    vc_status st = vc_tensor_make(ctx, out, VC_DTYPE_F32, 3, shape);
    if (st) return st;
    float *o = out->data;
    const float *pa = a->data, *pb = b->data;
    for (int64_t i = 0; i < n; i++) {
        memcpy(o + i * (La + Lb) * D, pa + i * La * D, (size_t)(La * D) * 4);
        memcpy(o + (i * (La + Lb) + La) * D, pb + (b->shape[0] == 1 ? 0 : i) * Lb * D, (size_t)(Lb * D) * 4);
    }
    return VC_STATUS_OK;
}

static bool context_ok(const vc_tensor *t, int32_t D)
{
    return vc_tensor_is(t, VC_DTYPE_F32, 3) && t->shape[0] >= 1 && t->shape[1] >= 1 && t->shape[1] <= 4096 &&
           t->shape[2] == D;
}

/* Conditional context: caller's tensor, or encode_text(prompts) (+ image tokens for I2V). */
static vc_status cond_context(vc_sampler *s, const vc_sample_inputs *in, vc_tensor *own, const vc_tensor **out)
{
    vc_context *ctx = s->ctx;
    const vc_model *m = s->model;
    const bool i2v = m->cfg.unet.use_image_attention;
    char sb[96];
    if (in->context) {
        if (!context_ok(in->context, m->cfg.unet.context_dim))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "context must be float32 [B,L,%d] (got %s)",
                           m->cfg.unet.context_dim, vc_shape_str(in->context, sb, sizeof sb));
        *out = in->context;
        return VC_STATUS_OK;
    }
    if (!in->prompts || in->n_prompts < 1)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "no prompts and no context given");
    for (int32_t i = 0; i < in->n_prompts; i++)
        if (!in->prompts[i]) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "prompt %d is NULL", i);
    if (i2v && !in->image)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "this is an image-to-video model: an image is needed");
    vc_tensor text = {0};
    vc_status st = vc_encode_text(ctx, m, in->prompts, in->n_prompts, &text);
    if (st) return st;
    if (!i2v) {
        *own = text;
        *out = own;
        return VC_STATUS_OK;
    }
    vc_tensor img = {0};
    st = vc_encode_image(ctx, m, in->image, s->height, s->width, 0, &img);
    if (!st) st = concat_tokens(ctx, &text, &img, own);
    vc_tensor_free(&text);
    vc_tensor_free(&img);
    if (!st) *out = own;
    return st;
}

/* Unconditional context: caller's tensor, or encode_text(negative prompt or "")
 * (+ the zero-image embedding for I2V, §3.5). */
static vc_status uncond_context(vc_sampler *s, const vc_sample_inputs *in, vc_tensor *own, const vc_tensor **out)
{
    vc_context *ctx = s->ctx;
    const vc_model *m = s->model;
    char sb[96];
    if (in->uncond_context) {
        if (!context_ok(in->uncond_context, m->cfg.unet.context_dim))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "uncond_context must be float32 [B,L,%d] (got %s)",
                           m->cfg.unet.context_dim, vc_shape_str(in->uncond_context, sb, sizeof sb));
        *out = in->uncond_context;
        return VC_STATUS_OK;
    }
    const char *neg = in->negative_prompt ? in->negative_prompt : ""; /* uncond_type empty_seq */
    vc_tensor text = {0};
    vc_status st = vc_encode_text(ctx, m, &neg, 1, &text);
    if (st) return st;
    if (!m->cfg.unet.use_image_attention) {
        *own = text;
        *out = own;
        return VC_STATUS_OK;
    }
    vc_tensor img = {0};
    st = vc_encode_uncond_image(ctx, m, &img);
    if (!st) st = concat_tokens(ctx, &text, &img, own);
    vc_tensor_free(&text);
    vc_tensor_free(&img);
    if (!st) *out = own;
    return st;
}

/* Uploads rows of ctx for B videos (video v uses row v / per, or row 0 when ctx has one row). */
static void upload_context(vc_backend *be, float *dst, const vc_tensor *c, int32_t B, int32_t per)
{
    const size_t row = (size_t)(c->shape[1] * c->shape[2]);
    for (int32_t v = 0; v < B; v++) {
        int64_t r = c->shape[0] == 1 ? 0 : v / per;
        be->ops->upload(be, dst + v * row, (const float *)c->data + r * row, row * 4);
    }
}

/* ------------------------------------------------------------ run */

static uint64_t available_bytes(void);

/* A batch of 2B needs about twice the working memory of one pass of B. The
 * CPU backend runs every video of a batch as its own GEMMs (the bit-identity
 * rule of lib/unet/unet.c), so batching saves it only per-call overheads: it
 * batches when the pair stays within 1 GiB and half of the available memory,
 * keeping a 320x512x16 run at weights + one pass (issue #10: weights + 2 GiB).
 * Other backends try it and fall back on VC_STATUS_OUT_OF_MEMORY. Results are
 * bit-identical either way. */
static bool batch_fits(const vc_backend *be, uint64_t pass)
{
    if (strcmp(be->ops->name, "cpu") != 0) return true;
    const uint64_t avail = available_bytes(), two = 2 * pass;
    return two <= ((uint64_t)1 << 30) && (avail == UINT64_MAX || two <= avail / 2);
}

/* Memory the system can still give (MemAvailable: free + reclaimable cache),
 * or UINT64_MAX when unknown. */
static uint64_t available_bytes(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f) {
        char line[256];
        unsigned long long kb = 0;
        bool found = false;
        while (!found && fgets(line, sizeof line, f)) found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
        fclose(f);
        if (found) return (uint64_t)kb * 1024u;
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : UINT64_MAX;
}

vc_status vc_sampler_run(vc_sampler *s, const vc_sample_inputs *inputs, vc_tensor *latent)
{
    if (latent) memset(latent, 0, sizeof *latent);
    if (!s || !inputs || !latent)
        return vc_fail(s ? s->ctx : NULL, VC_STATUS_INVALID_ARGUMENT, "vc_sampler_run: NULL argument");
    vc_context *ctx = s->ctx;
    vc_clear_error(ctx);
    atomic_store(&ctx->cancel_requested, 0); /* a new run clears an old cancel */
    vc_sample_inputs in;
    vc_sample_inputs_init(&in);
    if (inputs->struct_size < sizeof(uint32_t))
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "sample inputs struct_size %u is too small",
                       inputs->struct_size);
    vc_copy_params(&in, sizeof in, inputs, inputs->struct_size);
    if (in.steps_out) memset(in.steps_out, 0, sizeof *in.steps_out);

    const vc_model *m = s->model;
    const vc_unet_config *u = &m->cfg.unet;
    const vc_sampler_params *p = &s->p;
    const double t_start = vc_now();
    const bool guided = p->guidance != 1.0f; /* g == 1: the uncond pass is skipped (§6) */
    const float g = p->guidance;
    vc_backend *be = ctx->backend;
    vc_status st = VC_STATUS_OK;
    vc_tensor cown = {0}, uown = {0}, x = {0};
    const vc_tensor *cc = NULL, *uc = NULL;
    float *x0 = NULL, *z = NULL;
    int64_t *tv = NULL, *fv = NULL;
    size_t mark = vc_arena_mark(be);
    char sb[96];

    if (!be->ops->ddim_step || !be->ops->copy || !be->ops->upload || !be->ops->download) {
        st = vc_fail(ctx, VC_STATUS_BACKEND_UNAVAILABLE, "backend \"%s\" has no ddim_step/copy/upload/download",
                     be->ops->name);
        goto out;
    }
    if ((st = cond_context(s, &in, &cown, &cc))) goto out;
    if (guided && (st = uncond_context(s, &in, &uown, &uc))) goto out;
    const int32_t Bbase = (int32_t)cc->shape[0], B = Bbase * p->batch, L = (int32_t)cc->shape[1];
    const int32_t D = u->context_dim;
    if (guided && uc->shape[0] != 1 && uc->shape[0] != Bbase) {
        st = vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "uncond_context has %lld rows; expected 1 or %d",
                     (long long)uc->shape[0], Bbase);
        goto out;
    }
    const int32_t Lu = guided ? (int32_t)uc->shape[1] : L;
    const int32_t C = u->in_channels, T = s->frames, H = s->lh, W = s->lw;
    const int64_t n1 = (int64_t)C * T * H * W, n = (int64_t)B * n1;
    int64_t xshape[5] = {B, C, T, H, W};

    /* x_T: the caller's, or stream 0 of the seed (docs/rng.md) */
    if ((st = vc_tensor_make(ctx, &x, VC_DTYPE_F32, 5, xshape))) goto out;
    if (in.init_noise) {
        const vc_tensor *xi = in.init_noise;
        if (!vc_tensor_is(xi, VC_DTYPE_F32, 5) || memcmp(xi->shape, xshape, sizeof xshape)) {
            st = vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "init_noise must be float32 [%d,%d,%d,%d,%d] (got %s)", B, C,
                         T, H, W, vc_shape_str(xi, sb, sizeof sb));
            goto out;
        }
        memcpy(x.data, xi->data, (size_t)n * 4);
    } else {
        vc_rng_normal_fill(p->seed, VC_RNG_STREAM_INIT, 0, n, x.data, ctx->n_threads);
    }
    if (in.step_noise) {
        const vc_tensor *sn = in.step_noise;
        bool ok = vc_tensor_is(sn, VC_DTYPE_F32, 6) && sn->shape[0] >= s->K &&
                  !memcmp(sn->shape + 1, xshape, sizeof xshape);
        if (!ok) {
            st = vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "step_noise must be float32 [%d,%d,%d,%d,%d,%d] (got %s)",
                         s->K, B, C, T, H, W, vc_shape_str(sn, sb, sizeof sb));
            goto out;
        }
    }
    if (in.steps_out) {
        int64_t sshape[6] = {s->K, B, C, T, H, W};
        if ((st = vc_tensor_make(ctx, in.steps_out, VC_DTYPE_F32, 6, sshape))) goto out;
    }

    /* batching cond + uncond as 2B when it fits (contexts of equal length): decided
     * after the first conditional pass, from its measured working memory */
    const bool want_batch = guided && p->batch_guidance && Lu == L;
    bool batched = false, decided = !want_batch;
    const int32_t Bmax = guided ? 2 * B : B;
    /* The latent stays in backend memory for the whole loop (issue #9): x_t in
     * dx (twice when cond and uncond run as one batch), eps in de, the step on
     * the backend; the host sees x only for steps_out, previews and the end. */
    float *dctx = vc_arena_floats(be, (int64_t)B * L * D + (guided ? (int64_t)B * Lu * D : 0));
    float *dx = vc_arena_floats(be, (guided ? 2 : 1) * n), *de = vc_arena_floats(be, (guided ? 2 : 1) * n);
    bool noisy = false; /* eta > 0: some step adds noise (§7.4) */
    for (int32_t j = 0; j < s->K; j++) noisy |= s->coef[j].sigma != 0.0f;
    float *dz = noisy ? vc_arena_floats(be, n) : NULL;
    float *dx0 = p->progress && p->preview_x0 ? vc_arena_floats(be, n) : NULL;
    x0 = dx0 ? malloc((size_t)n * 4) : NULL;
    z = noisy && !in.step_noise ? malloc((size_t)n * 4) : NULL;
    tv = malloc((size_t)Bmax * sizeof *tv);
    fv = malloc((size_t)Bmax * sizeof *fv);
    if (!dctx || !dx || !de || (noisy && !dz) || (p->progress && p->preview_x0 && (!dx0 || !x0)) ||
        (noisy && !in.step_noise && !z) || !tv || !fv) {
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory staging a %dx%dx%d sampling run", T, s->height,
                     s->width);
        goto out;
    }
    upload_context(be, dctx, cc, B, p->batch);
    if (guided) upload_context(be, dctx + (int64_t)B * L * D, uc, B, p->batch);
    for (int32_t b = 0; b < Bmax; b++) fv[b] = p->fps; /* same fps for cond and uncond (§6) */
    be->ops->upload(be, dx, x.data, (size_t)n * 4);

    vc_tensor x0t = {.dtype = VC_DTYPE_F32, .ndim = 5, .data = x0};
    memcpy(x0t.shape, xshape, sizeof xshape);
    for (int32_t j = 0; j < s->K; j++) {
        const vc_ddim_coef *c = &s->coef[s->K - 1 - j]; /* noisiest first */
        if (vc_cancelled(ctx)) {
            st = vc_fail(ctx, VC_STATUS_CANCELLED, "sampling cancelled before step %d of %d", j + 1, s->K);
            goto out;
        }
        for (int32_t b = 0; b < Bmax; b++) tv[b] = c->t;
        if (batched) {
            be->ops->copy(be, dx + n, dx, (size_t)n * 4);
            st = vc_unet_forward(ctx, u, vc_unet_weights_of_model(m), dx, 2 * B, T, H, W, tv, fv, dctx, L, de);
            if (st == VC_STATUS_OUT_OF_MEMORY) {
                vc_log(ctx, VC_LOG_INFO, "guidance batch of %d does not fit; running cond and uncond separately",
                       2 * B);
                vc_clear_error(ctx);
                batched = false;
                st = VC_STATUS_OK;
            } else if (st) {
                goto out;
            }
        }
        if (!batched) {
            /* conditional first, then unconditional, as the original (§6) */
            const size_t used0 = be->arena.used, peak0 = be->arena.peak;
            be->arena.peak = used0;
            st = vc_unet_forward(ctx, u, vc_unet_weights_of_model(m), dx, B, T, H, W, tv, fv, dctx, L, de);
            const uint64_t pass = be->arena.peak - used0; /* working memory of one pass of B */
            if (be->arena.peak < peak0) be->arena.peak = peak0;
            if (!st && !decided) {
                decided = true;
                batched = batch_fits(be, pass);
                vc_log(ctx, VC_LOG_DEBUG, "guidance: one pass of %d needs %.2f GiB of working memory; %s", B,
                       (double)pass / 1073741824.0, batched ? "batching cond+uncond" : "separate passes");
            }
            if (!st && guided)
                st = vc_unet_forward(ctx, u, vc_unet_weights_of_model(m), dx, B, T, H, W, tv, fv,
                                     dctx + (int64_t)B * L * D, Lu, de + n);
            if (st) goto out;
        }
        vc_ddim_args da = vc_ddim_args_of(c, m->cfg.use_scale, g);
        if (c->sigma != 0.0f) { /* sigma == 0 adds exactly nothing (§7.4) */
            const float *zz = z;
            if (in.step_noise) zz = (const float *)in.step_noise->data + (int64_t)j * n;
            else vc_rng_normal_fill(p->seed, VC_RNG_STREAM_STEP(j), 0, n, z, ctx->n_threads);
            be->ops->upload(be, dz, zz, (size_t)n * 4);
            da.z = dz;
        }
        da.x = dx;
        da.ec = de;
        da.eu = guided ? de + n : NULL;
        da.x_next = dx;
        da.x0 = dx0;
        da.n = n;
        be->ops->ddim_step(be, &da);
        if (in.steps_out) be->ops->download(be, (float *)in.steps_out->data + (int64_t)j * n, dx, (size_t)n * 4);
        if (dx0) be->ops->download(be, x0, dx0, (size_t)n * 4);
        if ((st = vc_backend_sync(be))) goto out;
        if (p->progress) {
            vc_progress pr = {
                .struct_size = sizeof pr, .stage = "sample", .step = j + 1, .total = s->K,
                .timestep = (int32_t)c->t, .elapsed_s = vc_now() - t_start, .x0 = dx0 ? &x0t : NULL,
            };
            if (p->progress(&pr, p->progress_user_data)) {
                st = vc_fail(ctx, VC_STATUS_CANCELLED, "sampling cancelled by the progress callback after step %d of %d",
                             j + 1, s->K);
                goto out;
            }
        }
    }
    be->ops->download(be, x.data, dx, (size_t)n * 4);
    if ((st = vc_backend_sync(be))) goto out;
    if (vc_cancelled(ctx)) {
        st = vc_fail(ctx, VC_STATUS_CANCELLED, "sampling cancelled");
        goto out;
    }
    *latent = x;
    memset(&x, 0, sizeof x);
out:
    vc_arena_release(be, mark);
    vc_tensor_free(&x);
    vc_tensor_free(&cown);
    vc_tensor_free(&uown);
    free(x0);
    free(z);
    free(tv);
    free(fv);
    if (st && in.steps_out) vc_tensor_free(in.steps_out);
    return st;
}
