/* zip.c - minimal read-only ZIP reader over a memory buffer (spec §9.2):
 * EOCD search, ZIP64 locator/record, central directory, data offsets from the
 * local headers. Every offset and size is checked against the buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "readers.h"

struct vc_zip {
    const uint8_t *data;
    size_t size;
    const char *what;
    size_t n;
    vc_zip_entry *entries;
    uint64_t *data_offset;    /* resolved lazily from the local header; UINT64_MAX = not yet */
    uint8_t **inflated;       /* per entry, owned */
    uint64_t owned, inflate_budget;
    vc_strmap names;
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* true if [off, off+len) lies inside the buffer */
static bool in_bounds(const vc_zip *z, uint64_t off, uint64_t len)
{
    return off <= z->size && len <= z->size - off;
}

static vc_status bad(vc_context *ctx, const vc_zip *z, const char *fmt, uint64_t a, uint64_t b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, (unsigned long long)a, (unsigned long long)b);
    return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: corrupt zip archive: %s", z->what, msg);
}

/* Finds the End Of Central Directory record: the last "PK\5\6" in the final
 * 22 + 65535 bytes whose comment runs exactly to the end of the file (or, for
 * files with trailing junk, the last signature at all). */
static bool find_eocd(const vc_zip *z, uint64_t *at)
{
    if (z->size < 22) return false;
    uint64_t lo = z->size > 22 + 65535 ? z->size - 22 - 65535 : 0;
    bool found_loose = false;
    uint64_t loose = 0;
    for (uint64_t i = z->size - 22 + 1; i-- > lo;) {
        const uint8_t *p = z->data + i;
        if (p[0] != 'P' || p[1] != 'K' || p[2] != 5 || p[3] != 6) continue;
        if (i + 22 + rd16(p + 20) == z->size) { *at = i; return true; }
        if (!found_loose) { found_loose = true; loose = i; }
    }
    if (found_loose) *at = loose;
    return found_loose;
}

