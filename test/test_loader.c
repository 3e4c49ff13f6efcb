/* test_loader.c - checkpoint readers: every reference checkpoint bit for bit
 * against its tensors.json; written round trips (zip + safetensors, f32/f16/
 * bf16, every wrapper); hostile files (truncated, bad offsets, huge dims,
 * disallowed opcodes, zip bombs) fail with a status and a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support.h"
#include "sha256.h"
#include "core/internal.h"
#include "io/json.h"
#include "io/readers.h"
#include "io/weights.h"

/* ------------------------------------------------------------ helpers */
static __attribute__((unused)) void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    if (len && fwrite(data, 1, len, f) != len) fail_msg("short write of %s", path);
    fclose(f);
}

static const char *wrapper_str(vc_ckpt_wrapper w)
{
    switch (w) {
    case VC_WRAPPER_NONE: return "none";
    case VC_WRAPPER_STATE_DICT: return "state_dict";
    case VC_WRAPPER_LIGHTNING: return "lightning";
    case VC_WRAPPER_DEEPSPEED: return "deepspeed";
    case VC_WRAPPER_SAFETENSORS: return "safetensors";
    }
    return "?";
}

/* A failure must come with a status other than OK and a non-empty message. */
static __attribute__((unused)) void assert_failed(vc_context *ctx, vc_status st, const char *what)
{
    if (st == VC_STATUS_OK) fail_msg("%s: expected a failure, got OK", what);
    const char *msg = vc_context_errmsg(ctx);
    if (!msg || !*msg) fail_msg("%s: failed (status %d) without a message", what, (int)st);
}

/* ------------------------------------------------- reference checkpoints */
static void check_reference(const char *ckpt_rel, const char *json_rel)
{
    vc_context *ctx = vct_context();
    size_t jlen;
    char *jtext = (char *)vct_read_file(vct_path("%s", json_rel), &jlen);
    vc_json *j = NULL;
    assert_int_equal(vc_json_parse(ctx, json_rel, jtext, jlen, &j), VC_STATUS_OK);
    double t0 = vc_now();
    vc_weights *w = NULL;
    vc_status st = vc_weights_open(ctx, vct_path("%s", ckpt_rel), &w);
    if (st != VC_STATUS_OK) fail_msg("%s: %s", ckpt_rel, vc_context_errmsg(ctx));
    double t1 = vc_now();
    const char *wrapper = vc_json_string(vc_json_get(j, "wrapper"));
    assert_non_null(wrapper);
    assert_string_equal(wrapper_str(vc_weights_wrapper(w)), wrapper);
    bool deepspeed = strcmp(wrapper, "deepspeed") == 0;
    const vc_json *tensors = vc_json_get(j, "tensors");
    int64_t count = 0;
    assert_true(vc_json_is_integer(vc_json_get(j, "tensor_count"), &count));
    assert_int_equal(vc_json_len(tensors), (size_t)count);
    assert_int_equal(vc_weights_count(w), (size_t)count);
    size_t zero_copy = 0;
    for (size_t i = 0; i < vc_json_len(tensors); i++) {
        const char *key = vc_json_key_at(tensors, i);
        const vc_json *e = vc_json_at(tensors, i);
        const char *name = deepspeed ? key + 16 : key;   /* §9.1 strip */
        const vc_weight *t = vc_weights_find(w, name);
        if (!t) fail_msg("%s: tensor '%s' not loaded", ckpt_rel, name);
        assert_ptr_equal(vc_weights_at(w, i), t);   /* file order */
        assert_string_equal(vc_dtype_str(t->stored_dtype), vc_json_string(vc_json_get(e, "dtype")));
        const vc_json *shape = vc_json_get(e, "shape");
        assert_int_equal((size_t)t->ndim, vc_json_len(shape));
        int64_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            int64_t d;
            assert_true(vc_json_is_integer(vc_json_at(shape, (size_t)k), &d));
            assert_int_equal(t->shape[k], d);
            numel *= d;
        }
        assert_int_equal(t->numel, numel);
        char hex[65];
        vct_sha256_hex(t->stored, (size_t)numel * vc_dtype_size(t->stored_dtype), hex);
        if (strcmp(hex, vc_json_string(vc_json_get(e, "sha256"))) != 0)
            fail_msg("%s: tensor '%s' sha256 %s != %s", ckpt_rel, name, hex, vc_json_string(vc_json_get(e, "sha256")));
        /* the float32 view is exact */
        assert_non_null(t->f32);
        for (int64_t k = 0; k < numel; k++) {
            float ref;
            if (t->stored_dtype == VC_DTYPE_F32) memcpy(&ref, (const char *)t->stored + 4 * k, 4);
            else {
                uint16_t h;
                memcpy(&h, (const char *)t->stored + 2 * k, 2);
                ref = t->stored_dtype == VC_DTYPE_F16 ? vc_f16_to_f32(h) : vc_bf16_to_f32(h);
            }
            if (memcmp(&ref, &t->f32[k], 4) != 0) fail_msg("%s: '%s'[%lld] f32 view differs", ckpt_rel, name, (long long)k);
        }
        if (t->stored_dtype == VC_DTYPE_F32 && (const void *)t->f32 == t->stored) zero_copy++;
        assert_ptr_equal(vc_weights_f32(w, name), t->f32);
    }
    print_message("  %-32s %zu tensors, wrapper %s, %zu zero-copy f32, resident copies %llu bytes, file %llu bytes, "
                  "open %.1f ms\n",
                  ckpt_rel, vc_weights_count(w), wrapper, zero_copy, (unsigned long long)vc_weights_resident_bytes(w),
                  (unsigned long long)vc_weights_file_bytes(w), (t1 - t0) * 1e3);
    vc_weights_free(w);
    vc_json_free(j);
    free(jtext);
    vc_context_free(ctx);
}

static void test_ref_t2v_512_v1(void **s) { (void)s; check_reference("t2v_512_v1/model.ckpt", "t2v_512_v1/tensors.json"); }
static void test_ref_t2v_1024_v1(void **s) { (void)s; check_reference("t2v_1024_v1/model.ckpt", "t2v_1024_v1/tensors.json"); }
static void test_ref_t2v_512_v2(void **s) { (void)s; check_reference("t2v_512_v2/model.ckpt", "t2v_512_v2/tensors.json"); }
static void test_ref_i2v_512_v1(void **s) { (void)s; check_reference("i2v_512_v1/model.ckpt", "i2v_512_v1/tensors.json"); }
static void test_ref_bare(void **s) { (void)s; check_reference("loader/bare_state_dict.ckpt", "loader/tensors.json"); }

static void test_f32f_lookup(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    vc_weights *w = NULL;
    assert_int_equal(vc_weights_open(ctx, vct_path("t2v_512_v1/model.ckpt"), &w), VC_STATUS_OK);
    const float *a = vc_weights_f32f(w, "model.diffusion_model.input_blocks.%d.%d.in_layers.0.weight", 1, 0);
    assert_non_null(a);
    assert_ptr_equal(a, vc_weights_f32(w, "model.diffusion_model.input_blocks.1.0.in_layers.0.weight"));
    assert_null(vc_weights_f32f(w, "no.such.%s", "tensor"));
    assert_null(vc_weights_find(w, "model.diffusion_model"));
    vc_weights_free(w);
    vc_context_free(ctx);
}

