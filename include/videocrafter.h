/*
 * videocrafter.h - libvideocrafter public API (the only public header).
 *
 * VideoCrafter1 / VideoCrafter2 text-to-video and image-to-video latent
 * diffusion as an embeddable C library. Loads the released model.ckpt files
 * as they are and reproduces the numbers of the original research code.
 *
 * Basic usage:
 *
 *     vc_context_params cp;  vc_context_default_params(&cp);
 *     vc_context *ctx;       vc_context_create(&cp, &ctx);
 *     vc_model_params mp;    vc_model_default_params(&mp);
 *     vc_model *model;
 *     if (vc_model_load(ctx, "model.ckpt", &mp, &model) != VC_STATUS_OK)
 *         fprintf(stderr, "%s\n", vc_context_errmsg(ctx));
 *     vc_sampler_params sp;  vc_sampler_default_params(model, &sp);
 *     vc_sampler *s;         vc_sampler_create(ctx, model, &sp, &s);
 *     vc_sample_inputs in;   vc_sample_inputs_init(&in);
 *     const char *prompt = "a red panda in the snow";
 *     in.prompts = &prompt;  in.n_prompts = 1;
 *     vc_tensor z, video, frames;
 *     vc_sampler_run(s, &in, &z);                 // latent [B,4,T,h,w]
 *     vc_decode_latents(ctx, model, &z, &video);  // float video [B,3,T,H,W]
 *     vc_video_to_frames(ctx, &video, 0, &frames);// uint8 [T,H,W,3]
 *     vc_frames_write_png(ctx, &frames, "out/");
 *     vc_tensor_free(&frames); vc_tensor_free(&video); vc_tensor_free(&z);
 *     vc_sampler_free(s); vc_model_free(model); vc_context_free(ctx);
 *
 * Conventions (see docs/api.md):
 *  - Every function that can fail returns a vc_status. The text of the last
 *    failure is kept per context (vc_context_errmsg) and per thread
 *    (vc_last_error), so failures without a context are explained too.
 *  - Params structs start with `struct_size`; fill them with the matching
 *    vc_*_default_params() and change only what you need. The library reads
 *    only the fields that fit inside the struct_size the caller declares, so
 *    structs can grow at the end without breaking old binaries.
 *  - vc_*_free(NULL) is always a no-op.
 *  - Threads: one thread at a time per vc_context; a loaded vc_model is
 *    read-only and may be shared by any number of contexts and threads.
 *  - The library never prints to stdout, never aborts or exits.
 */
#ifndef VIDEOCRAFTER_H
#define VIDEOCRAFTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(VC_BUILD)
#    define VC_API __declspec(dllexport)
#  else
#    define VC_API __declspec(dllimport)
#  endif
#else
#  define VC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- version */

#define VC_VERSION_MAJOR 0
#define VC_VERSION_MINOR 1
#define VC_VERSION_PATCH 0
#define VC_VERSION_STRING "0.1.0"
/* MAJOR*10000 + MINOR*100 + PATCH */
#define VC_VERSION_NUMBER (VC_VERSION_MAJOR * 10000 + VC_VERSION_MINOR * 100 + VC_VERSION_PATCH)

/* Run-time version of the loaded library, e.g. "0.1.0". */
VC_API const char *vc_version(void);
/* Run-time VC_VERSION_NUMBER of the loaded library. */
VC_API int vc_version_number(void);

/* ------------------------------------------------------------ status codes */

