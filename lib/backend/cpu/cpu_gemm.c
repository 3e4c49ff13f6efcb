/* cpu_gemm.c - the GEMM-based ops: gemm, linear, conv2d, conv_temporal.
 * All OpenBLAS calls happen here, single-threaded, from the pool's threads
 * (see sgemm below). */
#include <cblas.h>
#include <pthread.h>
#include <string.h>

#include "cpu_internal.h"

/* GEMMs run on this backend's own pool: the output is cut into one block of
 * rows or columns per thread and each thread calls a single-threaded OpenBLAS
 * sgemm on its block. OpenBLAS's own threads then never run, so they never
 * spin (sched_yield) against the pool's threads during the non-GEMM ops
 * (measured: the 320x512 UNet forward 13% faster on 2 cores). OpenBLAS
 * rounds a sub-block differently from the whole (its k blocking follows the
 * call's shape), so GEMM results still depend on the thread count in the
 * last bits, as they did with OpenBLAS's own threads.
 * OpenBLAS keeps one process-global thread count: each GEMM sets it to 1 and
 * runs under a process-wide lock, so concurrent contexts take turns in
 * OpenBLAS (as they would share its threads anyway). */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct gemm_part {
    bool ta, tb, split_rows;
    int64_t m, n, k, lda, ldb, ldc, block, side; /* side: m or n, the one cut into blocks */
    float alpha, beta;
    const float *a, *b;
    float *c;
} gemm_part;

static void blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                 const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (blasint)m,
                (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

static void gemm_part_task(void *arg, int64_t begin, int64_t end, int32_t tid)
{
    const gemm_part *g = arg;
    for (int64_t i = begin; i < end; i++) {
        const int64_t lo = i * g->block;
        const int64_t len = g->side - lo < g->block ? g->side - lo : g->block;
        if (len <= 0) continue;
        if (g->split_rows) /* rows lo.. of C: rows of op(A) */
            blas(g->ta, g->tb, len, g->n, g->k, g->alpha, g->ta ? g->a + lo : g->a + lo * g->lda, g->lda, g->b, g->ldb,
                 g->beta, g->c + lo * g->ldc, g->ldc);
        else /* columns lo.. of C: columns of op(B) */
            blas(g->ta, g->tb, g->m, len, g->k, g->alpha, g->a, g->lda, g->tb ? g->b + lo * g->ldb : g->b + lo, g->ldb,
                 g->beta, g->c + lo, g->ldc);
    }
}

static void sgemm(vc_backend *be, bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int32_t nt = be->n_threads;
    /* the longer side is cut, in blocks of whole 16-row/column micro-tiles
     * (the sgemm kernels' unroll), so no tile changes shape at a cut */
    gemm_part g = {ta, tb, m >= n, m, n, k, lda, ldb, ldc, 0, m >= n ? m : n, alpha, beta, a, b, c};
    const int64_t side = g.side;
    int64_t block = (side + nt - 1) / nt;
    block = (block + 15) / 16 * 16;
    const bool split = nt > 1 && side > 64 && m * n * k >= ((int64_t)1 << 21);
    pthread_mutex_lock(&blas_lock);
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
    if (split) {
        g.block = block;
        cpu_parallel_for(be, (side + block - 1) / block, 1, gemm_part_task, &g);
    } else {
        blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
    pthread_mutex_unlock(&blas_lock);
}

void cpu_gemm(vc_backend *be, const vc_gemm_args *g)
{
    if (g->m <= 0 || g->n <= 0 || g->batch <= 0) return;
    for (int32_t i = 0; i < g->batch; i++)
        sgemm(be, g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, g->a + i * g->stride_a, g->lda,
              g->b + i * g->stride_b, g->ldb, g->beta, g->c + i * g->stride_c, g->ldc);
}

/* Before a GEMM that accumulates into y [rows, cols] (row stride ld): y = bias
 * (per column for linear, per row for convs), or y keeps the residual it
 * aliases. Returns the beta to use; *post_bias says the bias still has to be
 * added afterwards (aliased residual). PyTorch's addmm also starts from the
 * bias, so the non-aliased case rounds the same way. */
static float gemm_prologue(vc_backend *be, float *y, int64_t rows, int64_t cols, int64_t ld, const float *bias,
                           int64_t per_row_mod, const float *residual, bool *post_bias, bool force_beta1)
{
    *post_bias = false;
    if (residual == y) {
        *post_bias = bias != NULL;
        return 1.0f;
    }
    if (bias || force_beta1) {
        cpu_rows_set_bias(be, y, rows, cols, ld, bias, per_row_mod);
        return 1.0f;
    }
    return 0.0f;
}

typedef struct bias_add_job {
    float *y;
    const float *bias;
    int64_t cols, per_row_mod; /* per_row_mod > 0: bias index = row % per_row_mod, else column */
} bias_add_job;

static void bias_add_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    bias_add_job *j = arg;
    for (int64_t r = b; r < e; r++) {
        float *yr = j->y + r * j->cols;
        if (j->per_row_mod > 0) {
            float v = j->bias[r % j->per_row_mod];
            for (int64_t c = 0; c < j->cols; c++) yr[c] += v;
        } else {
            for (int64_t c = 0; c < j->cols; c++) yr[c] += j->bias[c];
        }
    }
}

static void bias_add(vc_backend *be, float *y, int64_t rows, int64_t cols, const float *bias, int64_t per_row_mod)
{
    bias_add_job j = {y, bias, cols, per_row_mod};
    int64_t grain = cols > 0 ? 16384 / cols : 1;
    cpu_parallel_for(be, rows, grain < 1 ? 1 : grain, bias_add_task, &j);
}

void cpu_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w, const float *bias,
                int32_t out, const float *residual, float *y)
{
    if (rows <= 0 || out <= 0) return;
    bool post_bias;
    float beta = gemm_prologue(be, y, rows, out, out, bias, 0, residual, &post_bias, false);
    /* OpenBLAS takes 32-bit sizes: split very tall inputs */
    const int64_t max_rows = (int64_t)1 << 30;
    for (int64_t r0 = 0; r0 < rows; r0 += max_rows) {
        int64_t nr = rows - r0 < max_rows ? rows - r0 : max_rows;
        sgemm(be, false, true, nr, out, in, 1.0f, x + r0 * in, in, w, in, beta, y + r0 * out, out);
    }
    if (post_bias) bias_add(be, y, rows, out, bias, 0);
    else if (residual && residual != y) cpu_add_inplace(be, y, residual, rows * out);
}

