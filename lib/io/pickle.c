/* pickle.c - restricted unpickler for torch.save data.pkl (spec §9.3).
 * Builds an inert object graph; nothing is ever called. Known globals
 * (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter*, torch.*Storage,
 * _codecs.encode) get their meaning; any other global becomes a placeholder
 * object that records its arguments and accepts BUILD / SETITEM(S) / APPEND(S).
 * Memory is bounded by a budget proportional to the input; every op consumes
 * at least one input byte, so time is linear in the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readers.h"

#define PK_MAX_LINE 4096
#define PK_BUDGET_PER_BYTE 96u   /* reference checkpoints use 14-24 bytes per pickle byte */
#define PK_BUDGET_BASE ((uint64_t)16 << 20)

typedef struct memo_slot {
    uint64_t key1;            /* memo index + 1; 0 = empty */
    vc_pk *val;
} memo_slot;

struct vc_pickle {
    vc_context *ctx;
    const char *what;
    const uint8_t *d;
    size_t len, pos, op_pos;
    uint8_t op;
    uint64_t used, budget;
    vc_pk *objects;           /* allocation list */
    vc_pk **stack;
    size_t sn, scap;
    size_t *marks;
    size_t mn, mcap;
    memo_slot *memo;
    size_t memo_n, memo_cap;
    char **strings;           /* owned strings (GLOBAL names) */
    size_t strn, strcap;
    vc_status st;
};

static const struct { const char *name; int32_t stype; size_t size; } storage_types[VC_ST_COUNT] = {
    { "torch.FloatStorage", VC_ST_F32, 4 },   { "torch.HalfStorage", VC_ST_F16, 2 },
    { "torch.BFloat16Storage", VC_ST_BF16, 2 }, { "torch.DoubleStorage", VC_ST_F64, 8 },
    { "torch.LongStorage", VC_ST_I64, 8 },    { "torch.IntStorage", VC_ST_I32, 4 },
    { "torch.ShortStorage", VC_ST_I16, 2 },   { "torch.CharStorage", VC_ST_I8, 1 },
    { "torch.ByteStorage", VC_ST_U8, 1 },     { "torch.BoolStorage", VC_ST_BOOL, 1 },
};

size_t vc_pk_stype_size(int32_t stype) { return stype >= 0 && stype < VC_ST_COUNT ? storage_types[stype].size : 0; }
const char *vc_pk_stype_name(int32_t stype) { return stype >= 0 && stype < VC_ST_COUNT ? storage_types[stype].name : "?"; }