/* Values are part of the ABI: never renumbered or reused; new ones at the end. */
typedef enum vc_status {
    VC_STATUS_OK = 0,
    VC_STATUS_INVALID_ARGUMENT = 1,    /* NULL pointer, value out of range */
    VC_STATUS_OUT_OF_MEMORY = 2,
    VC_STATUS_IO_ERROR = 3,            /* missing file, unreadable, cannot write */
    VC_STATUS_BAD_FORMAT = 4,          /* corrupt, truncated or hostile file */
    VC_STATUS_UNSUPPORTED = 5,         /* valid input using a feature not implemented */
    VC_STATUS_MODEL_MISMATCH = 6,      /* missing / unexpected / mis-shaped tensors */
    VC_STATUS_BAD_SIZE = 7,            /* frames/height/width the model cannot run */
    VC_STATUS_BAD_TEXT = 8,            /* prompt is not valid UTF-8 */
    VC_STATUS_CANCELLED = 9,           /* progress callback or vc_context_cancel */
    VC_STATUS_BACKEND_UNAVAILABLE = 10,/* e.g. "cuda" asked for but not present */
    VC_STATUS_BACKEND_ERROR = 11,      /* a device reported a failure */
    VC_STATUS_LIMIT_EXCEEDED = 12,     /* an input above a documented limit */
    VC_STATUS_INTERNAL = 13            /* a bug: please report */
} vc_status;

/* Static English name of a status; never NULL, never fails. */
VC_API const char *vc_status_str(vc_status status);

/* Text of the last failure on the calling thread (any context or none);
 * "" when none. Valid until the next failing call on this thread. */
VC_API const char *vc_last_error(void);

/* ----------------------------------------------------------------- tensors */

typedef enum vc_dtype {
    VC_DTYPE_F32 = 0,
    VC_DTYPE_F16 = 1,
    VC_DTYPE_BF16 = 2,
    VC_DTYPE_F64 = 3,
    VC_DTYPE_I64 = 4,
    VC_DTYPE_I32 = 5,
    VC_DTYPE_U8 = 6
} vc_dtype;

#define VC_TENSOR_MAX_DIMS 8

/* vc_tensor flags */
#define VC_TENSOR_OWNED 1u /* data was allocated by the library: release with vc_tensor_free */

/* A dense, C-ordered tensor. The library fills tensors it returns with
 * VC_TENSOR_OWNED set; tensors the caller passes in are borrowed for the
 * duration of the call. */
typedef struct vc_tensor {
    vc_dtype dtype;
    int32_t ndim;
    int64_t shape[VC_TENSOR_MAX_DIMS];
    void *data;
    uint32_t flags;
} vc_tensor;

/* Allocates a zero-filled owned tensor. */
VC_API vc_status vc_tensor_alloc(vc_tensor *out, vc_dtype dtype, int32_t ndim, const int64_t *shape);
/* Frees data if owned and resets the struct to an empty tensor; NULL is a no-op. */
VC_API void vc_tensor_free(vc_tensor *t);
/* Number of elements (product of the shape; 1 for ndim 0). */
VC_API int64_t vc_tensor_numel(const vc_tensor *t);
/* Bytes per element of a dtype (0 for an unknown dtype). */
VC_API size_t vc_dtype_size(vc_dtype dtype);
/* Reads a .npy file (v1/v2/v3; <f4 <f2 <f8 <i8 <i4 |u1, C order) into an owned tensor. */
VC_API vc_status vc_tensor_load_npy(const char *path, vc_tensor *out);
/* Writes a tensor as .npy v1.0 (written to a temporary name, then renamed). */
VC_API vc_status vc_tensor_save_npy(const char *path, const vc_tensor *t);

/* ----------------------------------------------------------------- context */

typedef struct vc_context vc_context;
typedef struct vc_model vc_model;
typedef struct vc_sampler vc_sampler;

typedef enum vc_log_level {
    VC_LOG_DEBUG = 0,
    VC_LOG_INFO = 1,
    VC_LOG_WARN = 2,
    VC_LOG_ERROR = 3,
    VC_LOG_NONE = 4
} vc_log_level;

/* Receives one formatted line (no trailing newline). */
typedef void (*vc_log_callback)(vc_log_level level, const char *message, void *user_data);

