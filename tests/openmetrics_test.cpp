// Tests for vitals/exposition/openmetrics.hpp (and info/stateset): exact output, and every render
// parsed by the Python client's strict OpenMetrics parser.
#include <vitals/core/exemplar.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "support/consumer_checks.hpp"

using namespace vitals;

namespace {
void expect_parses(const std::string& text) { vitals_test::expect_openmetrics_parses(text); }
void expect_promtool_clean(const std::string& text) { vitals_test::expect_promtool_accepts(text); }
}  // namespace

TEST(OpenMetrics, ExactOutput) {
    registry r;
    auto& f = r.counter<"http_requests_total", labels<"method", "code">>("Total requests.");
    f.labels("GET", "200").inc(3);
    auto g = r.gauge<"queue_depth">("Items waiting.");
    g.set(7.5);
    auto& h = r.histogram<"rpc_duration_seconds", labels<"rpc">>("RPC latency.", std::vector<double>{0.1, 1});
    h.labels("get").observe(0.5);
    EXPECT_EQ(render_openmetrics(r),
              "# HELP http_requests Total requests.\n"
              "# TYPE http_requests counter\n"
              "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "# HELP queue_depth Items waiting.\n"
              "# TYPE queue_depth gauge\n"
              "queue_depth 7.5\n"
              "# HELP rpc_duration_seconds RPC latency.\n"
              "# TYPE rpc_duration_seconds histogram\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"0.1\"} 0\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"1.0\"} 1\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"+Inf\"} 1\n"
              "rpc_duration_seconds_count{rpc=\"get\"} 1\n"
              "rpc_duration_seconds_sum{rpc=\"get\"} 0.5\n"
              "# EOF\n");
    expect_parses(render_openmetrics(r));
}

TEST(OpenMetrics, EmptyRegistryIsJustEof) {
    registry r;
    EXPECT_EQ(render_openmetrics(r), "# EOF\n");
    expect_parses(render_openmetrics(r));
}

TEST(OpenMetrics, HelpEscapingAndUnit) {
    registry r;
    auto& f = r.counter<"io_read_bytes_total", labels<"dev">>("Bytes \"read\"\nfrom a \\ device.");
    f.set_unit("bytes");
    f.labels("sd\"a\\\n").inc(5);
    r.histogram<"op_seconds">("Op latency.", std::vector<double>{0.5});
    const auto text = render_openmetrics(r);
    EXPECT_NE(text.find("# HELP io_read_bytes Bytes \\\"read\\\"\\nfrom a \\\\ device.\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# UNIT io_read_bytes bytes\n"), std::string::npos) << text;
    EXPECT_NE(text.find("io_read_bytes_total{dev=\"sd\\\"a\\\\\\n\"} 5\n"), std::string::npos) << text;
    expect_parses(text);
    EXPECT_THROW(f.set_unit("seconds"), invalid_argument_error);
}

TEST(OpenMetrics, ConstLabelsCallbacksAndSpecialValues) {
    registry r(const_labels{{"service", "api"}});
    auto& g = r.gauge<"temp_celsius", labels<"room">>("Temperature.");
    g.labels("a").set(std::numeric_limits<double>::infinity());
    g.labels("b").set(-std::numeric_limits<double>::infinity());
    g.labels("c").set(std::nan(""));
    g.labels("d").set(1e300);
    r.callback_counter<"ticks_total">("Ticks.").set([] { return 12.5; });
    r.callback_gauge<"load">("Load.").set([] { return 0.25; });
    const auto text = render_openmetrics(r);
    EXPECT_NE(text.find("temp_celsius{service=\"api\",room=\"a\"} +Inf\n"), std::string::npos) << text;
    EXPECT_NE(text.find("ticks_total{service=\"api\"} 12.5\n"), std::string::npos) << text;
    expect_parses(text);
}

