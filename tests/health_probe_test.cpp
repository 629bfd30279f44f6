// Tests for vitals/health/checker.hpp, probe.hpp and liveness.hpp.
//
// Timing assertions use generous upper bounds: they prove "did not wait for
// the slow thing" (seconds apart), never exact durations.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <filesystem>
#include <optional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "vitals/health/checker.hpp"
#include "vitals/health/liveness.hpp"
#include "vitals/health/metrics.hpp"
#include "vitals/exposition/text.hpp"
#include "support/promtool.hpp"
#include "vitals/health/probe.hpp"

using namespace std::chrono_literals;
namespace h = vitals::health;

namespace {

// Checker type written the "long" way, to prove the concept accepts classes.
struct fixed_checker {
    std::string n;
    h::status s;
    [[nodiscard]] std::string_view name() const { return n; }
    h::check_result check(h::deadline_t) { return h::check_result{s, "fixed", {}}; }
};

struct no_name {
    h::check_result check(h::deadline_t) { return {}; }
};

struct wrong_return {
    [[nodiscard]] std::string_view name() const { return "x"; }
    int check(h::deadline_t) { return 0; }
};

// The other shapes docs/health.md promises for classes: a bool, and no deadline.
struct bool_checker {
    bool up = false;
    [[nodiscard]] std::string_view name() const { return "bool"; }
    bool check(h::deadline_t) const { return up; }
};
struct no_deadline_checker {
    [[nodiscard]] std::string name() const { return "no_deadline"; }
    h::check_result check() { return h::degraded("slow replica"); }
};
struct no_deadline_bool_checker {
    [[nodiscard]] const char* name() const { return "no_deadline_bool"; }
    bool check() { return true; }
};

static_assert(h::checker<fixed_checker>);
static_assert(h::checker<bool_checker>);
static_assert(h::checker<no_deadline_checker>);
static_assert(h::checker<no_deadline_bool_checker>);
static_assert(!h::checker<no_name>);
static_assert(!h::checker<wrong_return>);
static_assert(h::checker<decltype(h::make_checker("a", [] { return true; }))>);
static_assert(h::checker<decltype(h::make_checker("a", [](h::deadline_t) { return h::healthy(); }))>);
static_assert(h::check_function<bool (*)()>);
static_assert(!h::check_function<int (*)(int)>);

// Lets a check "hang" until the test releases it (or 10 s pass). The flag is
// shared with the check threads, which may outlive the test body.
struct hang_guard {
    std::shared_ptr<std::atomic<bool>> released = std::make_shared<std::atomic<bool>>(false);

    // A callable that blocks until released; capture it by value in checks.
    [[nodiscard]] auto waiter() const {
        return [r = released] {
            const auto until = h::clock::now() + 10s;
            while (!*r && h::clock::now() < until) std::this_thread::sleep_for(5ms);
        };
    }
    void release() { *released = true; }
    hang_guard() = default;
    hang_guard(const hang_guard&) = delete;
    hang_guard& operator=(const hang_guard&) = delete;
    ~hang_guard() { release(); }
};

// Threads of this process, from /proc.
std::size_t thread_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
    return n;
}

double seconds_since(h::clock::time_point t0) { return std::chrono::duration<double>(h::clock::now() - t0).count(); }

}  // namespace

TEST(HealthChecker, LambdaAdaptersReturnResults) {
    auto b = h::make_checker("flag", [] { return false; });
    EXPECT_EQ(b.name(), "flag");
    const auto r = b.check(h::clock::now() + 1s);
    EXPECT_EQ(r.status, h::status::unhealthy);
    EXPECT_FALSE(r.ok());

    h::deadline_t seen{};
    auto d = h::make_checker("deadline", [&](h::deadline_t dl) {
        seen = dl;
        return h::degraded("slow");
    });
    const auto dl = h::clock::now() + 123ms;
    const auto r2 = d.check(dl);
    EXPECT_EQ(seen, dl);
    EXPECT_EQ(r2.status, h::status::degraded);
    EXPECT_TRUE(r2.ok());
    EXPECT_EQ(r2.message, "slow");
}

TEST(HealthChecker, StatusHelpers) {
    EXPECT_EQ(h::to_string(h::status::healthy), "healthy");
    EXPECT_EQ(h::to_string(h::status::degraded), "degraded");
    EXPECT_EQ(h::to_string(h::status::unhealthy), "unhealthy");
    EXPECT_EQ(h::worst(h::status::degraded, h::status::healthy), h::status::degraded);
    EXPECT_EQ(h::worst(h::status::degraded, h::status::unhealthy), h::status::unhealthy);
}

