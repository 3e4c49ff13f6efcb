/* weights.c - a loaded state dict (weights.h) and the PyTorch zip checkpoint
 * reader (spec §9.1-§9.3). Zero-copy where the stored bytes are already
 * contiguous float32; owned copies otherwise, within a budget tied to the file
 * size so a hostile file cannot make us allocate absurd amounts. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readers.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checkpoint readers assume a little-endian host"
#endif

/* Owned copies (dense / widened tensors, inflated entries) may total at most
 * this much beyond 16x the file size: covers f16/bf16 widening of heavily
 * overlapping views, refuses stride-0 "expansions" of a tiny storage. */
#define W_BUDGET_BASE ((uint64_t)64 << 20)
#define W_BUDGET_PER_FILE_BYTE 16u

struct vc_weights {
    vc_weight *t;
    size_t n, cap;
    vc_strmap map;
    void **owned;
    size_t n_owned, cap_owned;
    uint64_t file_bytes, owned_bytes, budget;
    vc_ckpt_wrapper wrapper;
    bool replace_dups;        /* torch dicts: a repeated key replaces the value in place */
    void *map_addr;
    size_t map_len;
    vc_zip *zip;
    vc_dtype half;            /* F16/BF16: UNet matrices kept half (vc_weights_open_as); else F32 */
};

/* ------------------------------------------------------------ container */
static vc_weights *weights_new(uint64_t file_bytes)
{
    vc_weights *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    if (!vc_strmap_init(&w->map, 64)) { free(w); return NULL; }
    w->file_bytes = file_bytes;
    w->budget = W_BUDGET_BASE + file_bytes * W_BUDGET_PER_FILE_BYTE;
    return w;
}

void vc_weights_free(vc_weights *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free((char *)w->t[i].name);
    free(w->t);
    vc_strmap_free(&w->map);
    for (size_t i = 0; i < w->n_owned; i++) free(w->owned[i]);
    free(w->owned);
    vc_zip_free(w->zip);
    if (w->map_addr) munmap(w->map_addr, w->map_len);
    free(w);
}

void vc_weights_set_wrapper(vc_weights *w, vc_ckpt_wrapper wrapper) { w->wrapper = wrapper; }
void vc_weights_keep_zip(vc_weights *w, vc_zip *z) { w->zip = z; }

static bool keep_owned(vc_weights *w, void *p)
{
    if (w->n_owned == w->cap_owned) {
        size_t nc = w->cap_owned ? w->cap_owned * 2 : 64;
        void **o = realloc(w->owned, nc * sizeof *o);
        if (!o) return false;
        w->owned = o;
        w->cap_owned = nc;
    }
    w->owned[w->n_owned++] = p;
    return true;
}

void *vc_weights_alloc(vc_context *ctx, vc_weights *w, const char *what, const char *name, size_t bytes,
                       vc_status *st)
{
    if (bytes > w->budget - w->owned_bytes) {
        *st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED,
                      "%s: tensor '%s' needs a %zu-byte copy, beyond the %llu-byte limit for a %llu-byte file "
                      "(hostile shape or strides?)",
                      what, name, bytes, (unsigned long long)w->budget, (unsigned long long)w->file_bytes);
        return NULL;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (!p || !keep_owned(w, p)) {
        free(p);
        *st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory for tensor '%s' (%zu bytes)", what, name, bytes);
        return NULL;
    }
    w->owned_bytes += bytes;
    *st = VC_STATUS_OK;
    return p;
}

/* ------------------------------------------------------------ half-resident tensors */

/* Which tensors stay half (vc_weights_open_as): the UNet's weight matrices and
 * kernels and the text tower's block matrices, whose code widens them a layer
 * at a time; vectors (norms, biases), the embeddings and the other components
 * keep float32 views. */
static bool keeps_half(const vc_weights *w, const char *name, vc_dtype dtype, int32_t ndim, int64_t numel)
{
    static const char unet[] = "model.diffusion_model.", text[] = "cond_stage_model.model.transformer.resblocks.";
    if (w->half != VC_DTYPE_F16 && w->half != VC_DTYPE_BF16) return false;
    if (dtype != VC_DTYPE_F32 && dtype != VC_DTYPE_F16 && dtype != VC_DTYPE_BF16) return false;
    if (ndim < 2 || numel < 1024) return false;
    return strncmp(name, unet, sizeof unet - 1) == 0 || strncmp(name, text, sizeof text - 1) == 0;
}