TEST(OpenMetrics, CreatedSamplesAreOptional) {
    registry r;
    r.counter<"c_total">("C.").inc();
    r.histogram<"h_seconds">("H.", std::vector<double>{1}).observe(2);
    r.gauge<"g">("G.").set(1);
    EXPECT_EQ(render_openmetrics(r).find("_created"), std::string::npos);
    const auto text = render_openmetrics(r, {.created = true});
    EXPECT_NE(text.find("c_created "), std::string::npos) << text;
    EXPECT_NE(text.find("h_seconds_created "), std::string::npos) << text;
    EXPECT_EQ(text.find("g_created"), std::string::npos) << text;
    expect_parses(text);
}

TEST(OpenMetrics, InfoFamily) {
    registry r;
    auto& build = r.info<"build_info", labels<"version", "revision">>("Build information.");
    build.set("1.4.2", "abc123");
    build.set("1.4.2", "abc123");  // idempotent
    EXPECT_EQ(build.size(), 1u);
    const auto text = render_openmetrics(r);
    EXPECT_EQ(text,
              "# HELP build Build information.\n"
              "# TYPE build info\n"
              "build_info{version=\"1.4.2\",revision=\"abc123\"} 1\n"
              "# EOF\n");
    expect_parses(text);
    // Other formats: a gauge named build_info.
    const auto txt = render_text(r);
    EXPECT_NE(txt.find("# TYPE build_info gauge\nbuild_info{version=\"1.4.2\",revision=\"abc123\"} 1\n"),
              std::string::npos)
        << txt;
    expect_promtool_clean(txt);
    build.replace("1.5.0", "def");
    EXPECT_NE(render_openmetrics(r).find("version=\"1.5.0\""), std::string::npos);
    EXPECT_TRUE(build.remove("1.5.0", "def"));
    EXPECT_EQ(build.size(), 0u);
    // Same definition again returns the same family.
    auto& again = r.info<"build_info", labels<"version", "revision">>("Build information.");
    EXPECT_EQ(&again, &build);
}

TEST(OpenMetrics, StatesetFamily) {
    registry r(const_labels{{"service", "api"}});
    auto& mode = r.stateset<"mode", labels<"shard">>("Current mode.", {"primary", "replica", "offline"});
    mode.labels("1").set_only("replica");
    mode.labels("2").set("primary", true);
    mode.labels("2").set("offline", true);
    EXPECT_TRUE(mode.labels("2").get("offline"));
    EXPECT_THROW(mode.labels("1").set("nope", true), invalid_argument_error);
    const auto text = render_openmetrics(r);
    EXPECT_EQ(text,
              "# HELP mode Current mode.\n"
              "# TYPE mode stateset\n"
              "mode{service=\"api\",shard=\"1\",mode=\"primary\"} 0\n"
              "mode{service=\"api\",shard=\"1\",mode=\"replica\"} 1\n"
              "mode{service=\"api\",shard=\"1\",mode=\"offline\"} 0\n"
              "mode{service=\"api\",shard=\"2\",mode=\"primary\"} 1\n"
              "mode{service=\"api\",shard=\"2\",mode=\"replica\"} 0\n"
              "mode{service=\"api\",shard=\"2\",mode=\"offline\"} 1\n"
              "# EOF\n");
    expect_parses(text);
    const auto txt = render_text(r);
    EXPECT_NE(txt.find("# TYPE mode gauge\nmode{service=\"api\",shard=\"1\",mode=\"primary\"} 0\n"), std::string::npos)
        << txt;
    expect_promtool_clean(txt);
    EXPECT_THROW((r.stateset<"bad_states">("x", {"a", "a"})), invalid_argument_error);
    EXPECT_THROW((r.stateset<"bad_states2">("x", {})), invalid_argument_error);
    EXPECT_THROW((r.stateset<"bad_states3">("x", {"a\"b"})), invalid_argument_error);
    EXPECT_THROW((r.stateset<"mode", labels<"shard">>("Current mode.", {"primary"})), registration_error);
}

