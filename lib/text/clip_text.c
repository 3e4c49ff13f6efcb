/* clip_text.c - FrozenOpenCLIPEmbedder, layer "penultimate" (spec §2.6): token +
 * positional embedding, the first layers-1 residual attention blocks with the
 * causal mask, ln_final; every one of the 77 positions is returned. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/backend.h"
#include "../core/model.h"
#include "clip_text.h"

#define TEXT_PREFIX "cond_stage_model.model."

/* A block matrix as float32: as stored, or widened into the arena (released
 * with the block's mark). NULL when the arena is full. */
static const float *block_matrix(vc_backend *be, const float *f32, const uint16_t *half, vc_dtype dtype, int64_t n)
{
    return f32 || !half ? f32 : vc_arena_widen(be, half, dtype, n);
}

vc_status vc_clip_text_forward(vc_context *ctx, const vc_clip_text_weights *w, const int64_t *tokens, int32_t n,
                               float *out)
{
    vc_backend *be = ctx->backend;
    const vc_backend_ops *ops = be->ops;
    const int32_t D = w->width, L = w->context_length, M = w->mlp_width, H = w->heads;
    if (n < 1 || D < 1 || L < 1 || M < 1 || H < 1 || D % H != 0 || w->layers_used < 0)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT,
                       "text tower: bad sizes (batch %d, width %d, heads %d, mlp %d, context %d)", (int)n, (int)D,
                       (int)H, (int)M, (int)L);
    const int64_t rows = (int64_t)n * L;
    for (int64_t i = 0; i < rows; i++)
        if (tokens[i] < 0 || tokens[i] >= w->vocab_size)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "text tower: token id %lld at %lld is outside 0..%d",
                           (long long)tokens[i], (long long)i, (int)w->vocab_size - 1);
    const int32_t d = D / H;
    const float scale = (float)(1.0 / sqrt((double)d));

    size_t mark = vc_arena_mark(be);
    float *x = vc_arena_floats(be, rows * D);        /* residual stream */
    float *a = vc_arena_floats(be, rows * D);        /* normalised input / attention output */
    float *big = vc_arena_floats(be, rows * (M > 3 * D ? M : 3 * D)); /* qkv, then the MLP hidden */
    float *host = malloc((size_t)rows * (size_t)D * sizeof *host);
    if (!x || !a || !big || !host) {
        free(host);
        vc_arena_release(be, mark);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for the text tower (%lld rows x %d)",
                       (long long)rows, (int)D);
    }
    /* x = token_embedding[tok] + positional_embedding */
    for (int64_t r = 0; r < rows; r++) {
        const float *te = w->token_embedding + tokens[r] * (int64_t)D;
        const float *pe = w->positional_embedding + (r % L) * (int64_t)D;
        float *xr = host + r * D;
        for (int32_t c = 0; c < D; c++) xr[c] = te[c] + pe[c];
    }
    ops->upload(be, x, host, (size_t)rows * (size_t)D * sizeof(float));

    vc_status st = VC_STATUS_OK;
    for (int32_t i = 0; i < w->layers_used; i++) {
        if (vc_cancelled(ctx)) {
            st = vc_fail(ctx, VC_STATUS_CANCELLED, "text encoding cancelled");
            break;
        }
        const vc_clip_text_block *b = &w->blocks[i];
        const size_t block_mark = vc_arena_mark(be);
        const float *in_w = block_matrix(be, b->in_w, b->in_h, b->half_dtype, 3 * (int64_t)D * D);
        const float *out_w = block_matrix(be, b->out_w, b->out_h, b->half_dtype, (int64_t)D * D);
        const float *fc_w = block_matrix(be, b->fc_w, b->fc_h, b->half_dtype, (int64_t)M * D);
        const float *proj_w = block_matrix(be, b->proj_w, b->proj_h, b->half_dtype, (int64_t)D * M);
        if (!in_w || !out_w || !fc_w || !proj_w) {
            vc_arena_release(be, block_mark);
            st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "text tower: out of working memory widening block %d", (int)i);
            break;
        }
        /* attention branch */
        ops->layer_norm(be, x, a, rows, D, b->ln1_w, b->ln1_b, 1e-5f);
        ops->linear(be, a, rows, D, in_w, b->in_b, 3 * D, NULL, big);
        vc_attn_args at;
        memset(&at, 0, sizeof at);
        at.q = big;
        at.k = big + D;
        at.v = big + 2 * D;
        at.o = a;
        at.n_seq = n;
        at.heads = H;
        at.lq = L;
        at.lk = L;
        at.d = d;
        at.kv_group = 1;
        at.q_tok = at.k_tok = at.v_tok = 3 * (int64_t)D;
        at.o_tok = D;
        at.q_seq = at.k_seq = at.v_seq = (int64_t)L * 3 * D;
        at.o_seq = (int64_t)L * D;
        at.scale = scale;
        at.causal = true; /* mask[i][j] = -inf for j > i */
        ops->attention(be, &at);
        ops->linear(be, a, rows, D, out_w, b->out_b, D, x, x);
        /* MLP branch */
        ops->layer_norm(be, x, a, rows, D, b->ln2_w, b->ln2_b, 1e-5f);
        ops->linear(be, a, rows, D, fc_w, b->fc_b, M, NULL, big);
        ops->gelu(be, big, big, rows * M);
        ops->linear(be, big, rows, M, proj_w, b->proj_b, D, x, x);
        vc_arena_release(be, block_mark);
    }
    if (st == VC_STATUS_OK) {
        ops->layer_norm(be, x, x, rows, D, w->ln_final_w, w->ln_final_b, 1e-5f);
        ops->download(be, out, x, (size_t)rows * (size_t)D * sizeof(float));
    }
    free(host);
    vc_arena_release(be, mark);
    if (ctx->backend->arena.peak > ctx->peak_bytes) ctx->peak_bytes = ctx->backend->arena.peak;
    return st;
}

