/* palette.c - median-cut palette for GIF output (see palette.h). */
#include <stdlib.h>
#include <string.h>

#include "palette.h"

#define BITS 6
#define SIDE (1 << BITS)
#define NBINS (SIDE * SIDE * SIDE)

static inline uint32_t bin_of(const uint8_t *px)
{
    return ((uint32_t)(px[0] >> (8 - BITS)) << (2 * BITS)) | ((uint32_t)(px[1] >> (8 - BITS)) << BITS) |
           (uint32_t)(px[2] >> (8 - BITS));
}

static inline int coord(uint32_t bin, int ch) { return (int)((bin >> (BITS * (2 - ch))) & (SIDE - 1)); }

typedef struct box {
    size_t start, end;       /* ids[start..end) */
    uint64_t count;
} box;

/* Stable counting sort of ids[start..end) by channel ch. */
static void sort_box(uint32_t *ids, uint32_t *scratch, size_t start, size_t end, int ch)
{
    size_t pos[SIDE + 1] = {0};
    for (size_t i = start; i < end; i++) pos[coord(ids[i], ch) + 1]++;
    for (int k = 0; k < SIDE; k++) pos[k + 1] += pos[k];
    for (size_t i = start; i < end; i++) scratch[pos[coord(ids[i], ch)]++] = ids[i];
    memcpy(ids + start, scratch, (end - start) * sizeof *ids);
}

int enc_palette_build(enc_palette *p, const uint8_t *rgb, size_t n)
{
    memset(p, 0, sizeof *p);
    uint64_t *cnt = calloc(NBINS, sizeof *cnt);
    uint64_t *sum = calloc((size_t)NBINS * 3, sizeof *sum);
    uint32_t *ids = malloc((size_t)NBINS * sizeof *ids);
    uint32_t *scratch = malloc((size_t)NBINS * sizeof *scratch);
    p->map = calloc(NBINS, 1);
    if (!cnt || !sum || !ids || !scratch || !p->map) {
        free(cnt);
        free(sum);
        free(ids);
        free(scratch);
        free(p->map);
        p->map = NULL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const uint8_t *px = rgb + 3 * i;
        uint32_t b = bin_of(px);
        cnt[b]++;
        sum[3 * b] += px[0];
        sum[3 * b + 1] += px[1];
        sum[3 * b + 2] += px[2];
    }
    size_t used = 0;
    for (uint32_t b = 0; b < NBINS; b++)
        if (cnt[b]) ids[used++] = b;

    box boxes[256];
    int nb = 0;
    if (used) boxes[nb++] = (box){0, used, (uint64_t)n};
    while (nb < 256) {
        int best = -1, best_ch = 0;
        double best_score = 0;
        for (int k = 0; k < nb; k++) {
            if (boxes[k].end - boxes[k].start < 2) continue;
            int lo[3] = {SIDE, SIDE, SIDE}, hi[3] = {-1, -1, -1};
            for (size_t i = boxes[k].start; i < boxes[k].end; i++)
                for (int ch = 0; ch < 3; ch++) {
                    int c = coord(ids[i], ch);
                    if (c < lo[ch]) lo[ch] = c;
                    if (c > hi[ch]) hi[ch] = c;
                }
            int ch = 0;
            for (int q = 1; q < 3; q++)
                if (hi[q] - lo[q] > hi[ch] - lo[ch]) ch = q;
            double score = (double)(hi[ch] - lo[ch]) * (double)boxes[k].count;
            if (hi[ch] > lo[ch] && score > best_score) {
                best_score = score;
                best = k;
                best_ch = ch;
            }
        }
        if (best < 0) break;
        box *bx = &boxes[best];
        sort_box(ids, scratch, bx->start, bx->end, best_ch);
        uint64_t half = bx->count / 2, acc = 0;
        size_t k = bx->start;
        while (k < bx->end - 1 && acc + cnt[ids[k]] <= half) acc += cnt[ids[k++]];
        if (k == bx->start) acc += cnt[ids[k++]];
        box right = {k, bx->end, bx->count - acc};
        bx->end = k;
        bx->count = acc;
        boxes[nb++] = right;
    }
    for (int k = 0; k < nb; k++) {
        uint64_t s[3] = {0, 0, 0};
        for (size_t i = boxes[k].start; i < boxes[k].end; i++)
            for (int ch = 0; ch < 3; ch++) s[ch] += sum[3 * ids[i] + ch];
        uint64_t c = boxes[k].count;
        uint32_t col = 0xff000000u;
        for (int ch = 0; ch < 3; ch++) col |= (uint32_t)((s[ch] + c / 2) / c) << (8 * (2 - ch));
        p->argb[k] = col;
    }
    for (int k = nb; k < 256; k++) p->argb[k] = 0xff000000u;
    p->n = nb;
    /* every seen bin -> the palette colour nearest to the bin's mean colour */
    for (size_t i = 0; i < used; i++) {
        uint32_t b = ids[i];
        int m[3];
        for (int ch = 0; ch < 3; ch++) m[ch] = (int)((sum[3 * b + ch] + cnt[b] / 2) / cnt[b]);
        int best = 0;
        long bd = -1;
        for (int k = 0; k < nb; k++) {
            long d = 0;
            for (int ch = 0; ch < 3; ch++) {
                long e = (long)((p->argb[k] >> (8 * (2 - ch))) & 255) - m[ch];
                d += e * e;
            }
            if (bd < 0 || d < bd) {
                bd = d;
                best = k;
            }
        }
        p->map[b] = (uint8_t)best;
    }
    free(cnt);
    free(sum);
    free(ids);
    free(scratch);
    return 0;
}

void enc_palette_map(const enc_palette *p, const uint8_t *rgb, size_t n, uint8_t *index)
{
    for (size_t i = 0; i < n; i++) index[i] = p->map[bin_of(rgb + 3 * i)];
}

void enc_palette_free(enc_palette *p)
{
    if (!p) return;
    free(p->map);
    p->map = NULL;
}
