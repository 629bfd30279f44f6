// Tests for the per-family series limit (core/family.hpp) and its registry self-metric.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "support/exposition_reader.hpp"
#include "support/process_memory.hpp"
#include "support/promtool.hpp"

using namespace vitals;

using vitals_test::rss_bytes;

TEST(Cardinality, OverflowSeriesTakesWhatTheLimitTurnsAway) {
    registry r({{"service", "api"}});
    auto& f = r.counter<"requests_total", labels<"user">>("Requests by user (a cardinality trap).");
    f.set_series_limit(3);
    for (int i = 0; i < 10; ++i) f.labels("user" + std::to_string(i)).inc();
    EXPECT_EQ(f.size(), 4u);  // three real series and the overflow series
    EXPECT_EQ(f.series_limit_rejections(), 7u);
    EXPECT_EQ(f.with("__overflow__").value(), 7);
    EXPECT_EQ(f.with("user1").value(), 1);  // existing series keep working
    const std::string out = render_text(r);
    EXPECT_NE(out.find("vitals_series_limit_rejections_total{service=\"api\",metric=\"requests_total\"} 7\n"),
              std::string::npos)
        << out;
    const auto parsed = vitals_test::read_text_exposition(out);
    EXPECT_TRUE(parsed.ok()) << parsed.error;
    const auto check = vitals_test::promtool_check(out);
    EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(Cardinality, NoSelfMetricUntilSomethingIsTurnedAway) {
    registry r;
    r.counter<"a_total", labels<"x">>("a").labels("1").inc();
    EXPECT_EQ(render_text(r).find("vitals_series_limit_rejections_total"), std::string::npos);
}

TEST(Cardinality, RegistryDefaultAppliesToNewFamilies) {
    registry r;
    r.set_default_series_limit(2);
    auto& g = r.gauge<"g", labels<"k">>("g");
    for (int i = 0; i < 5; ++i) g.labels(std::to_string(i)).set(i);
    EXPECT_EQ(g.size(), 3u);
    EXPECT_EQ(g.series_limit(), 2u);
}

// A million distinct values: memory stays flat once the limit is reached.
TEST(Cardinality, MillionDistinctValuesKeepMemoryFlat) {
    registry r;
    auto& f = r.counter<"flood_total", labels<"path">>("Requests by raw path.");
    f.set_series_limit(1000);
    std::string path = "/random/";
    for (int i = 0; i < 20000; ++i) f.labels(path + std::to_string(i)).inc();
    const std::size_t before = rss_bytes();
    for (int i = 20000; i < 1000000; ++i) f.labels(path + std::to_string(i)).inc();
    const std::size_t after = rss_bytes();
    EXPECT_EQ(f.size(), 1001u);
    EXPECT_EQ(f.series_limit_rejections(), 1000000u - 1000u);
    EXPECT_EQ(f.with("__overflow__").value(), 1000000 - 1000);
    if (vitals_test::rss_reflects_frees) {
        EXPECT_LT(after, before + 4 * 1024 * 1024) << "RSS grew from " << before << " to " << after;
    }
}