typedef struct vc_context_params {
    uint32_t struct_size;       /* sizeof(vc_context_params), set by the default */
    const char *backend;        /* "cpu" (default, NULL) or "cuda" (docs/cuda.md; read at creation:
                                   $VIDEOCRAFTER_CUDA_PRECISION, $VIDEOCRAFTER_CUDNN,
                                   $VIDEOCRAFTER_CUBLASLT, $VIDEOCRAFTER_CUDA_PROFILE) */
    int32_t device;             /* device index for GPU backends (0) */
    int32_t n_threads;          /* CPU threads for every kernel, GEMM included; 0 = all cores */
    vc_log_level log_level;     /* messages below this are dropped (VC_LOG_WARN) */
    vc_log_callback log_callback; /* NULL: lines go to stderr */
    void *log_user_data;
    const char *vocab_path;     /* BPE merges .txt.gz; NULL: $VIDEOCRAFTER_VOCAB, then built in */
} vc_context_params;

VC_API void vc_context_default_params(vc_context_params *params);
/* Creates a context. On failure *out is NULL and vc_last_error() explains. */
VC_API vc_status vc_context_create(const vc_context_params *params, vc_context **out);
VC_API void vc_context_free(vc_context *ctx);
/* Text of the last failure on this context ("" if none); valid until the next call on ctx. */
VC_API const char *vc_context_errmsg(const vc_context *ctx);
/* Name of the backend in use ("cpu", "cuda"). */
VC_API const char *vc_context_backend(const vc_context *ctx);
/* Threads the context uses. */
VC_API int32_t vc_context_n_threads(const vc_context *ctx);
/* Asks the run in progress on ctx to stop; safe from any thread or a signal
 * handler. The run returns VC_STATUS_CANCELLED. The flag is cleared when the
 * next run starts. */
VC_API void vc_context_cancel(vc_context *ctx);
/* Peak bytes of working memory (activations, scratch) the context has held. */
VC_API uint64_t vc_context_peak_bytes(const vc_context *ctx);

/* ------------------------------------------------------------------- model */

typedef struct vc_model_params {
    uint32_t struct_size;
    const char *config_path;    /* original inference_*.yaml; NULL: detect the variant */
    vc_dtype weights_dtype;     /* VC_DTYPE_F32 (default); F16 / BF16 keep weights half size */
} vc_model_params;

VC_API void vc_model_default_params(vc_model_params *params);
/* Loads model.ckpt (PyTorch zip) or .safetensors. Errors name every missing,
 * unexpected or mis-shaped tensor. The model is read-only afterwards. */
VC_API vc_status vc_model_load(vc_context *ctx, const char *path, const vc_model_params *params,
                               vc_model **out);
VC_API void vc_model_free(vc_model *model);

/* Components of a model (for vc_model_info.params) */
typedef enum vc_component {
    VC_COMPONENT_UNET = 0,
    VC_COMPONENT_VAE_ENCODER = 1,
    VC_COMPONENT_VAE_DECODER = 2,
    VC_COMPONENT_TEXT = 3,
    VC_COMPONENT_VISION = 4,
    VC_COMPONENT_RESAMPLER = 5,
    VC_COMPONENT_OTHER = 6,     /* schedule buffers, quant convs, unused leftovers */
    VC_COMPONENT_COUNT = 7
} vc_component;

typedef struct vc_model_info {
    uint32_t struct_size;
    const char *variant;        /* "t2v-512-v1", "t2v-1024-v1", "t2v-512-v2", "i2v-512-v1" */
    bool image_conditioned;     /* I2V */
    bool fps_conditioned;
    int32_t default_height, default_width, default_frames, default_fps; /* fps 0: no fps input */
    int32_t latent_channels;
    int32_t latent_multiple;    /* latent h and w must be multiples of this */
    int32_t context_length;     /* 77 (T2V) or 93 (I2V) */
    int32_t context_dim;        /* 1024 for the released models */
    int32_t model_channels;
    int32_t n_tensors;
    int64_t params[VC_COMPONENT_COUNT];      /* elements per component */
    vc_dtype stored_dtype;      /* dominant dtype in the file */
    uint64_t file_bytes;
    uint64_t weight_bytes;      /* resident weight memory */
} vc_model_info;