const char *vc_pk_kind_name(vc_pk_kind k)
{
    static const char *names[] = { "None", "bool", "int", "big int", "float", "str", "bytes", "tuple", "list",
                                   "dict", "set", "global", "object", "storage", "tensor" };
    return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static vc_status perr(vc_pickle *p, vc_status st, const char *fmt, ...) VC_PRINTF(3, 4);
static vc_status perr(vc_pickle *p, vc_status st, const char *fmt, ...)
{
    if (p->st != VC_STATUS_OK) return p->st;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->st = vc_fail(p->ctx, st, "%s: pickle opcode 0x%02x at byte %zu: %s", p->what, p->op, p->op_pos, msg);
    return p->st;
}

static bool charge(vc_pickle *p, uint64_t bytes)
{
    if (bytes > p->budget - p->used) {
        perr(p, VC_STATUS_LIMIT_EXCEEDED, "memory budget of %llu bytes for a %zu-byte pickle exhausted",
             (unsigned long long)p->budget, p->len);
        return false;
    }
    p->used += bytes;
    return true;
}

static vc_pk *new_obj(vc_pickle *p, vc_pk_kind kind)
{
    if (!charge(p, sizeof(vc_pk))) return NULL;
    vc_pk *o = calloc(1, sizeof *o);
    if (!o) { perr(p, VC_STATUS_OUT_OF_MEMORY, "out of memory"); return NULL; }
    o->kind = kind;
    o->next_alloc = p->objects;
    p->objects = o;
    return o;
}

/* Grows a pointer array to hold at least need elements (budget-checked). */
static bool grow(vc_pickle *p, void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t nc = *cap ? *cap : 8;
    while (nc < need) nc *= 2;
    if (!charge(p, (uint64_t)(nc - *cap) * elem)) return false;
    void *a = realloc(*arr, nc * elem);
    if (!a) { perr(p, VC_STATUS_OUT_OF_MEMORY, "out of memory"); return false; }
    *arr = a;
    *cap = nc;
    return true;
}

static bool add_item(vc_pickle *p, vc_pk *c, vc_pk *item)
{
    if (!grow(p, (void **)&c->items, &c->cap, c->n + 1, sizeof(vc_pk *))) return false;
    c->items[c->n++] = item;
    return true;
}

static bool push(vc_pickle *p, vc_pk *o)
{
    if (!o) return false;
    if (!grow(p, (void **)&p->stack, &p->scap, p->sn + 1, sizeof(vc_pk *))) return false;
    p->stack[p->sn++] = o;
    return true;
}

static size_t mark_base(const vc_pickle *p) { return p->mn ? p->marks[p->mn - 1] : 0; }

static vc_pk *pop(vc_pickle *p)
{
    if (p->sn <= mark_base(p)) { perr(p, VC_STATUS_BAD_FORMAT, "stack underflow"); return NULL; }
    return p->stack[--p->sn];
}

static vc_pk *top(vc_pickle *p)
{
    if (p->sn <= mark_base(p)) { perr(p, VC_STATUS_BAD_FORMAT, "stack underflow"); return NULL; }
    return p->stack[p->sn - 1];
}

/* Pops the items since the last mark: returns their start in the stack. */
static bool pop_mark(vc_pickle *p, size_t *start)
{
    if (!p->mn) { perr(p, VC_STATUS_BAD_FORMAT, "no MARK on the stack"); return false; }
    *start = p->marks[--p->mn];
    return true;
}

static vc_pk *items_obj(vc_pickle *p, vc_pk_kind kind, size_t start)
{
    vc_pk *o = new_obj(p, kind);
    if (!o) return NULL;
    size_t n = p->sn - start;
    if (n && !grow(p, (void **)&o->items, &o->cap, n, sizeof(vc_pk *))) return NULL;
    if (n) memcpy(o->items, p->stack + start, n * sizeof(vc_pk *));
    o->n = n;
    p->sn = start;
    return o;
}

/* -------------------------------------------------------------- reading */
static bool need(vc_pickle *p, size_t n)
{
    if (p->len - p->pos < n) {
        perr(p, VC_STATUS_BAD_FORMAT, "needs %zu more bytes but the pickle ends (truncated?)", n);
        return false;
    }
    return true;
}

static uint64_t rd_le(const uint8_t *b, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
    return v;
}

static bool arg_le(vc_pickle *p, int n, uint64_t *v)
{
    if (!need(p, (size_t)n)) return false;
    *v = rd_le(p->d + p->pos, n);
    p->pos += (size_t)n;
    return true;
}

/* A '\n'-terminated line; returned without the newline. */
static bool line(vc_pickle *p, const char **s, size_t *n)
{
    size_t avail = p->len - p->pos;
    const uint8_t *nl = memchr(p->d + p->pos, '\n', avail < PK_MAX_LINE ? avail : PK_MAX_LINE);
    if (!nl) {
        perr(p, VC_STATUS_BAD_FORMAT, avail < PK_MAX_LINE ? "unterminated text argument (truncated?)"
                                                          : "text argument longer than 4096 bytes");
        return false;
    }
    *s = (const char *)p->d + p->pos;
    *n = (size_t)(nl - (p->d + p->pos));
    p->pos += *n + 1;
    return true;
}

static vc_pk *str_obj(vc_pickle *p, vc_pk_kind kind, uint64_t n)
{
    if (n > p->len - p->pos) {
        perr(p, VC_STATUS_BAD_FORMAT, "string of %llu bytes runs past the end of the pickle (%zu bytes left)",
             (unsigned long long)n, p->len - p->pos);
        return NULL;
    }
    vc_pk *o = new_obj(p, kind);
    if (!o) return NULL;
    o->s = (const char *)p->d + p->pos;   /* zero-copy into the input */
    o->len = (size_t)n;
    p->pos += (size_t)n;
    return o;
}

static vc_pk *int_obj(vc_pickle *p, int64_t v)
{
    vc_pk *o = new_obj(p, VC_PK_INT);
    if (o) o->i = v;
    return o;
}

/* Two's complement little-endian integer of n bytes (LONG1/LONG4). */
static vc_pk *long_obj(vc_pickle *p, uint64_t n)
{
    if (n > p->len - p->pos) {
        perr(p, VC_STATUS_BAD_FORMAT, "integer of %llu bytes runs past the end of the pickle", (unsigned long long)n);
        return NULL;
    }
    const uint8_t *b = p->d + p->pos;
    p->pos += (size_t)n;
    if (n == 0) return int_obj(p, 0);
    bool neg = b[n - 1] & 0x80;
    bool fits = true;
    for (uint64_t k = 8; k < n; k++)
        if (b[k] != (neg ? 0xFF : 0x00)) { fits = false; break; }
    if (n > 8 && fits && ((b[7] & 0x80) != 0) != neg) fits = false;
    if (!fits) return new_obj(p, VC_PK_BIGINT);
    uint64_t v = 0;
    int m = n < 8 ? (int)n : 8;
    for (int k = m - 1; k >= 0; k--) v = v << 8 | b[k];
    if (neg && m < 8) v |= ~(uint64_t)0 << (8 * m);
    return int_obj(p, (int64_t)v);
}

/* Protocol-0 INT / LONG text. */
static vc_pk *text_int(vc_pickle *p, const char *s, size_t n, bool is_long)
{
    if (!is_long && n == 2 && s[0] == '0' && (s[1] == '0' || s[1] == '1')) {
        vc_pk *o = new_obj(p, VC_PK_BOOL);   /* I00 / I01 */
        if (o) o->i = s[1] == '1';
        return o;
    }
    if (is_long && n && s[n - 1] == 'L') n--;
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i >= n) { perr(p, VC_STATUS_BAD_FORMAT, "malformed integer text"); return NULL; }
    uint64_t v = 0;
    bool big = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') { perr(p, VC_STATUS_BAD_FORMAT, "malformed integer text"); return NULL; }
        if (v > (UINT64_MAX - 9) / 10) big = true;
        else v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (big || v > (uint64_t)INT64_MAX + (neg ? 1 : 0)) return new_obj(p, VC_PK_BIGINT);
    return int_obj(p, neg ? (int64_t)(0 - v) : (int64_t)v);
}

