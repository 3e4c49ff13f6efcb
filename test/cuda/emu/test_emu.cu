// test_emu.cu - the CUDA emulation's own checks (make check-cuda-emu): each
// hazard the emulator is there to reveal, planted in a small kernel, must be
// revealed -- a detector that cannot fire would let a broken kernel pass the
// backend's checks. Built only against the emulation (cu2cpp.py, emu.o);
// cases that end the process run in a child.
#include <cuda_pipeline.h>
#include <cuda_runtime.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void expect(bool ok, const char *what)
{
    printf("  %-72s %s\n", what, ok ? "ok" : "FAIL");
    fflush(stdout);
    if (!ok) failures++;
}

// --------------------------------------------------------------- kernels

// each thread copies 16 bytes with cp.async; wait: whether it waits before reading
__global__ void async_copy_k(const float *src, float *dst, int wait)
{
    __shared__ uint4 tile4[32]; // 16-byte aligned
    float *tile = (float *)tile4;
    const int t = threadIdx.x;
    __pipeline_memcpy_async(&tile[4 * t], &src[4 * t], 16);
    __pipeline_commit();
    if (wait) __pipeline_wait_prior(0);
    dst[t] = tile[4 * t];
    if (!wait) __pipeline_wait_prior(0); // (so that no copy is left in flight at exit)
}

// copies issued and never waited for
__global__ void async_leak_k(const float *src)
{
    __shared__ uint4 tile4[32];
    float *tile = (float *)tile4;
    __pipeline_memcpy_async(&tile[4 * threadIdx.x], &src[4 * threadIdx.x], 16);
    __pipeline_commit();
}

// thread t reads what thread t + 1 wrote (barrier: whether they synchronise)
__global__ void neighbour_k(int *out, int barrier)
{
    __shared__ int v[64];
    const int t = threadIdx.x;
    v[t] = t + 1;
    if (barrier) __syncthreads();
    out[t] = v[(t + 1) % blockDim.x];
}

struct out_args { // pointers inside a struct passed by value, as vck_attn's
    int n;
    float v;
    float *out;
};

__global__ void struct_arg_k(out_args a)
{
    if ((int)threadIdx.x < a.n) a.out[threadIdx.x] = a.v;
}

__global__ void smem_k(float *out)
{
    extern __shared__ float dyn[];
    dyn[threadIdx.x] = 1.0f;
    out[threadIdx.x] = dyn[threadIdx.x];
}

__global__ void read_past_k(const float *x, float *out, int n)
{
    out[0] = x[n + 64]; // 256 bytes past the end
}

// lanes 0..15 shuffle while 16..31 wait at a block barrier
__global__ void deadlock_k(float *out)
{
    float v = (float)threadIdx.x;
    if (threadIdx.x < 16) v += __shfl_xor_sync(0xffffffffu, v, 1);
    __syncthreads();
    out[threadIdx.x] = v;
}

// lane 31 exits, then the others shuffle
__global__ void exited_lane_k(float *out)
{
    if (threadIdx.x == 31) return;
    out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, (float)threadIdx.x, 1);
}

__global__ void misaligned_k(const unsigned char *src, uint4 *out)
{
    out[0] = *(const uint4 *)(src + 4); // a GPU faults: misaligned address
}

// --------------------------------------------------------------- helpers

static float *device_floats(int n, float v)
{
    float *h = (float *)malloc(sizeof(float) * n), *d = nullptr;
    for (int i = 0; i < n; i++) h[i] = v + (float)i;
    if (cudaMalloc((void **)&d, sizeof(float) * n) != cudaSuccess) abort();
    cudaMemcpyAsync(d, h, sizeof(float) * n, cudaMemcpyHostToDevice, nullptr);
    free(h);
    return d;
}

static void download(void *h, const void *d, size_t bytes)
{
    if (cudaMemcpyAsync(h, d, bytes, cudaMemcpyDeviceToHost, nullptr) != cudaSuccess) abort();
}

// runs f in a child: true when the child ends by a signal or a failing exit
// status and its stderr holds `why` (the emulator's explanation of the fault)
static bool child_dies(void (*f)(), const char *why)
{
    int fd[2];
    if (pipe(fd) != 0) return false;
    fflush(stdout);
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        dup2(fd[1], 2);
        f();
        _exit(0);
    }
    close(fd[1]);
    char err[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd[0], err + got, sizeof err - 1 - got)) > 0) got += (size_t)r;
    err[got] = 0;
    close(fd[0]);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return false;
    const bool died = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
    if (getenv("TEST_EMU_VERBOSE")) fputs(err, stderr);
    return died && strstr(err, why);
}

// --------------------------------------------------------------- cases

static void check_async_copies()
{
    float *src = device_floats(128, 1.0f), *dst = device_floats(32, 0.0f);
    float h[32];
    async_copy_k<<<1, 32>>>(src, dst, 1);
    bool ok = cudaGetLastError() == cudaSuccess;
    download(h, dst, sizeof h);
    for (int t = 0; t < 32; t++) ok = ok && h[t] == 1.0f + 4 * t;
    expect(ok, "cp.async read after its wait: the copied values");
    async_copy_k<<<1, 32>>>(src, dst, 0);
    ok = cudaGetLastError() == cudaSuccess;
    download(h, dst, sizeof h);
    for (int t = 0; t < 32; t++) ok = ok && isnan(h[t]);
    expect(ok, "cp.async read before its wait: NaN, not the copied values");
    async_leak_k<<<1, 32>>>(src);
    expect(cudaGetLastError() == cudaErrorLaunchFailure, "copies left in flight at exit: a launch failure");
    cudaFree(src);
    cudaFree(dst);
}

