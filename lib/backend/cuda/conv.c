/* conv.c - the CUDA backend's convolutions: 2-D through cuDNN (cudnn_conv.c)
 * or batched im2col + GEMM, the temporal one (spec §5.4) as GEMMs over the
 * folded layout. */
#include <stdio.h>

#include "cuda_impl.h"

#define COLS_BUDGET ((size_t)1 << 30)   /* im2col bytes per batched GEMM; half conv buffers */
#define CONV_WS_CAP ((size_t)256 << 20) /* largest cuDNN workspace accepted */

static void note_dnn(vc_backend *be, const char *err)
{
    cuda_impl *c = impl_of(be);
    if (!err || c->error != VC_STATUS_OK) return;
    c->error = VC_STATUS_BACKEND_ERROR;
    snprintf(c->errtext, sizeof c->errtext, "cudnn: convolution failed: %s", err);
}

/* A shape cuDNN planned but would not run (it refuses at launch, before any
 * work): im2col from now on. */
static bool reject(cuda_impl *c, const vc_cudnn_shape *s)
{
    vc_cudnn_reject(c->dnn, s);
    return false;
}

/* cuDNN would not make its handle: convolutions on im2col from now on, and the
 * backend's description says so */
static void drop_cudnn(vc_backend *be)
{
    cuda_impl *c = impl_of(be);
    char conv[200];
    snprintf(conv, sizeof conv, "im2col + cuBLAS (%.160s)", vc_cudnn_failure(c->dnn));
    describe(be, conv);
    vc_cudnn_close(c->dnn);
    c->dnn = NULL;
}

/* The convolution through cuDNN, in chunks of images that keep every tensor
 * below 2^31 elements (and, in fp16 mode, the half buffers within
 * COLS_BUDGET). false (nothing done): cuDNN is off or has no plan for the
 * shape; asymmetric padding (the VAE's downsampling, §4.1) is not expressible.
 * y16: the halves of a transient y, written directly. */
static bool conv_cudnn(vc_backend *be, const vc_conv2d_args *a, const void *dw, const float *db, void *y16, int oh,
                       int ow)
{
    cuda_impl *c = impl_of(be);
    if (!c->dnn || a->pad_top != a->pad_bottom || a->pad_left != a->pad_right) return false;
    const bool h16 = c->fast16;
    const int64_t in_img = (int64_t)a->ci * a->h * a->w, out_img = (int64_t)a->co * oh * ow;
    const int64_t big = in_img > out_img ? in_img : out_img;
    int64_t per = (int64_t)0x7fffffff / big;
    if (h16 && per > (int64_t)(COLS_BUDGET / (2 * (size_t)big))) per = (int64_t)(COLS_BUDGET / (2 * (size_t)big));
    if (per < 1) return false;
    if (per > a->n) per = a->n;
    vc_cudnn_shape full = {(int)per, a->ci, a->h, a->w, a->co, a->kh, a->kw, a->stride, a->pad_top, a->pad_left, h16};
    vc_cudnn_shape tail = full;
    tail.n = (int)(a->n % per);
    size_t ws_full = 0, ws_tail = 0;
    if (!vc_cudnn_plan(c->dnn, &full, CONV_WS_CAP, &ws_full) ||
        (tail.n && !vc_cudnn_plan(c->dnn, &tail, CONV_WS_CAP, &ws_tail))) {
        if (vc_cudnn_failure(c->dnn)) drop_cudnn(be);
        return false;
    }
    const size_t ws_bytes = ws_full > ws_tail ? ws_full : ws_tail;
    void *ws = ws_bytes ? scratch(be, SCRATCH_CONV_WS, ws_bytes) : NULL;
    if (ws_bytes && !ws) return true; /* noted */
    const int64_t P = (int64_t)oh * ow;
    if (!h16) { /* cuDNN accumulates onto an aliased residual; another one joins the bias pass */
        const float beta = a->residual == a->y ? 1.0f : 0.0f;
        const float *after = a->residual != a->y ? a->residual : NULL;
        for (int64_t i0 = 0; i0 < a->n; i0 += per) {
            const vc_cudnn_shape *s = a->n - i0 < per ? &tail : &full;
            mark(be, "cudnn conv");
            const char *err = vc_cudnn_forward(c->dnn, s, a->x + i0 * in_img, dw, beta, a->y + i0 * out_img, ws, ws_bytes);
            resume(be);
            if (err && i0 == 0) return reject(c, s); /* nothing written yet: the fallback does it all */
            note_dnn(be, err);
        }
        note_cuda(be, vck_bias_residual(c->stream, a->y, db, after, a->n, a->co, P), "conv bias");
        return true;
    }
    /* fp16: half x and y (cuDNN wants one data type), widened with bias and residual in one pass
     * (a transient y stays half) */
    for (int64_t i0 = 0; i0 < a->n; i0 += per) {
        const vc_cudnn_shape *s = a->n - i0 < per ? &tail : &full;
        const void *xh = act_half(be, a->x + i0 * in_img, s->n * in_img);
        /* a transient y is written as the halves it is held as (no bias, no residual) */
        void *yh = y16 ? (void *)((uint16_t *)y16 + i0 * out_img)
                       : scratch(be, SCRATCH_COLS, (size_t)(s->n * out_img) * 2);
        if (!xh || !yh) return true;
        mark(be, "cudnn conv (fp16)");
        const char *err = vc_cudnn_forward(c->dnn, s, xh, dw, 0.0f, yh, ws, ws_bytes);
        resume(be);
        if (err && i0 == 0) return reject(c, s);
        note_dnn(be, err);
        if (!y16)
            note_cuda(be, vck_half_bias_residual(c->stream, a->y + i0 * out_img, yh, db,
                                                 a->residual ? a->residual + i0 * out_img : NULL, s->n, a->co, P),
                      "conv bias");
    }
    return true;
}