TEST(HealthProbe, EmptyProbeIsReady) {
    h::probe p;
    const auto r = p.check();
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.status, h::status::healthy);
    EXPECT_TRUE(r.checks.empty());
    EXPECT_TRUE(p.run_now().ready);  // nothing to run: answers at once
}

TEST(HealthProbe, RegistersCheckersAndCallables) {
    h::probe p;
    p.add(fixed_checker{"db", h::status::healthy});
    p.add("cache", [] { return true; });
    p.add("queue", [](h::deadline_t) { return h::healthy("fine"); });
    EXPECT_TRUE(p.contains("cache"));
    EXPECT_FALSE(p.contains("nope"));
    EXPECT_EQ(p.names(), (std::vector<std::string>{"db", "cache", "queue"}));
    const auto r = p.run_now();
    ASSERT_EQ(r.checks.size(), 3u);
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.checks[2].result.message, "fine");
    for (const auto& c : r.checks) EXPECT_FALSE(c.pending);
}

TEST(HealthProbe, AcceptsEveryCheckerShape) {
    h::probe p;
    p.add(bool_checker{false}, {.critical = false});
    p.add(no_deadline_checker{});
    p.add(no_deadline_bool_checker{});
    const auto r = p.run_now();
    ASSERT_EQ(r.checks.size(), 3u);
    EXPECT_EQ(r.checks[0].result.status, h::status::unhealthy);
    EXPECT_EQ(r.checks[0].result.message, "check returned false");
    EXPECT_EQ(r.checks[1].result.status, h::status::degraded);
    EXPECT_EQ(r.checks[1].result.message, "slow replica");
    EXPECT_EQ(r.checks[2].result.status, h::status::healthy);
    EXPECT_TRUE(r.ready);  // the failing one is not critical, degraded is still ready
    EXPECT_EQ(r.status, h::status::degraded);
}

TEST(HealthProbe, RejectsBadNamesAndOptions) {
    h::probe p;
    p.add("ok", [] { return true; });
    EXPECT_THROW(p.add("", [] { return true; }), vitals::invalid_argument_error);
    EXPECT_THROW(p.add("a/b", [] { return true; }), vitals::invalid_argument_error);
    EXPECT_THROW(p.add("ok", [] { return true; }), vitals::invalid_argument_error);
    EXPECT_THROW(p.add("zero", [] { return true; }, {.timeout = 0s}), vitals::invalid_argument_error);
    EXPECT_THROW(p.add("never", [] { return true; }, {.interval = 0s}), vitals::invalid_argument_error);
}

// Until the first run completes the check is pending, which counts as not ready, with a reason.
TEST(HealthProbe, NotReadyUntilTheFirstRunCompletes) {
    hang_guard guard;
    h::probe p;
    p.add("slow_start",
          [w = guard.waiter()] {
              w();
              return true;
          },
          {.timeout = 10s});
    const auto r = p.check();
    EXPECT_FALSE(r.ready);
    ASSERT_EQ(r.checks.size(), 1u);
    EXPECT_TRUE(r.checks[0].pending);
    EXPECT_NE(r.checks[0].result.message.find("pending"), std::string::npos);
    guard.release();
    EXPECT_TRUE(p.run_now().ready);
}

// The point of the design: an answer never waits for a check, however long the check takes.
TEST(HealthProbe, AnswersNeverWaitForARunningCheck) {
    hang_guard guard;
    // Shared with the run, which may outlive the test body (it is left behind while hung).
    auto runs = std::make_shared<std::atomic<int>>(0);
    h::probe p;
    p.add("hung",
          [runs, w = guard.waiter()] {
              ++*runs;
              w();
              return true;
          },
          {.timeout = 30s});
    // Wait (bounded) for the run to start, then ask 1000 times: every answer is immediate.
    for (int i = 0; i < 2000 && runs->load() == 0; ++i) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(runs->load(), 1);
    const auto t0 = h::clock::now();
    for (int i = 0; i < 1000; ++i) {
        const auto r = p.check();
        EXPECT_FALSE(r.ready);
    }
    EXPECT_LT(seconds_since(t0), 5.0);  // 1000 answers; a single wait would be 30 s
    EXPECT_EQ(runs->load(), 1);         // answers start no runs
}

