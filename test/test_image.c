/* test_image.c - image decoding (PIL convert("RGB") rules, hostile files),
 * preprocessing parity (§3.1-3.2), vision tower and resampler parity (§3.3-3.5). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "support.h"
#include "backend/backend.h"
#include "core/model.h"
#include "image/image.h"

#define CASE "i2v_512_v1"
#define DOWN CASE "/downscale_320x512"

/* ------------------------------------------------------------ helpers */

static const char *tmp_file(const char *name)
{
    static char buf[8][1024];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", vct_tmpdir(), name);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Writes a PNG with libpng; rows are packed samples of the given type/depth. */
static void write_png(const char *path, uint32_t w, uint32_t h, int ctype, int depth, const uint8_t *rows,
                      size_t rowbytes, const png_color *pal, int npal, const uint8_t *trns, int ntrns,
                      int interlace)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_non_null(png);
    assert_non_null(info);
    if (setjmp(png_jmpbuf(png))) fail_msg("libpng write failed");
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(png, info, pal, npal);
    if (trns) png_set_tRNS(png, info, trns, ntrns, NULL);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (uint32_t y = 0; y < h; y++) png_write_row(png, rows + (size_t)y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

/* Writes a JPEG from packed samples (1, 3 or 4 components). */
static void write_jpeg(const char *path, uint32_t w, uint32_t h, int comps, J_COLOR_SPACE in_cs,
                       J_COLOR_SPACE file_cs, const uint8_t *px, int quality, bool progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, file_cs);
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A PNG that is only a signature + IHDR (+ an empty IDAT and IEND): a header
 * claiming any size, with valid CRCs. */
static size_t png_header_only(uint8_t *buf, uint32_t w, uint32_t h)
{
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t n = 0;
    memcpy(buf, sig, 8);
    n = 8;
    put32(buf + n, 13);
    memcpy(buf + n + 4, "IHDR", 4);
    put32(buf + n + 8, w);
    put32(buf + n + 12, h);
    buf[n + 16] = 8; /* depth */
    buf[n + 17] = 2; /* RGB */
    buf[n + 18] = buf[n + 19] = buf[n + 20] = 0;
    put32(buf + n + 21, (uint32_t)crc32(0, buf + n + 4, 17));
    n += 25;
    put32(buf + n, 0);
    memcpy(buf + n + 4, "IEND", 4);
    put32(buf + n + 8, (uint32_t)crc32(0, buf + n + 4, 4));
    n += 12;
    return n;
}

static vc_status load(vc_context *ctx, const char *path, vc_tensor *t)
{
    vc_status st = vc_image_load(ctx, path, t);
    if (st != VC_STATUS_OK) {
        printf("  %-28s -> %s: %s\n", strrchr(path, '/') + 1, vc_status_str(st), vc_context_errmsg(ctx));
        assert_null(t->data);
        assert_true(strlen(vc_context_errmsg(ctx)) > 0);
    }
    return st;
}

static const uint8_t *px(const vc_tensor *t, int64_t y, int64_t x)
{
    return (const uint8_t *)t->data + (y * t->shape[1] + x) * 3;
}

/* ------------------------------------------------------- decode tests */

static void test_png_modes(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    vc_tensor t;
    enum { W = 5, H = 3 };
    uint8_t rows[H * W * 8];

    /* 16-bit RGB: PIL keeps the high byte ("RGB;16B") */
    for (int i = 0; i < H * W * 3; i++) {
        rows[2 * i] = (uint8_t)(i * 13);
        rows[2 * i + 1] = (uint8_t)(255 - i);
    }
    write_png(tmp_file("rgb16.png"), W, H, PNG_COLOR_TYPE_RGB, 16, rows, W * 6, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("rgb16.png"), &t), VC_STATUS_OK);
    assert_int_equal(t.dtype, VC_DTYPE_U8);
    assert_int_equal(t.shape[0], H);
    assert_int_equal(t.shape[1], W);
    assert_int_equal(t.shape[2], 3);
    for (int i = 0; i < H * W * 3; i++) assert_int_equal(((uint8_t *)t.data)[i], (uint8_t)(i * 13));
    vc_tensor_free(&t);

    /* 16-bit grey: PIL mode I;16, convert("RGB") clips at 255 (Convert.c I16_RGB) */
    uint16_t g16[W] = {0, 7, 255, 256, 65535};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            rows[y * W * 2 + 2 * x] = (uint8_t)(g16[x] >> 8);
            rows[y * W * 2 + 2 * x + 1] = (uint8_t)g16[x];
        }
    write_png(tmp_file("grey16.png"), W, H, PNG_COLOR_TYPE_GRAY, 16, rows, W * 2, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("grey16.png"), &t), VC_STATUS_OK);
    uint8_t want16[W] = {0, 7, 255, 255, 255};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++) assert_int_equal(px(&t, y, x)[c], want16[x]);
    vc_tensor_free(&t);

    /* grey + alpha: grey replicated, alpha dropped (not composited) */
    for (int i = 0; i < H * W; i++) {
        rows[2 * i] = (uint8_t)(17 * i);
        rows[2 * i + 1] = (uint8_t)(i % 2 ? 0 : 128);
    }
    write_png(tmp_file("ga.png"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 8, rows, W * 2, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("ga.png"), &t), VC_STATUS_OK);
    for (int i = 0; i < H * W; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(((uint8_t *)t.data)[3 * i + c], (uint8_t)(17 * i));
    vc_tensor_free(&t);

    /* 16-bit grey + alpha: high byte ("LA;16B") */
    for (int i = 0; i < H * W; i++) {
        rows[4 * i] = (uint8_t)(9 * i);
        rows[4 * i + 1] = 0xff;
        rows[4 * i + 2] = 0;
        rows[4 * i + 3] = 1;
    }
    write_png(tmp_file("ga16.png"), W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 16, rows, W * 4, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("ga16.png"), &t), VC_STATUS_OK);
    for (int i = 0; i < H * W; i++) assert_int_equal(((uint8_t *)t.data)[3 * i + 1], (uint8_t)(9 * i));
    vc_tensor_free(&t);

    /* palette with transparency: via the palette, transparency ignored */
    png_color pal[4] = {{10, 20, 30}, {200, 100, 0}, {1, 2, 3}, {255, 255, 255}};
    uint8_t trns[4] = {0, 128, 255, 7};
    for (int i = 0; i < H * W; i++) rows[i] = (uint8_t)(i % 4);
    write_png(tmp_file("pal.png"), W, H, PNG_COLOR_TYPE_PALETTE, 8, rows, W, pal, 4, trns, 4, 0);
    assert_int_equal(load(ctx, tmp_file("pal.png"), &t), VC_STATUS_OK);
    for (int i = 0; i < H * W; i++) {
        const uint8_t *p = (uint8_t *)t.data + 3 * i;
        assert_int_equal(p[0], pal[i % 4].red);
        assert_int_equal(p[1], pal[i % 4].green);
        assert_int_equal(p[2], pal[i % 4].blue);
    }
    vc_tensor_free(&t);

    /* 2-bit grey: PIL's "L;2" scales by 85 */
    memset(rows, 0, sizeof rows);
    for (int y = 0; y < H; y++) rows[y * 2] = 0x1b; /* pixels 0,1,2,3 */
    write_png(tmp_file("grey2.png"), W, H, PNG_COLOR_TYPE_GRAY, 2, rows, 2, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("grey2.png"), &t), VC_STATUS_OK);
    for (int x = 0; x < 4; x++) assert_int_equal(px(&t, 1, x)[2], 85 * x);
    vc_tensor_free(&t);

    /* interlaced RGBA: alpha dropped */
    for (int i = 0; i < H * W; i++) {
        rows[4 * i] = (uint8_t)i;
        rows[4 * i + 1] = (uint8_t)(2 * i);
        rows[4 * i + 2] = (uint8_t)(3 * i);
        rows[4 * i + 3] = 0;
    }
    write_png(tmp_file("rgba_i.png"), W, H, PNG_COLOR_TYPE_RGBA, 8, rows, W * 4, NULL, 0, NULL, 0,
              PNG_INTERLACE_ADAM7);
    assert_int_equal(load(ctx, tmp_file("rgba_i.png"), &t), VC_STATUS_OK);
    for (int i = 0; i < H * W; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(((uint8_t *)t.data)[3 * i + c], (uint8_t)((c + 1) * i));
    vc_tensor_free(&t);

    /* 1x1 */
    uint8_t one[3] = {9, 8, 7};
    write_png(tmp_file("one.png"), 1, 1, PNG_COLOR_TYPE_RGB, 8, one, 3, NULL, 0, NULL, 0, 0);
    assert_int_equal(load(ctx, tmp_file("one.png"), &t), VC_STATUS_OK);
    assert_memory_equal(t.data, one, 3);
    /* a 1x1 image still goes through the whole preprocessing */
    vc_tensor r, c;
    assert_int_equal(vc_preprocess_image(ctx, &t, 64, 96, &r, &c), VC_STATUS_OK);
    float v = ((float *)r.data)[0];
    assert_true(fabsf(v - ((9.0f / 255.0f - 0.5f) * 2.0f)) == 0.0f);
    vc_tensor_free(&r);
    vc_tensor_free(&c);
    vc_tensor_free(&t);
    vc_context_free(ctx);
}

