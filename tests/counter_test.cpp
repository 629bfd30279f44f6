// Tests for vitals/core/counter.hpp.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

using namespace vitals;

TEST(Counter, IncrementsAndReads) {
    registry r;
    auto c = r.counter<"events_total">("Events.");
    EXPECT_EQ(c.value(), 0);
    c.inc();
    EXPECT_TRUE(c.inc(41));
    EXPECT_EQ(c.value(), 42);
    EXPECT_TRUE(c.exact_value().is_integer());
}

TEST(Counter, RefusesNegativeNaNAndInfinity) {
    registry r;
    auto c = r.counter<"x_total">("x");
    c.inc(5);
    EXPECT_FALSE(c.inc(-1));
    EXPECT_FALSE(c.inc(-0.5));
    EXPECT_FALSE(c.inc(std::nan("")));
    EXPECT_FALSE(c.inc(std::numeric_limits<double>::infinity()));
    EXPECT_EQ(c.value(), 5);
    EXPECT_TRUE(c.inc(0));
    EXPECT_EQ(c.value(), 5);
}

TEST(Counter, FractionalIncrements) {
    registry r;
    auto c = r.counter<"seconds_total">("s");
    EXPECT_TRUE(c.inc(0.25));
    EXPECT_TRUE(c.inc(2.0));  // integral double goes to the exact integer part
    c.inc(1);
    EXPECT_DOUBLE_EQ(c.value(), 3.25);
    EXPECT_FALSE(c.exact_value().is_integer());
    EXPECT_EQ(c.exact_value().low, 3u);
}

TEST(Counter, ExactPast2To53) {
    registry r;
    auto c = r.counter<"big_total">("b");
    const std::uint64_t big = (1ULL << 53) + 1;  // not representable as a double
    c.inc(big);
    c.inc(2);
    EXPECT_EQ(c.exact_value().low, big + 2);
    EXPECT_NE(render_text(r).find("big_total 9007199254740995\n"), std::string::npos);
}

TEST(Counter, ExactPast2To64) {
    registry r;
    auto c = r.counter<"huge_total">("h");
    c.inc(std::numeric_limits<std::uint64_t>::max());
    c.inc(std::numeric_limits<std::uint64_t>::max());
    c.inc(3);
    const auto v = c.exact_value();
    EXPECT_EQ(v.high, 2u);  // 2 * (2^64 - 1) + 3 = 2^65 + 1
    EXPECT_EQ(v.low, 1u);
    EXPECT_NE(render_text(r).find("huge_total 36893488147419103233\n"), std::string::npos);
}

TEST(Counter, ManyThreadsExactTotalIncludingExitedThreads) {
    registry r;
    auto c = r.counter<"work_total">("w");
    constexpr int threads = 8, per_thread = 100000;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) c.inc();
        });
    for (auto& t : ts) t.join();  // every writer has exited: its cells were folded
    EXPECT_EQ(c.exact_value().low, std::uint64_t{threads} * per_thread);
}

TEST(Counter, ThreadsComingAndGoingLoseNothing) {
    registry r;
    auto& f = r.counter<"churn_total", labels<"k">>("c");
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop.load()) (void)render_text(r);
    });
    for (int round = 0; round < 50; ++round) {
        std::vector<std::thread> ts;
        for (int t = 0; t < 4; ++t)
            ts.emplace_back([&, t] {
                for (int i = 0; i < 1000; ++i) f.labels(t % 2 ? "odd" : "even").inc();
            });
        for (auto& t : ts) t.join();
    }
    stop = true;
    reader.join();
    EXPECT_EQ(f.with("odd").value() + f.with("even").value(), 50 * 4 * 1000);
}
