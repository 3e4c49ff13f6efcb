/* tokenizer.c - merges file, byte-level BPE, pre-tokenizer and framing of
 * open_clip 2.22's SimpleTokenizer (spec §2.2-§2.5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tokenizer.h"

#define MAX_VOCAB_FILE_BYTES ((size_t)64 << 20)   /* compressed or plain, and inflated */
#define CACHE_SLOTS 16384                         /* power of two */
#define CACHE_MAX_ENTRIES (CACHE_SLOTS / 2)
#define CACHE_MAX_IDS ((size_t)1 << 20)
#define CACHE_MAX_KEY_BYTES ((size_t)4 << 20)

typedef struct pair_slot {
    uint64_t key;      /* (a << 32 | b) + 1; 0 = empty */
    int32_t rank, result;
} pair_slot;

typedef struct cache_slot {
    uint64_t hash;
    uint32_t key_off, key_len;
    uint32_t ids_off, n_ids;
    bool used;
} cache_slot;

typedef struct heap_entry {
    int32_t rank, pos, left, right, rpos;
} heap_entry;

struct vc_tokenizer {
    int32_t byte_id[256];        /* word-inner symbol of each byte */
    int32_t byte_id_final[256];  /* the same followed by </w> */
    pair_slot *pairs;
    size_t pair_cap;             /* power of two */
    /* per-word cache (spec §2.4: results may be cached per word) */
    cache_slot *cache;
    size_t cache_entries;
    unsigned char *cache_keys;
    size_t cache_keys_len, cache_keys_cap;
    int32_t *cache_ids;
    size_t cache_ids_len, cache_ids_cap;
    /* BPE scratch */
    int32_t *sym, *next, *prev;
    heap_entry *heap;
    size_t scratch_cap, heap_cap;
};

static uint64_t hash_u64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* FNV-1a, then a finaliser so the low bits (the table index) are well mixed */
static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ull;
    }
    return hash_u64(h);
}

/* ---------------------------------------------------- byte alphabet (§2.3) */

/* Index of byte b in the vocabulary order 33..126, 161..172, 174..255, then
 * the remaining 68 bytes in increasing order. */
static int byte_index(unsigned b)
{
    if (b >= 33 && b <= 126) return (int)b - 33;
    if (b >= 161 && b <= 172) return 94 + (int)b - 161;
    if (b >= 174) return 106 + (int)b - 174;
    if (b <= 32) return 188 + (int)b;
    if (b >= 127 && b <= 160) return 188 + 33 + (int)b - 127;
    return 255; /* 173 */
}

/* Code point that stands for byte b: itself for the printable ones, else
 * U+0100 + its rank among the 68 others. */
static uint32_t byte_char(unsigned b)
{
    int i = byte_index(b);
    return i < 188 ? b : 256u + (uint32_t)(i - 188);
}

/* -------------------------------------------------- string table (build) */

typedef struct str_slot {
    const char *s;
    uint32_t len;
    int32_t id;
} str_slot;

typedef struct str_table {
    str_slot *slots;
    size_t cap;
} str_table;

static str_slot *str_lookup(str_table *t, const char *s, size_t len)
{
    size_t i = hash_bytes(s, len) & (t->cap - 1);
    for (;;) {
        str_slot *e = &t->slots[i];
        if (!e->s || (e->len == len && memcmp(e->s, s, len) == 0)) return e;
        i = (i + 1) & (t->cap - 1);
    }
}

/* Inserting an existing string overwrites its id: Python's dict(zip(vocab,
 * range)) keeps the last index of a repeated entry. */
static void str_insert(str_table *t, const char *s, size_t len, int32_t id)
{
    str_slot *e = str_lookup(t, s, len);
    e->s = s;
    e->len = (uint32_t)len;
    e->id = id;
}

static int32_t str_find(str_table *t, const char *s, size_t len)
{
    str_slot *e = str_lookup(t, s, len);
    return e->s ? e->id : -1;
}

/* ---------------------------------------------------------- merges file */

