/*
 * videocrafter-encode.h - optional video-file writers for libvideocrafter
 * (libvideocrafter-encode.so.1, built when FFmpeg's development packages are
 * present; the core library never links FFmpeg).
 *
 *     vc_encode_params ep;  vc_encode_default_params(&ep);   // 10 fps, CRF 10
 *     char err[256];
 *     if (vc_encode_video_file(&frames, "out.mp4", &ep, err, sizeof err) != VC_STATUS_OK)
 *         fprintf(stderr, "%s\n", err);
 *
 * frames is what vc_video_to_frames returns: uint8 [T,H,W,3] RGB24.
 * Formats (picked from the file name's extension unless codec is set):
 *   .mp4   H.264 (libx264), yuv420p, CRF `crf` (spec §8: the original's
 *          torchvision write_video with crf 10); H and W must be even.
 *   .webm  VP9 (libvpx-vp9), yuv420p, constant quality `crf` (0..63).
 *   .gif   GIF with one 256-colour palette for the whole clip (median cut
 *          over all frames, nearest-colour mapping; no dithering).
 * The file is written to a temporary name in the same folder and renamed
 * when complete: a failure never leaves a partial file at `path`.
 * Thread rule: any number of calls may run at once (no shared state).
 */
#ifndef VIDEOCRAFTER_ENCODE_H
#define VIDEOCRAFTER_ENCODE_H

#include "videocrafter.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vc_video_codec {
    VC_VIDEO_CODEC_AUTO = 0,   /* from the extension: .mp4 -> H264, .webm -> VP9, .gif -> GIF */
    VC_VIDEO_CODEC_H264 = 1,   /* MP4 container */
    VC_VIDEO_CODEC_VP9 = 2,    /* WebM container */
    VC_VIDEO_CODEC_GIF = 3     /* GIF */
} vc_video_codec;

typedef struct vc_encode_params {
    uint32_t struct_size;      /* sizeof(vc_encode_params), set by the default */
    int32_t fps;               /* frames per second of the file, 1..240 (10, the original's savefps) */
    int32_t crf;               /* quality: H.264 0..51, VP9 0..63, lower is better (10); unused for GIF */
    vc_video_codec codec;      /* VC_VIDEO_CODEC_AUTO */
} vc_encode_params;

/* Fills the defaults: fps 10, crf 10, codec AUTO. */
VC_API void vc_encode_default_params(vc_encode_params *params);

/* Writes frames (uint8 [T,H,W,3], borrowed) to path. params may be NULL
 * (defaults). errbuf (may be NULL) receives the failure text, including
 * FFmpeg's own message. Returns VC_STATUS_OK, INVALID_ARGUMENT (bad tensor,
 * params or unknown extension), UNSUPPORTED (this FFmpeg lacks the encoder,
 * e.g. libx264), IO_ERROR (cannot create or write the file), OUT_OF_MEMORY,
 * or BACKEND_ERROR (another FFmpeg failure). */
VC_API vc_status vc_encode_video_file(const vc_tensor *frames, const char *path, const vc_encode_params *params,
                                      char *errbuf, size_t errcap);

/* True when this build's FFmpeg has the encoder the codec needs. */
VC_API bool vc_encode_codec_available(vc_video_codec codec);

/* Codec for a file name by its extension (case-insensitive), or AUTO when
 * the name has none of .mp4 / .webm / .gif. */
VC_API vc_video_codec vc_encode_codec_for_path(const char *path);

/* FFmpeg's own log lines (encoder banners, warnings) go to stderr through
 * av_log, whose level is process-wide. quiet true lowers it to errors only,
 * false restores FFmpeg's default (info). Affects every FFmpeg user in the
 * process; call it once at start-up if at all. */
VC_API void vc_encode_set_ffmpeg_quiet(bool quiet);

#ifdef __cplusplus
}
#endif

#endif /* VIDEOCRAFTER_ENCODE_H */
