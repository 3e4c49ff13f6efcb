/* cpu_attention.c - flash-style multi-head attention (spec §5.11, §5.7).
 *
 * One work item is (sequence, head, block of bq queries). It streams over the
 * keys in blocks of bk with an online softmax: running row max m, running sum
 * l (double) and an unnormalised output accumulator O [bq, d], rescaled by
 * exp(m_old - m_new) when the max grows. Only one [bq x bk] score tile per
 * thread exists at any time (thread scratch). */
#include <math.h>
#include <string.h>

#include "cpu_internal.h"
#include "cpu_simd.h"

static inline float dot(const float *a, const float *b, int64_t n)
{
    float s[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
    for (; i < n; i++) s[i & 7] += a[i] * b[i];
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

static inline void axpy(float *y, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
}

typedef struct attn_job {
    const vc_attn_args *a;
    vc_backend *be;
    int32_t bq, bk;
    int64_t nqb;
} attn_job;

#if CPU_X86
static void attn_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid);
#endif

static inline int32_t rel_row(int64_t i, int64_t j, int32_t M)
{
    int64_t r = j - i;
    if (r < -M) r = -M;
    if (r > M) r = M;
    return (int32_t)(r + M);
}

static void attn_task_generic(void *arg, int64_t b, int64_t e, int32_t tid)
{
    attn_job *J = arg;
    const vc_attn_args *a = J->a;
    const int64_t d = a->d, bq = J->bq, bk = J->bk;
    float *ws = cpu_of(J->be)->tscratch[tid];
    double *l = (double *)ws;                 /* [bq] */
    float *m = ws + 2 * bq;                   /* [bq] */
    float *S = m + bq;                        /* [bq, bk] */
    float *O = S + bq * bk;                   /* [bq, d] */
    const float scale = a->scale;
    const int32_t M = a->rel_max;
    for (int64_t it = b; it < e; it++) {
        const int64_t s = it / ((int64_t)a->heads * J->nqb);
        const int64_t h = (it / J->nqb) % a->heads;
        const int64_t i0 = (it % J->nqb) * bq;
        const int64_t nq = a->lq - i0 < bq ? a->lq - i0 : bq;
        const int64_t kvs = s / a->kv_group;
        const float *qb = a->q + s * a->q_seq + h * d;
        const float *kb = a->k + kvs * a->k_seq + h * d;
        const float *vb = a->v + kvs * a->v_seq + h * d;
        for (int64_t ii = 0; ii < nq; ii++) {
            m[ii] = -INFINITY;
            l[ii] = 0.0;
        }
        memset(O, 0, (size_t)(nq * d) * sizeof(float));
        int64_t jend = a->lk;
        if (a->causal && i0 + nq < jend) jend = i0 + nq; /* keys j <= i only */
        for (int64_t j0 = 0; j0 < jend; j0 += bk) {
            const int64_t nk = jend - j0 < bk ? jend - j0 : bk;
            /* scores */
            for (int64_t ii = 0; ii < nq; ii++) {
                const int64_t i = i0 + ii;
                const float *qi = qb + i * a->q_tok;
                float *Si = S + ii * bk;
                for (int64_t jj = 0; jj < nk; jj++) {
                    const int64_t j = j0 + jj;
                    if (a->causal && j > i) {
                        Si[jj] = -INFINITY;
                        continue;
                    }
                    float sc = dot(qi, kb + j * a->k_tok, d) * scale;
                    if (a->rel_k) sc += dot(qi, a->rel_k + (int64_t)rel_row(i, j, M) * d, d) * scale; /* §5.7 */
                    Si[jj] = sc;
                }
            }
            /* online softmax and P.V */
            for (int64_t ii = 0; ii < nq; ii++) {
                const int64_t i = i0 + ii;
                float *Si = S + ii * bk;
                float mx = -INFINITY;
                for (int64_t jj = 0; jj < nk; jj++) mx = Si[jj] > mx ? Si[jj] : mx;
                if (mx == -INFINITY) continue; /* the whole block is masked for this row */
                const float mnew = mx > m[ii] ? mx : m[ii];
                float *Oi = O + ii * d;
                if (mnew != m[ii]) {
                    if (m[ii] != -INFINITY) {
                        const float corr = expf(m[ii] - mnew);
                        l[ii] *= corr;
                        for (int64_t c = 0; c < d; c++) Oi[c] *= corr;
                    }
                    m[ii] = mnew;
                }
                double ps = 0.0;
                for (int64_t jj = 0; jj < nk; jj++) {
                    const float p = Si[jj] == -INFINITY ? 0.0f : expf(Si[jj] - mnew);
                    ps += p;
                    if (p == 0.0f) continue;
                    const int64_t j = j0 + jj;
                    axpy(Oi, p, vb + j * a->v_tok, d);
                    if (a->rel_v) axpy(Oi, p, a->rel_v + (int64_t)rel_row(i, j, M) * d, d); /* §5.7 */
                }
                l[ii] += ps;
            }
        }
        for (int64_t ii = 0; ii < nq; ii++) {
            float *oi = a->o + s * a->o_seq + (i0 + ii) * a->o_tok + h * d;
            const float *Oi = O + ii * d;
            const float inv_l = l[ii] > 0.0 ? (float)l[ii] : 1.0f;
            if (a->accumulate) {
                for (int64_t c = 0; c < d; c++) oi[c] += Oi[c] / inv_l;
            } else {
                for (int64_t c = 0; c < d; c++) oi[c] = Oi[c] / inv_l;
            }
        }
    }
}

/* Scratch floats one AVX2 work item needs with tiles bq x bk. */
static int64_t avx2_scratch(int64_t bq, int64_t bk, int64_t d, bool rel)
{
    int64_t bqp = (bq + 7) & ~(int64_t)7, nr = rel ? bq + bk : 0;
    return 4 * bqp + d * bqp + bk * bqp + bqp * d + 2 * nr * bqp + 64;
}

void cpu_attention(vc_backend *be, const vc_attn_args *a)
{
    if (a->n_seq <= 0 || a->heads <= 0 || a->lq <= 0) return;
    if (a->lk <= 0 || a->d <= 0) {
        /* empty softmax: define the result as 0 */
        if (!a->accumulate)
            for (int64_t s = 0; s < a->n_seq; s++)
                for (int64_t i = 0; i < a->lq; i++)
                    memset(a->o + s * a->o_seq + i * a->o_tok, 0, (size_t)a->heads * (size_t)(a->d > 0 ? a->d : 0) * sizeof(float));
        return;
    }
    const int64_t cap = CPU_TSCRATCH_FLOATS;
    const bool rel = a->rel_k || a->rel_v;
    int64_t bq = a->lq < 64 ? a->lq : 64, bk = a->lk < 128 ? a->lk : 128;
    cpu_task_fn fn = attn_task_generic;
#if CPU_X86
    if (cpu_of(be)->simd) {
        while (bk > 16 && avx2_scratch(bq, bk, a->d, rel) > cap) bk = (bk + 1) / 2;
        while (bq > 1 && avx2_scratch(bq, bk, a->d, rel) > cap) bq = (bq + 1) / 2;
        if (avx2_scratch(bq, bk, a->d, rel) <= cap) fn = attn_task_avx2;
    }
#endif
    if (fn == attn_task_generic) {
        bk = a->lk < 64 ? a->lk : 64;
        while (bq > 1 && 3 * bq + bq * bk + bq * (int64_t)a->d > cap) bq = (bq + 1) / 2;
        while (bk > 1 && 3 * bq + bq * bk + bq * (int64_t)a->d > cap) bk = (bk + 1) / 2;
    }
    attn_job J = {a, be, (int32_t)bq, (int32_t)bk, (a->lq + bq - 1) / bq};
    int64_t items = (int64_t)a->n_seq * a->heads * J.nqb;
    int64_t work = bq * (int64_t)a->lk * a->d;
    int64_t grain = ((int64_t)1 << 18) / (work > 0 ? work : 1);
    cpu_parallel_for(be, items, grain < 1 ? 1 : grain, fn, &J);
}

#if CPU_X86
/* ------------------------------------------------------------- AVX2 path
 * Scores are computed transposed, ST[j][i] = scale * k_j . q_i, against a
 * packed Q^T block (packed once per work item, reused for every key block),
 * so the keys are read in place and the softmax statistics of 8 queries sit
 * in one vector. */

/* C[r][j] = scale * sum_c A_r[c] * BT[c][j] for r < R (A rows at arow[r]),
 * j < ncol (multiple of 8), BT row stride ldb. */
CPU_AVX2_INLINE void nt_rows(const int R, const float *const *arow, const float *BT, int64_t ldb, int64_t ncol,
                             int64_t d, float scale, float *C, int64_t ldc)
{
    const __m256 vs = _mm256_set1_ps(scale);
    int64_t j = 0;
    for (; j + 16 <= ncol; j += 16) {
        __m256 acc[6][2];
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        const float *bp = BT + j;
        for (int64_t c = 0; c < d; c++, bp += ldb) {
            __m256 b0 = _mm256_loadu_ps(bp), b1 = _mm256_loadu_ps(bp + 8);
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {
                __m256 av = _mm256_broadcast_ss(arow[r] + c);
                acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            }
        }
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {
            _mm256_storeu_ps(C + r * ldc + j, _mm256_mul_ps(acc[r][0], vs));
            _mm256_storeu_ps(C + r * ldc + j + 8, _mm256_mul_ps(acc[r][1], vs));
        }
    }
    for (; j < ncol; j += 8) {
        __m256 acc[6];
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
        const float *bp = BT + j;
        for (int64_t c = 0; c < d; c++, bp += ldb) {
            __m256 b0 = _mm256_loadu_ps(bp);
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++)
                acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(arow[r] + c), b0, acc[r]);
        }
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) _mm256_storeu_ps(C + r * ldc + j, _mm256_mul_ps(acc[r], vs));
    }
}

