// Tests for vitals/exposition/text.hpp: text format 0.0.4, checked byte for byte and by promtool.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

#include "support/promtool.hpp"

using namespace vitals;

namespace {
void expect_promtool_clean(const std::string& out) {
    const auto r = vitals_test::promtool_check(out);
    ASSERT_NE(r.exit_code, 127) << "promtool not found: install Debian's 'prometheus' package";
    EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << out;
    EXPECT_EQ(r.output, "") << out;
}
std::string fmt(double v) {
    char buf[detail::max_double_chars];
    return {buf, detail::format_double(buf, v)};
}
}  // namespace

TEST(Text, ExactOutput) {
    registry r;
    auto& f = r.counter<"http_requests_total", labels<"method", "code">>("Total requests.");
    f.labels("GET", "200").inc(3);
    f.labels("POST", "500").inc();
    auto g = r.gauge<"queue_depth">("Items waiting.");
    g.set(7.5);
    auto& h = r.histogram<"rpc_duration_seconds", labels<"rpc">>("RPC latency.", std::vector<double>{0.1, 1});
    h.labels("get").observe(0.5);
    EXPECT_EQ(render_text(r),
              "# HELP http_requests_total Total requests.\n"
              "# TYPE http_requests_total counter\n"
              "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
              "http_requests_total{method=\"POST\",code=\"500\"} 1\n"
              "# HELP queue_depth Items waiting.\n"
              "# TYPE queue_depth gauge\n"
              "queue_depth 7.5\n"
              "# HELP rpc_duration_seconds RPC latency.\n"
              "# TYPE rpc_duration_seconds histogram\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"0.1\"} 0\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"1\"} 1\n"
              "rpc_duration_seconds_bucket{rpc=\"get\",le=\"+Inf\"} 1\n"
              "rpc_duration_seconds_sum{rpc=\"get\"} 0.5\n"
              "rpc_duration_seconds_count{rpc=\"get\"} 1\n");
    expect_promtool_clean(render_text(r));
}

TEST(Text, MultiLineHelpIsEscaped) {
    registry r;
    r.counter<"escaped_total">("First line\nsecond line with a \\ backslash and \"quotes\"").inc();
    const std::string out = render_text(r);
    EXPECT_NE(out.find("# HELP escaped_total First line\\nsecond line with a \\\\ backslash and \"quotes\"\n"),
              std::string::npos)
        << out;
    expect_promtool_clean(out);
}

TEST(Text, FloatFormatting) {
    EXPECT_EQ(fmt(0), "0");
    EXPECT_EQ(fmt(-0.0), "-0");
    EXPECT_EQ(fmt(1), "1");
    EXPECT_EQ(fmt(0.1), "0.1");
    EXPECT_EQ(fmt(1.0 / 3), "0.3333333333333333");
    EXPECT_EQ(fmt(1e21), "1e+21");
    EXPECT_EQ(fmt(5e-324), "5e-324");
    EXPECT_EQ(fmt(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
    EXPECT_EQ(fmt(std::nan("")), "NaN");
    EXPECT_EQ(fmt(INFINITY), "+Inf");
    EXPECT_EQ(fmt(-INFINITY), "-Inf");
    for (double v : {0.1, 1.0 / 3, 123456.789e-300, 2.5e307, 6.02214076e23})
        EXPECT_EQ(std::strtod(fmt(v).c_str(), nullptr), v);  // shortest form still round-trips
}

TEST(Text, SpecialValuesAcceptedByPromtool) {
    registry r;
    auto& g = r.gauge<"special", labels<"v">>("Special values.");
    g.labels("nan").set(std::nan(""));
    g.labels("inf").set(INFINITY);
    g.labels("ninf").set(-INFINITY);
    g.labels("tiny").set(5e-324);
    g.labels("huge").set(1.7976931348623157e308);
    g.labels("neg").set(-0.0);
    const std::string out = render_text(r);
    EXPECT_NE(out.find("special{v=\"nan\"} NaN\n"), std::string::npos);
    EXPECT_NE(out.find("special{v=\"ninf\"} -Inf\n"), std::string::npos);
    expect_promtool_clean(out);
}

TEST(Text, EmptyRegistryAndEmptyFamily) {
    registry r;
    EXPECT_EQ(render_text(r), "");
    (void)r.counter<"unused_total", labels<"a">>("Never used.");
    EXPECT_EQ(render_text(r), "# HELP unused_total Never used.\n# TYPE unused_total counter\n");
    expect_promtool_clean(render_text(r));
}

TEST(Text, AppendsToCallerBuffer) {
    registry r;
    r.counter<"a_total">("a").inc();
    std::string buf = "prefix\n";
    render_text(r, buf);
    EXPECT_TRUE(buf.starts_with("prefix\n# HELP a_total"));
    EXPECT_EQ(text_content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Text, CustomSink) {
    struct counting_sink {
        std::size_t bytes = 0;
        void append(const char*, std::size_t n) { bytes += n; }
    } sink;
    registry r;
    r.counter<"a_total">("a").inc();
    render_text(r, sink);
    EXPECT_EQ(sink.bytes, render_text(r).size());
}

TEST(Text, CallbackCounterAndGauge) {
    registry r;
    auto& c = r.callback_counter<"cpu_seconds_total">("CPU.");
    c.set([] { return 12.25; });
    auto& g = r.callback_gauge<"answers", labels<"q">>("Answers.");
    g.set([] { return 42.0; }, "life");
    g.set([]() -> double { throw std::runtime_error("boom"); }, "broken");
    const std::string out = render_text(r);
    EXPECT_NE(out.find("cpu_seconds_total 12.25\n"), std::string::npos);
    EXPECT_NE(out.find("answers{q=\"life\"} 42\n"), std::string::npos);
    EXPECT_NE(out.find("answers{q=\"broken\"} NaN\n"), std::string::npos);
    EXPECT_TRUE(g.remove("broken"));
    expect_promtool_clean(render_text(r));
}

// Several threads increment while another renders in a loop; every render must parse, and the
// totals are exact once the writers stop.
TEST(Text, RendersParseWhileWritersRun) {
    registry r;
    auto& f = r.counter<"ops_total", labels<"worker">>("Operations.");
    auto& h = r.histogram<"op_seconds", labels<"worker">>("Op latency.", http_duration_buckets);
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int t = 0; t < 3; ++t)
        writers.emplace_back([&, t] {
            const std::string w = "w" + std::to_string(t);
            for (int i = 0; i < 20000; ++i) {
                f.labels(w).inc();
                h.labels(w).observe(i * 1e-4);
            }
        });
    std::vector<std::string> samples;
    std::thread reader([&] {
        do {  // at least once, however fast the writers are
            std::string out = render_text(r);
            if (samples.size() < 5) samples.push_back(std::move(out));
        } while (!stop.load());
    });
    for (auto& w : writers) w.join();
    stop = true;
    reader.join();
    for (const auto& s : samples) expect_promtool_clean(s);
    for (int t = 0; t < 3; ++t) EXPECT_EQ(f.with("w" + std::to_string(t)).value(), 20000);
}
