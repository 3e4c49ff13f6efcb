// vcemu_kernel.h - what kernels/*.cu use of CUDA C++, emulated on the CPU so the
// CUDA backend's own kernels and glue run in make check (test/cuda/emu/).
//
// Each thread of a block is a fiber (emu.cc); the fibers of a block run on one
// OS thread, switched at barriers (__syncthreads, __syncwarp, shuffles, WMMA
// loads/stores), so warp- and block-level cooperation behaves as on a GPU.
// Blocks run one after another, one grid at a time in the process. Precision follows the device: half and
// bfloat16 round to nearest even, WMMA products accumulate in float.
#ifndef VCEMU_KERNEL_H
#define VCEMU_KERNEL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <tuple>
#include <type_traits>
#include <utility>

#include "vcemu_rt.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static /* one grid runs at a time (emu.cc) */
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) uint4 { /* 16-byte vector loads and stores */
    unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return uint4{x, y, z, w}; }

namespace vcemu {

struct fiber;
struct block_state {
    uint3 idx;
    dim3 dim, grid;
};
extern fiber *current;
extern block_state *block;
const uint3 &thread_idx();
void sync_block();              // __syncthreads
void sync_warp();               // __syncwarp and the WMMA collectives
uint64_t exchange(uint64_t mine, int src_lane); // a shuffle: every lane of the warp takes part
// every lane's value of the warp (valid until the caller's next sync_warp, which it must make)
const uint64_t *publish(uint64_t mine);
void *dyn_smem();
int lane_id();

using body_fn = void (*)(void *);
// host_arg: the index of a kernel argument that is a host pointer or a struct
// holding one (at byte host_at; -1: the argument itself), or -1
cudaError_t run_grid(const void *kernel, dim3 grid, dim3 blk, size_t smem, body_fn body, void *arg, int host_arg,
                     int host_at);
bool is_host_memory(uintptr_t p); // mapped, and not the emulated device's range
cudaError_t set_max_dynamic_smem(const void *kernel, int bytes);
void async_copy_issue(void *dst, const void *src, size_t bytes, size_t zfill);
void async_copy_commit();
void async_copy_wait(unsigned pending);
void set_reverse_order(bool reverse); // overrides VCEMU_SCHEDULE (the emulator's self-test)
bool register_shared(void *p, size_t bytes); // a static __shared__ array (cu2cpp.py)

template <class K, class Tuple>
struct job {
    K kernel;
    Tuple args;
    static void run(void *p)
    {
        job *j = static_cast<job *>(p);
        std::apply(j->kernel, j->args); // arguments copied per thread, as by value on a GPU
    }
};

// The first pointer argument that is not null and not device memory, or -1;
// a struct argument (vck_attn, vck_ddim) counts when an aligned word of it
// points into host memory, its byte offset in *at.
template <class... A>
int host_pointer_arg(int *at, const A &...args)
{
    int i = 0, found = -1;
    *at = -1;
    const auto check = [&](const auto &a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_pointer<T>::value) {
            if (found < 0 && a && !vcemu_is_device((const void *)a)) found = i;
        } else if constexpr (std::is_class<T>::value && alignof(T) >= 8) {
            for (size_t off = 0; found < 0 && off + 8 <= sizeof(T); off += 8) {
                uintptr_t w;
                memcpy(&w, (const char *)&a + off, 8);
                if (w && !vcemu_is_device((const void *)w) && is_host_memory(w)) found = i, *at = (int)off;
            }
        }
        i++;
    };
    (check(args), ...);
    return found;
}

struct launcher {
    dim3 grid, blk;
    size_t smem;
    template <class K, class... A>
    void operator()(K kernel, A... args) const
    {
        job<K, std::tuple<A...>> j{kernel, std::tuple<A...>(args...)};
        int at;
        const int host_arg = host_pointer_arg(&at, args...);
        run_grid((const void *)kernel, grid, blk, smem, &job<K, std::tuple<A...>>::run, &j, host_arg, at);
    }
};
inline launcher launch(dim3 grid, dim3 blk, size_t smem = 0, cudaStream_t = nullptr) { return {grid, blk, smem}; }

