// emu.cc - CPU emulation of the CUDA runtime, cuBLAS and kernel execution used
// by the CUDA backend, so that libvideocrafter-cuda's own code (kernels/*.cu and
// lib/backend/cuda/) is tested by make check on machines without a GPU. A test
// double only: nothing here ships.
//
// Kernels: a block's threads are fibers with their own stacks, switched by a
// small assembly routine at barriers; the scheduler resumes them round-robin
// until every one has finished. VCEMU_SCHEDULE=reverse runs blocks, threads
// and a warp's lanes in the opposite order: a barrier missing between two
// threads shows in one of the two orders, as a stale read. cp.async copies
// (cuda_pipeline.h) land only at the wait that covers their group; until then
// their destination holds NaN bytes. Device memory comes from one reserved
// range, each block right-aligned against a guard page, inaccessible outside
// the emulated device's own work (docs/cuda.md lists the hazards). cuBLAS
// GEMMs run on OpenBLAS; 16F operands (and the FAST_16F compute type) round
// their inputs to half first, as tensor cores see them.
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <atomic>
#include <iterator>
#include <map>
#include <mutex>
#include <vector>

#include "include/cublasLt.h"
#include "include/vcemu_kernel.h"

extern "C" void vcemu_switch(void **save_sp, void *load_sp);
asm(R"(
    .text
    .globl vcemu_switch
    .type vcemu_switch, @function
vcemu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size vcemu_switch, .-vcemu_switch
    .section .note.GNU-stack,"",@progbits
    .text
)");

static thread_local cudaError_t g_last = cudaSuccess;

// the emulated device's own work (kernels, copies, cuBLAS) may touch device memory; host code may not
struct device_scope {
    device_scope() { vcemu_device_enter(); }
    ~device_scope() { vcemu_device_leave(); }
    device_scope(const device_scope &) = delete;
    device_scope &operator=(const device_scope &) = delete;
};

