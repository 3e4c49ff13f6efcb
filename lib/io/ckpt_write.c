/* ckpt_write.c - writes torch.save-format zip checkpoints and .safetensors
 * files (for tests, fuzz seeds and demo models; spec §9.2-§9.4). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "readers.h"

/* Bytes appended in memory, or written straight to f when set (n counts
 * them either way); oom marks any failure. */
typedef struct buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
    FILE *f;
} buf;

static void put(buf *b, const void *d, size_t n)
{
    if (b->oom) return;
    if (b->f) {
        if (n && fwrite(d, 1, n, b->f) != n) b->oom = true;
        b->n += n;
        return;
    }
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 4096;
        while (nc < b->n + n) nc *= 2;
        uint8_t *p = realloc(b->p, nc);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void put8(buf *b, uint8_t v) { put(b, &v, 1); }
static void put16(buf *b, uint16_t v) { uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) }; put(b, x, 2); }
static void put32(buf *b, uint32_t v) { put16(b, (uint16_t)v); put16(b, (uint16_t)(v >> 16)); }
static void put64(buf *b, uint64_t v) { put32(b, (uint32_t)v); put32(b, (uint32_t)(v >> 32)); }
static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static vc_status check_args(vc_context *ctx, const vc_ckpt_tensor *t, size_t n, vc_dtype dtype)
{
    if (dtype != VC_DTYPE_F32 && dtype != VC_DTYPE_F16 && dtype != VC_DTYPE_BF16)
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: dtype must be F32, F16 or BF16");
    if (n && !t) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: tensors is NULL");
    for (size_t i = 0; i < n; i++) {
        if (!t[i].name || t[i].ndim < 0 || t[i].ndim > VC_TENSOR_MAX_DIMS || (t[i].ndim && !t[i].shape))
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: tensor %zu is malformed", i);
        int64_t numel = 1;
        for (int k = 0; k < t[i].ndim; k++) {
            if (t[i].shape[k] < 0 || __builtin_mul_overflow(numel, t[i].shape[k], &numel))
                return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: tensor '%s' has a bad shape", t[i].name);
        }
        if (numel && !t[i].data)
            return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: tensor '%s' has no data", t[i].name);
    }
    return VC_STATUS_OK;
}

static int64_t numel_of(const vc_ckpt_tensor *t)
{
    int64_t n = 1;
    for (int k = 0; k < t->ndim; k++) n *= t->shape[k];
    return n;
}

/* Elements of t converted to dtype, appended to b. */
static void put_elems(buf *b, const vc_ckpt_tensor *t, vc_dtype dtype)
{
    int64_t n = numel_of(t);
    for (int64_t i = 0; i < n; i++) {
        float f = t->data[i];
        if (dtype == VC_DTYPE_F32) { uint32_t u; memcpy(&u, &f, 4); put32(b, u); }
        else put16(b, dtype == VC_DTYPE_F16 ? vc_f32_to_f16(f) : vc_f32_to_bf16(f));
    }
}

/* ---------------------------------------------------------- pickle */
typedef struct pw {
    buf b;
    uint32_t memo;
    int64_t m_od, m_rebuild, m_storage;    /* memo slots of the globals, -1 = not yet */
} pw;

static void p_int(pw *w, int64_t v)
{
    if (v >= 0 && v < 256) { put8(&w->b, 'K'); put8(&w->b, (uint8_t)v); }
    else if (v >= 0 && v < 65536) { put8(&w->b, 'M'); put16(&w->b, (uint16_t)v); }
    else if (v >= INT32_MIN && v <= INT32_MAX) { put8(&w->b, 'J'); put32(&w->b, (uint32_t)(int32_t)v); }
    else { put8(&w->b, 0x8A); put8(&w->b, 8); put64(&w->b, (uint64_t)v); }
}

static void p_str(pw *w, const char *s, size_t n)
{
    put8(&w->b, 'X');
    put32(&w->b, (uint32_t)n);
    put(&w->b, s, n);
}

static void p_put(pw *w)
{
    if (w->memo < 256) { put8(&w->b, 'q'); put8(&w->b, (uint8_t)w->memo); }
    else { put8(&w->b, 'r'); put32(&w->b, w->memo); }
    w->memo++;
}

