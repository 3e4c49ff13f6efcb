/* rng.c - Philox4x32-10 (Salmon et al., SC'11) with Box-Muller; the exact
 * mapping from (seed, stream, index) to a float is documented in docs/rng.md. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void vc_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0, p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

/* The four normals of block `blk` (elements 4*blk .. 4*blk+3). */
static void block_normals(uint64_t seed, uint64_t stream, uint64_t blk, float z[4])
{
    const uint32_t ctr[4] = {(uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)stream, (uint32_t)(stream >> 32)};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t w[4];
    vc_philox4x32_10(ctr, key, w);
    const double two_pi = 6.283185307179586476925286766559;
    for (int p = 0; p < 2; p++) {
        double u1 = ((double)w[2 * p] + 0.5) * 0x1p-32;     /* in (0, 1): log never sees 0 */
        double u2 = ((double)w[2 * p + 1] + 0.5) * 0x1p-32;
        double r = sqrt(-2.0 * log(u1)), th = two_pi * u2;
        z[2 * p] = (float)(r * cos(th));
        z[2 * p + 1] = (float)(r * sin(th));
    }
}

float vc_rng_normal_at(uint64_t seed, uint64_t stream, uint64_t i)
{
    float z[4];
    block_normals(seed, stream, i >> 2, z);
    return z[i & 3];
}

typedef struct fill_job {
    uint64_t seed, stream, first;
    int64_t begin, end; /* output indices */
    float *out;
} fill_job;

static void fill_range(const fill_job *j)
{
    int64_t o = j->begin;
    while (o < j->end) {
        uint64_t e = j->first + (uint64_t)o, blk = e >> 2;
        float z[4];
        block_normals(j->seed, j->stream, blk, z);
        for (uint64_t q = e & 3; q < 4 && o < j->end; q++, o++) j->out[o] = z[q];
    }
}

static void *fill_thread(void *arg)
{
    fill_range(arg);
    return NULL;
}

void vc_rng_normal_fill(uint64_t seed, uint64_t stream, uint64_t first, int64_t n, float *out, int32_t n_threads)
{
    if (n <= 0) return;
    int32_t nt = n_threads < 1 ? 1 : n_threads > 64 ? 64 : n_threads;
    if (n < 65536) nt = 1;
    fill_job jobs[64];
    pthread_t th[64];
    bool started[64] = {false};
    for (int32_t t = 0; t < nt; t++) {
        jobs[t] = (fill_job){seed, stream, first, n * t / nt, n * (t + 1) / nt, out};
        if (t > 0) started[t] = pthread_create(&th[t], NULL, fill_thread, &jobs[t]) == 0;
    }
    fill_range(&jobs[0]);
    for (int32_t t = 1; t < nt; t++) {
        if (started[t]) pthread_join(th[t], NULL);
        else fill_range(&jobs[t]); /* could not start a thread: do it here */
    }
}
