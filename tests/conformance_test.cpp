// Every input the API accepts renders to expositions that strict consumers accept: the Python
// client's OpenMetrics parser, promtool (text 0.0.4) and the protobuf decoder. One odd series
// must never make a consumer reject the whole scrape.
#include <vitals/core/exemplar.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/openmetrics.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

namespace {
constexpr double inf = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

void expect_every_consumer_accepts(const registry& r) {
    const std::string om = render_openmetrics(r);
    const auto p = vitals_test::openmetrics_check(om);
    ASSERT_FALSE(p.parser_missing) << "install Debian's python3-prometheus-client: " << p.output;
    EXPECT_TRUE(p.ok) << p.output << "\n--- OpenMetrics ---\n" << om;
    const std::string text = render_text(r);
    const auto t = vitals_test::promtool_check(text);
    ASSERT_NE(t.exit_code, 127) << "promtool not found";
    EXPECT_EQ(t.exit_code, 0) << t.output << "\n--- text ---\n" << text;
    EXPECT_NO_THROW(pb::decode_families(render_protobuf(r)));
}
}  // namespace

TEST(Conformance, CallbackCountersThatAreNotCountersAreLeftOut) {
    registry r;
    auto& f = r.callback_counter<"jobs_total", labels<"source">>("Jobs.");
    f.set([] { return -1.0; }, "negative");
    f.set([] { return not_a_number; }, "nan");
    f.set([]() -> double { throw std::runtime_error("backend gone"); }, "throws");
    f.set([] { return 7.0; }, "fine");
    expect_every_consumer_accepts(r);
    const std::string text = render_text(r);
    EXPECT_NE(text.find("jobs_total{source=\"fine\"} 7"), std::string::npos);
    EXPECT_EQ(text.find("negative"), std::string::npos);
    EXPECT_EQ(text.find("\"nan\""), std::string::npos);
    EXPECT_EQ(text.find("throws"), std::string::npos);
    const std::uint64_t before = f.dropped_samples();
    (void)render_text(r);
    EXPECT_EQ(f.dropped_samples() - before, 3u);  // per render
}

TEST(Conformance, HistogramsWithNegativeOrNaNSums) {
    registry r;
    auto& h = r.histogram<"delta_seconds", labels<"case">>("Deltas.", std::vector<double>{0.1, 1});
    h.labels("both_infinities").observe(inf);
    h.labels("both_infinities").observe(-inf);  // sum NaN
    h.labels("negative").observe(-3);           // sum negative
    h.labels("fine").observe(0.5);
    auto neg = r.histogram<"offset_seconds">("Offsets.", std::vector<double>{-1, 0, 1});
    neg.observe(0.5);  // negative buckets: OpenMetrics allows no _sum at all
    expect_every_consumer_accepts(r);
    const std::string om = render_openmetrics(r);
    // The odd series keep their buckets (the +Inf bucket is the count), the fine one everything.
    EXPECT_NE(om.find("delta_seconds_bucket{case=\"negative\",le=\"+Inf\"} 1"), std::string::npos) << om;
    EXPECT_EQ(om.find("delta_seconds_sum{case=\"negative\"}"), std::string::npos) << om;
    EXPECT_NE(om.find("delta_seconds_sum{case=\"fine\"} 0.5"), std::string::npos) << om;
    EXPECT_EQ(om.find("offset_seconds_sum"), std::string::npos) << om;
    // Text 0.0.4 carries the sums as they are: Prometheus accepts any float there.
    const std::string text = render_text(r);
    EXPECT_NE(text.find("delta_seconds_sum{case=\"negative\"} -3"), std::string::npos) << text;
    EXPECT_NE(text.find("delta_seconds_sum{case=\"both_infinities\"} NaN"), std::string::npos) << text;
}

TEST(Conformance, SummariesOfNegativeValues) {
    registry r;
    auto& s = r.summary<"temperature_change_celsius", labels<"room">>("Changes.");
    for (int i = 1; i <= 100; ++i) s.labels("cold").observe(-i);
    for (int i = 1; i <= 100; ++i) s.labels("mixed").observe(i % 2 ? -i : i);
    for (int i = 1; i <= 100; ++i) s.labels("warm").observe(i);
    expect_every_consumer_accepts(r);
    const std::string om = render_openmetrics(r);
    EXPECT_EQ(om.find("temperature_change_celsius_sum{room=\"cold\"}"), std::string::npos) << om;
    EXPECT_NE(om.find("temperature_change_celsius_sum{room=\"warm\"} 5050"), std::string::npos) << om;
    EXPECT_NE(render_text(r).find("temperature_change_celsius_sum{room=\"cold\"} -5050"), std::string::npos);
}

TEST(Conformance, SpecialGaugeAndCounterValues) {
    registry r;
    auto& g = r.gauge<"level", labels<"v">>("Levels.");
    const double values[] = {0.0, -0.0, inf, -inf, not_a_number, 1e308, -1e308, 5e-324, 9007199254740993.0, 0x1p64};
    for (double v : values) g.labels(std::to_string(v) + (std::signbit(v) ? "-" : "+")).set(v);
    auto& c = r.counter<"bytes_total", labels<"v">>("Bytes.");
    c.labels("u64max").inc(std::numeric_limits<std::uint64_t>::max());
    c.labels("u64max").inc(std::numeric_limits<std::uint64_t>::max());
    c.labels("huge").inc(1e300);
    c.labels("tiny").inc(5e-324);
    expect_every_consumer_accepts(r);
}

TEST(Conformance, NulOrBraceInAnExemplarLabelValueIsRefused) {
    const std::string with_nul("abc\0def", 7);
    EXPECT_THROW((exemplar_labels{{"trace_id", with_nul}}), invalid_argument_error);
    // The Python client's parser ends an exemplar's labels at the first '}', even quoted.
    EXPECT_THROW((exemplar_labels{{"trace_id", "a}b"}}), invalid_argument_error);
    EXPECT_NO_THROW((exemplar_labels{{"trace_id", "a{b\"c\\d\n"}}));
    registry r;
    auto c = r.counter<"traced_total">("Traced.");
    EXPECT_TRUE(c.inc(1, exemplar_labels{{"trace_id", "abc"}}));
    expect_every_consumer_accepts(r);
}
