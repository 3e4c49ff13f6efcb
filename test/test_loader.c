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
static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) fail_msg("short read of %s", path);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static __attribute__((unused)) void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot write %s", path);
    if (len && fwrite(data, 1, len, f) != len) fail_msg("short write of %s", path);
    fclose(f);
}

static const char *dtype_str(vc_dtype d)
{
    switch (d) {
    case VC_DTYPE_F32: return "float32";
    case VC_DTYPE_F16: return "float16";
    case VC_DTYPE_BF16: return "bfloat16";
    case VC_DTYPE_F64: return "float64";
    case VC_DTYPE_I64: return "int64";
    case VC_DTYPE_I32: return "int32";
    case VC_DTYPE_U8: return "uint8";
    }
    return "?";
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
    char *jtext = (char *)read_file(vct_path("%s", json_rel), &jlen);
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
        assert_string_equal(dtype_str(t->stored_dtype), vc_json_string(vc_json_get(e, "dtype")));
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