static void test_missing_file(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    vc_weights *w = (vc_weights *)1;
    vc_status st = vc_weights_open(ctx, "/nonexistent/dir/model.ckpt", &w);
    assert_int_equal(st, VC_STATUS_IO_ERROR);
    assert_null(w);
    assert_non_null(strstr(vc_context_errmsg(ctx), "/nonexistent/dir/model.ckpt"));
    st = vc_weights_open(ctx, vct_tmpdir(), &w);
    assert_int_equal(st, VC_STATUS_IO_ERROR);
    char p[512];
    snprintf(p, sizeof p, "%s/empty.ckpt", vct_tmpdir());
    write_file(p, "", 0);
    st = vc_weights_open(ctx, p, &w);
    assert_int_equal(st, VC_STATUS_BAD_FORMAT);
    snprintf(p, sizeof p, "%s/text.ckpt", vct_tmpdir());
    write_file(p, "hello world, not a checkpoint", 29);
    st = vc_weights_open(ctx, p, &w);
    assert_int_equal(st, VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "not a PyTorch zip checkpoint"));
    vc_context_free(ctx);
}

/* ---------------------------------------------------------------- JSON */
static vc_status jparse(vc_context *ctx, const char *text, vc_json **j)
{
    return vc_json_parse(ctx, "test", text, strlen(text), j);
}

static void test_json(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    vc_json *j = NULL;
    assert_int_equal(jparse(ctx, " {\"a\": [1, -2.5e1, true, false, null, \"x\\u00e9\\ud83d\\ude00\\n\"], \"b\": {}} ", &j),
                     VC_STATUS_OK);
    const vc_json *a = vc_json_get(j, "a");
    assert_int_equal(vc_json_len(a), 6);
    int64_t v;
    assert_true(vc_json_is_integer(vc_json_at(a, 0), &v));
    assert_int_equal(v, 1);
    assert_false(vc_json_is_integer(vc_json_at(a, 1), &v) && false);
    assert_true(vc_json_number(vc_json_at(a, 1)) == -25.0);
    assert_true(vc_json_bool(vc_json_at(a, 2)));
    assert_false(vc_json_bool(vc_json_at(a, 3)));
    assert_int_equal(vc_json_type_of(vc_json_at(a, 4)), VC_JSON_NULL);
    assert_string_equal(vc_json_string(vc_json_at(a, 5)), "x\xc3\xa9\xf0\x9f\x98\x80\n");
    assert_int_equal(vc_json_type_of(vc_json_get(j, "b")), VC_JSON_OBJECT);
    assert_string_equal(vc_json_key_at(j, 1), "b");
    assert_null(vc_json_get(j, "c"));
    vc_json_free(j);
    assert_int_equal(jparse(ctx, "9223372036854775807", &j), VC_STATUS_OK);
    assert_true(vc_json_is_integer(j, &v));
    assert_true(v == INT64_MAX);
    vc_json_free(j);
    assert_int_equal(jparse(ctx, "1.5", &j), VC_STATUS_OK);
    assert_false(vc_json_is_integer(j, &v));
    vc_json_free(j);

    static const char *bad[] = {
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"abc", "\"\\x\"", "\"\\ud800\"", "\"\\udc00\"",
        "\"\\ud800\\u0041\"", "\"\\u12\"", "\"a\tb\"", "\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "1 2", "{1:2}",
        "[1 2]", "NaN", "\"\\u0000\"", "{\"a\" 1}", "+1", ".5",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        j = NULL;
        vc_status st = jparse(ctx, bad[i], &j);
        if (st != VC_STATUS_BAD_FORMAT) fail_msg("JSON %zu '%s' accepted (status %d)", i, bad[i], (int)st);
        assert_null(j);
        assert_non_null(strstr(vc_context_errmsg(ctx), "at byte"));
    }
    /* depth limit 64 */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    assert_int_equal(jparse(ctx, deep, &j), VC_STATUS_OK);
    vc_json_free(j);
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    deep[130] = 0;
    assert_int_equal(jparse(ctx, deep, &j), VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "64"));
    /* never reads past len */
    assert_int_equal(vc_json_parse(ctx, "t", "[1,2]xyz", 5, &j), VC_STATUS_OK);
    vc_json_free(j);
    assert_int_equal(vc_json_parse(ctx, "t", "\"abc\"", 4, &j), VC_STATUS_BAD_FORMAT);
    vc_context_free(ctx);
}

/* ------------------------------------------------------- round trips */
static const int64_t shp_a[] = { 3, 5 }, shp_b[] = { 7 }, shp_c[] = { 2, 3, 2, 2 }, shp_e[] = { 0, 4 };