static void test_jpeg_modes(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    vc_tensor t;
    enum { W = 24, H = 16 };
    static uint8_t src[W * H * 4];

    /* CMYK (Adobe-inverted as libjpeg writes raw values): PIL reads "CMYK;I" then
     * cmyk2rgb. raw (255, 0, 128, 255) -> PIL (0, 255, 127, 0) -> RGB (255, 0, 128) */
    for (int i = 0; i < W * H; i++) {
        src[4 * i] = 255;
        src[4 * i + 1] = 0;
        src[4 * i + 2] = 128;
        src[4 * i + 3] = 255;
    }
    const uint8_t want[3] = {255, 0, 128};
    J_COLOR_SPACE spaces[2] = {JCS_CMYK, JCS_YCCK};
    const char *names[2] = {"cmyk.jpg", "ycck.jpg"};
    for (int s = 0; s < 2; s++) {
        write_jpeg(tmp_file(names[s]), W, H, 4, JCS_CMYK, spaces[s], src, 95, false);
        assert_int_equal(load(ctx, tmp_file(names[s]), &t), VC_STATUS_OK);
        int maxd = 0;
        for (int i = 0; i < W * H * 3; i++) {
            int d = abs((int)((uint8_t *)t.data)[i] - want[i % 3]);
            if (d > maxd) maxd = d;
        }
        printf("  %s: max |rgb - expected| = %d\n", names[s], maxd);
        assert_true(maxd <= 3);
        vc_tensor_free(&t);
    }
    /* half-ink K: raw k = 128 -> nk = 128; raw c = 255 -> R = 128 */
    for (int i = 0; i < W * H; i++) {
        src[4 * i] = src[4 * i + 1] = src[4 * i + 2] = 255;
        src[4 * i + 3] = 128;
    }
    write_jpeg(tmp_file("cmyk_k.jpg"), W, H, 4, JCS_CMYK, JCS_CMYK, src, 95, false);
    assert_int_equal(load(ctx, tmp_file("cmyk_k.jpg"), &t), VC_STATUS_OK);
    assert_true(abs((int)px(&t, 3, 3)[0] - 128) <= 2);
    vc_tensor_free(&t);

    /* greyscale, progressive */
    for (int i = 0; i < W * H; i++) src[i] = 77;
    write_jpeg(tmp_file("grey.jpg"), W, H, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, src, 95, true);
    assert_int_equal(load(ctx, tmp_file("grey.jpg"), &t), VC_STATUS_OK);
    for (int c = 0; c < 3; c++) assert_true(abs((int)px(&t, 5, 5)[c] - 77) <= 1);
    vc_tensor_free(&t);

    /* RGB */
    for (int i = 0; i < W * H; i++) {
        src[3 * i] = 200;
        src[3 * i + 1] = 40;
        src[3 * i + 2] = 90;
    }
    write_jpeg(tmp_file("rgb.jpg"), W, H, 3, JCS_RGB, JCS_YCbCr, src, 100, false);
    assert_int_equal(load(ctx, tmp_file("rgb.jpg"), &t), VC_STATUS_OK);
    assert_true(abs((int)px(&t, 7, 9)[0] - 200) <= 2 && abs((int)px(&t, 7, 9)[1] - 40) <= 2 &&
                abs((int)px(&t, 7, 9)[2] - 90) <= 2);
    vc_tensor_free(&t);

    /* 1x1 JPEG */
    write_jpeg(tmp_file("one.jpg"), 1, 1, 3, JCS_RGB, JCS_YCbCr, src, 90, false);
    assert_int_equal(load(ctx, tmp_file("one.jpg"), &t), VC_STATUS_OK);
    assert_int_equal(t.shape[0], 1);
    assert_int_equal(t.shape[1], 1);
    vc_tensor_free(&t);
    vc_context_free(ctx);
}

