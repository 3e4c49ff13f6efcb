/* rng.h - counter-based normal noise (Philox4x32-10 + Box-Muller), docs/rng.md. */
#ifndef VC_RNG_H
#define VC_RNG_H

#include "../core/internal.h"

/* One Philox4x32-10 block: ctr[4], key[2] -> out[4]. */
VC_HIDDEN void vc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* Standard normal element i of (seed, stream), as float32 (docs/rng.md). */
VC_HIDDEN float vc_rng_normal_at(uint64_t seed, uint64_t stream, uint64_t i);

/* out[j] = element (first + j) of (seed, stream) for j < n; the work is split
 * over n_threads threads, with results independent of the thread count. */
VC_HIDDEN void vc_rng_normal_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float *out,
                                  int32_t n_threads);

/* Stream numbers used by the sampler: x_T is stream 0, the noise of the
 * j-th executed step (0 = noisiest) is stream j + 1. */
#define VC_RNG_STREAM_INIT 0u
#define VC_RNG_STREAM_STEP(j) ((uint64_t)(j) + 1u)

#endif
