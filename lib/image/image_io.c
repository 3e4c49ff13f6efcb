/* image_io.c - PNG (libpng) and JPEG (libjpeg-turbo) decoding to 8-bit RGB the
 * way PIL's Image.open(path).convert("RGB") gives it (spec §3.1 step 1).
 *
 * Both libraries report errors through longjmp into the decoder below; every
 * message is kept and returned as VC_STATUS_BAD_FORMAT. Sizes are checked on
 * the header, before pixel memory is allocated. */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "image.h"

typedef struct decode_state {
    vc_context *ctx;
    const uint8_t *data;
    size_t size, pos;
    uint64_t max_pixels;
    vc_tensor *out;
    vc_status status;             /* set by the limit checks */
    char msg[JMSG_LENGTH_MAX + 200];
} decode_state;

static vc_status check_size(decode_state *s, const char *fmt, uint64_t w, uint64_t h)
{
    if (w == 0 || h == 0)
        return vc_fail(s->ctx, VC_STATUS_BAD_FORMAT, "%s image has an empty size %llux%llu", fmt,
                       (unsigned long long)w, (unsigned long long)h);
    if (w > VC_IMAGE_MAX_DIM || h > VC_IMAGE_MAX_DIM)
        return vc_fail(s->ctx, VC_STATUS_LIMIT_EXCEEDED,
                       "%s image of %llux%llu pixels exceeds the limit of %d pixels per side", fmt,
                       (unsigned long long)w, (unsigned long long)h, VC_IMAGE_MAX_DIM);
    if (w * h > s->max_pixels)
        return vc_fail(s->ctx, VC_STATUS_LIMIT_EXCEEDED,
                       "%s image of %llux%llu = %llu pixels exceeds the limit of %llu pixels", fmt,
                       (unsigned long long)w, (unsigned long long)h, (unsigned long long)(w * h),
                       (unsigned long long)s->max_pixels);
    return VC_STATUS_OK;
}

static vc_status alloc_rgb(decode_state *s, uint64_t w, uint64_t h)
{
    int64_t shape[3] = {(int64_t)h, (int64_t)w, 3};
    return vc_tensor_make(s->ctx, s->out, VC_DTYPE_U8, 3, shape);
}

/* ------------------------------------------------------------------ PNG */