static void test_hostile(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    vc_tensor t;
    uint8_t hdr[128];
    size_t n;

    /* 0x0 header (libpng refuses zero sizes) */
    n = png_header_only(hdr, 0, 0);
    write_bytes(tmp_file("zero.png"), hdr, n);
    assert_int_equal(load(ctx, tmp_file("zero.png"), &t), VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "empty size 0x0"));

    /* 20000x20000 header: refused before any pixel memory is taken */
    n = png_header_only(hdr, 20000, 20000);
    write_bytes(tmp_file("huge.png"), hdr, n);
    assert_int_equal(load(ctx, tmp_file("huge.png"), &t), VC_STATUS_LIMIT_EXCEEDED);
    assert_non_null(strstr(vc_context_errmsg(ctx), "20000"));
    /* 16000x16000: within the per-side limit, above the pixel limit */
    n = png_header_only(hdr, 16000, 16000);
    assert_int_equal(vc_image_decode(ctx, hdr, n, 0, &t), VC_STATUS_LIMIT_EXCEEDED);
    assert_null(t.data);
    /* a valid header but no image data */
    n = png_header_only(hdr, 64, 64);
    assert_int_equal(vc_image_decode(ctx, hdr, n, 0, &t), VC_STATUS_BAD_FORMAT);
    printf("  header without IDAT           -> %s\n", vc_context_errmsg(ctx));

    /* truncated PNG: a real image cut in half */
    enum { W = 64, H = 64 };
    static uint8_t img[W * H * 4];
    uint32_t seed = 1;
    for (size_t i = 0; i < sizeof img; i++) {
        seed = seed * 1664525u + 1013904223u;
        img[i] = (uint8_t)(seed >> 24);
    }
    write_png(tmp_file("full.png"), W, H, PNG_COLOR_TYPE_RGB, 8, img, W * 3, NULL, 0, NULL, 0, 0);
    uint8_t *buf = vct_read_file(tmp_file("full.png"), &n);
    for (size_t cut = 0; cut < n; cut += n / 7 + 1) {
        vc_status st = vc_image_decode(ctx, buf, cut, 0, &t);
        assert_int_equal(st, VC_STATUS_BAD_FORMAT);
        assert_null(t.data);
    }
    write_bytes(tmp_file("trunc.png"), buf, n / 2);
    assert_int_equal(load(ctx, tmp_file("trunc.png"), &t), VC_STATUS_BAD_FORMAT);
    /* a flipped byte in IDAT: CRC error */
    buf[n / 2] ^= 0x5a;
    assert_int_equal(vc_image_decode(ctx, buf, n, 0, &t), VC_STATUS_BAD_FORMAT);
    free(buf);

    /* truncated JPEG (PIL refuses it rather than padding with grey) */
    write_jpeg(tmp_file("full.jpg"), W, H, 3, JCS_RGB, JCS_YCbCr, img, 90, false);
    buf = vct_read_file(tmp_file("full.jpg"), &n);
    assert_int_equal(vc_image_decode(ctx, buf, n, 0, &t), VC_STATUS_OK);
    vc_tensor_free(&t);
    write_bytes(tmp_file("trunc.jpg"), buf, n / 2);
    assert_int_equal(load(ctx, tmp_file("trunc.jpg"), &t), VC_STATUS_BAD_FORMAT);
    for (size_t cut = 0; cut < n; cut += n / 9 + 1) {
        assert_int_equal(vc_image_decode(ctx, buf, cut, 0, &t), VC_STATUS_BAD_FORMAT);
        assert_null(t.data);
    }
    /* 20000x20000 JPEG: patch the SOF0 size fields of a valid file */
    for (size_t i = 0; i + 9 < n; i++) {
        if (buf[i] == 0xff && buf[i + 1] == 0xc0) {
            buf[i + 5] = 20000 >> 8;
            buf[i + 6] = 20000 & 0xff;
            buf[i + 7] = 20000 >> 8;
            buf[i + 8] = 20000 & 0xff;
            break;
        }
    }
    write_bytes(tmp_file("huge.jpg"), buf, n);
    assert_int_equal(load(ctx, tmp_file("huge.jpg"), &t), VC_STATUS_LIMIT_EXCEEDED);
    free(buf);
    /* a 0x0 JPEG header */
    write_jpeg(tmp_file("z.jpg"), 8, 8, 3, JCS_RGB, JCS_YCbCr, img, 90, false);
    buf = vct_read_file(tmp_file("z.jpg"), &n);
    for (size_t i = 0; i + 9 < n; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xc0) {
            memset(buf + i + 5, 0, 4);
            break;
        }
    assert_int_equal(vc_image_decode(ctx, buf, n, 0, &t), VC_STATUS_BAD_FORMAT);
    printf("  0x0 JPEG                      -> %s\n", vc_context_errmsg(ctx));
    free(buf);

    /* a progressive JPEG whose last scan is repeated 600 times: a CPU bomb,
     * refused at JPEG_MAX_SCANS (500) */
    write_jpeg(tmp_file("prog.jpg"), W, H, 3, JCS_RGB, JCS_YCbCr, img, 90, true);
    buf = vct_read_file(tmp_file("prog.jpg"), &n);
    size_t last_sos = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (buf[i] == 0xff && buf[i + 1] == 0xda) last_sos = i;
    assert_true(last_sos > 0 && buf[n - 2] == 0xff && buf[n - 1] == 0xd9);
    size_t scan = n - 2 - last_sos, bn = last_sos + 600 * scan + 2;
    uint8_t *bomb = malloc(bn);
    assert_non_null(bomb);
    memcpy(bomb, buf, last_sos);
    for (int k = 0; k < 600; k++) memcpy(bomb + last_sos + (size_t)k * scan, buf + last_sos, scan);
    bomb[bn - 2] = 0xff;
    bomb[bn - 1] = 0xd9;
    vc_status bst = vc_image_decode(ctx, bomb, bn, 0, &t);
    printf("  600-scan progressive JPEG     -> %s: %s\n", vc_status_str(bst), vc_context_errmsg(ctx));
    assert_int_equal(bst, VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "more than 500 scans"));
    assert_null(t.data);
    free(bomb);
    free(buf);

    /* not an image; empty; missing */
    write_bytes(tmp_file("text.png"), "hello, world", 12);
    assert_int_equal(load(ctx, tmp_file("text.png"), &t), VC_STATUS_BAD_FORMAT);
    write_bytes(tmp_file("empty.jpg"), "", 0);
    assert_int_equal(load(ctx, tmp_file("empty.jpg"), &t), VC_STATUS_BAD_FORMAT);
    assert_int_equal(load(ctx, tmp_file("missing.png"), &t), VC_STATUS_IO_ERROR);
    assert_int_equal(vc_image_decode(ctx, "\xff\xd8\xff", 3, 0, &t), VC_STATUS_BAD_FORMAT);

    /* API argument checks */
    assert_int_equal(vc_image_load(ctx, NULL, &t), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_image_load(ctx, "x.png", NULL), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor bad = {0}, r;
    int64_t shape[3] = {4, 4, 4};
    assert_int_equal(vc_tensor_alloc(&bad, VC_DTYPE_U8, 3, shape), VC_STATUS_OK);
    assert_int_equal(vc_preprocess_image(ctx, &bad, 64, 96, &r, NULL), VC_STATUS_INVALID_ARGUMENT);
    bad.shape[2] = 3;
    assert_int_equal(vc_preprocess_image(ctx, &bad, -1, 96, &r, NULL), VC_STATUS_BAD_SIZE);
    assert_int_equal(vc_preprocess_image(ctx, &bad, 100000, 96, &r, NULL), VC_STATUS_BAD_SIZE);
    assert_int_equal(vc_preprocess_image(ctx, &bad, 0, 0, &r, NULL), VC_STATUS_OK); /* own size */
    assert_int_equal(r.shape[2], 4);
    vc_tensor_free(&r);
    vc_tensor_free(&bad);
    vc_context_free(ctx);
}