namespace vcemu {

constexpr size_t kStack = 256 * 1024;
constexpr int kMaxThreads = 1024;

struct async_copy { // a cp.async in flight: its bytes, read at issue
    void *dst;
    unsigned group, bytes;
    unsigned char data[16];
};

struct fiber {
    void *sp = nullptr;
    std::vector<async_copy> copies; // in issue order
    unsigned groups = 0;            // groups committed so far; the open group's number
    unsigned wait = 0; // g + 1 while waiting at warp barrier generation g
    uint3 tid{};
    int lane = 0, warp = 0;
    bool done = false;
    char *stack = nullptr;
};

struct warp_state {
    int lanes = 32, alive = 32, arrived = 0;
    unsigned gen = 0;
    uint64_t slot[32];
};

struct block_run {
    std::vector<fiber> fibers;
    std::vector<warp_state> warps;
    int alive = 0, arrived = 0;
    unsigned gen = 0;
    void *sched_sp = nullptr;
    body_fn body = nullptr;
    void *arg = nullptr;
    std::vector<char> smem;
};

// One grid runs at a time in the process (g_grid_mu), so the emulator's state
// and the kernels' __shared__ arrays are plain statics: no TLS on the hot path.
fiber *current = nullptr;
block_state *block = nullptr;
static block_run *run = nullptr;
static std::vector<char *> &stacks = *new std::vector<char *>; // kept for the process's life (reachable: no leak)
static std::mutex g_grid_mu;
static const char *g_fault; // the first misuse seen in the running grid: it fails with cudaErrorLaunchFailure
static unsigned long g_arrivals; // barrier arrivals and thread exits: a sweep of the block without one is a deadlock

static int g_reverse = -1; // -1: VCEMU_SCHEDULE not read yet

static bool reverse_order()
{
    if (g_reverse < 0) {
        const char *s = getenv("VCEMU_SCHEDULE");
        g_reverse = s && !strcmp(s, "reverse");
    }
    return g_reverse;
}

void set_reverse_order(bool reverse) { g_reverse = reverse; } // between grids (test_emu)

// Shared memory at a block's start: NaN bytes, as a GPU's holds what the last
// block left there -- a read before the block's own write shows.
static std::vector<std::pair<void *, size_t>> g_static_shared;

bool register_shared(void *p, size_t bytes)
{
    g_static_shared.emplace_back(p, bytes); // under g_grid_mu: from a running kernel
    return true;
}

static void poison_shared(block_run &br)
{
    memset(br.smem.data(), 0xff, br.smem.size());
    for (const auto &a : g_static_shared) memset(a.first, 0xff, a.second);
}

const uint3 &thread_idx() { return current->tid; }
int lane_id() { return current->lane; }
void *dyn_smem() { return run->smem.data(); }

static void yield()
{
    fiber *me = current;
    vcemu_switch(&me->sp, run->sched_sp);
    current = me;
}

void sync_block()
{
    const unsigned g = run->gen;
    g_arrivals++;
    if (++run->arrived == run->alive) {
        run->arrived = 0;
        run->gen++;
        return;
    }
    while (run->gen == g) yield();
}

// Warp barriers switch straight to the next lane of the warp that has not
// arrived yet, so a barrier costs one switch a lane (shuffles are two barriers).
void sync_warp()
{
    warp_state &w = run->warps[current->warp];
    const unsigned g = w.gen;
    current->wait = g + 1;
    g_arrivals++;
    // the full-mask collectives of these kernels name every lane: one that has exited makes them undefined
    if (w.alive < w.lanes && !g_fault) g_fault = "a warp-wide collective after some of the warp's threads exited";
    if (++w.arrived == w.alive) {
        w.arrived = 0;
        w.gen++;
        return;
    }
    while (w.gen == g) {
        fiber *next = nullptr;
        const size_t base = (size_t)current->warp * 32, size = std::min<size_t>(32, run->fibers.size() - base);
        for (size_t i = 1; i <= size; i++) { // lanes arrive in order: the next one first
            const size_t step = reverse_order() ? size - i % size : i;
            fiber &f = run->fibers[base + (current->lane + step) % size];
            if (!f.done && f.wait != g + 1) {
                next = &f;
                break;
            }
        }
        if (!next) { // the lanes left are waiting at a block barrier: let the scheduler run
            yield();
            continue;
        }
        fiber *me = current;
        current = next;
        vcemu_switch(&me->sp, next->sp);
        current = me;
    }
}

uint64_t exchange(uint64_t mine, int src)
{
    warp_state &w = run->warps[current->warp];
    w.slot[current->lane] = mine;
    sync_warp();
    const uint64_t r = w.slot[src];
    sync_warp(); // nobody overwrites a slot before every lane has read
    return r;
}

const uint64_t *publish(uint64_t mine)
{
    warp_state &w = run->warps[current->warp];
    w.slot[current->lane] = mine;
    sync_warp();
    return w.slot;
}

// cp.async (cuda_pipeline.h): the source is read now, the destination written
// at the wait that covers the copy's group, NaN bytes until then. A copy of
// zfill < bytes reads only its first bytes - zfill.
void async_copy_issue(void *dst, const void *src, size_t bytes, size_t zfill)
{
    const bool size_ok = (bytes == 4 || bytes == 8 || bytes == 16) && zfill <= bytes;
    if (!size_ok || ((uintptr_t)dst | (uintptr_t)src) % bytes) {
        if (!g_fault) g_fault = "cp.async of a size other than 4, 8 or 16 bytes, or to or from an unaligned address";
        return;
    }
    async_copy c;
    c.dst = dst;
    c.group = current->groups;
    c.bytes = (unsigned)bytes;
    memcpy(c.data, src, bytes - zfill);
    memset(c.data + (bytes - zfill), 0, zfill);
    memset(dst, 0xff, bytes);
    current->copies.push_back(c);
}

void async_copy_commit() { current->groups++; }

void async_copy_wait(unsigned pending)
{
    std::vector<async_copy> &q = current->copies;
    size_t done = 0;
    for (; done < q.size() && q[done].group + pending < current->groups; done++) memcpy(q[done].dst, q[done].data, q[done].bytes);
    q.erase(q.begin(), q.begin() + (ptrdiff_t)done);
}

// A finished thread leaves its warp's and block's barriers, as exited threads do.
static void retire()
{
    fiber *f = current;
    if (!f->copies.empty() && !g_fault) g_fault = "a thread exited with cp.async copies not waited for";
    f->done = true;
    g_arrivals++;
    warp_state &w = run->warps[f->warp];
    if (w.arrived > 0 && !g_fault) g_fault = "a thread exited while others of its warp wait in a warp-wide collective";
    w.alive--;
    if (w.arrived > 0 && w.arrived == w.alive) {
        w.arrived = 0;
        w.gen++;
    }
    run->alive--;
    if (run->arrived > 0 && run->arrived == run->alive) {
        run->arrived = 0;
        run->gen++;
    }
}

static void trampoline()
{
    run->body(run->arg);
    retire();
    yield();
    abort(); // a finished fiber is never resumed
}

static void prepare(fiber &f)
{
    uintptr_t top = ((uintptr_t)(f.stack + kStack)) & ~(uintptr_t)15;
    void **sp = (void **)top;
    *--sp = nullptr;                    // alignment: entry sees rsp = 8 mod 16, as after a call
    *--sp = (void *)&trampoline;        // ret target
    for (int i = 0; i < 6; i++) *--sp = nullptr; // rbp rbx r12 r13 r14 r15
    f.sp = sp;
}

// Dynamic shared memory as on sm_80, the smaller of the two targets: 48 KiB
// unless the kernel's cudaFuncAttributeMaxDynamicSharedMemorySize allows more,
// which may go up to 163 KiB.
constexpr size_t kSmemDefault = 48 << 10, kSmemOptIn = 163 << 10;
static std::mutex g_attr_mu;
static std::map<const void *, size_t> g_smem_allowed; // kernel -> its attribute

cudaError_t set_max_dynamic_smem(const void *kernel, int bytes)
{
    if (bytes < 0 || (size_t)bytes > kSmemOptIn) return g_last = cudaErrorInvalidValue;
    std::lock_guard<std::mutex> lk(g_attr_mu);
    g_smem_allowed[kernel] = (size_t)bytes;
    return cudaSuccess;
}

static size_t smem_allowed(const void *kernel)
{
    std::lock_guard<std::mutex> lk(g_attr_mu);
    auto it = g_smem_allowed.find(kernel);
    return it == g_smem_allowed.end() ? kSmemDefault : std::max(kSmemDefault, it->second);
}

cudaError_t run_grid(const void *kernel, dim3 grid, dim3 blk, size_t smem, body_fn body, void *arg, int host_arg,
                     int host_at)
{
    if (host_arg >= 0) { // a GPU faults at the first access through it
        if (host_at < 0)
            fprintf(stderr, "vcemu: kernel argument %d is a host pointer, not device memory\n", host_arg);
        else
            fprintf(stderr, "vcemu: kernel argument %d (a struct) holds a host pointer at byte %d, not device memory\n",
                    host_arg, host_at);
        return g_last = cudaErrorInvalidValue;
    }
    device_scope scope;
    std::lock_guard<std::mutex> lk(g_grid_mu);
    const long nthreads = (long)blk.x * blk.y * blk.z;
    if (nthreads <= 0 || nthreads > kMaxThreads || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 ||
        grid.z > 65535 || blk.z > 64)
        return g_last = cudaErrorInvalidConfiguration;
    if (smem > smem_allowed(kernel)) return g_last = cudaErrorInvalidValue; // as the driver refuses the launch
    while ((long)stacks.size() < nthreads) {
        char *s = (char *)malloc(kStack);
        if (!s) return g_last = cudaErrorMemoryAllocation;
        stacks.push_back(s);
    }
    block_run br;
    br.body = body;
    br.arg = arg;
    br.smem.assign(smem + 128, 0);
    block_state bs;
    bs.dim = blk;
    bs.grid = grid;
    run = &br;
    block = &bs;
    g_fault = nullptr;
    const bool rev = reverse_order();
    const unsigned long nblocks = (unsigned long)grid.x * grid.y * grid.z;
    for (unsigned long b = 0; b < nblocks; b++) {
                const unsigned long i = rev ? nblocks - 1 - b : b;
                poison_shared(br);
                bs.idx = {(unsigned)(i % grid.x), (unsigned)(i / grid.x % grid.y), (unsigned)(i / grid.x / grid.y)};
                br.fibers.assign(nthreads, fiber{});
                br.warps.assign((nthreads + 31) / 32, warp_state{});
                br.warps.back().alive = br.warps.back().lanes = (int)(nthreads - 32 * (long)(br.warps.size() - 1));
                br.alive = (int)nthreads;
                br.arrived = 0;
                for (long t = 0; t < nthreads; t++) {
                    fiber &f = br.fibers[t];
                    f.tid = {(unsigned)(t % blk.x), (unsigned)(t / blk.x % blk.y), (unsigned)(t / (blk.x * blk.y))};
                    f.lane = (int)(t % 32);
                    f.warp = (int)(t / 32);
                    f.stack = stacks[t];
                    prepare(f);
                }
                while (br.alive > 0) {
                    const unsigned long before = g_arrivals;
                    for (long t = 0; t < nthreads; t++) {
                        fiber &f = br.fibers[rev ? nthreads - 1 - t : t];
                        if (f.done) continue;
                        current = &f;
                        vcemu_switch(&br.sched_sp, f.sp);
                    }
                    if (g_arrivals == before) { // every thread waits on a barrier that others never reach
                        fflush(stdout);
                        fprintf(stderr, "vcemu: kernel deadlock: block (%u,%u,%u) has %d threads waiting at barriers "
                                        "that the others do not reach (a barrier in divergent code?)\n",
                                bs.idx.x, bs.idx.y, bs.idx.z, br.alive);
                        abort();
                    }
                }
    }
    run = nullptr;
    block = nullptr;
    current = nullptr;
    if (g_fault) {
        fflush(stdout); // the message after what the test printed so far
        fprintf(stderr, "vcemu: kernel fault: %s\n", g_fault);
        return g_last = cudaErrorLaunchFailure;
    }
    return cudaSuccess;
}

} // namespace vcemu