static vc_pk *global_obj(vc_pickle *p, const char *mod, size_t mlen, const char *name, size_t nlen)
{
    if (mlen > PK_MAX_LINE || nlen > PK_MAX_LINE) { perr(p, VC_STATUS_BAD_FORMAT, "global name too long"); return NULL; }
    /* protocol 2 spells Python 3's builtins as __builtin__ */
    if (mlen == 11 && memcmp(mod, "__builtin__", 11) == 0) { mod = "builtins"; mlen = 8; }
    if (!grow(p, (void **)&p->strings, &p->strcap, p->strn + 1, sizeof(char *))) return NULL;
    if (!charge(p, mlen + nlen + 2)) return NULL;
    char *s = malloc(mlen + nlen + 2);
    if (!s) { perr(p, VC_STATUS_OUT_OF_MEMORY, "out of memory"); return NULL; }
    memcpy(s, mod, mlen);
    s[mlen] = '.';
    memcpy(s + mlen + 1, name, nlen);
    s[mlen + nlen + 1] = 0;
    p->strings[p->strn++] = s;
    vc_pk *o = new_obj(p, VC_PK_GLOBAL);
    if (!o) return NULL;
    o->s = s;
    o->len = mlen + nlen + 1;
    o->stype = -1;
    for (int k = 0; k < VC_ST_COUNT; k++)
        if (strcmp(s, storage_types[k].name) == 0) o->stype = storage_types[k].stype;
    return o;
}

static bool is_global(const vc_pk *o, const char *name)
{
    return o && o->kind == VC_PK_GLOBAL && strcmp(o->s, name) == 0;
}

static bool is_str(const vc_pk *o, const char *s)
{
    size_t n = strlen(s);
    return o && o->kind == VC_PK_STR && o->len == n && memcmp(o->s, s, n) == 0;
}

/* ---------------------------------------------------------------- memo */
static bool memo_put(vc_pickle *p, uint64_t idx, vc_pk *v)
{
    if ((p->memo_n + 1) * 2 > p->memo_cap) {
        size_t nc = p->memo_cap ? p->memo_cap * 2 : 64;
        if (!charge(p, (uint64_t)nc * sizeof(memo_slot))) return false;
        memo_slot *m = calloc(nc, sizeof *m);
        if (!m) { perr(p, VC_STATUS_OUT_OF_MEMORY, "out of memory"); return false; }
        for (size_t i = 0; i < p->memo_cap; i++) {
            if (!p->memo[i].key1) continue;
            size_t j = (size_t)(p->memo[i].key1 * 0x9E3779B97F4A7C15ull >> 20) & (nc - 1);
            while (m[j].key1) j = (j + 1) & (nc - 1);
            m[j] = p->memo[i];
        }
        free(p->memo);
        p->memo = m;
        p->memo_cap = nc;
    }
    uint64_t k = idx + 1;
    size_t j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (p->memo_cap - 1);
    while (p->memo[j].key1 && p->memo[j].key1 != k) j = (j + 1) & (p->memo_cap - 1);
    if (!p->memo[j].key1) p->memo_n++;
    p->memo[j].key1 = k;
    p->memo[j].val = v;
    return true;
}