/* Every file of test/fuzz/regress/fuzz_image (kept fuzz finds) and of the fuzz
 * seed corpus (every PNG colour type and depth, palette+tRNS, Adam7, baseline,
 * progressive, grey, CMYK and YCCK JPEGs), with the fuzzer's checks: a failure
 * has a message and is never INTERNAL, a success is u8 [H,W,3] and preprocesses. */
typedef struct image_replay {
    vc_context *ctx;
    size_t n_ok;
} image_replay;

static void replay_image(const char *path, const char *name, const uint8_t *data, size_t len, void *user)
{
    (void)path;
    image_replay *r = user;
    vc_tensor t;
    vc_status st = vc_image_decode(r->ctx, data, len, (uint64_t)1 << 22, &t);
    if (st != VC_STATUS_OK) {
        printf("  %-22s -> %s: %s\n", name, vc_status_str(st), vc_context_errmsg(r->ctx));
        assert_true(vc_context_errmsg(r->ctx)[0] != 0);
        assert_int_not_equal(st, VC_STATUS_INTERNAL);
        assert_null(t.data);
        return;
    }
    assert_true(vc_tensor_is(&t, VC_DTYPE_U8, 3) && t.shape[2] == 3);
    vc_tensor pre;
    assert_int_equal(vc_preprocess_image(r->ctx, &t, 8, 12, &pre, NULL), VC_STATUS_OK);
    vc_tensor_free(&pre);
    vc_tensor_free(&t);
    r->n_ok++;
}