// ------------------------------------------------------------------ runtime

// Device memory comes from one address range reserved up front that host
// allocations never use, as under CUDA's unified addressing: a device pointer
// never equals a freed host array's address (the backend's weight cache, keyed
// by host addresses, relies on that). First fit over page-rounded blocks.
// Only live blocks are accessible, and only to the emulated device's work
// (device_scope): host code touching device memory faults, as on a GPU. A
// block ends at most 255 bytes before an inaccessible page (its start is
// 256-byte aligned, as cudaMalloc's), and freed blocks are inaccessible, so a
// kernel or library reading past an allocation or after cudaFree faults
// instead of reading stale memory.
static std::mutex g_mu;
static uintptr_t g_range_lo, g_range_hi; // the reserved device range
static std::map<uintptr_t, size_t> g_allocs; // device allocations: pointer -> bytes
static std::map<uintptr_t, size_t> g_holes;  // free parts of the range: base -> bytes
static size_t g_in_use;                      // bytes of the blocks in g_allocs
constexpr size_t kPage = 4096, kAlign = 256;

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }
static size_t data_pages(size_t bytes) { return round_up(bytes ? bytes : 1, kPage); }
static size_t block_bytes(size_t bytes) { return data_pages(bytes) + kPage; } // and the guard page
static void *block_base(uintptr_t ptr) { return (void *)(ptr & ~(uintptr_t)(kPage - 1)); }

