// Tests for vitals/exposition/protobuf.hpp, decoded by an independent wire-format decoder (and by
// `protoc --decode_raw` where protoc is installed).
#include <vitals/exposition/protobuf.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals;
namespace pb = vitals_test::pb;

TEST(Protobuf, VarintAndZigzag) {
    std::string s;
    detail::pb_varint(s, 300);
    EXPECT_EQ(s, "\xAC\x02");
    EXPECT_EQ(detail::pb_zigzag(0), 0u);
    EXPECT_EQ(detail::pb_zigzag(-1), 1u);
    EXPECT_EQ(detail::pb_zigzag(1), 2u);
    EXPECT_EQ(detail::pb_zigzag(-2), 3u);
    EXPECT_EQ(detail::pb_zigzag(INT64_MIN), UINT64_MAX);
}

TEST(Protobuf, EmptyRegistryIsEmpty) {
    registry r;
    EXPECT_EQ(render_protobuf(r), "");
}

TEST(Protobuf, EveryClassicType) {
    registry r(const_labels{{"service", "api"}});
    auto& c = r.counter<"http_requests_total", labels<"method">>("Requests.");
    c.labels("GET").inc(3);
    c.set_unit("");
    r.gauge<"queue_depth">("Depth.").set(-2.5);
    auto& h = r.histogram<"lat_seconds", labels<"rpc">>("Latency.", std::vector<double>{0.1, 1});
    h.labels("get").observe(0.05);
    h.labels("get").observe(0.5);
    h.labels("get").observe(5);
    r.info<"build_info", labels<"version">>("Build.").set("1.2");
    r.stateset<"mode">("Mode.", {"a", "b"}).labels().set_only("b");
    const auto body = render_protobuf(r);
    const auto fams = pb::decode_families(body);
    ASSERT_EQ(fams.size(), 5u);

    const auto& cf = pb::find(fams, "http_requests_total");
    EXPECT_EQ(cf.help, "Requests.");
    EXPECT_EQ(cf.type, 0u);  // COUNTER
    ASSERT_EQ(cf.metrics.size(), 1u);
    EXPECT_EQ(cf.metrics[0].label("service"), "api");
    EXPECT_EQ(cf.metrics[0].label("method"), "GET");
    EXPECT_EQ(cf.metrics[0].kind, 3u);
    EXPECT_EQ(pb::one(cf.metrics[0].body, 1).as_double(), 3);

    const auto& gf = pb::find(fams, "queue_depth");
    EXPECT_EQ(gf.type, 1u);
    EXPECT_EQ(gf.metrics[0].kind, 2u);
    EXPECT_EQ(pb::one(gf.metrics[0].body, 1).as_double(), -2.5);

    const auto& hf = pb::find(fams, "lat_seconds");
    EXPECT_EQ(hf.type, 4u);
    const auto& hm = hf.metrics[0];
    EXPECT_EQ(hm.kind, 7u);
    EXPECT_EQ(hm.label("rpc"), "get");
    EXPECT_EQ(pb::one(hm.body, 1).varint, 3u);
    EXPECT_DOUBLE_EQ(pb::one(hm.body, 2).as_double(), 5.55);
    const auto buckets = pb::all(hm.body, 3);
    ASSERT_EQ(buckets.size(), 2u);  // +Inf is implied by the count
    const auto b0 = pb::decode(buckets[0]->bytes), b1 = pb::decode(buckets[1]->bytes);
    EXPECT_EQ(pb::one(b0, 1).varint, 1u);
    EXPECT_EQ(pb::one(b0, 2).as_double(), 0.1);
    EXPECT_EQ(pb::one(b1, 1).varint, 2u);
    EXPECT_EQ(pb::one(b1, 2).as_double(), 1);
    EXPECT_FALSE(pb::has(hm.body, 5)) << "a classic histogram has no schema";

    const auto& inf = pb::find(fams, "build_info");
    EXPECT_EQ(inf.type, 1u);
    EXPECT_EQ(inf.metrics[0].label("version"), "1.2");
    EXPECT_EQ(pb::one(inf.metrics[0].body, 1).as_double(), 1);

    const auto& st = pb::find(fams, "mode");
    EXPECT_EQ(st.type, 1u);
    ASSERT_EQ(st.metrics.size(), 2u);
    EXPECT_EQ(st.metrics[0].label("mode"), "a");
    EXPECT_EQ(pb::one(st.metrics[0].body, 1).as_double(), 0);
    EXPECT_EQ(st.metrics[1].label("mode"), "b");
    EXPECT_EQ(pb::one(st.metrics[1].body, 1).as_double(), 1);
}