VC_API void vc_model_info_init(vc_model_info *info);
VC_API vc_status vc_model_get_info(const vc_model *model, vc_model_info *info);
/* Estimated peak working memory (bytes) of one sampling run at this size,
 * weights excluded. */
VC_API uint64_t vc_model_estimate_run_bytes(const vc_model *model, int32_t frames, int32_t height,
                                            int32_t width);

/* -------------------------------------------------------------------- text */

#define VC_TEXT_CONTEXT_LENGTH 77

/* Tokenizes one UTF-8 prompt exactly like open_clip 2.22: 77 ids, SOT ... EOT,
 * zero padded. Invalid UTF-8 gives VC_STATUS_BAD_TEXT. */
VC_API vc_status vc_tokenize(vc_context *ctx, const char *utf8_text, int64_t tokens[VC_TEXT_CONTEXT_LENGTH]);
/* Encodes prompts with the CLIP text tower: *out = owned f32 [n,77,D]. */
VC_API vc_status vc_encode_text(vc_context *ctx, const vc_model *model, const char *const *prompts,
                                int32_t n_prompts, vc_tensor *out);

/* ------------------------------------------------------------------- image */

/* Decodes a PNG or JPEG file into an owned u8 tensor [H,W,3] (RGB; alpha is
 * dropped, grey and palette expanded, like PIL's convert("RGB")). */
VC_API vc_status vc_image_load(vc_context *ctx, const char *path, vc_tensor *out);

/* The original's image preprocessing (spec §3.1-3.2): image u8 [H0,W0,3] ->
 * resized f32 [1,3,height,width] in [-1,1] and CLIP input f32 [1,3,224,224].
 * Either output may be NULL. */
VC_API vc_status vc_preprocess_image(vc_context *ctx, const vc_tensor *image, int32_t height,
                                     int32_t width, vc_tensor *resized, vc_tensor *clip_input);

#define VC_ENCODE_IMAGE_TOKENS 1u /* return the CLIP vision tokens [1,257,W] instead of the resampler output */

/* Encodes an image (u8 [H0,W0,3]) for I2V: resampler output f32 [1,16,D]
 * (or, with VC_ENCODE_IMAGE_TOKENS, the vision tower's tokens). height/width
 * are the video size the image is first resized to (0: model default). */
VC_API vc_status vc_encode_image(vc_context *ctx, const vc_model *model, const vc_tensor *image,
                                 int32_t height, int32_t width, uint32_t flags, vc_tensor *out);

/* -------------------------------------------------------------------- UNet */

/* One UNet call: eps = UNet(x [B,4,T,h,w] f32, t [B] i64, context [B,L,D] f32,
 * fps [B] i64 or NULL). *eps = owned f32 [B,4,T,h,w]. */
VC_API vc_status vc_unet_eps(vc_context *ctx, const vc_model *model, const vc_tensor *x,
                             const vc_tensor *t, const vc_tensor *context, const vc_tensor *fps,
                             vc_tensor *eps);

/* ----------------------------------------------------------------- sampler */

typedef struct vc_progress {
    uint32_t struct_size;
    const char *stage;          /* "sample" or "decode" */
    int32_t step;               /* 1-based step just finished */
    int32_t total;
    int32_t timestep;           /* DDPM timestep of the step (sample stage) */
    double elapsed_s;           /* since the run started */
    const vc_tensor *x0;        /* predicted clean latent, when preview_x0 is set; borrowed */
} vc_progress;

/* Return non-zero to cancel the run (it then returns VC_STATUS_CANCELLED). */
typedef int (*vc_progress_callback)(const vc_progress *progress, void *user_data);

