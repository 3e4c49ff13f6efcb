/* clip_vision.c - open_clip vision tower, all tokens of the last block (§3.3).
 * Parameters v = embedder.model.visual.*; sizes from model->cfg.vision. */
#include <math.h>
#include <string.h>

#include "../backend/backend.h"
#include "image.h"

#define VIS "embedder.model.visual."

/* Heads from the configuration: width / head_width (80 in ViT-H/14, never assumed 64). */
static vc_status vision_dims(vc_context *ctx, const vc_clip_vision_config *v, int32_t *heads, int32_t *d,
                             int32_t *grid)
{
    int32_t hw = v->head_width, h = v->heads;
    if (hw <= 0 && h > 0 && v->width % h == 0) hw = v->width / h;
    if (h <= 0 && hw > 0 && v->width % hw == 0) h = v->width / hw;
    if (v->width <= 0 || hw <= 0 || h <= 0 || h * hw != v->width || v->mlp_width <= 0 || v->layers <= 0)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "vision tower configuration is incomplete: width %d, heads %d, head_width %d, mlp %d, layers %d",
                       v->width, v->heads, v->head_width, v->mlp_width, v->layers);
    if (v->patch_size <= 0 || v->image_size != VC_CLIP_IMAGE_SIZE || v->image_size % v->patch_size != 0)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vision tower image size %d / patch %d is not supported (needs %d)",
                       v->image_size, v->patch_size, VC_CLIP_IMAGE_SIZE);
    int32_t g = v->image_size / v->patch_size;
    if (v->n_tokens != 0 && v->n_tokens != g * g + 1)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "vision tower has %d tokens, expected %d", v->n_tokens,
                       g * g + 1);
    *heads = h;
    *d = hw;
    *grid = g;
    return VC_STATUS_OK;
}

#define W(...) vc_weights_f32f(wts, __VA_ARGS__)

