/* encode.c - video files from uint8 frames through FFmpeg (spec §8 step 3):
 * MP4/H.264 (libx264, yuv420p, CRF), WebM/VP9 (libvpx-vp9) and GIF (one
 * median-cut palette + FFmpeg's gif encoder). Part of the optional
 * libvideocrafter-encode.so; the core library never links FFmpeg. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/imgutils.h>
#include <libavutil/log.h>
#include <libavutil/opt.h>
#include <libswscale/swscale.h>

#include "videocrafter-encode.h"
#include "palette.h"

#define ENC_MAX_SIDE 16384

static vc_status set_err(char *eb, size_t cap, vc_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static vc_status set_err(char *eb, size_t cap, vc_status st, const char *fmt, ...)
{
    if (eb && cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb, cap, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* An FFmpeg failure as a status with FFmpeg's own message. */
static vc_status av_fail(char *eb, size_t cap, int err, const char *what, const char *path)
{
    char msg[AV_ERROR_MAX_STRING_SIZE] = "";
    av_strerror(err, msg, sizeof msg);
    vc_status st = VC_STATUS_BACKEND_ERROR;
    if (err == AVERROR(ENOMEM)) st = VC_STATUS_OUT_OF_MEMORY;
    else if (err == AVERROR(ENOENT) || err == AVERROR(EACCES) || err == AVERROR(EIO) || err == AVERROR(ENOSPC) ||
             err == AVERROR(EROFS) || err == AVERROR(ENOTDIR) || err == AVERROR(EISDIR))
        st = VC_STATUS_IO_ERROR;
    else if (err == AVERROR_ENCODER_NOT_FOUND) st = VC_STATUS_UNSUPPORTED;
    return set_err(eb, cap, st, "%s (%s): FFmpeg: %s", what, path, msg);
}

void vc_encode_default_params(vc_encode_params *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->struct_size = sizeof *p;
    p->fps = 10;  /* the original scripts' savefps (§8) */
    p->crf = 10;  /* torchvision write_video options={'crf': '10'} */
    p->codec = VC_VIDEO_CODEC_AUTO;
}

vc_video_codec vc_encode_codec_for_path(const char *path)
{
    if (!path) return VC_VIDEO_CODEC_AUTO;
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return VC_VIDEO_CODEC_AUTO;
    if (strcasecmp(dot, ".mp4") == 0) return VC_VIDEO_CODEC_H264;
    if (strcasecmp(dot, ".webm") == 0) return VC_VIDEO_CODEC_VP9;
    if (strcasecmp(dot, ".gif") == 0) return VC_VIDEO_CODEC_GIF;
    return VC_VIDEO_CODEC_AUTO;
}

static const char *encoder_name(vc_video_codec c)
{
    switch (c) {
    case VC_VIDEO_CODEC_H264: return "libx264";
    case VC_VIDEO_CODEC_VP9: return "libvpx-vp9";
    case VC_VIDEO_CODEC_GIF: return "gif";
    default: return NULL;
    }
}

static const char *muxer_name(vc_video_codec c)
{
    switch (c) {
    case VC_VIDEO_CODEC_H264: return "mp4";
    case VC_VIDEO_CODEC_VP9: return "webm";
    case VC_VIDEO_CODEC_GIF: return "gif";
    default: return NULL;
    }
}

void vc_encode_set_ffmpeg_quiet(bool quiet)
{
    av_log_set_level(quiet ? AV_LOG_ERROR : AV_LOG_INFO);
}

bool vc_encode_codec_available(vc_video_codec codec)
{
    const char *n = encoder_name(codec);
    return n && avcodec_find_encoder_by_name(n) != NULL;
}

typedef struct enc_state {
    AVFormatContext *oc;
    AVCodecContext *cc;
    AVStream *st;
    AVFrame *frame;
    AVPacket *pkt;
    struct SwsContext *sws;
    uint8_t *index;          /* GIF: palette index per pixel of one frame */
    enc_palette pal;
} enc_state;

/* Sends one frame (NULL = flush) and writes every packet the encoder returns. */
static int send_and_write(enc_state *s, AVFrame *f)
{
    int err = avcodec_send_frame(s->cc, f);
    if (err < 0) return err;
    for (;;) {
        err = avcodec_receive_packet(s->cc, s->pkt);
        if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return 0;
        if (err < 0) return err;
        av_packet_rescale_ts(s->pkt, s->cc->time_base, s->st->time_base);
        s->pkt->stream_index = s->st->index;
        err = av_interleaved_write_frame(s->oc, s->pkt);
        av_packet_unref(s->pkt);
        if (err < 0) return err;
    }
}