static vc_status inflate_all(vc_context *ctx, const char *what, const unsigned char *src, size_t len,
                             char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len >= 2 && src[0] == 0x1F && src[1] == 0x8B) {
        z_stream zs;
        memset(&zs, 0, sizeof zs);
        if (inflateInit2(&zs, 15 + 32) != Z_OK)
            return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: cannot start zlib", what);
        size_t cap = 1u << 20, n = 0, lines = 0;
        char *buf = malloc(cap + 1);
        if (!buf) {
            inflateEnd(&zs);
            return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory inflating", what);
        }
        zs.next_in = (unsigned char *)(uintptr_t)src;
        zs.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
        int zr;
        do {
            if (n == cap) {
                if (cap >= MAX_VOCAB_FILE_BYTES) {
                    inflateEnd(&zs);
                    free(buf);
                    return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: inflates to more than %zu bytes", what,
                                   MAX_VOCAB_FILE_BYTES);
                }
                char *nb = realloc(buf, cap * 2 + 1);
                if (!nb) {
                    inflateEnd(&zs);
                    free(buf);
                    return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory inflating", what);
                }
                buf = nb;
                cap *= 2;
            }
            size_t chunk = cap - n < 65536 ? cap - n : 65536;
            zs.next_out = (unsigned char *)buf + n;
            zs.avail_out = (uInt)chunk;
            zr = inflate(&zs, Z_NO_FLUSH);
            size_t got = chunk - zs.avail_out;
            for (size_t i = n; i < n + got; i++) lines += buf[i] == '\n';
            n += got;
            /* only the header and the merges are used (spec §2.3): stop there */
            if (zr == Z_OK && lines > VC_TEXT_N_MERGES) zr = Z_STREAM_END;
            if (zr == Z_BUF_ERROR && zs.avail_in == 0) break; /* truncated stream */
        } while (zr == Z_OK || (zr == Z_BUF_ERROR && n == cap));
        inflateEnd(&zs);
        if (zr != Z_STREAM_END) {
            free(buf);
            return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: corrupt or truncated gzip data (zlib %d)", what, zr);
        }
        buf[n] = '\0';
        *out = buf;
        *out_len = n;
        return VC_STATUS_OK;
    }
    char *buf = malloc(len + 1);
    if (!buf) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    memcpy(buf, src, len);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return VC_STATUS_OK;
}

static vc_status read_file(vc_context *ctx, const char *path, unsigned char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot open vocabulary file '%s': %s", path, strerror(errno));
    size_t cap = 1u << 20, n = 0;
    unsigned char *buf = malloc(cap);
    vc_status st = VC_STATUS_OK;
    while (buf) {
        if (n == cap) {
            if (cap >= MAX_VOCAB_FILE_BYTES) {
                st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "vocabulary file '%s' is larger than %zu bytes", path,
                             MAX_VOCAB_FILE_BYTES);
                break;
            }
            unsigned char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) st = vc_fail(ctx, VC_STATUS_IO_ERROR, "cannot read vocabulary file '%s'", path);
            break;
        }
    }
    fclose(f);
    if (!buf) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory reading '%s'", path);
    if (st != VC_STATUS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return VC_STATUS_OK;
}