/* The two dense layouts of vc_linear_args' y, as the [R, Cc] row-major matrix
 * the bias helpers take: tokens [batch*rows, out] (bias per column) or
 * channel-major [batch*out, rows] (bias per row, index row % out). */
static void strided_y_matrix(const vc_linear_args *a, bool tokens, int64_t *R, int64_t *Cc, int64_t *per_row_mod)
{
    *R = tokens ? (int64_t)a->batch * a->rows : (int64_t)a->batch * a->out;
    *Cc = tokens ? a->out : a->rows;
    *per_row_mod = tokens ? 0 : a->out;
}

/* Per item one GEMM: Y = X W^T for token rows, or Y^T = W X^T written
 * channel-major; X is read through its strides (transposed where its rows
 * are the unit-stride axis), so the activations are never permuted. */
void cpu_linear_strided(vc_backend *be, const vc_linear_args *a)
{
    if (a->rows <= 0 || a->out <= 0 || a->batch <= 0) return;
    bool x_rows, tokens;
    int64_t ldx, ldy, R, Cc, mod;
    vc_linear_view(a, &x_rows, &ldx, &tokens, &ldy);
    strided_y_matrix(a, tokens, &R, &Cc, &mod);
    bool post_bias;
    const float beta = gemm_prologue(be, a->y, R, Cc, Cc, a->bias, mod, a->residual, &post_bias, false);
    for (int32_t i = 0; i < a->batch; i++) {
        const float *xi = a->x + i * a->x_batch;
        float *yi = a->y + i * a->y_batch;
        if (tokens) sgemm(be, !x_rows, true, a->rows, a->out, a->in, 1.0f, xi, ldx, a->w, a->in, beta, yi, ldy);
        else sgemm(be, false, x_rows, a->out, a->rows, a->in, 1.0f, a->w, a->in, xi, ldx, beta, yi, ldy);
    }
    if (post_bias) bias_add(be, a->y, R, Cc, a->bias, mod);
    else if (a->residual && a->residual != a->y) cpu_add_inplace(be, a->y, a->residual, R * Cc);
}

/* ---------------------------------------------------------------- conv2d */
/* im2col of output positions [p0, p0 + np) of nimg consecutive images into
 * col[k][img * np + q] (row stride ldcol); items are (image, k) pairs. */
