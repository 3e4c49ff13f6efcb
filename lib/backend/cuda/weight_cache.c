/* weight_cache.c - device copies of the weight-like inputs of ops.
 *
 * Weights arrive as host pointers (the weight store's arrays). Each is
 * uploaded once per kind of copy (float32, rounded to half, the raw halves of
 * a half-resident weight, a temporal convolution's taps-major order) and found
 * again by its address, with a fingerprint of the contents so that another
 * model mapped at the same address is not mistaken for the old one. Device
 * pointers (the arena's memory: per-layer widened weights, embedding vectors)
 * pass through.
 *
 * When device memory runs out, an allocation of the backend (dev_malloc)
 * frees the scratch buffers unused for a step, then copies the current op has
 * not touched, then the other idle scratch, and tries again. Which copies go
 * is a guess at the one needed latest, from each copy's reuse distance (the
 * ops between its last two uses):
 *  - first, copies overdue by a quarter of that distance, oldest first (a
 *    freed model's, which the cache cannot see being freed, or a text
 *    encoder's between prompts); a copy used once is overdue after the
 *    latest reuse distance seen;
 *  - then the copy whose next use is furthest away. A sampling loop uses its
 *    weights in the same order every step, so that is the one used most
 *    recently: a model larger than the GPU keeps a fixed part resident and
 *    uploads the rest each step, where least-recently-used would upload all
 *    of it every step.
 */
#include <stdlib.h>
#include <string.h>

#include "cuda_impl.h"

enum { COPY_DEAD = -1 }; /* a freed slot left in its probe chain until the next rehash */

/* An evicted copy leaves a ghost (dev NULL, its last use kept): uploaded
 * again into the same slot, the copy knows its reuse distance, which the
 * eviction order needs.
 * Ghosts are hints: a rehash drops them all once they outnumber the live
 * copies by this many (a context loading model after model). */
enum { MAX_SPARE_GHOSTS = 4096 };

static bool is_ghost(const weight_slot *sl) { return sl->kind != COPY_DEAD && !sl->dev; }

static size_t hash_key(const void *p, int kind, size_t n)
{
    return ((((uintptr_t)p >> 2) ^ ((uintptr_t)kind << 60)) * 0x9E3779B97F4A7C15ull >> 7) & (n - 1);
}

/* the table rebuilt at n slots (a power of two) without the dead ones */
static bool rehash(cuda_impl *c, size_t n)
{
    weight_slot *s = calloc(n, sizeof *s);
    if (!s) return false;
    size_t live = 0, ghosts = 0, used = 0;
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i].host && c->slots[i].kind != COPY_DEAD) *(is_ghost(&c->slots[i]) ? &ghosts : &live) += 1;
    const bool keep_ghosts = ghosts <= live + MAX_SPARE_GHOSTS;
    for (size_t i = 0; i < c->n_slots; i++) {
        const weight_slot *old = &c->slots[i];
        if (!old->host || old->kind == COPY_DEAD || (is_ghost(old) && !keep_ghosts)) continue;
        size_t h = hash_key(old->host, old->kind, n);
        while (s[h].host) h = (h + 1) & (n - 1);
        s[h] = *old;
        used++;
    }
    free(c->slots);
    c->slots = s;
    c->n_slots = n;
    c->used_slots = used;
    return true;
}

/* Room for one more slot (at most half the table in use): the table rebuilt
 * without its dead slots (other contents seen at a cached address), twice as
 * large only if the others fill a quarter. */
static bool make_room(cuda_impl *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->n_slots; i++) kept += c->slots[i].host && c->slots[i].kind != COPY_DEAD;
    size_t n = c->n_slots ? c->n_slots : 4096;
    while ((kept + 1) * 4 > n) n *= 2;
    return rehash(c, n) && (c->used_slots + 1) * 2 <= c->n_slots;
}

static weight_slot *find_slot(cuda_impl *c, const void *p, int kind)
{
    if (!c->n_slots) return NULL;
    for (size_t h = hash_key(p, kind, c->n_slots); c->slots[h].host; h = (h + 1) & (c->n_slots - 1))
        if (c->slots[h].host == p && c->slots[h].kind == kind) return &c->slots[h];
    return NULL;
}

static void drop_slot(cuda_impl *c, weight_slot *sl)
{
    cudaFree(sl->dev); /* waits for queued work that may read it */
    sl->dev = NULL;
    sl->kind = COPY_DEAD;
}

static void evict_slot(cuda_impl *c, weight_slot *sl)
{
    cudaFree(sl->dev);
    sl->dev = NULL; /* a ghost */
}

struct evict_entry {
    int overdue;   /* 1: probably not needed again soon (goes first, oldest first) */
    uint64_t next; /* predicted op of the next use; UINT64_MAX: unknown (used once) */
    uint64_t used;
    size_t slot;
};

