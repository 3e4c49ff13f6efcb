// vc_device.cuh - device helpers shared by the kernels of kernels/*.cu.
#ifndef VC_DEVICE_CUH
#define VC_DEVICE_CUH

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

#endif