static bool is_sep(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

typedef struct merge_line {
    const char *a, *b, *ab;      /* halves in the text; their concatenation */
    uint32_t alen, blen;
} merge_line;

/* Builds the pair table from the merges text (spec §2.3): line 0 is a header,
 * lines 1..48894 are "a b". */
static vc_status build_tables(vc_context *ctx, const char *what, const char *text, size_t len, vc_tokenizer *tok)
{
    merge_line *ml = calloc(VC_TEXT_N_MERGES, sizeof *ml);
    str_table st = {0};
    st.cap = 1u << 17;
    st.slots = calloc(st.cap, sizeof *st.slots);
    /* a+b of each merge and the 512 base symbols, back to back */
    char *concat = malloc(len + 512 * 8 + 64);
    tok->pair_cap = 1u << 17;
    tok->pairs = calloc(tok->pair_cap, sizeof *tok->pairs);
    vc_status status = VC_STATUS_OK;
    if (!ml || !st.slots || !concat || !tok->pairs) {
        status = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory building the BPE tables");
        goto done;
    }
    /* split lines */
    const char *p = text, *end = text + len;
    const char *nl = memchr(p, '\n', len);
    if (!nl) {
        status = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: not a BPE merges file (no line break)", what);
        goto done;
    }
    p = nl + 1;
    for (int32_t r = 0; r < VC_TEXT_N_MERGES; r++) {
        if (p >= end) {
            status = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: has %d merge lines; %d are needed", what, (int)r,
                             VC_TEXT_N_MERGES);
            goto done;
        }
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (!e) e = end;
        const char *q = p;
        while (q < e && is_sep(*q)) q++;
        const char *a = q;
        while (q < e && !is_sep(*q)) q++;
        const char *ae = q;
        while (q < e && is_sep(*q)) q++;
        const char *b = q;
        while (q < e && !is_sep(*q)) q++;
        const char *be = q;
        while (q < e && is_sep(*q)) q++;
        if (a == ae || b == be || q != e) {
            status = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: line %d is not two space-separated symbols", what,
                             (int)r + 2);
            goto done;
        }
        ml[r] = (merge_line){a, b, NULL, (uint32_t)(ae - a), (uint32_t)(be - b)};
        p = e + 1;
    }
    /* vocabulary strings in id order (later duplicates win, as in Python) */
    char *cp = concat;
    for (int fin = 0; fin < 2; fin++) {
        for (unsigned bb = 0; bb < 256; bb++) {
            uint32_t c = byte_char(bb);
            char *s = cp;
            if (c < 0x80) *cp++ = (char)c;
            else {
                *cp++ = (char)(0xC0 | (c >> 6));
                *cp++ = (char)(0x80 | (c & 0x3F));
            }
            if (fin) {
                memcpy(cp, "</w>", 4);
                cp += 4;
            }
            str_insert(&st, s, (size_t)(cp - s), byte_index(bb) + 256 * fin);
        }
    }
    for (int32_t r = 0; r < VC_TEXT_N_MERGES; r++) {
        char *s = cp;
        ml[r].ab = s;
        memcpy(cp, ml[r].a, ml[r].alen);
        cp += ml[r].alen;
        memcpy(cp, ml[r].b, ml[r].blen);
        cp += ml[r].blen;
        str_insert(&st, s, (size_t)(cp - s), 512 + r);
    }
    str_insert(&st, "<start_of_text>", 15, VC_TOKEN_SOT);
    str_insert(&st, "<end_of_text>", 13, VC_TOKEN_EOT);
    /* canonical ids of the byte symbols */
    for (unsigned bb = 0; bb < 256; bb++) {
        uint32_t c = byte_char(bb);
        char s[8];
        size_t n = 0;
        if (c < 0x80) s[n++] = (char)c;
        else {
            s[n++] = (char)(0xC0 | (c >> 6));
            s[n++] = (char)(0x80 | (c & 0x3F));
        }
        tok->byte_id[bb] = str_find(&st, s, n);
        memcpy(s + n, "</w>", 4);
        tok->byte_id_final[bb] = str_find(&st, s, n + 4);
    }
    /* merge ranks keyed by the canonical ids of the two halves */
    for (int32_t r = 0; r < VC_TEXT_N_MERGES; r++) {
        int32_t ia = str_find(&st, ml[r].a, ml[r].alen);
        int32_t ib = str_find(&st, ml[r].b, ml[r].blen);
        int32_t res = str_find(&st, ml[r].ab, ml[r].alen + ml[r].blen);
        if (ia < 0 || ib < 0) continue; /* halves that never occur: the pair can never form */
        uint64_t key = ((uint64_t)(uint32_t)ia << 32 | (uint32_t)ib) + 1;
        size_t i = hash_u64(key) & (tok->pair_cap - 1);
        while (tok->pairs[i].key && tok->pairs[i].key != key) i = (i + 1) & (tok->pair_cap - 1);
        tok->pairs[i] = (pair_slot){key, r, res}; /* a repeated pair keeps the last rank (dict semantics) */
    }
done:
    free(ml);
    free(st.slots);
    free(concat);
    return status;
}

/* ------------------------------------------------------------ lifecycle */

void vc_tokenizer_free(vc_tokenizer *tok)
{
    if (!tok) return;
    free(tok->pairs);
    free(tok->cache);
    free(tok->cache_keys);
    free(tok->cache_ids);
    free(tok->sym);
    free(tok->next);
    free(tok->prev);
    free(tok->heap);
    free(tok);
}

