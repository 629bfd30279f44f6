// vitals — per-thread single-writer cells, the storage behind every counter, gauge and histogram.
//
// Why: a shared atomic counter costs a locked instruction per increment and bounces its cache line
// between cores. Instead each series reserves a few 64-bit words ("a slot") that exist once per
// thread; a thread only ever writes its own copy with a relaxed load and store (no locked
// instruction), and a render sums the copies of every live thread plus what exited threads left
// behind. Summing happens under `cell_space::mutex()`, which writers never take on the hot path.
// What an exiting thread leaves behind is added into one more table of the same shape, the
// retired cells, which every read sums like a live thread's: a series needs no storage of its own
// for the counts of threads that are gone.
//
// Layout: each thread owns a two-level table (max_chunks pointers to 8 KiB chunks). A slot never
// crosses a chunk, so one table lookup finds all words of a series. Chunks are allocated lazily on
// a thread's first touch, so a thread pays 8 KiB per chunk of slots it actually uses.
#pragma once

#include <cstdint>
#include <cstring>
#include <new>
#include <sched.h>

#include "../core/error.hpp"
#include "atomic.hpp"
#include "mutex.hpp"
#include "pod_vector.hpp"

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define VITALS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VITALS_TSAN 1
#endif
#endif

namespace vitals::detail {

/// One 64-bit word of a thread's cell; doubles are stored by their bit pattern.
using cell_word = detail::atomic<std::uint64_t>;

inline constexpr std::uint32_t chunk_words = 1024;
inline constexpr std::uint32_t max_chunks = 4096;
/// The most words one series may use (a histogram uses buckets + 2).
inline constexpr std::uint32_t max_slot_words = chunk_words;

struct cell_chunk {
    cell_word words[chunk_words]{};
};

class cell_space;

/// A series that owns a slot. `fold` moves the values a thread is leaving behind (it is exiting)
/// from `from` into `into`, the slot's words in the retired cells, with the arithmetic each word
/// needs (integer or double). `into == from` when the thread's chunk itself becomes the retired
/// one: the words are then already in place. Kinds whose per-thread state does not fit in words
/// keep their own totals instead, and leave `into` zero. It runs with the cell space mutex held,
/// and so does every read of the retired cells. Folding never allocates.
class cell_owner {
public:
    virtual void fold(const cell_word* from, cell_word* into) noexcept = 0;

    /// The first word of the owner's slot (valid once cell_space::allocate returned).
    [[nodiscard]] std::uint32_t cell_start() const noexcept { return start_; }
    /// How many words the slot has.
    [[nodiscard]] std::uint32_t cell_words() const noexcept { return words_; }

protected:
    ~cell_owner() = default;

private:
    friend class cell_space;
    std::uint32_t start_ = 0;
    std::uint32_t words_ = 0;
    std::uint32_t index_ = 0;  // position in cell_space's owner list
};

/// One thread's cells plus its read-section sequence (see read_section).
struct thread_cells {
    detail::atomic<cell_chunk*> chunks[max_chunks]{};
    detail::atomic<std::uint64_t> read_seq{0};  // odd while inside a read section
    std::uint32_t read_depth = 0;            // nesting, touched by the owning thread only
    ~thread_cells() {
        for (auto& c : chunks) delete c.load(detail::memory_order_relaxed);
    }
};

inline bool use_membarrier = false;  // decided once, before any thread registers

/// The process-wide registry of threads and slots. Never destroyed: threads may exit (and fold
/// their cells) after static destruction has begun.
class cell_space {
public:
    static cell_space& instance() {
        static cell_space* space = new cell_space;
        return *space;
    }

    /// Guards the thread list, the owners and the retired cells.
    detail::mutex& mutex() noexcept { return mu_; }

    /// Reserves `n` words for `owner` and returns the first (also `owner->cell_start()`); throws
    /// capacity_error when the space is exhausted.
    std::uint32_t allocate(std::uint32_t n, cell_owner* owner) {
        if (n == 0 || n > max_slot_words) throw capacity_error("vitals: series needs too many cells");
        detail::lock_guard lock(mu_);
        owners_.reserve(owners_.size() + 1);  // the only step that may throw comes first
        std::uint32_t start;
        if (!free_[n].empty()) {
            start = free_[n].back();
            free_[n].pop_back();
        } else {
            if (high_ % chunk_words + n > chunk_words) high_ += chunk_words - high_ % chunk_words;
            if (static_cast<std::uint64_t>(high_) + n > std::uint64_t{max_chunks} * chunk_words)
                throw capacity_error("vitals: per-thread cell space exhausted (too many series)");
            start = high_;
            high_ += n;
        }
        owner->start_ = start;
        owner->words_ = n;
        owner->index_ = static_cast<std::uint32_t>(owners_.size());
        owners_.push_back(owner);
        return start;
    }