static float *pattern(int64_t n, uint32_t seed)
{
    float *f = malloc((size_t)(n ? n : 1) * sizeof *f);
    assert_non_null(f);
    uint32_t x = seed * 2654435761u + 1;
    for (int64_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        f[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * 3.0f;
    }
    if (n > 2) { f[0] = 65504.0f; f[1] = -1e-7f; }   /* f16 max, a subnormal-ish value */
    return f;
}

typedef struct fixture {
    vc_ckpt_tensor t[5];
    float *data[5];
} fixture;

static void fixture_make(fixture *fx)
{
    static const char *names[5] = { "model.a.weight", "first_stage_model.b", "c.d.e.f", "scalar", "empty" };
    const int64_t *shapes[5] = { shp_a, shp_b, shp_c, NULL, shp_e };
    const int nd[5] = { 2, 1, 4, 0, 2 };
    const int64_t numel[5] = { 15, 7, 24, 1, 0 };
    for (int i = 0; i < 5; i++) {
        fx->data[i] = pattern(numel[i], (uint32_t)i + 1);
        fx->t[i] = (vc_ckpt_tensor){ names[i], nd[i], shapes[i], fx->data[i] };
    }
}

static void fixture_free(fixture *fx)
{
    for (int i = 0; i < 5; i++) free(fx->data[i]);
}

static float rounded(float f, vc_dtype d)
{
    if (d == VC_DTYPE_F16) return vc_f16_to_f32(vc_f32_to_f16(f));
    if (d == VC_DTYPE_BF16) return vc_bf16_to_f32(vc_f32_to_bf16(f));
    return f;
}

static void check_fixture(const vc_weights *w, const fixture *fx, vc_dtype dtype, const uint8_t *file, size_t flen,
                          bool expect_zero_copy)
{
    assert_int_equal(vc_weights_count(w), 5);
    for (int i = 0; i < 5; i++) {
        const vc_weight *t = vc_weights_at(w, (size_t)i);
        assert_string_equal(t->name, fx->t[i].name);
        assert_ptr_equal(vc_weights_find(w, fx->t[i].name), t);
        assert_int_equal(t->stored_dtype, dtype);
        assert_int_equal(t->ndim, fx->t[i].ndim);
        int64_t n = 1;
        for (int k = 0; k < t->ndim; k++) {
            assert_int_equal(t->shape[k], fx->t[i].shape[k]);
            n *= t->shape[k];
        }
        assert_int_equal(t->numel, n);
        assert_true(n == 0 || t->f32 != NULL);
        for (int64_t k = 0; k < n; k++) {
            float want = rounded(fx->data[i][k], dtype);
            if (memcmp(&want, &t->f32[k], 4) != 0)
                fail_msg("'%s'[%lld]: %.9g != %.9g", t->name, (long long)k, (double)t->f32[k], (double)want);
            if (dtype == VC_DTYPE_F16) {
                uint16_t h;
                memcpy(&h, (const uint8_t *)t->stored + 2 * k, 2);
                assert_int_equal(h, vc_f32_to_f16(fx->data[i][k]));
            } else if (dtype == VC_DTYPE_BF16) {
                uint16_t h;
                memcpy(&h, (const uint8_t *)t->stored + 2 * k, 2);
                assert_int_equal(h, vc_f32_to_bf16(fx->data[i][k]));
            }
        }
        if (expect_zero_copy && n) {
            const uint8_t *p = (const uint8_t *)t->f32;
            assert_true(p >= file && p + 4 * n <= file + flen);   /* points into the file */
            assert_int_equal((uintptr_t)p % 64, 0);               /* the 'FB' padding, §9.2 */
        }
    }
}

static void test_roundtrip_zip(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    fixture fx;
    fixture_make(&fx);
    const vc_dtype dts[3] = { VC_DTYPE_F32, VC_DTYPE_F16, VC_DTYPE_BF16 };
    const vc_ckpt_wrapper wrs[4] = { VC_WRAPPER_NONE, VC_WRAPPER_STATE_DICT, VC_WRAPPER_LIGHTNING, VC_WRAPPER_DEEPSPEED };
    int combos = 0;
    for (int d = 0; d < 3; d++)
        for (int wi = 0; wi < 4; wi++)
            for (int mode = 0; mode < 3; mode++) {
                vc_ckpt_write_opts o = { mode == 1 ? "my model/nested" : NULL, mode == 1, mode == 2 };
                uint8_t *buf;
                size_t len;
                assert_int_equal(vc_ckpt_build_zip(ctx, fx.t, 5, dts[d], wrs[wi], &o, &buf, &len), VC_STATUS_OK);
                /* page-aligned copy so the 64-byte alignment is observable */
                uint8_t *al = aligned_alloc(4096, (len + 4095) / 4096 * 4096);
                assert_non_null(al);
                memcpy(al, buf, len);
                vc_weights *w = NULL;
                vc_status st = vc_weights_open_mem(ctx, "roundtrip", al, len, &w);
                if (st != VC_STATUS_OK) fail_msg("dtype %d wrapper %d mode %d: %s", d, wi, mode, vc_context_errmsg(ctx));
                assert_int_equal(vc_weights_wrapper(w), wrs[wi]);
                check_fixture(w, &fx, dts[d], al, len, dts[d] == VC_DTYPE_F32 && mode != 2);
                if (dts[d] == VC_DTYPE_F32 && mode != 2) assert_int_equal(vc_weights_resident_bytes(w), 0);
                vc_weights_free(w);
                free(al);
                free(buf);
                combos++;
            }
    /* through a real file */
    char path[512];
    snprintf(path, sizeof path, "%s/ds.ckpt", vct_tmpdir());
    assert_int_equal(vc_ckpt_write_zip(ctx, path, fx.t, 5, VC_DTYPE_BF16, VC_WRAPPER_DEEPSPEED, "ds"), VC_STATUS_OK);
    vc_weights *w = NULL;
    assert_int_equal(vc_weights_open(ctx, path, &w), VC_STATUS_OK);
    assert_int_equal(vc_weights_wrapper(w), VC_WRAPPER_DEEPSPEED);
    check_fixture(w, &fx, VC_DTYPE_BF16, NULL, 0, false);
    vc_weights_free(w);
    /* the streaming file writer emits exactly the in-memory archive */
    {
        vc_ckpt_write_opts o = { "ds", false, false };
        uint8_t *mem = NULL;
        size_t mlen = 0;
        assert_int_equal(vc_ckpt_build_zip(ctx, fx.t, 5, VC_DTYPE_BF16, VC_WRAPPER_DEEPSPEED, &o, &mem, &mlen), VC_STATUS_OK);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *disk = malloc(mlen + 1);
        assert_non_null(disk);
        assert_int_equal(fread(disk, 1, mlen + 1, f), mlen);
        fclose(f);
        assert_memory_equal(disk, mem, mlen);
        free(disk);
        free(mem);
    }
    print_message("  %d zip round trips (3 dtypes x 4 wrappers x plain/zip64/deflate) bit-identical\n", combos);
    fixture_free(&fx);
    vc_context_free(ctx);
}

static void test_roundtrip_safetensors(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    fixture fx;
    fixture_make(&fx);
    fx.t[2].name = "needs \"escaping\"\\\t";
    const vc_dtype dts[3] = { VC_DTYPE_F32, VC_DTYPE_F16, VC_DTYPE_BF16 };
    for (int d = 0; d < 3; d++) {
        char path[512];
        snprintf(path, sizeof path, "%s/t%d.safetensors", vct_tmpdir(), d);
        assert_int_equal(vc_ckpt_write_safetensors(ctx, path, fx.t, 5, dts[d]), VC_STATUS_OK);
        vc_weights *w = NULL;
        vc_status st = vc_weights_open(ctx, path, &w);
        if (st != VC_STATUS_OK) fail_msg("%s", vc_context_errmsg(ctx));
        assert_int_equal(vc_weights_wrapper(w), VC_WRAPPER_SAFETENSORS);
        check_fixture(w, &fx, dts[d], NULL, 0, false);
        if (dts[d] == VC_DTYPE_F32) {
            assert_int_equal(vc_weights_resident_bytes(w), 0);   /* zero-copy */
            assert_ptr_equal(vc_weights_at(w, 0)->f32, vc_weights_at(w, 0)->stored);
        }
        vc_weights_free(w);
    }
    fixture_free(&fx);
    vc_context_free(ctx);
}

/* ------------------------------------------------ hand-made pickles */
typedef struct tb { uint8_t *p; size_t n, cap; } tb;

static void tb_put(tb *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void tb_byte(tb *b, int c) { uint8_t x = (uint8_t)c; tb_put(b, &x, 1); }
static void tb_str(tb *b, const char *s) { tb_put(b, s, strlen(s)); }
static void tb_u32(tb *b, uint32_t v) { uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) }; tb_put(b, x, 4); }
static void tb_unicode(tb *b, const char *s) { tb_byte(b, 'X'); tb_u32(b, (uint32_t)strlen(s)); tb_str(b, s); }
static void tb_long(tb *b, int64_t v) { tb_byte(b, 0x8A); tb_byte(b, 8); for (int k = 0; k < 8; k++) tb_byte(b, (int)((uint64_t)v >> (8 * k) & 0xFF)); }

/* pickle of {name: _rebuild_tensor_v2(storage(stype, key, numel), offset, shape, stride, False, OrderedDict())} */
static void tb_tensor(tb *b, const char *stype, const char *key, int64_t numel, int64_t offset, int nd,
                      const int64_t *shape, const int64_t *stride)
{
    tb_str(b, "ctorch._utils\n_rebuild_tensor_v2\n(");
    tb_byte(b, '(');
    tb_unicode(b, "storage");
    tb_str(b, "ctorch\n"); tb_str(b, stype); tb_byte(b, '\n');
    tb_unicode(b, key);
    tb_unicode(b, "cpu");
    tb_long(b, numel);
    tb_str(b, "tQ");
    tb_long(b, offset);
    tb_byte(b, '(');
    for (int k = 0; k < nd; k++) tb_long(b, shape[k]);
    tb_byte(b, 't');
    tb_byte(b, '(');
    for (int k = 0; k < nd; k++) tb_long(b, stride[k]);
    tb_byte(b, 't');
    tb_byte(b, 0x89);
    tb_str(b, "ccollections\nOrderedDict\n)R");
    tb_str(b, "tR");
}

/* zip with archive/data.pkl = pkl and archive/data/<i> = storages[i] */
static vc_status open_custom(vc_context *ctx, const tb *pkl, const void *const *stor, const size_t *slen, size_t ns,
                             vc_weights **w, uint8_t **zbuf, size_t *zlen)
{
    vc_zip_src src[8];
    char names[8][48];
    src[0] = (vc_zip_src){ "archive/data.pkl", pkl->p, pkl->n };
    for (size_t i = 0; i < ns; i++) {
        snprintf(names[i], sizeof names[i], "archive/data/%zu", i);
        src[i + 1] = (vc_zip_src){ names[i], stor[i], slen[i] };
    }
    assert_int_equal(vc_zip_build(ctx, src, ns + 1, NULL, zbuf, zlen), VC_STATUS_OK);
    return vc_weights_open_mem(ctx, "custom", *zbuf, *zlen, w);
}

