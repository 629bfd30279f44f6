// core/timer.hpp: scope guards that time any code into a histogram or summary and count work in
// progress on a gauge, and the timed() wrapper. What matters: exactly one observation per timed
// scope on every way out (return, exception, move), none after cancel(), and the gauge back where
// it was. Durations are checked only from below (a sleep of 5 ms takes at least 5 ms).
#include <vitals/core/summary.hpp>
#include <vitals/core/timer.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

using namespace vitals;
using namespace std::chrono_literals;

namespace {
struct fixture : ::testing::Test {
    registry r;
    histogram latency = r.histogram<"job_seconds">("Job time.", {0.001, 0.01, 0.1, 1});
    gauge running = r.gauge<"jobs_running">("Jobs running.");
};
}  // namespace

TEST_F(fixture, ScopedTimerObservesOncePerScope) {
    {
        scoped_timer t(latency);
        std::this_thread::sleep_for(5ms);
    }
    EXPECT_EQ(latency.snapshot().count(), 1u);
    EXPECT_GE(latency.snapshot().sum(), 0.005);

    scoped_timer t(latency);
    const double s = t.stop();
    EXPECT_GE(s, 0.0);
    EXPECT_EQ(t.stop(), 0.0);  // once
    EXPECT_EQ(latency.snapshot().count(), 2u);
}

TEST_F(fixture, ScopedTimerObservesWhenTheScopeThrowsAndNotWhenCancelled) {
    try {
        scoped_timer t(latency);
        throw std::runtime_error("job failed");
    } catch (const std::runtime_error&) {}
    EXPECT_EQ(latency.snapshot().count(), 1u);
    {
        scoped_timer t(latency);
        t.cancel();
    }
    EXPECT_EQ(latency.snapshot().count(), 1u);
}

// Moved across an "asynchronous wait" (into a queued callback): one observation, when the
// callback ends it, and none from the moved-from timer.
TEST_F(fixture, MovedTimerObservesOnce) {
    std::vector<std::function<void()>> queue;
    {
        scoped_timer t(latency);
        queue.push_back([timer = std::make_shared<scoped_timer<histogram>>(std::move(t))] { (void)timer->stop(); });
    }
    EXPECT_EQ(latency.snapshot().count(), 0u);
    queue.front()();
    EXPECT_EQ(latency.snapshot().count(), 1u);
    queue.clear();
    EXPECT_EQ(latency.snapshot().count(), 1u);
}

TEST_F(fixture, WorksWithSummariesAndLabelledHandles) {
    auto rpc = r.summary<"rpc_seconds">("RPC time.");
    auto& by_peer = r.histogram<"peer_seconds", labels<"peer">>("Per peer.", {0.1, 1});
    {
        scoped_timer a(rpc);
        scoped_timer b(by_peer.with("db-1"));  // a handle; labels() gives a scope-bound reference
    }
    EXPECT_EQ(by_peer.with("db-1").snapshot().count(), 1u);
    const std::string text = render_text(r);
    EXPECT_NE(text.find("rpc_seconds_count 1\n"), std::string::npos) << text;
}

TEST_F(fixture, InprogressGuardCountsWorkInAndOut) {
    {
        inprogress_guard a(running);
        inprogress_guard b(running);
        EXPECT_EQ(running.value(), 2);
        b.done();
        EXPECT_EQ(running.value(), 1);
    }
    EXPECT_EQ(running.value(), 0);
    try {
        inprogress_guard g(running);
        throw std::runtime_error("x");
    } catch (const std::runtime_error&) {}
    EXPECT_EQ(running.value(), 0);
    // Moved: counted out once, by the guard that ends last.
    std::vector<inprogress_guard<gauge>> held;
    {
        inprogress_guard g(running);
        held.push_back(std::move(g));
    }
    EXPECT_EQ(running.value(), 1);
    held.clear();
    EXPECT_EQ(running.value(), 0);
}

TEST_F(fixture, TimedReturnsTheResultAndObservesEvenOnThrow) {
    const int rows = timed(
        latency, [](int n) { return n * 2; }, 21);
    EXPECT_EQ(rows, 42);
    EXPECT_EQ(latency.snapshot().count(), 1u);
    EXPECT_THROW(timed(latency, []() -> int { throw std::runtime_error("query failed"); }), std::runtime_error);
    EXPECT_EQ(latency.snapshot().count(), 2u);
    int counter = 0;
    timed(latency, [&counter] { ++counter; });  // void works too
    EXPECT_EQ(counter, 1);
    EXPECT_EQ(latency.snapshot().count(), 3u);
}

// Many threads timing into one series: every scope counted.
TEST_F(fixture, ConcurrentTimersAreAllCounted) {
    std::vector<std::thread> ts;
    for (int i = 0; i < 8; ++i)
        ts.emplace_back([this] {
            for (int k = 0; k < 1000; ++k) {
                scoped_timer t(latency);
                inprogress_guard g(running);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(latency.snapshot().count(), 8000u);
    EXPECT_EQ(running.value(), 0);
}
