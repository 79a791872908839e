// A small persistent thread pool for the kernels (decode.cpp): `parallel_for` splits [0, n) into
// contiguous parts, one per thread, which the calling thread and the pool's workers take by
// compare-and-swap; it returns when all are done. A worker the OS has not scheduled yet costs
// nothing: the caller takes its part. std::thread only (no OpenMP: torch ships its own runtime,
// and two in one process fight). The thread count is set per call (ponder_set_threads, from
// build.threads(): torch's count or PONDER_KERNEL_THREADS); a region of fewer than `GRAIN` FLOPs
// per part uses fewer parts (one: it stays on the caller). Workers spin for SPIN_US after a
// region, since a decoding step issues ~20 regions back to back, then sleep on a condition
// variable. Each part writes its own outputs and sums in the same order as one thread, so results
// do not depend on the thread count. Safe with several calling threads (one uses the pool, the
// others run inline), nested calls (inline) and fork (the child starts a fresh pool). Left out:
// pinning threads to cores, NUMA.
#pragma once
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace pool {

constexpr int MAX_PARTS = 64;
constexpr int64_t GRAIN = 48 * 1024;  // default FLOPs per part (fewer parts below): ponder_set_grain
constexpr int64_t SPIN_US = 200;      // a worker spins this long for the next part before sleeping

struct Task {
    void (*run)(const void* ctx, int64_t begin, int64_t end, int who);
    const void* ctx;
    const int64_t* bounds;  // part i covers [bounds[i], bounds[i + 1])
    unsigned int csr;       // the caller's MXCSR (flush-to-zero must match: results would differ)
};

struct alignas(64) Worker {
    std::mutex m;
    std::condition_variable cv;
    bool sleeping = false;  // guarded by m
    std::thread thread;
};

// One region at a time: `claim` packs (region << 32 | parts << 16 | next part), so a part is taken
// by one compare-and-swap that also checks the region; the caller takes parts too, so a worker the
// OS has not scheduled yet costs nothing (its part runs on the caller), and `done` counts finished parts.
struct Pool {
    std::vector<Worker*> workers;
    std::atomic<bool> stop{false};
    alignas(64) std::atomic<uint64_t> claim{0};
    alignas(64) std::atomic<int> done{0};
    Task task{};
    std::mutex busy;  // one calling thread at a time uses the workers
};

inline std::atomic<int> g_threads{1};
inline std::atomic<int64_t> g_grain{GRAIN};
inline std::atomic<bool> g_reverse{false};  // check mode: parts run here, last first (ponder_pool_check)
inline Pool* g_pool = nullptr;
inline std::mutex g_pool_mutex;  // creating and stopping the pool
inline thread_local bool t_inside = false;  // this thread runs parts (nested calls run inline)

// Take and run parts of region `region` until none is left; `who`: 0 the caller, i worker i.
inline void take_parts(Pool* P, uint32_t region, int who) {
    for (;;) {
        uint64_t c = P->claim.load(std::memory_order_acquire);
        const int64_t parts = (c >> 16) & 0xFFFF, next = c & 0xFFFF;
        if ((uint32_t)(c >> 32) != region || next >= parts) return;
        if (!P->claim.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel)) continue;
        const Task& t = P->task;
        const unsigned int csr = _mm_getcsr();
        _mm_setcsr(t.csr);
        t.run(t.ctx, t.bounds[next], t.bounds[next + 1], who);
        _mm_setcsr(csr);
        P->done.fetch_add(1, std::memory_order_release);
    }
}

inline uint32_t region_of(const Pool* P) { return (uint32_t)(P->claim.load(std::memory_order_acquire) >> 32); }

inline void worker_loop(Pool* P, Worker* w, int who) {
    pthread_setname_np(pthread_self(), "ponder-kernel");  // what top -H and /proc/*/task/*/comm show
    t_inside = true;
    uint32_t seen = region_of(P);
    for (;;) {
        const auto t0 = std::chrono::steady_clock::now();
        for (int spins = 1; region_of(P) == seen && !P->stop.load(std::memory_order_relaxed); spins++) {
            _mm_pause();
            if (spins % 256 == 0 && std::chrono::steady_clock::now() - t0 > std::chrono::microseconds(SPIN_US)) {
                std::unique_lock<std::mutex> lock(w->m);
                w->sleeping = true;
                w->cv.wait(lock, [&] { return region_of(P) != seen || P->stop.load(); });
                w->sleeping = false;
            }
        }
        if (P->stop.load()) return;
        seen = region_of(P);
        take_parts(P, seen, who);
    }
}

// fork: the forking thread holds g_pool_mutex across the fork (no other thread can be creating or
// stopping the pool then), so the child never inherits it locked by a thread it does not have; the
// child has none of the parent's workers, so it forgets the pool and starts a fresh one.
inline void lock_before_fork() { g_pool_mutex.lock(); }
inline void unlock_in_parent() { g_pool_mutex.unlock(); }
inline void forget_in_child() {
    g_pool = nullptr;
    g_pool_mutex.unlock();
}

// The pool with at least n - 1 workers (created on first use), or null when n < 2.
inline Pool* pool_for(int n) {
    if (n < 2) return nullptr;
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    if (g_pool == nullptr) {
        static bool registered = false;
        if (!registered) pthread_atfork(lock_before_fork, unlock_in_parent, forget_in_child);
        registered = true;
        g_pool = new Pool();
    }
    Pool* P = g_pool;
    while ((int)P->workers.size() < n - 1) {
        Worker* w = new Worker();
        w->thread = std::thread(worker_loop, P, w, (int)P->workers.size() + 1);
        P->workers.push_back(w);
    }
    return P;
}

