// Tests for vitals/core/native_histogram.hpp: bucket keys as Prometheus defines them, schema
// choice, the Go client's bucket-limit rules, threads, and the protobuf encoding.
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "support/openmetrics.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

TEST(NativeHistogram, SchemaFromFactorLikeTheGoClient) {
    EXPECT_EQ(native_schema_for(65536), -4);
    EXPECT_EQ(native_schema_for(256), -3);
    EXPECT_EQ(native_schema_for(16), -2);
    EXPECT_EQ(native_schema_for(4), -1);
    EXPECT_EQ(native_schema_for(2), 0);
    EXPECT_EQ(native_schema_for(1.5), 1);
    EXPECT_EQ(native_schema_for(1.2), 2);
    EXPECT_EQ(native_schema_for(1.1), 3);
    EXPECT_EQ(native_schema_for(1.05), 4);
    EXPECT_EQ(native_schema_for(1.03), 5);
    EXPECT_EQ(native_schema_for(1.02), 6);
    EXPECT_EQ(native_schema_for(1.01), 7);
    EXPECT_EQ(native_schema_for(1.005), 8);
    EXPECT_EQ(native_schema_for(1.0001), 8);
    EXPECT_EQ(native_schema_for(1e300), -4);
    EXPECT_THROW(native_schema_for(1), invalid_argument_error);
    EXPECT_THROW(native_schema_for(std::nan("")), invalid_argument_error);
}

TEST(NativeHistogram, KeysMatchPrometheusBoundaries) {
    // Bucket k holds (2^((k-1)/2^s), 2^(k/2^s)]: upper bounds are inclusive.
    for (std::int32_t s = 0; s <= 8; ++s) {
        EXPECT_EQ(detail::native_key(1.0, s), 0) << s;
        EXPECT_EQ(detail::native_key(2.0, s), 1 << s) << s;
        EXPECT_EQ(detail::native_key(std::nextafter(1.0, 2.0), s), 1) << s;
        EXPECT_EQ(detail::native_key(0.5, s), -(1 << s)) << s;
    }
    EXPECT_EQ(detail::native_key(3.0, 0), 2);   // (2, 4]
    EXPECT_EQ(detail::native_key(1.5, 1), 2);   // (1.414, 2]
    EXPECT_EQ(detail::native_key(1.3, 1), 1);   // (1, 1.414]
    EXPECT_EQ(detail::native_key(1.1, 3), 2);   // (1.0905, 1.1892]
    // Each value falls in (lower, upper] of its key.
    std::mt19937_64 rng(1);
    for (int i = 0; i < 10000; ++i) {
        const double v = std::exp(std::uniform_real_distribution<double>(-60, 60)(rng));
        for (std::int32_t s : {0, 3, 8}) {
            const auto k = detail::native_key(v, s);
            EXPECT_LE(v, native_bucket_upper_bound(k, s) * (1 + 1e-15));
            EXPECT_GT(v, native_bucket_upper_bound(k - 1, s) * (1 - 1e-15));
        }
    }
    EXPECT_EQ(native_bucket_upper_bound(3, -2), 4096.0);  // 2^(3*4)
    EXPECT_EQ(native_bucket_upper_bound(-8, 3), 0.5);
}

TEST(NativeHistogram, ObserveAndSnapshot) {
    registry r;
    auto h = r.native_histogram<"lat_seconds">("Latency.");
    for (double v : {0.0, 1.0, 1.05, 2.0, -3.0, 1e-40}) EXPECT_TRUE(h.observe(v));
    EXPECT_FALSE(h.observe(std::nan("")));
    const auto s = h.snapshot();
    EXPECT_EQ(s.schema, 3);
    EXPECT_EQ(s.count, 6u);
    EXPECT_DOUBLE_EQ(s.sum, 1.05 + 1e-40);
    EXPECT_EQ(s.zero_count, 2u);  // 0 and 1e-40
    EXPECT_EQ(s.positive, (std::map<std::int32_t, std::uint64_t>{{0, 1}, {1, 1}, {8, 1}}));
    EXPECT_EQ(s.negative, (std::map<std::int32_t, std::uint64_t>{{13, 1}}));  // 3 in (2^(12/8), 2^(13/8)]
    EXPECT_TRUE(s.classic_cumulative.empty());
}

TEST(NativeHistogram, NegativeSchemaAndHugeValues) {
    registry r;
    auto h = r.native_histogram<"big">("Big.", {.bucket_factor = 16});  // schema -2: 4 octaves per bucket
    h.observe(1);
    h.observe(3);      // key 2 at schema 0 → 1 at schema -2
    h.observe(1e300);  // beyond 2^128: counted in the highest bucket
    h.observe(std::numeric_limits<double>::infinity());
    const auto s = h.snapshot();
    EXPECT_EQ(s.schema, -2);
    EXPECT_EQ(s.count, 4u);
    EXPECT_EQ(s.positive.at(0), 1u);
    EXPECT_EQ(s.positive.at(1), 1u);
    EXPECT_EQ(s.positive.rbegin()->second, 2u);
    EXPECT_EQ(native_bucket_upper_bound(s.positive.rbegin()->first, -2), 0x1p128);
}

