/* test_core.c - versions, status strings, contexts, tensors, .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static void test_version(void **state)
{
    (void)state;
    assert_string_equal(vc_version(), VC_VERSION_STRING);
    assert_int_equal(vc_version_number(), VC_VERSION_NUMBER);
}

static void test_status_strings(void **state)
{
    (void)state;
    for (int s = 0; s <= VC_STATUS_INTERNAL; s++) {
        const char *str = vc_status_str((vc_status)s);
        assert_non_null(str);
        assert_string_not_equal(str, "unknown status");
    }
    assert_string_equal(vc_status_str((vc_status)999), "unknown status");
}

static void test_context_params(void **state)
{
    (void)state;
    vc_context *ctx = NULL;
    vc_context_params p;
    vc_context_default_params(&p);
    p.n_threads = -3;
    assert_int_equal(vc_context_create(&p, &ctx), VC_STATUS_INVALID_ARGUMENT);
    assert_null(ctx);
    assert_non_null(strstr(vc_last_error(), "n_threads"));
    p.n_threads = 1;
    p.backend = "abacus";
    assert_int_equal(vc_context_create(&p, &ctx), VC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(vc_last_error(), "abacus"));
    p.backend = "cpu";
    /* an older caller that declared a shorter struct gets the defaults for the rest */
    p.struct_size = (uint32_t)offsetof(vc_context_params, log_level);
    assert_int_equal(vc_context_create(&p, &ctx), VC_STATUS_OK);
    assert_string_equal(vc_context_backend(ctx), "cpu");
    assert_int_equal(vc_context_n_threads(ctx), 1);
    assert_string_equal(vc_context_errmsg(ctx), "");
    vc_context_free(ctx);
    vc_context_free(NULL);
}

static void test_tensor_alloc(void **state)
{
    (void)state;
    vc_tensor t;
    int64_t shape[3] = {2, 3, 4};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 3, shape), VC_STATUS_OK);
    assert_int_equal(vc_tensor_numel(&t), 24);
    assert_true(t.flags & VC_TENSOR_OWNED);
    vc_tensor_free(&t);
    assert_null(t.data);
    int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 40};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 2, huge), VC_STATUS_LIMIT_EXCEEDED);
    int64_t neg[1] = {-1};
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 1, neg), VC_STATUS_INVALID_ARGUMENT);
    vc_tensor_free(NULL);
}

static void test_npy_roundtrip(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/rt.npy", vct_tmpdir());
    int64_t shape[2] = {3, 5};
    vc_dtype types[] = {VC_DTYPE_F32, VC_DTYPE_I64, VC_DTYPE_U8, VC_DTYPE_F16, VC_DTYPE_I32, VC_DTYPE_F64};
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        vc_tensor t, r;
        assert_int_equal(vc_tensor_alloc(&t, types[k], 2, shape), VC_STATUS_OK);
        unsigned char *b = t.data;
        for (size_t i = 0; i < 15 * vc_dtype_size(types[k]); i++) b[i] = (unsigned char)(i * 7 + k);
        assert_int_equal(vc_tensor_save_npy(path, &t), VC_STATUS_OK);
        assert_int_equal(vc_tensor_load_npy(path, &r), VC_STATUS_OK);
        assert_int_equal(r.dtype, types[k]);
        assert_int_equal(r.ndim, 2);
        assert_int_equal(r.shape[0], 3);
        assert_int_equal(r.shape[1], 5);
        assert_memory_equal(r.data, t.data, 15 * vc_dtype_size(types[k]));
        vc_tensor_free(&t);
        vc_tensor_free(&r);
    }
    /* 1-D and 0-D */
    int64_t one[1] = {4};
    vc_tensor t, r;
    assert_int_equal(vc_tensor_alloc(&t, VC_DTYPE_F32, 1, one), VC_STATUS_OK);
    assert_int_equal(vc_tensor_save_npy(path, &t), VC_STATUS_OK);
    assert_int_equal(vc_tensor_load_npy(path, &r), VC_STATUS_OK);
    assert_int_equal(r.ndim, 1);
    assert_int_equal(r.shape[0], 4);
    vc_tensor_free(&t);
    vc_tensor_free(&r);
    remove(path);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_npy_hostile(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/bad.npy", vct_tmpdir());
    vc_tensor r;
    assert_int_equal(vc_tensor_load_npy("/nonexistent/x.npy", &r), VC_STATUS_IO_ERROR);
    assert_non_null(strstr(vc_last_error(), "/nonexistent/x.npy"));
    write_file(path, "hello", 5);
    assert_int_equal(vc_tensor_load_npy(path, &r), VC_STATUS_BAD_FORMAT);
    /* claims a huge shape with no data */
    const char hdr[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }      \n";
    write_file(path, hdr, sizeof hdr - 1);
    assert_int_equal(vc_tensor_load_npy(path, &r), VC_STATUS_BAD_FORMAT);
    assert_non_null(strstr(vc_last_error(), "truncated"));
    /* unsupported dtype */
    const char hdr2[] = "\x93NUMPY\x01\x00\x46\x00{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }              \n";
    write_file(path, hdr2, sizeof hdr2 - 1);
    assert_int_equal(vc_tensor_load_npy(path, &r), VC_STATUS_UNSUPPORTED);
    remove(path);
}

