/* frames.c - float video to uint8 frames and PNG files (spec §8). */
#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vae.h"

vc_status vc_video_to_frames(vc_context *ctx, const vc_tensor *video, int32_t b, vc_tensor *frames)
{
    vc_clear_error(ctx);
    char sh[96];
    if (!frames) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_video_to_frames: frames is NULL");
    if (!video || !video->data)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_video_to_frames: video is NULL or empty");
    if (video->dtype != VC_DTYPE_F32 || video->ndim != 5 || video->shape[1] != 3)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                       "vc_video_to_frames: video must be float32 [B,3,T,H,W]; got %s %s",
                       vc_dtype_str(video->dtype), vc_shape_str(video, sh, sizeof sh));
    int64_t B = video->shape[0], T = video->shape[2], H = video->shape[3], W = video->shape[4];
    if (B < 1 || T < 1 || H < 1 || W < 1)
        return vc_fail(ctx, VC_STATUS_BAD_SIZE, "vc_video_to_frames: video %s is empty",
                       vc_shape_str(video, sh, sizeof sh));
    if (b < 0 || b >= B)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_video_to_frames: batch element %d is outside 0..%lld", b,
                       (long long)(B - 1));
    int64_t fshape[4] = {T, H, W, 3};
    vc_status st = vc_tensor_make(ctx, frames, VC_DTYPE_U8, 4, fshape);
    if (st != VC_STATUS_OK) return st;
    const float *v = (const float *)video->data + (int64_t)b * 3 * T * H * W;
    uint8_t *out = frames->data;
    int64_t HW = H * W;
    for (int64_t t = 0; t < T; t++)
        for (int32_t c = 0; c < 3; c++) {
            const float *src = v + (c * T + t) * HW;
            uint8_t *dst = out + t * HW * 3 + c;
            for (int64_t p = 0; p < HW; p++) {
                float x = src[p];
                /* clamp(-1,1); (x+1)/2; *255; .to(uint8) truncates (§8). NaN -> 0. */
                x = x < -1.0f ? -1.0f : x > 1.0f ? 1.0f : x;
                float g = (x + 1.0f) / 2.0f;
                float u = g * 255.0f;
                dst[p * 3] = u >= 0.0f ? (uint8_t)u : 0;
            }
        }
    return VC_STATUS_OK;
}

/* mkdir -p */
static vc_status make_dirs(vc_context *ctx, const char *dir)
{
    size_t len = strlen(dir);
    char *p = malloc(len + 1);
    if (!p) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory");
    memcpy(p, dir, len + 1);
    while (len > 1 && p[len - 1] == '/') p[--len] = 0;
    for (size_t i = 1; i <= len; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char save = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            vc_status st = vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot create directory %s: %s", p, strerror(errno));
            free(p);
            return st;
        }
        p[i] = save;
    }
    struct stat sb;
    vc_status st = VC_STATUS_OK;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
        st = vc_fail(ctx, VC_STATUS_IO_ERROR, "%s exists and is not a directory", p);
    free(p);
    return st;
}

typedef struct png_err {
    jmp_buf jb;
    char msg[256];
} png_err;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jb, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Writes one RGB24 image to path (no temporary handling here). */
static vc_status write_png_file(vc_context *ctx, const char *path, const uint8_t *rgb, int64_t H, int64_t W)
{
    FILE *f = fopen(path, "wb");
    if (!f) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
    png_err err;
    err.msg[0] = 0;
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating a PNG writer");
    }
    if (setjmp(err.jb)) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot write PNG %s: %s", path, err.msg);
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int64_t y = 0; y < H; y++) png_write_row(png, (png_const_bytep)(rgb + y * W * 3));
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    if (fflush(f) != 0 || ferror(f)) {
        int e = errno;
        fclose(f);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot write %s: %s", path, strerror(e));
    }
    if (fclose(f) != 0) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot write %s: %s", path, strerror(errno));
    return VC_STATUS_OK;
}

vc_status vc_frames_write_png(vc_context *ctx, const vc_tensor *frames, const char *dir)
{
    vc_clear_error(ctx);
    char sh[96];
    if (!dir || !*dir) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_frames_write_png: dir is NULL or empty");
    if (!frames || !frames->data)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_frames_write_png: frames is NULL or empty");
    if (frames->dtype != VC_DTYPE_U8 || frames->ndim != 4 || frames->shape[3] != 3)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_frames_write_png: frames must be uint8 [T,H,W,3]; got %s %s",
                       vc_dtype_str(frames->dtype), vc_shape_str(frames, sh, sizeof sh));
    int64_t T = frames->shape[0], H = frames->shape[1], W = frames->shape[2];
    if (T < 1 || H < 1 || W < 1 || H > 1000000 || W > 1000000 || T > 99999999)
        return vc_fail(ctx, VC_STATUS_BAD_SIZE,
                       "vc_frames_write_png: frames %s: need T >= 1 and 1..1000000 pixels per side",
                       vc_shape_str(frames, sh, sizeof sh));
    vc_status st = make_dirs(ctx, dir);
    if (st != VC_STATUS_OK) return st;
    size_t dl = strlen(dir);
    const char *sep = dl && dir[dl - 1] == '/' ? "" : "/";
    size_t cap = dl + 64;
    char *path = malloc(cap), *tmp = malloc(cap);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory");
    }
    const uint8_t *px = frames->data;
    for (int64_t t = 0; t < T && st == VC_STATUS_OK; t++) {
        snprintf(path, cap, "%s%s%04lld.png", dir, sep, (long long)t);
        snprintf(tmp, cap, "%s%s.%04lld.png.tmp%ld", dir, sep, (long long)t, (long)getpid());
        st = write_png_file(ctx, tmp, px + t * H * W * 3, H, W);
        if (st == VC_STATUS_OK && rename(tmp, path) != 0)
            st = vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        if (st != VC_STATUS_OK) unlink(tmp);
    }
    free(path);
    free(tmp);
    return st;
}