static vc_status open_pickle(vc_context *ctx, const tb *pkl, vc_weights **w)
{
    float st[16];
    for (int i = 0; i < 16; i++) st[i] = (float)i;
    const void *sp[1] = { st };
    size_t sl[1] = { sizeof st };
    uint8_t *z;
    size_t zl;
    vc_status s = open_custom(ctx, pkl, sp, sl, 1, w, &z, &zl);
    if (s == VC_STATUS_OK) {
        /* keep the buffer alive with the weights: copy results out first */
        static uint8_t *keep[64];
        static int nk;
        free(keep[nk & 63]);
        keep[nk++ & 63] = z;
    } else {
        free(z);
    }
    return s;
}

static void test_views(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    /* storage of 12 floats 0..11 (f32) and 12 bf16 */
    float st[12];
    uint16_t bst[12];
    for (int i = 0; i < 12; i++) { st[i] = (float)i; bst[i] = vc_f32_to_bf16((float)i); }
    tb b = { 0 };
    tb_str(&b, "\x80\x02}(");
    const int64_t sh_t[2] = { 3, 2 }, str_t[2] = { 1, 3 };        /* transpose of a [2,3] window at offset 2 */
    const int64_t sh_w[2] = { 2, 3 }, str_w[2] = { 3, 1 };        /* contiguous window at offset 5 (overlaps) */
    const int64_t sh_s[1] = { 3 }, str_s[1] = { 4 };              /* strided */
    tb_unicode(&b, "transposed"); tb_tensor(&b, "FloatStorage", "0", 12, 2, 2, sh_t, str_t);
    tb_unicode(&b, "window"); tb_tensor(&b, "FloatStorage", "0", 12, 5, 2, sh_w, str_w);
    tb_unicode(&b, "strided_bf16"); tb_tensor(&b, "BFloat16Storage", "1", 12, 1, 1, sh_s, str_s);
    tb_unicode(&b, "param");
    tb_str(&b, "ctorch._utils\n_rebuild_parameter\n(");
    tb_tensor(&b, "FloatStorage", "0", 12, 0, 1, sh_s, (const int64_t[]){ 1 });
    tb_str(&b, "\x89" "ccollections\nOrderedDict\n)RtR");
    tb_str(&b, "u.");
    const void *sp[2] = { st, bst };
    size_t sl[2] = { sizeof st, sizeof bst };
    vc_weights *w;
    uint8_t *z;
    size_t zl;
    vc_status r = open_custom(ctx, &b, sp, sl, 2, &w, &z, &zl);
    if (r != VC_STATUS_OK) fail_msg("%s", vc_context_errmsg(ctx));
    const float *t = vc_weights_f32(w, "transposed");
    const float want_t[6] = { 2, 5, 3, 6, 4, 7 };
    assert_memory_equal(t, want_t, sizeof want_t);
    const float *wv = vc_weights_f32(w, "window");
    const float want_w[6] = { 5, 6, 7, 8, 9, 10 };
    assert_memory_equal(wv, want_w, sizeof want_w);
    const uint8_t *zp = (const uint8_t *)wv;
    assert_true(zp > z && zp < z + zl);   /* contiguous f32: zero-copy into the archive */
    const vc_weight *sb = vc_weights_find(w, "strided_bf16");
    assert_int_equal(sb->stored_dtype, VC_DTYPE_BF16);
    const float want_s[3] = { 1, 5, 9 };
    assert_memory_equal(sb->f32, want_s, sizeof want_s);
    const float want_p[3] = { 0, 1, 2 };
    assert_memory_equal(vc_weights_f32(w, "param"), want_p, sizeof want_p);
    assert_int_equal(vc_weights_wrapper(w), VC_WRAPPER_NONE);
    vc_weights_free(w);
    free(z);
    free(b.p);
    vc_context_free(ctx);
}

/* A protocol-4 pickle (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINGET):
 * the fuzz seed test/fuzz/corpus/fuzz_pickle/protocol4_views.pkl. */
static void test_protocol4(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    size_t n;
    uint8_t *pk = vct_read_file(VC_SOURCE_DIR "/test/fuzz/corpus/fuzz_pickle/protocol4_views.pkl", &n);
    float st0[64], st1[64];
    for (int i = 0; i < 64; i++) { st0[i] = (float)i; st1[i] = (float)(100 + i); }
    const void *sp[2] = { st0, st1 };
    size_t sl[2] = { sizeof st0, sizeof st1 };
    tb b = { pk, n, n };
    vc_weights *w;
    uint8_t *z;
    size_t zl;
    if (open_custom(ctx, &b, sp, sl, 2, &w, &z, &zl) != VC_STATUS_OK) fail_msg("%s", vc_context_errmsg(ctx));
    const float want_t[6] = { 2, 5, 3, 6, 4, 7 }, want_u[4] = { 100, 101, 102, 103 };
    assert_memory_equal(vc_weights_f32(w, "t"), want_t, sizeof want_t);
    assert_memory_equal(vc_weights_f32(w, "u"), want_u, sizeof want_u);
    vc_weights_free(w);
    free(z);
    free(pk);
    vc_context_free(ctx);
}

/* ---------------------------------------------------------- hostile */
static void expect_fail(vc_context *ctx, const tb *pkl, vc_status want, const char *needle)
{
    vc_weights *w = (vc_weights *)1;
    vc_status st = open_pickle(ctx, pkl, &w);
    if (st == VC_STATUS_OK) fail_msg("expected failure containing '%s', got OK", needle);
    assert_null(w);
    const char *msg = vc_context_errmsg(ctx);
    if (want != VC_STATUS_OK && st != want) fail_msg("status %d (want %d): %s", (int)st, (int)want, msg);
    if (!strstr(msg, needle)) fail_msg("message lacks '%s': %s", needle, msg);
}

static void one_tensor(tb *b, const char *stype, int64_t numel, int64_t off, int nd, const int64_t *shape,
                       const int64_t *stride)
{
    b->n = 0;
    tb_str(b, "\x80\x02}");
    tb_unicode(b, "t");
    tb_tensor(b, stype, "0", numel, off, nd, shape, stride);
    tb_str(b, "s.");
}

static void test_hostile_tensors(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    tb b = { 0 };
    const int64_t sh4[1] = { 4 }, st1[1] = { 1 };
    one_tensor(&b, "FloatStorage", 16, 0, 1, sh4, st1);
    vc_weights *w;
    assert_int_equal(open_pickle(ctx, &b, &w), VC_STATUS_OK);
    vc_weights_free(w);
    one_tensor(&b, "FloatStorage", 16, 13, 1, sh4, st1);                 /* runs past the storage */
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "reaches element 16 of a 16-element storage");
    one_tensor(&b, "FloatStorage", 17, 0, 1, sh4, st1);                  /* storage larger than its record */
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "record holds 64 bytes");
    one_tensor(&b, "DoubleStorage", 16, 0, 1, sh4, st1);                 /* 16 doubles > 64 bytes */
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "record holds");
    one_tensor(&b, "FloatStorage", 16, -1, 1, sh4, st1);
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "storage offset");
    one_tensor(&b, "FloatStorage", INT64_MAX, 0, 1, sh4, st1);            /* numel x 4 overflows */
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "record holds");
    const int64_t huge2[2] = { (int64_t)1 << 62, (int64_t)1 << 62 }, st11[2] = { 1, 1 };
    one_tensor(&b, "FloatStorage", 16, 0, 2, huge2, st11);
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "overflows");
    const int64_t huge1[1] = { (int64_t)1 << 40 }, st0[1] = { 0 };        /* stride-0 expansion */
    one_tensor(&b, "FloatStorage", 16, 0, 1, huge1, st0);
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "self-overlapping");
    const int64_t big1[1] = { (int64_t)1 << 40 };
    one_tensor(&b, "FloatStorage", 16, 0, 1, big1, st1);
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "storage");
    const int64_t sh9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, st9[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };
    one_tensor(&b, "FloatStorage", 16, 0, 9, sh9, st9);
    expect_fail(ctx, &b, VC_STATUS_LIMIT_EXCEEDED, "9 dimensions");
    const int64_t neg[1] = { -4 };
    one_tensor(&b, "FloatStorage", 16, 0, 1, neg, st1);
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "non-negative");
    one_tensor(&b, "ComplexFloatStorage", 16, 0, 1, sh4, st1);
    expect_fail(ctx, &b, VC_STATUS_UNSUPPORTED, "ComplexFloatStorage");
    /* f16 widening of the whole storage through many overlapping views fits the budget;
     * a storage key that is not in the archive does not */
    b.n = 0;
    tb_str(&b, "\x80\x02}");
    tb_unicode(&b, "t");
    tb_tensor(&b, "FloatStorage", "7", 4, 0, 1, sh4, st1);
    tb_str(&b, "s.");
    expect_fail(ctx, &b, VC_STATUS_BAD_FORMAT, "archive/data/7");
    free(b.p);
    vc_context_free(ctx);
}

