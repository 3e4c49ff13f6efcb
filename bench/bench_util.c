/* bench_util.c - timing, result table, JSON output and baseline comparison. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

typedef struct row {
    char name[96];
    double seconds, gflop, gbytes, rss_mib;
} row;

static struct {
    const char *program, *out, *baseline, *filter;
    int32_t threads;
    bool quick, strict, cpu_time;
    row rows[256];
    int n;
    double peak;
    vc_context *ctx;
} B;

static double now(void)
{
    struct timespec ts;
    if (B.cpu_time) {
        /* process CPU time per thread: a stand-in for wall time on a machine
         * that other jobs keep busy (counts OpenBLAS's spinning as work) */
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec) / (B.threads > 0 ? B.threads : 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void bench_init(int argc, char **argv, const char *program)
{
    B.program = program;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) B.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) B.out = argv[++i];
        else if (!strcmp(argv[i], "--baseline") && i + 1 < argc) B.baseline = argv[++i];
        else if (!strcmp(argv[i], "--filter") && i + 1 < argc) B.filter = argv[++i];
        else if (!strcmp(argv[i], "--quick")) B.quick = true;
        else if (!strcmp(argv[i], "--cpu-time")) B.cpu_time = true;
        else if (!strcmp(argv[i], "--strict")) B.strict = true;
        else {
            fprintf(stderr, "usage: %s [--threads N] [--out FILE] [--baseline FILE] [--quick] [--strict] [--filter TEXT] [--cpu-time]\n", argv[0]);
            exit(2);
        }
    }
    if (B.threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        B.threads = n > 0 ? (int32_t)n : 1;
    }
}

int32_t bench_threads(void) { return B.threads; }
bool bench_quick(void) { return B.quick; }
bool bench_want(const char *name) { return !B.filter || strstr(name, B.filter) != NULL; }

vc_context *bench_context(void)
{
    if (B.ctx) return B.ctx;
    vc_context_params p;
    vc_context_default_params(&p);
    p.n_threads = B.threads;
    p.backend = getenv("VC_BENCH_BACKEND"); /* NULL: cpu; bench_model --backend sets it */
    if (vc_context_create(&p, &B.ctx) != VC_STATUS_OK) {
        fprintf(stderr, "%s: cannot create a context: %s\n", B.program, vc_last_error());
        exit(1);
    }
    return B.ctx;
}

double bench_time(void (*fn)(void *arg), void *arg, int reps)
{
    if (B.quick && reps > 2) reps = 2;
    fn(arg); /* warm-up: page faults, OpenBLAS buffers */
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        fn(arg);
        double t = now() - t0;
        if (t < best) best = t;
    }
    return best;
}

/* sgemm shapes of one UNet forward at 320x512 (spec §10.1): 3x3 convs as GEMMs
 * (co x P x 9ci) at ds 1..8, and the linears (tokens x out x in). */
typedef struct gemm_shape {
    const char *what;
    int m, n, k;
    bool trans_b;
} gemm_shape;
static const gemm_shape g_shapes[] = {
    {"conv3x3 ds1 320ch (320x2560x2880)", 320, 2560, 2880, false},
    {"conv3x3 ds2 640ch (640x640x5760)", 640, 640, 5760, false},
    {"conv3x3 ds4 1280ch (1280x160x11520)", 1280, 160, 11520, false},
    {"linear ds1 320->320 (40960x320x320)", 40960, 320, 320, true},
    {"linear ds1 ff 320->2560 (40960x2560x320)", 40960, 2560, 320, true},
    {"linear ds2 640->640 (10240x640x640)", 10240, 640, 640, true},
    {"linear ds4 1280->1280 (2560x1280x1280)", 2560, 1280, 1280, true},
};

typedef struct gemm_run {
    const gemm_shape *s;
    float *a, *b, *c;
} gemm_run;

static void gemm_fn(void *arg)
{
    gemm_run *g = arg;
    const gemm_shape *s = g->s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, s->trans_b ? CblasTrans : CblasNoTrans, s->m, s->n, s->k, 1.0f, g->a,
                s->k, g->b, s->trans_b ? s->k : s->n, 0.0f, g->c, s->n);
}

double bench_peak(void)
{
    if (B.peak > 0) return B.peak;
    openblas_set_num_threads(B.threads);
    for (size_t i = 0; i < sizeof g_shapes / sizeof g_shapes[0]; i++) {
        const gemm_shape *s = &g_shapes[i];
        gemm_run g = {s, malloc(sizeof(float) * (size_t)s->m * s->k), malloc(sizeof(float) * (size_t)s->k * s->n),
                      malloc(sizeof(float) * (size_t)s->m * s->n)};
        if (!g.a || !g.b || !g.c) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
        for (size_t k = 0; k < (size_t)s->m * s->k; k++) g.a[k] = (float)(k % 17) * 0.01f;
        for (size_t k = 0; k < (size_t)s->k * s->n; k++) g.b[k] = (float)(k % 13) * 0.01f;
        double t = bench_time(gemm_fn, &g, 3);
        double gf = 2.0 * s->m * s->n * (double)s->k * 1e-9;
        char name[96];
        snprintf(name, sizeof name, "sgemm %s", s->what);
        if (bench_want(name)) bench_add(name, t, gf, 0); /* measured either way: it is the peak */
        if (gf / t > B.peak) B.peak = gf / t;
        free(g.a), free(g.b), free(g.c);
    }
    return B.peak;
}

