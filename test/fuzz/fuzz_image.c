/* fuzz_image.c - libFuzzer target: PNG/JPEG decoding from memory (the path of
 * vc_image_load), then the §3.1/§3.2 preprocessing of what decoded.
 *
 * Self-contained: it compiles the two image sources it tests itself, so it
 * links with run.sh's reader objects (lib/core/tensor.c + fuzz_stubs.c); it
 * needs -lpng16 -ljpeg in addition to -lz -lm:
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Ilib $(pkg-config --cflags libpng) \
 *         test/fuzz/fuzz_image.c lib/core/tensor.c test/fuzz/fuzz_stubs.c -lpng16 -ljpeg -lz -lm */
#include <stdint.h>
#include <stdlib.h>

#include "image/image.h"
#include "../../lib/image/image_io.c"
#include "../../lib/image/preprocess.c"

/* vc_image_load (compiled above, not called) clears the context error; the
 * stubs do not provide it. Weak, in case the full library is linked too. */
__attribute__((weak)) void vc_clear_error(vc_context *ctx)
{
    if (ctx) ctx->errmsg[0] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vc_tensor img;
    /* 4 Mi pixels keeps each input fast; the real limit is tested in test_image.c */
    vc_status st = vc_image_decode(NULL, data, size, (uint64_t)1 << 22, &img);
    if (st != VC_STATUS_OK) {
        /* every failure explains itself and none is an internal error */
        if (!vc_last_error()[0] || st == VC_STATUS_INTERNAL || img.data) abort();
        return 0;
    }
    if (!vc_tensor_is(&img, VC_DTYPE_U8, 3) || img.shape[2] != 3) abort();
    int32_t h0 = (int32_t)img.shape[0], w0 = (int32_t)img.shape[1];
    if ((int64_t)h0 * w0 <= (1 << 16)) {
        /* a size derived from the input, so both the up- and downscaling paths run;
         * the 224x224 CLIP step (no data-dependent branches) only for some inputs */
        int32_t h = 1 + (int32_t)(data[size - 1] % 64) * 5, w = 1 + (int32_t)(data[size / 2] % 64) * 5;
        bool clip_too = data[size / 3] % 8 == 0;
        float *resized = malloc(sizeof(float) * 3 * (size_t)h * (size_t)w);
        float *clip = malloc(sizeof(float) * 3 * 224 * 224);
        if (resized && clip && vc_image_resize_to_unit(img.data, h0, w0, h, w, resized) && clip_too)
            vc_clip_preprocess(resized, h, w, clip);
        free(resized);
        free(clip);
    }
    vc_tensor_free(&img);
    return 0;
}