TEST(HealthProbe, HangingCheckIsReportedAsTimeoutAtItsDeadline) {
    hang_guard guard;
    std::atomic<int> timeouts{0};
    h::probe_options o;
    o.on_result = [&](std::string_view, const h::check_result& r) {
        if (r.message == h::timeout_message) ++timeouts;
    };
    h::probe p(std::move(o));
    p.add("fast", [] { return true; }, {.timeout = 1s});
    p.add("hang",
          [w = guard.waiter()] {
              w();
              return true;
          },
          {.timeout = 100ms});
    const auto t0 = h::clock::now();
    const auto r = p.run_now();  // waits for the timeout, not for the hung run
    EXPECT_LT(seconds_since(t0), 5.0);
    EXPECT_FALSE(r.ready);
    ASSERT_NE(r.find("hang"), nullptr);
    EXPECT_TRUE(r.find("hang")->timed_out);
    EXPECT_EQ(r.find("hang")->result.message, h::timeout_message);
    EXPECT_TRUE(r.find("fast")->result.ok());
    // The scheduler reported the timeout itself (metrics stay current with no probe traffic).
    for (int i = 0; i < 2000 && timeouts.load() == 0; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_EQ(timeouts.load(), 1);
}

TEST(HealthProbe, AStuckCheckIsNotStartedAgain) {
    hang_guard guard;
    // Shared with the run, which may outlive the test body (it is left behind while hung).
    auto runs = std::make_shared<std::atomic<int>>(0);
    h::probe p;
    p.add("stuck",
          [runs, w = guard.waiter()] {
              ++*runs;
              w();
              return true;
          },
          {.timeout = 20ms, .interval = 10ms});
    for (int i = 0; i < 5; ++i) {
        const auto r = p.run_now();
        EXPECT_FALSE(r.ready);
        EXPECT_TRUE(r.checks.at(0).timed_out);
    }
    EXPECT_EQ(runs->load(), 1);
    guard.release();
    // Once the run returns (late: still a timeout), the next one starts and passes.
    bool passed = false;
    const auto until = h::clock::now() + 5s;
    while (!passed && h::clock::now() < until) {
        passed = p.run_now().ready;
        if (!passed) std::this_thread::sleep_for(5ms);
    }
    EXPECT_TRUE(passed);
    EXPECT_GE(runs->load(), 2);
}

TEST(HealthProbe, LateResultIsATimeoutNotASuccess) {
    h::probe p;
    p.add("slow",
          [] {
              std::this_thread::sleep_for(150ms);
              return true;
          },
          {.timeout = 50ms, .interval = 1h});
    EXPECT_FALSE(p.run_now().ready);
    // Let the late run return; its success must not be recorded.
    std::this_thread::sleep_for(250ms);
    const auto r = p.check();
    EXPECT_FALSE(r.ready);
    EXPECT_TRUE(r.checks.at(0).timed_out);
}

TEST(HealthProbe, ThrowingCheckIsUnhealthyWithMessage) {
    h::probe p;
    p.add("boom", []() -> bool { throw std::runtime_error("kaput"); });
    const auto r = p.run_now();
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.checks.at(0).result.message, "kaput");
}

// Checks run on their interval with no answers asked for; the result's age says how old it is.
TEST(HealthProbe, RunsOnItsIntervalWithoutProbeTraffic) {
    std::atomic<int> runs{0};
    h::probe p;
    p.add("db",
          [&] {
              ++runs;
              return true;
          },
          {.timeout = 1s, .interval = 20ms});
    for (int i = 0; i < 5000 && runs.load() < 5; ++i) std::this_thread::sleep_for(1ms);
    EXPECT_GE(runs.load(), 5);
    const auto r = p.check();
    EXPECT_TRUE(r.ready);
    EXPECT_LT(r.checks.at(0).age, 1s);
}

TEST(HealthProbe, AResultOlderThanItsBoundCountsAsFailed) {
    hang_guard guard;
    // Shared with the run, which may outlive the test body (it is left behind while hung).
    auto runs = std::make_shared<std::atomic<int>>(0);
    h::probe p;
    // The first run passes at once; the second hangs (within its long timeout), so the first
    // result ages past max_age while nothing new arrives.
    p.add("db",
          [runs, w = guard.waiter()] {
              if (++*runs > 1) w();
              return true;
          },
          {.timeout = 30s, .interval = 10ms, .max_age = 100ms});
    EXPECT_TRUE(p.run_now().ready);
    bool stale = false;
    for (int i = 0; i < 3000 && !stale; ++i) {
        std::this_thread::sleep_for(1ms);
        const auto r = p.check();
        stale = r.checks.at(0).stale;
        if (stale) {
            EXPECT_FALSE(r.ready);
            EXPECT_GT(r.checks.at(0).age, 100ms);
        }
    }
    EXPECT_TRUE(stale);
}