vc_status vc_tokenizer_create(vc_context *ctx, const char *vocab_path, vc_tokenizer **out)
{
    *out = NULL;
    vc_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the tokenizer");
    unsigned char *file = NULL;
    size_t file_len = 0;
    const unsigned char *src = vc_text_vocab_gz;
    size_t src_len = (size_t)(vc_text_vocab_gz_end - vc_text_vocab_gz);
    char what[512];
    snprintf(what, sizeof what, "built-in vocabulary");
    vc_status st = VC_STATUS_OK;
    if (vocab_path) {
        snprintf(what, sizeof what, "vocabulary file '%s'", vocab_path);
        st = read_file(ctx, vocab_path, &file, &file_len);
        src = file;
        src_len = file_len;
    }
    char *text = NULL;
    size_t text_len = 0;
    if (st == VC_STATUS_OK) st = inflate_all(ctx, what, src, src_len, &text, &text_len);
    free(file);
    if (st == VC_STATUS_OK) st = build_tables(ctx, what, text, text_len, tok);
    free(text);
    if (st == VC_STATUS_OK) {
        tok->cache = calloc(CACHE_SLOTS, sizeof *tok->cache);
        if (!tok->cache) st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory creating the tokenizer");
    }
    if (st != VC_STATUS_OK) {
        vc_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return VC_STATUS_OK;
}

vc_status vc_context_tokenizer(vc_context *ctx, vc_tokenizer **out)
{
    if (!ctx->tokenizer) {
        const char *path = ctx->vocab_path;
        if (!path) {
            const char *env = getenv("VIDEOCRAFTER_VOCAB");
            if (env && *env) path = env;
        }
        vc_status st = vc_tokenizer_create(ctx, path, &ctx->tokenizer);
        if (st != VC_STATUS_OK) return st;
    }
    *out = ctx->tokenizer;
    return VC_STATUS_OK;
}

/* ------------------------------------------------------------- BPE (§2.4) */

bool vc_tokenizer_merge(const vc_tokenizer *tok, int32_t a, int32_t b, int32_t *rank, int32_t *result)
{
    if (a < 0 || b < 0) return false;
    uint64_t key = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = hash_u64(key) & (tok->pair_cap - 1);
    for (;;) {
        const pair_slot *e = &tok->pairs[i];
        if (!e->key) return false;
        if (e->key == key) {
            *rank = e->rank;
            *result = e->result;
            return true;
        }
        i = (i + 1) & (tok->pair_cap - 1);
    }
}

int32_t vc_tokenizer_byte_id(const vc_tokenizer *tok, unsigned char b, bool final)
{
    return final ? tok->byte_id_final[b] : tok->byte_id[b];
}

static bool heap_less(const heap_entry *x, const heap_entry *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->pos < y->pos);
}

static void heap_push(vc_tokenizer *tok, size_t *n, heap_entry e)
{
    size_t i = (*n)++;
    heap_entry *h = tok->heap;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&e, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = e;
}

static heap_entry heap_pop(vc_tokenizer *tok, size_t *n)
{
    heap_entry *h = tok->heap;
    heap_entry top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && heap_less(&h[c + 1], &h[c])) c++;
        if (!heap_less(&h[c], &last)) break;
        h[i] = h[c];
        i = c;
    }
    if (*n) h[i] = last;
    return top;
}

static void push_pair(vc_tokenizer *tok, size_t *hn, int32_t pos)
{
    int32_t q = tok->next[pos], rank, res;
    if (q < 0) return;
    if (vc_tokenizer_merge(tok, tok->sym[pos], tok->sym[q], &rank, &res))
        heap_push(tok, hn, (heap_entry){rank, pos, tok->sym[pos], tok->sym[q], q});
}

static bool scratch_reserve(vc_tokenizer *tok, size_t n)
{
    if (n <= tok->scratch_cap) return true;
    size_t cap = tok->scratch_cap ? tok->scratch_cap : 64;
    while (cap < n) cap *= 2;
    int32_t *a = realloc(tok->sym, cap * sizeof *a);
    if (a) tok->sym = a;
    int32_t *b = realloc(tok->next, cap * sizeof *b);
    if (b) tok->next = b;
    int32_t *c = realloc(tok->prev, cap * sizeof *c);
    if (c) tok->prev = c;
    /* every merge adds at most two entries: n initial + 2n */
    heap_entry *h = realloc(tok->heap, 3 * cap * sizeof *h);
    if (h) tok->heap = h;
    if (!a || !b || !c || !h) return false;
    tok->scratch_cap = cap;
    return true;
}

/* Python's loop merges, for the lowest-ranked pair present, every
 * non-overlapping occurrence left to right, then looks again. Here: a heap
 * of (rank, position) candidates; all entries of the lowest rank are one pair
 * and come out in position order, so one "phase" per rank reproduces the
 * Python pass exactly; stale entries are skipped. Pairs created during a
 * phase wait for the next one, as in Python. */