// Scopes nest and are held by one thread at a time; cudaMalloc and cudaFree
// take the same lock, so whether live blocks are accessible is settled.
// Inside a scope a live block opens at its first access (a fault: on_segv)
// and stays open to the end of the outermost scope, which closes every block
// opened: a kernel touches a few blocks, not the hundreds of cached weights.
static std::recursive_mutex g_scope_mu;
static std::atomic<int> g_scope_depth; // read by on_segv on any thread (OpenBLAS's too)
constexpr int kMaxOpen = 1 << 16;
static std::pair<uintptr_t, size_t> g_open[kMaxOpen]; // blocks opened in this scope (with g_mu held)
static int g_n_open;
static std::atomic<long> g_mu_owner; // the thread holding g_mu (on_segv must not wait for itself)

static long thread_id() { return (long)syscall(SYS_gettid); } // on_segv: no thread_local there

static long cached_thread_id() // for mu_guard, taken around every device-pointer query
{
    static thread_local long id;
    if (!id) id = thread_id();
    return id;
}

struct mu_guard { // g_mu, with its owner recorded
    mu_guard() { g_mu.lock(); g_mu_owner = cached_thread_id(); }
    ~mu_guard() { g_mu_owner = 0; g_mu.unlock(); }
    mu_guard(const mu_guard &) = delete;
    mu_guard &operator=(const mu_guard &) = delete;
};

// VCEMU_HOST_GUARD=off leaves live blocks accessible to host code: faster
// (no mprotect calls around each piece of device work), and nothing is checked
static bool host_guard()
{
    static const bool on = [] {
        const char *s = getenv("VCEMU_HOST_GUARD");
        return !(s && !strcmp(s, "off"));
    }();
    return on;
}

static void keep_segv_handler();

extern "C" void vcemu_device_enter(void)
{
    g_scope_mu.lock();
    if (g_scope_depth++ == 0 && host_guard() && g_range_lo) keep_segv_handler();
}

extern "C" void vcemu_device_leave(void)
{
    if (g_scope_depth == 1 && host_guard()) {
        mu_guard lk;
        for (int i = 0; i < g_n_open; i++) mprotect((void *)g_open[i].first, g_open[i].second, PROT_NONE);
        g_n_open = 0;
    }
    g_scope_depth--;
    g_scope_mu.unlock();
}

// In a scope: opens the live block holding a; false if there is none (a
// read past an allocation, or after its cudaFree: the fault is real).
static bool open_on_fault(uintptr_t a)
{
    if (g_scope_depth == 0 || !host_guard() || g_mu_owner == thread_id()) return false;
    mu_guard lk;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return false;
    --it;
    const uintptr_t base = (uintptr_t)block_base(it->first);
    const size_t len = data_pages(it->second);
    if (a < base || a >= base + len || g_n_open == kMaxOpen) return false;
    if (mprotect((void *)base, len, PROT_READ | PROT_WRITE) != 0) return false;
    g_open[g_n_open++] = {base, len};
    return true;
}

// VCEMU_DEVICE_MB: a smaller device, for the backend's out-of-memory paths
static size_t device_limit()
{
    static const size_t limit = [] {
        const char *s = getenv("VCEMU_DEVICE_MB");
        return s && atol(s) > 0 ? (size_t)atol(s) << 20 : SIZE_MAX;
    }();
    return limit;
}


static struct sigaction g_prev_segv; // the handler found before ours (a test framework's, say)

// A fault inside the device range opens the block it hit, in a device scope;
// any other names itself before the handler found before ours (cmocka's) or
// the default ends the process.
static void on_segv(int sig, siginfo_t *info, void *uc)
{
    const uintptr_t a = (uintptr_t)info->si_addr;
    if (a >= g_range_lo && a < g_range_hi && open_on_fault(a)) return; // the access runs again, now allowed
    if (a >= g_range_lo && a < g_range_hi) {
        static const char host[] = "vcemu: host code touched emulated device memory (or memory freed with cudaFree)\n";
        static const char dev[] = "vcemu: the emulated device touched memory outside every live allocation "
                                  "(past the end of one, or after its cudaFree)\n";
        const bool in_device = g_scope_depth > 0;
        if (write(2, in_device ? dev : host, (in_device ? sizeof dev : sizeof host) - 1) < 0) { /* dying anyway */ }
    }
    if (g_prev_segv.sa_flags & SA_SIGINFO) {
        if (g_prev_segv.sa_sigaction) return g_prev_segv.sa_sigaction(sig, info, uc);
    } else if (g_prev_segv.sa_handler != SIG_DFL && g_prev_segv.sa_handler != SIG_IGN) {
        return g_prev_segv.sa_handler(sig);
    }
    signal(sig, SIG_DFL); // returning re-runs the access, which now ends the process
}