static void p_get(pw *w, int64_t m)
{
    if (m < 256) { put8(&w->b, 'h'); put8(&w->b, (uint8_t)m); }
    else { put8(&w->b, 'j'); put32(&w->b, (uint32_t)m); }
}

static void p_global(pw *w, int64_t *slot, const char *mod, const char *name)
{
    if (slot && *slot >= 0) { p_get(w, *slot); return; }
    put8(&w->b, 'c');
    puts_(&w->b, mod); put8(&w->b, '\n');
    puts_(&w->b, name); put8(&w->b, '\n');
    if (slot) *slot = w->memo;
    p_put(w);
}

static void p_tuple_ints(pw *w, const int64_t *v, int n)
{
    if (n == 0) { put8(&w->b, ')'); return; }
    if (n > 3) put8(&w->b, '(');
    for (int k = 0; k < n; k++) p_int(w, v[k]);
    put8(&w->b, n == 1 ? 0x85 : n == 2 ? 0x86 : n == 3 ? 0x87 : 't');
}

static void p_ordered_dict(pw *w)
{
    p_global(w, &w->m_od, "collections", "OrderedDict");
    put8(&w->b, ')');
    put8(&w->b, 'R');
    p_put(w);
}

/* OrderedDict of tensors, keys prefixed, torch's _metadata attribute via BUILD. */
static void p_state_dict(pw *w, const vc_ckpt_tensor *t, size_t n, vc_dtype dtype, const char *prefix)
{
    static const char *stypes[] = { "FloatStorage", "HalfStorage", "BFloat16Storage" };
    const char *stype = stypes[dtype == VC_DTYPE_F32 ? 0 : dtype == VC_DTYPE_F16 ? 1 : 2];
    p_ordered_dict(w);
    for (size_t i = 0; i < n; i++) {
        if (i % 1000 == 0) put8(&w->b, '(');   /* SETITEMS batches like pickle's */
        size_t pl = strlen(prefix), nl = strlen(t[i].name);
        char *key = malloc(pl + nl + 1);
        if (!key) { w->b.oom = true; return; }
        memcpy(key, prefix, pl);
        memcpy(key + pl, t[i].name, nl + 1);
        p_str(w, key, pl + nl);
        free(key);
        p_put(w);
        p_global(w, &w->m_rebuild, "torch._utils", "_rebuild_tensor_v2");
        put8(&w->b, '(');
        /* persistent id ('storage', torch.XStorage, key, 'cpu', numel) */
        put8(&w->b, '(');
        p_str(w, "storage", 7);
        p_global(w, &w->m_storage, "torch", stype);
        char skey[32];
        int kl = snprintf(skey, sizeof skey, "%zu", i);
        p_str(w, skey, (size_t)kl);
        p_str(w, "cpu", 3);
        p_int(w, numel_of(&t[i]));
        put8(&w->b, 't');
        p_put(w);
        put8(&w->b, 'Q');
        p_int(w, 0);                               /* storage_offset */
        int64_t stride[VC_TENSOR_MAX_DIMS], s = 1;
        for (int k = t[i].ndim - 1; k >= 0; k--) { stride[k] = s; s *= t[i].shape[k]; }
        p_tuple_ints(w, t[i].shape, t[i].ndim);
        p_tuple_ints(w, stride, t[i].ndim);
        put8(&w->b, 0x89);                         /* requires_grad False */
        p_ordered_dict(w);                         /* backward_hooks */
        put8(&w->b, 't');
        put8(&w->b, 'R');
        p_put(w);
        if (i % 1000 == 999 || i + 1 == n) put8(&w->b, 'u');
    }
    /* BUILD {'_metadata': OrderedDict({'': {'version': 1}})} */
    put8(&w->b, '}');
    p_str(w, "_metadata", 9);
    p_ordered_dict(w);
    p_str(w, "", 0);
    put8(&w->b, '}');
    p_str(w, "version", 7);
    p_int(w, 1);
    put8(&w->b, 's');
    put8(&w->b, 's');
    put8(&w->b, 's');
    put8(&w->b, 'b');
    (void)dtype;
}

