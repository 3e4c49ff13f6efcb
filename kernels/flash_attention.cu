// flash_attention.cu - tensor-core attention for the fp16 precision mode.
//
// Flash-style: a block owns 64 query rows of one (sequence, head), walks the
// keys 64 at a time and keeps the softmax online (running max m and sum l per
// row), so no score matrix exists beyond one 64x64 tile. Q, K, V are read as
// float32 activations and rounded to half in shared memory; the products run on
// the tensor cores (WMMA 16x16x16, half in, float32 accumulation) and the
// softmax and the output accumulator stay float32. Four warps, each owning 16
// query rows. Used for head widths 16, 32, 64, 80 and 128 without
// relative-position tables; everything else takes the float32 kernels of
// attention.cu. The register variant further down is the one normally used.
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cuda_pipeline.h>
#include <math.h>
#include <mma.h>
#include <stdint.h>

#include <type_traits>

#include "vc_device.cuh"
#include "vc_kernels.h"

namespace {

using namespace nvcuda;

constexpr int kBq = 64, kBk = 64, kWarps = 4, kRows = 16; // kRows query rows per warp

template <int D>
struct Smem {
    static constexpr size_t q = 0;                                  // half [kBq][D]
    static constexpr size_t k = q + sizeof(__half) * kBq * D;       // half [kBk][D]
    static constexpr size_t v = k + sizeof(__half) * kBk * D;       // half [kBk][D]
    static constexpr size_t s = v + sizeof(__half) * kBk * D;       // float [kWarps][kRows][kBk]
    static constexpr size_t p = s + sizeof(float) * kWarps * kRows * kBk; // half [kWarps][kRows][kBk]
    static constexpr size_t o = p + sizeof(__half) * kWarps * kRows * kBk; // float [kBq][D]
    static constexpr size_t corr = o + sizeof(float) * kBq * D;     // float [kBq]
    static constexpr size_t bytes = corr + sizeof(float) * kBq;
};

template <int D>
__global__ void __launch_bounds__(kWarps * 32) flash_k(vck_attn a, int seq0)
{
    extern __shared__ __align__(128) unsigned char smem[];
    using L = Smem<D>;
    __half *qs = (__half *)(smem + L::q), *ks = (__half *)(smem + L::k), *vs = (__half *)(smem + L::v);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *sw = (float *)(smem + L::s) + warp * kRows * kBk;
    __half *pw = (__half *)(smem + L::p) + warp * kRows * kBk;
    float *ow = (float *)(smem + L::o) + warp * kRows * D;
    float *cw = (float *)(smem + L::corr) + warp * kRows;

    const int h = blockIdx.y, sq = seq0 + blockIdx.z, q0 = blockIdx.x * kBq;
    const int kvs = sq / a.kv_group;
    const int64_t k_off = kvs * a.k_seq + (int64_t)h * D, v_off = kvs * a.v_seq + (int64_t)h * D;

    vc_load_rows_from(qs, D, a.q, a.q16, sq * a.q_seq + (int64_t)h * D, a.q_tok, q0, kBq, a.lq, D);
    for (int e = lane; e < kRows * D; e += 32) ow[e] = 0.0f;

    // lane pair (2r, 2r+1) owns row r of the warp's 16: columns [32*half, 32*half + 32)
    const int r = lane >> 1, half = lane & 1, qi = q0 + warp * kRows + r;
    float m = -INFINITY, l = 0.0f;
    const int lk_end = a.causal ? min(a.lk, q0 + kBq) : a.lk;

    for (int j0 = 0; j0 < lk_end; j0 += kBk) {
        __syncthreads(); // the previous tile's K and V are no longer read
        vc_load_rows_from(ks, D, a.k, a.k16, k_off, a.k_tok, j0, kBk, a.lk, D);
        vc_load_rows_from(vs, D, a.v, a.v16, v_off, a.v_tok, j0, kBk, a.lk, D);
        __syncthreads();

        // S[16][64] = Q_w K^T
        for (int n = 0; n < kBk / 16; n++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::fill_fragment(acc, 0.0f);
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
                wmma::load_matrix_sync(fa, qs + warp * kRows * D + kk * 16, D);
                wmma::load_matrix_sync(fb, ks + n * 16 * D + kk * 16, D);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(sw + n * 16, acc, kBk, wmma::mem_row_major);
        }
        __syncwarp();

        // online softmax of row r over this tile's 64 keys
        float sc[32], tmax = -INFINITY;
#pragma unroll
        for (int t = 0; t < 32; t++) {
            const int c = half * 32 + t, j = j0 + c;
            float s = sw[r * kBk + c] * a.scale;
            if (j >= a.lk || (a.causal && j > qi)) s = -INFINITY;
            sc[t] = s;
            tmax = fmaxf(tmax, s);
        }
        tmax = fmaxf(tmax, __shfl_xor_sync(0xffffffffu, tmax, 1));
        const float mnew = fmaxf(m, tmax);
        const float corr = (m == -INFINITY) ? 0.0f : expf(m - mnew);
        float psum = 0.0f;
#pragma unroll
        for (int t = 0; t < 32; t++) {
            const float pv = (sc[t] == -INFINITY) ? 0.0f : expf(sc[t] - mnew);
            psum += pv;
            pw[r * kBk + half * 32 + t] = __float2half_rn(pv);
        }
        psum += __shfl_xor_sync(0xffffffffu, psum, 1);
        l = l * corr + psum;
        m = mnew;
        if (half == 0) cw[r] = corr;
        __syncwarp();

        // O_w = corr * O_w + P V
        for (int e = lane; e < kRows * D; e += 32) ow[e] *= cw[e / D];
        __syncwarp();
        for (int c = 0; c < D / 16; c++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
            wmma::load_matrix_sync(acc, ow + c * 16, D, wmma::mem_row_major);
            for (int kk = 0; kk < kBk / 16; kk++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
                wmma::load_matrix_sync(fa, pw + kk * 16, kBk);
                wmma::load_matrix_sync(fb, vs + kk * 16 * D + c * 16, D);
                wmma::mma_sync(acc, fa, fb, acc);
            }
            wmma::store_matrix_sync(ow + c * 16, acc, D, wmma::mem_row_major);
        }
        __syncwarp();
    }

    if (half == 0) cw[r] = l > 0.0f ? 1.0f / l : 0.0f;
    __syncwarp();
    for (int e = lane; e < kRows * D; e += 32) {
        const int rr = e / D, c = e % D, row = q0 + warp * kRows + rr;
        if (row >= a.lq) continue;
        vc_store_out(a.o, a.o16, sq * a.o_seq + (int64_t)row * a.o_tok + (int64_t)h * D + c, ow[e] * cw[rr],
                     a.accumulate);
    }
}

// ---- the same with the scores and the output accumulator in registers ----
//
// Needs the layout of a float32 accumulator fragment across the warp, which
// CUDA does not specify: on sm_80/sm_90 lane 4g+t holds rows g and g+8 at
// columns 2t, 2t+1, 8+2t, 9+2t (element i: row g + 8*((i/2)%2), column
// 2t + i%2 + 8*(i/4)). vck_wmma_layout_probe checks it on the device and the
// backend uses this kernel only when it holds. Then the softmax runs on the
// score fragments (a row's 64 keys sit in the 4 lanes of its group), the
// output is rescaled in place, and only P passes through shared memory (as
// the half A operand of P V): no score or output tile round trips.
__device__ inline int acc_row(int lane, int i) { return (lane >> 2) + 8 * ((i >> 1) & 1); }
__device__ inline int acc_col(int lane, int i) { return (lane & 3) * 2 + (i & 1) + 8 * (i >> 2); }

// W warps of 16 query rows each (W = 8 halves the K/V reloads per query for
// the narrow heads); K and V are read as the half copies the backend makes
// once per call (k16/v16), or as float32 when it did not, into two buffers:
// the next tile loads while this one is used. Shared rows are padded by 8
// halves (16 bytes): with rows of a multiple of 128 bytes the eight row
// addresses of each tensor-core tile load would fall on the same banks.
template <int D, int W>
struct SmemReg {
    static constexpr int ld = D + 8, ldp = kBk + 8;                 // row strides (halves)
    static constexpr size_t tile = sizeof(__half) * kBk * ld;       // one K or V tile
    static constexpr size_t q = 0;                                  // half [16 W][ld]
    static constexpr size_t k = q + sizeof(__half) * 16 * W * ld;   // half [2][kBk][ld]
    static constexpr size_t v = k + 2 * tile;                       // half [2][kBk][ld]
    static constexpr size_t p = v + 2 * tile;                       // half [W][kRows][ldp]
    static constexpr size_t bytes = p + sizeof(__half) * W * kRows * ldp;
};

// 16 bytes global -> shared without passing through registers (cp.async.cg,
// sm_80 and later), completed by cp_async_wait.
__device__ inline void cp_async16(void *dst, const void *src) { __pipeline_memcpy_async(dst, src, 16); }
__device__ inline void cp_async_commit() { __pipeline_commit(); }
// waits until at most N of this thread's committed groups are in flight
template <int N>
__device__ inline void cp_async_wait()
{
    __pipeline_wait_prior(N);
}

// Rows [row0, row0 + rows) of a half [len, D] operand (token stride tok) into
// shared rows of stride ld, 16 bytes at a time: copied asynchronously (async)
// or loaded; rows past len as zeros. src and tok must be multiples of 8
// halves (the launcher checks: `vec`).
template <int D>
__device__ void load_rows_vec(__half *dst, int ld, const __half *src, int64_t tok, int row0, int rows, int len,
                              bool async)
{
    constexpr int kChunks = D / 8;
    for (int e = threadIdx.x; e < rows * kChunks; e += blockDim.x) {
        const int r = e / kChunks, c = (e % kChunks) * 8, row = row0 + r;
        __half *d = dst + r * ld + c;
        if (row >= len) *(uint4 *)d = make_uint4(0u, 0u, 0u, 0u);
        else if (async) cp_async16(d, src + (int64_t)row * tok + c);
        else *(uint4 *)d = *(const uint4 *)(src + (int64_t)row * tok + c);
    }
}

template <int D, typename T>
__device__ void load_tile(__half *dst, int ld, const T *src, int64_t tok, int row0, int rows, int len, bool vec,
                          bool async = false)
{
    if constexpr (std::is_same<T, __half>::value) {
        if (vec) {
            load_rows_vec<D>(dst, ld, src, tok, row0, rows, len, async);
            return;
        }
    }
    vc_load_rows(dst, ld, src, tok, row0, rows, len, D);
}

enum { VEC_KV = 1, VEC_Q = 2 }; // which operands take 16-byte loads

template <int D, int W, typename KV>
__global__ void __launch_bounds__(W * 32, 2) flash_reg_k(vck_attn a, int seq0, int vec)
{
    using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    constexpr int BQ = 16 * W;
    extern __shared__ __align__(128) unsigned char smem[];
    using L = SmemReg<D, W>;
    constexpr int LD = L::ld, LDP = L::ldp;
    __half *qs = (__half *)(smem + L::q);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __half *pw = (__half *)(smem + L::p) + warp * kRows * LDP;

    const int h = blockIdx.y, sq = seq0 + blockIdx.z, q0 = blockIdx.x * BQ;
    const int kvs = sq / a.kv_group;
    const KV *kg = (const KV *)(a.k16 ? a.k16 : (const void *)a.k) + kvs * a.k_seq + (int64_t)h * D;
    const KV *vg = (const KV *)(a.v16 ? a.v16 : (const void *)a.v) + kvs * a.v_seq + (int64_t)h * D;

    const int64_t q_off = sq * a.q_seq + (int64_t)h * D;
    if (a.q16) load_tile<D>(qs, LD, (const __half *)a.q16 + q_off, a.q_tok, q0, BQ, a.lq, vec & VEC_Q);
    else load_tile<D>(qs, LD, a.q + q_off, a.q_tok, q0, BQ, a.lq, vec & VEC_Q);
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> qf[D / 16];
    for (int kk = 0; kk < D / 16; kk++) wmma::load_matrix_sync(qf[kk], qs + warp * kRows * LD + kk * 16, LD);
    Acc of[D / 16];
    for (int c = 0; c < D / 16; c++) wmma::fill_fragment(of[c], 0.0f);

    // The softmax runs in base 2: scores times scale * log2(e), so each
    // exponential is one exp2 (the MUFU instruction) instead of expf's longer
    // sequence. m is the running maximum in that domain.
    const float scale2 = a.scale * 1.4426950408889634f;
    // this lane's two rows (h2 = 0: row g, 1: row g + 8) of the warp's 16
    const int rbase = q0 + warp * kRows;
    float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
    const int lk_end = a.causal ? min(a.lk, q0 + BQ) : a.lk;

    // tile j0 into buffer b: asynchronous copies where the loads are 16 bytes
    const auto fetch = [&](int b, int j0) {
        __half *ks = (__half *)(smem + L::k + b * L::tile), *vs = (__half *)(smem + L::v + b * L::tile);
        load_tile<D>(ks, LD, kg, a.k_tok, j0, kBk, a.lk, vec & VEC_KV, true);
        load_tile<D>(vs, LD, vg, a.v_tok, j0, kBk, a.lk, vec & VEC_KV, true);
        cp_async_commit();
    };
    fetch(0, 0);
    for (int j0 = 0, b = 0; j0 < lk_end; j0 += kBk, b ^= 1) {
        if (j0 + kBk < lk_end) { // the next tile into the other buffer, which no warp reads any more
            fetch(b ^ 1, j0 + kBk);
            cp_async_wait<1>(); // this thread's copies of tile j0 have landed
        } else {
            cp_async_wait<0>();
        }
        __syncthreads(); // everyone's copies of tile j0 are visible
        const __half *ks = (const __half *)(smem + L::k + b * L::tile), *vs = (const __half *)(smem + L::v + b * L::tile);
        Acc sf[kBk / 16]; // S[16][64] = Q_w K^T
        for (int n = 0; n < kBk / 16; n++) {
            wmma::fill_fragment(sf[n], 0.0f);
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb;
                wmma::load_matrix_sync(fb, ks + n * 16 * LD + kk * 16, LD);
                wmma::mma_sync(sf[n], qf[kk], fb, sf[n]);
            }
        }
        const bool edge = a.causal || j0 + kBk > a.lk; // a tile with masked keys
        float tmax[2] = {-INFINITY, -INFINITY};
        for (int n = 0; n < kBk / 16; n++)
            for (int i = 0; i < Acc::num_elements; i++) {
                const int h2 = (i >> 1) & 1;
                float sc = sf[n].x[i] * scale2;
                if (edge) {
                    const int j = j0 + n * 16 + acc_col(lane, i), qi = rbase + acc_row(lane, i);
                    if (j >= a.lk || (a.causal && j > qi)) sc = -INFINITY;
                }
                sf[n].x[i] = sc;
                tmax[h2] = fmaxf(tmax[h2], sc);
            }
        float corr[2], psum[2] = {0.0f, 0.0f};
        for (int h2 = 0; h2 < 2; h2++) { // the 4 lanes of a group share its rows
            tmax[h2] = fmaxf(tmax[h2], __shfl_xor_sync(0xffffffffu, tmax[h2], 1));
            tmax[h2] = fmaxf(tmax[h2], __shfl_xor_sync(0xffffffffu, tmax[h2], 2));
            const float mnew = fmaxf(m[h2], tmax[h2]);
            corr[h2] = (m[h2] == -INFINITY) ? 0.0f : exp2f(m[h2] - mnew);
            m[h2] = mnew;
        }
        for (int n = 0; n < kBk / 16; n++)
            for (int i = 0; i < Acc::num_elements; i += 2) { // elements i, i + 1: adjacent columns of one row
                const int h2 = (i >> 1) & 1;
                const float s0 = sf[n].x[i], s1 = sf[n].x[i + 1];
                const float p0 = (s0 == -INFINITY) ? 0.0f : exp2f(s0 - m[h2]);
                const float p1 = (s1 == -INFINITY) ? 0.0f : exp2f(s1 - m[h2]);
                psum[h2] += p0 + p1;
                *(__half2 *)(pw + acc_row(lane, i) * LDP + n * 16 + acc_col(lane, i)) = __floats2half2_rn(p0, p1);
            }
        for (int h2 = 0; h2 < 2; h2++) {
            psum[h2] += __shfl_xor_sync(0xffffffffu, psum[h2], 1);
            psum[h2] += __shfl_xor_sync(0xffffffffu, psum[h2], 2);
            l[h2] = l[h2] * corr[h2] + psum[h2];
        }
        for (int c = 0; c < D / 16; c++)
            for (int i = 0; i < Acc::num_elements; i++) of[c].x[i] *= corr[(i >> 1) & 1];
        __syncwarp(); // P complete before it is read as a tile

        for (int kk = 0; kk < kBk / 16; kk++) { // O_w += P V
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pa;
            wmma::load_matrix_sync(pa, pw + kk * 16, LDP);
            for (int c = 0; c < D / 16; c++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
                wmma::load_matrix_sync(fb, vs + kk * 16 * LD + c * 16, LD);
                wmma::mma_sync(of[c], pa, fb, of[c]);
            }
        }
        __syncthreads(); // tile j0's K, V and P are read before they are written again
    }