TEST(NativeHistogram, SpansAndDeltas) {
    std::map<std::int32_t, std::uint64_t> m{{-3, 2}, {-2, 5}, {0, 1}, {7, 4}};
    std::vector<bucket_span> spans;
    std::vector<std::int64_t> deltas;
    detail::native_histogram_series::encode(m, spans, deltas);
    // -3,-2, (gap of 1 filled), 0 in one span; 7 after a gap of 6.
    ASSERT_EQ(spans.size(), 2u);
    EXPECT_EQ(spans[0].offset, -3);
    EXPECT_EQ(spans[0].length, 4u);
    EXPECT_EQ(spans[1].offset, 6);
    EXPECT_EQ(spans[1].length, 1u);
    EXPECT_EQ(deltas, (std::vector<std::int64_t>{2, 3, -5, 1, 3}));
    detail::native_histogram_series::encode({}, spans, deltas);
    EXPECT_TRUE(spans.empty());
}

TEST(NativeHistogram, LimitDecreasesResolution) {
    registry r;
    auto h = r.native_histogram<"wide">("Wide.", {.bucket_factor = 1.005, .max_buckets = 20});
    for (int i = 0; i < 1000; ++i) h.observe(1 + i * 0.01);  // 1 … 11: ~3.5 octaves
    const auto s = h.snapshot();
    EXPECT_LE(s.positive.size(), 20u);
    EXPECT_LT(s.schema, 8);
    EXPECT_GE(s.schema, 2);
    std::uint64_t total = 0;
    for (const auto& [k, c] : s.positive) total += c;
    EXPECT_EQ(total, 1000u);
    // The reduced schema persists (no reset configured).
    h.observe(1.5);
    EXPECT_EQ(h.snapshot().schema, s.schema);
}

TEST(NativeHistogram, LimitWidensZeroBucketFirst) {
    registry r;
    auto h = r.native_histogram<"zw">("Zero widening.", {.bucket_factor = 2, .max_buckets = 3, .max_zero_threshold = 1});
    for (double v : {0.01, 0.1, 0.3, 3.0, 10.0}) h.observe(v);
    const auto s = h.snapshot();
    EXPECT_EQ(s.schema, 0) << "widening was enough";
    EXPECT_EQ(s.zero_threshold, 0.125);  // upper bounds of 0.01 → 2^-6, then 0.1 → 2^-3
    EXPECT_EQ(s.zero_count, 2u);
    EXPECT_EQ(s.positive.size(), 3u);
}

TEST(NativeHistogram, LimitResetsAfterMinDuration) {
    registry r;
    auto h = r.native_histogram<"rs">("Reset.", {.bucket_factor = 2, .max_buckets = 2,
                                                 .min_reset_duration = std::chrono::seconds(1)});
    h.observe(1);
    h.observe(4);
    EXPECT_EQ(h.snapshot().count, 2u);  // at the limit: nothing to do
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    h.observe(16);  // third bucket: over the limit, reset allowed
    const auto s = h.snapshot();
    EXPECT_EQ(s.count, 0u);
    EXPECT_TRUE(s.positive.empty());
    h.observe(2);
    const auto t = h.snapshot();
    EXPECT_EQ(t.count, 1u);
    EXPECT_EQ(t.positive, (std::map<std::int32_t, std::uint64_t>{{1, 1}}));
}

TEST(NativeHistogram, ClassicBucketsAlongside) {
    registry r;
    auto& f = r.native_histogram<"both_seconds", labels<"route">>(
        "Both.", {.classic_buckets = {0.1, 1}});
    auto h = f.with("/a");
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    EXPECT_EQ(h.snapshot().classic_cumulative, (std::vector<std::uint64_t>{1, 2, 3}));
    const auto txt = render_text(r);
    EXPECT_NE(txt.find("both_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"), std::string::npos) << txt;
    const auto pr = vitals_test::promtool_check(txt);
    EXPECT_EQ(pr.exit_code, 0) << pr.output;
    const auto om = render_openmetrics(r);
    EXPECT_NE(om.find("both_seconds_bucket{route=\"/a\",le=\"1.0\"} 2\n"), std::string::npos) << om;
    const auto parsed = vitals_test::openmetrics_check(om);
    EXPECT_TRUE(parsed.ok) << parsed.output << om;
}