static void test_fuzz_files(void **state)
{
    (void)state;
    image_replay r = {vct_context(), 0};
    size_t n_files = vct_each_fuzz_file("fuzz_image", true, replay_image, &r);
    printf("  %zu image fuzz files replayed, %zu decode\n", n_files, r.n_ok);
    assert_true(r.n_ok >= 20); /* every seed is a valid image */
    vc_context_free(r.ctx);
}

/* Odd sizes through the whole preprocessing (§3.1-3.2): 1x1, one row or column
 * at the per-side limit (Gaussian kernel of ~145 taps on the long side), an
 * image already 224x224 (kornia's identity path), and raw tensors the API
 * refuses (0-sized, NULL data, 2 channels, over the per-side limit). */
static void test_odd_sizes(void **state)
{
    (void)state;
    vc_context *ctx = vct_context();
    static const int64_t sizes[][2] = {{1, 1}, {1, VC_IMAGE_MAX_DIM}, {VC_IMAGE_MAX_DIM, 1}, {224, 224}, {3, 2}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        vc_tensor img, r, c;
        int64_t shape[3] = {sizes[i][0], sizes[i][1], 3};
        assert_int_equal(vc_tensor_alloc(&img, VC_DTYPE_U8, 3, shape), VC_STATUS_OK);
        for (int64_t k = 0; k < vc_tensor_numel(&img); k++) ((uint8_t *)img.data)[k] = (uint8_t)(k * 7 % 251);
        const int32_t hw[2][2] = {{64, 96}, {224, 224}};
        for (int s = 0; s < 2; s++) {
            assert_int_equal(vc_preprocess_image(ctx, &img, hw[s][0], hw[s][1], &r, &c), VC_STATUS_OK);
            float lo = 1e30f, hi = -1e30f;
            for (int64_t k = 0; k < vc_tensor_numel(&c); k++) {
                float v = ((float *)c.data)[k];
                assert_true(isfinite(v));
                lo = v < lo ? v : lo;
                hi = v > hi ? v : hi;
            }
            /* CLIP-normalised [-1,1] stays within (-1-0.48)/0.26 .. (1-0.41)/0.26 (+ bicubic overshoot) */
            assert_true(lo > -2.5f && hi < 2.5f);
            if (s == 0) printf("  %5lldx%-5lld -> clip input in [%.3f, %.3f]\n", (long long)shape[0], (long long)shape[1], lo, hi);
            vc_tensor_free(&r);
            vc_tensor_free(&c);
        }
        vc_tensor_free(&img);
    }
    /* a uniform 1x1 image gives a uniform CLIP input: no ringing from the edge handling */
    vc_tensor one, r, c;
    int64_t s1[3] = {1, 1, 3};
    assert_int_equal(vc_tensor_alloc(&one, VC_DTYPE_U8, 3, s1), VC_STATUS_OK);
    memset(one.data, 200, 3);
    assert_int_equal(vc_preprocess_image(ctx, &one, 64, 96, &r, &c), VC_STATUS_OK);
    for (int ch = 0; ch < 3; ch++) {
        const float *p = (const float *)c.data + (size_t)ch * 224 * 224;
        for (size_t k = 1; k < 224 * 224; k++) assert_true(fabsf(p[k] - p[0]) < 1e-5f);
    }
    vc_tensor_free(&r);
    vc_tensor_free(&c);
    vc_tensor_free(&one);

    /* refused raw tensors: a status and a message, outputs zeroed */
    uint8_t px3[12] = {0};
    vc_tensor bad[] = {
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {0, 0, 3}, .data = px3},
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {0, 4, 3}, .data = px3},
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {2, 2, 3}, .data = NULL},
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {2, 3, 2}, .data = px3},
        {.dtype = VC_DTYPE_F32, .ndim = 3, .shape = {1, 1, 3}, .data = px3},
        {.dtype = VC_DTYPE_U8, .ndim = 2, .shape = {2, 2}, .data = px3},
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {1, VC_IMAGE_MAX_DIM + 1, 3}, .data = px3},
        {.dtype = VC_DTYPE_U8, .ndim = 3, .shape = {-1, 4, 3}, .data = px3},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r.data = c.data = (void *)1;
        vc_status st = vc_preprocess_image(ctx, &bad[i], 64, 96, &r, &c);
        assert_true(st == VC_STATUS_INVALID_ARGUMENT || st == VC_STATUS_LIMIT_EXCEEDED);
        assert_null(r.data);
        assert_null(c.data);
        assert_true(vc_context_errmsg(ctx)[0] != 0);
        if (i < 2 || i == 6) printf("  refused: %s\n", vc_context_errmsg(ctx));
    }
    vc_context_free(ctx);
}