    const float inv[2] = {l[0] > 0.0f ? 1.0f / l[0] : 0.0f, l[1] > 0.0f ? 1.0f / l[1] : 0.0f};
    for (int c = 0; c < D / 16; c++)
        for (int i = 0; i < Acc::num_elements; i++) {
            const int row = rbase + acc_row(lane, i);
            if (row >= a.lq) continue;
            vc_store_out(a.o, a.o16, sq * a.o_seq + (int64_t)row * a.o_tok + (int64_t)h * D + c * 16 + acc_col(lane, i),
                         of[c].x[i] * inv[(i >> 1) & 1], a.accumulate);
        }
}

// One warp: an accumulator loaded from a tile of known values must hold, in
// every lane, the values the layout above says; and a fragment written
// element by element must store as that tile.
__global__ void layout_probe_k(int *bad)
{
    using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
    __shared__ float tile[256], back[256];
    const int lane = threadIdx.x;
    for (int e = lane; e < 256; e += 32) tile[e] = (float)e;
    __syncwarp();
    Acc f;
    wmma::load_matrix_sync(f, tile, 16, wmma::mem_row_major);
    int wrong = Acc::num_elements != 8;
    for (int i = 0; i < Acc::num_elements && !wrong; i++)
        wrong |= f.x[i] != (float)(acc_row(lane, i) * 16 + acc_col(lane, i));
    for (int i = 0; i < Acc::num_elements; i++) f.x[i] = (float)(1000 + acc_row(lane, i) * 16 + acc_col(lane, i));
    wmma::store_matrix_sync(back, f, 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 256; e += 32) wrong |= back[e] != (float)(1000 + e);
    bad[lane] = wrong;
}

