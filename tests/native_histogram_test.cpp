// Tests for vitals/core/native_histogram.hpp: bucket keys as Prometheus defines them, schema
// choice, the Go client's bucket-limit rules, threads, and the protobuf encoding.
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <array>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
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
    EXPECT_EQ(detail::native_key(3.0, 0), 2);  // (2, 4]
    EXPECT_EQ(detail::native_key(1.5, 1), 2);  // (1.414, 2]
    EXPECT_EQ(detail::native_key(1.3, 1), 1);  // (1, 1.414]
    EXPECT_EQ(detail::native_key(1.1, 3), 2);  // (1.0905, 1.1892]
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
    auto h =
        r.native_histogram<"zw">("Zero widening.", {.bucket_factor = 2, .max_buckets = 3, .max_zero_threshold = 1});
    for (double v : {0.01, 0.1, 0.3, 3.0, 10.0}) h.observe(v);
    const auto s = h.snapshot();
    EXPECT_EQ(s.schema, 0) << "widening was enough";
    EXPECT_EQ(s.zero_threshold, 0.125);  // upper bounds of 0.01 → 2^-6, then 0.1 → 2^-3
    EXPECT_EQ(s.zero_count, 2u);
    EXPECT_EQ(s.positive.size(), 3u);
}

TEST(NativeHistogram, LimitResetsAfterMinDuration) {
    registry r;
    auto h = r.native_histogram<"rs">(
        "Reset.", {.bucket_factor = 2, .max_buckets = 2, .min_reset_duration = std::chrono::seconds(1)});
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
    auto& f = r.native_histogram<"both_seconds", labels<"route">>("Both.", {.classic_buckets = {0.1, 1}});
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
    EXPECT_NE(om.find("n_seconds_bucket{le=\"+Inf\"} 2\nn_seconds_count 2\nn_seconds_sum 3\n"), std::string::npos)
        << om;
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
    for (auto v : pb::packed(pb::one(m, 13).bytes))
        deltas.push_back(static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1)));
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