/* Gives the mapped file pages of a tensor just narrowed back to the page
 * cache, so they stop counting as this process's resident memory. */
static void drop_mapped(const vc_weights *w, const void *p, size_t bytes)
{
    const uintptr_t lo = (uintptr_t)w->map_addr, a = (uintptr_t)p;
    if (!w->map_addr || a < lo || a + bytes > lo + w->map_len) return;
    const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t s = (a + pg - 1) & ~(pg - 1), e = (a + bytes) & ~(pg - 1);
    if (e > s) madvise((void *)s, e - s, MADV_DONTNEED);
}

/* element i of a stored array of dtype dt (possibly unaligned in the file) as float */
static float stored_at(const uint8_t *src, vc_dtype dt, int64_t i)
{
    if (dt == VC_DTYPE_F32) {
        float f;
        memcpy(&f, src + 4 * i, 4);
        return f;
    }
    if (dt == VC_DTYPE_F64) {
        double d;
        memcpy(&d, src + 8 * i, 8);
        return (float)d;
    }
    uint16_t v;
    memcpy(&v, src + 2 * i, 2);
    return dt == VC_DTYPE_F16 ? vc_f16_to_f32(v) : vc_bf16_to_f32(v);
}

static vc_status make_half(vc_context *ctx, vc_weights *w, const char *what, vc_weight *t)
{
    t->half_dtype = w->half;
    t->f32 = NULL;
    if (t->stored_dtype == w->half && (uintptr_t)t->stored % 2 == 0) {
        t->half = t->stored; /* already in the file as wanted: used in place */
        return VC_STATUS_OK;
    }
    size_t bytes;
    if (!vc_mul_size((size_t)t->numel, 2, &bytes))
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%s' is too large", what, t->name);
    vc_status st;
    uint16_t *h = vc_weights_alloc(ctx, w, what, t->name, bytes, &st);
    if (!h) return st;
    const uint8_t *src = t->stored;
    if (t->stored_dtype == VC_DTYPE_F32 && (uintptr_t)src % 4 == 0) {
        vc_f32_to_half((const float *)src, w->half, h, t->numel);
    } else {
        for (int64_t i = 0; i < t->numel; i++) {
            const float f = stored_at(src, t->stored_dtype, i);
            h[i] = w->half == VC_DTYPE_F16 ? vc_f32_to_f16(f) : vc_f32_to_bf16(f);
        }
    }
    drop_mapped(w, t->stored, (size_t)t->numel * vc_dtype_size(t->stored_dtype));
    t->half = h;
    return VC_STATUS_OK;
}

vc_status vc_weights_add(vc_context *ctx, vc_weights *w, const char *what, const char *name, size_t name_len,
                         vc_dtype dtype, int32_t ndim, const int64_t *shape, const void *stored, void *owned)
{
    /* `owned` was allocated by vc_weights_alloc, so it is already kept. */
    (void)owned;
    vc_status st;
    if (memchr(name, 0, name_len))
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: a tensor name contains a NUL byte", what);
    if (ndim < 0 || ndim > VC_TENSOR_MAX_DIMS)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%.*s' has %d dimensions (limit %d)", what,
                       (int)(name_len > 200 ? 200 : name_len), name, ndim, VC_TENSOR_MAX_DIMS);
    char *nm = malloc(name_len + 1);
    if (!nm) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    memcpy(nm, name, name_len);
    nm[name_len] = 0;
    vc_weight t;
    memset(&t, 0, sizeof t);
    t.name = nm;
    t.stored_dtype = dtype;
    t.ndim = ndim;
    int64_t numel = 1;
    for (int k = 0; k < ndim; k++) {
        t.shape[k] = shape[k];
        if (shape[k] < 0 || __builtin_mul_overflow(numel, shape[k], &numel)) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s' has an invalid shape", what, nm);
            free(nm);
            return st;
        }
    }
    t.numel = numel;
    t.stored = stored;
    size_t bytes;
    if (keeps_half(w, nm, dtype, ndim, numel)) {
        st = make_half(ctx, w, what, &t);
        if (st != VC_STATUS_OK) { free(nm); return st; }
    } else if (dtype == VC_DTYPE_F32) {
        if ((uintptr_t)stored % 4) {   /* unaligned in the file: copy so f32 is a valid float* */
            if (!vc_mul_size((size_t)numel, 4, &bytes)) goto too_big;
            void *c = vc_weights_alloc(ctx, w, what, nm, bytes, &st);
            if (!c) { free(nm); return st; }
            memcpy(c, stored, bytes);
            t.stored = c;
        }
        t.f32 = t.stored;
    } else if (dtype == VC_DTYPE_F16 || dtype == VC_DTYPE_BF16 || dtype == VC_DTYPE_F64) {
        if (!vc_mul_size((size_t)numel, 4, &bytes)) goto too_big;
        float *f = vc_weights_alloc(ctx, w, what, nm, bytes, &st);
        if (!f) { free(nm); return st; }
        for (int64_t i = 0; i < numel; i++) f[i] = stored_at(stored, dtype, i);
        t.f32 = f;
    }
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 256;
        vc_weight *a = realloc(w->t, nc * sizeof *a);
        if (!a) { free(nm); return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what); }
        w->t = a;
        w->cap = nc;
    }
    size_t old;
    int r = vc_strmap_put(&w->map, nm, name_len, w->n, &old);
    if (r < 0) { free(nm); return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what); }
    if (r == 0) {
        if (!w->replace_dups) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s' appears twice", what, nm);
            free(nm);
            return st;
        }
        free(nm);
        t.name = w->t[old].name;   /* same key, keeps its first position */
        w->t[old] = t;
        return VC_STATUS_OK;
    }
    w->t[w->n++] = t;
    return VC_STATUS_OK;
