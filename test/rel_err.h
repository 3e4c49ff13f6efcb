/* rel_err.h - the one definition of the tests' relative error: the largest
 * absolute difference over the largest reference magnitude (NaN against a
 * number counts as infinitely far; NaN where the reference has NaN matches).
 * Used by support.c (cmocka tests) and test/cuda/test_cuda_backend.c. */
#ifndef VCT_REL_ERR_H
#define VCT_REL_ERR_H

#include <math.h>

typedef struct vct_err {
    double maxdiff, maxref;
} vct_err;

static inline void vct_err_add(vct_err *e, double got, double ref)
{
    double d = fabs(got - ref);
    if (isnan(got) != isnan(ref)) d = INFINITY;
    if (d > e->maxdiff) e->maxdiff = d;
    if (fabs(ref) > e->maxref) e->maxref = fabs(ref);
}

static inline double vct_err_value(const vct_err *e)
{
    return e->maxref > 0 ? e->maxdiff / e->maxref : e->maxdiff;
}

#endif