vc_status vc_ckpt_build_pickle(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n, vc_dtype dtype,
                               vc_ckpt_wrapper wrapper, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    vc_status st = check_args(ctx, tensors, n, dtype);
    if (st != VC_STATUS_OK) return st;
    pw w = { { NULL, 0, 0, false, NULL }, 0, -1, -1, -1 };
    put8(&w.b, 0x80);
    put8(&w.b, 2);
    switch (wrapper) {
    case VC_WRAPPER_NONE:
        p_state_dict(&w, tensors, n, dtype, "");
        break;
    case VC_WRAPPER_STATE_DICT:
        put8(&w.b, '}'); p_put(&w);
        put8(&w.b, '(');
        p_str(&w, "state_dict", 10);
        p_state_dict(&w, tensors, n, dtype, "");
        p_str(&w, "epoch", 5); p_int(&w, 3);
        p_str(&w, "global_step", 11); p_int(&w, 1234);
        put8(&w.b, 'u');
        break;
    case VC_WRAPPER_LIGHTNING:
        put8(&w.b, '}'); p_put(&w);
        put8(&w.b, '(');
        p_str(&w, "epoch", 5); p_int(&w, 7);
        p_str(&w, "global_step", 11); p_int(&w, 5678);
        p_str(&w, "pytorch-lightning_version", 25); p_str(&w, "1.8.3", 5);
        p_str(&w, "state_dict", 10);
        p_state_dict(&w, tensors, n, dtype, "");
        p_str(&w, "optimizer_states", 16);
        put8(&w.b, ']');
        put8(&w.b, '(');                              /* [{'state': {}, 'lr': 1e-4}] */
        put8(&w.b, '}'); put8(&w.b, '(');
        p_str(&w, "state", 5); put8(&w.b, '}');
        p_str(&w, "lr", 2);
        { uint8_t g[9] = { 'G', 0x3F, 0x1A, 0x36, 0xE2, 0xEB, 0x1C, 0x43, 0x2D }; put(&w.b, g, 9); }
        put8(&w.b, 'u');
        put8(&w.b, 'e');
        p_str(&w, "lr_schedulers", 13); put8(&w.b, ']');
        /* an arbitrary foreign object: NEWOBJ + BUILD + SETITEMS, never executed */
        p_str(&w, "hyper_parameters", 16);
        p_global(&w, NULL, "omegaconf.dictconfig", "DictConfig");
        put8(&w.b, ')');
        put8(&w.b, 0x81);
        put8(&w.b, '}');
        p_str(&w, "_content", 8);
        p_global(&w, NULL, "os", "system");           /* must never be called */
        p_str(&w, "echo pwned", 10);
        put8(&w.b, 0x85);
        put8(&w.b, 'R');
        put8(&w.b, 's');
        put8(&w.b, 'b');
        put8(&w.b, 'u');
        break;
    case VC_WRAPPER_DEEPSPEED:
        put8(&w.b, '}'); p_put(&w);
        p_str(&w, "module", 6);
        p_state_dict(&w, tensors, n, dtype, "_forward_module.");
        put8(&w.b, 's');
        break;
    default:
        free(w.b.p);
        return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: wrapper %d cannot be written as a zip", (int)wrapper);
    }
    put8(&w.b, '.');
    if (w.b.oom) { free(w.b.p); return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "checkpoint writer: out of memory"); }
    *out = w.b.p;
    *len = w.b.n;
    return VC_STATUS_OK;
}

/* ------------------------------------------------------------- zip */
typedef struct zentry {
    char *name;
    uint64_t offset, csize, size;
    uint32_t crc;
    uint16_t method;
} zentry;

static uint32_t crc_of(const uint8_t *d, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, d, k);
        d += k;
        n -= k;
    }
    return (uint32_t)c;
}