template <int D>
int launch_tiles(const vck_attn *a, cudaStream_t s)
{
    const size_t smem = Smem<D>::bytes;
    cudaError_t e = cudaFuncSetAttribute(flash_k<D>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    for (int seq0 = 0; seq0 < a->n_seq; seq0 += 65535) {
        const int nz = min(65535, a->n_seq - seq0);
        dim3 grid((unsigned)((a->lq + kBq - 1) / kBq), (unsigned)a->heads, (unsigned)nz);
        flash_k<D><<<grid, kWarps * 32, smem, s>>>(*a, seq0);
        if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    }
    return 0;
}

// 16-byte loads of half operands need their address, token stride and
// sequence stride in multiples of 8 halves (D is one): VEC_KV for the K and V
// copies, VEC_Q for a half Q (a transient buffer; a float32 Q is read and
// rounded element by element).
int vector_loads(const vck_attn *a, bool kv_half)
{
    const auto aligned = [](const void *p) { return ((uintptr_t)p & 15u) == 0; };
    const bool q = a->q16 && aligned(a->q16) && a->q_tok % 8 == 0 && a->q_seq % 8 == 0;
    const bool kv = kv_half && aligned(a->k16) && aligned(a->v16) && a->k_tok % 8 == 0 && a->v_tok % 8 == 0 &&
                    a->k_seq % 8 == 0 && a->v_seq % 8 == 0;
    return (kv ? VEC_KV : 0) | (q ? VEC_Q : 0);
}

template <int D, int W, typename KV>
int launch_regs(const vck_attn *a, cudaStream_t s)
{
    const size_t smem = SmemReg<D, W>::bytes;
    const int vec = vector_loads(a, std::is_same<KV, __half>::value);
    cudaError_t e = cudaFuncSetAttribute(flash_reg_k<D, W, KV>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
    if (e != cudaSuccess) return (int)e;
    for (int seq0 = 0; seq0 < a->n_seq; seq0 += 65535) {
        const int nz = min(65535, a->n_seq - seq0);
        dim3 grid((unsigned)((a->lq + 16 * W - 1) / (16 * W)), (unsigned)a->heads, (unsigned)nz);
        flash_reg_k<D, W, KV><<<grid, W * 32, smem, s>>>(*a, seq0, vec);
        if ((e = cudaGetLastError()) != cudaSuccess) return (int)e;
    }
    return 0;
}

template <int D>
int launch(const vck_attn *a, bool regs, cudaStream_t s)
{
    constexpr int W = D <= 64 ? 8 : 4;
    if (!regs) return launch_tiles<D>(a, s);
    if (a->k16 && a->v16) return launch_regs<D, W, __half>(a, s);
    if (!a->k16 && !a->v16) return launch_regs<D, W, float>(a, s);
    return (int)cudaErrorInvalidValue; /* both or neither */
}

} // namespace

extern "C" bool vck_attention_fp16_supported(const vck_attn *a)
{
    return !a->rel_k && !a->rel_v && (a->d == 16 || a->d == 32 || a->d == 64 || a->d == 80 || a->d == 128);
}

extern "C" int vck_attention_fp16(vck_stream s, const vck_attn *a, bool regs)
{
    if (a->n_seq <= 0 || a->lq <= 0 || a->heads <= 0) return 0;
    if (a->lk <= 0 || a->kv_group < 1 || !vck_attention_fp16_supported(a)) return (int)cudaErrorInvalidValue;
    switch (a->d) {
    case 16: return launch<16>(a, regs, (cudaStream_t)s); /* the tiny reference models' heads */
    case 32: return launch<32>(a, regs, (cudaStream_t)s);
    case 64: return launch<64>(a, regs, (cudaStream_t)s);
    case 80: return launch<80>(a, regs, (cudaStream_t)s);
    default: return launch<128>(a, regs, (cudaStream_t)s);
    }
}

extern "C" int vck_wmma_layout_probe(vck_stream s, int *work, bool *holds)
{
    *holds = false;
    layout_probe_k<<<1, 32, 0, (cudaStream_t)s>>>(work);
    cudaError_t e = cudaGetLastError();
    int bad[32];
    if (e == cudaSuccess) e = cudaMemcpyAsync(bad, work, sizeof bad, cudaMemcpyDeviceToHost, (cudaStream_t)s);
    if (e == cudaSuccess) e = cudaStreamSynchronize((cudaStream_t)s);
    if (e != cudaSuccess) return (int)e;
    *holds = true;
    for (int i = 0; i < 32; i++) *holds = *holds && !bad[i];
    return 0;
}
