/* preprocess.c - the original's image preprocessing, bit for bit where it can be:
 * OpenCV INTER_LINEAR to the video size (§3.1), kornia's anti-alias blur,
 * PyTorch's bicubic align_corners=True to 224x224 and CLIP normalisation (§3.2).
 * Host memory only; everything in float32 with the original's operation order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* The fused multiply-adds below are spelled out (fmaf); nothing else may be
 * contracted, whatever the compiler (GCC in C11 mode does not; clang would). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* ------------------------------------------------------- §3.1 INTER_LINEAR */

typedef struct lin_tap {
    int32_t i0, i1;
    float f;
} lin_tap;

/* Per output sample: source pair and weight. §3.1 Quirk: the IPP path takes f
 * from the exact double coordinate (c = (d+0.5)/(dst/src) - 0.5). */
static void linear_taps(int32_t in, int32_t out, lin_tap *taps)
{
    double scale = 1.0 / ((double)out / (double)in);
    for (int32_t d = 0; d < out; d++) {
        double c = ((double)d + 0.5) * scale - 0.5;
        double fl = floor(c);
        int32_t i = (int32_t)fl;
        float f = (float)(c - fl);
        if (c < 0) {
            i = 0;
            f = 0.0f;
        }
        if (i >= in - 1) {
            i = in - 1;
            f = 0.0f;
        }
        taps[d].i0 = i;
        taps[d].i1 = i + 1 < in ? i + 1 : in - 1;
        taps[d].f = f;
    }
}

/* Horizontal pass of one source row: u8 RGB [w0,3] -> f32 RGB [w,3]. */
static void resize_row(const uint8_t *src, const lin_tap *tx, int32_t w, float *dst)
{
    for (int32_t x = 0; x < w; x++) {
        const uint8_t *a = src + 3 * (size_t)tx[x].i0, *b = src + 3 * (size_t)tx[x].i1;
        for (int c = 0; c < 3; c++) {
            float s0 = (float)a[c], s1 = (float)b[c];
            dst[3 * x + c] = fmaf(s1 - s0, tx[x].f, s0);
        }
    }
}

bool vc_image_resize_to_unit(const uint8_t *rgb, int32_t h0, int32_t w0, int32_t h, int32_t w, float *out)
{
    lin_tap *tx = malloc(sizeof *tx * (size_t)w), *ty = malloc(sizeof *ty * (size_t)h);
    float *slot_mem = malloc(sizeof(float) * 2 * 3 * (size_t)w);
    bool ok = tx && ty && slot_mem;
    if (ok) {
        linear_taps(w0, w, tx);
        linear_taps(h0, h, ty);
        /* two cached horizontally resized source rows (rows are visited in order) */
        float *slot[2] = {slot_mem, slot_mem + 3 * (size_t)w};
        int32_t idx[2] = {-1, -1};
        size_t plane = (size_t)h * (size_t)w;
        for (int32_t y = 0; y < h; y++) {
            float *rows[2];
            int32_t need[2] = {ty[y].i0, ty[y].i1};
            for (int k = 0; k < 2; k++) {
                int32_t r = need[k];
                int s = idx[0] == r ? 0 : idx[1] == r ? 1 : -1;
                if (s < 0) {
                    s = (k == 1 && idx[0] == need[0]) ? 1 : 0;
                    resize_row(rgb + (size_t)r * (size_t)w0 * 3, tx, w, slot[s]);
                    idx[s] = r;
                }
                rows[k] = slot[s];
            }
            float f = ty[y].f;
            for (int32_t x = 0; x < w; x++)
                for (int c = 0; c < 3; c++) {
                    float t0 = rows[0][3 * x + c], t1 = rows[1][3 * x + c];
                    float v = fmaf(t1 - t0, f, t0);
                    /* §3.1 step 4: (x/255 - 0.5)*2 in float32 */
                    out[(size_t)c * plane + (size_t)y * (size_t)w + (size_t)x] = (v / 255.0f - 0.5f) * 2.0f;
                }
        }
    }
    free(tx);
    free(ty);
    free(slot_mem);
    return ok;
}