// Ours in front: a test framework (cmocka) sets its own handler around each
// test, and lazily opened blocks need ours. Checked at each outermost scope.
static void keep_segv_handler()
{
    struct sigaction cur;
    if (sigaction(SIGSEGV, nullptr, &cur) != 0) return;
    if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_segv) return;
    g_prev_segv = cur;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, nullptr);
}

static bool reserve_range() // with g_mu held
{
    static bool tried = false;
    if (tried) return !g_holes.empty() || !g_allocs.empty();
    tried = true;
    for (size_t bytes = (size_t)64 << 30; bytes >= ((size_t)4 << 30); bytes /= 2) {
        void *m = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) continue;
        g_holes[(uintptr_t)m] = bytes;
        g_range_lo = (uintptr_t)m;
        g_range_hi = g_range_lo + bytes;
        keep_segv_handler();
        return true;
    }
    return false;
}

// A word of a kernel's struct argument that points into host memory: mapped
// (mincore answers for mapped pages only) and outside the device range, whose
// unused parts are mapped too. Only words from 2^44 on are taken for
// pointers: a PIE process's heap, mappings and stack lie there (x86-64),
// while two ints packed in a word (vck_attn's n_seq and heads) and
// AddressSanitizer's shadow memory lie below.
bool vcemu::is_host_memory(uintptr_t p)
{
    if (p < ((uintptr_t)1 << 44)) return false;
    {
        mu_guard lk;
        if (p >= g_range_lo && p < g_range_hi) return false;
    }
    static const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    unsigned char resident;
    return mincore((void *)(p & ~(page - 1)), 1, &resident) == 0;
}

extern "C" int vcemu_is_device(const void *p)
{
    mu_guard lk;
    auto it = g_allocs.upper_bound((uintptr_t)p);
    if (it == g_allocs.begin()) return 0;
    --it;
    return (uintptr_t)p < it->first + (it->second ? it->second : 1);
}

extern "C" cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = nullptr;
    if (bytes > ((size_t)64 << 30)) return g_last = cudaErrorMemoryAllocation;
    const size_t need = block_bytes(bytes);
    uintptr_t base = 0;
    std::lock_guard<std::recursive_mutex> scope(g_scope_mu);
    {
        mu_guard lk;
        if (!reserve_range() || g_in_use + need > device_limit()) return g_last = cudaErrorMemoryAllocation;
        for (auto it = g_holes.begin(); it != g_holes.end(); ++it) {
            if (it->second < need) continue;
            base = it->first;
            const size_t left = it->second - need;
            g_holes.erase(it);
            if (left) g_holes[base + need] = left;
            break;
        }
        if (!base || mprotect((void *)base, data_pages(bytes), PROT_READ | PROT_WRITE) != 0) {
            if (base) g_holes[base] = need; // (a neighbour hole stays separate: first fit still finds both)
            return g_last = cudaErrorMemoryAllocation;
        }
        const uintptr_t ptr = base + data_pages(bytes) - round_up(bytes, kAlign); // its end against the guard
        g_allocs[ptr] = bytes;
        g_in_use += need;
        *p = (void *)ptr;
    }
    memset(*p, 0xCB, bytes); // device memory is not zeroed: make reads of it before writes visible
    if (host_guard()) mprotect(block_base((uintptr_t)*p), data_pages(bytes), PROT_NONE); // opens at first use
    return cudaSuccess;
}

extern "C" cudaError_t cudaFree(void *p)
{
    if (!p) return cudaSuccess;
    std::lock_guard<std::recursive_mutex> scope(g_scope_mu);
    mu_guard lk;
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) return g_last = cudaErrorInvalidValue;
    const uintptr_t base = (uintptr_t)block_base(it->first);
    size_t size = block_bytes(it->second);
    g_allocs.erase(it);
    g_in_use -= size;
    madvise((void *)base, size, MADV_DONTNEED); // the pages go back; the addresses stay reserved
    mprotect((void *)base, size, PROT_NONE);
    auto next = g_holes.lower_bound(base);      // coalesce with the neighbouring holes
    if (next != g_holes.end() && base + size == next->first) {
        size += next->second;
        next = g_holes.erase(next);
    }
    if (next != g_holes.begin()) {
        auto prev = std::prev(next);
        if (prev->first + prev->second == base) {
            prev->second += size;
            return cudaSuccess;
        }
    }
    g_holes[base] = size;
    return cudaSuccess;
}

static std::atomic<unsigned long long> g_uploaded; // host-to-device bytes, for tests of the weight cache

extern "C" cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t n, cudaMemcpyKind kind, cudaStream_t)
{
    const bool dd = vcemu_is_device(dst), sd = vcemu_is_device(src);
    const bool ok = kind == cudaMemcpyHostToDevice ? dd && !sd
                    : kind == cudaMemcpyDeviceToHost ? !dd && sd
                    : kind == cudaMemcpyDeviceToDevice ? dd && sd
                                                       : true;
    if (!ok || (n && (!dst || !src))) return g_last = cudaErrorInvalidValue;
    device_scope scope;
    if (n) memmove(dst, src, n);
    if (kind == cudaMemcpyHostToDevice) g_uploaded += n;
    return cudaSuccess;
}

