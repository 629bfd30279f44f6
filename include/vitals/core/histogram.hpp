// vitals — histogram with fixed buckets.
//
// Each CPU keeps its own per-bucket counts and sum (detail/percpu.hpp); a render sums them and
// makes the counts cumulative. `_count` is the sum of the buckets, so `+Inf == _count` and non-decreasing buckets
// hold by construction in every render, even while other threads observe.
#pragma once

#include <cstdint>

#include "../detail/math.hpp"
#include "../detail/clock.hpp"
#include "exemplar_store.hpp"
#include "../detail/owning.hpp"
#include "../detail/pod_vector.hpp"
#include "../detail/text.hpp"
#include "../detail/cell_pool.hpp"
#include "../detail/percpu.hpp"
#include "names.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"
#include "definition_difference.hpp"
#include "../base/config.hpp"
#include "handle.hpp"
#include "series.hpp"

namespace vitals {

namespace detail {
// Named so that the compiler's message says what went wrong when a constant bucket list is bad.
inline void histogram_buckets_must_be_finite_strictly_increasing_and_at_most_1000() {}

constexpr bool valid_bounds(span<const double> b) noexcept {
    if (b.empty() || b.size() > max_slot_words - 2) return false;
    for (std::size_t i = 0; i < b.size(); ++i) {
        // x - x is 0 for finite x and NaN for NaN and both infinities (isfinite is not constexpr).
        if (!(b[i] - b[i] == 0)) return false;
        if (i > 0 && !(b[i - 1] < b[i])) return false;
    }
    return true;
}
}  // namespace detail

/// Bucket upper bounds known at compile time; a bad list (unsorted, repeated, NaN or infinite) is a
/// compile error: `constexpr vitals::fixed_buckets seed{{0.01, 0.025, 0.05}};`
template <std::size_t N>
struct fixed_buckets {
    double bounds[N];
    consteval fixed_buckets(const double (&b)[N]) : bounds{} {
        for (std::size_t i = 0; i < N; ++i) bounds[i] = b[i];
        if (!detail::valid_bounds({bounds, N}))
            detail::histogram_buckets_must_be_finite_strictly_increasing_and_at_most_1000();
    }
    /// The bounds as a span, for registry::histogram.
    constexpr operator span<const double>() const noexcept { return {bounds, N}; }
    [[nodiscard]] constexpr const double* data() const noexcept { return bounds; }
    [[nodiscard]] static constexpr std::size_t size() noexcept { return N; }
};

/// The default buckets of the Prometheus clients (seconds: 5 ms to 10 s).
inline constexpr fixed_buckets default_buckets{{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}};

/// The seed service's latency buckets, 10 ms to 10 s: the default of the operational bundle and
/// of HTTP instrumentation (http/operational.hpp), here so that any latency histogram can use them.
inline constexpr fixed_buckets http_duration_buckets{{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}};

/// Bucket upper bounds computed at run time (by linear_buckets or exponential_buckets); pass it
/// where buckets are taken, or copy it out: it has data(), size(), begin() and end(), so
/// `std::vector<double>(b.begin(), b.end())` works.
class bucket_list {
public:
    bucket_list() noexcept = default;
    explicit bucket_list(std::size_t count) { values_.resize(count, 0.0); }
    [[nodiscard]] const double* data() const noexcept { return values_.data(); }
    [[nodiscard]] double* data() noexcept { return values_.data(); }
    [[nodiscard]] std::size_t size() const noexcept { return values_.size(); }
    [[nodiscard]] bool empty() const noexcept { return values_.empty(); }
    [[nodiscard]] const double* begin() const noexcept { return values_.begin(); }
    [[nodiscard]] const double* end() const noexcept { return values_.end(); }
    [[nodiscard]] double operator[](std::size_t i) const noexcept { return values_[i]; }
    [[nodiscard]] double& operator[](std::size_t i) noexcept { return values_[i]; }
    operator span<const double>() const noexcept { return {values_.data(), values_.size()}; }

private:
    detail::pod_vector<double> values_;
};

/// `count` buckets starting at `start`, each `width` wider than the last.
inline bucket_list linear_buckets(double start, double width, std::size_t count) {
    bucket_list b(count);
    for (std::size_t i = 0; i < count; ++i) b[i] = start + width * static_cast<double>(i);
    return b;
}

/// `count` buckets starting at `start`, each `factor` times the last.
inline bucket_list exponential_buckets(double start, double factor, std::size_t count) {
    if (!(start > 0) || !(factor > 1))
        throw invalid_argument_error("vitals: exponential_buckets needs start > 0 and factor > 1");
    bucket_list b(count);
    for (std::size_t i = 0; i < count; ++i) b[i] = start * detail::pow_of(factor, static_cast<double>(i));
    return b;
}

/// Strings stored end to end, read by index (a layout's `le` values).
class le_values {
public:
    le_values() noexcept = default;
    le_values(const char* text, const std::uint32_t* ends, std::size_t n) noexcept : text_(text), ends_(ends), n_(n) {}
    [[nodiscard]] std::size_t size() const noexcept { return n_; }
    [[nodiscard]] string_ref operator[](std::size_t i) const noexcept {
        const std::uint32_t begin = i ? ends_[i - 1] : 0;
        return {text_ + begin, ends_[i] - begin};
    }

private:
    const char* text_ = nullptr;
    const std::uint32_t* ends_ = nullptr;
    std::size_t n_ = 0;
};

/// The bucket layout shared by all series of a histogram family.
class histogram_layout {
public:
    /// Validates the bounds; throws invalid_argument_error when they are empty, unsorted,
    /// repeated, NaN or infinite (+Inf is always implied as the last bucket).
    explicit histogram_layout(span<const double> bounds);
    histogram_layout(const histogram_layout&) = delete;
    histogram_layout& operator=(const histogram_layout&) = delete;

