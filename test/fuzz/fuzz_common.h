/* fuzz_common.h - shared bits of the libFuzzer targets (test/fuzz/run.sh). */
#ifndef VC_FUZZ_COMMON_H
#define VC_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "io/json.h"
#include "io/readers.h"
#include "io/weights.h"

/* A failure must carry a message (vc_last_error is set by vc_fail). */
static inline void fuzz_check_failure(vc_status st)
{
    if (st == VC_STATUS_OK) return;
    const char *m = vc_last_error();
    if (!m || !*m) { fprintf(stderr, "failure %d without a message\n", (int)st); abort(); }
    if (st == VC_STATUS_INTERNAL) { fprintf(stderr, "internal error: %s\n", m); abort(); }
}

/* Reads every byte of every tensor so ASan sees any bad pointer. */
static inline void fuzz_touch_weights(const vc_weights *w)
{
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < vc_weights_count(w); i++) {
        const vc_weight *t = vc_weights_at(w, i);
        if (vc_weights_find(w, t->name) == NULL) abort();
        size_t n = (size_t)t->numel * vc_dtype_size(t->stored_dtype);
        const uint8_t *p = t->stored;
        for (size_t k = 0; k < n; k++) sink ^= p[k];
        if (t->f32) {
            const uint8_t *f = (const uint8_t *)t->f32;
            for (size_t k = 0; k < (size_t)t->numel * 4; k++) sink ^= f[k];
        }
    }
    (void)sink;
}

#endif