extern "C" unsigned long long vcemu_uploaded_bytes(void) { return g_uploaded; }

extern "C" cudaError_t cudaStreamCreate(cudaStream_t *s)
{
    static char token;
    *s = (cudaStream_t)&token;
    return cudaSuccess;
}
extern "C" cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
extern "C" cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
extern "C" cudaError_t cudaSetDevice(int d) { return d == 0 ? cudaSuccess : (g_last = cudaErrorInvalidValue); }
extern "C" cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return cudaSuccess;
}
// events: work runs at launch, so the host clock at record time is the event's time
struct CUevent_st {
    double t;
    bool recorded;
};
extern "C" cudaError_t cudaEventCreate(cudaEvent_t *e)
{
    *e = new CUevent_st{0.0, false};
    return cudaSuccess;
}
extern "C" cudaError_t cudaEventDestroy(cudaEvent_t e)
{
    if (!e) return g_last = cudaErrorInvalidValue;
    delete e;
    return cudaSuccess;
}
extern "C" cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t)
{
    if (!e) return g_last = cudaErrorInvalidValue;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    e->t = ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
    e->recorded = true;
    return cudaSuccess;
}
extern "C" cudaError_t cudaEventSynchronize(cudaEvent_t e) { return e ? cudaSuccess : (g_last = cudaErrorInvalidValue); }
extern "C" cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b)
{
    if (!a || !b || !a->recorded || !b->recorded) return g_last = cudaErrorInvalidValue;
    *ms = (float)(b->t - a->t);
    return cudaSuccess;
}
extern "C" cudaError_t cudaGetDeviceProperties(struct cudaDeviceProp *p, int d)
{
    if (d != 0) return g_last = cudaErrorInvalidValue;
    snprintf(p->name, sizeof p->name, "CPU emulation");
    return cudaSuccess;
}
extern "C" cudaError_t cudaGetLastError(void)
{
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
extern "C" const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error (emulated)";
    case cudaErrorInvalidValue: return "invalid argument (emulated)";
    case cudaErrorMemoryAllocation: return "out of memory (emulated)";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument (emulated)";
    case cudaErrorLaunchFailure: return "unspecified launch failure (emulated)";
    default: return "error (emulated)";
    }
}
extern "C" cudaError_t cudaPointerGetAttributes(struct cudaPointerAttributes *a, const void *p)
{
    memset(a, 0, sizeof *a);
    a->type = vcemu_is_device(p) ? cudaMemoryTypeDevice : cudaMemoryTypeUnregistered;
    return cudaSuccess;
}

// ------------------------------------------------------------------ cuBLAS

extern "C" cublasStatus_t cublasCreate(cublasHandle_t *h)
{
    static char token;
    *h = (cublasHandle_t)&token;
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
extern "C" cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
extern "C" cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }

// a column-major rows x cols operand with leading dimension ld as float, rounded to half if asked
static std::vector<float> operand(const void *p, cudaDataType_t t, bool round16, long rows, long cols, long ld)
{
    std::vector<float> v((size_t)ld * (cols - 1) + rows);
    for (long c = 0; c < cols; c++)
        for (long r = 0; r < rows; r++) {
            const size_t i = (size_t)c * ld + r;
            float x = t == CUDA_R_16F ? vcemu::f16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
            v[i] = round16 ? vcemu::f16_to_f32(vcemu::f32_to_f16(x)) : x;
        }
    return v;
}