typedef struct im2col_job {
    const float *x;       /* first image [ci, h, w] */
    float *col;
    int64_t k0, nk, p0, np, ldcol, x_img;
    int32_t h, w, kh, kw, ow, stride, pt, pl;
} im2col_job;

static void im2col_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    im2col_job *j = arg;
    const int64_t khw = (int64_t)j->kh * j->kw;
    const int64_t s = j->stride;
    for (int64_t it = b; it < e; it++) {
        int64_t img = it / j->nk, r = it % j->nk;
        int64_t k = j->k0 + r;
        int64_t c = k / khw;
        int32_t u = (int32_t)((k / j->kw) % j->kh), v = (int32_t)(k % j->kw);
        const float *plane = j->x + img * j->x_img + c * j->h * j->w;
        float *dst = j->col + r * j->ldcol + img * j->np;
        /* output columns ox with a valid input column: ox*s - pl + v in [0, w) */
        int64_t oxa = j->pl - v > 0 ? (j->pl - v + s - 1) / s : 0;
        int64_t oxb = (j->w - 1 + j->pl - v) >= 0 ? (j->w - 1 + j->pl - v) / s + 1 : 0; /* exclusive */
        if (oxb > j->ow) oxb = j->ow;
        int64_t p = j->p0, p1 = j->p0 + j->np;
        while (p < p1) {
            int64_t oy = p / j->ow, ox = p % j->ow;
            int64_t seg = j->ow - ox < p1 - p ? j->ow - ox : p1 - p;
            int64_t iy = oy * s - j->pt + u;
            if (iy < 0 || iy >= j->h || oxb <= oxa) {
                memset(dst, 0, (size_t)seg * sizeof(float));
            } else {
                const float *row = plane + iy * j->w - j->pl + v; /* row[ox*s] = x[iy][ox*s - pl + v] */
                int64_t a = oxa - ox, bnd = oxb - ox;           /* valid q in [a, bnd) */
                if (a < 0) a = 0;
                if (a > seg) a = seg;
                if (bnd > seg) bnd = seg;
                if (bnd < a) bnd = a;
                for (int64_t q = 0; q < a; q++) dst[q] = 0.0f;
                if (s == 1) {
                    memcpy(dst + a, row + ox + a, (size_t)(bnd - a) * sizeof(float));
                } else {
                    const float *src = row + (ox + a) * s;
                    for (int64_t q = a; q < bnd; q++, src += s) dst[q] = *src;
                }
                for (int64_t q = bnd; q < seg; q++) dst[q] = 0.0f;
            }
            dst += seg;
            p += seg;
        }
    }
}

static void im2col(vc_backend *be, const vc_conv2d_args *a, const float *x, int64_t nimg, int64_t k0, int64_t nk,
                   int64_t p0, int64_t np, int64_t ow, float *col, int64_t ldcol)
{
    im2col_job j = {.x = x, .col = col, .k0 = k0, .nk = nk, .p0 = p0, .np = np, .ldcol = ldcol,
                    .x_img = (int64_t)a->ci * a->h * a->w, .h = a->h, .w = a->w, .kh = a->kh, .kw = a->kw,
                    .ow = (int32_t)ow, .stride = a->stride, .pt = a->pad_top, .pl = a->pad_left};
    int64_t grain = np > 0 ? 16384 / np : 1;
    cpu_parallel_for(be, nimg * nk, grain < 1 ? 1 : grain, im2col_task, &j);
}

