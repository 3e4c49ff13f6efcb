/* support.h - helpers shared by the cmocka test programs. */
#ifndef VC_TEST_SUPPORT_H
#define VC_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "videocrafter.h"

/* Reference data folder: $VC_TEST_DATA, default ../shared/reference from the repo root. */
const char *vct_data_dir(void);
/* Path of a file under the data folder (rotating static buffers, valid for a few calls). */
const char *vct_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Loads a reference .npy (fails the test if missing). */
void vct_load(vc_tensor *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* err = max|out - ref| / max|ref| (interface contract §5); fails the test on a shape mismatch. */
double vct_rel_err(const vc_tensor *out, const vc_tensor *ref);
/* Asserts vct_rel_err <= tol, printing the error either way. */
/* The contract's tolerance for a reference stage: fp32, or fp16 when the tests
 * run on the CUDA backend in its fp16 mode (make check-cuda). */
double vct_tol(double fp32, double fp16);
void vct_assert_close(const vc_tensor *out, const vc_tensor *ref, double tol, const char *what);
/* A context with the default CPU backend and quiet logs. */
vc_context *vct_context(void);
/* A whole file, with a NUL after its last byte (fails the test if unreadable);
 * *len (may be NULL) gets its size without the NUL. The caller frees it. */
uint8_t *vct_read_file(const char *path, size_t *len);
/* Calls fn on every file of test/fuzz/regress/<target>/ (kept fuzz finds) and,
 * with with_corpus, of test/fuzz/corpus/<target>/ (the seeds); names starting
 * with '.' are skipped. data is the file as vct_read_file reads it, freed after
 * fn returns. Returns how many files fn saw. */
typedef void (*vct_fuzz_file_fn)(const char *path, const char *name, const uint8_t *data, size_t len,
                                 void *user);
size_t vct_each_fuzz_file(const char *target, bool with_corpus, vct_fuzz_file_fn fn, void *user);
/* Scratch directory for files a test writes (created, unique per process). */
const char *vct_tmpdir(void);

#endif