static void conv2d_body(vc_backend *be, const vc_conv2d_args *a)
{
    cuda_impl *c = impl_of(be);
    int64_t oh64, ow64;
    vc_conv2d_out(a, &oh64, &ow64);
    const int oh = (int)oh64, ow = (int)ow64;
    const int64_t K = (int64_t)a->ci * a->kh * a->kw, P = (int64_t)oh * ow, HW = (int64_t)a->h * a->w;
    const float *db = dev_in(be, a->bias, FBYTES(a->co));
    if (a->bias && !db) return;
    const bool h16 = c->fast16;
    void *y16 = h16 ? half_at(c, a->y) : NULL;
    if (y16 && refuse_transient(be, "conv2d", vc_transient_conv_refusal(a->bias, a->residual))) return;
    const void *dw = h16 ? weight_half(be, a->weight, a->co * K) : (const void *)dev_in(be, a->weight, FBYTES(a->co * K));
    if (!dw) return;
    if (conv_cudnn(be, a, dw, db, y16, oh, ow)) return;
    const bool direct = a->kh == 1 && a->kw == 1 && a->stride == 1 && !a->pad_top && !a->pad_left &&
                        !a->pad_bottom && !a->pad_right;
    /* the GEMM accumulates onto an aliased residual; another one joins the bias pass */
    const float beta = a->residual == a->y ? 1.0f : 0.0f, *after = a->residual != a->y ? a->residual : NULL;
    const size_t esz = h16 ? 2 : 4;
    /* 1x1: one batched GEMM over x itself; else im2col columns for per images at a time */
    int64_t per = direct ? a->n : (int64_t)(COLS_BUDGET / ((size_t)K * P * esz));
    if (per < 1) per = 1;
    for (int64_t i0 = 0; i0 < a->n; i0 += per) {
        const int64_t nb = a->n - i0 < per ? a->n - i0 : per;
        const float *xi = a->x + i0 * a->ci * HW;
        const void *cols;
        if (direct) {
            cols = h16 ? act_half(be, xi, nb * K * P) : (const void *)xi;
        } else {
            void *buf = scratch(be, SCRATCH_COLS, (size_t)(nb * K * P) * esz);
            if (!buf) return;
            const void *t = h16 ? half_at(c, xi) : NULL;
            if (t) { /* a transient input: widened for the float im2col */
                float *wide = scratch(be, SCRATCH_WIDE, FBYTES(nb * a->ci * HW));
                if (!wide) return;
                note_cuda(be, vck_widen(c->stream, t, false, wide, nb * a->ci * HW), "conv input");
                xi = wide;
            }
            int e = h16 ? vck_im2col_f16(c->stream, xi, nb, a->ci, a->h, a->w, a->kh, a->kw, a->stride, a->pad_top,
                                         a->pad_left, oh, ow, buf)
                        : vck_im2col(c->stream, xi, nb, a->ci, a->h, a->w, a->kh, a->kw, a->stride, a->pad_top,
                                     a->pad_left, oh, ow, buf);
            note_cuda(be, e, "im2col");
            cols = buf;
        }
        if (!cols) return;
        /* y_i[co, P] = W[co, K] . cols_i[K, P] for the nb images at once */
        void *yi = y16 ? (void *)((uint16_t *)y16 + i0 * a->co * P) : (void *)(a->y + i0 * a->co * P);
        gemm_rm_ex(be, h16, y16 != NULL, false, false, a->co, (int)P, (int)K, 1.0f, dw, K, 0, cols, P, K * P, beta, yi,
                   P, a->co * P, (int)nb);
    }
    if (!y16) note_cuda(be, vck_bias_residual(c->stream, a->y, db, after, a->n, a->co, P), "conv bias");
}