template <class T>
T shfl(T v, int src)
{
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof v);
    u = exchange(u, src);
    T r;
    memcpy(&r, &u, sizeof r);
    return r;
}

// VCEMU_HALF_PRECISION=bf16: every rounding to half first rounds to bfloat16's
// 8 significant bits (then exact in half), so the fp16 mode's accuracy can be
// measured as a bf16 mode would have it (docs/cuda.md, "No bf16 compute mode")
inline bool half_as_bf16()
{
    static const bool on = [] {
        const char *s = getenv("VCEMU_HALF_PRECISION");
        return s && !strcmp(s, "bf16");
    }();
    return on;
}

inline uint16_t f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if (half_as_bf16() && (x & 0x7fffffffu) < 0x7f800000u) x = (x + 0x7fffu + ((x >> 16) & 1u)) & 0xffff0000u;
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x >= 0x7f800000u) return (uint16_t)(sign | (x > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (x >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); // rounds to infinity
    if (x < 0x38800000u) {                                   // subnormal or zero half
        if (x < 0x33000000u) return (uint16_t)sign;
        const uint32_t e = x >> 23, m = (x & 0x7fffffu) | 0x800000u, shift = 126 - e;
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((x >> 13) - (112u << 10));
    const uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;
    return (uint16_t)(sign | h);
}
inline float f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ffu;
    uint32_t x;
    if (e == 0) {
        if (!m) x = sign;
        else {
            float f = (float)m * 0x1p-24f;
            memcpy(&x, &f, 4);
            x |= sign;
        }
    } else if (e == 31) {
        x = sign | 0x7f800000u | (m << 13);
    } else {
        x = sign | ((e + 112) << 23) | (m << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

} // namespace vcemu

#define threadIdx (vcemu::thread_idx())
#define blockIdx (vcemu::block->idx)
#define blockDim (vcemu::block->dim)
#define gridDim (vcemu::block->grid)

inline void __syncthreads() { vcemu::sync_block(); }
inline void __syncwarp(unsigned = 0xffffffffu) { vcemu::sync_warp(); }
template <class T>
T __shfl_xor_sync(unsigned, T v, int mask)
{
    return vcemu::shfl(v, vcemu::lane_id() ^ mask);
}
template <class T>
T __shfl_down_sync(unsigned, T v, unsigned delta)
{
    const int src = vcemu::lane_id() + (int)delta;
    T r = vcemu::shfl(v, src < 32 ? src : vcemu::lane_id());
    return r;
}
template <class T>
T __shfl_sync(unsigned, T v, int src)
{
    return vcemu::shfl(v, src & 31);
}

// device min/max overloads of mixed integer types
template <class A, class B>
inline auto min(A a, B b) -> decltype(a + b)
{
    return a < b ? a : b;
}
template <class A, class B>
inline auto max(A a, B b) -> decltype(a + b)
{
    return a > b ? a : b;
}

// the rounding intrinsics: plain IEEE operations (the emulation builds with -ffp-contract=off)
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }

struct __half {
    uint16_t bits;
    __half() = default;
    __half(float f) : bits(vcemu::f32_to_f16(f)) {}
    operator float() const { return vcemu::f16_to_f32(bits); }
};
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return (float)h; }
struct alignas(4) __half2 {
    __half x, y;
};
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__half(a), __half(b)}; }

struct __nv_bfloat16 {
    uint16_t bits;
};
inline float __bfloat162float(__nv_bfloat16 h)
{
    uint32_t x = (uint32_t)h.bits << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

template <class F>
cudaError_t cudaFuncSetAttribute(F kernel, cudaFuncAttribute attr, int value)
{
    if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize) return cudaErrorInvalidValue;
    return vcemu::set_max_dynamic_smem((const void *)kernel, value);
}

