// Tests for vitals/health/checker.hpp, probe.hpp and liveness.hpp.
//
// Timing assertions use generous upper bounds: they prove "did not wait for
// the slow thing" (seconds apart), never exact durations.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

static_assert(h::checker<fixed_checker>);
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

double seconds_since(h::clock::time_point t0) {
  return std::chrono::duration<double>(h::clock::now() - t0).count();
}

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
}

TEST(HealthProbe, RegistersCheckersAndCallables) {
  h::probe p;
  p.add(fixed_checker{"db", h::status::healthy});
  p.add("cache", [] { return true; });
  p.add("queue", [](h::deadline_t) { return h::healthy("ok"); }, {.critical = false, .timeout = 500ms});
  EXPECT_TRUE(p.contains("cache"));
  EXPECT_FALSE(p.contains("nope"));
  EXPECT_EQ(p.names(), (std::vector<std::string>{"db", "cache", "queue"}));

  const auto r = p.check();
  ASSERT_EQ(r.checks.size(), 3u);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.checks[0].name, "db");
  EXPECT_EQ(r.checks[0].result.message, "fixed");
  EXPECT_TRUE(r.checks[0].critical);
  EXPECT_FALSE(r.checks[2].critical);
  ASSERT_NE(r.find("queue"), nullptr);
  EXPECT_EQ(r.find("queue")->result.message, "ok");
  EXPECT_EQ(r.find("missing"), nullptr);
}

TEST(HealthProbe, RejectsBadNames) {
  h::probe p;
  p.add("db", [] { return true; });
  EXPECT_THROW(p.add("db", [] { return true; }), vitals::invalid_argument_error);
  EXPECT_THROW(p.add("", [] { return true; }), vitals::invalid_argument_error);
  EXPECT_THROW(p.add("a/b", [] { return true; }), vitals::invalid_argument_error);
}

TEST(HealthProbe, RunsChecksConcurrently) {
  h::probe p;
  for (const char* name : {"a", "b", "c", "d", "e"})
    p.add(name, [] {
      std::this_thread::sleep_for(400ms);
      return true;
    });
  const auto t0 = h::clock::now();
  const auto r = p.check();
  const double took = seconds_since(t0);
  EXPECT_TRUE(r.ready);
  // Sequential would be >= 2 s; parallel is ~0.4 s. The bound leaves room for a loaded
  // sanitizer run on two cores.
  EXPECT_LT(took, 1.5);
  for (const auto& c : r.checks) EXPECT_GE(c.result.latency, 350ms);
}

TEST(HealthProbe, HangingCheckTimesOutWithinItsBound) {
  hang_guard guard;
  h::probe p;
  p.add("hang", [w = guard.waiter()] {
    w();
    return true;
  }, {.critical = true, .timeout = 200ms});
  p.add("fast", [] { return true; });
  const auto t0 = h::clock::now();
  const auto r = p.check();
  EXPECT_LT(seconds_since(t0), 2.0);  // not the 10 s the check would take
  EXPECT_FALSE(r.ready);
  const auto* hang = r.find("hang");
  ASSERT_NE(hang, nullptr);
  EXPECT_EQ(hang->result.status, h::status::unhealthy);
  EXPECT_EQ(hang->result.message, "timeout");
  EXPECT_TRUE(hang->timed_out);
  EXPECT_GE(hang->result.latency, 150ms);
  EXPECT_TRUE(r.find("fast")->result.ok());
}

TEST(HealthProbe, StuckCheckIsNotStartedAgain) {
  hang_guard guard;
  std::atomic<int> runs{0};
  h::probe p({.cache_ttl = 0s, .on_result = {}});
  p.add("hang", [&runs, w = guard.waiter()] {
    ++runs;
    w();
    return true;
  }, {.critical = true, .timeout = 50ms});
  for (int i = 0; i < 5; ++i) {
    const auto t0 = h::clock::now();
    const auto r = p.check();
    EXPECT_LT(seconds_since(t0), 2.0);
    EXPECT_EQ(r.checks.at(0).result.message, "timeout");
  }
  EXPECT_EQ(runs.load(), 1);  // one stuck thread, not five

  // Once the dependency recovers, the next probe runs the check again.
  guard.release();
  const auto until = h::clock::now() + 5s;
  h::readiness_report r;
  do {
    std::this_thread::sleep_for(10ms);
    r = p.check();
  } while (!r.ready && h::clock::now() < until);
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(runs.load(), 2);
}

TEST(HealthProbe, LateResultIsReportedAsTimeoutNotCachedSuccess) {
  h::probe p({.cache_ttl = 10s, .on_result = {}});
  p.add("slow", [] {
    std::this_thread::sleep_for(150ms);
    return true;
  }, {.critical = true, .timeout = 20ms});
  EXPECT_FALSE(p.check().ready);
  std::this_thread::sleep_for(400ms);  // the slow run has finished by now
  const auto r = p.check();
  EXPECT_FALSE(r.ready);
  EXPECT_TRUE(r.checks.at(0).timed_out);
  EXPECT_TRUE(r.checks.at(0).cached);
}

TEST(HealthProbe, ThrowingCheckIsUnhealthyWithMessage) {
  h::probe p;
  p.add("boom", []() -> bool { throw std::runtime_error("connection reset by 10.0.0.7"); });
  p.add("weird", []() -> bool { throw 42; });
  const auto r = p.check();
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.find("boom")->result.status, h::status::unhealthy);
  EXPECT_EQ(r.find("boom")->result.message, "connection reset by 10.0.0.7");
  EXPECT_FALSE(r.find("boom")->timed_out);
  EXPECT_EQ(r.find("weird")->result.message, "unknown exception");
}