void cu_conv2d(vc_backend *be, const vc_conv2d_args *a)
{
    enter_keeping_half(be, "conv2d");
    conv2d_body(be, a);
    int64_t oh, ow;
    vc_conv2d_out(a, &oh, &ow);
    wrote(be, a->y, (int64_t)a->n * a->co * oh * ow);
}

/* In the folded layout [B,T,ci,S] the kt frames under a tap window are
 * consecutive [ci,S] blocks, one [kt*ci, S] matrix: each output frame is one
 * GEMM with the taps-major weight [co, kt*ci], the frames all taps reach in
 * one strided batch per video, the kt/2 at each end (zero padding, §5.4) over
 * the taps that reach existing frames. */
void cu_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S,
                      const float *w, const float *bias, int32_t co, int32_t kt, const float *residual, float *y)
{
    enter_keeping_half(be, "conv_temporal");
    cuda_impl *c = impl_of(be);
    if (B <= 0 || T <= 0 || S <= 0 || co <= 0) return;
    if (S > 0x7fffffff || (int64_t)kt * ci > 0x7fffffff) {
        note_cuda(be, cudaErrorInvalidValue, "temporal convolution size");
        return;
    }
    const float *db = dev_in(be, bias, FBYTES(co));
    if (bias && !db) return;
    const bool h16 = c->fast16;
    const size_t esz = h16 ? 2 : 4;
    const int64_t K = (int64_t)kt * ci;
    /* a transient y: the GEMMs write the halves it is held as (no bias, no residual) */
    void *y16 = h16 ? half_at(c, y) : NULL;
    if (y16 && refuse_transient(be, "conv_temporal", vc_transient_conv_refusal(bias, residual))) return;
    char *yb = y16 ? (char *)y16 : (char *)y;
    const size_t ysz = y16 ? 2 : 4;
    const void *wt = weight_taps(be, w, co, ci, kt);
    if (!wt) return;
    const int64_t x_frame = (int64_t)ci * S, y_frame = (int64_t)co * S;
    const char *xs = h16 ? act_half(be, x, (int64_t)B * T * x_frame) : (const void *)x;
    if (!xs) return;
    /* the GEMMs accumulate onto an aliased residual; another one joins the bias pass */
    const float beta = residual == y ? 1.0f : 0.0f, *after = residual != y ? residual : NULL;
    const int pad = kt / 2, inner0 = pad, inner1 = T - (kt - 1 - pad); /* frames every tap reaches */
    for (int32_t b = 0; b < B; b++) {
        const int64_t f0 = (int64_t)b * T;
        if (inner1 > inner0)
            gemm_rm_ex(be, h16, y16 != NULL, false, false, co, (int)S, (int)K, 1.0f, wt, K, 0,
                       xs + (f0 + inner0 - pad) * x_frame * esz, S, x_frame, beta,
                       yb + (size_t)(f0 + inner0) * y_frame * ysz, S, y_frame, inner1 - inner0);
        for (int32_t t = 0; t < T; t++) {
            if (t >= inner0 && t < inner1) continue;
            const int tau0 = pad - t > 0 ? pad - t : 0, tau1 = T + pad - t < kt ? T + pad - t : kt;
            if (tau1 <= tau0) continue; /* not reached: the centre tap always reaches its own frame */
            gemm_rm_ex(be, h16, y16 != NULL, false, false, co, (int)S, (tau1 - tau0) * ci, 1.0f,
                       (const char *)wt + (size_t)tau0 * ci * esz, K, 0, xs + (f0 + t + tau0 - pad) * x_frame * esz, S,
                       0, beta, yb + (size_t)(f0 + t) * y_frame * ysz, S, 0, 1);
        }
    }
    if (db || after) note_cuda(be, vck_bias_residual(c->stream, y, db, after, (int64_t)B * T, co, S), "temporal bias");
    wrote(be, y, (int64_t)B * T * y_frame);
}