too_big:
    st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%s' is too large", what, nm);
    free(nm);
    return st;
}

size_t vc_weights_count(const vc_weights *w) { return w ? w->n : 0; }
const vc_weight *vc_weights_at(const vc_weights *w, size_t i) { return w && i < w->n ? &w->t[i] : NULL; }
vc_ckpt_wrapper vc_weights_wrapper(const vc_weights *w) { return w ? w->wrapper : VC_WRAPPER_NONE; }
uint64_t vc_weights_file_bytes(const vc_weights *w) { return w ? w->file_bytes : 0; }
uint64_t vc_weights_resident_bytes(const vc_weights *w) { return w ? w->owned_bytes + (w->zip ? vc_zip_owned_bytes(w->zip) : 0) : 0; }

const vc_weight *vc_weights_find(const vc_weights *w, const char *name)
{
    size_t i;
    if (!w || !name || !vc_strmap_get(&w->map, name, strlen(name), &i)) return NULL;
    return &w->t[i];
}

const float *vc_weights_f32(const vc_weights *w, const char *name)
{
    const vc_weight *t = vc_weights_find(w, name);
    return t ? t->f32 : NULL;
}

const float *vc_weights_f32f(const vc_weights *w, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof buf) return NULL;
    return vc_weights_f32(w, buf);
}

/* -------------------------------------------------------- torch reader */
static vc_dtype stype_dtype(int32_t stype, bool *widen)
{
    *widen = false;
    switch (stype) {
    case VC_ST_F32: return VC_DTYPE_F32;
    case VC_ST_F16: return VC_DTYPE_F16;
    case VC_ST_BF16: return VC_DTYPE_BF16;
    case VC_ST_F64: return VC_DTYPE_F64;
    case VC_ST_I64: return VC_DTYPE_I64;
    case VC_ST_I32: return VC_DTYPE_I32;
    case VC_ST_U8: case VC_ST_BOOL: return VC_DTYPE_U8;
    default: *widen = true; return VC_DTYPE_I32;   /* int16 / int8: widened (no such vc_dtype) */
    }
}

typedef struct torch_ctx {
    vc_context *ctx;
    const char *what;
    vc_weights *w;
    vc_zip *z;
    char *prefix;             /* "<folder>/" of data.pkl */
} torch_ctx;

static vc_status storage_bytes(torch_ctx *tc, const vc_pk *stor, const char *name, const uint8_t **data)
{
    size_t plen = strlen(tc->prefix);
    if (stor->len > 4096)
        return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s': storage key is too long", tc->what, name);
    char *ename = malloc(plen + 5 + stor->len + 1);
    if (!ename) return vc_fail(tc->ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", tc->what);
    memcpy(ename, tc->prefix, plen);
    memcpy(ename + plen, "data/", 5);
    memcpy(ename + plen + 5, stor->s, stor->len);
    ename[plen + 5 + stor->len] = 0;
    ptrdiff_t idx = memchr(stor->s, 0, stor->len) ? -1 : vc_zip_find(tc->z, ename);
    vc_status st;
    if (idx < 0) {
        st = vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s': storage record '%s' is missing from the archive",
                     tc->what, name, ename);
        free(ename);
        return st;
    }
    uint64_t size;
    st = vc_zip_data(tc->ctx, tc->z, (size_t)idx, data, &size);
    if (st != VC_STATUS_OK) { free(ename); return st; }
    size_t isz = vc_pk_stype_size(stor->stype);
    uint64_t need;
    if (__builtin_mul_overflow((uint64_t)stor->i, (uint64_t)isz, &need) || need > size) {
        st = vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT,
                     "%s: tensor '%s': storage '%s' declares %lld elements of %zu bytes but the record holds %llu bytes",
                     tc->what, name, ename, (long long)stor->i, isz, (unsigned long long)size);
        free(ename);
        return st;
    }
    free(ename);
    return VC_STATUS_OK;
}

