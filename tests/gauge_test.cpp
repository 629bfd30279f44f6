// Tests for vitals/core/gauge.hpp.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>

#include <chrono>
#include <cmath>
#include <thread>
#include <vector>

using namespace vitals;

TEST(Gauge, SetIncDec) {
    registry r;
    auto g = r.gauge<"temperature_celsius">("t");
    g.set(21.5);
    EXPECT_EQ(g.value(), 21.5);
    g.inc();
    g.inc(2.5);
    g.dec(4);
    EXPECT_EQ(g.value(), 21);
    g.set(-3);  // a set after deltas accounts for them
    EXPECT_EQ(g.value(), -3);
    g.inc();
    EXPECT_EQ(g.value(), -2);
}

TEST(Gauge, RefusesNonFiniteDeltasButSetsAnything) {
    registry r;
    auto g = r.gauge<"g">("g");
    g.set(1);
    EXPECT_FALSE(g.inc(std::nan("")));
    EXPECT_FALSE(g.dec(INFINITY));
    EXPECT_EQ(g.value(), 1);
    g.set(std::nan(""));
    EXPECT_TRUE(std::isnan(g.value()));
    g.set(INFINITY);
    EXPECT_EQ(g.value(), INFINITY);
    EXPECT_NE(render_text(r).find("g +Inf\n"), std::string::npos);
}

TEST(Gauge, SetToCurrentTime) {
    registry r;
    auto g = r.gauge<"last_seen_seconds">("t");
    g.set_to_current_time();
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_NEAR(g.value(), now, 5.0);
}

TEST(Gauge, IncOnOneThreadDecOnAnother) {
    registry r;
    auto g = r.gauge<"in_flight">("i");
    std::thread a([&] {
        for (int i = 0; i < 10000; ++i) g.inc();
    });
    std::thread b([&] {
        for (int i = 0; i < 4000; ++i) g.dec();
    });
    a.join();
    b.join();
    EXPECT_EQ(g.value(), 6000);
}

// A gauge is exactly its updates applied in order, as client_golang's: -0 is kept and no
// rounding differs from a sequential sum (per-CPU deltas summed later would round differently).
TEST(Gauge, ValueIsTheSequentialSumOfItsUpdates) {
    registry r;
    auto g = r.gauge<"balance">("Balance.");
    g.set(-0.0);
    EXPECT_TRUE(std::signbit(g.value()));
    EXPECT_NE(render_text(r).find("balance -0\n"), std::string::npos) << render_text(r);
    g.set(1e9);
    g.inc(-1e9);
    g.inc(0.001);
    EXPECT_EQ(g.value(), 0.001);

    std::uint64_t state = 0x2545F4914F6CDD1DULL;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    auto value_of = [&] {
        const double mags[] = {1e-300, 1e-9, 0.001, 0.1, 1, 3, 1e9, 9007199254740993.0, 1e300};
        const double m = mags[next() % (sizeof mags / sizeof mags[0])];
        return (next() % 2 ? -m : m) * static_cast<double>(next() % 1000 + 1) / 7.0;
    };
    for (int round = 0; round < 200; ++round) {
        double expected = 0;
        g.set(0);
        for (int i = 0; i < 500; ++i) {
            const double v = value_of();
            switch (next() % 4) {
                case 0:
                    g.set(v);
                    expected = v;
                    break;
                case 1:
                    g.inc(v);
                    expected += v;
                    break;
                case 2:
                    g.dec(v);
                    expected -= v;
                    break;
                default:
                    g.inc();
                    expected += 1;
                    break;
            }
        }
        ASSERT_EQ(g.value(), expected) << "round " << round;
    }
}