static int by_eviction_order(const void *a, const void *b)
{
    const struct evict_entry *x = a, *y = b;
    if (x->overdue != y->overdue) return y->overdue - x->overdue;
    if (x->overdue) return x->used < y->used ? -1 : x->used > y->used;
    if (x->next != y->next) return x->next > y->next ? -1 : 1; /* furthest first */
    return x->used > y->used ? -1 : x->used < y->used;         /* then the most recent */
}

static struct evict_entry eviction_entry(const cuda_impl *c, const weight_slot *sl, size_t slot)
{
    const uint64_t age = c->op_clock - sl->used, p = sl->period ? sl->period : c->reuse_period;
    return (struct evict_entry){
        .overdue = p && age > p + p / 4,
        .next = sl->period ? sl->used + sl->period : UINT64_MAX,
        .used = sl->used,
        .slot = slot,
    };
}

/* Frees at least `bytes` of the copies that the current op has not used (it
 * may hold their pointers), in the order of the header comment, or all of
 * them; false: there were none. */
bool weight_cache_evict(cuda_impl *c, size_t bytes)
{
    struct evict_entry *list = c->used_slots ? malloc(c->used_slots * sizeof *list) : NULL;
    if (!list) return false;
    size_t n = 0;
    for (size_t i = 0; i < c->n_slots && n < c->used_slots; i++) {
        const weight_slot *sl = &c->slots[i];
        if (sl->host && sl->dev && sl->used < c->op_clock) list[n++] = eviction_entry(c, sl, i);
    }
    qsort(list, n, sizeof *list, by_eviction_order);
    size_t freed = 0, k = 0;
    for (; k < n && freed < bytes; k++) {
        freed += c->slots[list[k].slot].dev_bytes;
        evict_slot(c, &c->slots[list[k].slot]);
    }
    free(list);
    c->evictions += k;
    return k > 0;
}

/* a hit: the reuse distance for the eviction order (uses within one op do not count) */
static void touch(cuda_impl *c, weight_slot *sl)
{
    if (sl->used < c->op_clock) {
        sl->period = c->op_clock - sl->used;
        c->reuse_period = sl->period;
    }
    sl->used = c->op_clock;
}

void device_block_add(cuda_impl *c, const void *p, size_t bytes)
{
    if (c->n_blocks < MAX_DEVICE_BLOCKS) c->blocks[c->n_blocks++] = (device_block){p, bytes};
}

void device_block_remove(cuda_impl *c, const void *p)
{
    for (int i = 0; i < c->n_blocks; i++)
        if (c->blocks[i].p == p) {
            c->blocks[i] = c->blocks[--c->n_blocks];
            return;
        }
}

/* The backend's own allocations are known without asking the driver (about
 * a microsecond per query); other pointers are asked about. */
static bool is_device_memory(cuda_impl *c, const void *p)
{
    for (int i = 0; i < c->n_blocks; i++)
        if ((const char *)p >= c->blocks[i].p && (const char *)p < c->blocks[i].p + c->blocks[i].bytes) return true;
    struct cudaPointerAttributes attr;
    if (cudaPointerGetAttributes(&attr, p) == cudaSuccess &&
        (attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged))
        return true;
    cudaGetLastError(); /* clear the "invalid value" of unregistered host memory */
    return false;
}

/* Four words spread over the host array: a different model mapped at the same
 * address differs there, the same weights do not. */
static void fingerprint(const void *p, size_t bytes, uint32_t out[4])
{
    memset(out, 0, 4 * sizeof *out);
    if (bytes < 4) return;
    size_t words = bytes / 4;
    for (int i = 0; i < 4; i++) memcpy(&out[i], (const char *)p + 4 * ((words - 1) * (size_t)i / 3), 4);
}

/* Device copy of `kind` made from host array p (taps: co, ci, kt of a
 * temporal convolution's weight). */
static void *make_copy(vc_backend *be, const void *p, size_t bytes, int kind, const int32_t *taps, size_t *dev_bytes)
{
    cuda_impl *c = impl_of(be);
    const bool half = kind == COPY_F16 || kind == COPY_TAPS_F16;
    *dev_bytes = half ? bytes / 2 : bytes;
    void *d = NULL;
    int e = dev_malloc(c, &d, *dev_bytes);
    if (e) {
        note_cuda(be, e, "weight upload (device memory full)");
        return NULL;
    }
    if (kind == COPY_F32 || kind == COPY_RAW) {
        e = cudaMemcpyAsync(d, p, bytes, cudaMemcpyHostToDevice, c->stream);
    } else {
        const int64_t n = (int64_t)(bytes / 4);
        float *stage = scratch(be, SCRATCH_UPLOAD, bytes); /* its own: SCRATCH_STAGE may hold a weight in use */
        float *reordered = kind == COPY_TAPS_F16 ? scratch(be, SCRATCH_TAPS, bytes) : NULL;
        if (!stage || (kind == COPY_TAPS_F16 && !reordered)) {
            cudaFree(d);
            return NULL;
        }
        e = cudaMemcpyAsync(stage, p, bytes, cudaMemcpyHostToDevice, c->stream);
        if (!e && kind == COPY_F16) e = vck_f32_to_f16(c->stream, stage, d, n);
        if (!e && kind == COPY_TAPS_F32) e = vck_taps_major(c->stream, stage, d, taps[0], taps[1], taps[2], 4);
        if (!e && kind == COPY_TAPS_F16) {
            e = vck_taps_major(c->stream, stage, reordered, taps[0], taps[1], taps[2], 4);
            if (!e) e = vck_f32_to_f16(c->stream, reordered, d, n);
        }
    }
    if (e) {
        cudaFree(d);
        note_cuda(be, e, "weight upload");
        return NULL;
    }
    return d;
}