#define PK(lit) lit, sizeof(lit) - 1
static void test_hostile_pickles(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    tb b = { 0 };
    struct { const char *bytes; size_t len; vc_status st; const char *needle; } cases[] = {
        { PK("\x80\x02]q\x00."), VC_STATUS_BAD_FORMAT, "list, not a dict" },
        { PK("\x80\x02}X\x03\x00\x00\x00" "fooK\x01s."), VC_STATUS_BAD_FORMAT, "no usable state dict" },
        { PK("\x80\x02}X\x0a\x00\x00\x00state_dictK\x05s."), VC_STATUS_BAD_FORMAT, "'state_dict' is a int" },
        { PK("\x80\x02}X\x06\x00\x00\x00moduleN" "s."), VC_STATUS_BAD_FORMAT, "'module' is a None" },
        { PK("\x80\x02}."), VC_STATUS_BAD_FORMAT, "empty" },
        { PK("\x80\x02R."), VC_STATUS_BAD_FORMAT, "stack underflow" },
        { PK("\x80\x02h\x05."), VC_STATUS_BAD_FORMAT, "memo entry 5" },
        { PK("\x80\x02}"), VC_STATUS_BAD_FORMAT, "without STOP" },
        { PK("\x80\x02X\xff\xff\xff\x7f"), VC_STATUS_BAD_FORMAT, "runs past the end" },
        { PK("\x80\x02\x8b\xff\xff\xff\xff"), VC_STATUS_BAD_FORMAT, "runs past the end" },
        { PK("\x80\x02(u."), VC_STATUS_BAD_FORMAT, "SETITEMS without a dict" },
        { PK("\x80\x02}(K\x01u."), VC_STATUS_BAD_FORMAT, "odd number" },
        { PK("\x80\x02K\x01K\x02s."), VC_STATUS_BAD_FORMAT, "stack underflow" },
        { PK("\x80\x02]K\x01K\x02s."), VC_STATUS_BAD_FORMAT, "SETITEM on a list" },
        { PK("\x80\x02\x82\x01."), VC_STATUS_BAD_FORMAT, "not allowed" },               /* EXT1 */
        { PK("\x80\x02\x83\x01\x00."), VC_STATUS_BAD_FORMAT, "not allowed" },           /* EXT2 */
        { PK("\x80\x02\x97."), VC_STATUS_BAD_FORMAT, "not allowed" },                   /* NEXT_BUFFER */
        { PK("\x80\x02\x98."), VC_STATUS_BAD_FORMAT, "not allowed" },                   /* READONLY_BUFFER */
        { PK("\x80\x02(ios\nsystem\n."), VC_STATUS_BAD_FORMAT, "not allowed" },        /* INST */
        { PK("\x80\x02(o."), VC_STATUS_BAD_FORMAT, "not allowed" },                     /* OBJ */
        { PK("\x80\x02S'x'\n."), VC_STATUS_BAD_FORMAT, "not allowed" },                 /* STRING */
        { PK("\x80\x02Pabc\n."), VC_STATUS_BAD_FORMAT, "not allowed" },                 /* PERSID */
        { PK("\x80\x02\xff."), VC_STATUS_BAD_FORMAT, "not allowed" },
        { PK("\x80\x09}."), VC_STATUS_UNSUPPORTED, "protocol 9" },
        { PK("\x80\x02X\x01\x00\x00\x00" "aQ."), VC_STATUS_UNSUPPORTED, "persistent id" },
        { PK("\x80\x02" "cos\nsystem\n" "X\x02\x00\x00\x00ls\x85R."), VC_STATUS_BAD_FORMAT, "object, not a dict" },
        { PK("\x80\x02}X\x01\x00\x00\x00t" "cos\nsystem\n" "X\x02\x00\x00\x00ls\x85R" "s."), VC_STATUS_BAD_FORMAT,
          "is a object, not a tensor" },
        { PK("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x00K\x00))\x89N" "tR."), VC_STATUS_BAD_FORMAT,
          "not a storage" },
        { PK("\x80\x02" "ccollections\nOrderedDict\n" "(K\x01" "tR" "X\x01\x00\x00\x00k" "K\x01s."), VC_STATUS_BAD_FORMAT,
          "holds a object, not a dict" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        b.n = 0;
        tb_put(&b, cases[i].bytes, cases[i].len);
        vc_weights *w = (vc_weights *)1;
        vc_status st = open_pickle(ctx, &b, &w);
        const char *msg = vc_context_errmsg(ctx);
        if (st != cases[i].st || !strstr(msg, cases[i].needle))
            fail_msg("pickle case %zu: status %d (want %d), message '%s' (want '%s')", i, (int)st, (int)cases[i].st,
                     msg, cases[i].needle);
        assert_null(w);
    }
    /* a million MARKs / DUPs: bounded by the memory budget, no crash */
    b.n = 0;
    tb_str(&b, "\x80\x02}");
    for (int i = 0; i < 1000000; i++) tb_byte(&b, i % 2 ? '(' : '2');
    tb_byte(&b, '.');
    vc_weights *w;
    vc_status st = open_pickle(ctx, &b, &w);
    assert_int_not_equal(st, VC_STATUS_OK);
    /* nesting a million levels deep (1-2 bytes a level): tuples, lists, dicts of
     * dicts; refused or rejected as no state dict, never a stack overflow when
     * the objects are built, inspected or freed */
    for (int kind = 0; kind < 3; kind++) {
        b.n = 0;
        tb_str(&b, "\x80\x02");
        const int deep = 1000000;
        if (kind == 0) {
            tb_str(&b, "K\x01");
            for (int i = 0; i < deep; i++) tb_byte(&b, 0x85); /* TUPLE1 */
        } else if (kind == 1) {
            for (int i = 0; i < deep; i++) tb_byte(&b, ']');
            for (int i = 0; i < deep - 1; i++) tb_byte(&b, 'a'); /* APPEND */
        } else {
            tb_byte(&b, '}');
            for (int i = 0; i < deep; i++) { tb_unicode(&b, "k"); tb_byte(&b, '}'); }
            for (int i = 0; i < deep; i++) tb_byte(&b, 's'); /* SETITEM */
        }
        tb_byte(&b, '.');
        st = open_pickle(ctx, &b, &w);
        assert_int_not_equal(st, VC_STATUS_OK);
        assert_int_not_equal(st, VC_STATUS_INTERNAL);
        print_message("  pickle nested %d deep (%s): %s\n", deep, kind == 0 ? "tuples" : kind == 1 ? "lists" : "dicts",
                      vc_context_errmsg(ctx));
    }
    /* memo indices up to 2^32-1 are hashed, not allocated densely */
    b.n = 0;
    tb_str(&b, "\x80\x02}r\xff\xff\xff\xffj\xff\xff\xff\xff.");
    st = open_pickle(ctx, &b, &w);
    assert_int_equal(st, VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "empty"));
    free(b.p);
    vc_context_free(ctx);
}