static bool add_entry(buf *z, zentry *e, const char *name, const uint8_t *data, size_t n, const vc_ckpt_write_opts *o)
{
    if (strlen(name) > 0xFFFF) return false;
    e->name = strdup(name);
    if (!e->name) return false;
    e->offset = z->n;
    e->size = n;
    e->crc = crc_of(data, n);
    e->method = 0;
    uint8_t *comp = NULL;
    size_t clen = n;
    if (o->deflate) {
        uLong bound = compressBound((uLong)n) + 64;
        comp = malloc(bound);
        if (!comp) return false;
        z_stream s;
        memset(&s, 0, sizeof s);
        if (deflateInit2(&s, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) { free(comp); return false; }
        s.next_in = (Bytef *)data;
        s.avail_in = (uInt)n;
        s.next_out = comp;
        s.avail_out = (uInt)bound;
        int r = deflate(&s, Z_FINISH);
        clen = bound - s.avail_out;
        deflateEnd(&s);
        if (r != Z_STREAM_END) { free(comp); return false; }
        e->method = 8;
    }
    e->csize = clen;
    size_t nl = strlen(name);
    /* local header; the 'FB' extra pads the data start to a multiple of 64 (§9.2) */
    const bool big = o->force_zip64 || n >= 0xFFFFFFFFu || clen >= 0xFFFFFFFFu;
    size_t z64 = big ? 20 : 0;
    size_t base = z->n + 30 + nl + z64;
    size_t pad = (64 - (base + 4) % 64) % 64 + 4;
    put32(z, 0x04034b50);
    put16(z, big ? 45 : 20);
    put16(z, 0);
    put16(z, e->method);
    put16(z, 0); put16(z, 0x21);                       /* time, date (1980-01-01) */
    put32(z, e->crc);
    put32(z, big ? 0xFFFFFFFFu : (uint32_t)clen);
    put32(z, big ? 0xFFFFFFFFu : (uint32_t)n);
    put16(z, (uint16_t)nl);
    put16(z, (uint16_t)(z64 + pad));
    put(z, name, nl);
    if (big) { put16(z, 1); put16(z, 16); put64(z, n); put64(z, clen); }
    put16(z, 0x4246);                                   /* "FB" */
    put16(z, (uint16_t)(pad - 4));
    for (size_t k = 4; k < pad; k++) put8(z, 'Z');
    put(z, comp ? comp : data, clen);
    free(comp);
    return !z->oom;
}

/* Central directory and end records of entries e[0..ne). ZIP64 records where an
 * offset or the directory passes 4 GiB (or when forced). */
static void central_dir(buf *z, const zentry *e, size_t ne, const vc_ckpt_write_opts *o)
{
    uint64_t cd_off = z->n;
    for (size_t i = 0; i < ne; i++) {
        size_t nl = strlen(e[i].name);
        bool z64 = o->force_zip64 || e[i].offset >= 0xFFFFFFFFu || e[i].size >= 0xFFFFFFFFu;
        put32(z, 0x02014b50);
        put16(z, 0x031E);
        put16(z, z64 ? 45 : 20);
        put16(z, 0);
        put16(z, e[i].method);
        put16(z, 0); put16(z, 0x21);
        put32(z, e[i].crc);
        put32(z, z64 ? 0xFFFFFFFFu : (uint32_t)e[i].csize);
        put32(z, z64 ? 0xFFFFFFFFu : (uint32_t)e[i].size);
        put16(z, (uint16_t)nl);
        put16(z, z64 ? 28 : 0);
        put16(z, 0); put16(z, 0); put16(z, 0); put32(z, 0);
        put32(z, z64 ? 0xFFFFFFFFu : (uint32_t)e[i].offset);
        put(z, e[i].name, nl);
        if (z64) { put16(z, 1); put16(z, 24); put64(z, e[i].size); put64(z, e[i].csize); put64(z, e[i].offset); }
    }
    uint64_t cd_size = z->n - cd_off;
    if (o->force_zip64 || ne >= 0xFFFF || z->n >= 0xFFFFFFFFu) {
        uint64_t rec = z->n;
        put32(z, 0x06064b50); put64(z, 44); put16(z, 45); put16(z, 45);
        put32(z, 0); put32(z, 0); put64(z, ne); put64(z, ne); put64(z, cd_size); put64(z, cd_off);
        put32(z, 0x07064b50); put32(z, 0); put64(z, rec); put32(z, 1);
        put32(z, 0x06054b50); put16(z, 0); put16(z, 0); put16(z, 0xFFFF); put16(z, 0xFFFF);
        put32(z, 0xFFFFFFFFu); put32(z, 0xFFFFFFFFu); put16(z, 0);
    } else {
        put32(z, 0x06054b50); put16(z, 0); put16(z, 0); put16(z, (uint16_t)ne); put16(z, (uint16_t)ne);
        put32(z, (uint32_t)cd_size); put32(z, (uint32_t)cd_off); put16(z, 0);
    }
}

vc_status vc_zip_build(vc_context *ctx, const vc_zip_src *src, size_t ne, const vc_ckpt_write_opts *opts,
                       uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    vc_ckpt_write_opts o = { NULL, false, false };
    if (opts) o = *opts;
    zentry *e = calloc(ne ? ne : 1, sizeof *e);
    buf z = { NULL, 0, 0, false, NULL };
    bool ok = e != NULL;
    for (size_t i = 0; ok && i < ne; i++)
        ok = add_entry(&z, &e[i], src[i].name, src[i].data ? src[i].data : (const uint8_t *)"", src[i].len, &o);
    if (ok) {
        central_dir(&z, e, ne, &o);
        ok = !z.oom;
    }
    for (size_t i = 0; e && i < ne; i++) free(e[i].name);
    free(e);
    if (!ok) {
        free(z.p);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "zip writer: out of memory");
    }
    *out = z.p;
    *len = z.n;
    return VC_STATUS_OK;
}

