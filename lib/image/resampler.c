/* resampler.c - the perceiver-style Resampler (image_proj_model, §3.4):
 * 16 learned queries attend over the projected image tokens and themselves. */
#include <math.h>
#include <string.h>

#include "../backend/backend.h"
#include "image.h"

#define RS "image_proj_model."
#define W(...) vc_weights_f32f(wts, __VA_ARGS__)

vc_status vc_resampler_forward(vc_context *ctx, const vc_model *model, const vc_tensor *tokens, vc_tensor *out)
{
    const vc_resampler_config *rc = &model->cfg.resampler;
    /* contract §2.2.4: heads 12 x 64 as the original hard-codes */
    const int32_t heads = rc->heads > 0 ? rc->heads : 12, dh = rc->dim_head > 0 ? rc->dim_head : 64;
    const int32_t D = rc->dim, Q = rc->num_queries, E = rc->embedding_dim, O = rc->output_dim;
    const int32_t inner = heads * dh, F = D * rc->ff_mult;
    if (D <= 0 || Q <= 0 || E <= 0 || O <= 0 || F <= 0 || rc->depth <= 0)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "resampler configuration is incomplete: dim %d, queries %d, embedding %d, output %d, depth %d",
                       D, Q, E, O, rc->depth);
    if (!vc_tensor_is(tokens, VC_DTYPE_F32, 3) || tokens->shape[2] != E || tokens->shape[0] <= 0 ||
        tokens->shape[1] <= 0 || tokens->shape[1] > 65536 || tokens->shape[0] > 4096) {
        char buf[96];
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "resampler input must be f32 [B,N,%d], got %s", E,
                       vc_shape_str(tokens, buf, sizeof buf));
    }
    const int32_t B = (int32_t)tokens->shape[0], N = (int32_t)tokens->shape[1], NK = N + Q;
    vc_backend *be = ctx->backend;
    const vc_backend_ops *op = be->ops;
    const vc_weights *wts = model->weights;

    const float *lat = W(RS "latents"), *piw = W(RS "proj_in.weight"), *pib = W(RS "proj_in.bias");
    const float *pow_ = W(RS "proj_out.weight"), *pob = W(RS "proj_out.bias");
    const float *nw = W(RS "norm_out.weight"), *nb = W(RS "norm_out.bias");
    if (!lat || !piw || !pib || !pow_ || !pob || !nw || !nb)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "model has no resampler (" RS "* tensors missing)");

    int64_t shape[3] = {B, Q, O};
    vc_status st = vc_tensor_make(ctx, out, VC_DTYPE_F32, 3, shape);
    if (st != VC_STATUS_OK) return st;

    size_t mark = vc_arena_mark(be);
    float *tin = vc_arena_floats(be, (int64_t)B * N * E);
    float *x = vc_arena_floats(be, (int64_t)B * N * D);
    float *L = vc_arena_floats(be, (int64_t)B * Q * D);
    float *kvin = vc_arena_floats(be, (int64_t)NK * D);
    float *q = vc_arena_floats(be, (int64_t)Q * inner);
    float *k = vc_arena_floats(be, (int64_t)NK * inner);
    float *v = vc_arena_floats(be, (int64_t)NK * inner);
    float *o = vc_arena_floats(be, (int64_t)Q * (inner > F ? inner : F));
    float *t = vc_arena_floats(be, (int64_t)Q * (D > O ? D : O));
    if (!tin || !x || !L || !kvin || !q || !k || !v || !o || !t) {
        vc_arena_release(be, mark);
        vc_tensor_free(out);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for the resampler");
    }
    op->upload(be, tin, tokens->data, sizeof(float) * (size_t)B * N * E);
    op->linear(be, tin, (int64_t)B * N, E, piw, pib, D, NULL, x);
    for (int32_t b = 0; b < B; b++) /* weights are host arrays */
        op->upload(be, L + (int64_t)b * Q * D, lat, sizeof(float) * (size_t)Q * D);

    /* §3.4 Quirk: 1/sqrt(64) applied as 64^(-1/4) to q and to k separately */
    const float s = (float)(1.0 / sqrt(sqrt((double)dh)));
    for (int32_t l = 0; l < rc->depth && st == VC_STATUS_OK; l++) {
#define LA RS "layers.%d.0."
#define LF RS "layers.%d.1."
        const float *n1w = W(LA "norm1.weight", l), *n1b = W(LA "norm1.bias", l);
        const float *n2w = W(LA "norm2.weight", l), *n2b = W(LA "norm2.bias", l);
        const float *wq = W(LA "to_q.weight", l), *wkv = W(LA "to_kv.weight", l), *wo = W(LA "to_out.weight", l);
        const float *fnw = W(LF "0.weight", l), *fnb = W(LF "0.bias", l);
        const float *f1 = W(LF "1.weight", l), *f2 = W(LF "3.weight", l);
#undef LA
#undef LF
        if (!n1w || !n1b || !n2w || !n2b || !wq || !wkv || !wo || !fnw || !fnb || !f1 || !f2) {
            st = vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "resampler layer %d has missing tensors", l);
            break;
        }
        for (int32_t b = 0; b < B; b++) {
            float *Lb = L + (int64_t)b * Q * D;
            /* kv input = [LayerNorm(x; norm1) ; LayerNorm(L; norm2)], image tokens first */
            op->layer_norm(be, x + (int64_t)b * N * D, kvin, N, D, n1w, n1b, 1e-5f);
            op->layer_norm(be, Lb, kvin + (int64_t)N * D, Q, D, n2w, n2b, 1e-5f);
            op->linear(be, kvin + (int64_t)N * D, Q, D, wq, NULL, inner, NULL, q);
            op->linear(be, kvin, NK, D, wkv, NULL, inner, NULL, k);                       /* rows 0..inner-1 */
            op->linear(be, kvin, NK, D, wkv + (int64_t)inner * D, NULL, inner, NULL, v);  /* the v half */
            op->scale(be, q, s, q, (int64_t)Q * inner);
            op->scale(be, k, s, k, (int64_t)NK * inner);
            vc_attn_args at = {.q = q, .k = k, .v = v, .o = o, .n_seq = 1, .heads = heads, .lq = Q, .lk = NK,
                               .d = dh, .kv_group = 1, .q_tok = inner, .k_tok = inner, .v_tok = inner,
                               .o_tok = inner, .q_seq = (int64_t)Q * inner, .k_seq = (int64_t)NK * inner,
                               .v_seq = (int64_t)NK * inner, .o_seq = (int64_t)Q * inner, .scale = 1.0f};
            op->attention(be, &at);
            op->linear(be, o, Q, inner, wo, NULL, D, Lb, Lb); /* residual on the un-normalised latents */
            op->layer_norm(be, Lb, t, Q, D, fnw, fnb, 1e-5f);
            op->linear(be, t, Q, D, f1, NULL, F, NULL, o);
            op->gelu(be, o, o, (int64_t)Q * F);
            op->linear(be, o, Q, F, f2, NULL, D, Lb, Lb);
        }
    }
    if (st == VC_STATUS_OK) st = vc_backend_sync(be);
    if (st == VC_STATUS_OK) {
        for (int32_t b = 0; b < B; b++) {
            op->linear(be, L + (int64_t)b * Q * D, Q, D, pow_, pob, O, NULL, t);
            op->layer_norm(be, t, t, Q, O, nw, nb, 1e-5f);
            op->download(be, (float *)out->data + (int64_t)b * Q * O, t, sizeof(float) * (size_t)Q * O);
        }
        st = vc_backend_sync(be);
    }
    vc_arena_release(be, mark);
    if (st != VC_STATUS_OK) vc_tensor_free(out);
    return st;
}