static void check_schedule_orders()
{
    int *out = nullptr, h[64];
    if (cudaMalloc((void **)&out, sizeof h) != cudaSuccess) abort();
    bool stale[2] = {false, false}, synced = true;
    for (int rev = 0; rev < 2; rev++) {
        vcemu::set_reverse_order(rev != 0);
        for (int barrier = 0; barrier < 2; barrier++) {
            neighbour_k<<<1, 64>>>(out, barrier);
            download(h, out, sizeof h);
            bool right = true;
            for (int t = 0; t < 64; t++) right = right && h[t] == (t + 1) % 64 + 1;
            if (barrier) synced = synced && right;
            else stale[rev] = !right;
        }
    }
    vcemu::set_reverse_order(false);
    expect(synced, "with a barrier, either order reads the neighbour's value");
    expect(stale[0] || stale[1], "without it, one of the two orders reads stale shared memory");
    cudaFree(out);
}

static void check_shared_memory_limits()
{
    float *out = device_floats(64, 0.0f);
    smem_k<<<1, 64, 64 << 10>>>(out);
    expect(cudaGetLastError() == cudaErrorInvalidValue, "64 KiB of dynamic shared memory without the attribute: refused");
    expect(cudaFuncSetAttribute(smem_k, cudaFuncAttributeMaxDynamicSharedMemorySize, 64 << 10) == cudaSuccess,
           "the attribute at 64 KiB: accepted");
    smem_k<<<1, 64, 64 << 10>>>(out);
    expect(cudaGetLastError() == cudaSuccess, "then the launch runs");
    expect(cudaFuncSetAttribute(smem_k, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 << 10) != cudaSuccess,
           "an attribute of 200 KiB (over sm_80's 163 KiB): refused");
    cudaFree(out);
}

static void check_host_pointer_argument()
{
    float host[64];
    smem_k<<<1, 64, 256>>>(host);
    expect(cudaGetLastError() == cudaErrorInvalidValue, "a host array as a kernel argument: the launch fails");
    float *dev = device_floats(64, 0.0f);
    out_args a = {64, 0.5f, dev};
    struct_arg_k<<<1, 64>>>(a);
    expect(cudaGetLastError() == cudaSuccess, "a struct holding device memory as a kernel argument: the launch runs");
    a.out = host;
    struct_arg_k<<<1, 64>>>(a);
    expect(cudaGetLastError() == cudaErrorInvalidValue,
           "a struct holding a host array (as vck_attn holds q): the launch fails");
    cudaFree(dev);
}

static void check_warp_collectives()
{
    float *out = device_floats(32, 0.0f);
    exited_lane_k<<<1, 32>>>(out);
    expect(cudaGetLastError() == cudaErrorLaunchFailure, "a shuffle after a lane exited: a launch failure");
    cudaFree(out);
}

static void host_touches_device()
{
    float *d = device_floats(16, 0.0f);
    volatile float *p = d;
    p[0] = 1.0f;
}

static void kernel_reads_past_end()
{
    float *x = device_floats(1024, 0.0f), *out = device_floats(1, 0.0f);
    read_past_k<<<1, 1>>>(x, out, 1024);
}

static void kernel_deadlocks()
{
    float *out = device_floats(32, 0.0f);
    deadlock_k<<<1, 32>>>(out);
}

static void kernel_misaligned()
{
    unsigned char *src = nullptr;
    uint4 *out = nullptr;
    if (cudaMalloc((void **)&src, 64) != cudaSuccess || cudaMalloc((void **)&out, 16) != cudaSuccess) abort();
    misaligned_k<<<1, 1>>>(src, out);
}

static void control_case()
{
    float *d = device_floats(16, 0.0f), h[16];
    download(h, d, sizeof h);
    cudaFree(d);
}

int main()
{
    printf("CUDA emulation self-test\n");
    check_async_copies();
    check_schedule_orders();
    check_shared_memory_limits();
    check_host_pointer_argument();
    check_warp_collectives();
    expect(!child_dies(control_case, ""), "(control) a child that does everything right exits cleanly");
    expect(child_dies(host_touches_device, "host code touched emulated device memory"),
           "host code writing device memory: the process faults, saying so");
    expect(child_dies(kernel_reads_past_end, "outside every live allocation"),
           "a kernel reading 256 bytes past an allocation: it faults, saying so");
    expect(child_dies(kernel_deadlocks, "kernel deadlock"),
           "a shuffle in divergent code before a block barrier: deadlock reported");
    expect(child_dies(kernel_misaligned, "misaligned address"),
           "a misaligned 16-byte load in a kernel: the alignment check stops it");
    if (failures) {
        printf("FAILED: %d emulator check(s)\n", failures);
        return 1;
    }
    printf("all emulator checks passed\n");
    return 0;
}