TEST(OpenMetrics, StatesetStatesFromAVectorOfStrings) {
    registry r;
    auto* states = new std::vector<std::string>{"green", "amber", "red"};
    auto& light = r.stateset<"light">("Traffic light.", *states);
    delete states;  // the family keeps its own copies
    light.labels().set_only("amber");
    const auto text = render_openmetrics(r);
    EXPECT_NE(text.find("light{light=\"green\"} 0\nlight{light=\"amber\"} 1\nlight{light=\"red\"} 0\n"),
              std::string::npos)
        << text;
    expect_parses(text);
}

TEST(OpenMetrics, CounterFamilyNameClashIsRefused) {
    registry r;
    r.counter<"jobs_total">("Jobs.");
    EXPECT_THROW(r.gauge<"jobs">("Jobs gauge."), registration_error);
}

TEST(OpenMetrics, ExemplarsOnCountersAndBuckets) {
    // The writer on its own, given exemplars for a counter and for buckets.
    const string_ref names[] = {"route"};
    const string_ref values[] = {"/a"};
    detail::series_base s(names, {values, detail::hash_values(values)});
    const auto ex = exemplar::make({{"trace_id", "abc"}}, 0.5, 1700000000.0);
    const auto ex2 = exemplar::make({{"trace_id", "d\"ef"}}, 7);
    std::string out;
    detail::openmetrics_writer<std::string> w(out, {});
    const string_ref fam_names[] = {"route"};
    family_header h;
    h.name = "req_total";
    h.type = metric_type::counter;
    h.label_names = fam_names;
    w.begin_family(h);
    w.counter_sample(s.view(), counter_value{0, 4, 0}, &ex);
    w.end_family();
    const double bounds[] = {1, 10};
    histogram_layout layout(bounds);
    h.name = "lat_seconds";
    h.type = metric_type::histogram;
    h.layout = &layout;
    w.begin_family(h);
    const std::uint64_t cum[] = {1, 2, 2};
    const exemplar* per_bucket[] = {&ex, &ex2, nullptr};
    w.histogram_sample(s.view(), cum, 7.5, per_bucket);
    w.end_family();
    w.finish();
    EXPECT_EQ(out,
              "# TYPE req counter\n"
              "req_total{route=\"/a\"} 4 # {trace_id=\"abc\"} 0.5 1700000000.000\n"
              "# TYPE lat_seconds histogram\n"
              "lat_seconds_bucket{route=\"/a\",le=\"1.0\"} 1 # {trace_id=\"abc\"} 0.5 1700000000.000\n"
              "lat_seconds_bucket{route=\"/a\",le=\"10.0\"} 2 # {trace_id=\"d\\\"ef\"} 7\n"
              "lat_seconds_bucket{route=\"/a\",le=\"+Inf\"} 2\n"
              "lat_seconds_count{route=\"/a\"} 2\n"
              "lat_seconds_sum{route=\"/a\"} 7.5\n"
              "# EOF\n");
    expect_parses(out);
}

// `le` and `quantile` are canonical numbers (OpenMetrics 1.0, "Considerations: Canonical Numbers"):
// Go's %g with ".0" when there is neither a point nor an exponent, as client_golang writes them.
TEST(OpenMetrics, BucketAndQuantileLabelsAreCanonical) {
    registry r;
    const std::vector<double> bounds{0.0001, 0.0005, 100000, 1.5e6, 1.23456789e8};
    r.histogram<"size_bytes">("Sizes.", bounds).observe(2e6);
    r.summary<"lat_seconds">("Latency.", std::vector<double>{0, 0.0001, 0.5, 0.99, 0.999, 1}).observe(1);
    const auto text = render_openmetrics(r);
    EXPECT_NE(text.find("size_bytes_bucket{le=\"0.0001\"} 0\n"
                        "size_bytes_bucket{le=\"0.0005\"} 0\n"
                        "size_bytes_bucket{le=\"100000.0\"} 0\n"
                        "size_bytes_bucket{le=\"1.5e+06\"} 0\n"
                        "size_bytes_bucket{le=\"1.23456789e+08\"} 1\n"
                        "size_bytes_bucket{le=\"+Inf\"} 1\n"),
              std::string::npos)
        << text;
    for (const char* q : {"0.0", "0.0001", "0.5", "0.99", "0.999", "1.0"})
        EXPECT_NE(text.find("lat_seconds{quantile=\"" + std::string(q) + "\"} "), std::string::npos) << q << "\n"
                                                                                                     << text;
    expect_parses(text);
}

