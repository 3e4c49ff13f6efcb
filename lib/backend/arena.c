/* arena.c - stack-like working memory on a backend, so a forward pass does not
 * call the allocator per op. Blocks are kept after release and reused. */
#include <stdlib.h>
#include <unistd.h>

#include "backend.h"

#define ARENA_ALIGN 64
#define ARENA_MIN_BLOCK ((size_t)64 << 20)

struct vc_arena_block {
    vc_arena_block *next;
    char *base;        /* backend memory */
    size_t cap;
    size_t start;      /* arena offset of base */
    bool reserved;     /* from ops->reserve (unreserve to free) */
};

/* First block of a host backend: one reservation as large as the machine's
 * memory, committed page by page as the stack grows, so no block tails are
 * skipped and the resident working memory is the true high-water mark. */
static vc_arena_block *reserve_block(vc_backend *be)
{
    if (!be->ops->reserve) return NULL;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || psz <= 0) return NULL;
    size_t bytes = (size_t)pages * (size_t)psz;
    vc_arena_block *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->base = be->ops->reserve(be, &bytes);
    if (!b->base) {
        free(b);
        return NULL;
    }
    b->cap = bytes;
    b->reserved = true;
    return b;
}

size_t vc_arena_mark(vc_backend *be) { return be->arena.used; }

void *vc_arena_alloc(vc_backend *be, size_t bytes)
{
    vc_arena *a = &be->arena;
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < bytes) return NULL;
    if (!a->blocks) a->blocks = reserve_block(be);
    /* find the block holding offset `used`, or the first one after it that fits */
    vc_arena_block **link = &a->blocks;
    for (vc_arena_block *b = a->blocks; b; link = &b->next, b = b->next) {
        if (a->used < b->start) a->used = b->start; /* skip the tail of a too-small block */
        if (a->used >= b->start && a->used - b->start + need <= b->cap) {
            void *p = b->base + (a->used - b->start);
            a->used += need;
            if (a->used > a->peak) a->peak = a->used;
            return p;
        }
    }
    size_t cap = need > ARENA_MIN_BLOCK ? need : ARENA_MIN_BLOCK;
    vc_arena_block *nb = malloc(sizeof *nb);
    if (!nb) return NULL;
    nb->base = be->ops->alloc(be, cap);
    if (!nb->base) {
        free(nb);
        return NULL;
    }
    nb->cap = cap;
    nb->next = NULL;
    nb->reserved = false;
    /* offsets keep growing so that marks stay ordered */
    size_t end = 0;
    for (vc_arena_block *b = a->blocks; b; b = b->next) end = b->start + b->cap;
    nb->start = end > a->used ? end : a->used;
    *link = nb;
    a->used = nb->start + need;
    if (a->used > a->peak) a->peak = a->used;
    return nb->base;
}

float *vc_arena_floats(vc_backend *be, int64_t n)
{
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float)) return NULL;
    return vc_arena_alloc(be, (size_t)n * sizeof(float));
}

void vc_arena_release(vc_backend *be, size_t mark)
{
    if (mark < be->arena.used) be->arena.used = mark;
}

void vc_arena_destroy(vc_backend *be)
{
    vc_arena_block *b = be->arena.blocks;
    while (b) {
        vc_arena_block *next = b->next;
        if (b->reserved) be->ops->unreserve(be, b->base, b->cap);
        else be->ops->free(be, b->base);
        free(b);
        b = next;
    }
    be->arena.blocks = NULL;
    be->arena.used = 0;
}