static int64_t bpe_word(vc_tokenizer *tok, const unsigned char *bytes, size_t n)
{
    if (n > INT32_MAX / 4 || !scratch_reserve(tok, n)) return -1;
    int32_t *sym = tok->sym, *next = tok->next, *prev = tok->prev;
    for (size_t i = 0; i < n; i++) {
        sym[i] = i + 1 < n ? tok->byte_id[bytes[i]] : tok->byte_id_final[bytes[i]];
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        prev[i] = (int32_t)i - 1;
    }
    size_t hn = 0, nsym = n;
    for (size_t i = 0; i + 1 < n; i++) push_pair(tok, &hn, (int32_t)i);
    while (hn && nsym > 1) {
        int32_t rank = tok->heap[0].rank;
        /* the entries of this rank, in position order, are popped one by one;
         * merges never create this same pair again (the merged symbol is
         * longer than either half) */
        while (hn && tok->heap[0].rank == rank) {
            heap_entry e = heap_pop(tok, &hn);
            int32_t p = e.pos, q = next[p];
            if (sym[p] != e.left || q != e.rpos || q < 0 || sym[q] != e.right) continue; /* stale */
            int32_t r_rank, res;
            vc_tokenizer_merge(tok, e.left, e.right, &r_rank, &res);
            sym[p] = res;
            next[p] = next[q];
            if (next[q] >= 0) prev[next[q]] = p;
            sym[q] = -1;
            next[q] = -1;
            nsym--;
            /* new neighbours: they carry other ranks, so they wait in the heap */
            if (prev[p] >= 0) push_pair(tok, &hn, prev[p]);
            push_pair(tok, &hn, p);
        }
    }
    return (int64_t)nsym;
}

/* Copies the symbols bpe_word left in the scratch list. */
static void bpe_copy(const vc_tokenizer *tok, int32_t *ids, size_t cap)
{
    size_t k = 0;
    for (int32_t p = 0; p >= 0 && k < cap; p = tok->next[p]) ids[k++] = tok->sym[p];
}

static void cache_clear(vc_tokenizer *tok)
{
    memset(tok->cache, 0, CACHE_SLOTS * sizeof *tok->cache);
    tok->cache_entries = 0;
    tok->cache_keys_len = 0;
    tok->cache_ids_len = 0;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 4096;
    while (c < need) c *= 2;
    void *n = realloc(*p, c * elem);
    if (!n) return false;
    *p = n;
    *cap = c;
    return true;
}

int64_t vc_tokenizer_bpe(vc_tokenizer *tok, const unsigned char *bytes, size_t n, int32_t *ids, size_t cap)
{
    if (n == 0) return 0;
    /* the two cache entries open_clip starts with (spec §2.2 quirk) */
    if (n == 15 && memcmp(bytes, "<start_of_text>", 15) == 0) {
        if (cap) ids[0] = VC_TOKEN_SOT;
        return 1;
    }
    if (n == 13 && memcmp(bytes, "<end_of_text>", 13) == 0) {
        if (cap) ids[0] = VC_TOKEN_EOT;
        return 1;
    }
    uint64_t h = hash_bytes(bytes, n);
    size_t i = h & (CACHE_SLOTS - 1);
    while (tok->cache[i].used) {
        cache_slot *e = &tok->cache[i];
        if (e->hash == h && e->key_len == n && memcmp(tok->cache_keys + e->key_off, bytes, n) == 0) {
            size_t m = e->n_ids < cap ? e->n_ids : cap;
            memcpy(ids, tok->cache_ids + e->ids_off, m * sizeof *ids);
            return e->n_ids;
        }
        i = (i + 1) & (CACHE_SLOTS - 1);
    }
    int64_t k = bpe_word(tok, bytes, n);
    if (k < 0) return -1;
    /* long words are not cached: they would evict everything */
    if (n > 4096) {
        bpe_copy(tok, ids, cap);
        return k;
    }
    if (tok->cache_entries >= CACHE_MAX_ENTRIES || tok->cache_ids_len + (size_t)k > CACHE_MAX_IDS ||
        tok->cache_keys_len + n > CACHE_MAX_KEY_BYTES) {
        cache_clear(tok);
        i = h & (CACHE_SLOTS - 1);
    }
    if (!grow((void **)&tok->cache_keys, &tok->cache_keys_cap, tok->cache_keys_len + n, 1) ||
        !grow((void **)&tok->cache_ids, &tok->cache_ids_cap, tok->cache_ids_len + (size_t)k, sizeof(int32_t)))
        return -1;
    int32_t *dst = tok->cache_ids + tok->cache_ids_len;
    bpe_copy(tok, dst, (size_t)k);
    while (tok->cache[i].used) i = (i + 1) & (CACHE_SLOTS - 1);
    tok->cache[i] = (cache_slot){h, (uint32_t)tok->cache_keys_len, (uint32_t)n, (uint32_t)tok->cache_ids_len,
                                 (uint32_t)k, true};
    memcpy(tok->cache_keys + tok->cache_keys_len, bytes, n);
    tok->cache_keys_len += n;
    tok->cache_ids_len += (size_t)k;
    tok->cache_entries++;
    size_t m = (size_t)k < cap ? (size_t)k : cap;
    memcpy(ids, dst, m * sizeof *ids);
    return k;
}

