/* npy.c - the .npy format (numpy format versions 1-3), interface contract §4. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/internal.h"

/* Header dictionaries are small; anything larger is not a tensor we wrote or expect. */
#define NPY_MAX_HEADER (1u << 20)

typedef struct npy_header {
    char descr[16];
    bool fortran;
    int32_t ndim;
    int64_t shape[VC_TENSOR_MAX_DIMS];
} npy_header;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Finds the value after 'key': in the header dict. */
static const char *find_key(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p) {
        snprintf(pat, sizeof pat, "\"%s\"", key);
        p = strstr(hdr, pat);
    }
    if (!p) return NULL;
    p = skip_ws(p + strlen(pat));
    if (*p != ':') return NULL;
    return skip_ws(p + 1);
}

static vc_status parse_header(const char *path, const char *hdr, npy_header *h)
{
    memset(h, 0, sizeof *h);
    const char *p = find_key(hdr, "descr");
    if (!p || (*p != '\'' && *p != '"'))
        return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy header has no 'descr'", path);
    char q = *p++;
    size_t n = 0;
    while (*p && *p != q && n + 1 < sizeof h->descr) h->descr[n++] = *p++;
    if (*p != q) return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy 'descr' is malformed", path);

    p = find_key(hdr, "fortran_order");
    if (!p) return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy header has no 'fortran_order'", path);
    if (strncmp(p, "True", 4) == 0) h->fortran = true;
    else if (strncmp(p, "False", 5) != 0)
        return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy 'fortran_order' is malformed", path);

    p = find_key(hdr, "shape");
    if (!p || *p != '(') return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy header has no 'shape' tuple", path);
    p = skip_ws(p + 1);
    while (*p != ')') {
        if (h->ndim >= VC_TENSOR_MAX_DIMS)
            return vc_fail(NULL, VC_STATUS_UNSUPPORTED, "%s: .npy has more than %d dimensions", path,
                           VC_TENSOR_MAX_DIMS);
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0)
            return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy 'shape' is malformed", path);
        h->shape[h->ndim++] = v;
        p = skip_ws(end);
        if (*p == 'L') p = skip_ws(p + 1);
        if (*p == ',') p = skip_ws(p + 1);
        else if (*p != ')') return vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy 'shape' is malformed", path);
    }
    return VC_STATUS_OK;
}

static bool descr_dtype(const char *d, vc_dtype *dt, bool *swap)
{
    *swap = false;
    char order = d[0];
    const char *t = d + 1;
    if (order != '<' && order != '>' && order != '|' && order != '=') return false;
    if (strcmp(t, "u1") == 0 || strcmp(t, "b1") == 0) { *dt = VC_DTYPE_U8; return true; }
    if (order == '>') *swap = true;
    if (strcmp(t, "f4") == 0) *dt = VC_DTYPE_F32;
    else if (strcmp(t, "f2") == 0) *dt = VC_DTYPE_F16;
    else if (strcmp(t, "f8") == 0) *dt = VC_DTYPE_F64;
    else if (strcmp(t, "i8") == 0) *dt = VC_DTYPE_I64;
    else if (strcmp(t, "i4") == 0) *dt = VC_DTYPE_I32;
    else return false;
    return true;
}

static void byteswap(void *data, size_t n, size_t esz)
{
    unsigned char *p = data;
    for (size_t i = 0; i < n; i++, p += esz)
        for (size_t a = 0, b = esz - 1; a < b; a++, b--) {
            unsigned char c = p[a];
            p[a] = p[b];
            p[b] = c;
        }
}

/* Fortran order -> C order (reverse-axis transpose). */
static void *fortran_to_c(const void *src, const vc_tensor *t, size_t esz)
{
    int64_t n = vc_tensor_numel(t);
    unsigned char *dst = malloc(n ? (size_t)n * esz : 1);
    if (!dst) return NULL;
    int64_t idx[VC_TENSOR_MAX_DIMS] = {0};
    for (int64_t c = 0; c < n; c++) {
        int64_t f = 0, stride = 1;
        for (int32_t d = 0; d < t->ndim; d++) {
            f += idx[d] * stride;
            stride *= t->shape[d];
        }
        memcpy(dst + (size_t)c * esz, (const unsigned char *)src + (size_t)f * esz, esz);
        for (int32_t d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d]) break;
            idx[d] = 0;
        }
    }
    return dst;
}