vc_status vc_encode_video_file(const vc_tensor *frames, const char *path, const vc_encode_params *params,
                               char *errbuf, size_t errcap)
{
    if (errbuf && errcap) errbuf[0] = 0;
    if (!path || !*path) return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT, "vc_encode_video_file: path is NULL");
    if (!frames || !frames->data || frames->dtype != VC_DTYPE_U8 || frames->ndim != 4 || frames->shape[3] != 3)
        return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT,
                       "vc_encode_video_file: frames must be a uint8 tensor [T,H,W,3] (%s)", path);
    int64_t T = frames->shape[0], H = frames->shape[1], W = frames->shape[2];
    if (T < 1 || T > 1000000 || H < 1 || W < 1 || H > ENC_MAX_SIDE || W > ENC_MAX_SIDE)
        return set_err(errbuf, errcap, VC_STATUS_BAD_SIZE,
                       "vc_encode_video_file: %lld frames of %lldx%lld: need 1..1000000 frames of 1..%d pixels per side",
                       (long long)T, (long long)H, (long long)W, ENC_MAX_SIDE);
    vc_encode_params p;
    vc_encode_default_params(&p);
    if (params) {
        if (params->struct_size < sizeof(uint32_t))
            return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT, "vc_encode_video_file: params.struct_size is %u",
                           params->struct_size);
        size_t n = params->struct_size < sizeof p ? params->struct_size : sizeof p;
        memcpy(&p, params, n);
        p.struct_size = sizeof p;
    }
    if (p.fps < 1 || p.fps > 240)
        return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT, "vc_encode_video_file: fps %d is outside 1..240", p.fps);
    vc_video_codec codec = p.codec == VC_VIDEO_CODEC_AUTO ? vc_encode_codec_for_path(path) : p.codec;
    if (codec != VC_VIDEO_CODEC_H264 && codec != VC_VIDEO_CODEC_VP9 && codec != VC_VIDEO_CODEC_GIF)
        return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT,
                       "vc_encode_video_file: cannot tell the format of %s (use .mp4, .webm or .gif)", path);
    int crf_max = codec == VC_VIDEO_CODEC_VP9 ? 63 : 51;
    if (codec != VC_VIDEO_CODEC_GIF && (p.crf < 0 || p.crf > crf_max))
        return set_err(errbuf, errcap, VC_STATUS_INVALID_ARGUMENT, "vc_encode_video_file: crf %d is outside 0..%d",
                       p.crf, crf_max);
    if (codec != VC_VIDEO_CODEC_GIF && ((H | W) & 1))
        return set_err(errbuf, errcap, VC_STATUS_BAD_SIZE,
                       "vc_encode_video_file: %s needs an even width and height for yuv420p (got %lldx%lld)",
                       codec == VC_VIDEO_CODEC_H264 ? "H.264" : "VP9", (long long)W, (long long)H);
    const AVCodec *enc = avcodec_find_encoder_by_name(encoder_name(codec));
    if (!enc)
        return set_err(errbuf, errcap, VC_STATUS_UNSUPPORTED,
                       "vc_encode_video_file: this FFmpeg (libavcodec %u.%u.%u) has no %s encoder, needed for %s",
                       avcodec_version() >> 16, (avcodec_version() >> 8) & 255, avcodec_version() & 255,
                       encoder_name(codec), path);

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) return set_err(errbuf, errcap, VC_STATUS_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, plen + 32, "%s.tmp%ld", path, (long)getpid());

    enc_state s;
    memset(&s, 0, sizeof s);
    vc_status st = VC_STATUS_OK;
    int err;
    bool opened = false;
    AVDictionary *opts = NULL;

    err = avformat_alloc_output_context2(&s.oc, NULL, muxer_name(codec), tmp);
    if (err < 0 || !s.oc) {
        st = av_fail(errbuf, errcap, err < 0 ? err : AVERROR(ENOMEM), "cannot set up the muxer", path);
        goto out;
    }
    s.st = avformat_new_stream(s.oc, NULL);
    s.cc = avcodec_alloc_context3(enc);
    s.frame = av_frame_alloc();
    s.pkt = av_packet_alloc();
    if (!s.st || !s.cc || !s.frame || !s.pkt) {
        st = set_err(errbuf, errcap, VC_STATUS_OUT_OF_MEMORY, "out of memory setting up the encoder for %s", path);
        goto out;
    }
    s.cc->width = (int)W;
    s.cc->height = (int)H;
    s.cc->time_base = (AVRational){1, p.fps};
    s.cc->framerate = (AVRational){p.fps, 1};
    s.cc->pix_fmt = codec == VC_VIDEO_CODEC_GIF ? AV_PIX_FMT_PAL8 : AV_PIX_FMT_YUV420P;
    if (s.oc->oformat->flags & AVFMT_GLOBALHEADER) s.cc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    char crf[16];
    snprintf(crf, sizeof crf, "%d", p.crf);
    if (codec == VC_VIDEO_CODEC_H264) {
        av_dict_set(&opts, "crf", crf, 0);
        av_dict_set(&opts, "x264-params", "log=-1", 0); /* x264's info lines would go to stderr */
    } else if (codec == VC_VIDEO_CODEC_VP9) {
        s.cc->bit_rate = 0;                             /* constant quality */
        av_dict_set(&opts, "crf", crf, 0);
        av_dict_set(&opts, "deadline", "good", 0);
        av_dict_set(&opts, "cpu-used", "4", 0);
        av_dict_set(&opts, "row-mt", "1", 0);
    }
    err = avcodec_open2(s.cc, enc, &opts);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot open the encoder", path);
        goto out;
    }
    err = avcodec_parameters_from_context(s.st->codecpar, s.cc);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot set the stream parameters", path);
        goto out;
    }
    s.st->time_base = s.cc->time_base;
    s.st->avg_frame_rate = s.cc->framerate;
    s.st->r_frame_rate = s.cc->framerate;
    err = avio_open(&s.oc->pb, tmp, AVIO_FLAG_WRITE);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot create the file", tmp);
        goto out;
    }
    opened = true;
    err = avformat_write_header(s.oc, NULL);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot write the header", path);
        goto out;
    }

    s.frame->format = s.cc->pix_fmt;
    s.frame->width = (int)W;
    s.frame->height = (int)H;
    err = av_frame_get_buffer(s.frame, 0);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot allocate a frame", path);
        goto out;
    }
    const uint8_t *rgb = frames->data;
    size_t fbytes = (size_t)(H * W * 3);
    if (codec == VC_VIDEO_CODEC_GIF) {
        if (enc_palette_build(&s.pal, rgb, (size_t)T * (size_t)(H * W)) != 0) {
            st = set_err(errbuf, errcap, VC_STATUS_OUT_OF_MEMORY, "out of memory building the GIF palette for %s", path);
            goto out;
        }
        s.index = malloc((size_t)(H * W));
        if (!s.index) {
            st = set_err(errbuf, errcap, VC_STATUS_OUT_OF_MEMORY, "out of memory (GIF frame) for %s", path);
            goto out;
        }
    } else {
        /* RGB24 -> YUV 4:2:0 with swscale, as PyAV's frame.reformat does (bilinear, BT.601) */
        s.sws = sws_getContext((int)W, (int)H, AV_PIX_FMT_RGB24, (int)W, (int)H, AV_PIX_FMT_YUV420P, SWS_BILINEAR,
                               NULL, NULL, NULL);
        if (!s.sws) {
            st = set_err(errbuf, errcap, VC_STATUS_BACKEND_ERROR, "cannot set up RGB to YUV conversion for %s", path);
            goto out;
        }
    }
    for (int64_t t = 0; t < T; t++) {
        err = av_frame_make_writable(s.frame);
        if (err < 0) {
            st = av_fail(errbuf, errcap, err, "cannot write a frame", path);
            goto out;
        }
        const uint8_t *src = rgb + (size_t)t * fbytes;
        if (codec == VC_VIDEO_CODEC_GIF) {
            enc_palette_map(&s.pal, src, (size_t)(H * W), s.index);
            for (int64_t y = 0; y < H; y++)
                memcpy(s.frame->data[0] + y * s.frame->linesize[0], s.index + y * W, (size_t)W);
            memcpy(s.frame->data[1], s.pal.argb, 256 * sizeof(uint32_t));
        } else {
            const uint8_t *planes[1] = {src};
            int strides[1] = {(int)(W * 3)};
            sws_scale(s.sws, planes, strides, 0, (int)H, s.frame->data, s.frame->linesize);
        }
        s.frame->pts = t;
        s.frame->pict_type = AV_PICTURE_TYPE_NONE;  /* the encoder decides (§8) */
        err = send_and_write(&s, s.frame);
        if (err < 0) {
            st = av_fail(errbuf, errcap, err, "cannot encode a frame", path);
            goto out;
        }
    }
    err = send_and_write(&s, NULL);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot finish encoding", path);
        goto out;
    }
    err = av_write_trailer(s.oc);
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot finish the file", path);
        goto out;
    }
    err = avio_closep(&s.oc->pb);
    opened = false;
    if (err < 0) {
        st = av_fail(errbuf, errcap, err, "cannot close the file", tmp);
        goto out;
    }
    if (rename(tmp, path) != 0)
        st = set_err(errbuf, errcap, VC_STATUS_IO_ERROR, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
out:
    av_dict_free(&opts);
    if (opened) avio_closep(&s.oc->pb);
    if (st != VC_STATUS_OK) unlink(tmp);
    sws_freeContext(s.sws);
    free(s.index);
    enc_palette_free(&s.pal);
    av_packet_free(&s.pkt);
    av_frame_free(&s.frame);
    avcodec_free_context(&s.cc);
    avformat_free_context(s.oc);
    free(tmp);
    return st;
}
