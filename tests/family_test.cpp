// Tests for vitals/core/family.hpp: lookup, creation, removal and handles.
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "support/promtool.hpp"

using namespace vitals;

TEST(Family, LabelsAndWithReachTheSameSeries) {
    registry r;
    auto& f = r.counter<"http_requests_total", labels<"method", "endpoint", "status">>("h");
    f.labels("GET", "/v1/health", "200").inc();
    auto h = f.with("GET", "/v1/health", "200");
    h.inc(2);
    EXPECT_EQ(h.value(), 3);
    EXPECT_EQ(f.size(), 1u);
    std::string method = "POST";
    f.labels(method, std::string_view("/v1/events"), "201").inc();
    EXPECT_EQ(f.size(), 2u);
}

// Named values reach the series their positional spelling names, whatever order they are given
// in, for every kind and through both with() and labels(); invalid UTF-8 is repaired the same way.
TEST(Family, NamedLabelValuesInAnyOrderReachThePositionalSeries) {
    registry r;
    auto& f = r.counter<"named_requests_total", labels<"method", "endpoint", "status">>("h");
    f.labels("GET", "/v1/health", "200").inc();
    f.labels(label<"status">("200"), label<"method">("GET"), label<"endpoint">("/v1/health")).inc();
    const std::string endpoint = "/v1/health";
    auto h = f.with(label<"endpoint">(endpoint), label<"status">(std::string_view("200")), label<"method">("GET"));
    h.inc(3);
    EXPECT_EQ(h.value(), 5);
    EXPECT_EQ(f.size(), 1u);
    // Swapped positional values are another series; the named form cannot swap them.
    f.labels("200", "GET", "/v1/health").inc();
    EXPECT_EQ(f.size(), 2u);
    EXPECT_EQ(f.with(label<"method">("200"), label<"endpoint">("GET"), label<"status">("/v1/health")).value(), 1);

    auto& g = r.gauge<"named_queue_depth", labels<"queue">>("g");
    g.labels(label<"queue">("mail")).set(4);
    EXPECT_EQ(g.with("mail").value(), 4);
    auto& hist = r.histogram<"named_wait_seconds", labels<"pool", "op">>("w", std::vector<double>{1});
    hist.labels(label<"op">("get"), label<"pool">("db")).observe(0.5);
    EXPECT_EQ(hist.with("db", "get").snapshot().count(), 1u);

    f.labels(label<"endpoint">("/caf\xE9"), label<"method">("GET"), label<"status">("200")).inc();
    EXPECT_EQ(f.with("GET", "/caf\xE9", "200").value(), 1);
    EXPECT_EQ(f.with("GET", "/caf\xEF\xBF\xBD", "200").value(), 1);  // repaired to U+FFFD alike
    const std::string text = render_text(r);
    EXPECT_NE(text.find("named_requests_total{method=\"GET\",endpoint=\"/v1/health\",status=\"200\"} 5\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("named_queue_depth{queue=\"mail\"} 4\n"), std::string::npos) << text;
    const auto check = vitals_test::promtool_check(text);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << text;
}

TEST(Family, SeriesCreatedUpFrontRenderAsZero) {
    registry r;
    auto& f = r.counter<"errors_total", labels<"kind">>("e");
    (void)f.with("timeout");
    EXPECT_NE(render_text(r).find("errors_total{kind=\"timeout\"} 0\n"), std::string::npos);
}

TEST(Family, RemovedSeriesHandleKeepsWorkingButIsNotRendered) {
    registry r;
    auto& f = r.counter<"jobs_total", labels<"queue">>("j");
    auto h = f.with("fast");
    h.inc(5);
    EXPECT_TRUE(f.remove("fast"));
    EXPECT_FALSE(f.remove("fast"));
    h.inc();  // must not crash
    EXPECT_EQ(h.value(), 6);
    EXPECT_EQ(render_text(r).find("queue=\"fast\""), std::string::npos);
    f.labels("fast").inc();  // a new series, from zero
    EXPECT_EQ(f.with("fast").value(), 1);
    f.clear();
    EXPECT_EQ(f.size(), 0u);
}

TEST(Family, HostileLabelValuesAreEscapedAndAccepted) {
    registry r;
    auto& f = r.counter<"hostile_total", labels<"v">>("Values that need escaping.");
    const std::vector<std::string> values = {
        "", "quote\"d", "back\\slash", "new\nline", "\\n literal", "tab\there", "é ✓ 😀", std::string("nul\0byte", 8)};
    for (const auto& v : values) f.labels(v).inc();
    f.labels(std::string("bad\xff\xfeutf8")).inc();
    f.labels(std::string("trunc\xe2\x82")).inc();
    const std::string out = render_text(r);
    EXPECT_NE(out.find(R"(hostile_total{v="quote\"d"} 1)"), std::string::npos);
    EXPECT_NE(out.find(R"(hostile_total{v="back\\slash"} 1)"), std::string::npos);
    EXPECT_NE(out.find(R"(hostile_total{v="new\nline"} 1)"), std::string::npos);
    EXPECT_NE(out.find(R"(hostile_total{v="\\n literal"} 1)"), std::string::npos);
    EXPECT_NE(out.find("hostile_total{v=\"bad\xEF\xBF\xBD\xEF\xBF\xBDutf8\"} 1"), std::string::npos);
    EXPECT_EQ(f.size(), values.size() + 2);
    const auto check = vitals_test::promtool_check(out);
    EXPECT_EQ(check.exit_code, 0) << check.output << "\n" << out;
}

TEST(Family, InvalidUtf8VariantsShareOneRepairedSeries) {
    registry r;
    auto& f = r.counter<"u_total", labels<"v">>("u");
    f.labels(std::string("a\xff")).inc();
    f.labels(std::string("a\xfe")).inc();
    EXPECT_EQ(f.size(), 1u);
    EXPECT_EQ(f.with("a\xEF\xBF\xBD").value(), 2);
}

TEST(Family, ManySeriesGrowTheTable) {
    registry r;
    auto& f = r.gauge<"shard_size", labels<"shard">>("s");
    for (int i = 0; i < 5000; ++i) f.labels(std::to_string(i)).set(i);
    EXPECT_EQ(f.size(), 5000u);
    for (int i = 0; i < 5000; i += 499) EXPECT_EQ(f.with(std::to_string(i)).value(), i);
}

// Stress (run under TSan in CI): lookups on many threads while series are removed and created
// again and handles to them are kept.
// with() frees a table it outgrew at once, but only when that costs no waiting: a lookup held
// open on another thread (a read section) must not stall creations, and every series made
// meanwhile stays findable and rendered.
TEST(Family, GrowingWhileAnotherThreadReadsNeverStalls) {
    registry r;
    auto& f = r.counter<"grown_total", labels<"id">>("Grown.");
    std::atomic<bool> inside{false}, release{false};
    std::thread reader([&] {
        auto ref = f.labels("held");  // keeps a read section open for as long as it lives
        ref.inc();
        inside = true;
        while (!release) std::this_thread::yield();
    });
    while (!inside) std::this_thread::yield();
    for (int i = 0; i < 1000; ++i) f.with(std::to_string(i)).inc(2);  // the table grows several times
    release = true;
    reader.join();
    EXPECT_EQ(f.size(), 1001u);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(f.with(std::to_string(i)).value(), 2) << i;
    EXPECT_EQ(f.with("held").value(), 1);
    const auto text = render_text(r);
    EXPECT_NE(text.find("grown_total{id=\"999\"} 2\n"), std::string::npos);
    const auto check = vitals_test::promtool_check(text);
    EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST(Family, ConcurrentLookupRemoveAndRecreate) {
    registry r;
    auto& f = r.counter<"churn_total", labels<"k">>("c");
    std::atomic<bool> stop{false};
    std::vector<std::thread> ts;
    std::atomic<std::uint64_t> done{0};
    for (int t = 0; t < 3; ++t)
        ts.emplace_back([&, t] {
            std::vector<counter> kept;
            for (int i = 0; !stop.load(); ++i) {
                const std::string k = std::to_string((i + t) % 16);
                f.labels(k).inc();
                if (i % 64 == 0) kept.push_back(f.with(k));
                if (kept.size() > 8) kept.erase(kept.begin());
                for (auto& h : kept) h.inc();
                ++done;
            }
        });
    ts.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
            f.remove(std::to_string(i % 16));
            if (i % 100 == 0) (void)render_text(r);
        }
        stop = true;
    });
    for (auto& t : ts) t.join();
    EXPECT_GT(done.load(), 0u);
    EXPECT_LE(f.size(), 16u);
}