static vc_pk *memo_get(vc_pickle *p, uint64_t idx)
{
    uint64_t k = idx + 1;
    if (p->memo_cap) {
        size_t j = (size_t)(k * 0x9E3779B97F4A7C15ull >> 20) & (p->memo_cap - 1);
        while (p->memo[j].key1) {
            if (p->memo[j].key1 == k) return p->memo[j].val;
            j = (j + 1) & (p->memo_cap - 1);
        }
    }
    perr(p, VC_STATUS_BAD_FORMAT, "memo entry %llu was never stored", (unsigned long long)idx);
    return NULL;
}

/* --------------------------------------------------------------- calls */
static vc_pk *placeholder(vc_pickle *p, vc_pk *callable, vc_pk *args)
{
    vc_pk *o = new_obj(p, VC_PK_OBJECT);
    if (!o) return NULL;
    o->callable = callable;
    o->args = args;
    return o;
}

/* dict(pairs) / OrderedDict(pairs) from a list or tuple of 2-sequences. */
static vc_pk *dict_from(vc_pickle *p, vc_pk *callable, vc_pk *args)
{
    if (args->n == 0) return new_obj(p, VC_PK_DICT);
    vc_pk *src = args->items[0];
    if (args->n != 1 || (src->kind != VC_PK_LIST && src->kind != VC_PK_TUPLE)) return placeholder(p, callable, args);
    for (size_t i = 0; i < src->n; i++) {
        vc_pk *kv = src->items[i];
        if ((kv->kind != VC_PK_TUPLE && kv->kind != VC_PK_LIST) || kv->n != 2) return placeholder(p, callable, args);
    }
    vc_pk *d = new_obj(p, VC_PK_DICT);
    if (!d) return NULL;
    for (size_t i = 0; i < src->n; i++)
        if (!add_item(p, d, src->items[i]->items[0]) || !add_item(p, d, src->items[i]->items[1])) return NULL;
    return d;
}

/* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) */
static vc_pk *rebuild_tensor(vc_pickle *p, vc_pk *args)
{
    if (args->n < 4) {
        perr(p, VC_STATUS_BAD_FORMAT, "_rebuild_tensor_v2 called with %zu arguments (expected 6 or 7)", args->n);
        return NULL;
    }
    vc_pk *stor = args->items[0], *off = args->items[1], *size = args->items[2], *stride = args->items[3];
    if (stor->kind != VC_PK_STORAGE) {
        perr(p, VC_STATUS_BAD_FORMAT, "_rebuild_tensor_v2: first argument is a %s, not a storage", vc_pk_kind_name(stor->kind));
        return NULL;
    }
    if (off->kind != VC_PK_INT || off->i < 0) {
        perr(p, VC_STATUS_BAD_FORMAT, "_rebuild_tensor_v2: storage offset is not a non-negative int");
        return NULL;
    }
    if ((size->kind != VC_PK_TUPLE && size->kind != VC_PK_LIST) || (stride->kind != VC_PK_TUPLE && stride->kind != VC_PK_LIST)
        || size->n != stride->n) {
        perr(p, VC_STATUS_BAD_FORMAT, "_rebuild_tensor_v2: size and stride must be tuples of equal length");
        return NULL;
    }
    if (size->n > VC_TENSOR_MAX_DIMS) {
        perr(p, VC_STATUS_LIMIT_EXCEEDED, "_rebuild_tensor_v2: %zu dimensions (limit %d)", size->n, VC_TENSOR_MAX_DIMS);
        return NULL;
    }
    vc_pk *t = new_obj(p, VC_PK_TENSOR);
    if (!t) return NULL;
    t->state = stor;
    t->i = off->i;
    t->ndim = (int32_t)size->n;
    if (size->n) {
        if (!charge(p, 2 * size->n * sizeof(int64_t))) return NULL;
        if (!(t->dims = malloc(2 * size->n * sizeof(int64_t)))) { perr(p, VC_STATUS_OUT_OF_MEMORY, "out of memory"); return NULL; }
    }
    for (size_t k = 0; k < size->n; k++) {
        vc_pk *a = size->items[k], *b = stride->items[k];
        if (a->kind != VC_PK_INT || b->kind != VC_PK_INT || a->i < 0 || b->i < 0) {
            perr(p, VC_STATUS_BAD_FORMAT, "_rebuild_tensor_v2: dimension %zu has a size or stride that is not a non-negative int", k);
            return NULL;
        }
        t->dims[k] = a->i;
        t->dims[size->n + k] = b->i;
    }
    return t;
}