static void png_on_error(png_structp png, png_const_charp msg)
{
    decode_state *s = png_get_error_ptr(png);
    snprintf(s->msg, sizeof s->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* PIL ignores what libpng only warns about (bad ancillary chunks) */
}

static void png_read_mem(png_structp png, png_bytep dst, size_t n)
{
    decode_state *s = png_get_io_ptr(png);
    if (n > s->size - s->pos) png_error(png, "file is truncated");
    memcpy(dst, s->data + s->pos, n);
    s->pos += n;
}

/* PIL's modes for PNG: 16-bit samples keep their high byte ("RGB;16B", "LA;16B"),
 * except 16-bit greyscale, which becomes mode I;16 and converts to RGB by
 * clipping the 16-bit value at 255 (Pillow Convert.c). Sub-byte grey is scaled
 * to 0..255, palettes are expanded, tRNS and alpha are dropped. */
static vc_status decode_png_rows(decode_state *s, png_structp png, png_infop info, png_bytep *volatile *rows)
{
    /* IHDR must come first: check the size there, before libpng reads the
     * chunks that follow (which may be missing from a header-only file) */
    const uint8_t *d = s->data;
    if (s->size >= 8 + 8 + 8 && memcmp(d + 12, "IHDR", 4) == 0) {
        uint32_t w0 = (uint32_t)d[16] << 24 | (uint32_t)d[17] << 16 | (uint32_t)d[18] << 8 | d[19];
        uint32_t h0 = (uint32_t)d[20] << 24 | (uint32_t)d[21] << 16 | (uint32_t)d[22] << 8 | d[23];
        if (w0 && h0) {
            vc_status st0 = check_size(s, "PNG", w0, h0);
            if (st0 != VC_STATUS_OK) return st0;
        }
    }
    if (setjmp(png_jmpbuf(png))) {
        if (s->status != VC_STATUS_OK) return s->status;
        return vc_fail(s->ctx, VC_STATUS_BAD_FORMAT, "PNG: %s", s->msg);
    }
    png_set_user_limits(png, VC_IMAGE_MAX_DIM, VC_IMAGE_MAX_DIM);
    png_set_chunk_malloc_max(png, 64u << 20);
    png_set_read_fn(png, s, png_read_mem);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    /* fuzz_image only: let mutated files past the CRC/Adler-32 checks into libpng's chunk and
     * row decoding (a fuzzer cannot fix up checksums in an uninstrumented library) */
    png_set_crc_action(png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#ifdef PNG_IGNORE_ADLER32
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
#endif
    png_read_info(png, info);

    png_uint_32 w = 0, h = 0;
    int depth = 0, ctype = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    vc_status st = check_size(s, "PNG", w, h);
    if (st != VC_STATUS_OK) return s->status = st;

    bool grey16 = ctype == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((ctype & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16 && !grey16) png_set_strip_16(png);
    if (ctype & PNG_COLOR_MASK_ALPHA || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    if ((ctype & PNG_COLOR_MASK_COLOR) == 0 && !grey16) png_set_gray_to_rgb(png);
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t want = grey16 ? (size_t)w * 2 : (size_t)w * 3;
    if (png_get_rowbytes(png, info) != want || png_get_channels(png, info) != (grey16 ? 1 : 3))
        return s->status = vc_fail(s->ctx, VC_STATUS_INTERNAL,
                                   "PNG: unexpected row layout after conversion (%zu bytes for width %u)",
                                   (size_t)png_get_rowbytes(png, info), (unsigned)w);

    st = alloc_rgb(s, w, h);
    if (st != VC_STATUS_OK) return s->status = st;
    *rows = malloc(sizeof(png_bytep) * h);
    if (!*rows) return s->status = vc_fail(s->ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for PNG rows");
    uint8_t *px = s->out->data;
    for (png_uint_32 y = 0; y < h; y++) (*rows)[y] = px + (size_t)y * w * 3;
    png_read_image(png, *rows);
    /* the trailing chunks (and IEND) are not needed: PIL ignores them too */

    if (grey16) {
        for (png_uint_32 y = 0; y < h; y++) {
            uint8_t *row = (*rows)[y];
            for (png_uint_32 x = w; x-- > 0;) { /* in place, back to front: 2 bytes -> 3 */
                uint8_t v = row[2 * x] ? 255 : row[2 * x + 1];
                row[3 * x] = row[3 * x + 1] = row[3 * x + 2] = v;
            }
        }
    }
    return VC_STATUS_OK;
}

static vc_status decode_png(decode_state *s)
{
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s, png_on_error, png_on_warning);
    if (!png) return vc_fail(s->ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the PNG reader");
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return vc_fail(s->ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the PNG reader");
    }
    png_bytep *volatile rows = NULL;
    vc_status st = decode_png_rows(s, png, info, &rows);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return st;
}

/* ----------------------------------------------------------------- JPEG */

#define JPEG_MAX_SCANS 500 /* progressive files with more scans are refused (CPU bomb) */

typedef struct jpeg_err {
    struct jpeg_error_mgr mgr;
    jmp_buf jmp;
    decode_state *s;
} jpeg_err;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_err *e = (jpeg_err *)cinfo->err;
    char buf[JMSG_LENGTH_MAX];
    cinfo->err->format_message(cinfo, buf);
    snprintf(e->s->msg, sizeof e->s->msg, "%s", buf);
    longjmp(e->jmp, 1);
}

/* Warnings are silent, except a premature end of data: PIL refuses truncated
 * JPEGs ("image file is truncated") where libjpeg would pad them with grey. */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_on_error(cinfo);
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > JPEG_MAX_SCANS) {
        jpeg_err *e = (jpeg_err *)cinfo->err;
        snprintf(e->s->msg, sizeof e->s->msg, "progressive JPEG has more than %d scans", JPEG_MAX_SCANS);
        longjmp(e->jmp, 1);
    }
}

/* PIL's CMYK to RGB (Convert.c cmyk2rgb) on PIL's CMYK, which is libjpeg's
 * output inverted ("CMYK;I": PIL assumes Adobe's convention for every 4-channel JPEG). */
static uint8_t cmyk_channel(uint8_t raw_c, uint8_t raw_k)
{
    int c = 255 - raw_c, nk = raw_k; /* nk = 255 - (255 - raw_k) */
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static vc_status decode_jpeg_rows(decode_state *s, struct jpeg_decompress_struct *cinfo, jpeg_err *err,
                                  uint8_t *volatile *line)
{
    if (setjmp(err->jmp)) {
        if (s->status != VC_STATUS_OK) return s->status;
        return vc_fail(s->ctx, VC_STATUS_BAD_FORMAT, "JPEG: %s", s->msg);
    }
    jpeg_create_decompress(cinfo);
    struct jpeg_progress_mgr progress = {.progress_monitor = jpeg_on_progress};
    cinfo->progress = &progress;
    jpeg_mem_src(cinfo, s->data, (unsigned long)s->size);
    jpeg_read_header(cinfo, TRUE);

    vc_status st = check_size(s, "JPEG", cinfo->image_width, cinfo->image_height);
    if (st != VC_STATUS_OK) return s->status = st;
    int nc = cinfo->num_components;
    if (nc == 1) {
        cinfo->out_color_space = JCS_GRAYSCALE;
    } else if (nc == 3) {
        cinfo->out_color_space = JCS_RGB;
    } else if (nc == 4) {
        cinfo->out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
    } else {
        return s->status = vc_fail(s->ctx, VC_STATUS_UNSUPPORTED, "JPEG with %d components is not supported",
                                   nc);
    }
    jpeg_start_decompress(cinfo);
    int oc = cinfo->output_components;
    uint32_t w = cinfo->output_width, h = cinfo->output_height;
    if ((oc != 1 && oc != 3 && oc != 4) || w != cinfo->image_width || h != cinfo->image_height)
        return s->status = vc_fail(s->ctx, VC_STATUS_INTERNAL, "JPEG: unexpected decoder output (%d channels)",
                                   oc);
    st = alloc_rgb(s, w, h);
    if (st != VC_STATUS_OK) return s->status = st;
    *line = malloc((size_t)w * (size_t)oc);
    if (!*line) return s->status = vc_fail(s->ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for a JPEG row");
    uint8_t *px = s->out->data;
    while (cinfo->output_scanline < h) {
        uint8_t *dst = px + (size_t)cinfo->output_scanline * w * 3;
        JSAMPROW row = oc == 3 ? dst : *line;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            return vc_fail(s->ctx, VC_STATUS_BAD_FORMAT, "JPEG: decoder returned no data (truncated file?)");
        if (oc == 1) {
            for (uint32_t x = 0; x < w; x++) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
        } else if (oc == 4) {
            for (uint32_t x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) dst[3 * x + c] = cmyk_channel(row[4 * x + c], row[4 * x + 3]);
        }
    }
    /* no jpeg_finish_decompress: whatever follows the last scan line is not needed */
    return VC_STATUS_OK;
}

static vc_status decode_jpeg(decode_state *s)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_err err;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_on_error;
    err.mgr.emit_message = jpeg_on_message;
    err.s = s;
    uint8_t *volatile line = NULL;
    vc_status st = decode_jpeg_rows(s, &cinfo, &err, &line);
    free(line);
    jpeg_destroy_decompress(&cinfo);
    return st;
}

/* ------------------------------------------------------------------ API */

vc_status vc_image_decode(vc_context *ctx, const void *data, size_t size, uint64_t max_pixels, vc_tensor *out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "image output tensor is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "image data is NULL");
    decode_state s = {.ctx = ctx, .data = data, .size = size, .out = out, .status = VC_STATUS_OK,
                      .max_pixels = max_pixels ? max_pixels : VC_IMAGE_MAX_PIXELS};
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    vc_status st;
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) {
        st = decode_png(&s);
    } else if (size >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0) {
        st = decode_jpeg(&s);
    } else {
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "not a PNG or JPEG image (%zu bytes, unknown signature)", size);
    }
    if (st != VC_STATUS_OK) vc_tensor_free(out);
    return st;
}

vc_status vc_image_load(vc_context *ctx, const char *path, vc_tensor *out)
{
    vc_clear_error(ctx);
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_image_load: output tensor is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_image_load: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot open image '%s': %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    vc_status st = VC_STATUS_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1u << 16;
            if (ncap > VC_IMAGE_MAX_FILE_BYTES + 1) ncap = VC_IMAGE_MAX_FILE_BYTES + 1;
            if (ncap == cap) {
                st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "image '%s' is larger than the %llu-byte limit", path,
                             (unsigned long long)VC_IMAGE_MAX_FILE_BYTES);
                break;
            }
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory reading image '%s'", path);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) st = vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot read image '%s': %s", path, strerror(errno));
            break;
        }
    }
    fclose(f);
    if (st == VC_STATUS_OK) {
        st = vc_image_decode(ctx, buf, len, 0, out);
        if (st != VC_STATUS_OK) {
            char msg[sizeof ctx->errmsg];
            snprintf(msg, sizeof msg, "%s", vc_last_error());
            vc_fail(ctx, st, "image '%s': %s", path, msg);
        }
    }
    free(buf);
    return st;
}
