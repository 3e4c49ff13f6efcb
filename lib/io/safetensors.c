/* safetensors.c - .safetensors reader (spec §9.4): u64 header length, JSON
 * header (json.c), data section. Tensors are kept in header order; stored
 * bytes are used in place when aligned (float32 is then zero-copy). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "readers.h"

/* 16 MiB (the reference implementation allows 100 MiB): real headers are < 1 MiB,
 * and the JSON tree costs up to ~60 bytes per header byte. */
#define ST_MAX_HEADER ((uint64_t)16 << 20)

static const struct { const char *name; vc_dtype dtype; size_t size; int widen; } st_types[] = {
    { "F32", VC_DTYPE_F32, 4, 0 }, { "F16", VC_DTYPE_F16, 2, 0 }, { "BF16", VC_DTYPE_BF16, 2, 0 },
    { "F64", VC_DTYPE_F64, 8, 0 }, { "I64", VC_DTYPE_I64, 8, 0 }, { "I32", VC_DTYPE_I32, 4, 0 },
    { "U8", VC_DTYPE_U8, 1, 0 },   { "BOOL", VC_DTYPE_U8, 1, 0 },
    { "I16", VC_DTYPE_I32, 2, 16 }, { "I8", VC_DTYPE_I32, 1, 8 },   /* widened to int32 */
};

vc_status vc_safetensors_read(vc_context *ctx, const char *what, const uint8_t *data, size_t size, vc_weights *w)
{
    if (size < 8) return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: safetensors file shorter than its 8-byte header length", what);
    uint64_t hn = 0;
    for (int k = 7; k >= 0; k--) hn = hn << 8 | data[k];
    if (hn > size - 8)
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: safetensors header length %llu exceeds the file size %zu (truncated?)",
                       what, (unsigned long long)hn, size);
    if (hn > ST_MAX_HEADER)
        return vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: safetensors header of %llu bytes exceeds the %llu-byte limit",
                       what, (unsigned long long)hn, (unsigned long long)ST_MAX_HEADER);
    char hwhat[600];
    snprintf(hwhat, sizeof hwhat, "%.500s (safetensors header)", what);
    vc_json *h;
    vc_status st = vc_json_parse(ctx, hwhat, (const char *)data + 8, (size_t)hn, &h);
    if (st != VC_STATUS_OK) return st;
    if (vc_json_type_of(h) != VC_JSON_OBJECT) {
        vc_json_free(h);
        return vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: safetensors header is not a JSON object", what);
    }
    const uint8_t *base = data + 8 + hn;
    uint64_t dsize = size - 8 - hn;
    size_t count = 0;
    for (size_t i = 0; i < vc_json_len(h); i++) {
        const char *name = vc_json_key_at(h, i);
        const vc_json *e = vc_json_at(h, i);
        if (strcmp(name, "__metadata__") == 0) continue;
        char shown[256];
        snprintf(shown, sizeof shown, "%.200s", name);
        const char *dt = vc_json_string(vc_json_get(e, "dtype"));
        const vc_json *shape = vc_json_get(e, "shape"), *offs = vc_json_get(e, "data_offsets");
        if (vc_json_type_of(e) != VC_JSON_OBJECT || !dt || vc_json_type_of(shape) != VC_JSON_ARRAY ||
            vc_json_type_of(offs) != VC_JSON_ARRAY || vc_json_len(offs) != 2) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                         "%s: safetensors entry '%s' needs \"dtype\", \"shape\" and two \"data_offsets\"", what, shown);
            goto done;
        }
        size_t ti = sizeof st_types / sizeof *st_types;
        for (size_t k = 0; k < sizeof st_types / sizeof *st_types; k++)
            if (strcmp(dt, st_types[k].name) == 0) ti = k;
        if (ti == sizeof st_types / sizeof *st_types) {
            st = vc_fail(ctx, VC_STATUS_UNSUPPORTED, "%s: tensor '%s' has unsupported safetensors dtype '%.32s'", what, shown, dt);
            goto done;
        }
        size_t nd = vc_json_len(shape);
        if (nd > VC_TENSOR_MAX_DIMS) {
            st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%s' has %zu dimensions (limit %d)", what, shown, nd,
                         VC_TENSOR_MAX_DIMS);
            goto done;
        }
        int64_t dims[VC_TENSOR_MAX_DIMS];
        uint64_t numel = 1;
        for (size_t k = 0; k < nd; k++) {
            if (!vc_json_is_integer(vc_json_at(shape, k), &dims[k]) || dims[k] < 0 ||
                __builtin_mul_overflow(numel, (uint64_t)dims[k], &numel)) {
                st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: tensor '%s': shape entry %zu is not a valid size", what, shown, k);
                goto done;
            }
        }
        int64_t b, en;
        uint64_t bytes;
        if (!vc_json_is_integer(vc_json_at(offs, 0), &b) || !vc_json_is_integer(vc_json_at(offs, 1), &en) || b < 0 ||
            en < b || (uint64_t)en > dsize) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                         "%s: tensor '%s': data_offsets must satisfy 0 <= begin <= end <= %llu (data section size)",
                         what, shown, (unsigned long long)dsize);
            goto done;
        }
        if (__builtin_mul_overflow(numel, (uint64_t)st_types[ti].size, &bytes) || bytes != (uint64_t)(en - b)) {
            st = vc_fail(ctx, VC_STATUS_BAD_FORMAT,
                         "%s: tensor '%s': data_offsets span %lld bytes but %s%s needs %llu elements x %zu bytes",
                         what, shown, (long long)(en - b), dt, "", (unsigned long long)numel, st_types[ti].size);
            goto done;
        }
        const uint8_t *src = base + b;
        const void *stored = src;
        void *owned = NULL;
        if (st_types[ti].widen || (uintptr_t)src % st_types[ti].size) {
            size_t osz = st_types[ti].widen ? 4 : st_types[ti].size, ob;
            if (!vc_mul_size((size_t)numel, osz, &ob)) {
                st = vc_fail(ctx, VC_STATUS_LIMIT_EXCEEDED, "%s: tensor '%s' is too large", what, shown);
                goto done;
            }
            uint8_t *c = vc_weights_alloc(ctx, w, what, shown, ob, &st);
            if (!c) goto done;
            if (!st_types[ti].widen) memcpy(c, src, ob);
            else
                for (uint64_t j = 0; j < numel; j++) {
                    int32_t v = st_types[ti].widen == 16 ? (int32_t)(int16_t)(src[2 * j] | src[2 * j + 1] << 8)
                                                         : (int32_t)(int8_t)src[j];
                    memcpy(c + 4 * j, &v, 4);
                }
            stored = owned = c;
        }
        st = vc_weights_add(ctx, w, what, name, strlen(name), st_types[ti].dtype, (int32_t)nd, dims, stored, owned);
        if (st != VC_STATUS_OK) goto done;
        count++;
    }
    if (count == 0) {
        st = vc_fail(ctx, VC_STATUS_BAD_FORMAT, "%s: safetensors file holds no tensors: no usable state dict", what);
        goto done;
    }
    vc_weights_set_wrapper(w, VC_WRAPPER_SAFETENSORS);
    st = VC_STATUS_OK;
done:
    vc_json_free(h);
    return st;
}
