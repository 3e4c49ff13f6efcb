/* cpu_internal.h - internals shared by the CPU backend's files.
 *
 * Threads: the backend owns one pool of n_threads threads (the calling thread
 * is thread 0, n_threads - 1 workers sleep on a condition variable between
 * jobs). Every kernel runs through cpu_parallel_for, GEMMs included: each
 * pool thread calls single-threaded OpenBLAS on its block of the output
 * (cpu_gemm.c), so OpenBLAS's own threads stay idle. Its thread count is
 * process-global: every GEMM sets it to 1 under a process-wide lock, so
 * concurrent contexts take turns in OpenBLAS and each gets the results of a
 * serial run.
 *
 * Determinism: work is split into chunks whose bounds depend only on the
 * problem, never on the thread count, and every chunk's arithmetic is fixed, so
 * all non-GEMM ops give bit-identical results for any n_threads (GEMMs differ
 * in the last bits: OpenBLAS rounds a block by its shape).
 */
#ifndef VC_CPU_INTERNAL_H
#define VC_CPU_INTERNAL_H

#include "../backend.h"

/* fn handles items [begin, end) on thread tid (0 <= tid < n_threads). */
typedef void (*cpu_task_fn)(void *arg, int64_t begin, int64_t end, int32_t tid);

typedef struct cpu_pool cpu_pool;
VC_HIDDEN cpu_pool *cpu_pool_create(int32_t n_threads);
VC_HIDDEN void cpu_pool_destroy(cpu_pool *p);

/* Per-backend state (be->impl). */
#define CPU_SCRATCH_FLOATS ((int64_t)8 << 20)   /* 32 MiB: im2col chunks, weight repacks */
#define CPU_TSCRATCH_FLOATS ((int64_t)256 << 10) /* 1 MiB per thread: attention tiles */
typedef struct cpu_impl {
    cpu_pool *pool;
    float *scratch;              /* CPU_SCRATCH_FLOATS, used by the calling thread only */
    float **tscratch;            /* [n_threads] x CPU_TSCRATCH_FLOATS */
    int32_t n_threads;
    bool simd;                   /* AVX2+FMA kernels (off with VC_CPU_SIMD=0, for testing) */
    bool f16c;                   /* simd and F16C: the half -> float widening kernel */
} cpu_impl;

/* Runs fn over [0, n) in chunks of `grain` items (the last may be shorter),
 * spread over the pool; inline when there is a single chunk or thread.
 * Not reentrant: fn must not call cpu_parallel_for. */
VC_HIDDEN void cpu_parallel_for(vc_backend *be, int64_t n, int64_t grain, cpu_task_fn fn, void *arg);

static inline cpu_impl *cpu_of(vc_backend *be) { return (cpu_impl *)be->impl; }

/* kernels (one file each) */
VC_HIDDEN void cpu_gemm(vc_backend *be, const vc_gemm_args *a);
VC_HIDDEN void cpu_linear(vc_backend *be, const float *x, int64_t rows, int32_t in, const float *w,
                          const float *bias, int32_t out, const float *residual, float *y);
VC_HIDDEN void cpu_linear_strided(vc_backend *be, const vc_linear_args *a);
VC_HIDDEN void cpu_conv2d(vc_backend *be, const vc_conv2d_args *a);
VC_HIDDEN void cpu_conv_temporal(vc_backend *be, const float *x, int32_t B, int32_t ci, int32_t T, int64_t S,
                                 const float *w, const float *bias, int32_t co, int32_t kt,
                                 const float *residual, float *y);
VC_HIDDEN void cpu_group_norm(vc_backend *be, const vc_group_norm_args *a);
VC_HIDDEN void cpu_layer_norm(vc_backend *be, const float *x, float *y, int64_t rows, int32_t D,
                              const float *gamma, const float *beta, float eps);
VC_HIDDEN void cpu_attention(vc_backend *be, const vc_attn_args *a);

VC_HIDDEN void cpu_fill(vc_backend *be, float *dst, float value, int64_t n);
VC_HIDDEN void cpu_widen(vc_backend *be, float *dst, const uint16_t *src, vc_dtype dtype, int64_t n);
VC_HIDDEN void cpu_copy(vc_backend *be, void *dst, const void *src, size_t bytes);
VC_HIDDEN void cpu_silu(vc_backend *be, const float *x, float *y, int64_t n);
VC_HIDDEN void cpu_gelu(vc_backend *be, const float *x, float *y, int64_t n);
VC_HIDDEN void cpu_geglu(vc_backend *be, const float *x, float *y, int64_t rows, int32_t inner);
VC_HIDDEN void cpu_add(vc_backend *be, const float *a, const float *b, float *y, int64_t n);
VC_HIDDEN void cpu_axpby(vc_backend *be, float a, const float *x, float b, float *y, int64_t n);
VC_HIDDEN void cpu_scale(vc_backend *be, const float *x, float s, float *y, int64_t n);
VC_HIDDEN void cpu_ddim_step(vc_backend *be, const vc_ddim_args *a);
VC_HIDDEN void cpu_add_channel(vc_backend *be, float *x, const float *v, int64_t n, int32_t C, int64_t S,
                               int64_t v_stride);
VC_HIDDEN void cpu_permute(vc_backend *be, const float *x, float *y, int32_t ndim, const int64_t *shape,
                           const int32_t *perm);
VC_HIDDEN void cpu_upsample_nearest2x(vc_backend *be, const float *x, float *y, int64_t nc, int32_t h, int32_t w);
VC_HIDDEN void cpu_concat_channels(vc_backend *be, const float *a, int32_t ca, const float *b, int32_t cb,
                                   float *y, int64_t n, int64_t S);

/* y[r, :] = bias (or 0) for r < rows, row stride ld (used before beta = 1 GEMMs):
 * bias[r % per_row_mod] for every column when per_row_mod > 0, else bias[column]. */
VC_HIDDEN void cpu_rows_set_bias(vc_backend *be, float *y, int64_t rows, int64_t cols, int64_t ld,
                                 const float *bias, int64_t per_row_mod);
/* y[i] += r[i]. */
VC_HIDDEN void cpu_add_inplace(vc_backend *be, float *y, const float *r, int64_t n);

#endif
