// vitals — quantiles from classic histogram buckets, computed exactly as Prometheus'
// histogram_quantile does (promql/quantile.go, bucketQuantile, as of Prometheus 2.42), so that the
// status page and a dashboard over the same counts show the same number.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

#include "../base/span.hpp"

namespace vitals::status {

/// The `q`-quantile of a classic histogram, as PromQL's histogram_quantile computes it from the
/// same bucket counts. `bounds` are the finite upper bounds in increasing order; `cumulative`
/// holds one cumulative count per bound and one more for +Inf (the total), so its size is
/// bounds.size() + 1 (anything else: NaN). Within the bucket holding the rank the value is
/// interpolated linearly; the lowest bucket starts at 0 (or is its own upper bound when that is
/// not positive); a rank in the +Inf bucket returns the highest finite bound. q < 0 gives -Inf,
/// q > 1 +Inf, NaN q or no observations NaN. Counts that decrease are treated as equal to the one
/// before them (Prometheus' ensureMonotonic).
///
/// The bound: for n observations and the true quantile taken as the ceil(q·n)-th smallest value,
/// the true value lies in the bucket chosen (rank q·n falls in it), so the result is off by at
/// most that bucket's width; in the +Inf bucket the true value is at least the result.
inline double histogram_quantile(double q, span<const double> bounds, span<const std::uint64_t> cumulative) noexcept {
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    if (std::isnan(q)) return nan;
    if (q < 0) return -std::numeric_limits<double>::infinity();
    if (q > 1) return std::numeric_limits<double>::infinity();
    const std::size_t n = cumulative.size();
    // Prometheus needs the +Inf bucket and at least one more.
    if (n != bounds.size() + 1 || n < 2) return nan;
    // ensureMonotonic: a count below an earlier one is raised to it, so every count read below is
    // the running maximum.
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < n; ++i)
        if (cumulative[i] > total) total = cumulative[i];
    const double observations = static_cast<double>(total);
    if (observations == 0) return nan;
    double rank = q * observations;
    // sort.Search: the first bucket whose count reaches the rank.
    std::uint64_t before = 0, at = 0;
    std::size_t b = 0;
    for (;; ++b) {
        before = at;
        if (cumulative[b] > at) at = cumulative[b];
        if (b == n - 1 || static_cast<double>(at) >= rank) break;
    }
    if (b == n - 1) return bounds[n - 2];
    if (b == 0 && bounds[0] <= 0) return bounds[0];
    double start = 0;
    const double end = bounds[b];
    double in_bucket = static_cast<double>(at);
    if (b > 0) {
        start = bounds[b - 1];
        in_bucket -= static_cast<double>(before);
        rank -= static_cast<double>(before);
    }
    return start + (end - start) * (rank / in_bucket);
}

}  // namespace vitals::status
