// Info and stateset families are kinds of the one family implementation: handles, removal,
// clear(), the series limit and concurrent lookups work for them as for counters.
#include <vitals/core/info.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/consumer_checks.hpp"

using namespace vitals;

namespace {
void expect_consumers_accept(registry& r) {
    vitals_test::expect_openmetrics_parses(render_openmetrics(r));
    vitals_test::expect_promtool_accepts(render_text(r));
}
}  // namespace

TEST(Stateset, HandleOutlivesRemovalAndUnregistration) {
    registry r;
    auto& mode = r.stateset<"mode", labels<"shard">>("Mode.", {"primary", "replica"});
    stateset one = mode.with("1");
    one.set_only("replica");
    mode.labels("2").set("primary", true);
    EXPECT_TRUE(mode.labels("1").get("replica"));
    EXPECT_EQ(mode.size(), 2u);
    EXPECT_TRUE(mode.remove("1"));
    EXPECT_FALSE(mode.remove("1"));
    const std::string after_remove = render_openmetrics(r);
    EXPECT_EQ(after_remove.find("shard=\"1\""), std::string::npos) << after_remove;
    // The handle still works on its (now unrendered) series.
    one.set("primary", true);
    EXPECT_TRUE(one.get("primary"));
    // The same values again: a new series, every state off.
    EXPECT_FALSE(mode.labels("1").get("primary"));
    EXPECT_FALSE(mode.labels("1").get("replica"));
    EXPECT_TRUE(r.unregister("mode"));
    // The states live as long as the last series that names them.
    one.set_only("replica");
    EXPECT_TRUE(one.get("replica"));
    EXPECT_THROW(one.set("nope", true), invalid_argument_error);
}

TEST(Stateset, ClearAndStates) {
    registry r;
    auto& light = r.stateset<"light">("Traffic light.", {"green", "amber", "red"});
    ASSERT_EQ(light.states().size(), 3u);
    EXPECT_EQ(light.states()[1], "amber");
    light.labels().set_only("red");
    light.clear();
    EXPECT_EQ(light.size(), 0u);
    EXPECT_FALSE(light.labels().get("red"));
    expect_consumers_accept(r);
}

TEST(Stateset, SeriesLimitSendsNewCombinationsToOverflow) {
    registry r;
    auto& f = r.stateset<"pool_state", labels<"pool">>("Pool state.", {"up", "down"});
    f.set_series_limit(3);
    for (int i = 0; i < 10; ++i) f.labels(std::to_string(i)).set_only("up");
    EXPECT_EQ(f.size(), 4u);  // three, then the overflow series
    EXPECT_EQ(f.series_limit_rejections(), 7u);
    EXPECT_TRUE(f.labels(family_base::overflow_label_value).get("up"));
    expect_consumers_accept(r);
}

TEST(Stateset, DifferentStatesAreADifferentDefinition) {
    registry r;
    (void)r.stateset<"mode">("Mode.", {"a", "b"});
    EXPECT_NO_THROW((void)r.stateset<"mode">("Mode.", {"a", "b"}));
    try {
        (void)r.stateset<"mode">("Mode.", {"a", "c"});
        FAIL() << "registered differently without an error";
    } catch (const registration_error& e) {
        EXPECT_NE(std::string(e.what()).find("states"), std::string::npos) << e.what();
    }
}

TEST(Stateset, ConcurrentLookupsCreateEachSeriesOnce) {
    registry r;
    auto& f = r.stateset<"worker_state", labels<"worker">>("Worker state.", {"idle", "busy"});
    std::vector<std::thread> threads;
    std::atomic<bool> go{false};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&, t] {
            while (!go.load()) std::this_thread::yield();
            for (int i = 0; i < 2000; ++i) f.labels(std::to_string(i % 50)).set_only((i + t) % 2 ? "idle" : "busy");
        });
    go = true;
    for (int i = 0; i < 20; ++i) (void)render_openmetrics(r);
    for (auto& th : threads) th.join();
    EXPECT_EQ(f.size(), 50u);
    expect_consumers_accept(r);
}

TEST(Info, SetIsIdempotentAndReplaceSwaps) {
    registry r;
    auto& build = r.info<"build_info", labels<"version">>("Build.");
    build.set("1.0");
    build.set("1.0");
    EXPECT_EQ(build.size(), 1u);
    build.replace("1.1");
    EXPECT_EQ(build.size(), 1u);
    const std::string om = render_openmetrics(r);
    EXPECT_NE(om.find("build_info{version=\"1.1\"} 1\n"), std::string::npos) << om;
    EXPECT_EQ(om.find("1.0"), std::string::npos) << om;
    EXPECT_TRUE(build.remove("1.1"));
    EXPECT_EQ(build.size(), 0u);
    info handle = build.with("2.0");
    (void)handle;
    EXPECT_EQ(build.size(), 1u);
    expect_consumers_accept(r);
}

TEST(Info, RuntimeLabelNamesAndLimit) {
    registry r;
    auto& cfg = r.info("config_info", "Loaded configuration.", {"hash", "source"});
    cfg.set_series_limit(2);
    for (int i = 0; i < 5; ++i) cfg.set("h" + std::to_string(i), "file");
    EXPECT_EQ(cfg.size(), 3u);
    EXPECT_EQ(cfg.series_limit_rejections(), 3u);
    EXPECT_THROW(cfg.set("only-one"), invalid_argument_error);
    expect_consumers_accept(r);
}
