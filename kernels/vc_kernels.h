/* vc_kernels.h - C entry points of the hand-written CUDA kernels in kernels/.
 * All pointers are device pointers; all launches go to the given stream and
 * return 0 or a cudaError_t value. */
#ifndef VC_KERNELS_H
#define VC_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CUstream_st *vck_stream;

int vck_fill(vck_stream s, float *y, float v, int64_t n);
/* cols [nimg][ci*kh*kw][oh*ow] of images x [nimg][ci][h][w] */
int vck_im2col(vck_stream s, const float *x, int64_t nimg, int ci, int h, int w, int kh, int kw, int stride, int pt,
               int pl, int oh, int ow, float *cols);
/* the same with IEEE half columns (fp16 mode) */
int vck_im2col_f16(vck_stream s, const float *x, int64_t nimg, int ci, int h, int w, int kh, int kw, int stride,
                   int pt, int pl, int oh, int ow, void *cols);
/* y[n] (IEEE half, round to nearest even) = x[n] */
int vck_f32_to_f16(vck_stream s, const float *x, void *y, int64_t n);
/* y[n] = x[n] halves (f16, or bf16 when bf16) widened exactly */
int vck_widen(vck_stream s, const void *x, bool bf16, float *y, int64_t n);

/* One DDIM step (spec §7.4), the vc_ddim_args of lib/backend/backend.h */
typedef struct vck_ddim {
    float sq1ma, sqrt_a, dir, prev, scale, sigma, guidance;
    bool use_scale;
    const float *x, *ec, *eu, *z;
    float *x_next, *x0;
    int64_t n;
} vck_ddim;
int vck_ddim_step(vck_stream s, const vck_ddim *a);
/* w [co, ci, kt] -> y [co, kt, ci]; elements of elem_bytes (4: float, 2: half) */
int vck_taps_major(vck_stream s, const void *w, void *y, int64_t co, int ci, int kt, int elem_bytes);
/* y[n, C, S] += bias[C] (bias may be NULL) and += residual[n, C, S] (may be NULL) */
int vck_bias_residual(vck_stream s, float *y, const float *bias, const float *residual, int64_t n, int C, int64_t S);
/* y[rows, C] (IEEE half) += bias[C] */
int vck_bias_half(vck_stream s, void *y, const float *bias, int64_t rows, int C);
/* y[n, C, S] = h (IEEE half) + bias[C] + residual[n, C, S] (bias, residual may be NULL; residual may be y) */
int vck_half_bias_residual(vck_stream s, float *y, const void *h, const float *bias, const float *residual, int64_t n,
                           int C, int64_t S);
/* GroupNorm (+ SiLU) of x [n, frames, C, S], statistics per (n, group) over
 * frames x C/G x S, after adding in_bias[(n / bias_group) * C + c] when
 * in_bias is not NULL; work holds 3 * n * G * vck_group_norm_parts(n,
 * frames, C, S, G) doubles. gamma, beta may be NULL (1 and 0). y may alias x.
 * The norms also write y as IEEE half into y16 when it is not NULL (fp16
 * mode: the next layer's operand); y may then be NULL. */
typedef struct vck_group_norm_args {
    const float *x;
    const void *x16; /* IEEE half input read instead of x, or NULL */
    float *y;
    int n, frames, C, G;
    int64_t S;
    const float *gamma, *beta, *in_bias;
    int bias_group;
    float eps;
    bool silu;
    double *work;
    void *y16;
} vck_group_norm_args;
int vck_group_norm_parts(int n, int frames, int C, int64_t S, int G);
int vck_group_norm(vck_stream s, const vck_group_norm_args *a);
/* x16 (IEEE half, or NULL) is read instead of x; y may be NULL where y16 is
 * not: the half output alone */
int vck_layer_norm(vck_stream s, const float *x, const void *x16, float *y, int64_t rows, int D, const float *gamma,
                   const float *beta, float eps, void *y16);

typedef struct vck_attn {
    const float *q, *k, *v;
    float *o;
    int n_seq, heads, lq, lk, d, kv_group;
    int64_t q_tok, k_tok, v_tok, o_tok, q_seq, k_seq, v_seq, o_seq;
    float scale;
    const float *rel_k, *rel_v;
    int rel_max;
    bool causal, accumulate;
    /* optional IEEE half operands with the same layout, read instead of the
     * float ones: k16 and v16 (both or neither; copies the backend makes, or
     * its fp16 mode's transient buffers), q16; and o16, written instead of o.
     * vck_attention_fp16 (both variants) and vck_temporal_attention take
     * them; vck_attention (float32) takes none. */
    const void *k16, *v16, *q16;
    void *o16;
} vck_attn;
int vck_attention(vck_stream s, const vck_attn *a);
/* Tensor-core version (kernels/flash_attention.cu): half products, float32
 * softmax and accumulation; head widths 16, 32, 64, 80, 128, no rel-pos tables. */
bool vck_attention_fp16_supported(const vck_attn *a);
/* regs: the variant with scores and output in registers, valid only where
 * vck_wmma_layout_probe (work: 32 ints of device memory) says the accumulator
 * layout it assumes holds */
int vck_attention_fp16(vck_stream s, const vck_attn *a, bool regs);
int vck_wmma_layout_probe(vck_stream s, int *work, bool *holds);
/* Short sequences (kernels/temporal_attention.cu): lq == lk <= 32, d <= 128,
 * rel-pos tables allowed; float32 in both modes. */
bool vck_temporal_attention_supported(const vck_attn *a);
int vck_temporal_attention(vck_stream s, const vck_attn *a);

int vck_silu(vck_stream s, const float *x, float *y, int64_t n);
int vck_gelu(vck_stream s, const float *x, float *y, int64_t n);
int vck_geglu(vck_stream s, const float *x, float *y, int64_t rows, int inner);
/* y[rows, inner] = (h[:, :inner] + bias[:inner]) * gelu(h[:, inner:] + bias[inner:]), h and y IEEE half,
 * bias float32 [2*inner] or NULL (spec §5.5) */
int vck_geglu_bias_half(vck_stream s, const void *h, const float *bias, void *y, int64_t rows, int inner);
int vck_add(vck_stream s, const float *a, const float *b, float *y, int64_t n);
int vck_axpby(vck_stream s, float a, const float *x, float b, float *y, int64_t n);
int vck_scale(vck_stream s, const float *x, float f, float *y, int64_t n);
int vck_add_channel(vck_stream s, float *x, const float *v, int64_t n, int C, int64_t S, int64_t v_stride);
int vck_permute(vck_stream s, const float *x, float *y, int ndim, const int64_t *shape, const int *perm);
int vck_upsample2x(vck_stream s, const float *x, float *y, int64_t nc, int h, int w);
int vck_concat_channels(vck_stream s, const float *a, int ca, const float *b, int cb, float *y, int64_t n,
                        int64_t S);

#ifdef __cplusplus
}
#endif
#endif