vc_status vc_ckpt_build_zip(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n, vc_dtype dtype,
                            vc_ckpt_wrapper wrapper, const vc_ckpt_write_opts *opts, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const char *folder = opts && opts->folder ? opts->folder : "archive";
    uint8_t *pkl;
    size_t pkl_len;
    vc_status st = vc_ckpt_build_pickle(ctx, tensors, n, dtype, wrapper, &pkl, &pkl_len);
    if (st != VC_STATUS_OK) return st;
    size_t ne = n + 3;
    vc_zip_src *src = calloc(ne, sizeof *src);
    buf *data = calloc(n ? n : 1, sizeof *data);
    char **names = calloc(ne, sizeof *names);
    bool ok = src && data && names;
    for (size_t i = 0; ok && i < ne; i++) {
        names[i] = malloc(strlen(folder) + 32);
        if (!names[i]) { ok = false; break; }
        if (i == 0) { sprintf(names[i], "%s/data.pkl", folder); src[i].data = pkl; src[i].len = pkl_len; }
        else if (i == 1) { sprintf(names[i], "%s/byteorder", folder); src[i].data = (const uint8_t *)"little"; src[i].len = 6; }
        else if (i == ne - 1) { sprintf(names[i], "%s/version", folder); src[i].data = (const uint8_t *)"3\n"; src[i].len = 2; }
        else {
            sprintf(names[i], "%s/data/%zu", folder, i - 2);
            put_elems(&data[i - 2], &tensors[i - 2], dtype);
            if (data[i - 2].oom) ok = false;
            src[i].data = data[i - 2].p;
            src[i].len = data[i - 2].n;
        }
        src[i].name = names[i];
    }
    st = ok ? vc_zip_build(ctx, src, ne, opts, out, len)
            : vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "checkpoint writer: out of memory");
    for (size_t i = 0; names && i < ne; i++) free(names[i]);
    for (size_t i = 0; data && i < n; i++) free(data[i].p);
    free(names);
    free(data);
    free(src);
    free(pkl);
    return st;
}

static vc_status write_all(vc_context *ctx, const char *path, const uint8_t *d, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
    bool ok = fwrite(d, 1, n, f) == n;
    ok = (fclose(f) == 0) && ok;
    if (!ok) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot write %s", path);
    return VC_STATUS_OK;
}

/* Streams the archive to the file: entries are converted and written one at a
 * time, so writing a multi-GB model needs no more memory than its largest
 * tensor (the bench writes real-size models this way). Same bytes as
 * vc_ckpt_build_zip. */