TEST(NativeHistogram, OpenMetricsWithoutClassicBucketsShowsInfOnly) {
    registry r;
    auto h = r.native_histogram<"n_seconds">("N.");
    h.observe(1);
    h.observe(2);
    const auto om = render_openmetrics(r);
    EXPECT_NE(om.find("n_seconds_bucket{le=\"+Inf\"} 2\nn_seconds_count 2\nn_seconds_sum 3\n"), std::string::npos) << om;
    EXPECT_TRUE(vitals_test::openmetrics_check(om).ok);
}

TEST(NativeHistogram, ProtobufEncoding) {
    registry r;
    auto h = r.native_histogram<"rpc_seconds">("RPC.", {.classic_buckets = {1}});
    for (double v : {0.0, 1.0, 1.0, 2.0, 2.5, -1.0}) h.observe(v);
    const auto fams = pb::decode_families(render_protobuf(r));
    ASSERT_EQ(fams.size(), 1u);
    EXPECT_EQ(fams[0].type, 4u);
    const auto& m = fams[0].metrics[0].body;
    EXPECT_EQ(pb::one(m, 1).varint, 6u);
    EXPECT_EQ(pb::one(m, 2).as_double(), 5.5);
    EXPECT_EQ(pb::one(m, 5).as_sint(), 3);
    EXPECT_EQ(pb::one(m, 6).as_double(), 2.938735877055719e-39);
    EXPECT_EQ(pb::one(m, 7).varint, 1u);
    // Positive: key 0 (count 2), key 8 (2.0 → 1), key 11 (2.5 in (2^(10/8), 2^(11/8)]): spans {0,1},{7,1}, then gap 2 filled.
    const auto spans = pb::all(m, 12);
    std::vector<std::pair<std::int64_t, std::uint64_t>> got;
    for (const auto* sp : spans) {
        const auto f = pb::decode(sp->bytes);
        got.emplace_back(pb::has(f, 1) ? pb::one(f, 1).as_sint() : 0, pb::has(f, 2) ? pb::one(f, 2).varint : 0);
    }
    EXPECT_EQ(got, (std::vector<std::pair<std::int64_t, std::uint64_t>>{{0, 1}, {7, 4}}));
    std::vector<std::int64_t> deltas;
    for (auto v : pb::packed(pb::one(m, 13).bytes)) deltas.push_back(static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1)));
    EXPECT_EQ(deltas, (std::vector<std::int64_t>{2, -1, -1, 0, 1}));
    // Negative: -1 → key 0.
    const auto nspan = pb::decode(pb::one(m, 9).bytes);
    EXPECT_FALSE(pb::has(nspan, 1));
    EXPECT_EQ(pb::one(nspan, 2).varint, 1u);
    // The classic bucket too.
    const auto b = pb::decode(pb::one(m, 3).bytes);
    EXPECT_EQ(pb::one(b, 1).varint, 4u);  // 0, 1, 1, -1
}

TEST(NativeHistogram, EmptyHistogramHasNoOpSpan) {
    registry r;
    r.native_histogram<"empty_seconds">("E.", {.zero_threshold = 0});
    const auto fams = pb::decode_families(render_protobuf(r));
    const auto& m = fams[0].metrics[0].body;
    ASSERT_EQ(pb::all(m, 12).size(), 1u);
    EXPECT_EQ(pb::one(m, 12).bytes, "");
}

TEST(NativeHistogram, ThreadsAndExitedThreads) {
    registry r;
    auto& f = r.native_histogram<"mt_seconds", labels<"w">>("MT.");
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([&f, t] {
            auto h = f.with("x");
            for (int i = 0; i < 10000; ++i) h.observe((i % 100 + 1) * (t % 2 ? -0.01 : 0.01));
        });
    // Render while they observe: every render must be consistent enough to decode.
    for (int i = 0; i < 20; ++i) (void)pb::decode_families(render_protobuf(r));
    for (auto& t : ts) t.join();
    const auto s = f.with("x").snapshot();
    EXPECT_EQ(s.count, 40000u);
    std::uint64_t pos = 0, neg = 0;
    for (const auto& [k, c] : s.positive) pos += c;
    for (const auto& [k, c] : s.negative) neg += c;
    EXPECT_EQ(pos, 20000u);
    EXPECT_EQ(neg, 20000u);
    EXPECT_TRUE(f.remove("x"));
}

TEST(NativeHistogram, RegistrationRules) {
    registry r;
    r.native_histogram<"a_seconds">("A.");
    EXPECT_THROW(r.native_histogram<"a_seconds">("A.", {.bucket_factor = 2}), registration_error);
    EXPECT_THROW(r.histogram<"a_seconds">("A."), registration_error);
    EXPECT_THROW(r.native_histogram<"b_seconds">("B.", {.bucket_factor = 0.5}), invalid_argument_error);
    EXPECT_THROW(r.native_histogram<"c_seconds">("C.", {.classic_buckets = {2, 1}}), invalid_argument_error);
}