// --- Exact bucket keys. The reference below decides every comparison with a boundary
// 2^(k/2^s) by exact integer arithmetic, written here apart from the library's own: long double
// is too coarse next to a schema-8 boundary, and other clients' rounded tables are wrong there.
namespace exact {

__extension__ typedef unsigned __int128 u128;

// Bit lengths of m^(2^i), i = 0 … 8, by exact squaring on 64-bit words (memoised: the
// neighbours of one boundary share their mantissas across all normal exponents).
const std::array<std::int64_t, 9>& pow_bit_lengths(std::uint64_t m) {
    static std::unordered_map<std::uint64_t, std::array<std::int64_t, 9>> memo;
    if (auto it = memo.find(m); it != memo.end()) return it->second;
    std::array<std::int64_t, 9> out{};
    std::vector<std::uint64_t> x{m}, r;
    for (std::size_t i = 0;; ++i) {
        out[i] = static_cast<std::int64_t>(x.size() - 1) * 64 + std::bit_width(x.back());
        if (i == 8) break;
        r.assign(2 * x.size(), 0);
        for (std::size_t a = 0; a < x.size(); ++a) {
            u128 carry = 0;
            for (std::size_t b = 0; b < x.size(); ++b) {
                const u128 t = static_cast<u128>(x[a]) * x[b] + r[a + b] + carry;
                r[a + b] = static_cast<std::uint64_t>(t);
                carry = t >> 64;
            }
            r[a + x.size()] = static_cast<std::uint64_t>(carry);
        }
        while (r.size() > 1 && r.back() == 0) r.pop_back();
        x.swap(r);
    }
    return memo.emplace(m, out).first->second;
}

// Prometheus' key of a positive finite double v at schema s: the least k with v <= 2^(k/2^s).
// v = m * 2^e with m odd, so v^(2^s) = m^(2^s) * 2^(e*2^s), and for m > 1 the power m^(2^s) lies
// strictly between 2^(L-1) and 2^L, L its bit length: the key is e*2^s + L (m = 1: e*2^s).
std::int32_t key(double v, int s) {
    int fe;
    const double f = std::frexp(v, &fe);
    auto m = static_cast<std::uint64_t>(std::ldexp(f, 53));
    std::int64_t e = fe - 53;
    const int tz = std::countr_zero(m);
    m >>= tz;
    e += tz;
    const int p = std::max(s, 0);
    const std::int64_t k = e * (std::int64_t{1} << p) + (m == 1 ? 0 : pow_bit_lengths(m)[static_cast<std::size_t>(p)]);
    if (s >= 0) return static_cast<std::int32_t>(k);
    // Negative schemas: the least k with log2(v) <= k*2^-s, i.e. ceil(ceil(log2 v) / 2^-s).
    const std::int64_t d = std::int64_t{1} << -s;
    return static_cast<std::int32_t>(k >= 0 ? (k + d - 1) / d : -((-k) / d));
}

double up(double v) { return std::nextafter(v, std::numeric_limits<double>::infinity()); }
double down(double v) { return std::nextafter(v, 0.0); }

// v and its two neighbours on each side, those that are positive and finite.
void add_neighbours(std::vector<double>& out, double v) {
    const double c[] = {down(down(v)), down(v), v, up(v), up(up(v))};
    for (double x : c)
        if (x > 0 && std::isfinite(x)) out.push_back(x);
}

// Binary exponents around which boundaries are swept: subnormals, the directory's edges
// (2^±128), around 1, and up to the largest double.
constexpr int sweep_exponents[] = {-1074, -1073, -1060, -1040, -1023, -1022, -1021, -1000, -600, -129, -128, -127,
                                   -2,    -1,    0,     1,     2,     127,   128,   600,   1000, 1022, 1023};

// The doubles next to every boundary 2^(E + j/2^s), s = 1 … 8, for the given exponents E.
// `straddles` counts the boundaries whose neighbours fall on both sides by the exact key, and
// `boundaries` all of them: the sweep must really sit across each boundary.
std::vector<double> boundary_neighbours(std::span<const int> exps, int* boundaries = nullptr,
                                        int* straddles = nullptr) {
    std::vector<double> out;
    for (int s = 1; s <= 8; ++s) {
        const int n = 1 << s;
        for (int j = 0; j < n; ++j)
            for (int e : exps) {
                const double t = std::ldexp(std::exp2(static_cast<double>(j) / n), e);
                if (!(t > 0) || !std::isfinite(t)) continue;
                const std::size_t first = out.size();
                add_neighbours(out, t);
                if (!boundaries) continue;
                const std::int64_t k = static_cast<std::int64_t>(e) * n + j;
                bool below = false, above = false;
                for (std::size_t i = first; i < out.size(); ++i) (key(out[i], s) <= k ? below : above) = true;
                ++*boundaries;
                *straddles += below && above;
            }
    }
    return out;
}

// Powers of two, subnormal to the largest, with their neighbours (the boundaries at schema <= 0).
std::vector<double> power_of_two_neighbours(int lo = -1074, int hi = 1023) {
    std::vector<double> out;
    for (int e = lo; e <= hi; ++e) add_neighbours(out, std::ldexp(1.0, e));
    return out;
}

// Checks native_key_exact against the reference for every value at every schema; reports the
// number of mismatches and the first few.
::testing::AssertionResult all_keys_exact(const std::vector<double>& values) {
    std::size_t bad = 0;
    std::string first;
    for (int s = -4; s <= 8; ++s)
        for (double v : values) {
            const std::int32_t want = key(v, s), got = detail::native_key_exact(v, s);
            if (got == want) continue;
            if (++bad <= 5) {
                char buf[160];
                std::snprintf(buf, sizeof buf, "\n  schema %d, v = %a: key %d, exact %d", s, v, got, want);
                first += buf;
            }
        }
    if (bad == 0) return ::testing::AssertionSuccess() << values.size() << " values";
    return ::testing::AssertionFailure() << bad << " of " << values.size() * 13 << " keys wrong:" << first;
}

}  // namespace exact

TEST(NativeHistogramExact, KeysOfDoublesNextToBoundaries) {
    int boundaries = 0, straddles = 0;
    const auto values = exact::boundary_neighbours(exact::sweep_exponents, &boundaries, &straddles);
    EXPECT_GT(values.size(), 50000u);
    EXPECT_EQ(straddles, boundaries);
    EXPECT_TRUE(exact::all_keys_exact(values));
    // The example from the report: sqrt(2)/16, 2^-3.5 rounded up, lies just above a boundary.
    const double r = std::sqrt(2.0) / 16;
    ASSERT_EQ(exact::key(r, 1), -6);
    ASSERT_EQ(exact::key(exact::down(r), 1), -7);
    EXPECT_EQ(detail::native_key_exact(r, 1), -6);
    EXPECT_EQ(detail::native_key_exact(exact::down(r), 1), -7);
    EXPECT_EQ(detail::native_key(r, 1), -6);
}

