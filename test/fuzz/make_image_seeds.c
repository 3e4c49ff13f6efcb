/* make_image_seeds.c - writes the tiny PNG/JPEG seeds of test/fuzz/corpus/fuzz_image/
 * (every colour type and bit depth libpng knows, palette + tRNS, Adam7; baseline,
 * progressive, grey, CMYK and YCCK JPEGs). Run by run.sh when that folder is missing:
 *   cc make_image_seeds.c -lpng16 -ljpeg -o make_image_seeds && ./make_image_seeds DIR */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>

static char dir[4000];

static FILE *open_seed(const char *name)
{
    char p[4096 + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) { perror(p); exit(1); }
    return f;
}

/* W x H image of the given PNG colour type and depth, rows of deterministic bytes. */
static void png_seed(const char *name, uint32_t w, uint32_t h, int ctype, int depth, int interlace)
{
    int ch = ctype == PNG_COLOR_TYPE_GRAY ? 1 : ctype == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
           : ctype == PNG_COLOR_TYPE_RGB ? 3 : ctype == PNG_COLOR_TYPE_RGBA ? 4 : 1;
    size_t rowbytes = ((size_t)w * ch * depth + 7) / 8;
    uint8_t *rows = malloc(rowbytes * h);
    if (!rows) exit(1);
    for (size_t i = 0; i < rowbytes * h; i++) rows[i] = (uint8_t)(i * 37 + 11);
    FILE *f = open_seed(name);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!png || !info || setjmp(png_jmpbuf(png))) { fprintf(stderr, "%s: libpng failed\n", name); exit(1); }
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, ctype, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = { { 10, 20, 30 }, { 200, 100, 0 }, { 1, 2, 3 }, { 255, 255, 255 } };
        png_byte trns[2] = { 0, 128 };
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, trns, 2, NULL);
        /* indices within the 4-entry palette (any 1- and 2-bit index is) */
        for (size_t i = 0; i < rowbytes * h; i++) rows[i] &= depth == 8 ? 0x03 : depth == 4 ? 0x33 : 0xff;
    }
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    for (int p = 0; p < passes; p++)
        for (uint32_t y = 0; y < h; y++) png_write_row(png, rows + (size_t)y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
    free(rows);
}

static void jpeg_seed(const char *name, uint32_t w, uint32_t h, int comps, J_COLOR_SPACE in_cs,
                      J_COLOR_SPACE file_cs, int progressive)
{
    uint8_t *px = malloc((size_t)w * h * comps);
    if (!px) exit(1);
    for (size_t i = 0; i < (size_t)w * h * comps; i++) px[i] = (uint8_t)(i * 29 + 5);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    FILE *f = open_seed(name);
    jpeg_stdio_dest(&c, f);
    c.image_width = w;
    c.image_height = h;
    c.input_components = comps;
    c.in_color_space = in_cs;
    jpeg_set_defaults(&c);
    jpeg_set_colorspace(&c, file_cs);
    jpeg_set_quality(&c, 50, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < h) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)c.next_scanline * w * comps);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(px);
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: make_image_seeds DIR\n"); return 2; }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    mkdir(dir, 0755);
    png_seed("rgb8.png", 5, 3, PNG_COLOR_TYPE_RGB, 8, 0);
    png_seed("rgb16.png", 3, 2, PNG_COLOR_TYPE_RGB, 16, 0);
    png_seed("rgba8_adam7.png", 9, 9, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_ADAM7);
    png_seed("rgba16.png", 2, 2, PNG_COLOR_TYPE_RGBA, 16, 0);
    png_seed("grey1.png", 11, 3, PNG_COLOR_TYPE_GRAY, 1, 0);
    png_seed("grey2.png", 5, 2, PNG_COLOR_TYPE_GRAY, 2, 0);
    png_seed("grey8.png", 4, 4, PNG_COLOR_TYPE_GRAY, 8, 0);
    png_seed("grey16.png", 3, 3, PNG_COLOR_TYPE_GRAY, 16, 0);
    png_seed("ga8.png", 3, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 0);
    png_seed("ga16.png", 2, 2, PNG_COLOR_TYPE_GRAY_ALPHA, 16, 0);
    png_seed("pal8_trns.png", 6, 2, PNG_COLOR_TYPE_PALETTE, 8, 0);
    png_seed("pal2.png", 7, 3, PNG_COLOR_TYPE_PALETTE, 2, 0);
    png_seed("one.png", 1, 1, PNG_COLOR_TYPE_RGB, 8, 0);
    jpeg_seed("rgb.jpg", 16, 8, 3, JCS_RGB, JCS_YCbCr, 0);
    jpeg_seed("rgb_progressive.jpg", 9, 7, 3, JCS_RGB, JCS_YCbCr, 1);
    jpeg_seed("rgb_raw.jpg", 8, 8, 3, JCS_RGB, JCS_RGB, 0);
    jpeg_seed("grey.jpg", 8, 8, 1, JCS_GRAYSCALE, JCS_GRAYSCALE, 0);
    jpeg_seed("cmyk.jpg", 8, 8, 4, JCS_CMYK, JCS_CMYK, 0);
    jpeg_seed("ycck.jpg", 8, 8, 4, JCS_CMYK, JCS_YCCK, 0);
    jpeg_seed("one.jpg", 1, 1, 3, JCS_RGB, JCS_YCbCr, 0);
    return 0;
}
