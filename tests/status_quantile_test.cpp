// status/quantile.hpp: histogram_quantile as Prometheus computes it, checked against a transcription
// of promql/quantile.go (bucketQuantile, 2.42) over swept count vectors, against the true
// percentiles of observation sets fed through a real vitals histogram (the interpolation's bound),
// and at the edges: no buckets, one bucket, everything in +Inf, NaN and infinite observations.
#include <vitals/status/quantile.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace {

using vitals::status::histogram_quantile;
constexpr double inf = std::numeric_limits<double>::infinity();

double quantile(double q, const std::vector<double>& bounds, const std::vector<std::uint64_t>& cum) {
    return histogram_quantile(q, {bounds.data(), bounds.size()}, {cum.data(), cum.size()});
}

// promql/quantile.go's bucketQuantile, line by line: buckets as (upperBound, count) with +Inf last.
double reference(double q, const std::vector<double>& bounds, const std::vector<std::uint64_t>& cum) {
    struct bucket {
        double upper;
        double count;
    };
    if (std::isnan(q)) return std::nan("");
    if (q < 0) return -inf;
    if (q > 1) return inf;
    std::vector<bucket> buckets;
    for (std::size_t i = 0; i < cum.size(); ++i)
        buckets.push_back({i < bounds.size() ? bounds[i] : inf, static_cast<double>(cum[i])});
    if (buckets.empty() || !std::isinf(buckets.back().upper)) return std::nan("");
    double max = -inf;  // ensureMonotonic
    for (auto& b : buckets) {
        if (b.count > max)
            max = b.count;
        else if (b.count < max)
            b.count = max;
    }
    if (buckets.size() < 2) return std::nan("");
    const double observations = buckets.back().count;
    if (observations == 0) return std::nan("");
    double rank = q * observations;
    std::size_t b = 0;  // sort.Search(len(buckets)-1, count >= rank)
    while (b < buckets.size() - 1 && !(buckets[b].count >= rank)) ++b;
    if (b == buckets.size() - 1) return buckets[buckets.size() - 2].upper;
    if (b == 0 && buckets[0].upper <= 0) return buckets[0].upper;
    double start = 0;
    const double end = buckets[b].upper;
    double count = buckets[b].count;
    if (b > 0) {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    return start + (end - start) * (rank / count);
}

bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

TEST(StatusQuantile, EdgesAsPrometheus) {
    const std::vector<double> b = {0.1, 0.5, 1};
    EXPECT_TRUE(std::isnan(quantile(0.5, b, {0, 0, 0, 0})));  // no observations
    EXPECT_TRUE(std::isnan(quantile(0.5, {}, {5})));          // only +Inf: fewer than two buckets
    EXPECT_TRUE(std::isnan(quantile(0.5, b, {1, 2, 3})));     // sizes disagree
    EXPECT_EQ(quantile(0.5, b, {0, 0, 0, 7}), 1);             // all in +Inf: highest finite bound
    EXPECT_EQ(quantile(0.99, b, {0, 0, 0, 7}), 1);
    EXPECT_EQ(quantile(-0.1, b, {1, 1, 1, 1}), -inf);
    EXPECT_EQ(quantile(1.1, b, {1, 1, 1, 1}), inf);
    EXPECT_TRUE(std::isnan(quantile(std::nan(""), b, {1, 1, 1, 1})));
    EXPECT_DOUBLE_EQ(quantile(0.5, b, {2, 4, 4, 4}), 0.1);     // rank 2 ends bucket 0
    EXPECT_DOUBLE_EQ(quantile(0.75, b, {2, 4, 4, 4}), 0.3);    // half-way through (0.1, 0.5]
    EXPECT_DOUBLE_EQ(quantile(0.25, b, {4, 4, 4, 4}), 0.025);  // the lowest bucket starts at 0
    EXPECT_EQ(quantile(0.5, {-1, 0, 1}, {4, 4, 4, 4}), -1);    // a non-positive lowest bound is itself
    EXPECT_DOUBLE_EQ(quantile(0.5, b, {4, 2, 4, 4}), quantile(0.5, b, {4, 4, 4, 4}));  // ensureMonotonic
    EXPECT_TRUE(std::isnan(quantile(0, b, {0, 4, 4, 4})));  // 0/0 in an empty lowest bucket, as there
}

TEST(StatusQuantile, SweepMatchesPrometheusTranscription) {
    std::mt19937_64 rng(21);
    const std::vector<std::vector<double>> layouts = {
        {1}, {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, {-5, -1, 0, 1, 5}, {0, 1e-9, 1e9}, {3}};
    const double qs[] = {0, 1e-9, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
    std::size_t compared = 0;
    for (int round = 0; round < 4000; ++round) {
        const auto& bounds = layouts[round % layouts.size()];
        std::vector<std::uint64_t> cum(bounds.size() + 1);
        std::uint64_t c = 0;
        for (auto& x : cum) {
            const auto pick = rng() % 4;
            c += pick == 0 ? 0 : pick == 1 ? 1 : rng() % 1000;
            x = c;
        }
        if (round % 7 == 0 && cum.size() > 1) cum[rng() % (cum.size() - 1)] = rng() % 50;  // not monotonic
        for (const double q : qs) {
            const double got = quantile(q, bounds, cum);
            const double want = reference(q, bounds, cum);
            ASSERT_TRUE(same(got, want)) << "q=" << q << " round " << round << ": " << got << " vs " << want;
            ++compared;
        }
    }
    EXPECT_EQ(compared, 40000U);
}

// The cumulative counts of a real histogram after `values`.
std::vector<std::uint64_t> observed(const std::vector<double>& bounds, const std::vector<double>& values) {
    vitals::registry r;
    auto h = r.histogram<"q_seconds">("Q.", {bounds.data(), bounds.size()});
    for (const double v : values) (void)h.observe(v);
    const auto s = h.snapshot();
    const auto c = s.cumulative();
    return {c.begin(), c.end()};
}

TEST(StatusQuantile, WithinTheBucketOfTheTruePercentile) {
    std::mt19937_64 rng(2121);
    const std::vector<double> bounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    std::size_t checked = 0;
    for (int round = 0; round < 300; ++round) {
        std::vector<double> values;
        const std::size_t n = 1 + rng() % 2000;
        std::lognormal_distribution<double> latency(std::log(0.05 + 0.01 * (round % 30)), 0.3 + 0.1 * (round % 10));
        for (std::size_t i = 0; i < n; ++i) {
            double v = latency(rng);
            if (round % 5 == 0 && i % 3 == 0) v = bounds[rng() % bounds.size()];  // exactly on a boundary
            if (round % 11 == 0 && i % 17 == 0) v = inf;
            if (round % 13 == 0 && i % 19 == 0) v = std::nan("");  // refused by the histogram
            values.push_back(v);
        }
        const auto cum = observed(bounds, values);
        std::vector<double> kept;
        for (const double v : values)
            if (!std::isnan(v)) kept.push_back(v);
        std::sort(kept.begin(), kept.end());
        ASSERT_EQ(cum.back(), kept.size());
        for (const double q : {0.5, 0.95, 0.99}) {
            const double est = quantile(q, bounds, cum);
            // The true q-quantile: the ceil(q·n)-th smallest observation.
            const auto k = static_cast<std::size_t>(std::ceil(q * static_cast<double>(kept.size())));
            const double truth = kept[std::max<std::size_t>(k, 1) - 1];
            // The bucket holding it, whose width bounds the error.
            std::size_t b = 0;
            while (b < bounds.size() && truth > bounds[b]) ++b;
            if (b == bounds.size()) {
                EXPECT_EQ(est, bounds.back());  // in +Inf: the highest finite bound, below the truth
                EXPECT_LE(est, truth);
            } else {
                const double lo = b == 0 ? 0 : bounds[b - 1];
                EXPECT_GE(est, lo) << "q=" << q << " truth " << truth;
                EXPECT_LE(est, bounds[b]) << "q=" << q << " truth " << truth;
                EXPECT_LE(std::fabs(est - truth), bounds[b] - lo);
            }
            ++checked;
        }
    }
    EXPECT_EQ(checked, 900U);
}

TEST(StatusQuantile, InfiniteObservations) {
    const std::vector<double> bounds = {1, 2};
    // -Inf lands in the lowest bucket, which Prometheus takes to start at 0.
    const auto low = observed(bounds, {-inf, -inf, 1.5});
    EXPECT_DOUBLE_EQ(quantile(0.5, bounds, low), 0.75);
    const auto high = observed(bounds, {inf, inf, inf});
    EXPECT_EQ(quantile(0.5, bounds, high), 2);
    EXPECT_TRUE(std::isnan(quantile(0.5, bounds, observed(bounds, {std::nan("")}))));
}

}  // namespace
