/* support.h - helpers shared by the cmocka test programs. */
#ifndef VC_TEST_SUPPORT_H
#define VC_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
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
/* Scratch directory for files a test writes (created, unique per process). */
const char *vct_tmpdir(void);

#endif
