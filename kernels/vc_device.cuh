// vc_device.cuh - device helpers shared by the kernels of kernels/*.cu.
#ifndef VC_DEVICE_CUH
#define VC_DEVICE_CUH

#include <cuda_fp16.h>
#include <stdint.h>

// rows [row0, row0 + rows) of a [len][tok-strided] matrix of d-wide rows into
// shared memory at row pitch ld, converted to DST (float, or __half for the
// tensor cores); rows past len are zero. The block's threads share the copy,
// consecutive threads on consecutive elements of a row (coalesced).
template <typename DST, typename SRC>
__device__ void vc_load_rows(DST *dst, int ld, const SRC *src, int64_t tok, int row0, int rows, int len, int d)
{
    for (int e = threadIdx.x; e < rows * d; e += blockDim.x) {
        const int r = e / d, c = e % d, row = row0 + r;
        dst[r * ld + c] = row < len ? (DST)src[(int64_t)row * tok + c] : (DST)0.0f;
    }
}

// the same from an operand held as float (f) or, when h is not NULL, as IEEE
// half (h), off elements into it
template <typename DST>
__device__ void vc_load_rows_from(DST *dst, int ld, const float *f, const void *h, int64_t off, int64_t tok, int row0,
                                  int rows, int len, int d)
{
    if (h) vc_load_rows(dst, ld, (const __half *)h + off, tok, row0, rows, len, d);
    else vc_load_rows(dst, ld, f + off, tok, row0, rows, len, d);
}

// element off of an output held as float (o) or, when o16 is not NULL, as
// IEEE half: set to v, or v added when accumulating
__device__ inline void vc_store_out(float *o, void *o16, int64_t off, float v, bool accumulate)
{
    if (o16) {
        __half *p = (__half *)o16 + off;
        *p = __float2half_rn(accumulate ? __half2float(*p) + v : v);
    } else {
        o[off] = accumulate ? o[off] + v : v;
    }
}

#endif
