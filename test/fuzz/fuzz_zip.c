/* fuzz_zip.c - the zip reader, and the whole torch checkpoint path on top of it. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_zip *z = NULL;
    vc_status st = vc_zip_open_mem(NULL, "fuzz", data, size, &z);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) {
        size_t n = vc_zip_count(z);
        for (size_t i = 0; i < n && i < 64; i++) {
            const vc_zip_entry *e = vc_zip_at(z, i);
            if (vc_zip_find(z, e->name) < 0) abort();
            const uint8_t *d;
            uint64_t dn;
            vc_status s2 = vc_zip_data(NULL, z, i, &d, &dn);
            fuzz_check_failure(s2);
            if (s2 == VC_STATUS_OK) {
                volatile uint8_t sink = 0;
                for (uint64_t k = 0; k < dn; k++) sink ^= d[k];
                (void)sink;
            }
        }
        vc_zip_free(z);
    }
    vc_weights *w = NULL;
    st = vc_weights_open_mem(NULL, "fuzz", data, size, &w);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) fuzz_touch_weights(w);
    vc_weights_free(w);
    return 0;
}