/* ------------------------------------------------- pre-tokenizer (§2.2) */

/* One literal character of the regex under re.IGNORECASE (simple case
 * folding): the text is lower-case, but 's' also matches U+017F (long s). */
static bool lit_eq(char lit, uint32_t c)
{
    if (c == (unsigned char)lit) return true;
    if (lit >= 'a' && lit <= 'z' && c == (uint32_t)(lit - 32)) return true;
    return lit == 's' && c == 0x17F;
}

static size_t match_lit(const uint32_t *s, size_t n, const char *lit)
{
    size_t k = 0;
    for (; lit[k]; k++)
        if (k >= n || !lit_eq(lit[k], s[k])) return 0;
    return k;
}

static size_t encode_utf8(const uint32_t *s, size_t n, unsigned char *o)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = s[i];
        if (c < 0x80) o[m++] = (unsigned char)c;
        else if (c < 0x800) { o[m++] = (unsigned char)(0xC0 | (c >> 6)); o[m++] = (unsigned char)(0x80 | (c & 0x3F)); }
        else if (c < 0x10000) {
            o[m++] = (unsigned char)(0xE0 | (c >> 12));
            o[m++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[m++] = (unsigned char)(0x80 | (c & 0x3F));
        } else {
            o[m++] = (unsigned char)(0xF0 | (c >> 18));
            o[m++] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
            o[m++] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
            o[m++] = (unsigned char)(0x80 | (c & 0x3F));
        }
    }
    return m;
}

vc_status vc_tokenizer_encode(vc_context *ctx, vc_tokenizer *tok, const char *utf8, int64_t tokens[VC_TEXT_CONTEXT_LENGTH])
{
    const int L = VC_TEXT_CONTEXT_LENGTH;
    for (int i = 0; i < L; i++) tokens[i] = 0;
    size_t len = strlen(utf8);
    if (len > VC_PROMPT_MAX_BYTES)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "prompt is %zu bytes long; the limit is %d bytes", len,
                       VC_PROMPT_MAX_BYTES);
    uint32_t *cp = NULL;
    size_t n = 0;
    vc_status st = vc_text_clean(ctx, utf8, len, &cp, &n);
    if (st != VC_STATUS_OK) return st;
    unsigned char *wb = malloc(4 * n + 1);
    if (!wb) {
        free(cp);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory tokenizing a %zu-byte prompt", len);
    }
    /* Only the first L-2 ids survive framing (spec §2.5: a longer sequence is
     * cut to L and its last entry becomes EOT), so words after that are not
     * needed. */
    int32_t ids[VC_TEXT_CONTEXT_LENGTH];
    size_t nid = 0, want = (size_t)L - 2;
    size_t i = 0;
    while (i < n && nid < want) {
        size_t k = match_lit(cp + i, n - i, "<start_of_text>");
        if (!k) k = match_lit(cp + i, n - i, "<end_of_text>");
        if (!k && cp[i] == '\'') {
            static const char *const contractions[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"};
            for (size_t c = 0; c < 7 && !k; c++) k = match_lit(cp + i, n - i, contractions[c]);
        }
        if (!k) {
            int cls = vc_text_class(cp[i]);
            if (cls == 0 || cls == 4) {
                i++;
                continue;
            }
            k = 1;
            if (cls != 2)
                while (i + k < n && vc_text_class(cp[i + k]) == cls) k++;
        }
        size_t m = encode_utf8(cp + i, k, wb);
        int64_t got = vc_tokenizer_bpe(tok, wb, m, ids + nid, want - nid);
        if (got < 0) {
            free(wb);
            free(cp);
            return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "out of memory in BPE of a %zu-byte word", m);
        }
        nid += (size_t)got < want - nid ? (size_t)got : want - nid;
        i += k;
    }
    free(wb);
    free(cp);
    tokens[0] = VC_TOKEN_SOT;
    for (size_t j = 0; j < nid; j++) tokens[1 + j] = ids[j];
    tokens[1 + nid] = VC_TOKEN_EOT;
    return VC_STATUS_OK;
}
