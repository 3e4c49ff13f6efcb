/* profile.c - GPU time per op of the CUDA backend (VIDEOCRAFTER_CUDA_PROFILE=1).
 * An event is recorded on the stream as each op (or a named part of one)
 * starts; the interval up to the next event is charged to it, so a GPU waiting
 * on the host charges the wait to the op before. Events are read back in
 * windows of PROF_EVENTS, so the profile costs one host wait per window. */
#include "profile.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROF_EVENTS 512
#define PROF_NAMES 48
struct vc_cuda_prof {
    cudaEvent_t ev[PROF_EVENTS];
    const char *what[PROF_EVENTS];
    int n;
    const char *name[PROF_NAMES];
    double ms[PROF_NAMES];
    int64_t calls[PROF_NAMES];
    int n_names;
};

static void charge(vc_cuda_prof *p, const char *what, double ms)
{
    int i = 0;
    while (i < p->n_names && strcmp(p->name[i], what)) i++;
    if (i == p->n_names) {
        if (p->n_names == PROF_NAMES) return;
        p->name[p->n_names++] = what;
    }
    p->ms[i] += ms;
    p->calls[i]++;
}

/* charges every closed interval; the last event opens the next window */
static void flush(vc_cuda_prof *p)
{
    if (p->n < 2) return;
    if (cudaEventSynchronize(p->ev[p->n - 1]) != cudaSuccess) {
        cudaGetLastError();
        p->n = 0;
        return;
    }
    for (int i = 0; i + 1 < p->n; i++) {
        float ms = 0;
        if (p->what[i] && cudaEventElapsedTime(&ms, p->ev[i], p->ev[i + 1]) == cudaSuccess)
            charge(p, p->what[i], ms);
    }
    cudaEvent_t last = p->ev[p->n - 1];
    p->ev[p->n - 1] = p->ev[0];
    p->ev[0] = last;
    p->what[0] = p->what[p->n - 1];
    p->n = 1;
}

void vc_cuda_prof_mark(vc_cuda_prof *p, cudaStream_t s, const char *what)
{
    if (p->n == PROF_EVENTS) flush(p);
    if (cudaEventRecord(p->ev[p->n], s) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    p->what[p->n++] = what;
}

void vc_cuda_prof_report(vc_cuda_prof *p)
{
    flush(p);
    if (!p->n_names) return;
    double total = 0;
    for (int i = 0; i < p->n_names; i++) total += p->ms[i];
    fprintf(stderr, "videocrafter cuda profile: %.1f ms of GPU time in ops\n", total);
    for (int done = 0; done < p->n_names; done++) { /* largest first */
        int best = -1;
        for (int i = 0; i < p->n_names; i++)
            if (p->calls[i] >= 0 && (best < 0 || p->ms[i] > p->ms[best])) best = i;
        fprintf(stderr, "  %-24s %9.2f ms %5.1f%% %8lld calls\n", p->name[best], p->ms[best],
                total > 0 ? 100.0 * p->ms[best] / total : 0.0, (long long)p->calls[best]);
        p->calls[best] = -1;
    }
}


vc_cuda_prof *vc_cuda_prof_new(void)
{
    vc_cuda_prof *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    for (int i = 0; i < PROF_EVENTS; i++)
        if (cudaEventCreate(&p->ev[i]) != cudaSuccess) {
            cudaGetLastError();
            for (int j = 0; j < i; j++) cudaEventDestroy(p->ev[j]);
            free(p);
            return NULL;
        }
    return p;
}

void vc_cuda_prof_free(vc_cuda_prof *p)
{
    if (!p) return;
    for (int i = 0; i < PROF_EVENTS; i++) cudaEventDestroy(p->ev[i]);
    free(p);
}
