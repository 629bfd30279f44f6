// Tests for vitals/core/histogram.hpp.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

using namespace vitals;

TEST(Histogram, BucketsAreUpperInclusiveAndCumulative) {
    registry r;
    auto h = r.histogram<"latency_seconds">("l", std::vector<double>{0.1, 1, 10});
    for (double v : {0.05, 0.1, 0.5, 1.0, 5.0, 50.0}) EXPECT_TRUE(h.observe(v));
    const auto s = h.snapshot();
    ASSERT_EQ(s.cumulative().size(), 4u);
    EXPECT_EQ(s.cumulative()[0], 2u);  // 0.05, 0.1 (le is inclusive)
    EXPECT_EQ(s.cumulative()[1], 4u);
    EXPECT_EQ(s.cumulative()[2], 5u);
    EXPECT_EQ(s.cumulative()[3], 6u);
    EXPECT_EQ(s.count(), 6u);
    EXPECT_DOUBLE_EQ(s.sum(), 56.65);
}

TEST(Histogram, NaNRefusedInfinitiesCounted) {
    registry r;
    auto h = r.histogram<"h">("h", std::vector<double>{1});
    EXPECT_FALSE(h.observe(std::nan("")));
    EXPECT_TRUE(h.observe(std::numeric_limits<double>::infinity()));
    EXPECT_TRUE(h.observe(-std::numeric_limits<double>::infinity()));
    const auto s = h.snapshot();
    EXPECT_EQ(s.cumulative()[0], 1u);
    EXPECT_EQ(s.count(), 2u);
    EXPECT_TRUE(std::isnan(s.sum()));  // +Inf + -Inf
}

TEST(Histogram, DurationsInSeconds) {
    registry r;
    auto h = r.histogram<"d_seconds">("d", http_duration_buckets);
    h.observe(std::chrono::milliseconds(30));
    EXPECT_DOUBLE_EQ(h.snapshot().sum(), 0.03);
    EXPECT_EQ(h.snapshot().cumulative()[2], 1u);  // le=0.05
}

TEST(Histogram, InvalidBucketsAreRejectedAtRunTime) {
    registry r;
    auto bad = [&](std::vector<double> b) { return [&r, b] { (void)r.histogram<"bad">("b", b); }; };
    EXPECT_THROW(bad({})(), invalid_argument_error);
    EXPECT_THROW(bad({1, 0.5})(), invalid_argument_error);
    EXPECT_THROW(bad({1, 1})(), invalid_argument_error);
    EXPECT_THROW(bad({0.1, std::nan("")})(), invalid_argument_error);
    EXPECT_THROW(bad({0.1, INFINITY})(), invalid_argument_error);
    EXPECT_THROW(bad({-INFINITY, 0.1})(), invalid_argument_error);
    EXPECT_EQ(r.family_count(), 0u);
}

TEST(Histogram, BucketHelpers) {
    const auto as_vector = [](const bucket_list& b) { return std::vector<double>(b.begin(), b.end()); };
    EXPECT_EQ(as_vector(linear_buckets(1, 2, 3)), (std::vector<double>{1, 3, 5}));
    EXPECT_EQ(as_vector(exponential_buckets(1, 10, 3)), (std::vector<double>{1, 10, 100}));
    EXPECT_THROW((void)exponential_buckets(0, 2, 3), invalid_argument_error);
}

TEST(Histogram, ManyBucketsUseBinarySearch) {
    registry r;
    auto h = r.histogram<"fine">("f", linear_buckets(1, 1, 100));
    for (int i = 1; i <= 100; ++i) h.observe(i);
    const auto s = h.snapshot();
    for (int i = 0; i < 100; ++i)
        EXPECT_EQ(s.cumulative()[static_cast<std::size_t>(i)], static_cast<std::uint64_t>(i + 1));
}

// Every render taken while writers observe must be self-consistent: buckets non-decreasing and
// the +Inf bucket equal to _count. Totals are exact once the writers stop.
TEST(Histogram, RendersStayConsistentUnderConcurrentObserve) {
    registry r;
    auto& f = r.histogram<"req_seconds", labels<"route">>("r", http_duration_buckets);
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    constexpr int per_thread = 50000;
    for (int t = 0; t < 3; ++t)
        writers.emplace_back([&, t] {
            auto h = f.with(t == 0 ? "/a" : "/b");
            for (int i = 0; i < per_thread; ++i) h.observe((i % 1000) / 100.0);
        });
    std::atomic<int> renders{0};
    std::thread reader([&] {
        do {  // at least once, however fast the writers are
            for (const char* route : {"/a", "/b"}) {
                const auto s = f.with(route).snapshot();
                for (std::size_t i = 1; i < s.cumulative().size(); ++i)
                    ASSERT_LE(s.cumulative()[i - 1], s.cumulative()[i]);
            }
            (void)render_text(r);
            ++renders;
        } while (!stop.load());
    });
    for (auto& w : writers) w.join();
    stop = true;
    reader.join();
    EXPECT_GT(renders.load(), 0);
    EXPECT_EQ(f.with("/a").snapshot().count(), std::uint64_t{per_thread});
    EXPECT_EQ(f.with("/b").snapshot().count(), std::uint64_t{2 * per_thread});
}