static CPU_AVX2 void nt_tile(int64_t m, const float *A, int64_t a_tok, const float *BT, int64_t ldb, int64_t ncol,
                             int64_t d, float scale, float *C, int64_t ldc)
{
    for (int64_t i = 0; i < m; i += 6) {
        const float *rows[6] = {0};
        int R = m - i < 6 ? (int)(m - i) : 6;
        for (int r = 0; r < R; r++) rows[r] = A + (i + r) * a_tok;
        float *Ci = C + i * ldc;
        switch (R) {
        case 6: nt_rows(6, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        case 5: nt_rows(5, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        case 4: nt_rows(4, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        case 3: nt_rows(3, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        case 2: nt_rows(2, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        default: nt_rows(1, rows, BT, ldb, ncol, d, scale, Ci, ldc); break;
        }
    }
}

/* O[r][c] += sum_j PT[j][r] * V_j[c] for r < R, j < nk, c < d; V_j = V + j*v_tok. */
CPU_AVX2_INLINE void pv_rows(const int R, const float *PT, int64_t ldp, int64_t nk, const float *V, int64_t v_tok,
                             int64_t d, float *O, int64_t ldo)
{
    int64_t c = 0;
    for (; c + 16 <= d; c += 16) {
        __m256 acc[6][2];
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {
            acc[r][0] = _mm256_loadu_ps(O + r * ldo + c);
            acc[r][1] = _mm256_loadu_ps(O + r * ldo + c + 8);
        }
        const float *vp = V + c, *pp = PT;
        for (int64_t j = 0; j < nk; j++, vp += v_tok, pp += ldp) {
            __m256 v0 = _mm256_loadu_ps(vp), v1 = _mm256_loadu_ps(vp + 8);
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {
                __m256 pv = _mm256_broadcast_ss(pp + r);
                acc[r][0] = _mm256_fmadd_ps(pv, v0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(pv, v1, acc[r][1]);
            }
        }
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) {
            _mm256_storeu_ps(O + r * ldo + c, acc[r][0]);
            _mm256_storeu_ps(O + r * ldo + c + 8, acc[r][1]);
        }
    }
    for (; c + 8 <= d; c += 8) {
        __m256 acc[6];
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) acc[r] = _mm256_loadu_ps(O + r * ldo + c);
        const float *vp = V + c, *pp = PT;
        for (int64_t j = 0; j < nk; j++, vp += v_tok, pp += ldp) {
            __m256 v0 = _mm256_loadu_ps(vp);
            _Pragma("GCC unroll 6") for (int r = 0; r < R; r++)
                acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(pp + r), v0, acc[r]);
        }
        _Pragma("GCC unroll 6") for (int r = 0; r < R; r++) _mm256_storeu_ps(O + r * ldo + c, acc[r]);
    }
    for (; c < d; c++)
        for (int r = 0; r < R; r++) {
            float s = O[r * ldo + c];
            for (int64_t j = 0; j < nk; j++) s = fmaf(PT[j * ldp + r], V[j * v_tok + c], s);
            O[r * ldo + c] = s;
        }
}

static CPU_AVX2 void pv_tile(int64_t m, const float *PT, int64_t ldp, int64_t nk, const float *V, int64_t v_tok,
                             int64_t d, float *O, int64_t ldo)
{
    for (int64_t i = 0; i < m; i += 6) {
        int R = m - i < 6 ? (int)(m - i) : 6;
        const float *Pi = PT + i;
        float *Oi = O + i * ldo;
        switch (R) {
        case 6: pv_rows(6, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        case 5: pv_rows(5, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        case 4: pv_rows(4, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        case 3: pv_rows(3, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        case 2: pv_rows(2, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        default: pv_rows(1, Pi, ldp, nk, V, v_tok, d, Oi, ldo); break;
        }
    }
}

static CPU_AVX2 void attn_task_avx2(void *arg, int64_t b, int64_t e, int32_t tid)
{
    attn_job *J = arg;
    const vc_attn_args *a = J->a;
    const int64_t d = a->d, bq = J->bq, bk = J->bk;
    const int64_t bqp = (bq + 7) & ~(int64_t)7;
    const bool rel = a->rel_k || a->rel_v;
    const int32_t M = a->rel_max;
    float *ws = cpu_of(J->be)->tscratch[tid];
    double *l = (double *)ws;             /* [bqp] running sums */
    float *m = ws + 2 * bqp;              /* [bqp] running maxima */
    float *corr = m + bqp;                /* [bqp] */
    float *QT = corr + bqp;               /* [d, bqp] */
    float *ST = QT + d * bqp;             /* [bk, bqp] scores, then P, transposed */
    float *O = ST + bk * bqp;             /* [bqp, d] unnormalised output */
    float *RT = O + bqp * d;              /* [bq + bk, bqp] rel-pos: scale * rel_k[r] . q_i */
    float *PR = RT + (rel ? (bq + bk) * bqp : 0); /* [bq + bk, bqp] sum of P over keys with the same r */
    const float scale = a->scale;
    for (int64_t it = b; it < e; it++) {
        const int64_t s = it / ((int64_t)a->heads * J->nqb);
        const int64_t h = (it / J->nqb) % a->heads;
        const int64_t i0 = (it % J->nqb) * bq;
        const int64_t nq = a->lq - i0 < bq ? a->lq - i0 : bq;
        const int64_t kvs = s / a->kv_group;
        const float *qb = a->q + s * a->q_seq + h * d + i0 * a->q_tok;
        const float *kb = a->k + kvs * a->k_seq + h * d;
        const float *vb = a->v + kvs * a->v_seq + h * d;
        for (int64_t ii = 0; ii < bqp; ii++) {
            m[ii] = -INFINITY;
            l[ii] = 0.0;
        }
        memset(O, 0, (size_t)(bqp * d) * sizeof(float));
        for (int64_t ii = 0; ii < nq; ii++) {
            const float *qi = qb + ii * a->q_tok;
            for (int64_t c = 0; c < d; c++) QT[c * bqp + ii] = qi[c];
        }
        for (int64_t c = 0; c < d; c++)
            for (int64_t ii = nq; ii < bqp; ii++) QT[c * bqp + ii] = 0.0f;
        int64_t jend = a->lk;
        if (a->causal && i0 + nq < jend) jend = i0 + nq; /* keys j <= i only */
        for (int64_t j0 = 0; j0 < jend; j0 += bk) {
            const int64_t nk = jend - j0 < bk ? jend - j0 : bk;
            nt_tile(nk, kb + j0 * a->k_tok, a->k_tok, QT, bqp, bqp, d, scale, ST, bqp);
            /* §5.7 relative position: rows r of the tables this tile touches */
            int64_t rmin = 0, nr = 0;
            if (rel) {
                int64_t lo = j0 - (i0 + nq - 1), hi = j0 + nk - 1 - i0;
                lo = lo < -M ? -M : lo > M ? M : lo;
                hi = hi < -M ? -M : hi > M ? M : hi;
                rmin = lo + M;
                nr = hi - lo + 1;
            }
            if (a->rel_k) {
                nt_tile(nr, a->rel_k + rmin * d, d, QT, bqp, bqp, d, scale, RT, bqp);
                for (int64_t jj = 0; jj < nk; jj++)
                    for (int64_t ii = 0; ii < nq; ii++)
                        ST[jj * bqp + ii] += RT[(rel_row(i0 + ii, j0 + jj, M) - rmin) * bqp + ii];
            }
            if (a->causal)
                for (int64_t jj = 0; jj < nk; jj++)
                    for (int64_t ii = 0; ii < nq; ii++)
                        if (j0 + jj > i0 + ii) ST[jj * bqp + ii] = -INFINITY;
            /* online softmax, 8 queries per vector */
            bool any_corr = false;
            for (int64_t g = 0; g < bqp; g += 8) {
                __m256 vmx = _mm256_set1_ps(-INFINITY);
                for (int64_t jj = 0; jj < nk; jj++) vmx = _mm256_max_ps(vmx, _mm256_loadu_ps(ST + jj * bqp + g));
                __m256 mold = _mm256_loadu_ps(m + g);
                __m256 mnew = _mm256_max_ps(mold, vmx);
                /* rows with no valid key yet keep -inf; subtract 0 there so P = 0, corr = 0 */
                __m256 msafe = _mm256_andnot_ps(_mm256_cmp_ps(mnew, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ), mnew);
                __m256 vc = cpu_exp8(_mm256_sub_ps(mold, msafe));
                _mm256_storeu_ps(m + g, mnew);
                _mm256_storeu_ps(corr + g, vc);
                __m256 vsum = _mm256_setzero_ps();
                for (int64_t jj = 0; jj < nk; jj++) {
                    __m256 p = cpu_exp8(_mm256_sub_ps(_mm256_loadu_ps(ST + jj * bqp + g), msafe));
                    _mm256_storeu_ps(ST + jj * bqp + g, p);
                    vsum = _mm256_add_ps(vsum, p);
                }
                float sum8[8];
                _mm256_storeu_ps(sum8, vsum);
                for (int k = 0; k < 8; k++) {
                    l[g + k] = l[g + k] * corr[g + k] + sum8[k];
                    any_corr |= corr[g + k] != 1.0f;
                }
            }
            if (any_corr)
                for (int64_t ii = 0; ii < nq; ii++) {
                    const float cf = corr[ii];
                    if (cf == 1.0f) continue;
                    float *Oi = O + ii * d;
                    for (int64_t c = 0; c < d; c++) Oi[c] *= cf;
                }
            pv_tile(nq, ST, bqp, nk, vb + j0 * a->v_tok, a->v_tok, d, O, d);
            if (a->rel_v) {
                memset(PR, 0, (size_t)(nr * bqp) * sizeof(float));
                for (int64_t jj = 0; jj < nk; jj++)
                    for (int64_t ii = 0; ii < nq; ii++)
                        PR[(rel_row(i0 + ii, j0 + jj, M) - rmin) * bqp + ii] += ST[jj * bqp + ii];
                pv_tile(nq, PR, bqp, nr, a->rel_v + rmin * d, d, d, O, d);
            }
        }
        for (int64_t ii = 0; ii < nq; ii++) {
            float *oi = a->o + s * a->o_seq + (i0 + ii) * a->o_tok + h * d;
            const float *Oi = O + ii * d;
            const float li = l[ii] > 0.0 ? (float)l[ii] : 1.0f;
            const __m256 vl = _mm256_set1_ps(li);
            int64_t c = 0;
            if (a->accumulate) {
                for (; c + 8 <= d; c += 8)
                    _mm256_storeu_ps(oi + c, _mm256_add_ps(_mm256_loadu_ps(oi + c),
                                                           _mm256_div_ps(_mm256_loadu_ps(Oi + c), vl)));
                for (; c < d; c++) oi[c] += Oi[c] / li;
            } else {
                for (; c + 8 <= d; c += 8) _mm256_storeu_ps(oi + c, _mm256_div_ps(_mm256_loadu_ps(Oi + c), vl));
                for (; c < d; c++) oi[c] = Oi[c] / li;
            }
        }
    }
}
#endif
