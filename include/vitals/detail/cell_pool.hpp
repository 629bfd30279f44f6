// vitals — the pool that hands out per-CPU slots to series.
//
// Memory comes in chunks of `stripes × chunk_words` words; a slot of n words sits at the same
// offset in every stripe of its chunk, so a CPU's words of many series share cache lines that only
// that CPU writes, and two CPUs never write one line. Chunks are added as needed: there is no
// fixed capacity to exhaust. A slot records its own layout (cell_ref) and its pool, so the pool
// that made it is only needed to give it back; each copy of this code in a process (a plugin
// built with hidden visibility) may have its own pool, and the series still agree wherever they
// are updated from. A copy's pool is freed when that copy is unloaded (or the program ends) and
// no slot of it is still in use, whichever comes last: a plugin loaded and unloaded many times
// leaks nothing.
#pragma once

#include <cstdint>
#include <new>

#include "../base/error.hpp"
#include "mutex.hpp"
#include "percpu.hpp"
#include "pod_vector.hpp"

namespace vitals::detail {

class cell_pool {
public:
    /// This copy of the code's pool. It outlives static destruction while slots are in use:
    /// series may be released after it, and a slot's memory must outlive every handle.
    static cell_pool& instance() {
        if (cell_pool* p = current().load(detail::memory_order_acquire)) [[likely]]
            return *p;
        return make();
    }

    /// A zeroed slot of `n` words on every stripe (1 <= n <= max_slot_words).
    cell_ref allocate(std::uint32_t n) {
        if (n == 0 || n > max_slot_words) throw capacity_error("vitals: a series needs 1 to 1024 words");
        const percpu_layout& l = percpu_layout_now();
        lock_guard lock(mu_);
        cell_ref r{nullptr, l.rseq_stripes, l.atomic_stripes};
        if (!free_[n].empty()) {
            r.base = free_[n].back();
            free_[n].pop_back();
            ++in_use_;
            return r;
        }
        if (!chunk_ || used_ + n > chunk_words) {
            chunks_.reserve(chunks_.size() + 1);
            const std::size_t words = static_cast<std::size_t>(r.stripes()) * chunk_words;
            auto* fresh = static_cast<cell_word*>(::operator new(words * sizeof(cell_word), std::align_val_t{64}));
            for (std::size_t i = 0; i < words; ++i) new (fresh + i) cell_word(0);
            // Whatever is left of the old chunk goes to the free lists, so nothing is wasted.
            if (chunk_) give_back_tail();
            chunk_ = fresh;
            used_ = 0;
            chunks_.push_back(fresh);
        }
        r.base = chunk_ + used_;
        used_ += n;
        ++in_use_;
        return r;
    }

    /// Returns a slot. The caller guarantees no thread writes it any more; its words are zeroed
    /// on every stripe so the next owner starts at zero.
    void release(const cell_ref& r, std::uint32_t n) noexcept {
        for (std::uint32_t s = 0; s < r.stripes(); ++s)
            for (std::uint32_t i = 0; i < n; ++i) r.word(s, i)->store(0, detail::memory_order_relaxed);
        // A slot made by another copy of this code with another layout (its environment changed
        // between loads) is not reused here: handed out under this layout it would be too small.
        const percpu_layout& l = percpu_layout_now();
        const bool reusable = r.rseq_stripes == l.rseq_stripes && r.atomic_stripes == l.atomic_stripes;
        bool last = false;
        {
            lock_guard lock(mu_);
            if (reusable) {
                try {
                    free_[n].push_back(r.base);
                } catch (...) {
                    // Losing a free-list entry only leaks a slot; releasing never throws.
                }
            }
            last = --in_use_ == 0 && orphaned_;
        }
        if (last) delete this;
    }

    /// Number of chunks made so far (for tests and memory reports).
    std::size_t chunk_count() {
        lock_guard lock(mu_);
        return chunks_.size();
    }

    /// For fork(): the pool's lock, held across the fork so the child never inherits it taken.
    mutex& fork_lock() noexcept { return mu_; }

private:
    cell_pool() = default;
    ~cell_pool() {
        for (cell_word* c : chunks_) ::operator delete(c, std::align_val_t{64});
    }

    // No destructor and constant initialization: usable at any point of static destruction.
    static detail::atomic<cell_pool*>& current() noexcept {
        static constinit detail::atomic<cell_pool*> pool{nullptr};
        return pool;
    }

    [[gnu::noinline]] static cell_pool& make() {
        // Registered before the first pool is published, so it is destroyed after every static
        // object built later and before those built earlier, which may still give slots back.
        static const orphan_at_unload reaper;
        (void)reaper;
        auto* fresh = new cell_pool;
        cell_pool* seen = nullptr;
        if (current().compare_exchange_strong(seen, fresh, detail::memory_order_acq_rel)) return *fresh;
        delete fresh;
        return *seen;
    }

    // Runs when this copy of the code is unloaded or the program ends: the pool goes now if no
    // slot is in use, or with the last slot given back. Anything allocated later (a thread still
    // running after exit began) gets a new pool that is simply kept.
    struct orphan_at_unload {
        ~orphan_at_unload() {
            cell_pool* pool = current().exchange(nullptr, detail::memory_order_acq_rel);
            if (!pool) return;
            bool empty = false;
            {
                lock_guard lock(pool->mu_);
                pool->orphaned_ = true;
                empty = pool->in_use_ == 0;
            }
            if (empty) delete pool;
        }
    };

    // Splits the unused end of the current chunk into slots of the largest sizes that fit.
    void give_back_tail() noexcept {
        std::uint32_t left = chunk_words - used_;
        while (left > 0) {
            const std::uint32_t n = left > max_slot_words ? max_slot_words : left;
            try {
                free_[n].push_back(chunk_ + used_);
            } catch (...) {
                return;
            }
            used_ += n;
            left -= n;
        }
    }

    mutex mu_;
    pod_vector<cell_word*> chunks_;                    // every chunk, freed with the pool
    cell_word* chunk_ = nullptr;                       // the chunk being filled
    std::uint32_t used_ = 0;                           // words of chunk_ handed out
    pod_vector<cell_word*> free_[max_slot_words + 1];  // released slots by size
    std::size_t in_use_ = 0;                           // slots handed out and not released
    bool orphaned_ = false;                            // this copy of the code is gone: the last release frees the pool
};

/// A series' slot: allocated on construction, given back to the same pool on destruction.
class cell_slot {
public:
    explicit cell_slot(std::uint32_t words)
        : pool_(&cell_pool::instance()), ref_(pool_->allocate(words)), words_(words) {}
    ~cell_slot() { pool_->release(ref_, words_); }
    cell_slot(const cell_slot&) = delete;
    cell_slot& operator=(const cell_slot&) = delete;

    [[nodiscard]] const cell_ref& ref() const noexcept { return ref_; }
    [[nodiscard]] std::uint32_t words() const noexcept { return words_; }

    /// Zeroes every word on every stripe; only safe while no thread writes (after fork, in the
    /// child, for words whose writers did not survive the fork).
    void zero_all() noexcept {
        for (std::uint32_t s = 0; s < ref_.stripes(); ++s)
            for (std::uint32_t i = 0; i < words_; ++i) ref_.word(s, i)->store(0, detail::memory_order_relaxed);
    }

private:
    cell_pool* pool_;
    cell_ref ref_;
    std::uint32_t words_;
};

}  // namespace vitals::detail