/* The fuzz corpus and regression inputs of fuzz_npy, replayed: each file
 * either loads (and then saves and reloads to the same tensor) or fails
 * with a message, never more data than the file holds (fuzz_npy.c). */
static void replay_npy(const char *path, const char *name, const uint8_t *data, size_t len, void *user)
{
    (void)name;
    (void)data;
    size_t *n_ok = user;
    vc_tensor t;
    vc_status st = vc_tensor_load_npy(path, &t);
    if (st != VC_STATUS_OK) {
        assert_true(st == VC_STATUS_BAD_FORMAT || st == VC_STATUS_UNSUPPORTED);
        assert_true(vc_last_error()[0] != 0);
        assert_null(t.data);
        return;
    }
    const size_t bytes = (size_t)vc_tensor_numel(&t) * vc_dtype_size(t.dtype);
    assert_true(bytes <= len);
    char out[512];
    snprintf(out, sizeof out, "%s/replay.npy", vct_tmpdir());
    assert_int_equal(vc_tensor_save_npy(out, &t), VC_STATUS_OK);
    vc_tensor back;
    assert_int_equal(vc_tensor_load_npy(out, &back), VC_STATUS_OK);
    remove(out);
    assert_int_equal(back.dtype, t.dtype);
    assert_int_equal(back.ndim, t.ndim);
    for (int32_t i = 0; i < t.ndim; i++) assert_int_equal(back.shape[i], t.shape[i]);
    if (bytes) assert_memory_equal(back.data, t.data, bytes);
    vc_tensor_free(&back);
    vc_tensor_free(&t);
    (*n_ok)++;
}

static void test_npy_fuzz_inputs(void **state)
{
    (void)state;
    size_t n_ok = 0;
    size_t n_files = vct_each_fuzz_file("fuzz_npy", true, replay_npy, &n_ok);
    print_message("  %zu .npy fuzz files replayed, %zu load\n", n_files, n_ok);
    assert_true(n_ok >= 12); /* the seeds are numpy's own files */
}

static void test_npy_reference_file(void **state)
{
    (void)state;
    vc_tensor t;
    vct_load(&t, "t2v_512_v1/unet_in_t.npy");
    assert_int_equal(t.dtype, VC_DTYPE_I64);
    assert_int_equal(t.ndim, 1);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(((int64_t *)t.data)[0], 999);
    assert_int_equal(((int64_t *)t.data)[1], 421);
    vc_tensor_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),        cmocka_unit_test(test_status_strings),
        cmocka_unit_test(test_context_params), cmocka_unit_test(test_tensor_alloc),
        cmocka_unit_test(test_npy_roundtrip),  cmocka_unit_test(test_npy_hostile),
        cmocka_unit_test(test_npy_reference_file), cmocka_unit_test(test_npy_fuzz_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
