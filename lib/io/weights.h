/* weights.h - a loaded state dict: tensor name -> dense tensor. */
#ifndef VC_WEIGHTS_H
#define VC_WEIGHTS_H

#include "../core/internal.h"

typedef struct vc_weight {
    const char *name;            /* as stored, wrapper prefixes removed (spec §9.1) */
    vc_dtype stored_dtype;       /* dtype in the file */
    int32_t ndim;
    int64_t shape[VC_TENSOR_MAX_DIMS];
    int64_t numel;
    const void *stored;          /* contiguous elements in stored_dtype (mmap or owned copy) */
    const float *f32;            /* contiguous float32 (== stored when no widening was needed);
                                    NULL for non-float dtypes and for half-resident tensors */
    const uint16_t *half;        /* half-resident tensors (vc_weights_open_as): numel elements in
                                    half_dtype, mapped from the file when it already holds them;
                                    widened a layer at a time by the compute (vc_weight_widen) */
    vc_dtype half_dtype;         /* VC_DTYPE_F16 or VC_DTYPE_BF16 when half is set */
} vc_weight;

typedef enum vc_ckpt_wrapper {
    VC_WRAPPER_NONE = 0,         /* bare state dict */
    VC_WRAPPER_STATE_DICT = 1,   /* {'state_dict': ...} */
    VC_WRAPPER_LIGHTNING = 2,    /* state_dict plus trainer state */
    VC_WRAPPER_DEEPSPEED = 3,    /* {'module': {'_forward_module.' + k: v}} */
    VC_WRAPPER_SAFETENSORS = 4
} vc_ckpt_wrapper;

typedef struct vc_weights vc_weights;

/* Opens a PyTorch zip checkpoint or a .safetensors file (detected from the
 * bytes, not the name). Every tensor is checked against its storage bounds.
 * Float tensors get a float32 view (widened copy for f16/bf16/f64). */
VC_HIDDEN vc_status vc_weights_open(vc_context *ctx, const char *path, vc_weights **out);
/* The same with resident = F16 or BF16: the UNet's matrices and convolution
 * kernels (2-D and larger "model.diffusion_model." tensors) and the text
 * tower's block matrices ("cond_stage_model.model.transformer.resblocks.") are
 * kept in that dtype instead of float32 (issue #10: half the resident
 * weights); every other tensor keeps its float32 view. resident = F32 is
 * vc_weights_open. */
VC_HIDDEN vc_status vc_weights_open_as(vc_context *ctx, const char *path, vc_dtype resident, vc_weights **out);

VC_HIDDEN void vc_weights_free(vc_weights *w);

VC_HIDDEN size_t vc_weights_count(const vc_weights *w);
VC_HIDDEN const vc_weight *vc_weights_at(const vc_weights *w, size_t i);   /* file order */
VC_HIDDEN const vc_weight *vc_weights_find(const vc_weights *w, const char *name);
VC_HIDDEN vc_ckpt_wrapper vc_weights_wrapper(const vc_weights *w);
VC_HIDDEN uint64_t vc_weights_file_bytes(const vc_weights *w);
VC_HIDDEN uint64_t vc_weights_resident_bytes(const vc_weights *w);

/* Float32 data of a tensor known to exist (after the strict check), else NULL. */
VC_HIDDEN const float *vc_weights_f32(const vc_weights *w, const char *name);
/* printf-style name lookup, for the many "p.q.weight" patterns of the models. */
VC_HIDDEN const float *vc_weights_f32f(const vc_weights *w, const char *fmt, ...) VC_PRINTF(2, 3);

#endif
