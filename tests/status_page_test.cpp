// status/status_page.hpp and status/history.hpp: windows and rates from the ring (a test clock),
// the ring's bound, the page and its JSON carrying the same numbers, hostile label values rendered
// and parsed back with Python's html.parser (no element or attribute injected), serving through
// vitals::exposer, and renders racing observations and the sampler (run under TSan in CI).
#include <vitals/http/instrumentation.hpp>
#include <vitals/process/build_info.hpp>
#include <vitals/status/status_page.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "http_support.hpp"
#include "support/hostile_workload.hpp"

namespace {

using vitals::status::histogram_quantile;

struct fixture {
    double t = 1000;
    vitals::registry reg{vitals::const_labels{{"service", "api"}, {"environment", "test"}}};
    vitals::operational_metrics ops{reg};
    vitals::status::status_options options() {
        vitals::status::status_options o;
        o.clock = [this] { return t; };
        o.refresh_seconds = 0;
        return o;
    }
    void request(std::string_view method, std::string_view route, double seconds, std::string_view error = {}) {
        (void)ops.request_duration.labels(method, route).observe(seconds);
        ops.requests_total.labels(method, route, error.empty() ? "200" : "500").inc();
        if (!error.empty()) ops.requests_failed_total.labels(method, route, "500", error).inc();
    }
};

std::vector<std::uint64_t> counts_of(vitals::operational_metrics& ops, std::string_view m, std::string_view r) {
    const auto s = ops.request_duration.labels(m, r).snapshot();
    const auto c = s.cumulative();
    return {c.begin(), c.end()};
}

TEST(StatusHistory, WindowsAreDifferencesOfSlots) {
    fixture f;
    vitals::status::status_page page(f.reg, nullptr, f.options());  // first slot at t = 1000
    for (int i = 0; i < 100; ++i) f.request("GET", "/a", 0.02);
    f.t = 1060;
    page.sample();  // slot at 1060
    const auto at_1060 = counts_of(f.ops, "GET", "/a");
    for (int i = 0; i < 100; ++i) f.request("GET", "/a", 0.2, i < 10 ? "server_error" : "");
    for (int i = 0; i < 5; ++i) f.request("GET", "/a", 0.2, "timeout");
    f.t = 1150;
    const auto d = page.data();
    ASSERT_EQ(d.routes.size(), 1U);
    const auto& r = d.routes[0];
    EXPECT_EQ(r.method, "GET");
    EXPECT_EQ(r.endpoint, "/a");
    ASSERT_EQ(r.windows.size(), 3U);
    const auto now = counts_of(f.ops, "GET", "/a");
    std::vector<std::uint64_t> last(now.size());
    for (std::size_t i = 0; i < now.size(); ++i) last[i] = now[i] - at_1060[i];
    const auto& bounds = vitals::http_duration_buckets;
    // One interval back from 1150 is 1090: the newest slot at or before it is 1060's.
    const auto& w1 = r.windows[0];
    EXPECT_EQ(w1.intervals, 1U);
    EXPECT_DOUBLE_EQ(w1.seconds, 90);
    EXPECT_DOUBLE_EQ(w1.requests_per_second, 105.0 / 90);
    EXPECT_DOUBLE_EQ(w1.error_ratio, 15.0 / 105);
    EXPECT_EQ(w1.p50, histogram_quantile(0.5, bounds, {last.data(), last.size()}));
    EXPECT_EQ(w1.p99, histogram_quantile(0.99, bounds, {last.data(), last.size()}));
    EXPECT_GT(w1.p50, 0.1);
    EXPECT_LE(w1.p50, 0.25);
    ASSERT_EQ(w1.errors_per_second.size(), 2U);
    EXPECT_EQ(w1.errors_per_second[0].first, "server_error");
    EXPECT_DOUBLE_EQ(w1.errors_per_second[0].second, 10.0 / 90);
    EXPECT_EQ(w1.errors_per_second[1].first, "timeout");
    EXPECT_DOUBLE_EQ(w1.errors_per_second[1].second, 5.0 / 90);
    // Five intervals are more than the process has: the oldest slot (construction) is the base.
    const auto& w5 = r.windows[1];
    EXPECT_DOUBLE_EQ(w5.seconds, 150);
    EXPECT_DOUBLE_EQ(w5.requests_per_second, 205.0 / 150);
    EXPECT_EQ(w5.p50, histogram_quantile(0.5, bounds, {now.data(), now.size()}));
    EXPECT_EQ(w5.p95, histogram_quantile(0.95, bounds, {now.data(), now.size()}));
    // Sparkline: 1000→1060, then 1060→1150 (the interval in progress).
    ASSERT_EQ(r.spark_rate.size(), 2U);
    EXPECT_DOUBLE_EQ(r.spark_rate[0], 100.0 / 60);
    EXPECT_DOUBLE_EQ(r.spark_rate[1], 105.0 / 90);
    EXPECT_LE(r.spark_p99[0], 0.025);
    EXPECT_GT(r.spark_p99[1], 0.1);
    // Service and const labels.
    EXPECT_EQ(d.service, "api");
    EXPECT_EQ(d.environment, "test");
}

TEST(StatusHistory, RingIsBoundedAndRouteLimitHolds) {
    fixture f;
    auto o = f.options();
    o.history.slots = 4;
    o.history.max_routes = 3;
    o.windows = {1, 2};
    vitals::status::status_page page(f.reg, nullptr, o);
    for (int step = 0; step < 20; ++step) {
        for (int r = 0; r < 5; ++r) f.request("GET", "/r" + std::to_string(r), 0.01 * (r + 1));
        f.t += 60;
        page.sample();
    }
    f.t += 30;
    const auto d = page.data();
    EXPECT_EQ(d.routes.size(), 3U);
    EXPECT_GT(d.routes_dropped, 0U);
    for (const auto& r : d.routes) {
        EXPECT_EQ(r.spark_rate.size(), 4U);  // three slot pairs and the interval in progress
        EXPECT_DOUBLE_EQ(r.windows[0].requests_per_second, 1.0 / 90);
        EXPECT_DOUBLE_EQ(r.windows[1].requests_per_second, 2.0 / 150);
    }
}

TEST(StatusHistory, RendersTakeSlotsWhenDueAndReuseRecentCounts) {
    fixture f;
    auto o = f.options();
    o.refresh_seconds = 5;
    vitals::status::status_page page(f.reg, nullptr, o);
    f.request("GET", "/a", 0.01);
    f.t += 1;
    const auto a = page.data();
    f.request("GET", "/a", 0.01);
    f.t += 1;
    const auto b = page.data();  // within refresh_seconds: the same counts
    EXPECT_EQ(a.as_of, b.as_of);
    EXPECT_EQ(page.json(), page.json());
    ASSERT_EQ(b.routes.size(), 1U);
    EXPECT_DOUBLE_EQ(b.routes[0].windows[0].requests_per_second, 1.0);
    f.t += 100;  // a render after an interval keeps its counts as a slot
    (void)page.data();
    f.t += 30;
    const auto c = page.data();
    ASSERT_EQ(c.routes.size(), 1U);
    EXPECT_EQ(c.routes[0].spark_rate.size(), 2U);
    EXPECT_DOUBLE_EQ(c.routes[0].windows[0].requests_per_second, 2.0 / 132);
}

TEST(StatusPage, HtmlAndJsonShowTheSameData) {
    fixture f;
    vitals::register_build_info(f.reg, "app_build_info", "1.2.3", "abc");
    f.ops.service_started("api");
    f.ops.service_started("api");
    vitals::health::probe probe;
    probe.add("db", [] { return vitals::health::healthy(); });
    probe.add(
        "cache", [] { return vitals::health::unhealthy("cache at 10.0.0.7 refused"); },
        vitals::health::check_options{.critical = false});
    (void)probe.run_now();
    vitals::status::status_page page(f.reg, &probe, f.options());
    for (int i = 0; i < 50; ++i) f.request("POST", "/v1/events", 0.003 * i, i % 10 == 0 ? "client_error" : "");
    f.t += 20;
    const std::string html = page.html();
    EXPECT_NE(html.find("<td class=\"endpoint\" rowspan=\"3\">/v1/events</td>"), std::string::npos) << html;
    EXPECT_NE(html.find("app_build_info"), std::string::npos);
    EXPECT_NE(html.find("version=1.2.3"), std::string::npos);
    EXPECT_NE(html.find("<td class=\"n\">1</td></tr>"), std::string::npos);  // one restart
    EXPECT_NE(html.find("class=\"state unhealthy\""), std::string::npos);
    EXPECT_EQ(html.find("10.0.0.7"), std::string::npos);  // reasons withheld by default
    EXPECT_EQ(html.find("<script"), std::string::npos);
    EXPECT_NE(html.find("<path"), std::string::npos);
    const auto d = page.data();
    ASSERT_EQ(d.routes.size(), 1U);
    std::string p99;
    vitals::status::detail::append_fixed(p99, d.routes[0].windows[0].p99 * 1e3);
    EXPECT_NE(html.find("<td class=\"n p99\">" + p99 + "</td>"), std::string::npos) << p99;
    const std::string json = page.json();
    EXPECT_NE(json.find("\"restarts\":1"), std::string::npos) << json;
    EXPECT_NE(json.find("\"client_error\":"), std::string::npos);
    EXPECT_NE(json.find("\"state\":\"unhealthy\""), std::string::npos);

    auto detailed = f.options();
    detailed.expose_details = true;
    vitals::status::status_page open(f.reg, &probe, detailed);
    EXPECT_NE(open.html().find("cache at 10.0.0.7 refused"), std::string::npos);
    EXPECT_NE(open.json().find("cache at 10.0.0.7 refused"), std::string::npos);
}

// What the page should show of a label value: valid UTF-8, controls but tab and LF as U+FFFD.
std::string shown(std::string_view raw) {
    std::string html;
    vitals::status::detail::append_html(html, raw);
    std::string out;  // undo the five references, as an HTML parser does
    for (std::size_t i = 0; i < html.size();) {
        static const std::pair<std::string_view, char> refs[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
        bool matched = false;
        for (const auto& [ref, c] : refs)
            if (std::string_view(html).substr(i, ref.size()) == ref) {
                out += c;
                i += ref.size();
                matched = true;
                break;
            }
        if (!matched) out += html[i++];
    }
    return out;
}

std::string hex(std::string_view s) {
    std::string out;
    char buf[3];
    for (const unsigned char c : s) {
        std::snprintf(buf, sizeof buf, "%02x", c);
        out += buf;
    }
    return out;
}

// Renders a page whose every label value, check name and reason is `values[i]` in turn.
std::string render_with(const std::vector<std::string>& values, const std::string& json_path) {
    double t = 1000;
    vitals::registry reg(vitals::const_labels{{"service", values[0]}, {"environment", values[1]}});
    vitals::operational_metrics ops(reg);
    vitals::register_build_info(reg, "app_build_info", values[2], values[3]);
    vitals::health::probe probe;
    for (std::size_t i = 0; i < 4; ++i) {
        std::string name = "c" + std::to_string(i) + values[i];
        std::erase(name, '/');
        const std::string why = values[values.size() - 1 - i];
        probe.add(name, [why] { return vitals::health::unhealthy(why); });
    }
    (void)probe.run_now();
    vitals::status::status_options o;
    o.clock = [&t] { return t; };
    o.expose_details = true;
    vitals::status::status_page page(reg, &probe, o);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const std::string& v = values[i];
        ops.service_started(v);
        (void)ops.request_duration.labels(values[(i + 1) % values.size()], v).observe(0.01 * static_cast<double>(i));
        ops.requests_failed_total.labels(values[(i + 1) % values.size()], v, "500", values[(i + 2) % values.size()])
            .inc();
    }
    t += 30;
    std::ofstream(json_path, std::ios::binary) << page.json();
    return page.html();
}

TEST(StatusPage, HostileValuesInjectNoMarkup) {
    // The suite's hostile texts (tests/support/hostile_workload.hpp's byte_source), markup meant to
    // break out of text and attributes, and invalid UTF-8; each distinct once repaired.
    std::vector<std::string> values = {"<script>alert(1)</script>",
                                       "\"><img src=x onerror=alert(1)>",
                                       "' onmouseover='x",
                                       "</td></tr></table><h1>x",
                                       "&amp;&lt;",
                                       "\xff\xfe<b>",
                                       "\xed\xa0\x80",
                                       std::string("nul\0<i>", 7),
                                       "a\r\nb",
                                       "]]><!--",
                                       "\xe2\x80"};
    std::mt19937_64 rng(21);
    std::string bytes(4096, '\0');
    for (auto& c : bytes) c = static_cast<char>(rng());
    vitals_test::byte_source src(bytes);
    while (values.size() < 60) values.push_back(src.text() + "<x y='\"'>");
    std::set<std::string> seen;
    std::vector<std::string> hostile;
    for (const auto& v : values)
        if (seen.insert(shown(v)).second) hostile.push_back(v);
    std::vector<std::string> benign;
    for (std::size_t i = 0; i < hostile.size(); ++i) benign.push_back("v" + std::to_string(i));

    const std::string dir = ::testing::TempDir();
    std::ofstream(dir + "hostile.html", std::ios::binary) << render_with(hostile, dir + "hostile.json");
    std::ofstream(dir + "benign.html", std::ios::binary) << render_with(benign, dir + "benign.json");
    {
        std::ofstream expect(dir + "expected.hex");
        for (const auto& v : hostile) expect << hex(shown(v)) << '\n';
    }
    const char* python = std::getenv("PYTHON");
    const char* check = std::getenv("STATUS_HTML_CHECK");
    ASSERT_TRUE(python && check) << "run through meson test (PYTHON, STATUS_HTML_CHECK)";
    const std::string cmd = std::string(python) + " " + check + " " + dir + "hostile.html " + dir + "benign.html " +
                            dir + "expected.hex " + dir + "hostile.json " + dir + "benign.json 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::string out;
    char buf[512];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    EXPECT_EQ(pclose(p), 0) << out;
    EXPECT_NE(out.find("status_html_check: ok"), std::string::npos) << out;
}

TEST(StatusPage, ServedByTheExposer) {
    fixture f;
    for (int i = 0; i < 10; ++i) f.request("GET", "/a", 0.01);
    vitals::status::status_page page(f.reg, nullptr, f.options());
    vitals::exposer e;
    e.serve_metrics(f.reg);
    page.serve(e, "/status");
    e.start();
    vitals_test::http_client c(e.port());
    const auto html = c.get("/status");
    EXPECT_EQ(html.status, 200);
    EXPECT_EQ(html.headers.at("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(html.headers.at("content-security-policy"), vitals::status::content_security_policy);
    EXPECT_EQ(html.headers.at("x-content-type-options"), "nosniff");
    EXPECT_NE(html.body.find("<!DOCTYPE html>"), std::string::npos);
    const auto json = c.get("/status?format=json");
    EXPECT_EQ(json.status, 200);
    EXPECT_EQ(json.headers.at("content-type"), "application/json");
    EXPECT_NE(json.body.find("\"endpoint\":\"/a\""), std::string::npos) << json.body;
    EXPECT_EQ(c.post("/status", "").status, 405);
    e.stop();
}

TEST(StatusPage, RendersRaceObservationsAndTheSampler) {
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    vitals::status::status_options o;
    o.history.interval_seconds = 0.001;  // the sampler takes a slot every millisecond
    o.history.slots = 8;
    o.refresh_seconds = 0;
    vitals::status::status_page page(reg, nullptr, o);
    page.start_sampler();
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w)
        writers.emplace_back([&, w] {
            for (int i = 0; i < 20000; ++i) {  // every route, however soon the reader is done
                const std::string route = "/r" + std::to_string((i + w) % 7);
                (void)ops.request_duration.labels("GET", route).observe(0.001 * (i % 100));
                if (i % 10 == 0) ops.requests_failed_total.labels("GET", route, "500", "server_error").inc();
            }
        });
    std::thread reader([&] {
        for (int i = 0; i < 200; ++i) {
            const auto h = page.html();
            const auto j = page.json();
            ASSERT_FALSE(h.empty());
            ASSERT_FALSE(j.empty());
        }
    });
    reader.join();
    for (auto& t : writers) t.join();
    page.stop_sampler();
    page.stop_sampler();  // idempotent
    const auto d = page.data();
    EXPECT_EQ(d.routes.size(), 7U);
}

}  // namespace

// The page shows when it was taken as a UTC time an operator reads, not Unix seconds.
TEST(StatusPage, TimesAreShownInUtc) {
    using vitals::status::detail::append_utc;
    std::string o;
    append_utc(o, 1796279232.181);
    EXPECT_EQ(o, "2026-12-03 06:27:12 UTC");
    o.clear();
    append_utc(o, 0);
    EXPECT_EQ(o, "1970-01-01 00:00:00 UTC");
    o.clear();
    append_utc(o, -0.5);  // rounded down, like every other second here
    EXPECT_EQ(o, "1969-12-31 23:59:59 UTC");
    for (const double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL, 1e300}) {
        o.clear();
        append_utc(o, bad);
        EXPECT_EQ(o, "\xE2\x80\x93") << bad;
    }
}
