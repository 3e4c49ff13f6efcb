/* profile.h - the CUDA backend's GPU time per op (VIDEOCRAFTER_CUDA_PROFILE=1,
 * docs/cuda.md "Profiling"). */
#ifndef VC_CUDA_PROFILE_H
#define VC_CUDA_PROFILE_H

#include <cuda_runtime_api.h>

typedef struct vc_cuda_prof vc_cuda_prof;

vc_cuda_prof *vc_cuda_prof_new(void); /* NULL: out of memory or no events */
void vc_cuda_prof_free(vc_cuda_prof *p);
/* from now on the stream's time is charged to what (a string that outlives p) */
void vc_cuda_prof_mark(vc_cuda_prof *p, cudaStream_t s, const char *what);
/* the totals so far, largest first, to stderr */
void vc_cuda_prof_report(vc_cuda_prof *p);

#endif