    /// Returns `owner`'s slot. The caller guarantees no thread will write it again; its words are
    /// zeroed in every live thread and in the retired cells so the next owner starts from zero.
    void release(cell_owner* owner) noexcept {
        detail::lock_guard lock(mu_);
        const std::uint32_t start = owner->start_, n = owner->words_;
        auto zero = [&](thread_cells& t) {
            cell_chunk* c = t.chunks[start / chunk_words].load(detail::memory_order_acquire);
            if (!c) return;
            for (std::uint32_t i = 0; i < n; ++i) c->words[start % chunk_words + i].store(0, detail::memory_order_relaxed);
        };
        for (thread_cells* t : threads_) zero(*t);
        zero(retired_);
        owners_.swap_remove(owner->index_);
        if (owner->index_ < owners_.size()) owners_[owner->index_]->index_ = owner->index_;
        try {
            free_[n].push_back(start);
        } catch (...) {
            // Losing a free-list entry only leaks a few words of address space; never throw here.
        }
    }

    /// Calls f(const cell_word*) for the slot's words in every live thread and in the retired
    /// cells (the sum of every thread that exited). Needs mutex() held.
    template <class F>
    void for_each_thread(std::uint32_t start, F&& f) const {
        const std::uint32_t chunk = start / chunk_words;
        const std::uint32_t off = start % chunk_words;
        for (const thread_cells* t : threads_) {
            const cell_chunk* c = t->chunks[chunk].load(detail::memory_order_acquire);
            if (c) f(c->words + off);
        }
        if (const cell_chunk* c = retired_.chunks[chunk].load(detail::memory_order_acquire)) f(c->words + off);
    }


    void register_thread(thread_cells* t) {
        detail::lock_guard lock(mu_);
        threads_.push_back(t);
    }

    /// Folds an exiting thread's cells into their owners and forgets the thread.
    void retire_thread(thread_cells* t) noexcept {
        {
            detail::lock_guard lock(mu_);
            // Where the retired cells have no chunk yet, the thread's own chunk becomes theirs:
            // its words already hold what the thread leaves. Owners still see it (into == from)
            // so that kinds with state outside the words can take it over.
            for (cell_owner* o : owners_) {
                const std::uint32_t ci = o->start_ / chunk_words, off = o->start_ % chunk_words;
                cell_chunk* c = t->chunks[ci].load(detail::memory_order_relaxed);
                if (!c) continue;
                cell_chunk* r = retired_.chunks[ci].load(detail::memory_order_relaxed);
                o->fold(c->words + off, (r ? r : c)->words + off);
            }
            for (std::uint32_t ci = 0; ci < max_chunks; ++ci) {
                cell_chunk* c = t->chunks[ci].load(detail::memory_order_relaxed);
                if (c && !retired_.chunks[ci].load(detail::memory_order_relaxed)) {
                    retired_.chunks[ci].store(c, detail::memory_order_release);
                    t->chunks[ci].store(nullptr, detail::memory_order_relaxed);
                }
            }
            threads_.remove(t);
        }
        delete t;
    }

    /// Waits (briefly, bounded) until every thread that was inside a read section when this was
    /// called has left it. Returns false if some thread stayed inside too long; try again later.
    bool synchronize() {
        heavy_fence();
        struct reader {
            const thread_cells* thread;
            std::uint64_t seq;
        };
        pod_vector<reader> busy;
        detail::unique_lock lock(mu_);
        busy.reserve(threads_.size());
        for (const thread_cells* t : threads_) {
            const std::uint64_t s = t->read_seq.load(detail::memory_order_acquire);
            if (s & 1) busy.push_back({t, s});
        }
        for (int round = 0; !busy.empty() && round < 2000; ++round) {
            lock.unlock();
            sched_yield();
            lock.lock();
            for (std::size_t i = busy.size(); i-- > 0;) {
                // A thread that exited is no longer in `threads_`: it is out of its section too.
                bool live = false;
                for (const thread_cells* t : threads_) live |= (t == busy[i].thread);
                if (!live || busy[i].thread->read_seq.load(detail::memory_order_acquire) != busy[i].seq)
                    busy.swap_remove(i);
            }
        }
        return busy.empty();
    }

