// vitals — what the metric kinds hand an exposition format per series: a counter's exact value,
// summary quantiles and native-histogram buckets. Plain views: a family fills them from scratch buffers of its own during
// a render, so formats never allocate for them.
#pragma once

#include <cstdint>

#include "../base/span.hpp"
#include "../detail/math.hpp"

namespace vitals {

/// A counter's exact value: an integer part (up to 128 bits, as two halves) plus the sum of the
/// fractional increments.
struct counter_value {
    std::uint64_t high = 0;  ///< The integer part's upper 64 bits: set only past 2^64 - 1.
    std::uint64_t low = 0;   ///< The integer part's lower 64 bits.
    double fraction = 0;     ///< The sum of non-integer increments.

    /// The value as a double, correctly rounded (to nearest, ties to even).
    [[nodiscard]] double as_double() const noexcept {
        return detail::exact_sum_to_double((static_cast<detail::uint128>(high) << 64) | low, fraction);
    }
    /// True when the value is an integer that the formats can print exactly.
    [[nodiscard]] bool is_integer() const noexcept { return fraction == 0; }
};

/// One quantile of a summary: `quantile` in [0, 1] and its estimated value (NaN when the window
/// holds no observations).
struct quantile_value {
    double quantile = 0;  ///< The rank asked for, 0.5 for the median.
    double value = 0;     ///< The estimate.
};

/// A run of consecutive native-histogram buckets: `offset` is the gap (in bucket indexes) after the
/// previous span, or the first index for the first span; `length` buckets follow.
struct bucket_span {
    std::int32_t offset = 0;   ///< Gap to the previous span, or the starting index.
    std::uint32_t length = 0;  ///< Number of consecutive buckets.
};

/// One side (positive or negative values) of a native histogram, as Prometheus encodes it: spans
/// plus one count delta per bucket (each bucket's count minus the previous bucket's, the first
/// against zero).
struct native_buckets {
    span<const bucket_span> spans;    ///< Where the buckets are.
    span<const std::int64_t> deltas;  ///< One per bucket covered by the spans.
};

/// A native histogram's state for one render. Bucket `i` of schema `s` holds values in
/// (base^(i-1), base^i] with base = 2^(2^-s); negative values mirror that on `negative`.
struct native_histogram_data {
    std::int32_t schema = 0;       ///< -4 … 8; higher means finer buckets.
    double zero_threshold = 0;     ///< |v| <= this counts in the zero bucket.
    std::uint64_t zero_count = 0;  ///< Observations in the zero bucket.
    std::uint64_t count = 0;       ///< All observations.
    double sum = 0;                ///< Sum of all observations.
    native_buckets positive;       ///< Buckets of values above the zero bucket.
    native_buckets negative;       ///< Buckets of values below it (mirrored indexes).
    /// Classic buckets kept alongside (cumulative, one per bound of the family's layout plus +Inf);
    /// empty when the histogram has none.
    span<const std::uint64_t> classic_cumulative;
};

}  // namespace vitals