void bench_add(const char *name, double seconds, double gflop, double gbytes)
{
    if (B.n >= (int)(sizeof B.rows / sizeof B.rows[0])) return;
    row *r = &B.rows[B.n++];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->seconds = seconds, r->gflop = gflop, r->gbytes = gbytes;
}

void bench_set_rss(double mib)
{
    if (B.n > 0) B.rows[B.n - 1].rss_mib = mib;
}

void bench_rss_reset(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w"); /* "5": reset the peak resident size (Linux >= 4.0) */
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

double bench_rss_hwm_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %lf kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb > 0 ? kb / 1024.0 : bench_peak_rss_mib();
}

double bench_peak_rss_mib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Reads "name": "...", "seconds": x pairs back from a file this harness wrote. */
static double baseline_seconds(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\"name\": \"%s\"", name);
    const char *p = strstr(text, key);
    if (!p) return 0;
    p = strstr(p, "\"seconds\": ");
    return p ? atof(p + 11) : 0;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *t = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (t && fread(t, 1, (size_t)n, f) != (size_t)n) {
        free(t);
        t = NULL;
    }
    if (t) t[n] = 0;
    fclose(f);
    return t;
}

int bench_finish(void)
{
    char *base = B.baseline ? read_text(B.baseline) : NULL;
    struct utsname un;
    uname(&un);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    printf("\n%s: %d threads on %ld cores (%s %s), sgemm peak %.1f GFLOP/s%s\n", B.program, B.threads, cores,
           un.sysname, un.machine, B.peak, B.cpu_time ? ", times are CPU time / threads" : "");
    printf("%-58s %10s %9s %7s %8s %9s %s\n", "benchmark", "time ms", "GFLOP/s", "%peak", "GB/s", "RSS MiB",
           base ? "vs baseline" : "");
    int regressions = 0;
    for (int i = 0; i < B.n; i++) {
        row *r = &B.rows[i];
        double gfs = r->gflop > 0 ? r->gflop / r->seconds : 0;
        printf("%-58s %10.3f ", r->name, r->seconds * 1e3);
        if (gfs > 0) printf("%9.1f %6.1f%% ", gfs, B.peak > 0 ? 100 * gfs / B.peak : 0);
        else printf("%9s %7s ", "-", "-");
        if (r->gbytes > 0) printf("%8.2f ", r->gbytes / r->seconds);
        else printf("%8s ", "-");
        if (r->rss_mib > 0) printf("%9.0f ", r->rss_mib);
        else printf("%9s ", "-");
        double bs = base ? baseline_seconds(base, r->name) : 0;
        if (bs > 0) {
            double ratio = bs / r->seconds; /* > 1: faster than the baseline */
            printf("%5.2fx%s", ratio, ratio < 0.9 ? "  REGRESSION" : "");
            if (ratio < 0.9) regressions++;
        }
        printf("\n");
    }
    printf("peak RSS %.0f MiB\n", bench_peak_rss_mib());
    if (base) printf("baseline %s: %d row(s) more than 10%% slower\n", B.baseline, regressions);
    if (B.out) {
        FILE *f = fopen(B.out, "w");
        if (!f) {
            fprintf(stderr, "%s: cannot write %s\n", B.program, B.out);
            return 1;
        }
        fprintf(f, "{\n  \"program\": \"%s\",\n  \"threads\": %d,\n  \"cores\": %ld,\n  \"machine\": \"%s\",\n", B.program,
                B.threads, cores, un.machine);
        fprintf(f, "  \"cpu_time\": %s,\n  \"version\": \"%s\",\n  \"peak_gflops\": %.3f,\n  \"peak_rss_mib\": %.1f,\n  \"results\": [\n",
                B.cpu_time ? "true" : "false", vc_version(), B.peak, bench_peak_rss_mib());
        for (int i = 0; i < B.n; i++) {
            row *r = &B.rows[i];
            double gfs = r->gflop > 0 ? r->gflop / r->seconds : 0;
            fprintf(f,
                    "    {\"name\": \"%s\", \"seconds\": %.6f, \"gflop\": %.4f, \"gflops\": %.3f, \"frac_peak\": %.4f, "
                    "\"gbytes\": %.4f, \"rss_mib\": %.1f}%s\n",
                    r->name, r->seconds, r->gflop, gfs, B.peak > 0 ? gfs / B.peak : 0, r->gbytes, r->rss_mib,
                    i + 1 < B.n ? "," : "");
        }
        fprintf(f, "  ]\n}\n");
        fclose(f);
    }
    free(base);
    if (B.ctx) vc_context_free(B.ctx);
    return B.strict && regressions ? 1 : 0;
}