TEST(NativeHistogramExact, KeysOfPowersOfTwoRandomAndExtremeDoubles) {
    auto values = exact::power_of_two_neighbours();
    std::mt19937_64 rng(7);
    const std::uint64_t max_bits = std::bit_cast<std::uint64_t>(std::numeric_limits<double>::max());
    for (int i = 0; i < 1500; ++i) {
        values.push_back(std::bit_cast<double>(std::uniform_int_distribution<std::uint64_t>(1, max_bits)(rng)));
        values.push_back(std::exp2(std::uniform_real_distribution<double>(-140, 140)(rng)));
        values.push_back(std::uniform_real_distribution<double>(0.5, 4)(rng));
        // Subnormals, every magnitude.
        const std::uint64_t sub =
            std::uniform_int_distribution<std::uint64_t>(1, (std::uint64_t{1} << 52) - 1)(rng) >> (i % 52);
        values.push_back(std::ldexp(static_cast<double>(std::max<std::uint64_t>(sub, 1)), -1074));
    }
    for (double v : {std::numeric_limits<double>::max(), std::numeric_limits<double>::min(),
                     std::numeric_limits<double>::denorm_min()})
        exact::add_neighbours(values, v);
    EXPECT_TRUE(exact::all_keys_exact(values));
    EXPECT_EQ(detail::native_key_exact(std::numeric_limits<double>::max(), 8), 1024 * 256);
    EXPECT_EQ(detail::native_key_exact(std::numeric_limits<double>::max(), -4), 64);
    EXPECT_EQ(detail::native_key_exact(std::numeric_limits<double>::denorm_min(), 8), -1074 * 256);
    EXPECT_EQ(detail::native_key_exact(std::numeric_limits<double>::denorm_min(), -4), -67);  // ceil(-1074/16)
    EXPECT_EQ(detail::native_key_exact(0x1p-1073, -1), -536);
    EXPECT_EQ(detail::native_key_exact(exact::up(0x1p-1073), -1), -536);
    EXPECT_EQ(detail::native_key_exact(exact::down(0x1p-1072), -1), -536);
    EXPECT_EQ(detail::native_key_exact(0x1p-1072, -1), -536);
    EXPECT_EQ(detail::native_key_exact(exact::up(0x1p-1072), -1), -535);
    // The directory's clamp stays: from 2^(128 - 2^-s) up, values count in its top bucket.
    for (std::int32_t s = 0; s <= 8; ++s) {
        const std::int32_t top = 128 * (1 << s) - 1;
        EXPECT_EQ(detail::native_key(0x1p128, s), top);
        EXPECT_EQ(detail::native_key(std::numeric_limits<double>::max(), s), top);
        EXPECT_EQ(detail::native_key(std::numeric_limits<double>::infinity(), s), top);
        EXPECT_EQ(detail::native_key(exact::up(0x1p-128), s), -128 * (1 << s) + 1);
    }
}

TEST(NativeHistogramExact, ExactPowerComparison) {
    std::mt19937_64 rng(3);
    for (int i = 0; i < 300; ++i) {
        const std::uint64_t m = std::uniform_int_distribution<std::uint64_t>(1, (std::uint64_t{1} << 53) - 1)(rng)
                                << (i % 8);
        const auto s = static_cast<std::int32_t>(i % 9);
        const std::int64_t len = exact::pow_bit_lengths(m)[static_cast<std::size_t>(s)];
        EXPECT_EQ(detail::native_pow_bit_length(m, s), len) << m << " " << s;
        const bool power = std::has_single_bit(m);
        // m^(2^s) <= 2^k: from k = len - 1 when it is a power of two, else from k = len.
        EXPECT_EQ(detail::native_pow_le(m, s, len - 2), false) << m << " " << s;
        EXPECT_EQ(detail::native_pow_le(m, s, len - 1), power) << m << " " << s;
        EXPECT_EQ(detail::native_pow_le(m, s, len), true) << m << " " << s;
    }
    // Powers within about 2^-62 of a power of two, too close for native_pow_le's 64-bit brackets:
    // these take its exact multi-word path (no 53-bit mantissa next to a boundary came that close).
    const std::pair<std::uint64_t, std::int32_t> close[] = {{3260954456333195553u, 1},  {10968499650544839023u, 2},
                                                            {10058158527438640871u, 3}, {2500959668174365257u, 7},
                                                            {608538013683208449u, 8},   {160600054998447439u, 8}};
    for (const auto& [m, s] : close) {
        const std::int64_t len = exact::pow_bit_lengths(m)[static_cast<std::size_t>(s)];
        EXPECT_FALSE(detail::native_pow_le(m, s, len - 1)) << m;
        EXPECT_TRUE(detail::native_pow_le(m, s, len)) << m;
    }
    EXPECT_TRUE(detail::native_pow_le(1, 8, 0));
    EXPECT_FALSE(detail::native_pow_le(3, 0, 1));
    EXPECT_TRUE(detail::native_pow_le(3, 0, 2));
}

