/* test_dlopen.c - the shared library as a plugin host would see it: dlopen
 * libvideocrafter.so.1, check the version functions against this header, find
 * every VC_API function of include/videocrafter.h and none of the internals. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static void *lib;
static char lib_path[PATH_MAX];

/* $VIDEOCRAFTER_LIB, else the .so of this build: <build>/test/test_dlopen -> <build>/libvideocrafter.so.1 */
static int open_lib(void **state)
{
    (void)state;
    const char *env = getenv("VIDEOCRAFTER_LIB");
    if (env && *env) {
        snprintf(lib_path, sizeof lib_path, "%s", env);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return -1;
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (!slash) return -1;
        *slash = '\0';
        slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        if (strlen(exe) + sizeof "/libvideocrafter.so.1" > sizeof lib_path) return -1;
        memcpy(lib_path, exe, strlen(exe));
        memcpy(lib_path + strlen(exe), "/libvideocrafter.so.1", sizeof "/libvideocrafter.so.1");
    }
    lib = dlopen(lib_path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", lib_path, dlerror());
        return -1;
    }
    return 0;
}

static int close_lib(void **state)
{
    (void)state;
    if (lib) dlclose(lib);
    return 0;
}

/* The symbol must come from the .so, not from the test binary. */
static void *sym(const char *name)
{
    void *p = dlsym(lib, name);
    if (!p) return NULL;
    Dl_info info;
    assert_true(dladdr(p, &info) != 0);
    char real_lib[PATH_MAX], real_obj[PATH_MAX];
    assert_non_null(realpath(lib_path, real_lib));
    assert_non_null(realpath(info.dli_fname, real_obj));
    assert_string_equal(real_obj, real_lib);
    return p;
}

static void test_versions(void **state)
{
    (void)state;
    const char *(*version)(void) = (const char *(*)(void))sym("vc_version");
    int (*number)(void) = (int (*)(void))sym("vc_version_number");
    assert_non_null(version);
    assert_non_null(number);
    assert_string_equal(version(), VC_VERSION_STRING);
    assert_int_equal(number(), VC_VERSION_NUMBER);
    assert_int_equal(number() / 10000, VC_VERSION_MAJOR);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", VC_VERSION_MAJOR, VC_VERSION_MINOR, VC_VERSION_PATCH);
    assert_string_equal(version(), want);
    printf("dlopen %s: version %s (%d)\n", lib_path, version(), number());
}

static void test_context_through_dlsym(void **state)
{
    (void)state;
    void (*defaults)(vc_context_params *) = (void (*)(vc_context_params *))sym("vc_context_default_params");
    vc_status (*create)(const vc_context_params *, vc_context **) =
        (vc_status(*)(const vc_context_params *, vc_context **))sym("vc_context_create");
    const char *(*backend)(const vc_context *) = (const char *(*)(const vc_context *))sym("vc_context_backend");
    void (*destroy)(vc_context *) = (void (*)(vc_context *))sym("vc_context_free");
    const char *(*status_str)(vc_status) = (const char *(*)(vc_status))sym("vc_status_str");
    assert_true(defaults && create && backend && destroy && status_str);
    vc_context_params p;
    defaults(&p);
    assert_int_equal(p.struct_size, sizeof p);
    p.n_threads = 1;
    vc_context *ctx = NULL;
    assert_int_equal(create(&p, &ctx), VC_STATUS_OK);
    assert_string_equal(backend(ctx), "cpu");
    destroy(ctx);
    assert_string_equal(status_str(VC_STATUS_OK), "ok");
    assert_string_equal(status_str(VC_STATUS_CANCELLED), "cancelled");
}

/* Every `VC_API ... vc_name(` of the header resolves in the .so. */
static void test_every_header_function_exported(void **state)
{
    (void)state;
    char hdr[PATH_MAX];
    snprintf(hdr, sizeof hdr, "%s/include/videocrafter.h", VC_SOURCE_DIR);
    FILE *f = fopen(hdr, "rb");
    assert_non_null(f);
    static char text[1 << 17];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    int found = 0, missing = 0;
    for (char *p = strstr(text, "\nVC_API "); p; p = strstr(p + 1, "\nVC_API ")) {
        char *paren = strchr(p, '(');
        if (!paren) break;
        char *end = paren;
        while (end > p && end[-1] == ' ') end--;
        char *start = end;
        while (start > p && (start[-1] == '_' || (start[-1] >= 'a' && start[-1] <= 'z') ||
                             (start[-1] >= '0' && start[-1] <= '9')))
            start--;
        char name[128];
        size_t len = (size_t)(end - start);
        assert_true(len > 3 && len < sizeof name);
        memcpy(name, start, len);
        name[len] = '\0';
        assert_memory_equal(name, "vc_", 3);
        if (!sym(name)) {
            fprintf(stderr, "%s is declared in the header but not exported\n", name);
            missing++;
        }
        found++;
    }
    printf("%d header functions, %d missing from %s\n", found, missing, lib_path);
    assert_true(found > 30);
    assert_int_equal(missing, 0);
}

static void test_internals_hidden(void **state)
{
    (void)state;
    static const char *internal[] = {"vc_fail", "vc_log", "vc_failv", "vc_copy_params", "vc_tensor_make",
                                     "vc_backend_create", "vc_now", "main"};
    for (size_t i = 0; i < sizeof internal / sizeof *internal; i++) {
        if (dlsym(lib, internal[i])) fprintf(stderr, "%s is exported\n", internal[i]);
        assert_null(dlsym(lib, internal[i]));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_context_through_dlsym),
        cmocka_unit_test(test_every_header_function_exported),
        cmocka_unit_test(test_internals_hidden),
    };
    return cmocka_run_group_tests(tests, open_lib, close_lib);
}
