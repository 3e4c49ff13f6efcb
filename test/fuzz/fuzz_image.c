/* fuzz_image.c - libFuzzer target: PNG/JPEG decoding from memory (the path of
 * vc_image_load), then the §3.1/§3.2 preprocessing of what decoded.
 *
 * It compiles the decoder it tests itself (image_io.c), so it links with
 * run.sh's reader objects (lib/core/tensor.c + fuzz_stubs.c) plus
 * lib/image/preprocess.c, which run.sh builds without coverage instrumentation
 * (straight-line float loops: instrumented they took 0.3 s an input); it needs
 * -lpng16 -ljpeg in addition to -lz -lm:
 *   clang -fsanitize=fuzzer,address,undefined -Iinclude -Ilib $(pkg-config --cflags libpng) \
 *         test/fuzz/fuzz_image.c lib/image/preprocess.c lib/core/tensor.c test/fuzz/fuzz_stubs.c \
 *         -lpng16 -ljpeg -lz -lm */
#include <stdint.h>
#include <stdlib.h>

/* libFuzzer's convention: image_io.c then skips libpng's checksums (see there) */
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION 1
#endif
#include "image/image.h"
#include "../../lib/image/image_io.c"

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
        /* (sizes and the 1-in-32 CLIP step keep it near 1 ms an input under the
         * sanitizers: the float loops call a software fmaf without -mfma) */
        int32_t h = 1 + (int32_t)(data[size - 1] % 48) * 3, w = 1 + (int32_t)(data[size / 2] % 48) * 3;
        bool clip_too = data[size / 3] % 32 == 0;
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
