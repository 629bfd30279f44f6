// Tests for vitals/core/registry.hpp.
#include <vitals/vitals.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <sys/wait.h>
#include <unistd.h>
#include <string>
#include <vector>
#include <thread>
#include <mutex>
#include <atomic>
#include <sstream>

#include "support/promtool.hpp"

using namespace vitals;

TEST(Registry, SameDefinitionReturnsSameFamily) {
    registry r;
    auto& a = r.counter<"requests_total", labels<"code">>("Requests.");
    auto& b = r.counter<"requests_total", labels<"code">>("Requests.");
    EXPECT_EQ(&a, &b);
    auto c1 = r.counter<"plain_total">("p");
    auto c2 = r.counter<"plain_total">("p");
    c1.inc();
    EXPECT_EQ(c2.value(), 1);  // the same series
    EXPECT_EQ(r.family_count(), 2u);
}

TEST(Registry, ConflictingDefinitionsThrow) {
    registry r;
    (void)r.counter<"thing_total", labels<"a">>("t");
    EXPECT_THROW(((void)r.gauge<"thing_total", labels<"a">>("t")), registration_error);
    EXPECT_THROW(((void)r.counter<"thing_total", labels<"b">>("t")), registration_error);
    EXPECT_THROW(((void)r.counter<"thing_total", labels<"a">>("other help")), registration_error);
    (void)r.histogram<"lat">("l", std::vector<double>{1, 2});
    EXPECT_THROW((void)r.histogram<"lat">("l", std::vector<double>{1, 3}), registration_error);
    EXPECT_NO_THROW((void)r.histogram<"lat">("l", std::vector<double>{1, 2}));
    // A histogram's samples would collide with these names.
    EXPECT_THROW((void)r.counter<"lat_count">("c"), registration_error);
    EXPECT_THROW((void)r.gauge<"lat_bucket">("c"), registration_error);
    try {
        (void)r.gauge<"thing_total", labels<"a">>("t");
    } catch (const registration_error& e) {
        EXPECT_NE(std::string(e.what()).find("thing_total"), std::string::npos);
    }
}

// The message of a clashing registration names the field that differs and both values, for
// every kind and every field a definition has.
TEST(Registry, ConflictsSayWhatDiffers) {
    registry r;
    auto message = [](auto&& register_again) -> std::string {
        try {
            register_again();
        } catch (const registration_error& e) {
            return e.what();
        }
        return "(no registration_error)";
    };
    (void)r.counter<"jobs_total", labels<"queue">>("Jobs.");
    EXPECT_EQ(
        message([&] { (void)r.gauge<"jobs_total", labels<"queue">>("Jobs."); }),
        "vitals: metric 'jobs_total' is already registered differently: kind counter (registered) vs gauge (new)");
    EXPECT_EQ(message([&] { (void)r.counter<"jobs_total", labels<"queue", "shard">>("Jobs."); }),
              "vitals: metric 'jobs_total' is already registered differently: label names [queue] (registered) vs "
              "[queue, shard] (new)");
    EXPECT_EQ(
        message([&] { (void)r.counter<"jobs_total">("Jobs."); }),
        "vitals: metric 'jobs_total' is already registered differently: label names [queue] (registered) vs [] (new)");
    EXPECT_EQ(
        message([&] { (void)r.counter<"jobs_total", labels<"queue">>("Jobs done."); }),
        "vitals: metric 'jobs_total' is already registered differently: help \"Jobs.\" (registered) vs \"Jobs done.\" (new)");
    EXPECT_EQ(
        message([&] { (void)r.callback_counter<"jobs_total", labels<"queue">>("Jobs."); }),
        "vitals: metric 'jobs_total' is already registered differently: kind counter (registered) vs callback counter (new)");

    (void)r.histogram<"wait_seconds">("Wait.", std::vector<double>{0.005, 0.5, 2});
    EXPECT_EQ(
        message([&] {
            (void)r.histogram<"wait_seconds">("Wait.", std::vector<double>{0.005, 1});
        }),
        "vitals: metric 'wait_seconds' is already registered differently: buckets [0.005, 0.5, 2] (registered) vs "
        "[0.005, 1] (new)");
    EXPECT_EQ(message([&] { (void)r.native_histogram<"wait_seconds">("Wait."); }),
              "vitals: metric 'wait_seconds' is already registered differently: kind histogram (registered) vs native "
              "histogram (new)");
    (void)r.native_histogram<"size_bytes">("Size.");
    EXPECT_EQ(
        message([&] { (void)r.native_histogram<"size_bytes">("Size.", {.bucket_factor = 1.5}); }),
        "vitals: metric 'size_bytes' is already registered differently: bucket_factor 1.1 (registered) vs 1.5 (new)");
    EXPECT_EQ(
        message([&] { (void)r.native_histogram<"size_bytes">("Size.", {.max_buckets = 20}); }),
        "vitals: metric 'size_bytes' is already registered differently: max_buckets 160 (registered) vs 20 (new)");

    (void)r.summary<"latency_seconds">("Latency.", std::vector<double>{0.5, 0.99});
    EXPECT_EQ(
        message([&] {
            (void)r.summary<"latency_seconds">("Latency.", std::vector<double>{0.5, 0.9});
        }),
        "vitals: metric 'latency_seconds' is already registered differently: quantiles [0.5, 0.99] (registered) vs "
        "[0.5, 0.9] (new)");
    EXPECT_EQ(
        message([&] {
            (void)r.summary<"latency_seconds">("Latency.", std::vector<double>{0.5, 0.99},
                                               {.max_age = std::chrono::seconds(60)});
        }),
        "vitals: metric 'latency_seconds' is already registered differently: max_age (s) 600 (registered) vs 60 (new)");

    (void)r.stateset<"mode">("Mode.", std::vector<std::string>{"on", "off"});
    EXPECT_EQ(
        message([&] {
            (void)r.stateset<"mode">("Mode.", std::vector<std::string>{"on", "off", "auto"});
        }),
        "vitals: metric 'mode' is already registered differently: states [on, off] (registered) vs [on, off, auto] (new)");

    // A registration that is alike in every field returns the family already there.
    EXPECT_NO_THROW((void)r.histogram<"wait_seconds">("Wait.", std::vector<double>{0.005, 0.5, 2}));
    EXPECT_NO_THROW((void)r.summary<"latency_seconds">("Latency.", std::vector<double>{0.5, 0.99}));
}