TEST(HealthProbe, ConcurrentAnswersAreConsistent) {
    std::atomic<int> runs{0};
    h::probe p;
    p.add("db",
          [&] {
              ++runs;
              return true;
          },
          {.timeout = 1s, .interval = 5ms});
    (void)p.run_now();
    std::atomic<int> ready_count{0};
    std::vector<std::thread> ts;
    for (int i = 0; i < 16; ++i)
        ts.emplace_back([&] {
            for (int k = 0; k < 200; ++k)
                if (p.check().ready) ++ready_count;
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(ready_count.load(), 16 * 200);
}

TEST(HealthProbe, CriticalAndNonCriticalFailures) {
    h::probe p;
    p.add("cache", [] { return false; }, {.critical = false});
    auto r = p.run_now();
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.status, h::status::degraded);

    h::probe q;
    q.add("db", [] { return false; });
    r = q.run_now();
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(r.status, h::status::unhealthy);

    h::probe d;
    d.add("db", [] { return h::degraded("replica lag"); });
    r = d.run_now();
    EXPECT_TRUE(r.ready);
    EXPECT_EQ(r.status, h::status::degraded);
}

TEST(HealthProbe, ExcludedChecksAreLeftOutOfTheAnswer) {
    h::probe p;
    p.add("db", [] { return true; });
    p.add("flaky", [] { return false; });
    (void)p.run_now();
    const auto r = p.check({"flaky"});
    EXPECT_TRUE(r.ready);
    ASSERT_EQ(r.checks.size(), 1u);
    EXPECT_EQ(r.checks[0].name, "db");
    EXPECT_EQ(r.excluded, (std::vector<std::string>{"flaky"}));
}

TEST(HealthProbe, CheckOneReportsOnlyThatCheck) {
    h::probe p;
    p.add("db", [] { return true; });
    p.add("other", [] { return false; });
    (void)p.run_now();
    const auto one = p.check_one("db");
    ASSERT_TRUE(one.has_value());
    EXPECT_EQ(one->name, "db");
    EXPECT_TRUE(one->result.ok());
    EXPECT_FALSE(p.check_one("nope").has_value());
}

TEST(HealthProbe, ObserverSeesEachCompletedRunOnce) {
    std::mutex mu;
    std::vector<std::string> seen;
    h::probe_options o;
    o.on_result = [&](std::string_view name, const h::check_result& r) {
        std::lock_guard lock(mu);
        seen.push_back(std::string(name) + (r.ok() ? ":ok" : ":fail"));
    };
    h::probe p(std::move(o));
    p.add("db", [] { return true; }, {.interval = 1h});
    (void)p.run_now();
    for (int i = 0; i < 10; ++i) (void)p.check();  // answers are not runs
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, (std::vector<std::string>{"db:ok"}));
}

TEST(HealthProbe, AsyncRunCallsBackWithFreshResults) {
    std::atomic<int> value{0};
    h::probe p;
    p.add("counter", [&] { return h::healthy(std::to_string(value.load())); }, {.interval = 1h});
    (void)p.run_now();
    value = 7;
    std::mutex mu;
    std::condition_variable cv;
    std::optional<h::readiness_report> got;
    p.async_run([&](h::readiness_report r) {
        std::lock_guard lock(mu);
        got = std::move(r);
        cv.notify_all();
    });
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return got.has_value(); }));
    EXPECT_EQ(got->checks.at(0).result.message, "7");
}

// Stopping waits at most shutdown_grace for a hung run, then leaves it behind; pending
// async_run callbacks are answered.
TEST(HealthProbe, StopIsBoundedWithAHungCheck) {
    hang_guard guard;
    std::atomic<bool> answered{false};
    h::probe_options o;
    o.shutdown_grace = 100ms;
    auto p = std::make_unique<h::probe>(std::move(o));
    p->add("hang",
           [w = guard.waiter()] {
               w();
               return true;
           },
           {.timeout = 60s});
    p->async_run([&](h::readiness_report r) { answered = !r.ready; });
    std::this_thread::sleep_for(20ms);
    const auto t0 = h::clock::now();
    p.reset();
    EXPECT_LT(seconds_since(t0), 2.0);
    EXPECT_TRUE(answered.load());
    guard.release();  // the orphaned run finishes against its own state
}