static vc_status add_tensor(torch_ctx *tc, const char *name, size_t name_len, const vc_pk *t)
{
    char shown[256];
    snprintf(shown, sizeof shown, "%.*s", (int)(name_len > 200 ? 200 : name_len), name);
    if (t->kind != VC_PK_TENSOR)
        return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT, "%s: state dict entry '%s' is a %s, not a tensor", tc->what, shown,
                       vc_pk_kind_name(t->kind));
    const vc_pk *stor = t->state;
    size_t isz = vc_pk_stype_size(stor->stype);
    const uint8_t *base;
    vc_status st = storage_bytes(tc, stor, shown, &base);
    if (st != VC_STATUS_OK) return st;
    int nd = t->ndim;
    static const int64_t none[1] = { 0 };   /* 0-dim tensors have no dims array */
    const int64_t *shape = t->dims ? t->dims : none, *stride = t->dims ? t->dims + nd : none;
    /* bounds: every element offset + Σ i_k·stride_k < storage numel (§9.3) */
    int64_t numel = 1, last = t->i;
    bool empty = false;
    for (int k = 0; k < nd; k++) {
        if (shape[k] == 0) empty = true;
        if (__builtin_mul_overflow(numel, shape[k], &numel))
            return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s': element count overflows", tc->what, shown);
    }
    if (!empty) {
        for (int k = 0; k < nd; k++) {
            int64_t span;
            if (__builtin_mul_overflow(shape[k] - 1, stride[k], &span) || __builtin_add_overflow(last, span, &last))
                return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s': strides overflow", tc->what, shown);
        }
        if (last >= stor->i)
            return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT,
                           "%s: tensor '%s': storage offset %lld with its shape and strides reaches element %lld "
                           "of a %lld-element storage",
                           tc->what, shown, (long long)t->i, (long long)last, (long long)stor->i);
    }
    bool contiguous = true;
    int64_t expect = 1;
    for (int k = nd - 1; k >= 0; k--) {
        if (shape[k] != 1 && stride[k] != expect) contiguous = false;
        expect *= shape[k] ? shape[k] : 1;
    }
    bool widen;
    vc_dtype dt = stype_dtype(stor->stype, &widen);
    const uint8_t *src = base + (size_t)t->i * isz;
    if (empty) src = base;
    if (contiguous && !widen && (uintptr_t)src % isz == 0)
        return vc_weights_add(tc->ctx, tc->w, tc->what, name, name_len, dt, nd, shape, src, NULL);
    /* A dense copy: a view that does not overlap itself holds at most as many
     * elements as its storage; more means stride-0 or overlapping tricks. */
    if (numel > stor->i && !empty)
        return vc_fail(tc->ctx, VC_STATUS_BAD_FORMAT,
                       "%s: tensor '%s': %lld elements from a %lld-element storage (self-overlapping strides)",
                       tc->what, shown, (long long)numel, (long long)stor->i);
    size_t osz = widen ? 4 : isz, bytes;
    if (!vc_mul_size((size_t)numel, osz, &bytes))
        return vc_fail(tc->ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%s' is too large", tc->what, shown);
    uint8_t *dst = vc_weights_alloc(tc->ctx, tc->w, tc->what, shown, bytes, &st);
    if (!dst) return st;
    int64_t idx[VC_TENSOR_MAX_DIMS] = { 0 };
    int64_t off = t->i;
    for (int64_t e = 0; e < numel; e++) {
        const uint8_t *s = base + (size_t)off * isz;
        if (!widen) memcpy(dst + (size_t)e * isz, s, isz);
        else {
            int32_t v = stor->stype == VC_ST_I16 ? (int32_t)(int16_t)(s[0] | s[1] << 8) : (int32_t)(int8_t)s[0];
            memcpy(dst + (size_t)e * 4, &v, 4);
        }
        for (int k = nd - 1; k >= 0; k--) {   /* odometer over the C-order index */
            if (++idx[k] < shape[k]) { off += stride[k]; break; }
            off -= (shape[k] - 1) * stride[k];
            idx[k] = 0;
        }
    }
    return vc_weights_add(tc->ctx, tc->w, tc->what, name, name_len, dt, nd, shape, dst, dst);
}

