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

static inline int32_t rel_row(int64_t i, int64_t j, int32_t M)
{
    int64_t r = j - i;
    if (r < -M) r = -M;
    if (r > M) r = M;
    return (int32_t)(r + M);
}

static void attn_task(void *arg, int64_t b, int64_t e, int32_t tid)
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
    int64_t bq = a->lq < 64 ? a->lq : 64, bk = a->lk < 64 ? a->lk : 64;
    const int64_t cap = CPU_TSCRATCH_FLOATS;
    while (bq > 1 && 3 * bq + bq * bk + bq * (int64_t)a->d > cap) bq = (bq + 1) / 2;
    while (bk > 1 && 3 * bq + bq * bk + bq * (int64_t)a->d > cap) bk = (bk + 1) / 2;
    attn_job J = {a, be, (int32_t)bq, (int32_t)bk, (a->lq + bq - 1) / bq};
    int64_t items = (int64_t)a->n_seq * a->heads * J.nqb;
    int64_t work = bq * (int64_t)a->lk * a->d;
    int64_t grain = ((int64_t)1 << 18) / (work > 0 ? work : 1);
    cpu_parallel_for(be, items, grain < 1 ? 1 : grain, attn_task, &J);
}
