// Tests for vitals/core/summary.hpp: the stated relative-error bound against exact order
// statistics, the sliding window, threads, and the OpenMetrics and protobuf renders.
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "support/openmetrics.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

namespace {
// The bound summary.hpp states: against the observation of rank floor(q * (n - 1)).
void expect_within_bound(std::vector<double> values, const summary& s, vitals::span<const double> qs) {
    std::sort(values.begin(), values.end());
    for (double q : qs) {
        const double exact = values[static_cast<std::size_t>(std::floor(q * static_cast<double>(values.size() - 1)))];
        const double est = s.quantile(q);
        EXPECT_LE(std::fabs(est - exact), summary_relative_error * std::fabs(exact) + 1e-300)
            << "q=" << q << " exact=" << exact << " estimate=" << est;
    }
}
constexpr double all_qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1};
}  // namespace

TEST(Summary, IndexTableIsExact) {
    const auto& t = detail::summary_index_table::get();
    std::mt19937_64 rng(3);
    for (int i = 0; i < 200000; ++i) {
        const double v = std::exp(std::uniform_real_distribution<double>(-44, 44)(rng));
        const auto k = t.index(v);
        const double lo = std::ldexp(t.bound[k % 64], k / 64 - 64), hi = std::ldexp(t.bound[k % 64 + 1], k / 64 - 64);
        ASSERT_LE(lo, v);
        ASSERT_LT(v, hi);
        ASSERT_LE(std::fabs(t.representative(k) - v), summary_relative_error * v);
    }
    EXPECT_EQ(t.index(1.0), 64 * 64);
    EXPECT_EQ(t.index(2.0), 65 * 64);
}

TEST(Summary, UniformWithinBound) {
    registry r;
    auto s = r.summary<"u_seconds">("U.");
    std::vector<double> vals;
    for (int i = 1; i <= 10000; ++i) vals.push_back(i);
    std::shuffle(vals.begin(), vals.end(), std::mt19937(1));
    for (double v : vals) s.observe(v);
    expect_within_bound(vals, s, all_qs);
    EXPECT_EQ(s.count(), 10000u);
    EXPECT_EQ(s.sum(), 50005000.0);
}

TEST(Summary, SkewedNegativeAndZeroWithinBound) {
    registry r;
    auto s = r.summary<"skew">("S.");
    std::mt19937_64 rng(7);
    std::lognormal_distribution<double> logn(0, 3);
    std::vector<double> vals;
    for (int i = 0; i < 20000; ++i) {
        double v = logn(rng);
        if (i % 5 == 0) v = -v;
        if (i % 97 == 0) v = 0;
        vals.push_back(v);
        s.observe(v);
    }
    expect_within_bound(vals, s, all_qs);
}

TEST(Summary, EmptyAndNaN) {
    registry r;
    auto s = r.summary<"e">("E.");
    EXPECT_TRUE(std::isnan(s.quantile(0.5)));
    EXPECT_FALSE(s.observe(std::nan("")));
    EXPECT_EQ(s.count(), 0u);
    s.observe(42);
    EXPECT_NEAR(s.quantile(0), 42, 42 * summary_relative_error);
    EXPECT_NEAR(s.quantile(1), 42, 42 * summary_relative_error);
    s.observe(1e-80);  // below 2^-64: counts as zero
    EXPECT_EQ(s.quantile(0), 0);
}

TEST(Summary, WindowSlides) {
    registry r;
    auto s = r.summary<"w_seconds">("W.", {0.5}, {.max_age = std::chrono::seconds(2), .age_buckets = 2});
    for (int i = 0; i < 100; ++i) s.observe(1);
    EXPECT_NEAR(s.quantile(0.5), 1, 0.01);
    std::this_thread::sleep_for(std::chrono::milliseconds(2200));
    EXPECT_TRUE(std::isnan(s.quantile(0.5))) << "observations older than max_age are gone";
    EXPECT_EQ(s.count(), 100u) << "count and sum are all-time";
    s.observe(5);
    EXPECT_NEAR(s.quantile(0.5), 5, 5 * summary_relative_error);
}

TEST(Summary, ThreadsAndExitedThreads) {
    registry r;
    auto& f = r.summary<"mt_seconds", labels<"w">>("MT.", {0.5, 0.99});
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&f, t] {
            auto s = f.with("x");
            for (int i = 1; i <= 5000; ++i) s.observe(i + t * 5000);
        });
    for (int i = 0; i < 10; ++i) (void)render_openmetrics(r);
    for (auto& t : ts) t.join();
    auto s = f.with("x");
    EXPECT_EQ(s.count(), 20000u);
    std::vector<double> all;
    for (int i = 1; i <= 20000; ++i) all.push_back(i);
    expect_within_bound(all, s, all_qs);
    EXPECT_TRUE(f.remove("x"));
}