TEST(Protobuf, UnitCreatedAndRawLabelValues) {
    registry r;
    auto& c = r.counter<"read_bytes_total", labels<"path">>("Bytes\nread \"raw\".");
    c.set_unit("bytes");
    c.labels("a\"b\\c\nd").inc(7);
    const auto fams = pb::decode_families(render_protobuf(r, {.created = true}));
    ASSERT_EQ(fams.size(), 1u);
    EXPECT_EQ(fams[0].help, "Bytes\nread \"raw\".");  // protobuf needs no escaping
    EXPECT_EQ(fams[0].unit, "bytes");
    EXPECT_EQ(fams[0].metrics[0].label("path"), "a\"b\\c\nd");
    const auto ts = pb::decode(pb::one(fams[0].metrics[0].body, 3).bytes);
    const auto secs = static_cast<std::int64_t>(pb::one(ts, 1).varint);
    EXPECT_GT(secs, 1600000000);
    EXPECT_LT(secs, 4000000000);
}

TEST(Protobuf, CallbackCounterAndLargeValues) {
    registry r;
    r.callback_counter<"big_total">("Big.").set([] { return 1e19; });
    auto c = r.counter<"huge_total">("Huge.");
    c.inc(UINT64_MAX);
    c.inc(UINT64_MAX);
    const auto fams = pb::decode_families(render_protobuf(r));
    EXPECT_EQ(pb::one(pb::find(fams, "big_total").metrics[0].body, 1).as_double(), 1e19);
    EXPECT_EQ(pb::one(pb::find(fams, "huge_total").metrics[0].body, 1).as_double(), 2 * 18446744073709551615.0);
}

TEST(Protobuf, ExemplarsWhenPresent) {
    const string_ref names[] = {"route"};
    const string_ref values[] = {"/a"};
    detail::series_base s(names, {values, detail::hash_values(values)});
    const auto ex = exemplar::make({{"trace_id", "abc"}}, 0.5, 1700000000.25);
    std::string out;
    detail::protobuf_writer<std::string> w(out, {});
    family_header h;
    h.name = "req_total";
    h.type = metric_type::counter;
    h.label_names = names;
    w.begin_family(h);
    w.counter_sample(s.view(), counter_value{0, 4, 0}, &ex);
    w.end_family();
    const auto fams = pb::decode_families(out);
    const auto e = pb::decode(pb::one(fams[0].metrics[0].body, 2).bytes);
    const auto lp = pb::decode(pb::one(e, 1).bytes);
    EXPECT_EQ(pb::one(lp, 1).bytes, "trace_id");
    EXPECT_EQ(pb::one(lp, 2).bytes, "abc");
    EXPECT_EQ(pb::one(e, 2).as_double(), 0.5);
    const auto ts = pb::decode(pb::one(e, 3).bytes);
    EXPECT_EQ(pb::one(ts, 1).varint, 1700000000u);
    EXPECT_EQ(pb::one(ts, 2).varint, 250000000u);
}

TEST(Protobuf, ProtocDecodeRawWhenAvailable) {
    if (vitals_test::run_process({"sh", "-c", "command -v protoc"}, "").exit_code != 0)
        GTEST_SKIP() << "protoc not installed (Debian: protobuf-compiler)";
    registry r;
    r.counter<"x_total">("X.").inc(2);
    const auto body = render_protobuf(r);
    const auto msgs = pb::split_delimited(body);
    ASSERT_EQ(msgs.size(), 1u);
    const auto res = vitals_test::run_process({"protoc", "--decode_raw"}, msgs[0]);
    EXPECT_EQ(res.exit_code, 0) << res.output;
    EXPECT_NE(res.output.find("1: \"x_total\""), std::string::npos) << res.output;
}

// The reference client sends an explicit +Inf bucket when (and only when) it carries an exemplar.
TEST(Protobuf, InfBucketCarriesItsExemplar) {
    registry r;
    auto h = r.histogram<"slow_seconds">("Latency.", std::vector<double>{0.1, 1});
    h.observe(0.05);
    const auto without = pb::decode_families(render_protobuf(r));
    EXPECT_EQ(pb::all(without[0].metrics[0].body, 3).size(), 2u);  // finite buckets only

    h.observe(7.5, exemplar_labels{{"trace_id", "inf1"}});
    const auto fams = pb::decode_families(render_protobuf(r));
    const auto buckets = pb::all(fams[0].metrics[0].body, 3);
    ASSERT_EQ(buckets.size(), 3u);
    const auto inf = pb::decode(buckets[2]->bytes);
    EXPECT_TRUE(std::isinf(pb::one(inf, 2).as_double()));
    EXPECT_EQ(pb::one(inf, 1).varint, 2u);  // cumulative: every observation
    const auto ex = pb::decode(pb::one(inf, 3).bytes);
    EXPECT_EQ(pb::one(ex, 2).as_double(), 7.5);
    EXPECT_EQ(pb::one(pb::decode(pb::one(ex, 1).bytes), 2).bytes, "inf1");
    // The finite buckets keep their own (absent) exemplars.
    EXPECT_FALSE(pb::has(pb::decode(buckets[1]->bytes), 3));
}