TEST(Registry, RuntimeNamesAreChecked) {
    registry r;
    EXPECT_THROW((void)r.counter("bad name", "x"), invalid_argument_error);
    EXPECT_THROW((void)r.gauge<labels<"a">>("9x", "x"), invalid_argument_error);
    auto c = r.counter("dynamic_total", "made at run time");
    c.inc();
    EXPECT_NE(render_text(r).find("dynamic_total 1\n"), std::string::npos);
}

TEST(Registry, ConstLabelsOnEverySeries) {
    registry r({{"service", "api"}, {"environment", "prod"}});
    auto c = r.counter<"a_total">("a");
    c.inc();
    auto& g = r.gauge<"b", labels<"x">>("b");
    g.labels("1").set(1);
    auto& h = r.histogram<"c_seconds", labels<"route">>("c", std::vector<double>{1});
    h.labels("/").observe(0.5);
    auto& cb = r.callback_gauge<"d">("d");
    cb.set([] { return 4.0; });
    const std::string out = render_text(r);
    std::istringstream lines(out);
    std::string line;
    int samples = 0;
    while (std::getline(lines, line)) {
        if (line.starts_with("#")) continue;
        ++samples;
        EXPECT_NE(line.find("service=\"api\""), std::string::npos) << line;
        EXPECT_NE(line.find("environment=\"prod\""), std::string::npos) << line;
    }
    EXPECT_EQ(samples, 1 + 1 + 4 + 1);
    const auto check = vitals_test::promtool_check(out);
    EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(Registry, FamilyLabelTakesPrecedenceOverConstLabel) {
    registry r({{"service", "archon"}, {"environment", "prod"}});
    auto& f = r.counter<"service_starts_total", labels<"service">>("s");
    f.labels("watchdog").inc();
    const std::string out = render_text(r);
    EXPECT_NE(out.find("service_starts_total{environment=\"prod\",service=\"watchdog\"} 1"), std::string::npos) << out;
    EXPECT_EQ(out.find("archon"), std::string::npos);
}

TEST(Registry, BadConstLabelsThrow) {
    EXPECT_THROW(registry(const_labels{{"__x", "1"}}), invalid_argument_error);
    EXPECT_THROW(registry(const_labels{{"a", "1"}, {"a", "2"}}), invalid_argument_error);
    // A registry whose constructor threw leaves nothing behind that fork() would call (on the
    // heap, so that ASan sees a call into the freed registry).
    EXPECT_THROW((void)std::make_unique<registry>(const_labels{{"b", "1"}, {"b", "2"}}), invalid_argument_error);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) ::_exit(0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Registry, ConstLabelsFromEnvironment) {
    ::setenv("SERVICE_NAME", "archon72-api", 1);
    ::unsetenv("ENVIRONMENT");
    auto l = const_labels_from_env("api", "development");
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].name, "service");
    EXPECT_EQ(l[0].value, "archon72-api");
    EXPECT_EQ(l[1].name, "environment");
    EXPECT_EQ(l[1].value, "development");
    ::unsetenv("SERVICE_NAME");
    EXPECT_TRUE(const_labels_from_env().empty());
}