vc_status vc_zip_open_mem(vc_context *ctx, const char *what, const uint8_t *data, size_t size, vc_zip **out)
{
    *out = NULL;
    vc_zip *z = calloc(1, sizeof *z);
    if (!z) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
    z->data = data;
    z->size = size;
    z->what = what;
    z->inflate_budget = VC_ZIP_INFLATE_BASE + (uint64_t)size * VC_ZIP_INFLATE_PER_BYTE;
    vc_status st;
    uint64_t eocd;
    if (!find_eocd(z, &eocd)) {
        st = vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                     "%s: corrupt zip archive: no end-of-central-directory record (truncated file?)", what);
        goto fail;
    }
    const uint8_t *e = data + eocd;
    uint64_t disk = rd16(e + 4), cd_disk = rd16(e + 6), n_disk = rd16(e + 8), n_total = rd16(e + 10);
    uint64_t cd_size = rd32(e + 12), cd_off = rd32(e + 16);
    bool zip64 = false;
    if (eocd >= 20 && rd32(data + eocd - 20) == 0x07064b50) zip64 = true;
    if (n_disk == 0xFFFF || n_total == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        if (!zip64) { st = bad(ctx, z, "saturated end-of-central-directory fields but no ZIP64 locator", 0, 0); goto fail; }
    }
    if (zip64) {
        const uint8_t *loc = data + eocd - 20;
        uint64_t rec = rd64(loc + 8);
        if (rd32(loc + 16) > 1) { st = vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: multi-disk zip archives are not supported", what); goto fail; }
        if (!in_bounds(z, rec, 56) || rec > eocd - 20 || rd32(data + rec) != 0x06064b50) {
            st = bad(ctx, z, "ZIP64 end-of-central-directory record offset %llu is invalid (file size %llu)", rec, size);
            goto fail;
        }
        const uint8_t *r = data + rec;
        disk = rd32(r + 16);
        cd_disk = rd32(r + 20);
        n_disk = rd64(r + 24);
        n_total = rd64(r + 32);
        cd_size = rd64(r + 40);
        cd_off = rd64(r + 48);
        eocd = rec;   /* the central directory ends before the ZIP64 record */
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n_total) {
        st = vc_fail(ctx, VC_STATUS_UNSUPPORTED,
                     "%s: multi-disk zip archives are not supported (disk %llu, directory disk %llu, %llu of %llu entries "
                     "on this disk)", what, (unsigned long long)disk, (unsigned long long)cd_disk,
                     (unsigned long long)n_disk, (unsigned long long)n_total);
        goto fail;
    }
    if (!in_bounds(z, cd_off, cd_size) || cd_off + cd_size > eocd) {
        st = bad(ctx, z, "central directory [offset %llu, size %llu] lies outside the file", cd_off, cd_size);
        goto fail;
    }
    /* Each central entry is at least 46 bytes: bounds the count before allocating. */
    if (n_total > cd_size / 46 || n_total > VC_ZIP_MAX_ENTRIES) {
        st = bad(ctx, z, "%llu entries cannot fit in a central directory of %llu bytes", n_total, cd_size);
        goto fail;
    }
    z->n = (size_t)n_total;
    z->entries = calloc(z->n ? z->n : 1, sizeof *z->entries);
    z->data_offset = malloc((z->n ? z->n : 1) * sizeof *z->data_offset);
    z->inflated = calloc(z->n ? z->n : 1, sizeof *z->inflated);
    if (!z->entries || !z->data_offset || !z->inflated || !vc_strmap_init(&z->names, z->n)) {
        st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory for %zu zip entries", what, z->n);
        goto fail;
    }
    uint64_t pos = cd_off, end = cd_off + cd_size;
    for (size_t i = 0; i < z->n; i++) {
        if (end - pos < 46 || rd32(data + pos) != 0x02014b50) {
            st = bad(ctx, z, "central directory entry %llu at offset %llu has a bad signature", i, pos);
            goto fail;
        }
        const uint8_t *c = data + pos;
        vc_zip_entry *en = &z->entries[i];
        en->flags = rd16(c + 8);
        en->method = rd16(c + 10);
        en->crc = rd32(c + 16);
        en->comp_size = rd32(c + 20);
        en->size = rd32(c + 24);
        uint64_t nlen = rd16(c + 28), xlen = rd16(c + 30), clen = rd16(c + 32);
        uint64_t edisk = rd16(c + 34);
        en->local_offset = rd32(c + 42);
        if (end - pos - 46 < nlen + xlen + clen) {
            st = bad(ctx, z, "central directory entry %llu at offset %llu runs past the directory", i, pos);
            goto fail;
        }
        char *name = malloc(nlen + 1);
        if (!name) { st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what); goto fail; }
        memcpy(name, c + 46, nlen);
        name[nlen] = 0;
        en->name = name;
        if (memchr(name, 0, nlen)) { st = bad(ctx, z, "entry %llu has a NUL byte in its name", i, 0); goto fail; }
        /* ZIP64 extended information (0x0001): only the saturated fields, in order. */
        const uint8_t *x = c + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            uint16_t id = rd16(x), sz = rd16(x + 2);
            if ((uint64_t)(xend - x - 4) < sz) break;
            if (id == 0x0001) {
                const uint8_t *f = x + 4, *fend = f + sz;
                if (en->size == 0xFFFFFFFFu) { if (fend - f < 8) goto bad64; en->size = rd64(f); f += 8; }
                if (en->comp_size == 0xFFFFFFFFu) { if (fend - f < 8) goto bad64; en->comp_size = rd64(f); f += 8; }
                if (en->local_offset == 0xFFFFFFFFu) { if (fend - f < 8) goto bad64; en->local_offset = rd64(f); f += 8; }
                if (edisk == 0xFFFF) { if (fend - f < 4) goto bad64; edisk = rd32(f); f += 4; }
            }
            x += 4 + sz;
        }
        if (edisk != 0) { st = vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: multi-disk zip archives are not supported", what); goto fail; }
        if (!in_bounds(z, en->local_offset, 30) || en->local_offset >= cd_off) {
            st = bad(ctx, z, "entry's local header offset %llu is outside the file (size %llu)", en->local_offset, size);
            goto fail;
        }
        z->data_offset[i] = UINT64_MAX;
        if (vc_strmap_put(&z->names, en->name, nlen, i, NULL) < 0) {   /* duplicates: first one wins */
            st = vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory", what);
            goto fail;
        }
        pos += 46 + nlen + xlen + clen;
        continue;
    bad64:
        st = bad(ctx, z, "entry %llu has a truncated ZIP64 extra field", i, 0);
        goto fail;
    }
    *out = z;
    return VC_STATUS_OK;
