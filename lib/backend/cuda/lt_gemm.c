/* lt_gemm.c - see lt_gemm.h. One cuBLASLt plan (descriptors and the
 * heuristic's algorithm) per shape, kept for the context's life: the UNet has
 * a few dozen linear shapes, and asking the heuristic per call would cost more
 * host time than the GEMMs take on a large GPU. */
#include "lt_gemm.h"

#include <cublasLt.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PLANS 128

typedef struct lt_key {
    bool half_in, half_out, accumulate;
    int rows, in, out;
    int64_t ldx, ldy;
    int align_x, align_w, align_y; /* pointer alignments the algorithm was chosen for */
} lt_key;

typedef struct lt_plan {
    lt_key key;
    bool ok; /* false: no algorithm, or it was refused: the plain path */
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
} lt_plan;

struct vc_lt {
    cublasLtHandle_t handle;
    lt_plan plans[MAX_PLANS];
    int n_plans, next_evict;
};

vc_lt *vc_lt_create(void)
{
    vc_lt *lt = calloc(1, sizeof *lt);
    if (!lt) return NULL;
    if (cublasLtCreate(&lt->handle) != CUBLAS_STATUS_SUCCESS) {
        free(lt);
        return NULL;
    }
    return lt;
}

static void drop_plan(lt_plan *p)
{
    if (p->desc) cublasLtMatmulDescDestroy(p->desc);
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->lc) cublasLtMatrixLayoutDestroy(p->lc);
    memset(p, 0, sizeof *p);
}

void vc_lt_destroy(vc_lt *lt)
{
    if (!lt) return;
    for (int i = 0; i < lt->n_plans; i++) drop_plan(&lt->plans[i]);
    cublasLtDestroy(lt->handle);
    free(lt);
}

static int alignment(const void *p)
{
    const uintptr_t a = (uintptr_t)p;
    int al = 256;
    while (al > 1 && a % (uintptr_t)al) al /= 2;
    return al;
}

/* Column-major, as cuBLASLt sees the row-major operands: D (out x rows, ld
 * ldy) = W^T-transposed (A: in x out, ld in, op T) . X (B: in x rows, ld ldx).
 * The bias has D's type (the default). */
static bool make_plan(vc_lt *lt, lt_plan *p, size_t ws_bytes)
{
    const lt_key *k = &p->key;
    const cudaDataType_t t = k->half_in ? CUDA_R_16F : CUDA_R_32F;
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    if (cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F) ||
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) ||
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) ||
        cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi) ||
        cublasLtMatrixLayoutCreate(&p->la, t, (uint64_t)k->in, (uint64_t)k->out, k->in) ||
        cublasLtMatrixLayoutCreate(&p->lb, t, (uint64_t)k->in, (uint64_t)k->rows, k->ldx) ||
        cublasLtMatrixLayoutCreate(&p->lc, k->half_out ? CUDA_R_16F : CUDA_R_32F, (uint64_t)k->out, (uint64_t)k->rows,
                                   k->ldy))
        return false;
    cublasLtMatmulPreference_t pref = NULL;
    if (cublasLtMatmulPreferenceCreate(&pref)) return false;
    const uint64_t ws = ws_bytes;
    const uint32_t ax = (uint32_t)k->align_x, aw = (uint32_t)k->align_w, ay = (uint32_t)k->align_y;
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    const bool set = !cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws) &&
                     !cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aw, sizeof aw) &&
                     !cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ax, sizeof ax) &&
                     !cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ay, sizeof ay) &&
                     !cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ay, sizeof ay);
    const bool got = set && !cublasLtMatmulAlgoGetHeuristic(lt->handle, p->desc, p->la, p->lb, p->lc, p->lc, pref, 1,
                                                             &res, &found) &&
                     found > 0 && res.state == CUBLAS_STATUS_SUCCESS;
    cublasLtMatmulPreferenceDestroy(pref);
    if (got) p->algo = res.algo;
    return got;
}

static lt_plan *plan_for(vc_lt *lt, const lt_key *key, size_t ws_bytes)
{
    for (int i = 0; i < lt->n_plans; i++)
        if (!memcmp(&lt->plans[i].key, key, sizeof *key)) return &lt->plans[i];
    lt_plan *p;
    if (lt->n_plans < MAX_PLANS) {
        p = &lt->plans[lt->n_plans++];
    } else { /* more shapes than plans: replace round-robin */
        p = &lt->plans[lt->next_evict];
        lt->next_evict = (lt->next_evict + 1) % MAX_PLANS;
        drop_plan(p);
    }
    p->key = *key;
    p->ok = make_plan(lt, p, ws_bytes);
    return p;
}

bool vc_lt_linear(vc_lt *lt, cudaStream_t s, bool half_in, bool half_out, int rows, int in, int out, const void *x,
                  int64_t ldx, const void *w, const void *bias, bool accumulate, void *y, int64_t ldy, void *ws,
                  size_t ws_bytes)
{
    if (!lt || !bias || rows <= 0 || in <= 0 || out <= 0 || (half_out && !half_in)) return false;
    lt_key key;
    memset(&key, 0, sizeof key); /* padding too: keys are compared bytewise */
    key.half_in = half_in;
    key.half_out = half_out;
    key.accumulate = accumulate;
    key.rows = rows, key.in = in, key.out = out, key.ldx = ldx, key.ldy = ldy;
    key.align_x = alignment(x), key.align_w = alignment(w), key.align_y = alignment(y);
    lt_plan *p = plan_for(lt, &key, ws_bytes);
    if (!p->ok) return false;
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    if (cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) ||
        cublasLtMatmul(lt->handle, p->desc, &alpha, w, p->la, x, p->lb, &beta, y, p->lc, y, p->lc, &p->algo, ws,
                       ws_bytes, s)) {
        p->ok = false; /* refused at launch (nothing was computed): the plain path from now on */
        return false;
    }
    return true;
}