TEST(NativeHistogramExact, UpperBoundsAreTheLargestDoubleNotAbove) {
    constexpr double max = std::numeric_limits<double>::max();
    std::size_t checked = 0;
    for (std::int32_t s = -4; s <= 8; ++s) {
        const std::int64_t n = s >= 0 ? std::int64_t{1} << s : 1;
        const std::int64_t per = s >= 0 ? 1 : std::int64_t{1} << -s;  // octaves per bucket
        std::vector<std::int64_t> keys;
        for (int e : exact::sweep_exponents)
            for (std::int64_t j = 0; j < n; ++j) keys.push_back(e * n / per + j);
        for (std::int64_t k = -1080 * n / per; k < -1070 * n / per; ++k) keys.push_back(k);
        for (std::int64_t k = 1020 * n / per; k < 1030 * n / per; ++k) keys.push_back(k);
        for (const std::int64_t k64 : keys) {
            const auto k = static_cast<std::int32_t>(k64);
            const double u = native_bucket_upper_bound(k, s);
            ++checked;
            if (u == 0) {
                EXPECT_GT(exact::key(std::numeric_limits<double>::denorm_min(), s), k) << s << " " << k;
                continue;
            }
            ASSERT_TRUE(std::isfinite(u)) << s << " " << k;
            EXPECT_LE(exact::key(u, s), k) << s << " " << k;
            if (u != max) {
                EXPECT_GT(exact::key(exact::up(u), s), k) << s << " " << k;
            } else {
                EXPECT_GE(k, exact::key(max, s)) << s << " " << k;
            }
        }
    }
    EXPECT_GT(checked, 20000u);
    // Every key, as a function of the double: above the previous bucket's bound, at most its own.
    for (double v : exact::boundary_neighbours(std::array{-1060, -1, 0, 1, 1023}))
        for (std::int32_t s : {1, 5, 8}) {
            const std::int32_t k = detail::native_key_exact(v, s);
            EXPECT_LE(v, native_bucket_upper_bound(k, s));
            EXPECT_GT(v, native_bucket_upper_bound(k - 1, s));
        }
    // A cell of the key table holds at most one bound, which the one-compare lookup relies on.
    for (std::int32_t s = 0; s <= 8; ++s) {
        const auto& t = detail::native_fraction_bounds(s);
        ASSERT_EQ(t.mant.size(), (std::size_t{1} << s) + 1);
        ASSERT_EQ(t.cell.size(), std::size_t{2} << s);
        for (std::size_t c = 0; c < t.cell.size(); ++c) {
            const std::size_t j = t.cell[c];
            EXPECT_GE(t.mant[j], std::uint64_t{c} << (51 - s));
            if (j > 0) {
                EXPECT_LT(t.mant[j - 1], std::uint64_t{c} << (51 - s));
            }
            if (j + 1 < t.mant.size()) {
                EXPECT_GE(t.mant[j + 1], std::uint64_t{c + 1} << (51 - s)) << s << " " << c;
            }
        }
    }
}