    /// The finite upper bounds.
    [[nodiscard]] span<const double> bounds() const noexcept { return {bounds_.data(), bounds_.size()}; }
    /// The bounds followed by +Inf up to a multiple of four entries (see histogram_series).
    [[nodiscard]] const double* padded_bounds() const noexcept { return padded_.data(); }
    /// `le` values for text 0.0.4 (`1`, `2.5`, `+Inf`), one per bucket including +Inf.
    [[nodiscard]] le_values le_text() const noexcept { return {text_.data(), text_ends_.data(), text_ends_.size()}; }
    /// `le` values in OpenMetrics canonical form (`1.0`, `2.5`, `+Inf`).
    [[nodiscard]] le_values le_canonical() const noexcept {
        return {canonical_.data(), canonical_ends_.data(), canonical_ends_.size()};
    }
    bool operator==(const histogram_layout& o) const noexcept {
        if (bounds_.size() != o.bounds_.size()) return false;
        for (std::size_t i = 0; i < bounds_.size(); ++i)
            if (!(bounds_[i] == o.bounds_[i])) return false;
        return true;
    }

private:
    static void add(text_buffer& text, detail::pod_vector<std::uint32_t>& ends, string_ref v) {
        text.append(v.data(), v.size());
        ends.push_back(static_cast<std::uint32_t>(text.size()));
    }

    detail::pod_vector<double> bounds_;
    detail::pod_vector<double> padded_;
    text_buffer text_, canonical_;  // the `le` values end to end
    detail::pod_vector<std::uint32_t> text_ends_, canonical_ends_;
};

namespace detail {

class histogram_series final : public series_base {
public:
    struct params {
        shared<const histogram_layout> layout;
        bool operator==(const params& o) const { return *layout == *o.layout; }
        [[nodiscard]] text_buffer difference(const params& o) const {
            return definition_field("buckets", number_list(layout->bounds()).view(),
                                    number_list(o.layout->bounds()).view());
        }
    };
    static constexpr metric_type type = metric_type::histogram;

    histogram_series(const params& p, span<const string_ref> names, const label_key& key)
        : series_base(names, key),
          layout_(p.layout),
          bounds_(layout_->bounds().data()),
          padded_(layout_->padded_bounds()),
          finite_(static_cast<std::uint32_t>(layout_->bounds().size())),
          exemplars_(finite_ + 1),
          cells_(finite_ + 2) {}