static vc_pk *call(vc_pickle *p, vc_pk *callable, vc_pk *args)
{
    if (callable->kind != VC_PK_GLOBAL) return placeholder(p, callable, args);
    if (is_global(callable, "collections.OrderedDict") || is_global(callable, "builtins.dict"))
        return dict_from(p, callable, args);
    if (is_global(callable, "torch._utils._rebuild_tensor_v2")) return rebuild_tensor(p, args);
    if (is_global(callable, "torch._utils._rebuild_parameter") ||
        is_global(callable, "torch._utils._rebuild_parameter_with_state")) {
        if (args->n < 1 || args->items[0]->kind != VC_PK_TENSOR) {
            perr(p, VC_STATUS_BAD_FORMAT, "%s: first argument is not a tensor", callable->s);
            return NULL;
        }
        return args->items[0];
    }
    if (is_global(callable, "_codecs.encode") && args->n >= 1 && args->items[0]->kind == VC_PK_STR) {
        /* how protocol 2 pickles bytes; the UTF-8 text stands in for the latin1
         * bytes (only used outside state dicts) */
        vc_pk *b = new_obj(p, VC_PK_BYTES);
        if (!b) return NULL;
        b->s = args->items[0]->s;
        b->len = args->items[0]->len;
        return b;
    }
    return placeholder(p, callable, args);
}

/* BINPERSID: ('storage', storage_type, key, location, numel) */
static vc_pk *persistent(vc_pickle *p, vc_pk *pid)
{
    if (pid->kind != VC_PK_TUPLE || pid->n < 5 || !is_str(pid->items[0], "storage")) {
        perr(p, VC_STATUS_UNSUPPORTED, "persistent id is not a ('storage', type, key, location, numel) tuple");
        return NULL;
    }
    vc_pk *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    if (type->kind != VC_PK_GLOBAL || type->stype < 0) {
        perr(p, VC_STATUS_UNSUPPORTED, "storage type %s is not a supported torch storage",
             type->kind == VC_PK_GLOBAL ? type->s : vc_pk_kind_name(type->kind));
        return NULL;
    }
    if (key->kind != VC_PK_STR || numel->kind != VC_PK_INT || numel->i < 0) {
        perr(p, VC_STATUS_BAD_FORMAT, "storage persistent id needs a str key and a non-negative int size");
        return NULL;
    }
    vc_pk *s = new_obj(p, VC_PK_STORAGE);
    if (!s) return NULL;
    s->stype = type->stype;
    s->s = key->s;
    s->len = key->len;
    s->i = numel->i;
    return s;
}

static bool setitems(vc_pickle *p, vc_pk *target, size_t start)
{
    size_t n = p->sn - start;
    if (n % 2) return perr(p, VC_STATUS_BAD_FORMAT, "odd number of items for SETITEMS"), false;
    vc_pk *d = target;
    if (target->kind == VC_PK_OBJECT) {
        if (!target->extra && !(target->extra = new_obj(p, VC_PK_DICT))) return false;
        d = target->extra;
        if (d->kind != VC_PK_DICT) return perr(p, VC_STATUS_BAD_FORMAT, "SETITEM and APPEND on one object"), false;
    } else if (target->kind != VC_PK_DICT) {
        return perr(p, VC_STATUS_BAD_FORMAT, "SETITEM on a %s", vc_pk_kind_name(target->kind)), false;
    }
    if (!grow(p, (void **)&d->items, &d->cap, d->n + n, sizeof(vc_pk *))) return false;
    if (n) memcpy(d->items + d->n, p->stack + start, n * sizeof(vc_pk *));
    d->n += n;
    p->sn = start;
    return true;
}