vc_status vc_clip_vision_tokens(vc_context *ctx, const vc_model *model, const float *clip_in, int32_t batch,
                                vc_tensor *tokens)
{
    const vc_clip_vision_config *cv = &model->cfg.vision;
    int32_t heads = 0, d = 0, g = 0;
    vc_status st = vision_dims(ctx, cv, &heads, &d, &g);
    if (st != VC_STATUS_OK) return st;
    vc_backend *be = ctx->backend;
    const vc_backend_ops *op = be->ops;
    const vc_weights *wts = model->weights;
    const int32_t D = cv->width, M = cv->mlp_width, S = VC_CLIP_IMAGE_SIZE;
    const int32_t P = g * g, N = P + 1;
    const int64_t rows = (int64_t)batch * N;

    const float *conv1 = W(VIS "conv1.weight"), *cls = W(VIS "class_embedding");
    const float *pos = W(VIS "positional_embedding"), *lnw = W(VIS "ln_pre.weight"), *lnb = W(VIS "ln_pre.bias");
    if (!conv1 || !cls || !pos || !lnw || !lnb)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "model has no vision tower (" VIS "* tensors missing)");

    int64_t shape[3] = {batch, N, D};
    st = vc_tensor_make(ctx, tokens, VC_DTYPE_F32, 3, shape);
    if (st != VC_STATUS_OK) return st;

    size_t mark = vc_arena_mark(be);
    float *img = vc_arena_floats(be, (int64_t)batch * 3 * S * S);
    float *patches = vc_arena_floats(be, (int64_t)batch * D * P);
    float *x = vc_arena_floats(be, rows * D);
    float *a = vc_arena_floats(be, rows * D);
    float *qkv = vc_arena_floats(be, rows * 3 * D);
    float *hid = vc_arena_floats(be, rows * M);
    if (!img || !patches || !x || !a || !qkv || !hid) {
        vc_arena_release(be, mark);
        vc_tensor_free(tokens);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for the vision tower (%lld tokens of width %d)",
                       (long long)rows, D);
    }
    op->upload(be, img, clip_in, sizeof(float) * (size_t)batch * 3 * S * S);

    /* patch embedding: conv stride = patch, no padding, no bias -> [B,D,g,g] */
    vc_conv2d_args ca = {.x = img, .n = batch, .ci = 3, .h = S, .w = S, .weight = conv1, .bias = NULL,
                         .co = D, .kh = cv->patch_size, .kw = cv->patch_size, .stride = cv->patch_size,
                         .y = patches};
    op->conv2d(be, &ca);
    /* [B,D,P] -> [B,P,D] into token rows 1..P; row 0 = class embedding */
    int64_t pshape[3] = {batch, D, P};
    int32_t perm[3] = {0, 2, 1};
    op->permute(be, patches, a, 3, pshape, perm);
    for (int32_t b = 0; b < batch; b++) {
        float *xb = x + (int64_t)b * N * D;
        op->upload(be, xb, cls, sizeof(float) * (size_t)D); /* weights are host arrays */
        op->copy(be, xb + D, a + (int64_t)b * P * D, sizeof(float) * (size_t)P * D);
        op->add(be, xb, pos, xb, (int64_t)N * D);
    }
    op->layer_norm(be, x, x, rows, D, lnw, lnb, 1e-5f);

    const float scale = (float)(1.0 / sqrt((double)d));
    for (int32_t l = 0; l < cv->layers && st == VC_STATUS_OK; l++) {
        if (vc_cancelled(ctx)) {
            st = vc_fail(ctx, VC_STATUS_CANCELLED, "vision tower cancelled");
            break;
        }
#define RB VIS "transformer.resblocks.%d."
        const float *ln1w = W(RB "ln_1.weight", l), *ln1b = W(RB "ln_1.bias", l);
        const float *inw = W(RB "attn.in_proj_weight", l), *inb = W(RB "attn.in_proj_bias", l);
        const float *ow = W(RB "attn.out_proj.weight", l), *ob = W(RB "attn.out_proj.bias", l);
        const float *ln2w = W(RB "ln_2.weight", l), *ln2b = W(RB "ln_2.bias", l);
        const float *fcw = W(RB "mlp.c_fc.weight", l), *fcb = W(RB "mlp.c_fc.bias", l);
        const float *pw = W(RB "mlp.c_proj.weight", l), *pb = W(RB "mlp.c_proj.bias", l);
#undef RB
        if (!ln1w || !ln1b || !inw || !inb || !ow || !ob || !ln2w || !ln2b || !fcw || !fcb || !pw || !pb) {
            st = vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "vision tower block %d has missing tensors", l);
            break;
        }
        op->layer_norm(be, x, a, rows, D, ln1w, ln1b, 1e-5f);
        op->linear(be, a, rows, D, inw, inb, 3 * D, NULL, qkv);
        vc_attn_args at = {.q = qkv, .k = qkv + D, .v = qkv + 2 * D, .o = a, .n_seq = batch, .heads = heads,
                           .lq = N, .lk = N, .d = d, .kv_group = 1, .q_tok = 3 * D, .k_tok = 3 * D,
                           .v_tok = 3 * D, .o_tok = D, .q_seq = (int64_t)N * 3 * D, .k_seq = (int64_t)N * 3 * D,
                           .v_seq = (int64_t)N * 3 * D, .o_seq = (int64_t)N * D, .scale = scale};
        op->attention(be, &at);
        op->linear(be, a, rows, D, ow, ob, D, x, x);
        op->layer_norm(be, x, a, rows, D, ln2w, ln2b, 1e-5f);
        op->linear(be, a, rows, D, fcw, fcb, M, NULL, hid);
        op->gelu(be, hid, hid, rows * M);
        op->linear(be, hid, rows, M, pw, pb, D, x, x);
    }
    if (st == VC_STATUS_OK) st = vc_backend_sync(be);
    if (st == VC_STATUS_OK) op->download(be, tokens->data, x, sizeof(float) * (size_t)rows * D);
    vc_arena_release(be, mark);
    if (st != VC_STATUS_OK) vc_tensor_free(tokens);
    return st;
}
