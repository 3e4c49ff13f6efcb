/* palette.h - one 256-colour palette for a whole clip (GIF): median cut over
 * a 6-bit-per-channel histogram, nearest-colour mapping. Internal. */
#ifndef VC_ENC_PALETTE_H
#define VC_ENC_PALETTE_H

#include <stddef.h>
#include <stdint.h>

typedef struct enc_palette {
    uint32_t argb[256];      /* 0xAARRGGBB, alpha 0xff; unused entries black */
    int n;                   /* colours in use */
    uint8_t *map;            /* [2^18] histogram bin -> palette index */
} enc_palette;

/* Builds the palette from n RGB24 pixels; 0 on success, -1 out of memory. */
__attribute__((visibility("hidden"))) int enc_palette_build(enc_palette *p, const uint8_t *rgb, size_t n);
/* Palette index of each of n RGB24 pixels (pixels seen by the build). */
__attribute__((visibility("hidden"))) void enc_palette_map(const enc_palette *p, const uint8_t *rgb, size_t n,
                                                           uint8_t *index);
__attribute__((visibility("hidden"))) void enc_palette_free(enc_palette *p);

#endif
