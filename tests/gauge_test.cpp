// Tests for vitals/core/gauge.hpp.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

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
