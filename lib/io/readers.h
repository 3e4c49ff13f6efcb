/* readers.h - internals of the checkpoint readers (zip, pickle, safetensors),
 * with memory-buffer entry points for tests and fuzzers. Not a shared header. */
#ifndef VC_IO_READERS_H
#define VC_IO_READERS_H

#include "weights.h"

/* ------------------------------------------------------------ string map */
/* Open-addressing map from (string, length) to an index; keys are borrowed. */
typedef struct vc_strmap {
    size_t cap, n;            /* cap is a power of two (or 0) */
    const char **keys;
    size_t *lens;
    size_t *vals;
} vc_strmap;

VC_HIDDEN bool vc_strmap_init(vc_strmap *m, size_t expected);
VC_HIDDEN void vc_strmap_free(vc_strmap *m);
/* Inserts key -> val: 1; already present: 0 (old value in *old); out of memory: -1. */
VC_HIDDEN int vc_strmap_put(vc_strmap *m, const char *key, size_t len, size_t val, size_t *old);
VC_HIDDEN bool vc_strmap_get(const vc_strmap *m, const char *key, size_t len, size_t *val);

/* ------------------------------------------------------------------- zip */
/* A read-only view of a ZIP archive held in memory (usually an mmap).
 * Stored entries are returned zero-copy; deflated entries are inflated with
 * zlib (CRC-checked) into buffers the archive owns, with at most
 * VC_ZIP_MAX_RATIO output bytes per input byte, VC_ZIP_MAX_INFLATE bytes
 * per entry and VC_ZIP_INFLATE_BASE + VC_ZIP_INFLATE_PER_BYTE x archive size
 * in total (entries may share compressed bytes), so a zip bomb is refused
 * before it allocates. Stored entries' CRCs are not checked (that would read
 * every byte of a multi-GB mmap); deflated ones are. */
#define VC_ZIP_MAX_RATIO 1100u            /* deflate cannot exceed ~1032:1 */
#define VC_ZIP_MAX_INFLATE ((uint64_t)16 << 30)
#define VC_ZIP_MAX_ENTRIES 10000000u
/* All inflated entries of one archive together: 64 MiB + 16 x the archive size. */
#define VC_ZIP_INFLATE_BASE ((uint64_t)64 << 20)
#define VC_ZIP_INFLATE_PER_BYTE 16u

typedef struct vc_zip vc_zip;
typedef struct vc_zip_entry {
    const char *name;         /* NUL-terminated copy */
    uint64_t local_offset;
    uint64_t comp_size, size;
    uint32_t crc;
    uint16_t method, flags;
} vc_zip_entry;

VC_HIDDEN vc_status vc_zip_open_mem(vc_context *ctx, const char *what, const uint8_t *data, size_t size,
                                    vc_zip **out);
VC_HIDDEN void vc_zip_free(vc_zip *z);
VC_HIDDEN size_t vc_zip_count(const vc_zip *z);
VC_HIDDEN const vc_zip_entry *vc_zip_at(const vc_zip *z, size_t i);
/* Index of the entry with that exact name, or -1. */
VC_HIDDEN ptrdiff_t vc_zip_find(const vc_zip *z, const char *name);
/* Bytes of entry i (valid while z lives). */
VC_HIDDEN vc_status vc_zip_data(vc_context *ctx, vc_zip *z, size_t i, const uint8_t **data, uint64_t *size);
/* Bytes the archive allocated for inflated entries. */
VC_HIDDEN uint64_t vc_zip_owned_bytes(const vc_zip *z);

/* ---------------------------------------------------------------- pickle */
/* A restricted unpickler (spec §9.3): builds an inert object graph, calls
 * nothing. Strings point into the input (which must outlive the result). */