/* Looks up one float32 tensor of the text tower and checks its shape. */
/* Looks up one tensor of the text tower and checks its shape; half_ok also
 * accepts a half-resident matrix (no float32 view). */
static const vc_weight *text_lookup(vc_context *ctx, const vc_model *model, vc_status *st, int64_t d0, int64_t d1,
                                    bool half_ok, const char *fmt, va_list ap)
{
    if (*st != VC_STATUS_OK) return NULL;
    char name[192];
    int k = snprintf(name, sizeof name, "%s", TEXT_PREFIX);
    vsnprintf(name + k, sizeof name - (size_t)k, fmt, ap);
    const vc_weight *wt = model->weights ? vc_weights_find(model->weights, name) : NULL;
    int32_t ndim = d1 > 0 ? 2 : 1;
    if (!wt) {
        *st = vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "text tower: tensor '%s' is missing", name);
        return NULL;
    }
    if (wt->ndim != ndim || wt->shape[0] != d0 || (ndim == 2 && wt->shape[1] != d1) ||
        (!wt->f32 && !(half_ok && wt->half))) {
        *st = vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "text tower: tensor '%s' has shape %s%lld%s%lld]; expected [%lld%s%lld]",
                      name, "[", (long long)wt->shape[0], ndim == 2 ? "," : "", ndim == 2 ? (long long)wt->shape[1] : 0LL,
                      (long long)d0, d1 > 0 ? "," : "", d1 > 0 ? (long long)d1 : 0LL);
        return NULL;
    }
    return wt;
}

static const float *text_weight(vc_context *ctx, const vc_model *model, vc_status *st, int64_t d0, int64_t d1,
                                const char *fmt, ...) VC_PRINTF(6, 7);
static const float *text_weight(vc_context *ctx, const vc_model *model, vc_status *st, int64_t d0, int64_t d1,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const vc_weight *wt = text_lookup(ctx, model, st, d0, d1, false, fmt, ap);
    va_end(ap);
    return wt ? wt->f32 : NULL;
}

/* A block matrix: its float32 view, or NULL with *half (and *dtype) set when
 * it is half-resident. */
static const float *text_matrix(vc_context *ctx, const vc_model *model, vc_status *st, int64_t d0, int64_t d1,
                                const uint16_t **half, vc_dtype *dtype, const char *fmt, ...) VC_PRINTF(8, 9);
static const float *text_matrix(vc_context *ctx, const vc_model *model, vc_status *st, int64_t d0, int64_t d1,
                                const uint16_t **half, vc_dtype *dtype, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const vc_weight *wt = text_lookup(ctx, model, st, d0, d1, true, fmt, ap);
    va_end(ap);
    if (!wt || wt->f32) return wt ? wt->f32 : NULL;
    *half = wt->half;
    *dtype = wt->half_dtype;
    return NULL;
}

