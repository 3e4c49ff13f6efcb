/* bench.h - shared harness of the bench programs (bench/bench_*.c).
 *
 * A program calls bench_init(), creates its context with bench_threads(),
 * measures with bench_time(), records each row with bench_add() and ends with
 * bench_finish(), which prints the table, writes the JSON given by --out and
 * compares with the JSON given by --baseline (same format; a row more than
 * 10% slower than its baseline is reported as a regression, and the exit
 * status is 0 either way unless --strict).
 *
 * Options: --threads N (0 = all cores), --out FILE, --baseline FILE,
 * --quick (fewer repetitions), --strict, --filter TEXT (only rows whose name
 * contains TEXT; programs ask bench_want(name) before measuring), --cpu-time
 * (time = process CPU time / threads, for a machine shared with other jobs).
 *
 * FLOPs are counted as 2 per multiply-add (spec §10). "peak" is the best
 * OpenBLAS sgemm rate at the UNet's GEMM sizes, measured by bench_peak() in the
 * same process, same thread count. */
#ifndef VC_BENCH_H
#define VC_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include "videocrafter.h"

void bench_init(int argc, char **argv, const char *program);
int32_t bench_threads(void);          /* resolved thread count */
bool bench_quick(void);
/* False when --filter excludes this row name. */
bool bench_want(const char *name);
/* Context on the CPU backend with bench_threads() threads. */
/* The shared context: CPU, or the backend named by VC_BENCH_BACKEND. */
vc_context *bench_context(void);
/* Best-of-reps wall time of fn(arg), after one warm-up call. */
double bench_time(void (*fn)(void *arg), void *arg, int reps);
/* Measures (once per process) and returns the sgemm peak in GFLOP/s. */
double bench_peak(void);
/* A result row: gflop may be 0 (then only time and, if gbytes > 0, GB/s). */
void bench_add(const char *name, double seconds, double gflop, double gbytes);
/* Peak resident memory of the last row (MiB), shown in the table and JSON. */
void bench_set_rss(double mib);
/* Resets the kernel's peak-resident mark, so bench_rss_hwm_mib() measures
 * from here (Linux /proc/self/clear_refs; no-op elsewhere). */
void bench_rss_reset(void);
double bench_rss_hwm_mib(void);
/* Peak resident set size of the process so far, in MiB. */
double bench_peak_rss_mib(void);
/* Table + JSON + baseline comparison; returns the exit status. */
int bench_finish(void);

#endif