// Join every worker and free the pool (the next parallel call starts a fresh one).
inline void stop_pool() {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    Pool* P = g_pool;
    if (P == nullptr) return;
    P->busy.lock();
    P->stop.store(true);
    for (Worker* w : P->workers) {
        { std::lock_guard<std::mutex> l(w->m); }
        w->cv.notify_one();
        w->thread.join();
        delete w;
    }
    g_pool = nullptr;
    P->busy.unlock();
    delete P;
}

inline int live_workers() {
    std::lock_guard<std::mutex> lock(g_pool_mutex);
    return g_pool == nullptr ? 0 : (int)g_pool->workers.size();
}

// Run fn(begin, end, who) over `parts` contiguous ranges [bounds[i], bounds[i + 1]); `who` is 0
// on the calling thread, i on worker i (for per-thread scratch). Returns when all parts are done.
template <class F>
void run_parts(int parts, const int64_t* bounds, const F& fn) {
    if (g_reverse.load(std::memory_order_relaxed)) {  // a part reading another's output would show
        for (int i = parts - 1; i >= 0; i--) fn(bounds[i], bounds[i + 1], i);
        return;
    }
    Pool* P = (parts < 2 || t_inside) ? nullptr : pool_for(parts);
    if (P == nullptr || !P->busy.try_lock()) {  // serial: too small, nested, or another caller has it
        for (int i = 0; i < parts; i++) fn(bounds[i], bounds[i + 1], 0);
        return;
    }
    P->task.run = [](const void* c, int64_t b, int64_t e, int who) { (*(const F*)c)(b, e, who); };
    P->task.ctx = &fn;
    P->task.bounds = bounds;
    P->task.csr = _mm_getcsr();
    P->done.store(0, std::memory_order_relaxed);
    const uint32_t region = region_of(P) + 1;
    P->claim.store((uint64_t)region << 32 | (uint64_t)parts << 16, std::memory_order_release);
    for (int i = 0; i < parts - 1; i++) {
        Worker* w = P->workers[i];
        std::lock_guard<std::mutex> l(w->m);
        if (w->sleeping) w->cv.notify_one();
    }
    t_inside = true;
    take_parts(P, region, 0);
    t_inside = false;
    for (int spins = 0; P->done.load(std::memory_order_acquire) != parts; spins++) {
        _mm_pause();
        if (spins > 4096) std::this_thread::yield();  // a worker was descheduled mid-part (a busy machine)
    }
    P->busy.unlock();
}

// How many parts `work` FLOPs over n items are worth: at most the thread count, n and MAX_PARTS.
inline int parts_for(int64_t n, int64_t work) {
    int64_t parts = g_threads.load(std::memory_order_relaxed);
    const int64_t by_work = work / g_grain.load(std::memory_order_relaxed);
    if (by_work < parts) parts = by_work;
    if (n < parts) parts = n;
    if (parts > MAX_PARTS) parts = MAX_PARTS;
    return parts < 1 ? 1 : (int)parts;
}

// fn(begin, end, part) over [0, n) in equal contiguous parts; `work`: the total FLOPs.
template <class F>
void parallel_for(int64_t n, int64_t work, const F& fn) {
    const int parts = parts_for(n, work);
    int64_t bounds[MAX_PARTS + 1];
    for (int i = 0; i <= parts; i++) bounds[i] = n * i / parts;
    run_parts(parts, bounds, fn);
}

// fn over [0, n) split by cost: item t costs cost(t) FLOPs, and a part may start at t only where
// can_start(t) (items that must stay in one thread, in order, stay together).
template <class Cost, class CanStart, class F>
void parallel_for_cost(int64_t n, const Cost& cost, const CanStart& can_start, const F& fn) {
    int64_t total = 0;
    for (int64_t t = 0; t < n; t++) total += cost(t);
    const int parts = parts_for(n, total);
    int64_t bounds[MAX_PARTS + 1];
    bounds[0] = 0;
    int k = 1;
    int64_t sum = 0;
    for (int64_t t = 0; t < n && k < parts; t++) {
        if (sum * parts >= total * k && t > bounds[k - 1] && can_start(t)) bounds[k++] = t;
        sum += cost(t);
    }
    bounds[k] = n;
    run_parts(k, bounds, fn);
}

// Scratch of at least n floats private to the calling thread (kept for its next call).
inline float* scratch(int64_t n) {
    static thread_local std::vector<float> buf;
    if ((int64_t)buf.size() < n) buf.resize(n);
    return buf.data();
}

}  // namespace pool

// The C entry points (built into decode.cpp's library): the thread count the next kernel calls
// use (1: everything on the calling thread), the live workers, and stopping them (tests, shutdown;
// not while another thread is inside a kernel call: that call may still hold the old pool).
extern "C" void ponder_set_threads(int64_t n) {
    pool::g_threads.store(n < 1 ? 1 : (n > pool::MAX_PARTS ? pool::MAX_PARTS : (int)n));
}
extern "C" int64_t ponder_threads() { return pool::g_threads.load(); }
// FLOPs per part below which a region uses fewer threads (tests: 1 splits every region; 0: the default).
extern "C" void ponder_set_grain(int64_t flops) { pool::g_grain.store(flops < 1 ? pool::GRAIN : flops); }
// Check mode (tests): every region's parts run on the calling thread, last part first, so a part
// that depends on another part's output gives a different result than one thread does.
extern "C" void ponder_pool_check(int64_t on) { pool::g_reverse.store(on != 0); }
extern "C" int64_t ponder_pool_workers() { return pool::live_workers(); }
extern "C" void ponder_pool_stop() { pool::stop_pool(); }