/* -------------------------------------------------- preprocessing parity */

static size_t count_diff(const vc_tensor *a, const vc_tensor *b)
{
    size_t n = 0, m = (size_t)vc_tensor_numel(b);
    for (size_t i = 0; i < m; i++) n += ((const float *)a->data)[i] != ((const float *)b->data)[i];
    return n;
}

static void check_preprocess(const char *png, int32_t h, int32_t w, const char *dir, const char *suffix)
{
    vc_context *ctx = vct_context();
    vc_tensor img, r, c, ref_r, ref_c, c2;
    assert_int_equal(vc_image_load(ctx, vct_path("%s", png), &img), VC_STATUS_OK);
    assert_int_equal(vc_preprocess_image(ctx, &img, h, w, &r, &c), VC_STATUS_OK);
    vct_load(&ref_r, "%s/image_resized%s.npy", dir, suffix);
    vct_load(&ref_c, "%s/clip_in%s.npy", dir, suffix);
    char what[160];
    snprintf(what, sizeof what, "%s image_resized%s", dir, suffix);
    vct_assert_close(&r, &ref_r, vct_tol(1e-4, 1e-3), what);
    printf("  %s: %zu of %lld values differ from the reference bit pattern\n", what, count_diff(&r, &ref_r),
           (long long)vc_tensor_numel(&ref_r));
    assert_int_equal(count_diff(&r, &ref_r), 0); /* §3.1: the IPP form is bit-exact */
    snprintf(what, sizeof what, "%s clip_in%s (end to end)", dir, suffix);
    vct_assert_close(&c, &ref_c, vct_tol(1e-4, 1e-3), what);
    /* stage alone: from the reference resized image */
    c2 = (vc_tensor){0};
    int64_t cs[4] = {1, 3, 224, 224};
    assert_int_equal(vc_tensor_alloc(&c2, VC_DTYPE_F32, 4, cs), VC_STATUS_OK);
    assert_true(vc_clip_preprocess(ref_r.data, h, w, c2.data));
    snprintf(what, sizeof what, "%s clip_in%s (stage)", dir, suffix);
    vct_assert_close(&c2, &ref_c, vct_tol(1e-4, 1e-3), what);
    printf("  %s: %zu of %lld values differ in the last bit or more\n", what, count_diff(&c2, &ref_c),
           (long long)vc_tensor_numel(&ref_c));
    vc_tensor_free(&c2);
    vc_tensor_free(&img);
    vc_tensor_free(&r);
    vc_tensor_free(&c);
    vc_tensor_free(&ref_r);
    vc_tensor_free(&ref_c);
    vc_context_free(ctx);
}