extern "C" cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb,
                                                     int m, int n, int k, const void *alpha, const void *A,
                                                     cudaDataType_t at, int lda, long long sa, const void *B,
                                                     cudaDataType_t bt, int ldb, long long sb, const void *beta,
                                                     void *C, cudaDataType_t ct, int ldc, long long sc, int batch,
                                                     cublasComputeType_t compute, cublasGemmAlgo_t)
{
    if (m < 0 || n < 0 || k < 0 || batch < 0 || at != bt) return CUBLAS_STATUS_INVALID_VALUE;
    if (ct != CUDA_R_32F && !(ct == CUDA_R_16F && at == CUDA_R_16F)) return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!vcemu_is_device(A) || !vcemu_is_device(B) || !vcemu_is_device(C)) return CUBLAS_STATUS_INVALID_VALUE;
    if (at == CUDA_R_16F && compute != CUBLAS_COMPUTE_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    device_scope scope;
    const bool round16 = compute == CUBLAS_COMPUTE_32F_FAST_16F;
    const long ar = ta == CUBLAS_OP_N ? m : k, ac = ta == CUBLAS_OP_N ? k : m;
    const long br = tb == CUBLAS_OP_N ? k : n, bc = tb == CUBLAS_OP_N ? n : k;
    if (lda < std::max<long>(1, ar) || ldb < std::max<long>(1, br) || ldc < std::max(1, m))
        return CUBLAS_STATUS_INVALID_VALUE;
    const size_t esz = at == CUDA_R_16F ? 2 : 4;
    const float beta_v = *(const float *)beta;
    for (int b = 0; b < batch; b++) {
        if (m == 0 || n == 0) break;
        // a half C is computed in float and rounded once on the way out, as cuBLAS does
        std::vector<float> c16;
        float *c = (float *)C + (size_t)b * sc;
        uint16_t *ch = (uint16_t *)C + (size_t)b * sc;
        if (ct == CUDA_R_16F) {
            c16.assign((size_t)ldc * (n - 1) + m, 0.0f);
            if (beta_v != 0.0f)
                for (int j = 0; j < n; j++)
                    for (int i = 0; i < m; i++) c16[(size_t)j * ldc + i] = vcemu::f16_to_f32(ch[(size_t)j * ldc + i]);
            c = c16.data();
        }
        if (k == 0) {
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) c[(size_t)j * ldc + i] *= beta_v;
        }
        const void *pa = (const char *)A + (size_t)b * sa * esz, *pb = (const char *)B + (size_t)b * sb * esz;
        const bool plain = at == CUDA_R_32F && !round16;
        std::vector<float> a, bb;
        if (!plain) {
            a = operand(pa, at, round16, ar, ac, lda);
            bb = operand(pb, bt, round16, br, bc, ldb);
        }
        if (k > 0)
            cblas_sgemm(CblasColMajor, ta == CUBLAS_OP_N ? CblasNoTrans : CblasTrans,
                        tb == CUBLAS_OP_N ? CblasNoTrans : CblasTrans, m, n, k, *(const float *)alpha,
                        plain ? (const float *)pa : a.data(), lda, plain ? (const float *)pb : bb.data(), ldb,
                        beta_v, c, ldc);
        if (ct == CUDA_R_16F)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) ch[(size_t)j * ldc + i] = vcemu::f32_to_f16(c[(size_t)j * ldc + i]);
    }
    return CUBLAS_STATUS_SUCCESS;
}

// ------------------------------------------------------------------ cuBLASLt
// The subset lt_gemm.c uses: one GEMM with the bias epilogue, C == D, float32
// D (and bias), or half D and bias from half A and B (one rounding of the
// sum, as the epilogue does). The
// heuristic finds nothing where k is not a multiple of 8 (as tensor-core
// kernels want), and a launch with a pointer less aligned than the preference
// promised is refused, so the backend's fallbacks run here too.

struct vcemu_lt_handle { int unused; };
struct vcemu_lt_desc {
    cublasOperation_t ta = CUBLAS_OP_N, tb = CUBLAS_OP_N;
    cublasLtEpilogue_t epilogue = CUBLASLT_EPILOGUE_DEFAULT;
    const void *bias = nullptr; // D's type
};
struct vcemu_lt_layout { cudaDataType_t type; uint64_t rows, cols; int64_t ld; };
struct vcemu_lt_pref { uint64_t ws = 0; uint32_t align[4] = {256, 256, 256, 256}; };

