// cuda_pipeline.h - CUDA's asynchronous-copy primitives (cp.async, sm_80 and
// later), emulated: a copy lands only at the __pipeline_wait_prior that covers
// its group (the last zfill of its bytes as zeros), so a read before that wait sees NaN bytes (test/cuda/emu/emu.cc).
#ifndef VCEMU_CUDA_PIPELINE_H
#define VCEMU_CUDA_PIPELINE_H
#include "vcemu_kernel.h"

inline void __pipeline_memcpy_async(void *dst_shared, const void *src_global, size_t bytes, size_t zfill = 0)
{
    vcemu::async_copy_issue(dst_shared, src_global, bytes, zfill);
}
inline void __pipeline_commit() { vcemu::async_copy_commit(); }
inline void __pipeline_wait_prior(size_t pending) { vcemu::async_copy_wait((unsigned)pending); }

#endif
