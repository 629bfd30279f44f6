// vitals — read sections and grace periods for one family's lock-free lookups.
//
// Lookups read a family's table without a lock; what a removal or a table growth unlinks may be
// freed only once no lookup that could still see it is running. Each family counts its readers
// itself, on per-CPU words (an rseq add: no locked instruction), in two epochs: entering adds to
// `entered[e]`, leaving to `left[e]`; a grace period flips the epoch and waits until the old one
// has as many leaves as entries (the scheme of Linux's SRCU). The gate lives in the family, not in
// a process-wide list of threads, so lookups from any copy of the code (a plugin) are seen, and
// threads cost nothing to start or end.
//
// Ordering: a reader's entry must be visible before it reads the table. Where membarrier(2) is
// available the grace period forces that on every running thread (an asymmetric fence) and
// readers need only a compiler fence; elsewhere readers fence themselves.
#pragma once

#include <cstdint>
#include <sched.h>

#include "atomic.hpp"
#include "cell_pool.hpp"
#include "mutex.hpp"
#include "percpu.hpp"

#if defined(__linux__)
#include <cerrno>
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace vitals::detail {

// MEMBARRIER_CMD_* are enumerators, not macros: test for the syscall number instead.
#if defined(__linux__) && defined(SYS_membarrier) && !defined(VITALS_TSAN)
#define VITALS_HAVE_MEMBARRIER 1
#else
#define VITALS_HAVE_MEMBARRIER 0
#endif

/// Whether readers may rely on the grace period's membarrier instead of fencing themselves.
/// Decided once per copy of the code; every copy asks the kernel the same question.
inline bool asymmetric_fences() noexcept {
#if VITALS_HAVE_MEMBARRIER
    static const bool ok = [] {
        const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
        if (cmds <= 0) return false;
        if (!(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) || !(cmds & MEMBARRIER_CMD_GLOBAL)) return false;
        return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
    }();
    return ok;
#else
    return false;
#endif
}

/// A full fence on every thread of the process that is running now (membarrier), or on this one.
inline void process_wide_fence() noexcept {
#if VITALS_HAVE_MEMBARRIER
    if (asymmetric_fences()) {
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0) return;
        // A forked child starts unregistered: register again, or take the slow global barrier.
        if (errno == EPERM && syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0 &&
            syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0)
            return;
        if (syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0) == 0) return;
    }
#endif
    detail::atomic_thread_fence(detail::memory_order_seq_cst);
}

class reader_gate {
public:
    reader_gate() : counts_(4) {}
    reader_gate(const reader_gate&) = delete;
    reader_gate& operator=(const reader_gate&) = delete;

    /// Enters a read section; pass the result to leave().
    [[nodiscard]] std::uint32_t enter() noexcept {
        const std::uint32_t e = static_cast<std::uint32_t>(epoch_.load(detail::memory_order_relaxed) & 1);
        percpu_add(counts_.ref(), e, 1, detail::memory_order_seq_cst);
        if (asymmetric_fences())
            detail::atomic_signal_fence(detail::memory_order_seq_cst);
        else
            detail::atomic_thread_fence(detail::memory_order_seq_cst);
        return e;
    }

    void leave(std::uint32_t e) noexcept {
        // The section's loads come before the count that ends it (release).
        detail::atomic_signal_fence(detail::memory_order_seq_cst);
        percpu_add(counts_.ref(), 2 + e, 1, detail::memory_order_release);
    }

    /// Waits (briefly, bounded) until every read section that began before the call has ended.
    /// False if one stayed open too long (a reader preempted, or the caller's own open section):
    /// the caller keeps what it meant to free and tries again later.
    bool synchronize() noexcept {
        lock_guard lock(sync_mu_);
        process_wide_fence();
        const std::uint32_t now = static_cast<std::uint32_t>(epoch_.load(detail::memory_order_relaxed) & 1);
        // Readers that read the epoch before the last flip but entered after it count in the
        // other epoch: they must be gone before it becomes the current one again.
        if (!drained(now ^ 1)) return false;
        epoch_.store(epoch_.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
        process_wide_fence();
        return drained(now);
    }

    /// For fork(): held across it, so a child never inherits a grace period half done.
    mutex& fork_lock() noexcept { return sync_mu_; }

    /// In a forked child: readers of the parent's other threads will never leave; forget them.
    void reset_in_child() noexcept {
        sync_mu_.reset_after_fork();
        counts_.zero_all();
    }

private:
    bool drained(std::uint32_t e) const noexcept {
        for (int round = 0; round < 2000; ++round) {
            // Leaves first: a leave is counted after its entry, so reading entries last can only
            // see more entries, never fewer, and equality means nobody is inside.
            const std::uint64_t left = sum(2 + e);
            detail::atomic_thread_fence(detail::memory_order_seq_cst);
            const std::uint64_t entered = sum(e);
            if (entered == left) return true;
            sched_yield();
        }
        return false;
    }
    std::uint64_t sum(std::uint32_t i) const noexcept {
        const cell_ref& c = counts_.ref();
        std::uint64_t s = 0;
        for (std::uint32_t k = 0; k < c.stripes(); ++k) s += c.word(k, i)->load(detail::memory_order_acquire);
        return s;
    }

    cell_slot counts_;  // entered[0], entered[1], left[0], left[1], per stripe
    detail::atomic<std::uint64_t> epoch_{0};
    mutex sync_mu_;  // one grace period at a time
};

/// A read section of one gate, for a scope.
class read_section {
public:
    explicit read_section(reader_gate& g) noexcept : gate_(g), epoch_(g.enter()) {}
    ~read_section() { gate_.leave(epoch_); }
    read_section(const read_section&) = delete;
    read_section& operator=(const read_section&) = delete;

private:
    reader_gate& gate_;
    std::uint32_t epoch_;
};

}  // namespace vitals::detail