vc_status vc_tensor_load_npy(const char *path, vc_tensor *out)
{
    if (!path || !out) return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_tensor_load_npy: NULL argument");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return vc_fail(NULL, VC_STATUS_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
    vc_status st = VC_STATUS_OK;
    char *hdr = NULL;
    unsigned char magic[10];
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) {
        st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    uint32_t hlen;
    if (magic[6] == 1) {
        unsigned char b[2];
        if (fread(b, 1, 2, f) != 2) { st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: truncated .npy header", path); goto done; }
        hlen = (uint32_t)b[0] | ((uint32_t)b[1] << 8);
    } else if (magic[6] == 2 || magic[6] == 3) {
        unsigned char b[4];
        if (fread(b, 1, 4, f) != 4) { st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: truncated .npy header", path); goto done; }
        hlen = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
    } else {
        st = vc_fail(NULL, VC_STATUS_UNSUPPORTED, "%s: .npy format version %u is not supported", path, magic[6]);
        goto done;
    }
    if (hlen > NPY_MAX_HEADER) {
        st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy header length %u exceeds %u", path, hlen, NPY_MAX_HEADER);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) { st = vc_fail(NULL, VC_STATUS_OUT_OF_MEMORY, "out of memory"); goto done; }
    if (fread(hdr, 1, hlen, f) != hlen) { st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: truncated .npy header", path); goto done; }
    hdr[hlen] = '\0';
    npy_header h;
    if ((st = parse_header(path, hdr, &h)) != VC_STATUS_OK) goto done;
    vc_dtype dt;
    bool swap;
    if (!descr_dtype(h.descr, &dt, &swap)) {
        st = vc_fail(NULL, VC_STATUS_UNSUPPORTED, "%s: .npy dtype '%s' is not supported (<f4 <f2 <f8 <i8 <i4 |u1)",
                     path, h.descr);
        goto done;
    }
    /* size check against the file before allocating */
    long here = ftell(f);
    if (fseek(f, 0, SEEK_END) != 0) { st = vc_fail(NULL, VC_STATUS_IO_ERROR, "%s: cannot seek", path); goto done; }
    long fsize = ftell(f);
    fseek(f, here, SEEK_SET);
    size_t bytes = vc_dtype_size(dt);
    for (int32_t i = 0; i < h.ndim; i++)
        if (!vc_mul_size(bytes, (size_t)h.shape[i], &bytes)) {
            st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy shape overflows", path);
            goto done;
        }
    if (fsize < here || (uint64_t)(fsize - here) < bytes) {
        st = vc_fail(NULL, VC_STATUS_BAD_FORMAT, "%s: .npy data truncated (%ld bytes, shape needs %zu)", path,
                     fsize - here, bytes);
        goto done;
    }
    if ((st = vc_tensor_make(NULL, out, dt, h.ndim, h.shape)) != VC_STATUS_OK) goto done;
    if (bytes && fread(out->data, 1, bytes, f) != bytes) {
        st = vc_fail(NULL, VC_STATUS_IO_ERROR, "%s: read failed", path);
        goto done;
    }
    size_t esz = vc_dtype_size(dt);
    if (swap) byteswap(out->data, bytes / esz, esz);
    if (h.fortran && h.ndim > 1) {
        void *c = fortran_to_c(out->data, out, esz);
        if (!c) { st = vc_fail(NULL, VC_STATUS_OUT_OF_MEMORY, "out of memory"); goto done; }
        free(out->data);
        out->data = c;
    }
done:
    if (st != VC_STATUS_OK) vc_tensor_free(out);
    free(hdr);
    fclose(f);
    return st;
}

static const char *npy_descr(vc_dtype dt)
{
    switch (dt) {
    case VC_DTYPE_F32: return "<f4";
    case VC_DTYPE_F16: return "<f2";
    case VC_DTYPE_F64: return "<f8";
    case VC_DTYPE_I64: return "<i8";
    case VC_DTYPE_I32: return "<i4";
    case VC_DTYPE_U8: return "|u1";
    default: return NULL;
    }
}

vc_status vc_tensor_save_npy(const char *path, const vc_tensor *t)
{
    if (!path || !t || (!t->data && vc_tensor_numel(t) > 0))
        return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "vc_tensor_save_npy: NULL argument");
    const char *descr = npy_descr(t->dtype);
    if (!descr) return vc_fail(NULL, VC_STATUS_UNSUPPORTED, "%s: dtype %d cannot be written as .npy", path, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > VC_TENSOR_MAX_DIMS)
        return vc_fail(NULL, VC_STATUS_INVALID_ARGUMENT, "%s: tensor rank %d out of range", path, t->ndim);
    char dict[512];
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int32_t i = 0; i < t->ndim; i++)
        len += snprintf(dict + len, sizeof dict - (size_t)len, "%lld,%s", (long long)t->shape[i],
                        (t->ndim > 1 && i + 1 < t->ndim) ? " " : "");
    if (t->ndim > 1) len--; /* "(2, 3,)" -> "(2, 3)" as numpy writes; 1-D keeps "(5,)" */
    len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
    /* pad so that the data starts at a multiple of 64 (magic 6 + ver 2 + len 2) */
    size_t total = 10 + (size_t)len + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)len + pad + 1;

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) return vc_fail(NULL, VC_STATUS_OUT_OF_MEMORY, "out of memory");
    snprintf(tmp, plen + 16, "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        vc_status st = vc_fail(NULL, VC_STATUS_IO_ERROR, "%s: cannot create: %s", path, strerror(errno));
        free(tmp);
        return st;
    }
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)len, f) == (size_t)len;
    for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t bytes = (size_t)vc_tensor_numel(t) * vc_dtype_size(t->dtype);
    ok = ok && (bytes == 0 || fwrite(t->data, 1, bytes, f) == bytes);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        free(tmp);
        return vc_fail(NULL, VC_STATUS_IO_ERROR, "%s: write failed: %s", path, strerror(errno));
    }
    free(tmp);
    return VC_STATUS_OK;
}
