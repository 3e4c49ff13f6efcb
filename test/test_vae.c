/* test_vae.c - VAE decode/encode parity against the reference cases (spec §4,
 * contract §5), uint8 frames (§8), PNG files, and bad inputs. */
#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"
#include "core/internal.h"
#include "vae/vae.h"

static const char *const cases[] = {"t2v_512_v1", "t2v_1024_v1", "t2v_512_v2", "i2v_512_v1"};
#define N_CASES (sizeof cases / sizeof cases[0])

typedef struct fixture {
    vc_context *ctx;
    vc_model *model[N_CASES];
} fixture;

static vc_model *load_case(vc_context *ctx, const char *name)
{
    vc_model_params mp;
    vc_model_default_params(&mp);
    char cfg[4096];
    snprintf(cfg, sizeof cfg, "%s", vct_path("%s/config.yaml", name));
    mp.config_path = cfg;
    vc_model *m = NULL;
    vc_status st = vc_model_load(ctx, vct_path("%s/model.ckpt", name), &mp, &m);
    if (st != VC_STATUS_OK) fail_msg("loading %s: %s", name, vc_context_errmsg(ctx));
    return m;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f) return -1;
    f->ctx = vct_context();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < N_CASES; i++) vc_model_free(f->model[i]);
    vc_context_free(f->ctx);
    free(f);
    return 0;
}

static vc_model *model_of(fixture *f, size_t i)
{
    if (!f->model[i]) f->model[i] = load_case(f->ctx, cases[i]);
    return f->model[i];
}

/* frames equal, except pixels whose float value lies within 1e-4 (relative to
 * max|video|) of a rounding boundary, which may differ by one level (§5); in
 * the CUDA fp16 mode any pixel may differ by one level (the fp16 column). */
static void check_frames(const vc_tensor *got, const vc_tensor *ref, const vc_tensor *ref_video, const char *what)
{
    assert_int_equal(got->dtype, VC_DTYPE_U8);
    assert_int_equal(got->ndim, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(got->shape[i], ref->shape[i]);
    int64_t T = ref->shape[0], H = ref->shape[1], W = ref->shape[2], n = vc_tensor_numel(ref);
    const float *v = ref_video->data;
    double maxref = 0;
    for (int64_t i = 0; i < vc_tensor_numel(ref_video); i++)
        if (fabs(v[i]) > maxref) maxref = fabs(v[i]);
    const uint8_t *a = got->data, *b = ref->data;
    int64_t differ = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (a[i] == b[i]) continue;
        differ++;
        int64_t c = i % 3, p = i / 3, x = p % W, y = (p / W) % H, t = p / (W * H);
        double f = v[((c * T + t) * H + y) * W + x];
        double u = (fmax(-1.0, fmin(1.0, f)) + 1.0) / 2.0 * 255.0; /* level space */
        double dist = fabs(u - floor(u + 0.5)) / 127.5;             /* back to [-1,1] units */
        if (abs((int)a[i] - (int)b[i]) > 1 || dist > vct_tol(1e-4, INFINITY) * maxref) bad++;
    }
    print_message("  %-40s %lld/%lld values differ, %lld off a rounding edge\n", what, (long long)differ,
                  (long long)n, (long long)bad);
    assert_int_equal(bad, 0);
}

