/* cpu_pool.c - the backend's persistent thread pool and parallel_for.
 *
 * One job at a time: the caller publishes (fn, arg, n, grain), bumps a
 * generation counter and wakes the workers; everyone (caller included) takes
 * chunks from an atomic counter until none are left; the caller waits for the
 * workers to report back. Chunk bounds depend on n and grain only. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "cpu_internal.h"

typedef struct cpu_worker {
    struct cpu_pool *pool;
    int32_t tid;
} cpu_worker;

struct cpu_pool {
    int32_t n;                  /* threads including the caller */
    int32_t started;            /* workers actually running */
    pthread_t *threads;
    cpu_worker *workers;
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
    uint64_t gen;
    bool stop;
    int32_t busy;               /* workers not yet done with the current job */
    /* the current job */
    cpu_task_fn fn;
    void *arg;
    int64_t n_items, grain;
    atomic_int_fast64_t next;
};

static void run_chunks(cpu_pool *p, int32_t tid)
{
    for (;;) {
        int64_t b = atomic_fetch_add_explicit(&p->next, p->grain, memory_order_relaxed);
        if (b >= p->n_items) break;
        int64_t e = b + p->grain < p->n_items ? b + p->grain : p->n_items;
        p->fn(p->arg, b, e, tid);
    }
}

static void *worker_main(void *arg)
{
    cpu_worker *w = arg;
    cpu_pool *p = w->pool;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->cv_start, &p->mu);
        if (p->stop) break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p, w->tid);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0) pthread_cond_signal(&p->cv_done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

cpu_pool *cpu_pool_create(int32_t n_threads)
{
    cpu_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads < 1 ? 1 : n_threads;
    atomic_init(&p->next, 0);
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        return NULL;
    }
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    if (p->n > 1) {
        p->threads = calloc((size_t)p->n, sizeof *p->threads);
        p->workers = calloc((size_t)p->n, sizeof *p->workers);
        if (!p->threads || !p->workers) goto fail;
        for (int32_t t = 1; t < p->n; t++) {
            p->workers[t].pool = p;
            p->workers[t].tid = t;
            if (pthread_create(&p->threads[t], NULL, worker_main, &p->workers[t]) != 0) goto fail;
            p->started++;
        }
    }
    return p;
fail:
    cpu_pool_destroy(p);
    return NULL;
}

void cpu_pool_destroy(cpu_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    for (int32_t t = 1; t <= p->started; t++) pthread_join(p->threads[t], NULL);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->workers);
    free(p);
}

void cpu_parallel_for(vc_backend *be, int64_t n, int64_t grain, cpu_task_fn fn, void *arg)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    cpu_pool *p = cpu_of(be)->pool;
    if (p->n == 1 || n <= grain) {
        for (int64_t b = 0; b < n; b += grain) fn(arg, b, b + grain < n ? b + grain : n, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->n_items = n;
    p->grain = grain;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    p->busy = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    run_chunks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