// WMMA: every lane keeps the whole tile; loads and stores are warp collectives
// (a barrier first), so no lane reads a tile another lane is still to write.
// An accumulator's elements are also reachable one lane at a time (x[i], in
// the layout of sm_80/sm_90: lane 4g+t holds rows g and g+8, columns 2t, 2t+1
// and 8+2t, 9+2t), as kernels/flash_attention.cu uses once its probe has
// confirmed the layout on the device; what a lane writes there is its own, so
// the collectives that read an accumulator take each element from its owner.
namespace nvcuda {
namespace wmma {
struct row_major {};
struct col_major {};
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
enum layout_t { mem_row_major, mem_col_major };

inline int acc_row(int lane, int i) { return lane / 4 + 8 * ((i / 2) % 2); }
inline int acc_col(int lane, int i) { return (lane % 4) * 2 + (i % 2) + 8 * (i / 4); }
inline int acc_owner(int r, int c) { return (r % 8) * 4 + (c % 8) / 2; }

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
    static constexpr int num_elements = 16; // halves of an a or b tile, as nvcc's (Volta-style, duplicated)
    float v[16 * 16]; // [row][col] of the 16x16 tile, in float (halves widened exactly)
};

template <int M, int N, int K>
struct fragment<accumulator, M, N, K, float, void> {
    static constexpr int num_elements = 8;
    float v[16 * 16];
    struct elements {
        float &operator[](int i)
        {
            float *tile = reinterpret_cast<float *>(reinterpret_cast<char *>(this) - offsetof(fragment, x));
            const int l = vcemu::lane_id();
            return tile[acc_row(l, i) * 16 + acc_col(l, i)];
        }
    } x;
};

// the accumulator as the warp holds it: element (r, c) from the lane that owns it
inline void acc_gather(float *dst, const fragment<accumulator, 16, 16, 16, float> &f)
{
    const uint64_t *slots = vcemu::publish((uint64_t)(uintptr_t)f.v);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) dst[r * 16 + c] = ((const float *)(uintptr_t)slots[acc_owner(r, c)])[r * 16 + c];
    vcemu::sync_warp(); // every lane has read before any writes again
}

template <class Use, class T, class Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p, unsigned ldm)
{
    vcemu::sync_warp();
    constexpr bool col = std::is_same<Layout, col_major>::value;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.v[r * 16 + c] = (float)(col ? p[c * ldm + r] : p[r * ldm + c]);
}
inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p, unsigned ldm, layout_t l)
{
    vcemu::sync_warp();
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) f.v[r * 16 + c] = l == mem_col_major ? p[c * ldm + r] : p[r * ldm + c];
}
inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f, unsigned ldm, layout_t l)
{
    vcemu::sync_warp();
    float t[256];
    acc_gather(t, f);
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 16; c++) (l == mem_col_major ? p[c * ldm + r] : p[r * ldm + c]) = t[r * 16 + c];
    vcemu::sync_warp();
}
template <class Use, class T, class Layout>
void fill_fragment(fragment<Use, 16, 16, 16, T, Layout> &f, float x)
{
    for (float &e : f.v) e = x;
}
template <class TA, class LA, class TB, class LB>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const fragment<matrix_a, 16, 16, 16, TA, LA> &a,
              const fragment<matrix_b, 16, 16, 16, TB, LB> &b, const fragment<accumulator, 16, 16, 16, float> &c)
{
    float out[256], cv[256];
    acc_gather(cv, c);
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            float s = cv[m * 16 + n];
            for (int k = 0; k < 16; k++) s += a.v[m * 16 + k] * b.v[k * 16 + n];
            out[m * 16 + n] = s;
        }
    memcpy(d.v, out, sizeof out);
}
} // namespace wmma
} // namespace nvcuda

#endif