typedef struct vc_sampler_params {
    uint32_t struct_size;
    int32_t steps;              /* requested DDIM steps (50); executed = ceil(1000 / (1000 / steps)) */
    float eta;                  /* 1.0 */
    float guidance;             /* classifier-free guidance scale (12.0); 1.0 skips the uncond pass */
    int32_t fps;                /* fps conditioning; 0: model default */
    uint64_t seed;              /* 123 */
    int32_t frames;             /* 16 */
    int32_t height, width;      /* pixels; 0: model default */
    int32_t batch;              /* videos per prompt (1) */
    vc_progress_callback progress;
    void *progress_user_data;
    bool preview_x0;            /* pass x0 to the progress callback */
    bool batch_guidance;        /* run cond and uncond as one batch (true) */
} vc_sampler_params;

/* Defaults of the original scripts for this model (model may be NULL). */
VC_API void vc_sampler_default_params(const vc_model *model, vc_sampler_params *params);
VC_API vc_status vc_sampler_create(vc_context *ctx, const vc_model *model,
                                   const vc_sampler_params *params, vc_sampler **out);
VC_API void vc_sampler_free(vc_sampler *sampler);
/* Number of executed steps and their DDPM timesteps, noisiest first. */
VC_API int32_t vc_sampler_n_steps(const vc_sampler *sampler);
VC_API vc_status vc_sampler_get_timesteps(const vc_sampler *sampler, int64_t *timesteps, int32_t capacity);

typedef struct vc_sample_inputs {
    uint32_t struct_size;
    const char *const *prompts; /* n_prompts prompts (or use context) */
    int32_t n_prompts;
    const char *negative_prompt;/* replaces "" for the unconditional pass; NULL = "" */
    const vc_tensor *context;   /* precomputed conditional context [B,L,D] (instead of prompts) */
    const vc_tensor *uncond_context; /* precomputed unconditional context [B,L,D] */
    const vc_tensor *image;     /* I2V: u8 [H0,W0,3] */
    const vc_tensor *init_noise;/* x_T [B,4,T,h,w]; NULL: drawn from seed */
    const vc_tensor *step_noise;/* [K,B,4,T,h,w]; NULL: drawn from seed */
    vc_tensor *steps_out;       /* if non-NULL: receives owned [K,B,4,T,h,w], latent after every step */
} vc_sample_inputs;

VC_API void vc_sample_inputs_init(vc_sample_inputs *inputs);
/* Runs DDIM; *latent = owned f32 [B,4,T,h,w]. */
VC_API vc_status vc_sampler_run(vc_sampler *sampler, const vc_sample_inputs *inputs, vc_tensor *latent);

/* ------------------------------------------------------------- VAE, frames */

/* Decodes sampler latents z [B,4,T,h,w] -> float video [B,3,T,8h,8w] (spec §4.4).
 * One frame index (B images) per decoder pass, frames in order; working memory is
 * one pass's activations, planned and reserved before it runs (about 1.2 GB per
 * 576x1024 image, 0.34 GB per 320x512). The environment variable
 * VIDEOCRAFTER_VAE_BATCH=K decodes K images per pass instead, when memory allows. */
VC_API vc_status vc_decode_latents(vc_context *ctx, const vc_model *model, const vc_tensor *z,
                                   vc_tensor *video);
/* Encodes images [N,3,H,W] in [-1,1] to the posterior mode scaled into
 * sampler latent space (0.18215 * mean) [N,4,H/8,W/8]. */
VC_API vc_status vc_encode_images(vc_context *ctx, const vc_model *model, const vc_tensor *images,
                                  vc_tensor *latent);
/* Float video [B,3,T,H,W] -> uint8 frames [T,H,W,3] of batch element b (spec §8). */
VC_API vc_status vc_video_to_frames(vc_context *ctx, const vc_tensor *video, int32_t b, vc_tensor *frames);
/* Writes frames [T,H,W,3] u8 as dir/0000.png, 0001.png, ... (creates dir). */
VC_API vc_status vc_frames_write_png(vc_context *ctx, const vc_tensor *frames, const char *dir);

#ifdef __cplusplus
}
#endif

#endif /* VIDEOCRAFTER_H */