static bool appends(vc_pickle *p, vc_pk *target, size_t start, bool set_op)
{
    size_t n = p->sn - start;
    vc_pk *l = target;
    if (target->kind == VC_PK_OBJECT) {
        if (!target->extra && !(target->extra = new_obj(p, VC_PK_LIST))) return false;
        l = target->extra;
        if (l->kind != VC_PK_LIST) return perr(p, VC_STATUS_BAD_FORMAT, "SETITEM and APPEND on one object"), false;
    } else if (target->kind != (set_op ? VC_PK_SET : VC_PK_LIST)) {
        return perr(p, VC_STATUS_BAD_FORMAT, "%s on a %s", set_op ? "ADDITEMS" : "APPEND",
                    vc_pk_kind_name(target->kind)), false;
    }
    if (!grow(p, (void **)&l->items, &l->cap, l->n + n, sizeof(vc_pk *))) return false;
    if (n) memcpy(l->items + l->n, p->stack + start, n * sizeof(vc_pk *));
    l->n += n;
    p->sn = start;
    return true;
}

/* ------------------------------------------------------------ main loop */
static vc_pk *run(vc_pickle *p)
{
    uint64_t v;
    const char *s, *s2;
    size_t n, n2, start;
    vc_pk *a, *b, *c;
    while (p->pos < p->len) {
        p->op_pos = p->pos;
        p->op = p->d[p->pos++];
        switch (p->op) {
        case 0x80: /* PROTO */
            if (!arg_le(p, 1, &v)) return NULL;
            if (v > 5) return perr(p, VC_STATUS_UNSUPPORTED, "pickle protocol %llu (at most 5)", (unsigned long long)v), NULL;
            break;
        case 0x95: /* FRAME */
            if (!arg_le(p, 8, &v)) return NULL;
            break;
        case '.': /* STOP */
            return pop(p);
        case '(': /* MARK */
            if (!grow(p, (void **)&p->marks, &p->mcap, p->mn + 1, sizeof(size_t))) return NULL;
            p->marks[p->mn++] = p->sn;
            break;
        case '0': /* POP */
            if (!pop(p)) return NULL;
            break;
        case '1': /* POP_MARK */
            if (!pop_mark(p, &start)) return NULL;
            p->sn = start;
            break;
        case '2': /* DUP */
            if (!(a = top(p)) || !push(p, a)) return NULL;
            break;
        case 'N': if (!push(p, new_obj(p, VC_PK_NONE))) return NULL; break;
        case 0x88: case 0x89:
            if (!(a = new_obj(p, VC_PK_BOOL))) return NULL;
            a->i = p->op == 0x88;
            if (!push(p, a)) return NULL;
            break;
        case 'J': if (!arg_le(p, 4, &v) || !push(p, int_obj(p, (int32_t)(uint32_t)v))) return NULL; break;
        case 'K': if (!arg_le(p, 1, &v) || !push(p, int_obj(p, (int64_t)v))) return NULL; break;
        case 'M': if (!arg_le(p, 2, &v) || !push(p, int_obj(p, (int64_t)v))) return NULL; break;
        case 0x8A: if (!arg_le(p, 1, &v) || !push(p, long_obj(p, v))) return NULL; break;
        case 0x8B: if (!arg_le(p, 4, &v) || !push(p, long_obj(p, v))) return NULL; break;
        case 'I': case 'L':
            if (!line(p, &s, &n) || !push(p, text_int(p, s, n, p->op == 'L'))) return NULL;
            break;
        case 'G': {
            if (!need(p, 8)) return NULL;
            uint64_t bits = 0;
            for (int k = 0; k < 8; k++) bits = bits << 8 | p->d[p->pos + (size_t)k];   /* big-endian */
            p->pos += 8;
            if (!(a = new_obj(p, VC_PK_FLOAT))) return NULL;
            memcpy(&a->f, &bits, 8);
            if (!push(p, a)) return NULL;
            break;
        }
        case 'X': if (!arg_le(p, 4, &v) || !push(p, str_obj(p, VC_PK_STR, v))) return NULL; break;
        case 0x8C: if (!arg_le(p, 1, &v) || !push(p, str_obj(p, VC_PK_STR, v))) return NULL; break;
        case 0x8D: if (!arg_le(p, 8, &v) || !push(p, str_obj(p, VC_PK_STR, v))) return NULL; break;
        case 'T':
            if (!arg_le(p, 4, &v)) return NULL;
            if (v & 0x80000000u) return perr(p, VC_STATUS_BAD_FORMAT, "negative BINSTRING length"), NULL;
            if (!push(p, str_obj(p, VC_PK_STR, v))) return NULL;
            break;
        case 'U': if (!arg_le(p, 1, &v) || !push(p, str_obj(p, VC_PK_STR, v))) return NULL; break;
        case 'B': if (!arg_le(p, 4, &v) || !push(p, str_obj(p, VC_PK_BYTES, v))) return NULL; break;
        case 'C': if (!arg_le(p, 1, &v) || !push(p, str_obj(p, VC_PK_BYTES, v))) return NULL; break;
        case 0x8E: case 0x96:
            if (!arg_le(p, 8, &v) || !push(p, str_obj(p, VC_PK_BYTES, v))) return NULL;
            break;
        case ')': if (!push(p, new_obj(p, VC_PK_TUPLE))) return NULL; break;
        case 't':
            if (!pop_mark(p, &start) || !push(p, items_obj(p, VC_PK_TUPLE, start))) return NULL;
            break;
        case 0x85: case 0x86: case 0x87:
            n = (size_t)(p->op - 0x84);
            if (p->sn - mark_base(p) < n) return perr(p, VC_STATUS_BAD_FORMAT, "stack underflow"), NULL;
            if (!push(p, items_obj(p, VC_PK_TUPLE, p->sn - n))) return NULL;
            break;
        case ']': if (!push(p, new_obj(p, VC_PK_LIST))) return NULL; break;
        case 'l':
            if (!pop_mark(p, &start) || !push(p, items_obj(p, VC_PK_LIST, start))) return NULL;
            break;
        case 'a':
            if (p->sn - mark_base(p) < 2) return perr(p, VC_STATUS_BAD_FORMAT, "stack underflow"), NULL;
            if (!appends(p, p->stack[p->sn - 2], p->sn - 1, false)) return NULL;
            break;
        case 'e':
            if (!pop_mark(p, &start)) return NULL;
            if (start <= mark_base(p)) return perr(p, VC_STATUS_BAD_FORMAT, "APPENDS without a list"), NULL;
            if (!appends(p, p->stack[start - 1], start, false)) return NULL;
            break;
        case '}': if (!push(p, new_obj(p, VC_PK_DICT))) return NULL; break;
        case 'd':
            if (!pop_mark(p, &start)) return NULL;
            if ((p->sn - start) % 2) return perr(p, VC_STATUS_BAD_FORMAT, "odd number of items for DICT"), NULL;
            if (!push(p, items_obj(p, VC_PK_DICT, start))) return NULL;
            break;
        case 's':
            if (p->sn - mark_base(p) < 3) return perr(p, VC_STATUS_BAD_FORMAT, "stack underflow"), NULL;
            if (!setitems(p, p->stack[p->sn - 3], p->sn - 2)) return NULL;
            break;
        case 'u':
            if (!pop_mark(p, &start)) return NULL;
            if (start <= mark_base(p)) return perr(p, VC_STATUS_BAD_FORMAT, "SETITEMS without a dict"), NULL;
            if (!setitems(p, p->stack[start - 1], start)) return NULL;
            break;
        case 0x8F: if (!push(p, new_obj(p, VC_PK_SET))) return NULL; break;
        case 0x90:
            if (!pop_mark(p, &start)) return NULL;
            if (start <= mark_base(p)) return perr(p, VC_STATUS_BAD_FORMAT, "ADDITEMS without a set"), NULL;
            if (!appends(p, p->stack[start - 1], start, true)) return NULL;
            break;
        case 0x91:
            if (!pop_mark(p, &start) || !push(p, items_obj(p, VC_PK_SET, start))) return NULL;
            break;
        case 'c':
            if (!line(p, &s, &n) || !line(p, &s2, &n2) || !push(p, global_obj(p, s, n, s2, n2))) return NULL;
            break;
        case 0x93:
            if (!(b = pop(p)) || !(a = pop(p))) return NULL;
            if (a->kind != VC_PK_STR || b->kind != VC_PK_STR)
                return perr(p, VC_STATUS_BAD_FORMAT, "STACK_GLOBAL needs two strings"), NULL;
            if (!push(p, global_obj(p, a->s, a->len, b->s, b->len))) return NULL;
            break;
        case 'R':
            if (!(b = pop(p)) || !(a = pop(p))) return NULL;
            if (b->kind != VC_PK_TUPLE) return perr(p, VC_STATUS_BAD_FORMAT, "REDUCE arguments are a %s, not a tuple", vc_pk_kind_name(b->kind)), NULL;
            if (!push(p, call(p, a, b))) return NULL;
            break;
        case 0x81:
            if (!(b = pop(p)) || !(a = pop(p))) return NULL;
            if (b->kind != VC_PK_TUPLE) return perr(p, VC_STATUS_BAD_FORMAT, "NEWOBJ arguments are not a tuple"), NULL;
            if (is_global(a, "collections.OrderedDict") || is_global(a, "builtins.dict")) c = new_obj(p, VC_PK_DICT);
            else c = placeholder(p, a, b);
            if (!push(p, c)) return NULL;
            break;
        case 0x92:
            if (!(c = pop(p)) || !(b = pop(p)) || !(a = pop(p))) return NULL;
            if (b->kind != VC_PK_TUPLE) return perr(p, VC_STATUS_BAD_FORMAT, "NEWOBJ_EX arguments are not a tuple"), NULL;
            if (!push(p, placeholder(p, a, b))) return NULL;
            break;
        case 'b':
            if (!(b = pop(p)) || !(a = top(p))) return NULL;
            if (a->kind == VC_PK_OBJECT) a->state = b;   /* recorded, never applied */
            /* OrderedDict's _metadata and other attribute states: accepted and ignored (§9.3) */
            break;
        case 'Q':
            if (!(a = pop(p)) || !push(p, persistent(p, a))) return NULL;
            break;
        case 'q': if (!arg_le(p, 1, &v) || !(a = top(p)) || !memo_put(p, v, a)) return NULL; break;
        case 'r': if (!arg_le(p, 4, &v) || !(a = top(p)) || !memo_put(p, v, a)) return NULL; break;
        case 0x94: if (!(a = top(p)) || !memo_put(p, p->memo_n, a)) return NULL; break;
        case 'h': if (!arg_le(p, 1, &v) || !push(p, memo_get(p, v))) return NULL; break;
        case 'j': if (!arg_le(p, 4, &v) || !push(p, memo_get(p, v))) return NULL; break;
        case 'p': case 'g': {
            if (!line(p, &s, &n)) return NULL;
            uint64_t idx = 0;
            if (!n || n > 19) return perr(p, VC_STATUS_BAD_FORMAT, "malformed memo index"), NULL;
            for (size_t k = 0; k < n; k++) {
                if (s[k] < '0' || s[k] > '9') return perr(p, VC_STATUS_BAD_FORMAT, "malformed memo index"), NULL;
                idx = idx * 10 + (uint64_t)(s[k] - '0');
            }
            if (p->op == 'p') { if (!(a = top(p)) || !memo_put(p, idx, a)) return NULL; }
            else if (!push(p, memo_get(p, idx))) return NULL;
            break;
        }
        default:
            perr(p, VC_STATUS_BAD_FORMAT, "opcode not allowed in a checkpoint pickle (spec §9.3)");
            return NULL;
        }
    }
    perr(p, VC_STATUS_BAD_FORMAT, "pickle ends without STOP (truncated?)");
    return NULL;
}

