/* lt_gemm.h - linear layers through cuBLASLt with the bias added in the GEMM's
 * epilogue, saving the separate pass over the output. */
#ifndef VC_LT_GEMM_H
#define VC_LT_GEMM_H

#include <cuda_runtime_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vc_lt vc_lt;

/* NULL where cuBLASLt cannot be set up (the caller keeps GEMM + bias pass) */
vc_lt *vc_lt_create(void);
void vc_lt_destroy(vc_lt *lt);

/* y[rows, out] (row stride ldy) = x[rows, in] (row stride ldx) .
 * w[out, in]^T + bias[out], plus y itself when accumulate; x and w are IEEE
 * half when half_in, else float32; y and bias are float32, or IEEE half when
 * half_out (then half_in too). false: nothing was done (no algorithm for the
 * shape, remembered, or a refusal): the caller takes the plain path. */
bool vc_lt_linear(vc_lt *lt, cudaStream_t s, bool half_in, bool half_out, int rows, int in, int out, const void *x,
                  int64_t ldx, const void *w, const void *bias, bool accumulate, void *y, int64_t ldy, void *ws,
                  size_t ws_bytes);

#endif
