// vitals — gauge: a value that goes up and down, or is set.
//
// `set` is a single relaxed store. `inc`/`dec` add to a per-thread delta (no locked instruction),
// so a gauge of in-flight requests costs the same as a counter even when requests start and end on
// different threads. A gauge that mixes the two keeps the last `set` exact and adds later deltas;
// a `set` after deltas exist takes a short lock to account for them (exact while the deltas are
// exactly representable, as integers up to 2^53 are). Increments that are NaN or infinite are
// refused (false); `set` accepts any value, NaN and infinities included.
#pragma once

#include <type_traits>
#include <cstdint>

#include "../detail/math.hpp"
#include "../detail/clock.hpp"
#include "../detail/thread_cells.hpp"
#include "series.hpp"

namespace vitals {
namespace detail {

class gauge_series final : public series_base, public cell_owner {
public:
    struct params {
        bool operator==(const params&) const = default;
    };
    // Per thread: integral deltas as a two's complement integer (exact, and an integer add keeps
    // the hot path off the floating-point latency chain), then non-integral deltas as a double.
    static constexpr std::uint32_t words = 2;
    static constexpr metric_type type = metric_type::gauge;

    gauge_series(const params&, span<const string_ref> names, const label_key& key)
        : series_base(names, key) {
        // Registered last: from here on an exiting thread may fold into this series (under the
        // cell-space lock), so every member must already be constructed.
        cell_space::instance().allocate(words, this);
    }
    ~gauge_series() override { cell_space::instance().release(this); }

    void set(double v) {
        if (!has_deltas_.load(detail::memory_order_relaxed)) [[likely]] {
            base_.store(double_to_word(v), detail::memory_order_relaxed);
            return;
        }
        detail::lock_guard lock(cell_space::instance().mutex());
        base_.store(double_to_word(v - deltas_locked()), detail::memory_order_relaxed);
    }

    bool add(double d) {
        if (!is_finite(d)) return false;
        if (!has_deltas_.load(detail::memory_order_relaxed)) [[unlikely]]
            has_deltas_.store(true, detail::memory_order_relaxed);
        cell_word* w = local_cells(cell_start());
        // |d| < 2^63 and integral: the cast is exact. With a constant d (inc(), dec()) this folds.
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
            static_cast<double>(static_cast<std::int64_t>(d)) == d) [[likely]]
            add_local(w[0], static_cast<std::uint64_t>(static_cast<std::int64_t>(d)));
        else
            add_local_double(w[1], d);
        return true;
    }

    void fold(const cell_word* from, cell_word* into) noexcept override {
        if (into == from) return;  // the thread's chunk became the retired one
        add_local(into[0], from[0].load(detail::memory_order_relaxed));  // two's complement: wraps as it should
        add_local_double(into[1], word_to_double(from[1].load(detail::memory_order_relaxed)));
    }

    double read_locked() const {
        return word_to_double(base_.load(detail::memory_order_relaxed)) + deltas_locked();
    }
    double read() const {
        detail::lock_guard lock(cell_space::instance().mutex());
        return read_locked();
    }

private:
    double deltas_locked() const {
        // The integer words wrap modulo 2^64; their total is exact while the net sum fits 64 bits.
        std::uint64_t whole = 0;
        double sum = 0;
        cell_space::instance().for_each_thread(cell_start(), [&](const cell_word* w) {
            whole += w[0].load(detail::memory_order_relaxed);
            sum += word_to_double(w[1].load(detail::memory_order_relaxed));
        });
        return static_cast<double>(static_cast<std::int64_t>(whole)) + sum;
    }

    detail::atomic<std::uint64_t> base_{0};
    detail::atomic<bool> has_deltas_{false};
};

}  // namespace detail

/// The operations of a gauge, shared by the owning handle and the scoped reference.
template <class Derived>
class gauge_operations {
public:
    /// Sets the value.
    void set(double v) const { series().set(v); }
    /// Adds `d` (default 1); NaN or infinite amounts are refused (false).
    bool inc(double d = 1) const { return series().add(d); }
    /// Subtracts `d` (default 1); NaN or infinite amounts are refused (false).
    bool dec(double d = 1) const { return series().add(-d); }
    /// Sets the value to the current Unix time in seconds.
    void set_to_current_time() const {
        series().set(detail::unix_now());
    }
    /// The current value.
    [[nodiscard]] double value() const { return series().read(); }

private:
    detail::gauge_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one gauge series; see `counter` for what handles guarantee.
class gauge : public gauge_operations<gauge> {
public:
    explicit gauge(detail::series_ptr<detail::gauge_series> p) noexcept : p_(static_cast<detail::series_ptr<detail::gauge_series>&&>(p)) {}

private:
    friend class gauge_operations<gauge>;
    detail::gauge_series& series_ref() const noexcept { return *p_.get(); }
    detail::series_ptr<detail::gauge_series> p_;
};

namespace detail {
template <class Series>
struct series_traits;
template <>
struct series_traits<gauge_series> {
    using handle = gauge;
    template <class D>
    using operations = gauge_operations<D>;
};
}  // namespace detail

}  // namespace vitals