static void test_decode_parity(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < N_CASES; i++) {
        vc_model *m = model_of(f, i);
        vc_tensor z, ref, video, frames, ref_frames, frames_of_ref;
        vct_load(&z, "%s/vae_in_z.npy", cases[i]);
        vct_load(&ref, "%s/vae_out_video.npy", cases[i]);
        vct_load(&ref_frames, "%s/frames_uint8.npy", cases[i]);
        assert_int_equal(vc_decode_latents(f->ctx, m, &z, &video), VC_STATUS_OK);
        char what[128];
        snprintf(what, sizeof what, "%s vae_out_video", cases[i]);
        vct_assert_close(&video, &ref, vct_tol(1e-4, 1e-2), what);
        print_message("  %-40s arena peak %.2f MB\n", "", (double)vc_context_peak_bytes(f->ctx) / 1e6);

        /* the uint8 mapping alone must be exact on the reference video */
        assert_int_equal(vc_video_to_frames(f->ctx, &ref, 0, &frames_of_ref), VC_STATUS_OK);
        assert_memory_equal(frames_of_ref.data, ref_frames.data, (size_t)vc_tensor_numel(&ref_frames));
        assert_int_equal(vc_video_to_frames(f->ctx, &video, 0, &frames), VC_STATUS_OK);
        snprintf(what, sizeof what, "%s frames_uint8", cases[i]);
        check_frames(&frames, &ref_frames, &ref, what);

        /* all frames in one decoder pass give the same numbers */
        vc_tensor video3;
        assert_int_equal(vc_vae_decode(f->ctx, m, &z, 64, &video3), VC_STATUS_OK);
        snprintf(what, sizeof what, "%s decode, 3 frames per pass", cases[i]);
        vct_assert_close(&video3, &video, vct_tol(1e-6, 1e-2), what); /* fp16: rounding of half activations */

        vc_tensor_free(&video3);
        vc_tensor_free(&frames_of_ref);
        vc_tensor_free(&frames);
        vc_tensor_free(&ref_frames);
        vc_tensor_free(&video);
        vc_tensor_free(&ref);
        vc_tensor_free(&z);
    }
}

static void test_encode_parity(void **state)
{
    fixture *f = *state;
    for (size_t i = 0; i < N_CASES; i++) {
        vc_model *m = model_of(f, i);
        vc_tensor x, ref_mode, ref_mom, mode, mom;
        vct_load(&x, "%s/vae_enc_in.npy", cases[i]);
        vct_load(&ref_mode, "%s/vae_enc_mode.npy", cases[i]);
        vct_load(&ref_mom, "%s/vae_enc_moments.npy", cases[i]);
        assert_int_equal(vc_encode_images(f->ctx, m, &x, &mode), VC_STATUS_OK);
        char what[128];
        snprintf(what, sizeof what, "%s vae_enc_mode", cases[i]);
        vct_assert_close(&mode, &ref_mode, vct_tol(1e-4, 1e-2), what);
        assert_int_equal(vc_vae_encode_moments(f->ctx, m, &x, false, &mom), VC_STATUS_OK);
        snprintf(what, sizeof what, "%s vae_enc_moments", cases[i]);
        vct_assert_close(&mom, &ref_mom, vct_tol(1e-4, 1e-2), what);
        vc_tensor_free(&mom);
        vc_tensor_free(&mode);
        vc_tensor_free(&ref_mom);
        vc_tensor_free(&ref_mode);
        vc_tensor_free(&x);
    }
}

/* Batch elements decode independently, each frame in order (§4.4). */
static void test_decode_batch2(void **state)
{
    fixture *f = *state;
    vc_model *m = model_of(f, 2);
    vc_tensor z, z2, v1, v2;
    vct_load(&z, "%s/vae_in_z.npy", cases[2]);
    int64_t shape[5] = {2, z.shape[1], z.shape[2], z.shape[3], z.shape[4]};
    assert_int_equal(vc_tensor_alloc(&z2, VC_DTYPE_F32, 5, shape), VC_STATUS_OK);
    int64_t n = vc_tensor_numel(&z);
    float *d = z2.data;
    for (int64_t k = 0; k < n; k++) {
        d[k] = ((float *)z.data)[k];
        d[n + k] = -0.5f * ((float *)z.data)[k];
    }
    assert_int_equal(vc_decode_latents(f->ctx, m, &z2, &v2), VC_STATUS_OK);
    assert_int_equal(vc_decode_latents(f->ctx, m, &z, &v1), VC_STATUS_OK);
    assert_int_equal(v2.shape[0], 2);
    vc_tensor first = v1;
    first.data = v2.data;
    first.flags = 0;
    vct_assert_close(&first, &v1, 1e-6, "B=2: element 0 == alone");
    vc_tensor fr0, fr1;
    assert_int_equal(vc_video_to_frames(f->ctx, &v2, 1, &fr1), VC_STATUS_OK);
    assert_int_equal(vc_video_to_frames(f->ctx, &v2, 0, &fr0), VC_STATUS_OK);
    assert_int_equal(fr1.shape[0], z.shape[2]);
    assert_true(memcmp(fr0.data, fr1.data, (size_t)vc_tensor_numel(&fr0)) != 0);
    vc_tensor_free(&fr0);
    vc_tensor_free(&fr1);
    vc_tensor_free(&v1);
    vc_tensor_free(&v2);
    vc_tensor_free(&z2);
    vc_tensor_free(&z);
}