TEST(NativeHistogramExact, ObservedKeysThroughThePublicApi) {
    auto values = exact::boundary_neighbours(std::array{-127, -60, -1, 0, 1, 60, 126});
    for (double v : exact::power_of_two_neighbours(-127, 126)) values.push_back(v);
    std::mt19937_64 rng(11);
    for (int i = 0; i < 2000; ++i)
        values.push_back(std::exp2(std::uniform_real_distribution<double>(-127.9, 126.9)(rng)));
    std::erase_if(values, [](double v) { return !(v > 0x1p-128 && v <= 0x1p127); });
    const std::pair<double, std::int32_t> factors[] = {{65536, -4}, {256, -3}, {16, -2},  {4, -1},   {2, 0},
                                                       {1.5, 1},    {1.2, 2},  {1.1, 3},  {1.05, 4}, {1.03, 5},
                                                       {1.02, 6},   {1.01, 7}, {1.005, 8}};
    for (const auto& [factor, s] : factors) {
        registry r;
        auto h = r.native_histogram<"keys">("Keys.", {.bucket_factor = factor, .zero_threshold = 0, .max_buckets = 0});
        std::map<std::int32_t, std::uint64_t> want;
        for (double v : values) {
            h.observe(v);
            h.observe(-v);
            ++want[exact::key(v, s)];
        }
        const auto snap = h.snapshot();
        EXPECT_EQ(snap.schema, s);
        EXPECT_EQ(snap.count, 2 * values.size());
        EXPECT_EQ(snap.zero_count, 0u);
        EXPECT_TRUE(snap.positive == want) << "schema " << s;
        EXPECT_TRUE(snap.negative == want) << "schema " << s;
    }
}

TEST(NativeHistogramExact, WidenedZeroThresholdIsTheBoundaryRoundedDown) {
    for (const auto& [factor, s] : {std::pair{1.5, 1}, {1.1, 3}, {1.005, 8}}) {
        const std::int32_t n = 1 << s;
        for (std::int32_t k = -n; k < 0; ++k) {
            // The largest double not above 2^(k/n), found with the reference.
            double t = std::exp2(static_cast<double>(k) / n);
            while (exact::key(t, s) > k) t = exact::down(t);
            while (exact::key(exact::up(t), s) <= k) t = exact::up(t);
            registry r;
            auto h = r.native_histogram<"zw">(
                "Zero widening.",
                {.bucket_factor = factor, .zero_threshold = 0, .max_buckets = 2, .max_zero_threshold = 1e9});
            const std::int32_t far = exact::key(1e6, s);
            h.observe(t);             // bucket k, to be swallowed
            h.observe(exact::up(t));  // bucket k + 1: above the boundary, so above the threshold
            h.observe(1e6);
            auto snap = h.snapshot();
            ASSERT_EQ(snap.schema, s);
            EXPECT_EQ(snap.zero_threshold, t) << s << " " << k;
            EXPECT_EQ(snap.zero_count, 1u) << s << " " << k;
            EXPECT_EQ(snap.positive, (std::map<std::int32_t, std::uint64_t>{{k + 1, 1}, {far, 1}})) << s << " " << k;
            // Read back: a value equal to the threshold is in the zero bucket, the next one is not.
            h.observe(t);
            h.observe(exact::up(t));
            h.observe(-t);
            snap = h.snapshot();
            EXPECT_EQ(snap.zero_threshold, t);
            EXPECT_EQ(snap.zero_count, 3u) << s << " " << k;
            EXPECT_EQ(snap.positive, (std::map<std::int32_t, std::uint64_t>{{k + 1, 2}, {far, 1}})) << s << " " << k;
        }
    }
}

// Exemplars: the latest per classic bucket, shown by OpenMetrics on its bucket and carried by
// protobuf on the classic buckets, as for a classic histogram.
TEST(NativeHistogram, ExemplarsOnClassicBuckets) {
    registry r;
    auto h = r.native_histogram<"traced_seconds">("Traced.", {.classic_buckets = {0.1, 1}});
    EXPECT_TRUE(h.observe(0.05, exemplar_labels{{"trace_id", "first"}}));
    EXPECT_TRUE(h.observe(0.07, exemplar_labels{{"trace_id", "low"}}));  // the latest wins
    EXPECT_TRUE(h.observe(5, exemplar_labels{{"trace_id", "slow"}}));
    EXPECT_FALSE(h.observe(std::nan(""), exemplar_labels{{"trace_id", "nan"}}));
    EXPECT_EQ(h.snapshot().count, 3u);

    const auto om = render_openmetrics(r);
    EXPECT_NE(om.find("traced_seconds_bucket{le=\"0.1\"} 2 # {trace_id=\"low\"} 0.07 "), std::string::npos) << om;
    EXPECT_NE(om.find("traced_seconds_bucket{le=\"1.0\"} 2\n"), std::string::npos) << om;
    EXPECT_NE(om.find("traced_seconds_bucket{le=\"+Inf\"} 3 # {trace_id=\"slow\"} 5 "), std::string::npos) << om;
    EXPECT_EQ(om.find("first"), std::string::npos) << om;
    EXPECT_EQ(om.find("nan\""), std::string::npos) << om;
    const auto parsed = vitals_test::openmetrics_check(om);
    EXPECT_TRUE(parsed.ok) << parsed.output << om;

    const auto fams = pb::decode_families(render_protobuf(r));
    ASSERT_EQ(fams.size(), 1u);
    const auto buckets = pb::all(fams[0].metrics[0].body, 3);
    ASSERT_EQ(buckets.size(), 3u);  // +Inf sent because it carries an exemplar
    const auto low = pb::decode(buckets[0]->bytes);
    const auto low_ex = pb::decode(pb::one(low, 3).bytes);
    EXPECT_EQ(pb::one(low_ex, 2).as_double(), 0.07);
    EXPECT_EQ(pb::one(pb::decode(pb::one(low_ex, 1).bytes), 2).bytes, "low");
    EXPECT_FALSE(pb::has(pb::decode(buckets[1]->bytes), 3));
    const auto inf = pb::decode(buckets[2]->bytes);
    EXPECT_TRUE(std::isinf(pb::one(inf, 2).as_double()));
    EXPECT_EQ(pb::one(pb::decode(pb::one(pb::decode(pb::one(inf, 3).bytes), 1).bytes), 2).bytes, "slow");
}

