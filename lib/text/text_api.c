/* text_api.c - vc_tokenize, vc_encode_text (PLACEHOLDER until issue #4 lands). */
#include "../core/internal.h"

vc_status vc_tokenize(vc_context *ctx, const char *utf8_text, int64_t tokens[VC_TEXT_CONTEXT_LENGTH])
{
    (void)utf8_text; (void)tokens;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_tokenize: not implemented yet");
}

vc_status vc_encode_text(vc_context *ctx, const vc_model *model, const char *const *prompts, int32_t n_prompts,
                         vc_tensor *out)
{
    (void)model; (void)prompts; (void)n_prompts; (void)out;
    return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "vc_encode_text: not implemented yet");
}