TEST(HealthProbe, CachesResultsForTtl) {
  std::atomic<int> calls{0};
  h::probe p({.cache_ttl = 300ms, .on_result = {}});
  p.add("db", [&] {
    ++calls;
    return true;
  });
  EXPECT_FALSE(p.check().checks[0].cached);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(p.check().checks[0].cached);
  EXPECT_EQ(calls.load(), 1);

  std::this_thread::sleep_for(400ms);
  EXPECT_FALSE(p.check().checks[0].cached);
  EXPECT_EQ(calls.load(), 2);

  p.invalidate();
  (void)p.check();
  EXPECT_EQ(calls.load(), 3);
}

TEST(HealthProbe, ZeroTtlRunsEveryTime) {
  std::atomic<int> calls{0};
  h::probe p({.cache_ttl = 0s, .on_result = {}});
  p.add("db", [&] {
    ++calls;
    return true;
  });
  for (int i = 0; i < 5; ++i) (void)p.check();
  EXPECT_EQ(calls.load(), 5);
}

TEST(HealthProbe, ConcurrentProbesShareOneRun) {
  std::atomic<int> calls{0};
  // TTL zero: sharing must come from single-flight, not from the cache.
  h::probe p({.cache_ttl = 0s, .on_result = {}});
  p.add("db", [&] {
    ++calls;
    std::this_thread::sleep_for(300ms);
    return true;
  });
  std::atomic<bool> go{false};
  std::atomic<int> ready_count{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i)
    threads.emplace_back([&] {
      while (!go) std::this_thread::yield();
      if (p.check().ready) ++ready_count;
    });
  go = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(ready_count.load(), 8);
  // All eight arrive within a few ms of each other, well inside the 300 ms
  // run; allow one straggler in case the machine is badly overloaded.
  EXPECT_LE(calls.load(), 2);
}

TEST(HealthProbe, CriticalAndNonCriticalFailures) {
  h::probe p;
  p.add("db", [] { return true; });
  p.add("cache", [] { return false; }, {.critical = false, .timeout = 1s});
  auto r = p.check();
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.status, h::status::degraded);

  h::probe q;
  q.add("db", [] { return false; });
  q.add("cache", [] { return true; }, {.critical = false, .timeout = 1s});
  r = q.check();
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.status, h::status::unhealthy);

  h::probe d;
  d.add("db", [] { return h::degraded("replica lag"); });
  r = d.check();
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.status, h::status::degraded);
}

TEST(HealthProbe, ExcludedChecksAreNotRun) {
  std::atomic<int> calls{0};
  h::probe p;
  p.add("db", [] { return true; });
  p.add("flaky", [&] {
    ++calls;
    return false;
  });
  const auto r = p.check({"flaky"});
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.checks.size(), 1u);
  EXPECT_EQ(calls.load(), 0);
}

TEST(HealthProbe, CheckOneRunsOnlyThatCheck) {
  std::atomic<int> other{0};
  h::probe p;
  p.add("db", [] { return h::healthy("fine"); });
  p.add("other", [&] {
    ++other;
    return true;
  });
  const auto one = p.check_one("db");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->name, "db");
  EXPECT_EQ(one->result.message, "fine");
  EXPECT_EQ(other.load(), 0);
  EXPECT_FALSE(p.check_one("nope").has_value());
}

TEST(HealthProbe, ObserverSeesEachFreshResultOnce) {
  std::mutex m;
  std::vector<std::pair<std::string, h::status>> seen;
  hang_guard guard;
  h::probe p({.cache_ttl = 10s, .on_result = [&](std::string_view name, const h::check_result& r) {
                std::lock_guard lock(m);
                seen.emplace_back(std::string(name), r.status);
                throw std::runtime_error("observer failures must not break the probe");
              }});
  p.add("db", [] { return true; });
  p.add("hang", [w = guard.waiter()] {
    w();
    return true;
  }, {.critical = false, .timeout = 50ms});
  EXPECT_TRUE(p.check().ready);
  EXPECT_TRUE(p.check().ready);  // cached: no new notifications
  std::lock_guard lock(m);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::string, h::status>{"db", h::status::healthy}));
  EXPECT_EQ(seen[1], (std::pair<std::string, h::status>{"hang", h::status::unhealthy}));
}

TEST(HealthProbe, ProbeMayBeDestroyedWhileACheckIsStuck) {
  hang_guard guard;
  {
    h::probe p;
    p.add("hang", [w = guard.waiter()] {
      w();
      return true;
    }, {.critical = true, .timeout = 20ms});
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

TEST(HealthMetrics, OutcomesAndDurationsAreExported) {
  vitals::registry r;
  h::probe p({.cache_ttl = 0ms, .on_result = h::export_metrics(r)});
  bool db_up = true;
  p.add("database", [&] { return db_up; });
  p.add("redis", [] { return h::degraded("slow"); });
  (void)p.check();
  db_up = false;
  (void)p.check();
  const std::string out = vitals::render_text(r);
  EXPECT_NE(out.find("health_check_up{check=\"database\"} 0\n"), std::string::npos) << out;
  EXPECT_NE(out.find("health_check_up{check=\"redis\"} 1\n"), std::string::npos) << out;
  EXPECT_NE(out.find("health_check_duration_seconds_count{check=\"database\"} 2\n"), std::string::npos) << out;
  const auto check = vitals_test::promtool_check(out);
  EXPECT_EQ(check.exit_code, 0) << check.output;
}