// Without classic buckets, OpenMetrics shows the +Inf bucket only, and the exemplar there.
// Protobuf has no place for it in the model Prometheus 2.42 reads: no bucket is invented.
TEST(NativeHistogram, ExemplarWithoutClassicBucketsIsOnInf) {
    registry r;
    auto h = r.native_histogram<"plain_seconds">("Plain.");
    h.observe(1);
    EXPECT_TRUE(h.observe(2, exemplar_labels{{"trace_id", "only"}}));
    const auto om = render_openmetrics(r);
    EXPECT_NE(om.find("plain_seconds_bucket{le=\"+Inf\"} 2 # {trace_id=\"only\"} 2 "), std::string::npos) << om;
    EXPECT_TRUE(vitals_test::openmetrics_check(om).ok) << om;
    const auto fams = pb::decode_families(render_protobuf(r));
    ASSERT_EQ(fams.size(), 1u);
    EXPECT_EQ(pb::all(fams[0].metrics[0].body, 3).size(), 0u);
    EXPECT_EQ(pb::one(fams[0].metrics[0].body, 1).varint, 2u);
}

// Exemplars stored by many threads at once while renders read them: every render parses, and
// the exemplar shown is one that was stored (TSan checks the slots' publication).
TEST(NativeHistogram, ExemplarsUnderConcurrentObserveAndRender) {
    registry r;
    auto& f = r.native_histogram<"busy_seconds", labels<"route">>("Busy.", {.classic_buckets = {0.5}});
    std::vector<std::thread> writers;
    for (int t = 0; t < 4; ++t)
        writers.emplace_back([&, t] {
            auto h = f.with("/x");
            const std::string id = "t" + std::to_string(t);
            for (int i = 0; i < 20000; ++i) h.observe((i % 2) ? 0.25 : 2.0, exemplar_labels{{"trace_id", id}});
        });
    // Every exemplar shown belongs to its bucket and came whole from one writer.
    auto check = [](const std::string& om) {
        std::size_t shown = 0;
        for (std::size_t at = om.find(" # {"); at != std::string::npos; at = om.find(" # {", at + 1)) {
            const std::size_t line = om.rfind('\n', at) + 1;
            const std::string head = om.substr(line, at - line);
            const std::string tail = om.substr(at, om.find('\n', at) - at);
            const bool low = head.find("le=\"0.5\"") != std::string::npos;
            EXPECT_TRUE(low || head.find("le=\"+Inf\"") != std::string::npos) << head;
            EXPECT_NE(tail.find(low ? "\"} 0.25 " : "\"} 2 "), std::string::npos) << head << tail;
            const std::size_t id = tail.find("trace_id=\"t");
            EXPECT_TRUE(id != std::string::npos && tail[id + 11] >= '0' && tail[id + 11] <= '3') << tail;
            ++shown;
        }
        return shown;
    };
    for (int renders = 0; renders < 50; ++renders) check(render_openmetrics(r));
    for (auto& w : writers) w.join();
    const auto om = render_openmetrics(r);
    EXPECT_NE(om.find("busy_seconds_bucket{route=\"/x\",le=\"0.5\"}"), std::string::npos) << om;
    EXPECT_EQ(check(om), 2u) << om;
    EXPECT_TRUE(vitals_test::openmetrics_check(om).ok) << om;
}