static int read_png(const char *path, int64_t *h, int64_t *w, uint8_t **rgb)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&img, path)) return -1;
    img.format = PNG_FORMAT_RGB;
    *h = img.height;
    *w = img.width;
    *rgb = malloc(PNG_IMAGE_SIZE(img));
    if (!*rgb || !png_image_finish_read(&img, NULL, *rgb, 0, NULL)) {
        png_image_free(&img);
        return -1;
    }
    return 0;
}

static void test_png_roundtrip(void **state)
{
    fixture *f = *state;
    vc_tensor frames;
    vct_load(&frames, "%s/frames_uint8.npy", cases[0]);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/png/sub/", vct_tmpdir());
    assert_int_equal(vc_frames_write_png(f->ctx, &frames, dir), VC_STATUS_OK);
    int64_t T = frames.shape[0], H = frames.shape[1], W = frames.shape[2];
    for (int64_t t = 0; t < T; t++) {
        char p[600];
        snprintf(p, sizeof p, "%s%04lld.png", dir, (long long)t);
        int64_t h, w;
        uint8_t *rgb = NULL;
        assert_int_equal(read_png(p, &h, &w, &rgb), 0);
        assert_int_equal(h, H);
        assert_int_equal(w, W);
        assert_memory_equal(rgb, (uint8_t *)frames.data + t * H * W * 3, (size_t)(H * W * 3));
        free(rgb);
    }
    /* nothing but the frames is left behind */
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') files++;
        else assert_true(strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0);
    closedir(d);
    assert_int_equal(files, T);
    print_message("  wrote and read back %lld PNG frames of %lldx%lld in %s\n", (long long)T, (long long)W,
                  (long long)H, dir);
    /* a file where the folder should be */
    char bad[600];
    snprintf(bad, sizeof bad, "%s0000.png/x", dir);
    assert_int_equal(vc_frames_write_png(f->ctx, &frames, bad), VC_STATUS_IO_ERROR);
    vc_tensor_free(&frames);
}

static void test_frames_mapping(void **state)
{
    fixture *f = *state;
    /* clamp, (x+1)/2, *255, truncation (§8) */
    const float vals[] = {-2.0f, -1.0f, 0.0f, 0.99f, 1.0f, 7.0f, NAN, 0.5f};
    const uint8_t want[] = {0, 0, 127, 253, 255, 255, 0, 191};
    int64_t shape[5] = {1, 3, 1, 1, 8};
    vc_tensor v, fr;
    assert_int_equal(vc_tensor_alloc(&v, VC_DTYPE_F32, 5, shape), VC_STATUS_OK);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 8; i++) ((float *)v.data)[c * 8 + i] = vals[i];
    assert_int_equal(vc_video_to_frames(f->ctx, &v, 0, &fr), VC_STATUS_OK);
    for (int i = 0; i < 8; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(((uint8_t *)fr.data)[i * 3 + c], want[i]);
    vc_tensor_free(&fr);
    vc_tensor_free(&v);
}