    [[gnu::always_inline]] std::uint32_t bucket_of(double v) const noexcept {
        if (finite_ <= 16) {
            // Counts the bounds below v, four at a time and without a branch on the data (an early
            // exit would mispredict on nearly every observation of varying size). The padding is
            // +Inf, never below v (NaN was refused).
            typedef double pair __attribute__((vector_size(16)));
            typedef long long mask __attribute__((vector_size(16)));
            const pair x = {v, v};
            mask below = {0, 0};
            for (std::uint32_t j = 0; j < finite_; j += 4) {
                pair a, b;
                __builtin_memcpy(&a, padded_ + j, sizeof a);
                __builtin_memcpy(&b, padded_ + j + 2, sizeof b);
                below += (a < x) + (b < x);  // each true lane is -1
            }
            return static_cast<std::uint32_t>(-(below[0] + below[1]));
        }
        std::uint32_t lo = 0, hi = finite_;  // the first bound >= v, as std::lower_bound
        while (lo < hi) {
            const std::uint32_t mid = lo + (hi - lo) / 2;
            if (bounds_[mid] < v)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo;
    }

    [[gnu::always_inline]] bool observe(double v) {
        if (is_nan(v)) return false;
        const std::uint32_t i = bucket_of(v);
        percpu_observe(cells_.ref(), finite_ + 1, i, v);
        return true;
    }

    bool observe(double v, const exemplar_labels& ex) {
        if (!observe(v)) return false;
        exemplars_.store(bucket_of(v), ex, v);
        return true;
    }

    /// The latest exemplar per bucket (+Inf included).
    [[nodiscard]] const exemplar_slots& exemplars() const noexcept { return exemplars_; }

    void fork_child() noexcept override { exemplars_.reset_in_child(); }

    /// Writes cumulative bucket counts (finite buckets then +Inf) into `cumulative` and returns the
    /// sum.
    double read(span<std::uint64_t> cumulative) const {
        for (std::uint32_t i = 0; i <= finite_; ++i) cumulative[i] = 0;
        const cell_ref& c = cells_.ref();
        for (std::uint32_t k = 0; k < c.stripes(); ++k) {
            const cell_word* w = c.word(k, 0);
            for (std::uint32_t i = 0; i <= finite_; ++i) cumulative[i] += w[i].load(detail::memory_order_relaxed);
        }
        for (std::uint32_t i = 1; i <= finite_; ++i) cumulative[i] += cumulative[i - 1];
        return percpu_sum_double(c, finite_ + 1);
    }

    [[nodiscard]] const histogram_layout& layout() const noexcept { return *layout_; }
    [[nodiscard]] std::size_t bucket_count() const noexcept { return finite_ + 1; }

private:
    shared<const histogram_layout> layout_;
    const double* bounds_;
    const double* padded_;
    std::uint32_t finite_;
    exemplar_slots exemplars_;
    cell_slot cells_;  // per stripe: one count per bucket (+Inf last), then the sum
};

}  // namespace detail

/// A point-in-time reading of one histogram series.
class histogram_snapshot {
public:
    /// Per bucket including +Inf, cumulative: the last is the number of observations.
    [[nodiscard]] span<const std::uint64_t> cumulative() const noexcept { return {counts_.data(), counts_.size()}; }
    /// Sum of all observed values.
    [[nodiscard]] double sum() const noexcept { return sum_; }
    /// Number of observations (the +Inf bucket).
    [[nodiscard]] std::uint64_t count() const noexcept { return counts_.empty() ? 0 : counts_.back(); }

private:
    template <class Derived>
    friend class histogram_operations;
    detail::pod_vector<std::uint64_t> counts_;
    double sum_ = 0;
};

/// The operations of a histogram, shared by the owning handle and the scoped reference.
template <class Derived>
class histogram_operations {
protected:
    using series_type = detail::histogram_series;  // the series basic_handle owns

public:
    /// Records one observation; NaN is refused (false). +Inf and -Inf are counted in the +Inf and
    /// first bucket respectively and make the sum infinite, as in the Go client.
    bool observe(double v) const { return series().observe(v); }

    /// Records one observation and keeps `ex` as the exemplar of its bucket (the latest wins; a
    /// store racing another on the same bucket is dropped rather than waited for).
    bool observe(double v, const exemplar_labels& ex) const { return series().observe(v, ex); }

    /// Records a duration in seconds.
    template <detail::duration_like D>
    void observe(const D& d) const {
        series().observe(detail::to_seconds(d));
    }

    /// Reads the current buckets, sum and count.
    [[nodiscard]] histogram_snapshot snapshot() const {
        histogram_snapshot s;
        s.counts_.resize(series().bucket_count());
        s.sum_ = series().read({s.counts_.data(), s.counts_.size()});
        return s;
    }

private:
    detail::histogram_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one histogram series (see basic_handle for what handles guarantee).
using histogram = basic_handle<histogram_operations>;

namespace detail {
template <>
struct series_traits<histogram_series> {
    using handle = histogram;
    template <class D>
    using operations = histogram_operations<D>;
};
}  // namespace detail

#if VITALS_COLD_DEFINED

VITALS_COLD histogram_layout::histogram_layout(span<const double> bounds) {
    if (!detail::valid_bounds(bounds))
        throw invalid_argument_error(
            "vitals: histogram buckets must be 1 to 1000 finite values in strictly increasing order");
    bounds_.append(bounds.data(), bounds.size());
    // The same bounds, then +Inf up to a multiple of four, for the vector search below.
    padded_.append(bounds.data(), bounds.size());
    while (padded_.size() % 4) padded_.push_back(__builtin_inf());
    for (double b : bounds) {
        char buf[detail::max_double_chars];
        add(text_, text_ends_, {buf, detail::format_double_label(buf, b)});
        add(canonical_, canonical_ends_, {buf, detail::format_double_canonical(buf, b)});
    }
    add(text_, text_ends_, "+Inf");
    add(canonical_, canonical_ends_, "+Inf");
}

#endif  // VITALS_COLD_DEFINED

}  // namespace vitals
