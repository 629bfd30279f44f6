// vitals — the pool that hands out per-CPU slots to series.
//
// Memory comes in chunks of `stripes × chunk_words` words; a slot of n words sits at the same
// offset in every stripe of its chunk, so a CPU's words of many series share cache lines that only
// that CPU writes, and two CPUs never write one line. Chunks are added as needed: there is no
// fixed capacity to exhaust. A slot records its own layout (cell_ref), so the pool that made it is
// only needed to give it back; each copy of this code in a process may have its own pool, and the
// series still agree wherever they are updated from.
#pragma once

#include <cstdint>
#include <new>

#include "../core/error.hpp"
#include "mutex.hpp"
#include "percpu.hpp"
#include "pod_vector.hpp"

namespace vitals::detail {

class cell_pool {
public:
    /// This copy of the code's pool. Never destroyed: series may be released during static
    /// destruction, and a slot's memory must outlive every handle to its series.
    static cell_pool& instance() {
        static cell_pool* pool = new cell_pool;
        return *pool;
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
        if (r.rseq_stripes != l.rseq_stripes || r.atomic_stripes != l.atomic_stripes) return;
        lock_guard lock(mu_);
        try {
            free_[n].push_back(r.base);
        } catch (...) {
            // Losing a free-list entry only leaks a slot; releasing never throws.
        }
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
    pod_vector<cell_word*> chunks_;  // every chunk, kept for good (see instance())
    cell_word* chunk_ = nullptr;     // the chunk being filled
    std::uint32_t used_ = 0;         // words of chunk_ handed out
    pod_vector<cell_word*> free_[max_slot_words + 1];  // released slots by size
};

/// A series' slot: allocated on construction, released on destruction.
class cell_slot {
public:
    explicit cell_slot(std::uint32_t words) : ref_(cell_pool::instance().allocate(words)), words_(words) {}
    ~cell_slot() { pool_release(); }
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
    void pool_release() noexcept { cell_pool::instance().release(ref_, words_); }
    cell_ref ref_;
    std::uint32_t words_;
};

}  // namespace vitals::detail
