/* clip_text.h - the CLIP text transformer of FrozenOpenCLIPEmbedder (spec §2.6), internal. */
#ifndef VC_TEXT_CLIP_TEXT_H
#define VC_TEXT_CLIP_TEXT_H

#include "../core/internal.h"

#define VC_TEXT_MAX_BATCH 4096           /* prompts per vc_encode_text call */

typedef struct vc_clip_text_block {
    const float *ln1_w, *ln1_b;          /* [D] */
    const float *in_w, *in_b;            /* [3D, D], [3D] */
    const float *out_w, *out_b;          /* [D, D], [D] */
    const float *ln2_w, *ln2_b;          /* [D] */
    const float *fc_w, *fc_b;            /* [M, D], [M] */
    const float *proj_w, *proj_b;        /* [D, M], [D] */
    /* half-resident matrices (weights_dtype f16/bf16): set where the float
     * pointer above is NULL; widened one block at a time by the forward */
    const uint16_t *in_h, *out_h, *fc_h, *proj_h;
    vc_dtype half_dtype;
} vc_clip_text_block;

/* Float32 weights the backend can read, sizes from the model configuration. */
typedef struct vc_clip_text_weights {
    int32_t width, heads, mlp_width, vocab_size, context_length;
    int32_t layers_used;                 /* blocks run: layers - 1 for "penultimate" */
    const float *token_embedding;        /* [vocab, D] */
    const float *positional_embedding;   /* [context_length, D] */
    const vc_clip_text_block *blocks;    /* [layers_used] */
    const float *ln_final_w, *ln_final_b;
} vc_clip_text_weights;

/* Context of n token rows [n, context_length] (ids < vocab_size): writes the
 * float32 host array out [n, context_length, width]. Working memory comes from
 * the context backend's arena. */
VC_HIDDEN vc_status vc_clip_text_forward(vc_context *ctx, const vc_clip_text_weights *w, const int64_t *tokens,
                                         int32_t n, float *out);

/* The model's text tower on tokens [n, 77]: *out = owned f32 [n, 77, width]. */
VC_HIDDEN vc_status vc_clip_text_encode(vc_context *ctx, const vc_model *model, const int64_t *tokens, int32_t n,
                                        vc_tensor *out);

#endif