static void test_truncated(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    fixture fx;
    fixture_make(&fx);
    uint8_t *zb, *sb;
    size_t zl, sl;
    assert_int_equal(vc_ckpt_build_zip(ctx, fx.t, 5, VC_DTYPE_F16, VC_WRAPPER_LIGHTNING, NULL, &zb, &zl), VC_STATUS_OK);
    assert_int_equal(vc_ckpt_build_safetensors(ctx, fx.t, 5, VC_DTYPE_BF16, &sb, &sl), VC_STATUS_OK);
    size_t tried = 0;
    for (int kind = 0; kind < 2; kind++) {
        const uint8_t *full = kind ? sb : zb;
        size_t len = kind ? sl : zl;
        for (size_t n = 0; n < len; n++) {
            uint8_t *p = malloc(n ? n : 1);   /* exact-size heap copy: ASan sees any over-read */
            memcpy(p, full, n);
            vc_weights *w = (vc_weights *)1;
            vc_status st = vc_weights_open_mem(ctx, "truncated", p, n, &w);
            if (st == VC_STATUS_OK) fail_msg("%s prefix of %zu/%zu bytes loaded", kind ? "safetensors" : "zip", n, len);
            assert_null(w);
            assert_true(vc_context_errmsg(ctx)[0] != 0);
            free(p);
            tried++;
        }
    }
    /* single-byte corruptions of the zip: any status, never a crash */
    size_t ok = 0;
    for (size_t i = 0; i < zl; i += 3) {
        uint8_t *p = malloc(zl);
        memcpy(p, zb, zl);
        p[i] ^= 0x5A;
        vc_weights *w = NULL;
        if (vc_weights_open_mem(ctx, "corrupt", p, zl, &w) == VC_STATUS_OK) ok++;
        vc_weights_free(w);
        free(p);
    }
    print_message("  %zu truncated prefixes refused; %zu of %zu byte flips still load (data bytes)\n", tried, ok, zl / 3 + 1);
    free(zb);
    free(sb);
    fixture_free(&fx);
    vc_context_free(ctx);
}

static void test_zip_hostile(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    /* a real deflate bomb: 8 MiB of zeros in a ~8 KiB entry is within the ratio and loads;
     * the same entry declaring 2^40 bytes is refused before allocating */
    size_t big = (size_t)8 << 20;
    uint8_t *zeros = calloc(big, 1);
    vc_zip_src src[1] = { { "archive/data/0", zeros, big } };
    vc_ckpt_write_opts o = { NULL, false, true };
    uint8_t *z;
    size_t zl;
    assert_int_equal(vc_zip_build(ctx, src, 1, &o, &z, &zl), VC_STATUS_OK);
    vc_zip *zip;
    assert_int_equal(vc_zip_open_mem(ctx, "bomb", z, zl, &zip), VC_STATUS_OK);
    const uint8_t *d;
    uint64_t dn;
    assert_int_equal(vc_zip_data(ctx, zip, 0, &d, &dn), VC_STATUS_OK);
    assert_int_equal(dn, big);
    vc_zip_free(zip);
    /* patch the central directory's uncompressed size (offset 24 of the entry) */
    size_t cd = zl - 22;
    uint32_t cdoff = (uint32_t)(z[cd + 16] | z[cd + 17] << 8 | z[cd + 18] << 16 | (uint32_t)z[cd + 19] << 24);
    z[cdoff + 24] = 0xFE; z[cdoff + 25] = 0xFF; z[cdoff + 26] = 0xFF; z[cdoff + 27] = 0xFF;
    assert_int_equal(vc_zip_open_mem(ctx, "bomb", z, zl, &zip), VC_STATUS_OK);
    assert_int_equal(vc_zip_data(ctx, zip, 0, &d, &dn), VC_STATUS_LIMIT_EXCEEDED);
    assert_non_null(strstr(vc_context_errmsg(ctx), "zip bomb"));
    vc_zip_free(zip);
    /* declared size smaller than the real output */
    z[cdoff + 24] = 0x00; z[cdoff + 25] = 0x10; z[cdoff + 26] = 0x00; z[cdoff + 27] = 0x00;
    assert_int_equal(vc_zip_open_mem(ctx, "bomb", z, zl, &zip), VC_STATUS_OK);
    assert_int_equal(vc_zip_data(ctx, zip, 0, &d, &dn), VC_STATUS_BAD_FORMAT);
    vc_zip_free(zip);
    /* overlapping-entry bomb: 40 central entries sharing the one deflated local entry */
    {
        size_t cdo = (size_t)cdoff, cde = 46 + strlen("archive/data/0");
        size_t nz = 40, nl = cdo + nz * cde + 22;
        uint8_t *ov = calloc(nl, 1);
        memcpy(ov, z, cdo);
        for (size_t i = 0; i < nz; i++) {
            memcpy(ov + cdo + i * cde, z + cdo, cde);
            ov[cdo + i * cde + 24] = (uint8_t)big; ov[cdo + i * cde + 25] = (uint8_t)(big >> 8);   /* true size back */
            ov[cdo + i * cde + 26] = (uint8_t)(big >> 16); ov[cdo + i * cde + 27] = (uint8_t)(big >> 24);
            ov[cdo + i * cde + cde - 2] = (uint8_t)('A' + i / 26);
            ov[cdo + i * cde + cde - 1] = (uint8_t)('a' + i % 26);
        }
        uint8_t *e = ov + cdo + nz * cde;
        memcpy(e, z + zl - 22, 22);
        e[8] = e[10] = (uint8_t)nz; e[9] = e[11] = 0;
        uint32_t cs = (uint32_t)(nz * cde);
        e[12] = (uint8_t)cs; e[13] = (uint8_t)(cs >> 8); e[14] = (uint8_t)(cs >> 16); e[15] = 0;
        assert_int_equal(vc_zip_open_mem(ctx, "overlap", ov, nl, &zip), VC_STATUS_OK);
        assert_int_equal(vc_zip_count(zip), nz);
        vc_status last = VC_STATUS_OK;
        size_t okn = 0;
        for (size_t i = 0; i < nz && last == VC_STATUS_OK; i++)
            if ((last = vc_zip_data(ctx, zip, i, &d, &dn)) == VC_STATUS_OK) okn++;
        assert_int_equal(last, VC_STATUS_LIMIT_EXCEEDED);
        assert_non_null(strstr(vc_context_errmsg(ctx), "in total"));
        print_message("  overlapping-entry bomb: %zu x 8 MiB inflated, then refused (%llu bytes held)\n", okn,
                      (unsigned long long)vc_zip_owned_bytes(zip));
        vc_zip_free(zip);
        free(ov);
    }
    /* entry count far beyond the directory size */
    z[zl - 22 + 8] = 0xFF; z[zl - 22 + 9] = 0xFE; z[zl - 22 + 10] = 0xFF; z[zl - 22 + 11] = 0xFE;
    assert_int_equal(vc_zip_open_mem(ctx, "bomb", z, zl, &zip), VC_STATUS_BAD_FORMAT);
    free(z);
    free(zeros);
    /* local header offset beyond the file; central directory beyond the file */
    vc_zip_src one[1] = { { "archive/x", (const uint8_t *)"hello", 5 } };
    assert_int_equal(vc_zip_build(ctx, one, 1, NULL, &z, &zl), VC_STATUS_OK);
    cdoff = (uint32_t)(z[zl - 22 + 16] | z[zl - 22 + 17] << 8);
    z[cdoff + 42] = 0xF0; z[cdoff + 43] = 0xFF;
    assert_int_equal(vc_zip_open_mem(ctx, "badlocal", z, zl, &zip), VC_STATUS_BAD_FORMAT);
    z[cdoff + 42] = 0; z[cdoff + 43] = 0;
    z[zl - 22 + 16] = 0xFF; z[zl - 22 + 17] = 0xFF; z[zl - 22 + 18] = 0xFF; z[zl - 22 + 19] = 0x7F;
    assert_int_equal(vc_zip_open_mem(ctx, "badcd", z, zl, &zip), VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "outside the file"));
    free(z);
    /* zip without data.pkl */
    assert_int_equal(vc_zip_build(ctx, one, 1, NULL, &z, &zl), VC_STATUS_OK);
    vc_weights *w = NULL;
    assert_int_equal(vc_weights_open_mem(ctx, "nopkl", z, zl, &w), VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_context_errmsg(ctx), "data.pkl"));
    free(z);
    /* big-endian byteorder record */
    tb b = { 0 };
    tb_str(&b, "\x80\x02}.");
    vc_zip_src be[2] = { { "a/data.pkl", b.p, b.n }, { "a/byteorder", (const uint8_t *)"big", 3 } };
    assert_int_equal(vc_zip_build(ctx, be, 2, NULL, &z, &zl), VC_STATUS_OK);
    assert_int_equal(vc_weights_open_mem(ctx, "be", z, zl, &w), VC_STATUS_UNSUPPORTED);
    assert_non_null(strstr(vc_context_errmsg(ctx), "little-endian"));
    free(z);
    free(b.p);
    vc_context_free(ctx);
}

