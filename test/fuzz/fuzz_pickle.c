/* fuzz_pickle.c - the restricted unpickler. The input is data.pkl; it is also
 * loaded as a checkpoint with four 256-byte storages archive/data/0..3, so the
 * tensor rebuild, bounds checks and wrapper logic are reached. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_pickle *p = NULL;
    const vc_pk *root = NULL;
    vc_status st = vc_pickle_load(NULL, "fuzz", data, size, &p, &root);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) {
        if (!root) abort();
        (void)vc_pk_dict_get(root, "state_dict");
        vc_pickle_free(p);
    }
    static uint8_t stor[4][256];
    static int init;
    if (!init) {
        for (int s = 0; s < 4; s++)
            for (int k = 0; k < 256; k++) stor[s][k] = (uint8_t)(k * 37 + s);
        init = 1;
    }
    vc_zip_src src[5] = {
        { "archive/data.pkl", data, size },
        { "archive/data/0", stor[0], 256 }, { "archive/data/1", stor[1], 256 },
        { "archive/data/2", stor[2], 256 }, { "archive/data/3", stor[3], 256 },
    };
    uint8_t *z;
    size_t zl;
    if (vc_zip_build(NULL, src, 5, NULL, &z, &zl) != VC_STATUS_OK) abort();
    vc_weights *w = NULL;
    st = vc_weights_open_mem(NULL, "fuzz", z, zl, &w);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) fuzz_touch_weights(w);
    vc_weights_free(w);
    free(z);
    return 0;
}