typedef enum vc_pk_kind {
    VC_PK_NONE, VC_PK_BOOL, VC_PK_INT, VC_PK_BIGINT, VC_PK_FLOAT, VC_PK_STR, VC_PK_BYTES,
    VC_PK_TUPLE, VC_PK_LIST, VC_PK_DICT, VC_PK_SET, VC_PK_GLOBAL,
    VC_PK_OBJECT,             /* placeholder for any other call / class instance */
    VC_PK_STORAGE,            /* persistent id ('storage', type, key, location, numel) */
    VC_PK_TENSOR              /* _rebuild_tensor_v2 result */
} vc_pk_kind;

/* Storage element types (torch.*Storage). */
typedef enum vc_pk_stype {
    VC_ST_F32, VC_ST_F16, VC_ST_BF16, VC_ST_F64, VC_ST_I64, VC_ST_I32, VC_ST_I16, VC_ST_I8, VC_ST_U8,
    VC_ST_BOOL, VC_ST_COUNT
} vc_pk_stype;

typedef struct vc_pk vc_pk;
struct vc_pk {
    vc_pk_kind kind;
    int64_t i;                /* INT, BOOL; STORAGE: numel; TENSOR: storage_offset */
    double f;
    const char *s;            /* STR/BYTES: data; GLOBAL: "module.name"; STORAGE: key */
    size_t len;               /* STR/BYTES/GLOBAL/STORAGE key length */
    size_t n, cap;            /* TUPLE/LIST/SET: items; DICT: 2*n entries (k, v) in items */
    vc_pk **items;
    vc_pk *callable;          /* OBJECT: the global called / class instantiated */
    vc_pk *args;              /* OBJECT: argument tuple */
    vc_pk *state;             /* OBJECT: last BUILD state; TENSOR: storage object */
    vc_pk *extra;             /* OBJECT: dict receiving SETITEM(S) / list receiving APPEND(S) */
    int32_t stype;            /* STORAGE: vc_pk_stype */
    int32_t ndim;             /* TENSOR */
    int64_t *dims;            /* TENSOR: shape[0..ndim) then stride[0..ndim) */
    vc_pk *next_alloc;        /* every object of one parse, for freeing */
};

typedef struct vc_pickle vc_pickle;
/* Limits: memory budget (objects + containers) 96 bytes x input + 16 MiB;
 * containers, stack and memo count against it; every op consumes input, so
 * time is linear. Strings stay in the input (zero-copy). */
VC_HIDDEN vc_status vc_pickle_load(vc_context *ctx, const char *what, const uint8_t *data, size_t len,
                                   vc_pickle **out, const vc_pk **root);
VC_HIDDEN void vc_pickle_free(vc_pickle *p);
/* Bytes of the memory budget the parse used (tests). */
VC_HIDDEN uint64_t vc_pickle_used(const vc_pickle *p);
/* Value of a string key in a DICT object, or NULL. */
VC_HIDDEN const vc_pk *vc_pk_dict_get(const vc_pk *dict, const char *key);
VC_HIDDEN const char *vc_pk_kind_name(vc_pk_kind k);
VC_HIDDEN size_t vc_pk_stype_size(int32_t stype);
VC_HIDDEN const char *vc_pk_stype_name(int32_t stype);

/* --------------------------------------------------------------- weights */
/* Opens a checkpoint held in memory. The buffer must outlive *out (the
 * tensors may point into it). `what` names it in messages. */
VC_HIDDEN vc_status vc_weights_open_mem(vc_context *ctx, const char *what, const uint8_t *data, size_t size,
                                        vc_weights **out);

/* Internal to weights.c / safetensors.c / torch reader. */
VC_HIDDEN vc_status vc_safetensors_read(vc_context *ctx, const char *what, const uint8_t *data, size_t size,
                                        vc_weights *w);
VC_HIDDEN vc_status vc_torch_read(vc_context *ctx, const char *what, const uint8_t *data, size_t size,
                                  vc_weights *w);
/* Adds a tensor (name copied). `stored` points to ndim/shape contiguous
 * elements of `dtype` (borrowed when `owned` is NULL, else `owned` is taken
 * over and freed with the weights, also on failure). Builds the f32 view. */
