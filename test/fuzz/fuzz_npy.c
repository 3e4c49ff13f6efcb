/* fuzz_npy.c - the .npy reader (vc_tensor_load_npy), and its writer on what
 * the reader accepts: a tensor read, written and read again is the same. */
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"

static char g_dir[64];

static void remove_dir(void)
{
    char out[128];
    snprintf(out, sizeof out, "%s/t.npy", g_dir);
    remove(out);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_npy.XXXXXX");
    if (!mkdtemp(g_dir)) { perror("fuzz_npy: mkdtemp"); abort(); }
    atexit(remove_dir);
    return 0;
}

/* the input as a file the reader can open by name */
static int as_file(const uint8_t *data, size_t size, char *path, size_t cap)
{
    int fd = memfd_create("fuzz_npy", 0);
    if (fd < 0) { perror("fuzz_npy: memfd_create"); abort(); }
    for (size_t off = 0; off < size;) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { perror("fuzz_npy: write"); abort(); }
        off += (size_t)w;
    }
    snprintf(path, cap, "/proc/self/fd/%d", fd);
    return fd;
}

static void same_tensor(const vc_tensor *a, const vc_tensor *b)
{
    if (a->dtype != b->dtype || a->ndim != b->ndim) abort();
    for (int32_t i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) abort();
    size_t bytes = (size_t)vc_tensor_numel(a) * vc_dtype_size(a->dtype);
    if (bytes && memcmp(a->data, b->data, bytes)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = as_file(data, size, path, sizeof path);
    vc_tensor t;
    vc_status st = vc_tensor_load_npy(path, &t);
    close(fd);
    fuzz_check_failure(st);
    if (st != VC_STATUS_OK) {
        if (t.data) abort();   /* nothing is handed out on failure */
        return 0;
    }
    if (t.ndim < 0 || t.ndim > VC_TENSOR_MAX_DIMS) abort();
    const size_t bytes = (size_t)vc_tensor_numel(&t) * vc_dtype_size(t.dtype);
    if (bytes > size) abort();   /* no tensor larger than its file */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < bytes; i++) sink ^= ((const uint8_t *)t.data)[i];
    (void)sink;

    char out[128];
    snprintf(out, sizeof out, "%s/t.npy", g_dir);
    if (vc_tensor_save_npy(out, &t) != VC_STATUS_OK) { fprintf(stderr, "save: %s\n", vc_last_error()); abort(); }
    vc_tensor back;
    if (vc_tensor_load_npy(out, &back) != VC_STATUS_OK) { fprintf(stderr, "reload: %s\n", vc_last_error()); abort(); }
    same_tensor(&t, &back);
    vc_tensor_free(&back);
    vc_tensor_free(&t);
    return 0;
}