// The spec's powers of ten ("1e-10 1e-09 1e-05 0.0001 0.1 1.0 100000.0 1e+06 1e+10"), as `le`.
TEST(OpenMetrics, PowersOfTenBucketsAreCanonical) {
    std::vector<double> bounds;
    for (int e = -10; e <= 10; ++e) {
        char s[16];
        std::snprintf(s, sizeof s, "1e%d", e);
        bounds.push_back(std::strtod(s, nullptr));
    }
    registry r;
    r.histogram<"p_seconds">("Powers of ten.", bounds).observe(0.5);
    const auto text = render_openmetrics(r);
    const char* les[] = {"1e-10", "1e-09", "1e-08", "1e-07", "1e-06", "1e-05",  "0.0001",  "0.001",
                         "0.01",  "0.1",   "1.0",   "10.0",  "100.0", "1000.0", "10000.0", "100000.0",
                         "1e+06", "1e+07", "1e+08", "1e+09", "1e+10", "+Inf"};
    std::string want;
    for (std::size_t i = 0; i < std::size(les); ++i)
        want += std::string("p_seconds_bucket{le=\"") + les[i] + "\"} " + (i < 10 ? "0" : "1") + "\n";
    EXPECT_NE(text.find(want), std::string::npos) << text;
    expect_parses(text);
}

// A second reference: the Python client writes `le` with floatToGoString, meant to match Go for the
// positive values bounds and quantiles are. It spells exponents 10 to 15 wrongly ("1e+010"), so
// the values stay below 1e10, which covers both of Go's switch points.
TEST(OpenMetrics, CanonicalNumbersAgreeWithThePythonClient) {
    std::vector<double> values;
    char s[32];
    for (int e = -12; e <= 6; ++e)
        for (int k = 1; k < 1000; k += (e >= -7 ? 1 : 37)) {
            std::snprintf(s, sizeof s, "%de%d", k, e);
            const double v = std::strtod(s, nullptr);
            values.insert(values.end(), {v, std::nextafter(v, 0.0), std::nextafter(v, 1e300)});
        }
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> exponent(-8, 9.9);
    for (int i = 0; i < 2000; ++i) values.push_back(std::pow(10.0, exponent(rng)));
    std::string input;
    for (double v : values) {
        std::snprintf(s, sizeof s, "%a\n", v);
        input += s;
    }
    const auto r = vitals_test::run_process({"/usr/bin/python3", "-c",
                                             "import sys\n"
                                             "from prometheus_client.utils import floatToGoString\n"
                                             "for line in sys.stdin: print(floatToGoString(float.fromhex(line)))\n"},
                                            input);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::size_t pos = 0, failures = 0;
    for (double v : values) {
        const std::size_t eol = r.output.find('\n', pos);
        ASSERT_NE(eol, std::string::npos) << "Python printed fewer lines than it was given";
        const std::string python = r.output.substr(pos, eol - pos);
        pos = eol + 1;
        char buf[detail::max_double_chars];
        const std::string ours(buf, detail::format_double_canonical(buf, v));
        if (ours != python && ++failures <= 20) ADD_FAILURE() << std::hexfloat << v << ": " << ours << " vs " << python;
    }
    EXPECT_EQ(failures, 0u) << "of " << values.size() << " values";
    EXPECT_EQ(pos, r.output.size());
}
