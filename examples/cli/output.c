/* output.c - writes a generated video where -o points (interface contract §3):
 * *.mp4 / *.webm / *.gif through libvideocrafter-encode (when built with
 * FFmpeg), *.npy (float video [B,3,T,H,W]), or a folder of 0000.png ...
 * With B > 1 videos, video b goes to NAME_b.EXT (or FOLDER/b/). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "output.h"
#ifdef VC_HAVE_ENCODE
#include "videocrafter-encode.h"
#endif

typedef enum { OUT_BAD, OUT_DIR, OUT_NPY, OUT_MP4, OUT_WEBM, OUT_GIF } out_kind;

static out_kind kind_of(const char *out)
{
    size_t n = strlen(out);
    if (n == 0) return OUT_BAD;
    if (out[n - 1] == '/') return OUT_DIR;
    struct stat sb;
    if (stat(out, &sb) == 0 && S_ISDIR(sb.st_mode)) return OUT_DIR;
    const char *dot = strrchr(out, '.');
    const char *slash = strrchr(out, '/');
    if (!dot || (slash && dot < slash)) return OUT_BAD;
    if (strcasecmp(dot, ".npy") == 0) return OUT_NPY;
    if (strcasecmp(dot, ".mp4") == 0) return OUT_MP4;
    if (strcasecmp(dot, ".webm") == 0) return OUT_WEBM;
    if (strcasecmp(dot, ".gif") == 0) return OUT_GIF;
    return OUT_BAD;
}

int cli_output_check(const char *out)
{
    out_kind k = out ? kind_of(out) : OUT_BAD;
    if (k == OUT_BAD)
        return cli_fail("cannot tell the output format of '%s': use a name ending in .mp4, .webm, .gif or .npy, "
                        "or a folder (ending in /) for PNG frames", out ? out : "");
#ifndef VC_HAVE_ENCODE
    if (k == OUT_MP4 || k == OUT_WEBM || k == OUT_GIF)
        return cli_fail("'%s': this build has no video encoder (FFmpeg's development packages were missing when it "
                        "was built); write PNG frames (-o folder/) or .npy instead", out);
#endif
    return CLI_OK;
}

/* NAME.EXT -> NAME_b.EXT, FOLDER/ -> FOLDER/b/ (only when there are several videos). */
static char *numbered(const char *out, out_kind k, int64_t b, int64_t B)
{
    size_t n = strlen(out) + 32;
    char *p = malloc(n);
    if (!p) return NULL;
    size_t l = strlen(out);
    const char *sep = l && out[l - 1] == '/' ? "" : "/";
    if (k == OUT_DIR && B == 1) {
        snprintf(p, n, "%s%s", out, sep);
    } else if (B == 1) {
        snprintf(p, n, "%s", out);
    } else if (k == OUT_DIR) {
        snprintf(p, n, "%s%s%lld/", out, sep, (long long)b);
    } else {
        const char *dot = strrchr(out, '.');
        snprintf(p, n, "%.*s_%lld%s", (int)(dot - out), out, (long long)b, dot);
    }
    return p;
}

int cli_write_output(vc_context *ctx, const vc_model *model, const vc_tensor *latent, const char *out,
                     int save_fps)
{
    int rc = cli_output_check(out);
    if (rc != CLI_OK) return rc;
    out_kind k = kind_of(out);
    if (save_fps < 1 || save_fps > 240) return cli_fail("--save-fps %d is outside 1..240", save_fps);
    vc_tensor video;
    vc_status st = vc_decode_latents(ctx, model, latent, &video);
    if (st != VC_STATUS_OK) return cli_fail_status(ctx, st, "decoding the latents");
    if (k == OUT_NPY) {
        st = vc_tensor_save_npy(out, &video);
        if (st != VC_STATUS_OK) rc = cli_fail_status(NULL, st, "writing the video");
        else fprintf(stderr, "videocrafter: wrote %s (float video [%lld,3,%lld,%lld,%lld])\n", out,
                     (long long)video.shape[0], (long long)video.shape[2], (long long)video.shape[3],
                     (long long)video.shape[4]);
        vc_tensor_free(&video);
        return rc;
    }
    int64_t B = video.shape[0];
    for (int64_t b = 0; b < B && rc == CLI_OK; b++) {
        vc_tensor frames;
        st = vc_video_to_frames(ctx, &video, (int32_t)b, &frames);
        if (st != VC_STATUS_OK) {
            rc = cli_fail_status(ctx, st, "converting to frames");
            break;
        }
        char *path = numbered(out, k, b, B);
        if (!path) {
            vc_tensor_free(&frames);
            rc = cli_fail("out of memory");
            break;
        }
        const char *what = "PNG frames";
        if (k == OUT_DIR) {
            st = vc_frames_write_png(ctx, &frames, path);
            if (st != VC_STATUS_OK) rc = cli_fail_status(ctx, st, "writing PNG frames");
        } else {
#ifdef VC_HAVE_ENCODE
            vc_encode_params ep;
            vc_encode_default_params(&ep);
            ep.fps = save_fps;
            vc_encode_set_ffmpeg_quiet(true); /* our own line below says what was written */
            char err[512];
            st = vc_encode_video_file(&frames, path, &ep, err, sizeof err);
            if (st != VC_STATUS_OK) rc = cli_fail("writing %s: %s", path, err);
            what = k == OUT_MP4 ? "H.264 MP4" : k == OUT_WEBM ? "VP9 WebM" : "GIF";
#endif
        }
        if (rc == CLI_OK && k == OUT_DIR)
            fprintf(stderr, "videocrafter: wrote %s0000.png ... (%lld frames of %lldx%lld)\n", path,
                    (long long)frames.shape[0], (long long)frames.shape[2], (long long)frames.shape[1]);
        else if (rc == CLI_OK)
            fprintf(stderr, "videocrafter: wrote %s (%s, %lld frames of %lldx%lld, %d fps)\n", path, what,
                    (long long)frames.shape[0], (long long)frames.shape[2], (long long)frames.shape[1], save_fps);
        free(path);
        vc_tensor_free(&frames);
    }
    vc_tensor_free(&video);
    return rc;
}