/* ---------------------------------------------------- §3.2 kornia + torch */

#define MAX_TAPS 4097

/* kornia get_gaussian_kernel1d in float32: exp(-x^2/(2 sigma^2)) / sum. */
static int32_t gaussian_kernel(double sigma_d, float *k, int32_t cap)
{
    double ks = fmax(4.0 * sigma_d, 3.0);
    int32_t n = ks > (double)cap ? cap : (int32_t)ks;
    if (n % 2 == 0) n += 1;
    if (n > cap) n -= 2;
    float sigma = (float)sigma_d;
    float den = 2.0f * (sigma * sigma);
    float sum = 0.0f;
    for (int32_t i = 0; i < n; i++) {
        float x = (float)(i - n / 2);
        k[i] = expf(-(x * x) / den);
    }
    for (int32_t i = 0; i < n; i++) sum += k[i];
    for (int32_t i = 0; i < n; i++) k[i] = k[i] / sum;
    return n;
}

/* torch 'reflect' padding index (mirror without repeating the edge). */
static int32_t reflect(int32_t i, int32_t n)
{
    if (n == 1) return 0;
    while (i < 0 || i >= n) {
        if (i < 0) i = -i;
        if (i >= n) i = 2 * (n - 1) - i;
    }
    return i;
}

/* kornia _gaussian_blur2d_cpu: out = p[0]*k[0], then out += p[t]*k[t] (addcmul, fused),
 * horizontal pass first, then vertical, reflect border of k/2. One plane. */
static bool blur_plane(float *x, int32_t h, int32_t w, const float *kx, int32_t nx, const float *ky, int32_t ny,
                       float *tmp)
{
    int32_t rx = nx / 2, ry = ny / 2;
    int32_t *ix = malloc(sizeof(int32_t) * ((size_t)w + 2 * (size_t)rx));
    int32_t *iy = malloc(sizeof(int32_t) * ((size_t)h + 2 * (size_t)ry));
    if (!ix || !iy) {
        free(ix);
        free(iy);
        return false;
    }
    for (int32_t i = 0; i < w + 2 * rx; i++) ix[i] = reflect(i - rx, w);
    for (int32_t i = 0; i < h + 2 * ry; i++) iy[i] = reflect(i - ry, h);
    for (int32_t y = 0; y < h; y++) {
        const float *row = x + (size_t)y * w;
        float *o = tmp + (size_t)y * w;
        for (int32_t j = 0; j < w; j++) {
            float acc = row[ix[j]] * kx[0];
            for (int32_t t = 1; t < nx; t++) acc = fmaf(row[ix[j + t]], kx[t], acc);
            o[j] = acc;
        }
    }
    for (int32_t y = 0; y < h; y++) {
        float *o = x + (size_t)y * w;
        for (int32_t j = 0; j < w; j++) {
            float acc = tmp[(size_t)iy[y] * w + j] * ky[0];
            for (int32_t t = 1; t < ny; t++) acc = fmaf(tmp[(size_t)iy[y + t] * w + j], ky[t], acc);
            o[j] = acc;
        }
    }
    free(ix);
    free(iy);
    return true;
}

typedef struct cubic_tap {
    int32_t idx[4];
    float w[4];
} cubic_tap;

/* PyTorch's AVX2 CPU kernels are built with floating-point contraction, so
 * parts of these polynomials, the tap sums and kornia's addcmul blur run as
 * fused multiply-adds. The fused forms used here reproduce the reference's
 * clip_in bit for bit in 86-91% of values (plain float ops: 25-36%); the rest
 * differ by an ulp (the compiler's exact choices are not recoverable). */