static bool has_key(const vc_pk *d, const char *k) { return vc_pk_dict_get(d, k) != NULL; }

vc_status vc_torch_read(vc_context *ctx, const char *what, const uint8_t *data, size_t size, vc_weights *w)
{
    torch_ctx tc = { ctx, what, w, NULL, NULL };
    vc_pickle *pk = NULL;
    vc_status st = vc_zip_open_mem(ctx, what, data, size, &tc.z);
    if (st != VC_STATUS_OK) return st;
    vc_weights_keep_zip(w, tc.z);
    /* §9.2: the folder is whatever holds data.pkl */
    ptrdiff_t pkl = -1;
    for (size_t i = 0; i < vc_zip_count(tc.z); i++) {
        const char *nm = vc_zip_at(tc.z, i)->name;
        size_t n = strlen(nm);
        if ((n == 8 || (n > 8 && nm[n - 9] == '/')) && strcmp(nm + n - 8, "data.pkl") == 0) { pkl = (ptrdiff_t)i; break; }
    }
    if (pkl < 0)
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: zip archive has no '<name>/data.pkl': not a torch.save checkpoint", what);
    const char *pname = vc_zip_at(tc.z, (size_t)pkl)->name;
    size_t plen = strlen(pname) - 8;
    tc.prefix = strndup(pname, plen);
    if (!tc.prefix) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    {
        char bo[4200];
        snprintf(bo, sizeof bo, "%sbyteorder", tc.prefix);
        ptrdiff_t bi = strlen(tc.prefix) < 4096 ? vc_zip_find(tc.z, bo) : -1;
        if (bi >= 0) {
            const uint8_t *b;
            uint64_t bn;
            if ((st = vc_zip_data(ctx, tc.z, (size_t)bi, &b, &bn)) != VC_STATUS_OK) goto done;
            while (bn && (b[bn - 1] == '\n' || b[bn - 1] == '\r')) bn--;
            if (!(bn == 6 && memcmp(b, "little", 6) == 0)) {
                st = vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: byteorder record says '%.*s'; only little-endian checkpoints are supported",
                             what, (int)(bn > 16 ? 16 : bn), (const char *)b);
                goto done;
            }
        }
    }
    const uint8_t *pd;
    uint64_t pn;
    if ((st = vc_zip_data(ctx, tc.z, (size_t)pkl, &pd, &pn)) != VC_STATUS_OK) goto done;
    char pwhat[600];
    snprintf(pwhat, sizeof pwhat, "%s (%.*s)", what, 400, pname);
    const vc_pk *root;
    if ((st = vc_pickle_load(ctx, pwhat, pd, (size_t)pn, &pk, &root)) != VC_STATUS_OK) goto done;
    if (root->kind != VC_PK_DICT) {
        st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: the checkpoint holds a %s, not a dict: no usable state dict",
                     what, vc_pk_kind_name(root->kind));
        goto done;
    }
    /* §9.1 wrappers */
    const vc_pk *sd = root;
    vc_ckpt_wrapper wrapper = VC_WRAPPER_NONE;
    const vc_pk *module = vc_pk_dict_get(root, "module");
    const vc_pk *sdict = vc_pk_dict_get(root, "state_dict");
    size_t strip = 0;
    if (module && module->kind == VC_PK_DICT) {
        sd = module;
        wrapper = VC_WRAPPER_DEEPSPEED;
        strip = 16;   /* §9.1: the first 16 characters, blindly */
    } else if (sdict) {
        if (sdict->kind != VC_PK_DICT) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: 'state_dict' is a %s, not a dict: no usable state dict",
                         what, vc_pk_kind_name(sdict->kind));
            goto done;
        }
        sd = sdict;
        static const char *trainer_keys[] = { "optimizer_states", "pytorch-lightning_version", "lr_schedulers",
                                              "callbacks", "loops", "hparams_name", "hyper_parameters" };
        wrapper = VC_WRAPPER_STATE_DICT;
        for (size_t k = 0; k < sizeof trainer_keys / sizeof *trainer_keys; k++)
            if (has_key(root, trainer_keys[k])) wrapper = VC_WRAPPER_LIGHTNING;
    } else if (module) {
        st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: 'module' is a %s, not a dict: no usable state dict",
                     what, vc_pk_kind_name(module->kind));
        goto done;
    }
    if (sd->n == 0) {
        st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: the state dict is empty: no usable state dict", what);
        goto done;
    }
    if (wrapper == VC_WRAPPER_NONE) {
        /* a bare dict must look like a state dict: every value a tensor */
        for (size_t i = 0; i + 1 < sd->n; i += 2) {
            const vc_pk *k = sd->items[i], *v = sd->items[i + 1];
            if (v->kind != VC_PK_TENSOR) {
                st = vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                             "%s: no usable state dict: top-level dict has no 'state_dict' or 'module' key and its entry %s%.*s%s is a %s, not a tensor",
                             what, k->kind == VC_PK_STR ? "'" : "#", k->kind == VC_PK_STR ? (int)(k->len > 200 ? 200 : k->len) : 0,
                             k->kind == VC_PK_STR ? k->s : "", k->kind == VC_PK_STR ? "'" : "", vc_pk_kind_name(v->kind));
                goto done;
            }
        }
    }
    w->replace_dups = true;
    for (size_t i = 0; i + 1 < sd->n; i += 2) {
        const vc_pk *k = sd->items[i], *v = sd->items[i + 1];
        if (k->kind != VC_PK_STR) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: state dict key #%zu is a %s, not a str", what, i / 2,
                         vc_pk_kind_name(k->kind));
            goto done;
        }
        size_t off = strip < k->len ? strip : k->len;
        if ((st = add_tensor(&tc, k->s + off, k->len - off, v)) != VC_STATUS_OK) goto done;
    }
    w->replace_dups = false;
    vc_weights_set_wrapper(w, wrapper);
    st = VC_STATUS_OK;
