/* cudnn_conv.c - 2-D convolutions through a cuDNN opened at run time (see
 * cudnn_conv.h). The function pointers take their types from cudnn.h, so a
 * mismatch with the header fails to compile rather than at run time. */
#include "cudnn_conv.h"

#include <cudnn.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CUDNN_FUNCS(X)                                                                                          \
    X(cudnnGetVersion) X(cudnnGetErrorString) X(cudnnCreate) X(cudnnDestroy) X(cudnnSetStream)                  \
    X(cudnnCreateTensorDescriptor) X(cudnnDestroyTensorDescriptor) X(cudnnSetTensor4dDescriptor)                \
    X(cudnnCreateFilterDescriptor) X(cudnnDestroyFilterDescriptor) X(cudnnSetFilter4dDescriptor)                \
    X(cudnnCreateConvolutionDescriptor) X(cudnnDestroyConvolutionDescriptor) X(cudnnSetConvolution2dDescriptor) \
    X(cudnnSetConvolutionMathType) X(cudnnGetConvolutionForwardAlgorithm_v7)                                    \
    X(cudnnGetConvolutionForwardWorkspaceSize) X(cudnnConvolutionForward)

#define PLAN_CAP 128 /* distinct convolution shapes remembered (a UNet has a few dozen) */

typedef struct plan {
    vc_cudnn_shape shape;
    bool ok;                       /* false: cuDNN offered nothing, use the fallback */
    cudnnConvolutionFwdAlgo_t algo;
    size_t ws_bytes, ws_cap;
} plan;

struct vc_cudnn {
    void *lib;
#define X(f) __typeof__(f) *f;
    CUDNN_FUNCS(X)
#undef X
    cudaStream_t stream;
    bool init_tried;               /* the handle is made at the first plan (it costs time and memory) */
    char failure[160];             /* why the handle could not be made ("" if it could) */
    cudnnHandle_t handle;
    cudnnTensorDescriptor_t xd, yd;
    cudnnFilterDescriptor_t wd;
    cudnnConvolutionDescriptor_t cd;
    char version[32];
    plan plans[PLAN_CAP];
    int n_plans, next_evict;
};

static bool same_shape(const vc_cudnn_shape *a, const vc_cudnn_shape *b)
{
    return a->n == b->n && a->ci == b->ci && a->h == b->h && a->w == b->w && a->co == b->co && a->kh == b->kh &&
           a->kw == b->kw && a->stride == b->stride && a->pad_h == b->pad_h && a->pad_w == b->pad_w &&
           a->half == b->half;
}

void vc_cudnn_close(vc_cudnn *c)
{
    if (!c) return;
    if (c->cd) c->cudnnDestroyConvolutionDescriptor(c->cd);
    if (c->wd) c->cudnnDestroyFilterDescriptor(c->wd);
    if (c->yd) c->cudnnDestroyTensorDescriptor(c->yd);
    if (c->xd) c->cudnnDestroyTensorDescriptor(c->xd);
    if (c->handle) c->cudnnDestroy(c->handle);
    if (c->lib) dlclose(c->lib);
    free(c);
}

vc_cudnn *vc_cudnn_open(cudaStream_t stream, char *why, size_t cap)
{
    const char *name = getenv("VIDEOCRAFTER_CUDNN");
    if (name && !strcmp(name, "off")) {
        snprintf(why, cap, "off (VIDEOCRAFTER_CUDNN=off)");
        return NULL;
    }
    if (!name || !*name) name = "libcudnn.so.9";
    vc_cudnn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    c->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!c->lib) {
        const char *e = dlerror();
        snprintf(why, cap, "cannot load %s: %s", name, e ? e : "unknown error");
        free(c);
        return NULL;
    }
