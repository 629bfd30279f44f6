// vitals — counter: a value that only goes up.
//
// Integer increments are exact over the full 64-bit range and beyond: each thread's word carries
// into a shared overflow count when it wraps, so totals are exact up to 2^128. Fractional
// increments are kept in a separate double per thread. Increments that are negative, NaN or
// infinite are refused (the call returns false) and leave the value untouched: a counter that went
// down or became NaN would break every rate() over it.
#pragma once

#include <type_traits>
#include <cstdint>
#include <limits>

#include "../detail/math.hpp"
#include "../detail/exemplar_store.hpp"
#include "../detail/thread_cells.hpp"
#include "series.hpp"

namespace vitals {

/// A counter's exact value: an integer part (up to 128 bits, as two halves) plus the sum of the
/// fractional increments.
struct counter_value {
    std::uint64_t high = 0;  ///< The integer part's upper 64 bits: set only past 2^64 - 1.
    std::uint64_t low = 0;   ///< The integer part's lower 64 bits.
    double fraction = 0;     ///< The sum of non-integer increments.

    /// The value as a double (rounded when the integer part exceeds 2^53).
    [[nodiscard]] double as_double() const noexcept {
        return detail::ldexp_of(static_cast<double>(high), 64) + static_cast<double>(low) + fraction;
    }
    /// True when the value is an integer that the formats can print exactly.
    [[nodiscard]] bool is_integer() const noexcept { return fraction == 0; }
};

namespace detail {

__extension__ typedef unsigned __int128 uint128;

class counter_series final : public series_base, public cell_owner {
public:
    struct params {
        bool operator==(const params&) const = default;
    };
    static constexpr std::uint32_t words = 2;  // integer part, fractional part
    static constexpr metric_type type = metric_type::counter;

    counter_series(const params&, span<const string_ref> names, const label_key& key)
        : series_base(names, key) {
        // Registered last: from here on an exiting thread may fold into this series (under the
        // cell-space lock), so every member must already be constructed.
        cell_space::instance().allocate(words, this);
    }
    ~counter_series() override { cell_space::instance().release(this); }

    void add(std::uint64_t n) {
        cell_word& w = local_cells(cell_start())[0];
        const std::uint64_t v = w.load(detail::memory_order_relaxed);
        const std::uint64_t nv = v + n;
        if (nv < v) [[unlikely]]
            carry_.fetch_add(1, detail::memory_order_relaxed);
        w.store(nv, detail::memory_order_relaxed);
    }

    bool add(double d) {
        if (!(d >= 0) || is_inf(d)) return false;
        if (d <= 18446744073709549568.0 && d == floor_of(d)) {
            add(static_cast<std::uint64_t>(d));
        } else {
            add_local_double(local_cells(cell_start())[1], d);
        }
        return true;
    }

    void fold(const cell_word* from, cell_word* into) noexcept override {
        if (into == from) return;  // the thread's chunk became the retired one
        const std::uint64_t n = from[0].load(detail::memory_order_relaxed);
        const std::uint64_t sum = into[0].load(detail::memory_order_relaxed) + n;
        if (sum < n) carry_.fetch_add(1, detail::memory_order_relaxed);  // the retired word wrapped
        into[0].store(sum, detail::memory_order_relaxed);
        add_local_double(into[1], word_to_double(from[1].load(detail::memory_order_relaxed)));
    }

    /// Needs cell_space mutex held.
    counter_value read_locked() const {
        uint128 total = static_cast<uint128>(carry_.load(detail::memory_order_relaxed)) << 64;
        double frac = 0;
        cell_space::instance().for_each_thread(cell_start(), [&](const cell_word* w) {
            total += w[0].load(detail::memory_order_relaxed);
            frac += word_to_double(w[1].load(detail::memory_order_relaxed));
        });
        return {static_cast<std::uint64_t>(total >> 64), static_cast<std::uint64_t>(total), frac};
    }

    counter_value read() const {
        detail::lock_guard lock(cell_space::instance().mutex());
        return read_locked();
    }

    /// The latest exemplar (one slot).
    exemplar_slots& exemplars() noexcept { return exemplars_; }
    [[nodiscard]] const exemplar_slots& exemplars() const noexcept { return exemplars_; }

private:
    exemplar_slots exemplars_{1};
    detail::atomic<std::uint64_t> carry_{0};
};

}  // namespace detail

/// The operations of a counter, shared by the owning handle and the scoped reference.
template <class Derived>
class counter_operations {
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

/// A handle to one counter series. Cheap to copy (a reference count), free to use: an increment
/// is a relaxed load and store on a word that only the calling thread writes.
///
/// A handle keeps its series alive. If the series is removed from its family, the handle still
/// works but its increments are no longer exposed; creating the same label values again starts a
/// new series at zero.
class counter : public counter_operations<counter> {
public:
    explicit counter(detail::series_ptr<detail::counter_series> p) noexcept : p_(static_cast<detail::series_ptr<detail::counter_series>&&>(p)) {}

private:
    friend class counter_operations<counter>;
    detail::counter_series& series_ref() const noexcept { return *p_.get(); }
    detail::series_ptr<detail::counter_series> p_;
};

}  // namespace vitals

namespace vitals::detail {
template <class Series>
struct series_traits;
template <>
struct series_traits<counter_series> {
    using handle = counter;
    template <class D>
    using operations = counter_operations<D>;
};
}  // namespace vitals::detail