done:
    vc_pickle_free(pk);
    free(tc.prefix);
    return st;
}

/* -------------------------------------------------------------- opening */
static const uint8_t legacy_magic[] = { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19 };

static vc_status open_into(vc_context *ctx, const char *what, const uint8_t *data, size_t size, vc_weights *w)
{
    if (size == 0) return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: file is empty", what);
    if (size >= 4 && data[0] == 'P' && data[1] == 'K' && ((data[2] == 3 && data[3] == 4) || (data[2] == 5 && data[3] == 6)))
        return vc_torch_read(ctx, what, data, size, w);
    if (size >= 9 && data[8] == '{') {
        uint64_t n = 0;
        for (int k = 7; k >= 0; k--) n = n << 8 | data[k];
        if (n <= size - 8) return vc_safetensors_read(ctx, what, data, size, w);
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: safetensors header length %llu exceeds the file size %zu (truncated?)",
                       what, (unsigned long long)n, size);
    }
    if (size >= sizeof legacy_magic && memcmp(data, legacy_magic, sizeof legacy_magic) == 0)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED,
                       "%s: legacy (pre-1.6, non-zip) torch.save format; re-save it with a newer PyTorch", what);
    return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: not a PyTorch zip checkpoint or a .safetensors file", what);
}

vc_status vc_weights_open_mem(vc_context *ctx, const char *what, const uint8_t *data, size_t size, vc_weights **out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_weights_open_mem: out is NULL");
    *out = NULL;
    if (!what) what = "checkpoint";
    if (!data && size) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "%s: data is NULL", what);
    vc_weights *w = weights_new(size);
    if (!w) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    vc_status st = open_into(ctx, what, data, size, w);
    if (st != VC_STATUS_OK) { vc_weights_free(w); return st; }
    *out = w;
    return VC_STATUS_OK;
}

vc_status vc_weights_open(vc_context *ctx, const char *path, vc_weights **out)
{
    return vc_weights_open_as(ctx, path, VC_DTYPE_F32, out);
}

vc_status vc_weights_open_as(vc_context *ctx, const char *path, vc_dtype resident, vc_weights **out)
{
    if (!out) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_weights_open: out is NULL");
    *out = NULL;
    if (!path) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "vc_weights_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot stat %s: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "%s is not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot map %s (%zu bytes): %s", path, size, strerror(e));
        }
    }
    close(fd);
    vc_weights *w = weights_new(size);
    if (!w) {
        if (map) munmap(map, size);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    w->map_addr = map;
    w->map_len = size;
    w->half = resident;
    vc_status st = open_into(ctx, path, map, size, w);
    if (st != VC_STATUS_OK) { vc_weights_free(w); return st; }
    *out = w;
    return VC_STATUS_OK;
}