TEST(Summary, OpenMetricsAndText) {
    registry r(const_labels{{"service", "api"}});
    auto& f = r.summary<"rpc_seconds", labels<"rpc">>("RPC \"latency\".", {0.5, 1});
    f.set_unit("seconds");
    for (int i = 1; i <= 4; ++i) f.labels("get").observe(i);
    const auto om = render_openmetrics(r, {.created = true});
    EXPECT_NE(om.find("# TYPE rpc_seconds summary\n# UNIT rpc_seconds seconds\n"), std::string::npos) << om;
    EXPECT_NE(om.find("rpc_seconds{service=\"api\",rpc=\"get\",quantile=\"0.5\"} "), std::string::npos) << om;
    EXPECT_NE(om.find("rpc_seconds{service=\"api\",rpc=\"get\",quantile=\"1.0\"} "), std::string::npos) << om;
    EXPECT_NE(om.find("rpc_seconds_count{service=\"api\",rpc=\"get\"} 4\n"), std::string::npos) << om;
    EXPECT_NE(om.find("rpc_seconds_sum{service=\"api\",rpc=\"get\"} 10\n"), std::string::npos) << om;
    EXPECT_NE(om.find("rpc_seconds_created{"), std::string::npos) << om;
    const auto p = vitals_test::openmetrics_check(om);
    EXPECT_TRUE(p.ok) << p.output << om;
    // An empty window renders NaN quantiles, which the parser accepts.
    r.summary<"idle_seconds">("Idle.");
    EXPECT_TRUE(vitals_test::openmetrics_check(render_openmetrics(r)).ok);
}

TEST(Summary, Protobuf) {
    registry r;
    auto s = r.summary<"p_seconds">("P.", {0.5, 0.9});
    for (int i = 1; i <= 100; ++i) s.observe(i);
    const auto fams = pb::decode_families(render_protobuf(r));
    ASSERT_EQ(fams.size(), 1u);
    EXPECT_EQ(fams[0].type, 2u);  // SUMMARY
    const auto& m = fams[0].metrics[0];
    EXPECT_EQ(m.kind, 4u);
    EXPECT_EQ(pb::one(m.body, 1).varint, 100u);
    EXPECT_EQ(pb::one(m.body, 2).as_double(), 5050);
    const auto qs = pb::all(m.body, 3);
    ASSERT_EQ(qs.size(), 2u);
    const auto q0 = pb::decode(qs[0]->bytes), q1 = pb::decode(qs[1]->bytes);
    EXPECT_EQ(pb::one(q0, 1).as_double(), 0.5);
    EXPECT_NEAR(pb::one(q0, 2).as_double(), 50, 50 * summary_relative_error);
    EXPECT_EQ(pb::one(q1, 1).as_double(), 0.9);
    EXPECT_NEAR(pb::one(q1, 2).as_double(), 90, 90 * summary_relative_error);
}

TEST(Summary, RegistrationRules) {
    registry r;
    r.summary<"a_seconds">("A.");
    EXPECT_THROW(r.summary<"a_seconds">("A.", {0.5}), registration_error);
    EXPECT_THROW(r.summary<"b_seconds">("B.", {1.5}), invalid_argument_error);
    EXPECT_THROW(r.summary<"c_seconds">("C.", {0.5, 0.5}), invalid_argument_error);
    EXPECT_THROW(r.summary<"d_seconds">("D.", {0.5}, {.max_age = std::chrono::seconds(1), .age_buckets = 5}),
                 invalid_argument_error);
    EXPECT_THROW(r.gauge<"a_seconds_count">("clash"), registration_error);
}

TEST(Summary, TextFormat) {
    registry r;
    auto& f = r.summary<"t_seconds", labels<"rpc">>("T.", {0.5, 1});
    f.labels("get").observe(2);
    auto n = r.native_histogram<"n_seconds">("N.");
    n.observe(1);
    const auto txt = render_text(r);
    EXPECT_NE(txt.find("# TYPE t_seconds summary\n"
                       "t_seconds{rpc=\"get\",quantile=\"0.5\"} "),
              std::string::npos)
        << txt;
    EXPECT_NE(txt.find("t_seconds{rpc=\"get\",quantile=\"1\"} "), std::string::npos) << txt;
    EXPECT_NE(txt.find("t_seconds_sum{rpc=\"get\"} 2\nt_seconds_count{rpc=\"get\"} 1\n"), std::string::npos) << txt;
    EXPECT_NE(txt.find("n_seconds_bucket{le=\"+Inf\"} 1\nn_seconds_sum 1\nn_seconds_count 1\n"), std::string::npos)
        << txt;
    const auto pr = vitals_test::promtool_check(txt);
    EXPECT_EQ(pr.exit_code, 0) << pr.output << txt;
}