/* The cached copy of `kind` of host array p, made on first use; device
 * memory is returned as it is, with *is_device set. */
static const void *cached(vc_backend *be, const void *p, size_t bytes, int kind, const int32_t *taps, bool *is_device)
{
    if (is_device) *is_device = false;
    if (!p) return NULL;
    cuda_impl *c = impl_of(be);
    uint32_t print[4];
    /* the cache first: with unified addressing a cached host address is never
     * device memory, and a hit saves the range checks */
    weight_slot *sl = find_slot(c, p, kind);
    if (!sl && is_device_memory(c, p)) {
        if (is_device) *is_device = true;
        return p;
    }
    fingerprint(p, bytes, print); /* host memory from here on */
    if (sl && (sl->bytes != bytes || memcmp(sl->print, print, sizeof print))) {
        drop_slot(c, sl); /* other contents at the same address: made again below */
        sl = NULL;
    }
    if (sl && sl->dev) {
        touch(c, sl);
        return sl->dev;
    }
    size_t dev_bytes = 0;
    void *d = make_copy(be, p, bytes, kind, taps, &dev_bytes); /* may evict, which never moves the table */
    if (!d) return NULL;
    if (sl) { /* a ghost: its copy again, in its slot */
        sl->dev = d;
        sl->dev_bytes = dev_bytes;
        touch(c, sl);
        return d;
    }
    if ((c->used_slots + 1) * 2 > c->n_slots && !make_room(c)) {
        cudaFree(d);
        note_cuda(be, cudaErrorMemoryAllocation, "weight cache");
        return NULL;
    }
    size_t h = hash_key(p, kind, c->n_slots);
    while (c->slots[h].host) h = (h + 1) & (c->n_slots - 1);
    c->slots[h] = (weight_slot){
        .host = p, .kind = kind, .bytes = bytes, .dev_bytes = dev_bytes, .used = c->op_clock, .dev = d};
    memcpy(c->slots[h].print, print, sizeof print);
    c->used_slots++;
    return d;
}

const void *dev_weight(vc_backend *be, const void *p, size_t bytes, int kind, bool *is_device)
{
    return cached(be, p, bytes, kind, NULL, is_device);
}

const float *dev_in(vc_backend *be, const void *p, size_t bytes)
{
    return cached(be, p, bytes, COPY_F32, NULL, NULL);
}

/* fp16 mode: the weight as a cached half copy. A weight that is already device
 * memory (widened per layer from a half-resident model) is rounded into the
 * staging scratch instead, which holds it until the next weight. */
const void *weight_half(vc_backend *be, const float *w, int64_t n)
{
    bool on_device = false;
    const void *d = cached(be, w, FBYTES(n), COPY_F16, NULL, &on_device);
    if (!d || !on_device) return d;
    void *h = scratch(be, SCRATCH_STAGE, (size_t)n * 2);
    if (h) note_cuda(be, vck_f32_to_f16(impl_of(be)->stream, w, h, n), "weight to fp16");
    return h;
}

/* A temporal convolution's weight [co, ci, kt] as [co, kt*ci] (taps-major),
 * half in fp16 mode: cached like the others; a weight in device memory is
 * reordered into the taps scratch, which holds it until the next one. */
const void *weight_taps(vc_backend *be, const float *w, int32_t co, int32_t ci, int32_t kt)
{
    cuda_impl *c = impl_of(be);
    const int64_t n = (int64_t)co * ci * kt;
    const int32_t taps[3] = {co, ci, kt};
    bool on_device = false;
    const void *d = cached(be, w, FBYTES(n), c->fast16 ? COPY_TAPS_F16 : COPY_TAPS_F32, taps, &on_device);
    if (!d || !on_device) return d;
    const size_t esz = c->fast16 ? 2 : 4;
    const void *src = c->fast16 ? weight_half(be, w, n) : (const void *)w;
    void *t = src ? scratch(be, SCRATCH_TAPS, (size_t)n * esz) : NULL;
    if (t) note_cuda(be, vck_taps_major(c->stream, src, t, co, ci, kt, (int)esz), "temporal weight");
    return t;
}

void weight_cache_free(cuda_impl *c)
{
    for (size_t i = 0; i < c->n_slots; i++)
        if (c->slots[i].host && c->slots[i].dev) cudaFree(c->slots[i].dev);
    free(c->slots);
    c->slots = NULL;
    c->n_slots = c->used_slots = 0;
}
