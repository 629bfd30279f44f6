// vitals — gauge: a value that goes up and down, or is set.
//
// One double, updated in place: `set` is a store, `inc`/`dec` a compare-and-swap loop. The value
// is then exactly what applying the updates in order gives (as in client_golang), -0 and the
// special values included; per-CPU deltas would be faster under contention but would round
// differently from that order (set(1e9), inc(-1e9), inc(0.001) must read 0.001). Increments that
// are NaN or infinite are refused (false); `set` accepts any value, NaN and infinities included.
#pragma once

#include <type_traits>
#include <cstdint>

#include "../detail/math.hpp"
#include "../detail/clock.hpp"
#include "../detail/percpu.hpp"
#include "handle.hpp"
#include "series.hpp"

namespace vitals {
namespace detail {

class gauge_series final : public series_base {
public:
    struct params {
        bool operator==(const params&) const = default;
    };
    static constexpr metric_type type = metric_type::gauge;

    gauge_series(const params&, span<const string_ref> names, const label_key& key) : series_base(names, key) {}

    void set(double v) noexcept { bits_.store(double_to_word(v), detail::memory_order_relaxed); }

    bool add(double d) noexcept {
        if (!is_finite(d)) return false;
        std::uint64_t old = bits_.load(detail::memory_order_relaxed);
        while (!bits_.compare_exchange_weak(old, double_to_word(word_to_double(old) + d), detail::memory_order_relaxed,
                                            detail::memory_order_relaxed)) {}
        return true;
    }

    [[nodiscard]] double read() const noexcept { return word_to_double(bits_.load(detail::memory_order_relaxed)); }

private:
    detail::atomic<std::uint64_t> bits_{0};
};

}  // namespace detail

/// The operations of a gauge, shared by the owning handle and the scoped reference.
template <class Derived>
class gauge_operations {
protected:
    using series_type = detail::gauge_series;  // the series basic_handle owns

public:
    /// Sets the value.
    void set(double v) const { series().set(v); }
    /// Adds `d` (default 1); NaN or infinite amounts are refused (false).
    bool inc(double d = 1) const { return series().add(d); }
    /// Subtracts `d` (default 1); NaN or infinite amounts are refused (false).
    bool dec(double d = 1) const { return series().add(-d); }
    /// Sets the value to the current Unix time in seconds.
    void set_to_current_time() const { series().set(detail::unix_now()); }
    /// The current value.
    [[nodiscard]] double value() const { return series().read(); }

private:
    detail::gauge_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one gauge series (see basic_handle for what handles guarantee).
using gauge = basic_handle<gauge_operations>;

namespace detail {
template <>
struct series_traits<gauge_series> {
    using handle = gauge;
    template <class D>
    using operations = gauge_operations<D>;
};
}  // namespace detail

}  // namespace vitals