VC_HIDDEN vc_status vc_weights_add(vc_context *ctx, vc_weights *w, const char *what, const char *name,
                                   size_t name_len, vc_dtype dtype, int32_t ndim, const int64_t *shape,
                                   const void *stored, void *owned);
/* Reserves bytes of owned memory against the weights' budget; NULL + status on failure. */
VC_HIDDEN void *vc_weights_alloc(vc_context *ctx, vc_weights *w, const char *what, const char *name,
                                 size_t bytes, vc_status *st);
VC_HIDDEN void vc_weights_set_wrapper(vc_weights *w, vc_ckpt_wrapper wrapper);
/* Keeps an object alive for the weights' lifetime (freed with it). */
VC_HIDDEN void vc_weights_keep_zip(vc_weights *w, vc_zip *z);

/* -------------------------------------------------------------- writers */
/* One tensor to write: float32 data, converted to the file dtype on write. */
typedef struct vc_ckpt_tensor {
    const char *name;
    int32_t ndim;
    const int64_t *shape;
    const float *data;        /* numel float32 values, C order */
} vc_ckpt_tensor;

/* torch.save-format zip (protocol 2 pickle like torch.save: OrderedDict +
 * _rebuild_tensor_v2 + Float/Half/BFloat16Storage persistent ids, one storage
 * record per tensor, stored entries whose data start at multiples of 64 via
 * an 'FB' extra field, plus version and byteorder records). dtype F32/F16/BF16
 * for all tensors. wrapper NONE (bare OrderedDict), STATE_DICT ({'state_dict':
 * sd, 'epoch', 'global_step'}), LIGHTNING (adds 'pytorch-lightning_version',
 * 'optimizer_states', 'lr_schedulers' and a 'hyper_parameters' placeholder
 * object, as a trainer writes), DEEPSPEED ({'module': {'_forward_module.'+k: v}}). */
typedef struct vc_ckpt_write_opts {
    const char *folder;       /* archive top folder; NULL: "archive" */
    bool force_zip64;         /* ZIP64 records even for small files (tests) */
    bool deflate;             /* deflate entries (tests; torch.save never does) */
} vc_ckpt_write_opts;

VC_HIDDEN vc_status vc_ckpt_write_zip(vc_context *ctx, const char *path, const vc_ckpt_tensor *tensors,
                                      size_t n, vc_dtype dtype, vc_ckpt_wrapper wrapper, const char *folder);
/* A zip archive of arbitrary entries (stored, or deflated with opts->deflate). */
typedef struct vc_zip_src {
    const char *name;
    const uint8_t *data;
    size_t len;
} vc_zip_src;
VC_HIDDEN vc_status vc_zip_build(vc_context *ctx, const vc_zip_src *entries, size_t n, const vc_ckpt_write_opts *opts,
                                 uint8_t **out, size_t *len);
/* The same into a malloc'd buffer (*out, *len; free with free()). */
VC_HIDDEN vc_status vc_ckpt_build_zip(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n, vc_dtype dtype,
                                      vc_ckpt_wrapper wrapper, const vc_ckpt_write_opts *opts, uint8_t **out,
                                      size_t *len);
/* Builds only the data.pkl bytes (for tests and fuzz seeds). */
VC_HIDDEN vc_status vc_ckpt_build_pickle(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n, vc_dtype dtype,
                                         vc_ckpt_wrapper wrapper, uint8_t **out, size_t *len);
/* safetensors file / buffer; dtype F32/F16/BF16; header padded to 8 bytes. */
VC_HIDDEN vc_status vc_ckpt_write_safetensors(vc_context *ctx, const char *path, const vc_ckpt_tensor *tensors,
                                              size_t n, vc_dtype dtype);
VC_HIDDEN vc_status vc_ckpt_build_safetensors(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n,
                                              vc_dtype dtype, uint8_t **out, size_t *len);

#endif