// Threads stay bounded: a hung check holds one worker, answers start none, and other checks keep
// their schedule.
TEST(HealthProbe, ThreadsStayBoundedWithHungChecks) {
    hang_guard guard;
    std::atomic<int> healthy_runs{0};
    const std::size_t threads_before = thread_count();
    h::probe_options o;
    o.max_workers = 2;
    h::probe p(std::move(o));
    for (int i = 0; i < 5; ++i)
        p.add("hung" + std::to_string(i),
              [w = guard.waiter()] {
                  w();
                  return true;
              },
              {.timeout = 50ms, .interval = 10ms});
    p.add("fine",
          [&] {
              ++healthy_runs;
              return true;
          },
          {.timeout = 1s, .interval = 10ms});
    for (int i = 0; i < 1000; ++i) (void)p.check();
    // Two workers, both held by hung checks: "fine" cannot run, and goes stale rather than
    // starting a thread of its own.
    std::this_thread::sleep_for(300ms);
    const auto r = p.check();
    EXPECT_FALSE(r.ready);
    EXPECT_EQ(healthy_runs.load(), 0);
    EXPECT_LE(thread_count(), threads_before + 3);  // the scheduler and two workers
}

TEST(HealthProbe, ProbeMayBeDestroyedWhileACheckIsStuck) {
    hang_guard guard;
    {
        h::probe p;
        p.add("hang",
              [w = guard.waiter()] {
                  w();
                  return true;
              },
              {.critical = true, .timeout = 20ms});
        EXPECT_FALSE(p.check().ready);
    }
    guard.release();  // the orphaned run finishes against its own state
}

TEST(HealthLiveness, ReportsUptimeAndManualFailure) {
    h::liveness l(h::clock::now() - 5s);
    EXPECT_TRUE(l.healthy());
    EXPECT_GE(l.uptime().count(), 5.0);
    l.mark_unhealthy("worker deadlocked");
    EXPECT_FALSE(l.healthy());
    EXPECT_EQ(l.reason(), "worker deadlocked");
    l.mark_healthy();
    EXPECT_TRUE(l.healthy());
    EXPECT_EQ(l.reason(), "");
}

TEST(HealthMetrics, OutcomesAndDurationsAreExportedByBackgroundRuns) {
    vitals::registry r;
    h::probe_options o;
    h::export_metrics(r, o);
    std::atomic<bool> db_up{true};
    h::probe p(std::move(o));
    hang_guard guard;
    p.add("database", [&] { return db_up.load(); }, {.interval = 1h});
    p.add("redis", [] { return h::degraded("slow"); }, {.interval = 1h});
    p.add("event_store",
          [w = guard.waiter()] {
              w();
              return true;
          },
          {.timeout = 10s});
    // Registered: up is 0 at once, before any run completes.
    std::string out = vitals::render_text(r);
    EXPECT_NE(out.find("health_check_up{check=\"event_store\"} 0\n"), std::string::npos) << out;
    (void)p.run_now({"event_store"});
    db_up = false;
    (void)p.run_now({"event_store"});
    out = vitals::render_text(r);
    EXPECT_NE(out.find("health_check_up{check=\"database\"} 0\n"), std::string::npos) << out;
    EXPECT_NE(out.find("health_check_up{check=\"redis\"} 1\n"), std::string::npos) << out;
    // The run at registration and the two asked for (the first may be the same run).
    const std::string count_key = "health_check_duration_seconds_count{check=\"database\"} ";
    const auto at = out.find(count_key);
    ASSERT_NE(at, std::string::npos) << out;
    const int runs = std::atoi(out.c_str() + at + count_key.size());
    EXPECT_GE(runs, 2) << out;
    EXPECT_LE(runs, 3) << out;
    EXPECT_NE(out.find("health_check_last_success_timestamp_seconds{check=\"redis\"} "), std::string::npos) << out;
    EXPECT_NE(out.find("health_check_last_success_timestamp_seconds{check=\"database\"} "), std::string::npos) << out;
    EXPECT_EQ(out.find("health_check_last_success_timestamp_seconds{check=\"event_store\"}"), std::string::npos) << out;
    const auto check = vitals_test::promtool_check(out);
    EXPECT_EQ(check.exit_code, 0) << check.output;
    guard.release();
}