vc_status vc_ckpt_write_zip(vc_context *ctx, const char *path, const vc_ckpt_tensor *tensors, size_t n,
                            vc_dtype dtype, vc_ckpt_wrapper wrapper, const char *folder)
{
    if (!path) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "checkpoint writer: path is NULL");
    if (!folder) folder = "archive";
    uint8_t *pkl;
    size_t pkl_len;
    vc_status st = vc_ckpt_build_pickle(ctx, tensors, n, dtype, wrapper, &pkl, &pkl_len);
    if (st != VC_STATUS_OK) return st;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(pkl);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot create %s: %s", path, strerror(errno));
    }
    const vc_ckpt_write_opts o = { folder, false, false };
    const size_t ne = n + 3;
    zentry *e = calloc(ne, sizeof *e);
    char *name = malloc(strlen(folder) + 32);
    buf z = { NULL, 0, 0, e == NULL || name == NULL, f };
    for (size_t i = 0; !z.oom && i < ne; i++) {
        buf data = { NULL, 0, 0, false, NULL };
        const uint8_t *d;
        size_t len;
        if (i == 0) { sprintf(name, "%s/data.pkl", folder); d = pkl; len = pkl_len; }
        else if (i == 1) { sprintf(name, "%s/byteorder", folder); d = (const uint8_t *)"little"; len = 6; }
        else if (i == ne - 1) { sprintf(name, "%s/version", folder); d = (const uint8_t *)"3\n"; len = 2; }
        else {
            sprintf(name, "%s/data/%zu", folder, i - 2);
            put_elems(&data, &tensors[i - 2], dtype);
            d = data.p ? data.p : (const uint8_t *)"";
            len = data.n;
            if (data.oom) z.oom = true;
        }
        if (!z.oom && !add_entry(&z, &e[i], name, d, len, &o)) z.oom = true;
        free(data.p);
    }
    if (!z.oom) central_dir(&z, e, ne, &o);
    bool ok = !z.oom;
    ok = (fclose(f) == 0) && ok;
    for (size_t i = 0; e && i < ne; i++) free(e[i].name);
    free(e);
    free(name);
    free(pkl);
    if (!ok) {
        remove(path);
        return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot write %s (disk full or out of memory)", path);
    }
    return VC_STATUS_OK;
}

/* ------------------------------------------------------ safetensors */
static void json_str(buf *b, const char *s)
{
    put8(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { put8(b, '\\'); put8(b, c); }
        else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); puts_(b, e); }
        else put8(b, c);
    }
    put8(b, '"');
}

vc_status vc_ckpt_build_safetensors(vc_context *ctx, const vc_ckpt_tensor *tensors, size_t n, vc_dtype dtype,
                                    uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    vc_status st = check_args(ctx, tensors, n, dtype);
    if (st != VC_STATUS_OK) return st;
    const char *dt = dtype == VC_DTYPE_F32 ? "F32" : dtype == VC_DTYPE_F16 ? "F16" : "BF16";
    buf h = { NULL, 0, 0, false, NULL }, d = { NULL, 0, 0, false, NULL };
    put8(&h, '{');
    puts_(&h, "\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t i = 0; i < n; i++) {
        size_t begin = d.n;
        put_elems(&d, &tensors[i], dtype);
        char tmp[96];
        put8(&h, ',');
        json_str(&h, tensors[i].name);
        puts_(&h, ":{\"dtype\":\"");
        puts_(&h, dt);
        puts_(&h, "\",\"shape\":[");
        for (int k = 0; k < tensors[i].ndim; k++) {
            snprintf(tmp, sizeof tmp, "%s%lld", k ? "," : "", (long long)tensors[i].shape[k]);
            puts_(&h, tmp);
        }
        snprintf(tmp, sizeof tmp, "],\"data_offsets\":[%zu,%zu]}", begin, d.n);
        puts_(&h, tmp);
    }
    put8(&h, '}');
    while (h.n % 8) put8(&h, ' ');   /* data section 8-byte aligned */
    buf f = { NULL, 0, 0, false, NULL };
    put64(&f, h.n);
    put(&f, h.p, h.n);
    put(&f, d.p, d.n);
    bool oom = h.oom || d.oom || f.oom;
    free(h.p);
    free(d.p);
    if (oom) { free(f.p); return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "safetensors writer: out of memory"); }
    *out = f.p;
    *len = f.n;
    return VC_STATUS_OK;
}

vc_status vc_ckpt_write_safetensors(vc_context *ctx, const char *path, const vc_ckpt_tensor *tensors, size_t n,
                                    vc_dtype dtype)
{
    if (!path) return vc_fail(ctx, VC_STATUS_INVALID_ARGUMENT, "safetensors writer: path is NULL");
    uint8_t *d;
    size_t len;
    vc_status st = vc_ckpt_build_safetensors(ctx, tensors, n, dtype, &d, &len);
    if (st != VC_STATUS_OK) return st;
    st = write_all(ctx, path, d, len);
    free(d);
    return st;
}