vc_status vc_pickle_load(vc_context *ctx, const char *what, const uint8_t *data, size_t len,
                         vc_pickle **out, const vc_pk **root)
{
    *out = NULL;
    *root = NULL;
    vc_pickle *p = calloc(1, sizeof *p);
    if (!p) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    p->ctx = ctx;
    p->what = what;
    p->d = data;
    p->len = len;
    p->budget = PK_BUDGET_BASE + (uint64_t)len * PK_BUDGET_PER_BYTE;
    vc_pk *r = run(p);
    if (!r) {
        vc_status st = p->st != VC_STATUS_OK ? p->st : vc_fail(ctx, VC_STATUS_INTERNAL, "%s: pickle failed", what);
        vc_pickle_free(p);
        return st;
    }
    /* the working stacks are no longer needed */
    free(p->stack); p->stack = NULL;
    free(p->marks); p->marks = NULL;
    free(p->memo); p->memo = NULL;
    *out = p;
    *root = r;
    return VC_STATUS_OK;
}

void vc_pickle_free(vc_pickle *p)
{
    if (!p) return;
    for (vc_pk *o = p->objects, *next; o; o = next) {
        next = o->next_alloc;
        free(o->items);
        free(o->dims);
        free(o);
    }
    for (size_t i = 0; i < p->strn; i++) free(p->strings[i]);
    free(p->strings);
    free(p->stack);
    free(p->marks);
    free(p->memo);
    free(p);
}

const vc_pk *vc_pk_dict_get(const vc_pk *dict, const char *key)
{
    if (!dict || dict->kind != VC_PK_DICT) return NULL;
    const vc_pk *found = NULL;
    for (size_t i = 0; i + 1 < dict->n; i += 2)
        if (is_str(dict->items[i], key)) found = dict->items[i + 1];   /* last assignment wins, as in Python */
    return found;
}

uint64_t vc_pickle_used(const vc_pickle *p) { return p ? p->used : 0; }