fail:
    vc_zip_free(z);
    return st;
}

void vc_zip_free(vc_zip *z)
{
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) {
        if (z->entries) free((char *)z->entries[i].name);
        if (z->inflated) free(z->inflated[i]);
    }
    free(z->entries);
    free(z->data_offset);
    free(z->inflated);
    vc_strmap_free(&z->names);
    free(z);
}

size_t vc_zip_count(const vc_zip *z) { return z->n; }
const vc_zip_entry *vc_zip_at(const vc_zip *z, size_t i) { return i < z->n ? &z->entries[i] : NULL; }
uint64_t vc_zip_owned_bytes(const vc_zip *z) { return z->owned; }

ptrdiff_t vc_zip_find(const vc_zip *z, const char *name)
{
    size_t v;
    return vc_strmap_get(&z->names, name, strlen(name), &v) ? (ptrdiff_t)v : -1;
}

static vc_status inflate_entry(vc_context *ctx, vc_zip *z, size_t i, const uint8_t *src, uint64_t csize)
{
    const vc_zip_entry *en = &z->entries[i];
    uint64_t cap = csize * VC_ZIP_MAX_RATIO + 1024;
    if (en->size > cap || en->size > VC_ZIP_MAX_INFLATE || en->size > SIZE_MAX - 1)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED,
                       "%s: zip entry '%s' declares %llu bytes from %llu compressed (limit %u:1 and %llu bytes): refused as a zip bomb",
                       z->what, en->name, (unsigned long long)en->size, (unsigned long long)csize,
                       VC_ZIP_MAX_RATIO, (unsigned long long)VC_ZIP_MAX_INFLATE);
    if (en->size > z->inflate_budget - z->owned)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED,
                       "%s: zip entry '%s' would inflate the archive's entries to more than %llu bytes in total "
                       "(entries sharing compressed data?): refused as a zip bomb",
                       z->what, en->name, (unsigned long long)z->inflate_budget);
    uint8_t *buf = malloc(en->size ? en->size : 1);
    if (!buf) return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: out of memory inflating '%s' (%llu bytes)",
                             z->what, en->name, (unsigned long long)en->size);
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
        free(buf);
        return vc_fail(ctx, VC_STATUS_OUT_OF_MEMORY, "%s: zlib init failed", z->what);
    }
    uint64_t in_left = csize, out_done = 0;
    const uint8_t *in = src;
    uint8_t spill[64];
    int r;
    /* Terminates: every Z_OK call consumes input or produces output, both bounded. */
    for (;;) {
        if (s.avail_in == 0 && in_left) {
            uInt chunk = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
            s.next_in = (Bytef *)in;
            s.avail_in = chunk;
            in += chunk;
            in_left -= chunk;
        }
        uint64_t out_left = en->size - out_done;
        if (out_left) {
            s.next_out = buf + out_done;
            s.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        } else {
            s.next_out = spill;           /* detects output beyond the declared size */
            s.avail_out = sizeof spill;
        }
        uInt before = s.avail_out;
        r = inflate(&s, Z_NO_FLUSH);
        uInt produced = before - s.avail_out;
        if (!out_left && produced) { r = Z_DATA_ERROR; break; }
        out_done += produced;
        if (r != Z_OK) break;
    }
    inflateEnd(&s);
    if (r != Z_STREAM_END || out_done != en->size) {
        free(buf);
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                       "%s: zip entry '%s': deflate data is corrupt or does not match its declared size %llu",
                       z->what, en->name, (unsigned long long)en->size);
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t done = 0; done < en->size;) {
        uInt chunk = en->size - done > (1u << 30) ? (1u << 30) : (uInt)(en->size - done);
        crc = crc32(crc, buf + done, chunk);
        done += chunk;
    }
    if ((uint32_t)crc != en->crc) {
        free(buf);
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: zip entry '%s': CRC mismatch", z->what, en->name);
    }
    z->inflated[i] = buf;
    z->owned += en->size;
    return VC_STATUS_OK;
}