static void test_bad_inputs(void **state)
{
    fixture *f = *state;
    vc_model *m = model_of(f, 0);
    vc_tensor t, out;
    int64_t s5[5] = {1, 3, 2, 8, 12};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 5, s5), VC_STATUS_OK);
    assert_int_equal(vc_decode_latents(f->ctx, m, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    print_message("  3 latent channels: %s\n", vc_context_errmsg(f->ctx));
    assert_non_null(strstr(vc_context_errmsg(f->ctx), "[1,3,2,8,12]"));
    assert_null(out.data);
    vc_tensor_free(&t);
    int64_t s4[4] = {1, 4, 8, 12};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 4, s4), VC_STATUS_OK);
    assert_int_equal(vc_decode_latents(f->ctx, m, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor_free(&t);
    int64_t s5b[5] = {1, 4, 2, 8, 12};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_I64, 5, s5b), VC_STATUS_OK);
    assert_int_equal(vc_decode_latents(f->ctx, m, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    print_message("  int64 latents: %s\n", vc_context_errmsg(f->ctx));
    assert_int_equal(vc_decode_latents(NULL, m, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_decode_latents(f->ctx, NULL, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_decode_latents(f->ctx, m, NULL, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_decode_latents(f->ctx, m, &t, NULL), VC_STATUS_INVALID_ARGUMENT);
    /* frames from a non-video */
    assert_int_equal(vc_video_to_frames(f->ctx, &t, 0, &out), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor_free(&t);
    int64_t sv[5] = {2, 3, 1, 4, 4};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 5, sv), VC_STATUS_OK);
    assert_int_equal(vc_video_to_frames(f->ctx, &t, 2, &out), VC_STATUS_INVALID_ARGUMENT);
    print_message("  b=2 of B=2: %s\n", vc_context_errmsg(f->ctx));
    assert_int_equal(vc_video_to_frames(f->ctx, &t, -1, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_frames_write_png(f->ctx, &t, vct_tmpdir()), VC_STATUS_INVALID_ARGUMENT);
    print_message("  float frames to PNG: %s\n", vc_context_errmsg(f->ctx));
    vc_tensor_free(&t);
    /* encoder: size not a multiple of 8, wrong channels */
    int64_t si[4] = {1, 3, 60, 96};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 4, si), VC_STATUS_OK);
    assert_int_equal(vc_encode_images(f->ctx, m, &t, &out), VC_STATUS_BAD_SIZE);
    print_message("  60x96 image: %s\n", vc_context_errmsg(f->ctx));
    vc_tensor_free(&t);
    int64_t sc[4] = {1, 4, 64, 96};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 4, sc), VC_STATUS_OK);
    assert_int_equal(vc_encode_images(f->ctx, m, &t, &out), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor_free(&t);
    assert_int_equal(vc_frames_write_png(f->ctx, NULL, vct_tmpdir()), VC_STATUS_INVALID_ARGUMENT);
}

static void cancel_on_first_frame(vc_log_level level, const char *msg, void *user)
{
    (void)level;
    if (strstr(msg, "vae: decoded images")) vc_context_cancel(*(vc_context **)user);
}

/* A cancel during the decode stops it after the current pass; the next run starts clean. */
static void test_cancel(void **state)
{
    fixture *f = *state;
    vc_model *m = model_of(f, 0);
    vc_context *ctx = NULL;
    vc_context_params p;
    vc_context_default_params(&p);
    p.n_threads = 1;
    p.log_level = VC_LOG_DEBUG;
    p.log_callback = cancel_on_first_frame;
    p.log_user_data = &ctx;
    assert_int_equal(vc_context_create(&p, &ctx), VC_STATUS_OK);
    vc_tensor z, out;
    vct_load(&z, "%s/vae_in_z.npy", cases[0]);
    assert_int_equal(vc_decode_latents(ctx, m, &z, &out), VC_STATUS_CANCELLED);
    assert_null(out.data);
    print_message("  cancelled: %s\n", vc_context_errmsg(ctx));
    assert_int_equal(vc_vae_decode(ctx, m, &z, 64, &out), VC_STATUS_CANCELLED); /* flag still set */
    vc_context_free(ctx);
    vc_tensor_free(&z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frames_mapping),
        cmocka_unit_test(test_decode_parity),
        cmocka_unit_test(test_encode_parity),
        cmocka_unit_test(test_decode_batch2),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