static void test_preprocess_64x96(void **state)
{
    (void)state;
    check_preprocess(CASE "/input.png", 64, 96, CASE, "");
}

static void test_preprocess_320x512(void **state)
{
    (void)state;
    check_preprocess(CASE "/input.png", 320, 512, DOWN, "");
}

static void test_preprocess_320x512_large(void **state)
{
    (void)state;
    check_preprocess(DOWN "/input_large.png", 320, 512, DOWN, "_large");
}

static void test_uncond_clip_input(void **state)
{
    (void)state;
    /* §3.5: the zero 224x224 image gives the per-channel constant (0.5 - mean)/std */
    float *zero = calloc(3 * 224 * 224, sizeof(float)), *out = malloc(sizeof(float) * 3 * 224 * 224);
    assert_non_null(zero);
    assert_non_null(out);
    assert_true(vc_clip_preprocess(zero, 224, 224, out));
    const float want[3] = {0.06903682f, 0.16139331f, 0.33283865f};
    for (int c = 0; c < 3; c++) assert_true(fabsf(out[c * 224 * 224 + 1234] - want[c]) < 1e-7f);
    free(zero);
    free(out);
}

/* ------------------------------------------------------- towers parity */

typedef struct towers {
    vc_context *ctx;
    vc_model *model;
} towers;

static int towers_setup(void **state)
{
    towers *tw = calloc(1, sizeof *tw);
    if (!tw) return -1;
    tw->ctx = vct_context();
    vc_model_params mp;
    vc_model_default_params(&mp);
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", vct_path(CASE "/config.yaml"));
    mp.config_path = cfg;
    vc_status st = vc_model_load(tw->ctx, vct_path(CASE "/model.ckpt"), &mp, &tw->model);
    if (st != VC_STATUS_OK) {
        printf("  model load: %s: %s\n", vc_status_str(st), vc_context_errmsg(tw->ctx));
        tw->model = NULL;
    }
    *state = tw;
    return 0;
}

static int towers_teardown(void **state)
{
    towers *tw = *state;
    if (!tw) return 0; /* setup failed before it made one */
    vc_model_free(tw->model);
    vc_context_free(tw->ctx);
    free(tw);
    return 0;
}

/* Skips while the loader or the CPU kernels are still placeholders. */
static towers *need_towers(void **state)
{
    towers *tw = *state;
    if (!tw->model) skip();
    if (!tw->ctx->backend->ops->linear || !tw->ctx->backend->ops->attention) {
        printf("  backend has no kernels yet\n");
        skip();
    }
    return tw;
}

static void test_vision_tokens(void **state)
{
    towers *tw = need_towers(state);
    /* the tiny tower has head_width 80 (2 heads of 80), never 64 */
    assert_int_equal(tw->model->cfg.vision.width, 160);
    assert_int_equal(tw->model->cfg.vision.width / tw->model->cfg.vision.head_width, 2);
    const char *dirs[3] = {CASE, DOWN, DOWN};
    const char *sfx[3] = {"", "", "_large"};
    for (int i = 0; i < 3; i++) {
        vc_tensor clip_in, ref, tok;
        vct_load(&clip_in, "%s/clip_in%s.npy", dirs[i], sfx[i]);
        vct_load(&ref, "%s/clip_tokens%s.npy", dirs[i], sfx[i]);
        double t0 = vc_now();
        assert_int_equal(vc_clip_vision_tokens(tw->ctx, tw->model, clip_in.data, 1, &tok), VC_STATUS_OK);
        double t1 = vc_now();
        char what[160];
        snprintf(what, sizeof what, "%s clip_tokens%s (stage, %.0f ms)", dirs[i], sfx[i], 1e3 * (t1 - t0));
        vct_assert_close(&tok, &ref, vct_tol(1e-4, 1e-2), what);
        vc_tensor_free(&tok);
        vc_tensor_free(&ref);
        vc_tensor_free(&clip_in);
    }
}

static void test_resampler(void **state)
{
    towers *tw = need_towers(state);
    const char *dirs[3] = {CASE, DOWN, DOWN};
    const char *sfx[3] = {"", "", "_large"};
    for (int i = 0; i < 3; i++) {
        vc_tensor tok, ref, out;
        vct_load(&tok, "%s/clip_tokens%s.npy", dirs[i], sfx[i]);
        vct_load(&ref, "%s/resampler_out%s.npy", dirs[i], sfx[i]);
        assert_int_equal(vc_resampler_forward(tw->ctx, tw->model, &tok, &out), VC_STATUS_OK);
        char what[160];
        snprintf(what, sizeof what, "%s resampler_out%s (stage)", dirs[i], sfx[i]);
        vct_assert_close(&out, &ref, vct_tol(1e-4, 1e-2), what);
        vc_tensor_free(&tok);
        vc_tensor_free(&ref);
        vc_tensor_free(&out);
    }
}