static void st_case(vc_context *ctx, const char *header, const void *data, size_t dlen, vc_status want, const char *needle)
{
    size_t hl = strlen(header);
    uint8_t *f = malloc(8 + hl + dlen + 1);
    for (int k = 0; k < 8; k++) f[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(f + 8, header, hl);
    if (dlen) memcpy(f + 8 + hl, data, dlen);
    vc_weights *w = NULL;
    vc_status st = vc_weights_open_mem(ctx, "st", f, 8 + hl + dlen, &w);
    if (want == VC_STATUS_OK) {
        if (st != VC_STATUS_OK) fail_msg("safetensors '%s': %s", header, vc_context_errmsg(ctx));
        vc_weights_free(w);
    } else if (st != want || !strstr(vc_context_errmsg(ctx), needle)) {
        fail_msg("safetensors '%s': status %d (want %d): %s (want '%s')", header, (int)st, (int)want,
                 vc_context_errmsg(ctx), needle);
    }
    free(f);
}

static void test_safetensors_hostile(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    float d[4] = { 1, 2, 3, 4 };
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", d, 16, VC_STATUS_OK, "");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}  ", d, 16, VC_STATUS_OK, "");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,20]}}", d, 16, VC_STATUS_BAD_FORMAT, "data section");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", d, 16, VC_STATUS_BAD_FORMAT, "needs 6 elements");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}}", d, 16,
            VC_STATUS_BAD_FORMAT, "shape entry 1");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[9223372036854775807,4],\"data_offsets\":[0,16]}}", d, 16,
            VC_STATUS_BAD_FORMAT, "shape entry 1");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", d, 16, VC_STATUS_BAD_FORMAT, "shape entry 0");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", d, 16,
            VC_STATUS_LIMIT_EXCEEDED, "9 dimensions");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,4]}}", d, 16, VC_STATUS_BAD_FORMAT, "begin <= end");
    st_case(ctx, "{\"a\":{\"dtype\":\"C64\",\"shape\":[2],\"data_offsets\":[0,16]}}", d, 16, VC_STATUS_UNSUPPORTED, "C64");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", d, 16, VC_STATUS_BAD_FORMAT, "data_offsets");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                 "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", d, 16, VC_STATUS_BAD_FORMAT, "twice");
    st_case(ctx, "{\"__metadata__\":{\"format\":\"pt\"}}", d, 0, VC_STATUS_BAD_FORMAT, "no tensors");
    st_case(ctx, "[1,2]", d, 0, VC_STATUS_BAD_FORMAT, "not a PyTorch zip checkpoint or a .safetensors");
    st_case(ctx, "{}", d, 0, VC_STATUS_BAD_FORMAT, "no tensors");
    st_case(ctx, "{\"a\":5}", d, 0, VC_STATUS_BAD_FORMAT, "needs \"dtype\"");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]", d, 16, VC_STATUS_BAD_FORMAT, "at byte");
    /* a 2 GiB tensor declared in a 16-byte data section: refused before any allocation */
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[536870912],\"data_offsets\":[0,2147483648]}}", d, 16,
            VC_STATUS_BAD_FORMAT, "data section");
    st_case(ctx, "{\"a\":{\"dtype\":\"F16\",\"shape\":[65536,65536],\"data_offsets\":[0,8589934592]}}", d, 16,
            VC_STATUS_BAD_FORMAT, "data section");
    /* offsets past 2^64 and a shape product that overflows int64 */
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,18446744073709551616]}}", d, 16,
            VC_STATUS_BAD_FORMAT, "");
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967295,4294967295,4294967295],\"data_offsets\":[0,16]}}", d,
            16, VC_STATUS_BAD_FORMAT, "");
    /* unaligned F32 data is copied, not read through a misaligned pointer */
    st_case(ctx, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}", d, 16, VC_STATUS_OK, "");
    /* ints are kept, f32 view NULL; I16 widened to int32 */
    int16_t i16[2] = { -3, 7 };
    size_t hl;
    const char *hdr = "{\"i\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}";
    hl = strlen(hdr);
    uint8_t f[128];
    for (int k = 0; k < 8; k++) f[k] = (uint8_t)((uint64_t)hl >> (8 * k));
    memcpy(f + 8, hdr, hl);
    memcpy(f + 8 + hl, i16, 4);
    vc_weights *w;
    assert_int_equal(vc_weights_open_mem(ctx, "i16", f, 8 + hl + 4, &w), VC_STATUS_OK);
    const vc_weight *t = vc_weights_find(w, "i");
    assert_int_equal(t->stored_dtype, VC_DTYPE_I32);
    assert_null(t->f32);
    assert_int_equal(((const int32_t *)t->stored)[0], -3);
    assert_int_equal(((const int32_t *)t->stored)[1], 7);
    vc_weights_free(w);
    /* a header over the 16 MiB limit (in a file that holds it): refused before parsing */
    {
        size_t big = (16u << 20) + 9;
        uint8_t *hb = malloc(8 + big);
        assert_non_null(hb);
        for (int k = 0; k < 8; k++) hb[k] = (uint8_t)((uint64_t)big >> (8 * k));
        memset(hb + 8, ' ', big);
        hb[8] = '{';
        hb[8 + big - 1] = '}';
        vc_weights *wb = NULL;
        assert_int_equal(vc_weights_open_mem(ctx, "bighdr", hb, 8 + big, &wb), VC_STATUS_LIMIT_EXCEEDED);
        assert_non_null(strstr(vc_context_errmsg(ctx), "byte limit"));
        assert_null(wb);
        free(hb);
    }
    /* header length beyond the file */
    uint8_t g[16] = { 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, '{', '}' };
    assert_int_equal(vc_weights_open_mem(ctx, "st", g, 10, &w), VC_STATUS_BAD_FORMAT);
    vc_context_free(ctx);
}