void cpu_conv2d(vc_backend *be, const vc_conv2d_args *a)
{
    int64_t oh, ow;
    vc_conv2d_out(a, &oh, &ow);
    const int64_t P = oh * ow, K = (int64_t)a->ci * a->kh * a->kw;
    if (a->n <= 0 || a->co <= 0 || P <= 0) return;
    const bool direct = a->kh == 1 && a->kw == 1 && a->stride == 1 && a->pad_top == 0 && a->pad_left == 0 &&
                        a->pad_bottom == 0 && a->pad_right == 0;
    float *col = cpu_of(be)->scratch;
    const int64_t SC = CPU_SCRATCH_FLOATS;
    const int64_t xs = (int64_t)a->ci * a->h * a->w;

    /* One GEMM per image (or per column chunk of one image), never across
     * images: OpenBLAS's rounding depends on a column's position in the call,
     * so grouping images would make an image's result depend on the batch it
     * came with (batched guidance must equal two separate passes bit for bit). */
    bool post_bias;
    float beta = gemm_prologue(be, a->y, (int64_t)a->n * a->co, P, P, a->bias, a->co, a->residual, &post_bias, false);
    int64_t kc = K < SC ? K : SC;
    int64_t cols = kc > 0 ? SC / kc : P;
    if (cols > P) cols = P;
    for (int32_t img = 0; img < a->n; img++) {
        const float *xn = a->x + img * xs;
        float *yn = a->y + (int64_t)img * a->co * P;
        if (direct) {
            sgemm(be, false, false, a->co, P, a->ci, 1.0f, a->weight, a->ci, xn, P, beta, yn, P);
            continue;
        }
        if (K == 0) {
            if (beta == 0.0f) memset(yn, 0, (size_t)(a->co * P) * sizeof(float));
            continue;
        }
        for (int64_t p0 = 0; p0 < P; p0 += cols) {
            int64_t np = P - p0 < cols ? P - p0 : cols;
            for (int64_t k0 = 0; k0 < K; k0 += kc) {
                int64_t nk = K - k0 < kc ? K - k0 : kc;
                im2col(be, a, xn, 1, k0, nk, p0, np, ow, col, np);
                sgemm(be, false, false, a->co, np, nk, 1.0f, a->weight + k0, K, col, np, k0 == 0 ? beta : 1.0f,
                      yn + p0, P);
            }
        }
    }
    if (post_bias) bias_add(be, a->y, (int64_t)a->n * a->co, P, a->bias, a->co);
    else if (a->residual && a->residual != a->y) cpu_add_inplace(be, a->y, a->residual, (int64_t)a->n * a->co * P);
}

/* --------------------------------------------------------- conv_temporal */
/* Rows [o0, o0 + n) of w [co, ci, kt] as [n][kt][ci], taps major: then the
 * taps that reach existing frames are one contiguous run of each row. */
typedef struct repack_job {
    const float *w;
    float *dst;
    int64_t o0, ci, kt;
} repack_job;

static void repack_task(void *arg, int64_t b, int64_t e, int32_t tid)
{
    repack_job *j = arg;
    for (int64_t r = b; r < e; r++) {
        const float *src = j->w + (j->o0 + r) * j->ci * j->kt;
        float *d = j->dst + r * j->ci * j->kt;
        for (int64_t tau = 0; tau < j->kt; tau++)
            for (int64_t c = 0; c < j->ci; c++) d[tau * j->ci + c] = src[c * j->kt + tau];
    }
}

/* In the folded layout the kt frames a tap window covers are consecutive
 * [ci, S] blocks, i.e. one [kt*ci, S] matrix: each output frame is a single
 * GEMM over the taps that reach existing frames (the others are the zero
 * padding of §5.4), with no unfolding of the video. */
void cpu_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S, const float *w,
                       const float *bias, int32_t co, int32_t kt, const float *residual, float *y)
{
    if (B <= 0 || co <= 0 || T <= 0 || S <= 0) return;
    bool post_bias;
    /* every frame's GEMM accumulates onto the bias (or zero) */
    gemm_prologue(be, y, (int64_t)B * T * co, S, S, bias, co, residual, &post_bias, true);
    const int32_t pad = kt / 2;
    const int64_t K = (int64_t)kt * ci, x_frame = (int64_t)ci * S, y_frame = (int64_t)co * S;
    float *wt = cpu_of(be)->scratch;
    int64_t oc = K > 0 ? CPU_SCRATCH_FLOATS / K : co;
    if (oc > co) oc = co;
    for (int64_t o0 = 0; o0 < co && K > 0 && oc > 0; o0 += oc) {
        int64_t no = co - o0 < oc ? co - o0 : oc;
        repack_job j = {w, wt, o0, ci, kt};
        cpu_parallel_for(be, no, 16, repack_task, &j);
        for (int64_t f = 0; f < (int64_t)B * T; f++) {
            const int32_t t = (int32_t)(f % T);
            const int32_t tau0 = pad - t > 0 ? pad - t : 0, tau1 = T + pad - t < kt ? T + pad - t : kt;
            if (tau1 <= tau0) continue;
            const float *xf = x + (f + tau0 - pad) * x_frame;
            sgemm(be, false, false, no, S, (int64_t)(tau1 - tau0) * ci, 1.0f, wt + (int64_t)tau0 * ci, K, xf, S,
                  1.0f, y + f * y_frame + o0 * S, S);
        }
    }
    if (post_bias) bias_add(be, y, (int64_t)B * T * co, S, bias, co);
    else if (residual && residual != y) cpu_add_inplace(be, y, residual, (int64_t)B * T * co * S);
}