template <typename T> static cublasStatus_t set_field(T *dst, const void *buf, size_t bytes)
{
    if (!buf || bytes != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(dst, buf, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}

extern "C" cublasStatus_t cublasLtCreate(cublasLtHandle_t *h)
{
    *h = new vcemu_lt_handle();
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtDestroy(cublasLtHandle_t h)
{
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t *d, cublasComputeType_t compute, cudaDataType_t scale)
{
    if (compute != CUBLAS_COMPUTE_32F || scale != CUDA_R_32F) return CUBLAS_STATUS_NOT_SUPPORTED;
    *d = new vcemu_lt_desc();
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d)
{
    delete d;
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr,
                                                         const void *buf, size_t bytes)
{
    switch (attr) {
    case CUBLASLT_MATMUL_DESC_TRANSA: return set_field(&d->ta, buf, bytes);
    case CUBLASLT_MATMUL_DESC_TRANSB: return set_field(&d->tb, buf, bytes);
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return set_field(&d->epilogue, buf, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return set_field(&d->bias, buf, bytes);
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}
extern "C" cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t *l, cudaDataType_t type, uint64_t rows,
                                                     uint64_t cols, int64_t ld)
{
    if (ld < (int64_t)std::max<uint64_t>(1, rows)) return CUBLAS_STATUS_INVALID_VALUE;
    *l = new vcemu_lt_layout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l)
{
    delete l;
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t *p)
{
    *p = new vcemu_lt_pref();
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p)
{
    delete p;
    return CUBLAS_STATUS_SUCCESS;
}
extern "C" cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p,
                                                               cublasLtMatmulPreferenceAttributes_t attr,
                                                               const void *buf, size_t bytes)
{
    switch (attr) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return set_field(&p->ws, buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return set_field(&p->align[0], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return set_field(&p->align[1], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return set_field(&p->align[2], buf, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return set_field(&p->align[3], buf, bytes);
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}

// the shape of D = op(A) op(B), or false
static bool lt_shape(const vcemu_lt_desc *d, const vcemu_lt_layout *a, const vcemu_lt_layout *b,
                     const vcemu_lt_layout *c, uint64_t *m, uint64_t *n, uint64_t *k)
{
    const uint64_t am = d->ta == CUBLAS_OP_N ? a->rows : a->cols, ak = d->ta == CUBLAS_OP_N ? a->cols : a->rows;
    const uint64_t bk = d->tb == CUBLAS_OP_N ? b->rows : b->cols, bn = d->tb == CUBLAS_OP_N ? b->cols : b->rows;
    *m = am, *n = bn, *k = ak;
    return ak == bk && c->rows == am && c->cols == bn && a->type == b->type &&
           (c->type == CUDA_R_32F || (c->type == CUDA_R_16F && a->type == CUDA_R_16F));
}

struct vcemu_lt_algo { uint32_t align[4]; }; // what the chosen algorithm assumes

extern "C" cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                                         cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                                         cublasLtMatrixLayout_t dd, cublasLtMatmulPreference_t p,
                                                         int requested, cublasLtMatmulHeuristicResult_t *results,
                                                         int *returned)
{
    *returned = 0;
    uint64_t m, n, k;
    if (requested < 1 || c != dd || !lt_shape(d, a, b, c, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    if (k % 8) return CUBLAS_STATUS_NOT_SUPPORTED;
    memset(&results[0], 0, sizeof results[0]);
    vcemu_lt_algo al;
    memcpy(al.align, p->align, sizeof al.align);
    static_assert(sizeof al <= sizeof results[0].algo, "algo");
    memcpy(&results[0].algo, &al, sizeof al);
    results[0].state = CUBLAS_STATUS_SUCCESS;
    *returned = 1;
    return CUBLAS_STATUS_SUCCESS;
}

extern "C" cublasStatus_t cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t d, const void *alpha, const void *A,
                                         cublasLtMatrixLayout_t a, const void *B, cublasLtMatrixLayout_t b,
                                         const void *beta, const void *C, cublasLtMatrixLayout_t c, void *D,
                                         cublasLtMatrixLayout_t dd, const cublasLtMatmulAlgo_t *algo, void *, size_t,
                                         cudaStream_t)
{
    uint64_t m, n, k;
    if (C != D || c != dd || !algo || !lt_shape(d, a, b, c, &m, &n, &k)) return CUBLAS_STATUS_INVALID_VALUE;
    vcemu_lt_algo al;
    memcpy(&al, algo, sizeof al);
    const void *ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++)
        if ((uintptr_t)ptrs[i] % al.align[i]) return CUBLAS_STATUS_NOT_SUPPORTED;
    const bool bias = d->epilogue == CUBLASLT_EPILOGUE_BIAS;
    if (bias && (!d->bias || !vcemu_is_device(d->bias))) return CUBLAS_STATUS_INVALID_VALUE;
    device_scope scope;
    if (c->type == CUDA_R_16F) { // float products, then C, the bias and one rounding
        float *t = nullptr; // device memory, as the emulated cuBLAS wants
        if (cudaMalloc((void **)&t, m * n * sizeof(float)) != cudaSuccess) return CUBLAS_STATUS_ALLOC_FAILED;
        const float zero = 0.0f, bt = *(const float *)beta;
        cublasStatus_t st = cublasGemmStridedBatchedEx(nullptr, d->ta, d->tb, (int)m, (int)n, (int)k, alpha, A,
                                                       a->type, (int)a->ld, 0, B, b->type, (int)b->ld, 0, &zero, t,
                                                       CUDA_R_32F, (int)m, 0, 1, CUBLAS_COMPUTE_32F,
                                                       CUBLAS_GEMM_DEFAULT);
        if (st != CUBLAS_STATUS_SUCCESS) {
            cudaFree(t);
            return st;
        }
        uint16_t *y = (uint16_t *)D;
        const uint16_t *bh = (const uint16_t *)d->bias;
        for (uint64_t j = 0; j < n; j++)
            for (uint64_t i = 0; i < m; i++) {
                uint16_t &o = y[j * c->ld + i];
                float v = t[j * m + i];
                if (bt != 0.0f) v += bt * vcemu::f16_to_f32(o);
                if (bias) v += vcemu::f16_to_f32(bh[i]);
                o = vcemu::f32_to_f16(v);
            }
        cudaFree(t);
        return CUBLAS_STATUS_SUCCESS;
    }
    cublasStatus_t st = cublasGemmStridedBatchedEx(nullptr, d->ta, d->tb, (int)m, (int)n, (int)k, alpha, A, a->type,
                                                   (int)a->ld, 0, B, b->type, (int)b->ld, 0, beta, D, CUDA_R_32F,
                                                   (int)c->ld, 0, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS || !bias) return st;
    float *y = (float *)D;
    const float *bf = (const float *)d->bias;
    for (uint64_t j = 0; j < n; j++)
        for (uint64_t i = 0; i < m; i++) y[j * c->ld + i] += bf[i];
    return CUBLAS_STATUS_SUCCESS;
}
