/* sha256.h - small SHA-256 (FIPS 180-4) for the loader tests. */
#ifndef VCT_SHA256_H
#define VCT_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct vct_sha256 {
    uint32_t h[8];
    uint64_t len;
    uint8_t buf[64];
    size_t n;
} vct_sha256;

void vct_sha256_init(vct_sha256 *s);
void vct_sha256_update(vct_sha256 *s, const void *data, size_t len);
void vct_sha256_final(vct_sha256 *s, uint8_t out[32]);
/* Lower-case hex digest of data into hex[65]. */
void vct_sha256_hex(const void *data, size_t len, char hex[65]);

#endif
