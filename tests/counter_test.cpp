// Tests for vitals/core/counter.hpp.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
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

namespace {

__extension__ typedef unsigned __int128 u128;

// The exact decimal expansion of n + f (f >= 0 finite), parsed by strtod: strtod rounds exactly,
// so this is the double every consumer that parses vitals' exact text gets.
double reference_sum(u128 n, double f) {
    char fb[1200];
    std::snprintf(fb, sizeof fb, "%.1100f", f);  // every double has a finite decimal expansion
    const std::string fs(fb);
    const auto dot = fs.find('.');
    const std::string ip = fs.substr(0, dot), fp = fs.substr(dot);
    std::string ns;
    for (u128 x = n; x; x /= 10) ns.insert(ns.begin(), static_cast<char>('0' + static_cast<int>(x % 10)));
    if (ns.empty()) ns = "0";
    std::string sum;
    int carry = 0;
    for (std::size_t i = 0; i < ip.size() || i < ns.size() || carry; ++i) {
        int d = carry;
        if (i < ip.size()) d += ip[ip.size() - 1 - i] - '0';
        if (i < ns.size()) d += ns[ns.size() - 1 - i] - '0';
        sum.insert(sum.begin(), static_cast<char>('0' + d % 10));
        carry = d / 10;
    }
    return std::strtod((sum + fp).c_str(), nullptr);
}

}  // namespace

// The cases: words rounded one by one were an ulp off.
TEST(Counter, ValueIsTheExactTotalCorrectlyRounded) {
    registry r;
    auto a = r.counter<"a_total">("A.");
    a.inc(std::numeric_limits<std::uint64_t>::max());
    a.inc((std::uint64_t{1} << 63) + 6144);
    const u128 exact_a = u128{std::numeric_limits<std::uint64_t>::max()} + (u128{1} << 63) + 6144;
    EXPECT_EQ(a.value(), reference_sum(exact_a, 0));
    auto b = r.counter<"b_total">("B.");
    b.inc(std::uint64_t{9007199254740993});
    b.inc(0.5);
    EXPECT_EQ(b.value(), reference_sum(9007199254740993, 0.5));
    EXPECT_EQ(b.value(), 9007199254740994.0);  // 2^53 + 1.5 rounds up, not to even
}

// A sweep against exact decimal arithmetic: integer parts across the 128-bit range, fractions
// across exponents, and values placed exactly on and next to rounding ties.
TEST(Counter, CorrectRoundingSweep) {
    std::uint64_t state = 0x9E3779B97F4A7C15ULL;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    int mismatches = 0;
    for (int t = 0; t < 30000; ++t) {
        u128 n = (u128{next()} << 64 | next()) >> (next() % 128);
        double f = std::ldexp(static_cast<double>(next() >> 11), -53 + static_cast<int>(next() % 160) - 80);
        switch (t % 4) {
            case 0:
                f = static_cast<double>(next() % 4) * 0.5;
                break;
            case 1: {  // exactly half an ulp above a representable value, plus or minus a little
                const int shift = 1 + static_cast<int>(next() % 70);
                n = (u128{next() | (std::uint64_t{1} << 52)} << shift) + (u128{1} << (shift - 1));
                f = next() % 2 ? 0.0 : std::ldexp(1.0, -1 - static_cast<int>(next() % 60));
                break;
            }
            default:
                break;
        }
        const counter_value v{static_cast<std::uint64_t>(n >> 64), static_cast<std::uint64_t>(n), f};
        if (v.as_double() != reference_sum(n, f) && ++mismatches <= 5)
            ADD_FAILURE() << "n>>64=" << static_cast<std::uint64_t>(n >> 64) << " low=" << static_cast<std::uint64_t>(n)
                          << " f=" << f << ": " << v.as_double() << " vs " << reference_sum(n, f);
    }
    EXPECT_EQ(mismatches, 0);
}