// The operational set and any other set live in different registries and never mix.
TEST(Registry, IndependentRegistriesNeverLeak) {
    registry ops, governance;
    ops.counter<"http_requests_total">("h").inc();
    governance.gauge<"halt_state">("Governance only.").set(1);
    governance.counter<"constitutional_breach_count">("Governance only.").inc();
    const std::string out = render_text(ops);
    EXPECT_EQ(out.find("halt_state"), std::string::npos);
    EXPECT_EQ(out.find("constitutional_breach_count"), std::string::npos);
    EXPECT_NE(render_text(governance).find("halt_state 1"), std::string::npos);
}

// The registry renders vitals_series_limit_rejections_total itself; a user family of that name
// would make the scrape show the name twice (promtool: "second HELP line").
TEST(Registry, RefusesTheNamesItRendersItself) {
    registry r;
    EXPECT_THROW(r.counter<"vitals_series_limit_rejections_total">("Mine."), registration_error);
    EXPECT_THROW((r.gauge<"vitals_series_limit_rejections", labels<"metric">>("Mine.")), registration_error);
    EXPECT_NO_THROW(r.counter<"vitals_other_total">("Fine."));
}

// A feature switched on and off at run time: its family is registered and unregistered again
// and again while other threads update handles to its series and a third renders without pause.
// Every increment lands (the handles outlive their families), nothing is freed under a render
// (ASan, TSan), and every render is well formed.
TEST(Registry, UnregisterWhileRenderingAndUpdating) {
    registry r;
    auto stays = r.counter<"steady_total">("Always there.");
    std::mutex mu;
    std::vector<vitals::counter> handles;  // of every incarnation of the family
    std::atomic<bool> done{false};
    std::atomic<std::uint64_t> added{0}, renders{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t)
        ts.emplace_back([&] {
            while (!done.load(std::memory_order_acquire)) {
                std::vector<vitals::counter> mine;
                {
                    std::lock_guard lock(mu);
                    mine = handles;
                }
                for (auto& h : mine) h.inc();
                stays.inc();
                added.fetch_add(mine.size(), std::memory_order_relaxed);
            }
        });
    std::string last;
    ts.emplace_back([&] {
        std::string out;
        while (!done.load(std::memory_order_acquire)) {
            out.clear();
            render_text(r, out);
            renders.fetch_add(1, std::memory_order_relaxed);
            if (renders.load(std::memory_order_relaxed) % 50 == 1) last = out;
        }
    });
    // At least 300 rounds, and on until the renderer has run 20 times (bounded: 100,000 rounds).
    for (int round = 0; round < 100000 && (round < 300 || renders.load() < 20); ++round) {
        auto& f = r.counter<"feature_requests_total", labels<"kind">>("Requests of a feature that comes and goes.");
        auto h = f.with(std::to_string(round % 7));
        {
            std::lock_guard lock(mu);
            handles.push_back(h);
        }
        (void)f.labels("probe").inc();
        ASSERT_TRUE(r.unregister("feature_requests_total"));
    }
    done.store(true, std::memory_order_release);
    for (auto& t : ts) t.join();
    std::uint64_t counted = 0;
    for (auto& h : handles) counted += h.value();
    EXPECT_EQ(counted, added.load());
    EXPECT_GT(renders.load(), 0u);
    EXPECT_EQ(render_text(r).find("feature_requests_total"), std::string::npos);
    const auto check = vitals_test::promtool_check(last);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << last;
}

TEST(Registry, UnregisterRemovesAFamilyAndFreesItsName) {
    registry r;
    auto& f = r.counter<"gone_total", labels<"k">>("Gone.");
    auto kept = f.with("a");
    kept.inc(3);
    auto other = r.counter<"stays_total">("Stays.");
    other.inc();
    EXPECT_TRUE(r.unregister("gone_total"));
    EXPECT_FALSE(r.unregister("gone_total"));
    EXPECT_EQ(r.family_count(), 1u);
    const std::string text = render_text(r);
    EXPECT_EQ(text.find("gone_total"), std::string::npos);
    EXPECT_NE(text.find("stays_total 1"), std::string::npos);
    kept.inc();  // the handle outlives its family, unrendered
    EXPECT_EQ(kept.value(), 4);
    // The name is free again, for any definition.
    auto again = r.gauge<"gone_total">("Now a gauge.");
    again.set(2);
    EXPECT_NE(render_text(r).find("gone_total 2"), std::string::npos);
}