static void test_encode_image_end_to_end(void **state)
{
    towers *tw = need_towers(state);
    struct {
        const char *png, *dir, *sfx;
        int32_t h, w;
    } cases[3] = {{CASE "/input.png", CASE, "", 64, 96},
                  {CASE "/input.png", DOWN, "", 320, 512},
                  {DOWN "/input_large.png", DOWN, "_large", 320, 512}};
    for (int i = 0; i < 3; i++) {
        vc_tensor img, out, tok, ref, ref_tok;
        assert_int_equal(vc_image_load(tw->ctx, vct_path("%s", cases[i].png), &img), VC_STATUS_OK);
        assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, cases[i].h, cases[i].w, 0, &out), VC_STATUS_OK);
        assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, cases[i].h, cases[i].w, VC_ENCODE_IMAGE_TOKENS,
                                         &tok),
                         VC_STATUS_OK);
        vct_load(&ref, "%s/resampler_out%s.npy", cases[i].dir, cases[i].sfx);
        vct_load(&ref_tok, "%s/clip_tokens%s.npy", cases[i].dir, cases[i].sfx);
        char what[160];
        snprintf(what, sizeof what, "%s clip_tokens%s (end to end)", cases[i].dir, cases[i].sfx);
        vct_assert_close(&tok, &ref_tok, vct_tol(1e-4, 1e-2), what);
        snprintf(what, sizeof what, "%s resampler_out%s (end to end)", cases[i].dir, cases[i].sfx);
        vct_assert_close(&out, &ref, vct_tol(1e-4, 1e-2), what);
        vc_tensor_free(&img);
        vc_tensor_free(&out);
        vc_tensor_free(&tok);
        vc_tensor_free(&ref);
        vc_tensor_free(&ref_tok);
    }
    /* the image tokens are the tail of the joint context (§3.5) */
    vc_tensor full, img, out;
    vct_load(&full, CASE "/context_full.npy");
    assert_int_equal(vc_image_load(tw->ctx, vct_path(CASE "/input.png"), &img), VC_STATUS_OK);
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, 64, 96, 0, &out), VC_STATUS_OK);
    vc_tensor tail = {.dtype = VC_DTYPE_F32, .ndim = 3, .shape = {1, 16, 64},
                      .data = (float *)full.data + 77 * 64};
    vct_assert_close(&out, &tail, vct_tol(1e-4, 1e-2), CASE " context_full[:,77:]");
    vc_tensor_free(&full);
    vc_tensor_free(&img);
    vc_tensor_free(&out);
}

static void test_uncond_tokens(void **state)
{
    towers *tw = need_towers(state);
    vc_tensor out, ref;
    assert_int_equal(vc_encode_uncond_image(tw->ctx, tw->model, &out), VC_STATUS_OK);
    vct_load(&ref, CASE "/uncond_image_tokens.npy");
    vct_assert_close(&out, &ref, vct_tol(1e-4, 1e-2), CASE " uncond_image_tokens");
    vc_tensor_free(&out);
    vc_tensor_free(&ref);

    /* cancel: inside a run (no reset) it stops; a public call starts a new run */
    vc_context_cancel(tw->ctx);
    assert_int_equal(vc_encode_uncond_image(tw->ctx, tw->model, &out), VC_STATUS_CANCELLED);
    assert_null(out.data);
    vc_tensor img;
    int64_t shape[3] = {2, 3, 3};
    assert_int_equal(vc_tensor_alloc(&img, VC_DTYPE_U8, 3, shape), VC_STATUS_OK);
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, 64, 96, 0, &out), VC_STATUS_OK);
    assert_int_equal(out.shape[1], 16);
    vc_tensor_free(&out);
    /* argument checks */
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, 64, 96, 0x80, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_encode_image(tw->ctx, NULL, &img, 64, 96, 0, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, NULL, 64, 96, 0, &out), VC_STATUS_INVALID_ARGUMENT);
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, 64, -2, 0, &out), VC_STATUS_BAD_SIZE);
    assert_int_equal(vc_encode_image(tw->ctx, tw->model, &img, 64, 96, 0, NULL), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor_free(&img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_modes),
        cmocka_unit_test(test_jpeg_modes),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_fuzz_files),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_preprocess_64x96),
        cmocka_unit_test(test_preprocess_320x512),
        cmocka_unit_test(test_preprocess_320x512_large),
        cmocka_unit_test(test_uncond_clip_input),
    };
    const struct CMUnitTest tower_tests[] = {
        cmocka_unit_test(test_vision_tokens),
        cmocka_unit_test(test_resampler),
        cmocka_unit_test(test_encode_image_end_to_end),
        cmocka_unit_test(test_uncond_tokens),
    };
    int failed = cmocka_run_group_tests_name("image", tests, NULL, NULL);
    failed += cmocka_run_group_tests_name("image towers", tower_tests, towers_setup, towers_teardown);
    return failed;
}