vc_status vc_clip_text_encode(vc_context *ctx, const vc_model *model, const int64_t *tokens, int32_t n, vc_tensor *out)
{
    const vc_clip_text_config *tc = &model->cfg.text;
    vc_clip_text_weights w;
    memset(&w, 0, sizeof w);
    w.width = tc->width;
    w.heads = tc->heads;
    w.mlp_width = tc->mlp_width;
    w.vocab_size = tc->vocab_size;
    w.context_length = tc->context_length;
    w.layers_used = tc->layers_used;
    if (w.context_length != VC_TEXT_CONTEXT_LENGTH || w.width < 1 || w.heads < 1 || w.width % w.heads ||
        w.mlp_width < 1 || w.vocab_size < VC_TEXT_CONTEXT_LENGTH || w.layers_used < 0 || w.layers_used > tc->layers)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH,
                       "text tower configuration not usable: width %d, heads %d, mlp %d, vocab %d, context %d, "
                       "layers %d (%d used)",
                       (int)tc->width, (int)tc->heads, (int)tc->mlp_width, (int)tc->vocab_size,
                       (int)tc->context_length, (int)tc->layers, (int)tc->layers_used);
    if (w.vocab_size <= 49407)
        return vc_fail(ctx, VC_STATUS_MODEL_MISMATCH, "text tower: vocabulary of %d entries lacks the BPE ids (49408)",
                       (int)w.vocab_size);
    const int64_t D = w.width, M = w.mlp_width;
    vc_status st = VC_STATUS_OK;
    vc_clip_text_block *blocks = calloc(w.layers_used ? (size_t)w.layers_used : 1, sizeof *blocks);
    if (!blocks) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for the text tower");
    w.token_embedding = text_weight(ctx, model, &st, w.vocab_size, D, "token_embedding.weight");
    w.positional_embedding = text_weight(ctx, model, &st, w.context_length, D, "positional_embedding");
    for (int32_t i = 0; i < w.layers_used; i++) {
        vc_clip_text_block *b = &blocks[i];
        b->ln1_w = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.ln_1.weight", (int)i);
        b->ln1_b = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.ln_1.bias", (int)i);
        b->in_w = text_matrix(ctx, model, &st, 3 * D, D, &b->in_h, &b->half_dtype,
                              "transformer.resblocks.%d.attn.in_proj_weight", (int)i);
        b->in_b = text_weight(ctx, model, &st, 3 * D, 0, "transformer.resblocks.%d.attn.in_proj_bias", (int)i);
        b->out_w = text_matrix(ctx, model, &st, D, D, &b->out_h, &b->half_dtype,
                               "transformer.resblocks.%d.attn.out_proj.weight", (int)i);
        b->out_b = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.attn.out_proj.bias", (int)i);
        b->ln2_w = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.ln_2.weight", (int)i);
        b->ln2_b = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.ln_2.bias", (int)i);
        b->fc_w = text_matrix(ctx, model, &st, M, D, &b->fc_h, &b->half_dtype,
                              "transformer.resblocks.%d.mlp.c_fc.weight", (int)i);
        b->fc_b = text_weight(ctx, model, &st, M, 0, "transformer.resblocks.%d.mlp.c_fc.bias", (int)i);
        b->proj_w = text_matrix(ctx, model, &st, D, M, &b->proj_h, &b->half_dtype,
                                "transformer.resblocks.%d.mlp.c_proj.weight", (int)i);
        b->proj_b = text_weight(ctx, model, &st, D, 0, "transformer.resblocks.%d.mlp.c_proj.bias", (int)i);
    }
    w.ln_final_w = text_weight(ctx, model, &st, D, 0, "ln_final.weight");
    w.ln_final_b = text_weight(ctx, model, &st, D, 0, "ln_final.bias");
    w.blocks = blocks;
    if (st == VC_STATUS_OK) {
        int64_t shape[3] = {n, w.context_length, w.width};
        st = vc_tensor_make(ctx, out, VC_DTYPE_F32, 3, shape);
    }
    if (st == VC_STATUS_OK) {
        st = vc_clip_text_forward(ctx, &w, tokens, n, out->data);
        if (st != VC_STATUS_OK) vc_tensor_free(out);
    }
    free(blocks);
    return st;
}