static float cubic1(float x, float A) { return fmaf(A + 2.0f, x, -(A + 3.0f)) * x * x + 1.0f; }
static float cubic2(float x, float A) { return fmaf(fmaf(A, x, -5.0f * A), x, 8.0f * A) * x - 4.0f * A; }

/* PyTorch upsample_bicubic2d (align_corners=True) indices and weights, float32. */
static void cubic_taps(int32_t in, int32_t out, cubic_tap *taps)
{
    float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    const float A = -0.75f;
    for (int32_t d = 0; d < out; d++) {
        float src = scale * (float)d;
        int32_t i0 = (int32_t)floorf(src);
        if (i0 > in - 1) i0 = in - 1;
        float t = src - (float)i0;
        t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
        float t2 = 1.0f - t;
        taps[d].w[0] = cubic2(t + 1.0f, A);
        taps[d].w[1] = cubic1(t, A);
        taps[d].w[2] = cubic1(t2, A);
        taps[d].w[3] = cubic2(t2 + 1.0f, A);
        for (int j = 0; j < 4; j++) {
            int32_t k = i0 - 1 + j;
            taps[d].idx[j] = k < 0 ? 0 : k > in - 1 ? in - 1 : k;
        }
    }
}

bool vc_clip_preprocess(const float *x, int32_t h, int32_t w, float *out)
{
    const int32_t S = VC_CLIP_IMAGE_SIZE;
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
    static const float stdv[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    size_t plane = (size_t)h * (size_t)w, oplane = (size_t)S * S;
    bool ok = true;

    if (h == S && w == S) {
        memcpy(out, x, sizeof(float) * 3 * oplane); /* kornia: same size -> identity */
    } else {
        float *buf = malloc(sizeof(float) * plane * 2);
        cubic_tap *tx = malloc(sizeof *tx * S), *ty = malloc(sizeof *ty * S);
        ok = buf && tx && ty;
        double fy = (double)h / S, fx = (double)w / S;
        bool blur = fmax(fy, fx) > 1.0;
        float kx[MAX_TAPS], ky[MAX_TAPS];
        int32_t nx = 0, ny = 0;
        if (ok && blur) {
            ny = gaussian_kernel(fmax((fy - 1.0) / 2.0, 0.001), ky, MAX_TAPS);
            nx = gaussian_kernel(fmax((fx - 1.0) / 2.0, 0.001), kx, MAX_TAPS);
        }
        if (ok) {
            cubic_taps(w, S, tx);
            cubic_taps(h, S, ty);
        }
        for (int c = 0; ok && c < 3; c++) {
            float *p = buf;
            memcpy(p, x + (size_t)c * plane, sizeof(float) * plane);
            if (blur && !blur_plane(p, h, w, kx, nx, ky, ny, buf + plane)) {
                ok = false;
                break;
            }
            float *o = out + (size_t)c * oplane;
            for (int32_t oy = 0; oy < S; oy++)
                for (int32_t ox = 0; ox < S; ox++) {
                    float acc = 0.0f;
                    for (int r = 0; r < 4; r++) {
                        const float *row = p + (size_t)ty[oy].idx[r] * w;
                        float v = row[tx[ox].idx[0]] * tx[ox].w[0];
                        for (int j = 1; j < 4; j++) v = fmaf(row[tx[ox].idx[j]], tx[ox].w[j], v);
                        acc = r == 0 ? v * ty[oy].w[0] : fmaf(v, ty[oy].w[r], acc);
                    }
                    o[(size_t)oy * S + ox] = acc;
                }
        }
        free(buf);
        free(tx);
        free(ty);
        if (!ok) return false;
    }
    for (int c = 0; c < 3; c++) {
        float *o = out + (size_t)c * oplane;
        for (size_t i = 0; i < oplane; i++) o[i] = ((o[i] + 1.0f) / 2.0f - mean[c]) / stdv[c];
    }
    return true;
}