/* A real checkpoint (the t2v_512_v1 reference, torch's zip64 layout) whose
 * central directory lies, patched in memory: each lie is refused with a
 * message naming the entry or the record, nothing is read out of bounds. */
static void put_le(uint8_t *p, int n, uint64_t v)
{
    for (int k = 0; k < n; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void test_zip_cd_lies(void **s)
{
    (void)s;
    vc_context *ctx = vct_context();
    size_t n;
    uint8_t *orig = vct_read_file(vct_path("t2v_512_v1/model.ckpt"), &n);
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    /* locate the records */
    size_t eocd = 0, z64 = 0;
    for (size_t i = n - 22;; i--) {
        if (memcmp(orig + i, "PK\5\6", 4) == 0) { eocd = i; break; }
        if (i == 0) fail_msg("no EOCD");
    }
    assert_true(eocd >= 20 && memcmp(orig + eocd - 20, "PK\6\7", 4) == 0);
    z64 = (size_t)(orig[eocd - 12] | (uint64_t)orig[eocd - 11] << 8 | (uint64_t)orig[eocd - 10] << 16 |
                   (uint64_t)orig[eocd - 9] << 24);
    assert_memory_equal(orig + z64, "PK\6\6", 4);
    size_t cd = 0;
    for (int k = 7; k >= 0; k--) cd = cd << 8 | orig[z64 + 48 + k];
    assert_memory_equal(orig + cd, "PK\1\2", 4);
    struct { const char *what; size_t off; int width; uint64_t val; vc_status want; const char *needle; } lies[] = {
        { "entry 0 compressed size 2 GiB", cd + 20, 4, 0x7fffffff, VC_STATUS_BAD_FORMAT, "runs past the end" },
        { "entry 0 size 2 GiB (stored)", cd + 24, 4, 0x7fffffff, VC_STATUS_BAD_FORMAT, "compressed size" },
        { "entry 0 method deflate", cd + 10, 2, 8, VC_STATUS_BAD_FORMAT, "deflate data" },
        { "entry 0 method 99", cd + 10, 2, 99, VC_STATUS_UNSUPPORTED, "compression method 99" },
        { "entry 0 encrypted", cd + 8, 2, 1, VC_STATUS_UNSUPPORTED, "encrypted" },
        { "entry 0 name length 65535", cd + 28, 2, 0xffff, VC_STATUS_BAD_FORMAT, "runs past the directory" },
        { "entry 0 extra length 65535", cd + 30, 2, 0xffff, VC_STATUS_BAD_FORMAT, "runs past the directory" },
        { "entry 0 local header at 5", cd + 42, 4, 5, VC_STATUS_BAD_FORMAT, "bad signature" },
        { "entry 0 local header past the end", cd + 42, 4, 0xfffffff0u, VC_STATUS_BAD_FORMAT, "" },
        { "zip64 directory offset 1", z64 + 48, 8, 1, VC_STATUS_BAD_FORMAT, "" },
        { "zip64 directory size 2^62", z64 + 40, 8, (uint64_t)1 << 62, VC_STATUS_BAD_FORMAT, "outside the file" },
        { "zip64 entry count 2^40", z64 + 32, 8, (uint64_t)1 << 40, VC_STATUS_UNSUPPORTED, "multi-disk" },
        { "zip64 both counts 2^40", z64 + 24, 8, (uint64_t)1 << 40, VC_STATUS_BAD_FORMAT, "" },
        { "zip64 record offset past the end", eocd - 12, 8, (uint64_t)n + 100, VC_STATUS_BAD_FORMAT, "ZIP64" },
    };
    for (size_t i = 0; i < sizeof lies / sizeof *lies; i++) {
        memcpy(buf, orig, n);
        put_le(buf + lies[i].off, lies[i].width, lies[i].val);
        if (i == 12) put_le(buf + z64 + 32, 8, (uint64_t)1 << 40); /* n_disk == n_total */
        vc_weights *w = NULL;
        vc_status st = vc_weights_open_mem(ctx, "lying.ckpt", buf, n, &w);
        const char *m = vc_context_errmsg(ctx);
        print_message("  %-34s -> %s: %.150s\n", lies[i].what, vc_status_str(st), m);
        if (st != lies[i].want || !strstr(m, lies[i].needle))
            fail_msg("%s: status %s (want %s), message '%s' (want '%s')", lies[i].what, vc_status_str(st),
                     vc_status_str(lies[i].want), m, lies[i].needle);
        assert_null(w);
    }
    free(buf);
    free(orig);
    vc_context_free(ctx);
}

/* Every kept fuzz crash input (test/fuzz/regress/<target>/) through the same
 * entry point as its fuzzer: a status, never a crash (also under ASan). */
typedef enum { REPLAY_WEIGHTS, REPLAY_PICKLE, REPLAY_JSON } replay_kind;
typedef struct loader_replay {
    vc_context *ctx;
    replay_kind kind;
} loader_replay;

static void replay_loader(const char *path, const char *name, const uint8_t *data, size_t n, void *user)
{
    (void)path;
    (void)name;
    loader_replay *r = user;
    vc_weights *w = NULL;
    vc_status st;
    if (r->kind == REPLAY_JSON) {
        vc_json *j = NULL;
        st = vc_json_parse(r->ctx, "regress", (const char *)data, n, &j);
        vc_json_free(j);
    } else if (r->kind == REPLAY_PICKLE) {
        tb b = { (uint8_t *)data, n, n };
        float stor[4][64] = { { 0 } };
        const void *sp[4] = { stor[0], stor[1], stor[2], stor[3] };
        size_t sl[4] = { 256, 256, 256, 256 };
        uint8_t *z;
        size_t zl;
        st = open_custom(r->ctx, &b, sp, sl, 4, &w, &z, &zl);
        free(z);
    } else {
        st = vc_weights_open_mem(r->ctx, "regress", data, n, &w);
    }
    if (st != VC_STATUS_OK) assert_true(vc_context_errmsg(r->ctx)[0] != 0);
    assert_int_not_equal(st, VC_STATUS_INTERNAL);
    vc_weights_free(w);
}

static void test_fuzz_regressions(void **s)
{
    (void)s;
    static const struct { const char *target; replay_kind kind; } targets[] = {
        { "fuzz_zip", REPLAY_WEIGHTS }, { "fuzz_pickle", REPLAY_PICKLE },
        { "fuzz_safetensors", REPLAY_WEIGHTS }, { "fuzz_json", REPLAY_JSON },
    };
    loader_replay r = { vct_context(), REPLAY_WEIGHTS };
    size_t replayed = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        r.kind = targets[t].kind;
        replayed += vct_each_fuzz_file(targets[t].target, false, replay_loader, &r);
    }
    print_message("  %zu fuzz regression inputs replayed\n", replayed);
    assert_true(replayed >= 3);
    vc_context_free(r.ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_ref_t2v_512_v1),
        cmocka_unit_test(test_ref_t2v_1024_v1),
        cmocka_unit_test(test_ref_t2v_512_v2),
        cmocka_unit_test(test_ref_i2v_512_v1),
        cmocka_unit_test(test_ref_bare),
        cmocka_unit_test(test_f32f_lookup),
        cmocka_unit_test(test_roundtrip_zip),
        cmocka_unit_test(test_roundtrip_safetensors),
        cmocka_unit_test(test_views),
        cmocka_unit_test(test_protocol4),
        cmocka_unit_test(test_hostile_tensors),
        cmocka_unit_test(test_hostile_pickles),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_zip_hostile),
        cmocka_unit_test(test_safetensors_hostile),
        cmocka_unit_test(test_zip_cd_lies),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