vc_status vc_zip_data(vc_context *ctx, vc_zip *z, size_t i, const uint8_t **data, uint64_t *size)
{
    *data = NULL;
    *size = 0;
    if (i >= z->n) return vc_fail(ctx, VC_STATUS_INTERNAL, "%s: zip entry index out of range", z->what);
    const vc_zip_entry *en = &z->entries[i];
    if (z->inflated[i]) { *data = z->inflated[i]; *size = en->size; return VC_STATUS_OK; }
    if (en->flags & 1)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: zip entry '%s' is encrypted", z->what, en->name);
    if (z->data_offset[i] == UINT64_MAX) {
        const uint8_t *l = z->data + en->local_offset;   /* 30 bytes checked at open */
        if (rd32(l) != 0x04034b50)
            return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: corrupt zip archive: local header of '%s' at offset %llu has a bad signature",
                           z->what, en->name, (unsigned long long)en->local_offset);
        /* §9.2: data offset from the LOCAL header's name and extra lengths. */
        uint64_t off = en->local_offset + 30 + rd16(l + 26) + rd16(l + 28);
        if (!in_bounds(z, off, en->comp_size))
            return vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                           "%s: zip entry '%s': data [offset %llu, %llu bytes] runs past the end of the file (%zu bytes; truncated?)",
                           z->what, en->name, (unsigned long long)off, (unsigned long long)en->comp_size, z->size);
        z->data_offset[i] = off;
    }
    const uint8_t *src = z->data + z->data_offset[i];
    if (en->method == 0) {
        if (en->comp_size != en->size)
            return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: stored zip entry '%s' has compressed size %llu != size %llu",
                           z->what, en->name, (unsigned long long)en->comp_size, (unsigned long long)en->size);
        *data = src;   /* zero-copy; CRC not verified (it would read every byte) */
        *size = en->size;
        return VC_STATUS_OK;
    }
    if (en->method != 8)
        return vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: zip entry '%s' uses compression method %u (only stored and deflate)",
                       z->what, en->name, (unsigned)en->method);
    vc_status st = inflate_entry(ctx, z, i, src, en->comp_size);
    if (st != VC_STATUS_OK) return st;
    *data = z->inflated[i];
    *size = en->size;
    return VC_STATUS_OK;
}

/* ------------------------------------------------------------ string map */
static uint64_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (size_t i = 0; i < len; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ull; }
    return h;
}

bool vc_strmap_init(vc_strmap *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < expected * 2 + 1) {
        if (cap > SIZE_MAX / 4 / sizeof(size_t)) return false;
        cap *= 2;
    }
    m->keys = calloc(cap, sizeof *m->keys);
    m->lens = calloc(cap, sizeof *m->lens);
    m->vals = calloc(cap, sizeof *m->vals);
    if (!m->keys || !m->lens || !m->vals) { vc_strmap_free(m); return false; }
    m->cap = cap;
    return true;
}

void vc_strmap_free(vc_strmap *m)
{
    free(m->keys);
    free(m->lens);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static bool strmap_grow(vc_strmap *m)
{
    vc_strmap bigger;
    if (!vc_strmap_init(&bigger, m->cap)) return false;
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) vc_strmap_put(&bigger, m->keys[i], m->lens[i], m->vals[i], NULL);
    vc_strmap_free(m);
    *m = bigger;
    return true;
}

int vc_strmap_put(vc_strmap *m, const char *key, size_t len, size_t val, size_t *old)
{
    if (!m->cap) return -1;
    if ((m->n + 1) * 2 > m->cap && !strmap_grow(m)) return -1;
    size_t mask = m->cap - 1, i = (size_t)hash_bytes(key, len) & mask;
    while (m->keys[i]) {
        if (m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) {
            if (old) *old = m->vals[i];
            return 0;
        }
        i = (i + 1) & mask;
    }
    m->keys[i] = key;
    m->lens[i] = len;
    m->vals[i] = val;
    m->n++;
    return 1;
}

bool vc_strmap_get(const vc_strmap *m, const char *key, size_t len, size_t *val)
{
    if (!m->cap) return false;
    size_t mask = m->cap - 1, i = (size_t)hash_bytes(key, len) & mask;
    while (m->keys[i]) {
        if (m->lens[i] == len && memcmp(m->keys[i], key, len) == 0) { *val = m->vals[i]; return true; }
        i = (i + 1) & mask;
    }
    return false;
}
