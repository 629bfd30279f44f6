// vitals — counter: a value that only goes up.
//
// Integer increments are exact over the full 64-bit range and beyond: per-CPU words that would
// wrap move into a 128-bit total of the series, so totals are exact up to 2^128. Fractional
// increments are kept in a separate double per CPU. Increments that are negative, NaN or
// infinite are refused (the call returns false) and leave the value untouched: a counter that went
// down or became NaN would break every rate() over it.
#pragma once

#include <type_traits>
#include <cstdint>
#include <limits>
#include <sched.h>

#include "../base/config.hpp"
#include "../detail/math.hpp"
#include "exemplar_store.hpp"
#include "../detail/cell_pool.hpp"
#include "../detail/percpu.hpp"
#include "handle.hpp"
#include "sample_data.hpp"
#include "series.hpp"

namespace vitals {

namespace detail {

// Per stripe: the integer part (never allowed to wrap), then the fractional part (a double).
// A stripe's word is kept below 2^63 but for small adds in flight: one that reaches it moves that
// word's value (with the increment, when it is a large one) into the series' own 128-bit total;
// readers see such moves through a sequence count, so a total never seems to go back by 2^64
// while one is under way.
class counter_series final : public series_base {
public:
    struct params {
        bool operator==(const params&) const = default;
    };
    static constexpr std::uint32_t words = 2;
    static constexpr metric_type type = metric_type::counter;

    counter_series(const params&, span<const string_ref> names, const label_key& key)
        : series_base(names, key), cells_(words) {}

    void add(std::uint64_t n) {
        // Small amounts (every inc()) take the shortest sequence: add, then move the stripe's
        // value out once it reaches 2^63, long before it could wrap. Larger ones check first.
        if (n <= spill_max_add) [[likely]] {
            if (!percpu_add_spilling(cells_.ref(), 0, n)) [[unlikely]]
                move_out(0);
            return;
        }
        if (!percpu_add_checked(cells_.ref(), 0, n)) [[unlikely]]
            move_out(n);
    }

    bool add(double d) {
        if (!(d >= 0) || is_inf(d)) return false;
        if (d <= 18446744073709549568.0 && d == floor_of(d)) {
            add(static_cast<std::uint64_t>(d));
        } else {
            percpu_add_double(cells_.ref(), 1, d);
        }
        return true;
    }

    /// The exact total; monotonic: a later read never returns less than an earlier one.
    counter_value read() const {
        for (int spins = 0;; ++spins) {
            const std::uint64_t s1 = wrap_seq_.load(detail::memory_order_acquire);
            if (s1 & 1) {
                if (spins > 64) sched_yield();
                continue;
            }
            uint128 total = (static_cast<uint128>(over_high_.load(detail::memory_order_relaxed)) << 64) |
                            over_low_.load(detail::memory_order_relaxed);
            const cell_ref& c = cells_.ref();
            for (std::uint32_t k = 0; k < c.stripes(); ++k) total += c.word(k, 0)->load(detail::memory_order_relaxed);
            const double frac = percpu_sum_double(c, 1);
            detail::atomic_thread_fence(detail::memory_order_acquire);
            if (wrap_seq_.load(detail::memory_order_relaxed) != s1) continue;
            return {static_cast<std::uint64_t>(total >> 64), static_cast<std::uint64_t>(total), frac};
        }
    }

    /// The latest exemplar (one slot).
    exemplar_slots& exemplars() noexcept { return exemplars_; }
    [[nodiscard]] const exemplar_slots& exemplars() const noexcept { return exemplars_; }

    void fork_child() noexcept override {
        // A move another thread had under way is lost with that thread: its increment never
        // happened in the child. Readers and the next move must not wait for it.
        if (wrap_seq_.load(detail::memory_order_relaxed) & 1)
            wrap_seq_.store(wrap_seq_.load(detail::memory_order_relaxed) + 1, detail::memory_order_relaxed);
        exemplars_.reset_in_child();
    }

private:
    [[gnu::cold]] void move_out(std::uint64_t n) noexcept;

    cell_slot cells_;
    exemplar_slots exemplars_{1};
    detail::atomic<std::uint64_t> wrap_seq_{0};                 // odd while a move is under way
    detail::atomic<std::uint64_t> over_high_{0}, over_low_{0};  // moved out of the stripes
};

}  // namespace detail

/// The operations of a counter, shared by the owning handle and the scoped reference.
template <class Derived>
class counter_operations {
protected:
    using series_type = detail::counter_series;  // the series basic_handle owns

public:
    /// Adds one.
    void inc() const { series().add(std::uint64_t{1}); }

    /// Adds an integer; a negative `n` is refused and returns false.
    template <class T>
        requires std::is_integral_v<T>
    bool inc(T n) const {
        if constexpr (std::is_signed_v<T>)
            if (n < 0) return false;
        series().add(static_cast<std::uint64_t>(n));
        return true;
    }

    /// Adds a floating-point amount; negative, NaN or infinite amounts are refused (false).
    template <class T>
        requires std::is_floating_point_v<T>
    bool inc(T v) const {
        return series().add(static_cast<double>(v));
    }

    /// Adds `n` and keeps `ex` as the counter's exemplar (the latest one wins; when another thread
    /// is storing one at the same instant, this one is dropped rather than waited for).
    /// Refused like inc(n) (false, nothing recorded) for negative, NaN or infinite amounts.
    template <class T>
        requires std::is_integral_v<T> || std::is_floating_point_v<T>
    bool inc(T n, const exemplar_labels& ex) const {
        if (!inc(n)) return false;
        series().exemplars().store(0, ex, static_cast<double>(n));
        return true;
    }

    /// The current total, summed over all threads.
    [[nodiscard]] double value() const { return series().read().as_double(); }
    /// The current total, exactly.
    [[nodiscard]] counter_value exact_value() const { return series().read(); }

private:
    detail::counter_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one counter series (see basic_handle for what handles guarantee).
using counter = basic_handle<counter_operations>;

#if VITALS_COLD_DEFINED

VITALS_COLD void detail::counter_series::move_out(std::uint64_t n) noexcept {
    // Writers that wrap take turns; the odd count tells readers a move is under way.
    std::uint64_t s = wrap_seq_.load(detail::memory_order_relaxed);
    for (int spins = 0;; ++spins) {
        if (!(s & 1) &&
            wrap_seq_.compare_exchange_weak(s, s + 1, detail::memory_order_acquire, detail::memory_order_relaxed))
            break;
        if (spins > 64) sched_yield();
        s = wrap_seq_.load(detail::memory_order_relaxed);
    }
    detail::atomic_thread_fence(detail::memory_order_release);
    const std::uint64_t taken = percpu_take(cells_.ref(), 0);
    uint128 over = (static_cast<uint128>(over_high_.load(detail::memory_order_relaxed)) << 64) |
                   over_low_.load(detail::memory_order_relaxed);
    over += static_cast<uint128>(taken) + n;
    over_high_.store(static_cast<std::uint64_t>(over >> 64), detail::memory_order_relaxed);
    over_low_.store(static_cast<std::uint64_t>(over), detail::memory_order_relaxed);
    wrap_seq_.store(s + 2, detail::memory_order_release);
}

#endif  // VITALS_COLD_DEFINED

}  // namespace vitals

namespace vitals::detail {
template <>
struct series_traits<counter_series> {
    using handle = counter;
    template <class D>
    using operations = counter_operations<D>;
};
}  // namespace vitals::detail
