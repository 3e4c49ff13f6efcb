/* fuzz_safetensors.c - .safetensors files (header length, JSON header, data). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_weights *w = NULL;
    vc_status st = vc_weights_open_mem(NULL, "fuzz", data, size, &w);
    fuzz_check_failure(st);
    if (st == VC_STATUS_OK) fuzz_touch_weights(w);
    vc_weights_free(w);
    return 0;
}
