/* text_api.c - vc_tokenize, vc_encode_text (spec §2). */
#include <stdlib.h>
#include <string.h>

#include "../core/model.h"
#include "clip_text.h"
#include "tokenizer.h"

vc_status vc_tokenize(vc_context *ctx, const char *utf8_text, int64_t tokens[VC_TEXT_CONTEXT_LENGTH])
{
    vc_clear_error(ctx);
    if (!ctx) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_tokenize: ctx is NULL");
    if (!utf8_text || !tokens) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_tokenize: text or tokens is NULL");
    vc_tokenizer *tok;
    vc_status st = vc_context_tokenizer(ctx, &tok);
    if (st != VC_STATUS_OK) return st;
    return vc_tokenizer_encode(ctx, tok, utf8_text, tokens);
}

vc_status vc_encode_text(vc_context *ctx, const vc_model *model, const char *const *prompts, int32_t n_prompts,
                         vc_tensor *out)
{
    vc_clear_error(ctx);
    if (out) memset(out, 0, sizeof *out);
    if (!ctx) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_encode_text: ctx is NULL");
    atomic_store(&ctx->cancel_requested, 0); /* a new run clears an old cancel */
    if (!model || !prompts || !out)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_text: model, prompts or out is NULL");
    if (n_prompts < 1 || n_prompts > VC_TEXT_MAX_BATCH)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_text: n_prompts %d is out of range 1..%d",
                       (int)n_prompts, VC_TEXT_MAX_BATCH);
    for (int32_t i = 0; i < n_prompts; i++)
        if (!prompts[i]) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_encode_text: prompt %d is NULL", (int)i);
    vc_tokenizer *tok;
    vc_status st = vc_context_tokenizer(ctx, &tok);
    if (st != VC_STATUS_OK) return st;
    int64_t *tokens = malloc((size_t)n_prompts * VC_TEXT_CONTEXT_LENGTH * sizeof *tokens);
    if (!tokens) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory for %d prompts' tokens", (int)n_prompts);
    for (int32_t i = 0; i < n_prompts && st == VC_STATUS_OK; i++) {
        st = vc_tokenizer_encode(ctx, tok, prompts[i], tokens + (size_t)i * VC_TEXT_CONTEXT_LENGTH);
        if (st != VC_STATUS_OK) {
            char msg[sizeof ctx->errmsg];
            memcpy(msg, ctx->errmsg, sizeof msg);
            vc_fail(ctx, st, "prompt %d: %s", (int)i, msg);
        }
    }
    if (st == VC_STATUS_OK) st = vc_clip_text_encode(ctx, model, tokens, n_prompts, out);
    free(tokens);
    return st;
}