#define X(f)                                                              \
    if (!(*(void **)&c->f = dlsym(c->lib, #f))) {                         \
        snprintf(why, cap, "%s has no %s", name, #f);                     \
        dlclose(c->lib);                                                  \
        free(c);                                                          \
        return NULL;                                                      \
    }
    CUDNN_FUNCS(X)
#undef X
    size_t v = c->cudnnGetVersion();
    if (v / 10000 != CUDNN_MAJOR) { /* the structs and enums of cudnn.h are major-version ABI */
        snprintf(why, cap, "%s is version %zu, this build needs %d.x", name, v, CUDNN_MAJOR);
        dlclose(c->lib);
        free(c);
        return NULL;
    }
    snprintf(c->version, sizeof c->version, "%zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
    c->stream = stream;
    return c;
}

/* the handle and descriptors, made once, at the first plan */
static bool ready(vc_cudnn *c)
{
    if (c->init_tried) return !c->failure[0];
    c->init_tried = true;
    cudnnStatus_t st = c->cudnnCreate(&c->handle);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnSetStream(c->handle, c->stream);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnCreateTensorDescriptor(&c->xd);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnCreateTensorDescriptor(&c->yd);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnCreateFilterDescriptor(&c->wd);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnCreateConvolutionDescriptor(&c->cd);
    if (st != CUDNN_STATUS_SUCCESS)
        snprintf(c->failure, sizeof c->failure, "cuDNN %s does not initialise: %s", c->version,
                 c->cudnnGetErrorString(st));
    return st == CUDNN_STATUS_SUCCESS;
}

const char *vc_cudnn_failure(const vc_cudnn *c) { return c->failure[0] ? c->failure : NULL; }

const char *vc_cudnn_version(const vc_cudnn *c) { return c->version; }

static cudnnStatus_t set_descriptors(vc_cudnn *c, const vc_cudnn_shape *s)
{
    const cudnnDataType_t dt = s->half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
    const int oh = (s->h + 2 * s->pad_h - s->kh) / s->stride + 1, ow = (s->w + 2 * s->pad_w - s->kw) / s->stride + 1;
    cudnnStatus_t st = c->cudnnSetTensor4dDescriptor(c->xd, CUDNN_TENSOR_NCHW, dt, s->n, s->ci, s->h, s->w);
    if (st == CUDNN_STATUS_SUCCESS) st = c->cudnnSetTensor4dDescriptor(c->yd, CUDNN_TENSOR_NCHW, dt, s->n, s->co, oh, ow);
    if (st == CUDNN_STATUS_SUCCESS)
        st = c->cudnnSetFilter4dDescriptor(c->wd, dt, CUDNN_TENSOR_NCHW, s->co, s->ci, s->kh, s->kw);
    /* float32 accumulation in both modes (cuDNN's PSEUDO_HALF configuration for half data) */
    if (st == CUDNN_STATUS_SUCCESS)
        st = c->cudnnSetConvolution2dDescriptor(c->cd, s->pad_h, s->pad_w, s->stride, s->stride, 1, 1,
                                                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    /* float32 data: plain FMA maths, no TF32 (spec "Conventions") */
    if (st == CUDNN_STATUS_SUCCESS)
        st = c->cudnnSetConvolutionMathType(c->cd, s->half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
    return st;
}

static bool gemm_family(cudnnConvolutionFwdAlgo_t a)
{
    return a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM || a == CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_PRECOMP_GEMM ||
           a == CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
}

static void choose(vc_cudnn *c, plan *p)
{
    p->ok = false;
    if (set_descriptors(c, &p->shape) != CUDNN_STATUS_SUCCESS) return;
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    if (c->cudnnGetConvolutionForwardAlgorithm_v7(c->handle, c->xd, c->wd, c->cd, c->yd,
                                                  CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got, perf) != CUDNN_STATUS_SUCCESS)
        return;
    for (int i = 0; i < got && i < CUDNN_CONVOLUTION_FWD_ALGO_COUNT; i++) { /* best first */
        if (perf[i].status != CUDNN_STATUS_SUCCESS || !gemm_family(perf[i].algo)) continue;
        if (!p->shape.half && perf[i].mathType == CUDNN_TENSOR_OP_MATH) continue;
        size_t ws = 0;
        if (c->cudnnGetConvolutionForwardWorkspaceSize(c->handle, c->xd, c->wd, c->cd, c->yd, perf[i].algo, &ws) !=
                CUDNN_STATUS_SUCCESS ||
            ws > p->ws_cap)
            continue;
        p->ok = true;
        p->algo = perf[i].algo;
        p->ws_bytes = ws;
        return;
    }
}

static plan *find_plan(vc_cudnn *c, const vc_cudnn_shape *s, size_t ws_cap)
{
    for (int i = 0; i < c->n_plans; i++)
        if (same_shape(&c->plans[i].shape, s) && c->plans[i].ws_cap == ws_cap) return &c->plans[i];
    plan *p = c->n_plans < PLAN_CAP ? &c->plans[c->n_plans++] : &c->plans[c->next_evict++ % PLAN_CAP];
    memset(p, 0, sizeof *p);
    p->shape = *s;
    p->ws_cap = ws_cap;
    choose(c, p);
    return p;
}

bool vc_cudnn_plan(vc_cudnn *c, const vc_cudnn_shape *s, size_t ws_cap, size_t *ws_bytes)
{
    *ws_bytes = 0;
    if (!ready(c)) return false;
    plan *p = find_plan(c, s, ws_cap);
    *ws_bytes = p->ok ? p->ws_bytes : 0;
    return p->ok;
}

const char *vc_cudnn_forward(vc_cudnn *c, const vc_cudnn_shape *s, const void *x, const void *w, float beta, void *y,
                             void *ws, size_t ws_bytes)
{
    const plan *p = NULL;
    for (int i = 0; i < c->n_plans && !p; i++)
        if (same_shape(&c->plans[i].shape, s) && c->plans[i].ok) p = &c->plans[i];
    if (!p) return "no cuDNN plan for this convolution";
    if (ws_bytes < p->ws_bytes) return "cuDNN workspace too small";
    cudnnStatus_t st = set_descriptors(c, s);
    const float alpha = 1.0f;
    if (st == CUDNN_STATUS_SUCCESS)
        st = c->cudnnConvolutionForward(c->handle, &alpha, c->xd, x, c->wd, w, c->cd, p->algo, ws, ws_bytes, &beta,
                                        c->yd, y);
    return st == CUDNN_STATUS_SUCCESS ? NULL : c->cudnnGetErrorString(st);
}

void vc_cudnn_reject(vc_cudnn *c, const vc_cudnn_shape *s)
{
    for (int i = 0; i < c->n_plans; i++)
        if (same_shape(&c->plans[i].shape, s)) c->plans[i].ok = false;
}