    /// Number of live threads that have touched any cell (for tests and memory reports).
    std::size_t thread_count() {
        detail::lock_guard lock(mu_);
        return threads_.size();
    }

private:
    cell_space() {
// MEMBARRIER_CMD_* are enumerators, not macros: test for the syscall number instead.
#if defined(__linux__) && defined(SYS_membarrier) && !defined(VITALS_TSAN)
        const long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
        if (cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
            syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0)
            use_membarrier = true;
#endif
    }

    static void heavy_fence() noexcept {
#if defined(__linux__) && defined(SYS_membarrier)
        if (use_membarrier && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0) return;
#endif
        detail::atomic_thread_fence(detail::memory_order_seq_cst);
    }

    detail::mutex mu_;
    pod_vector<thread_cells*> threads_;
    pod_vector<cell_owner*> owners_;  // every slot's owner, in no particular order
    thread_cells retired_;            // what exited threads left, summed; written under mu_ only
    std::uint32_t high_ = 0;
    pod_vector<std::uint32_t> free_[max_slot_words + 1];  // free slots by size
};

inline constinit thread_local thread_cells* tls_cells = nullptr;
inline constinit thread_local bool tls_exited = false;

struct thread_exit_hook {
    thread_cells* cells = nullptr;
    ~thread_exit_hook() {
        tls_exited = true;
        tls_cells = nullptr;
        if (cells) cell_space::instance().retire_thread(cells);
    }
};
inline thread_local thread_exit_hook tls_exit_hook;

/// The calling thread's cells, registering the thread on first use.
[[gnu::noinline]] inline thread_cells* register_this_thread() {
    auto* t = new thread_cells;
    cell_space::instance().register_thread(t);
    // A thread whose own exit hook already ran (a metric touched from a later thread_local
    // destructor) keeps its new cells registered for good: a tiny leak, but no count is lost.
    if (!tls_exited) tls_exit_hook.cells = t;
    tls_cells = t;
    return t;
}

inline thread_cells* this_thread_cells() {
    thread_cells* t = tls_cells;
    return t ? t : register_this_thread();
}

[[gnu::noinline]] inline cell_word* local_cells_slow(std::uint32_t start) {
    thread_cells* t = this_thread_cells();
    auto& slot = t->chunks[start / chunk_words];
    cell_chunk* c = slot.load(detail::memory_order_relaxed);
    if (!c) {
        c = new cell_chunk;
        slot.store(c, detail::memory_order_release);
    }
    return c->words + start % chunk_words;
}

/// The calling thread's words of a slot. The hot path: two dependent loads, no branch taken.
inline cell_word* local_cells(std::uint32_t start) {
    if (thread_cells* t = tls_cells) [[likely]] {
        if (cell_chunk* c = t->chunks[start / chunk_words].load(detail::memory_order_relaxed)) [[likely]]
            return c->words + start % chunk_words;
    }
    return local_cells_slow(start);
}

/// Adds to a word only this thread writes: a plain load and store, no locked instruction.
inline void add_local(cell_word& w, std::uint64_t n) noexcept {
    w.store(w.load(detail::memory_order_relaxed) + n, detail::memory_order_relaxed);
}

inline double word_to_double(std::uint64_t w) noexcept {
    double d;
    std::memcpy(&d, &w, sizeof d);
    return d;
}
inline std::uint64_t double_to_word(double d) noexcept {
    std::uint64_t w;
    std::memcpy(&w, &d, sizeof w);
    return w;
}
inline void add_local_double(cell_word& w, double d) noexcept {
    w.store(double_to_word(word_to_double(w.load(detail::memory_order_relaxed)) + d), detail::memory_order_relaxed);
}

/// True while the calling thread is inside a read_section (a grace period would wait for it).
inline bool in_read_section() noexcept {
    const thread_cells* t = tls_cells;
    return t && t->read_depth != 0;
}

/// Marks the calling thread as reading lock-free shared structures whose nodes may be retired
/// concurrently; cell_space::synchronize() waits for sections that began before it. The entry
/// costs a store and, where membarrier(2) is available, only a compiler fence.
class read_section {
public:
    read_section() : t_(this_thread_cells()) {
        if (t_->read_depth++ == 0) {
            t_->read_seq.store(t_->read_seq.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
            if (use_membarrier)
                detail::atomic_signal_fence(detail::memory_order_seq_cst);
            else
                detail::atomic_thread_fence(detail::memory_order_seq_cst);
        }
    }
    ~read_section() {
        if (--t_->read_depth == 0)
            t_->read_seq.store(t_->read_seq.load(detail::memory_order_relaxed) + 1, detail::memory_order_release);
    }
    read_section(const read_section&) = delete;
    read_section& operator=(const read_section&) = delete;

private:
    thread_cells* t_;
};

}  // namespace vitals::detail
