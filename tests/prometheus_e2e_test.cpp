// End to end: a real Prometheus server (Debian's /usr/bin/prometheus, 2.42) scrapes a registry
// served on loopback through vitals::http::render_metrics, and its query API must return what the
// registry holds. Run twice: with native histograms enabled (Prometheus asks for protobuf) and
// without (it asks for OpenMetrics). Loopback only; every wait is bounded; Prometheus is killed at
// the end of each run.
#include <vitals/http/metrics_endpoint.hpp>
#include <vitals/http/exposer.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "support/prometheus_server.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using namespace vitals_test::prometheus;

// A minimal HTTP/1.1 server for one registry: every request gets the scrape answer.
class metrics_server {
public:
    explicit metrics_server(const vitals::registry& r) : r_(r) {
        fd_ = listen_loopback(port_);
        if (fd_ >= 0) thread_ = std::thread([this] { loop(); });
    }
    ~metrics_server() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (fd_ >= 0) close(fd_);
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] bool ok() const { return fd_ >= 0; }
    [[nodiscard]] int scrapes() const { return scrapes_; }
    [[nodiscard]] std::vector<std::string> content_types() const {
        std::lock_guard l(mu_);
        return content_types_;
    }
    [[nodiscard]] std::string last_accept() const {
        std::lock_guard l(mu_);
        return last_accept_;
    }

private:
    void loop() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            serve(c);
            close(c);
        }
    }
    void serve(int c) {
        const std::string req = read_until(
            c, [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }, 2000ms);
        std::string accept;
        for (std::size_t pos = req.find("\r\n"); pos != std::string::npos && pos + 2 < req.size();) {
            const std::size_t end = req.find("\r\n", pos + 2);
            if (end == std::string::npos) break;
            const std::string line = req.substr(pos + 2, end - pos - 2);
            if (line.size() > 7 && strncasecmp(line.c_str(), "accept:", 7) == 0) {
                accept = line.substr(7);
                while (!accept.empty() && accept.front() == ' ') accept.erase(0, 1);
            }
            pos = end;
        }
        const auto m = vitals::http::render_metrics(r_, accept);
        {
            std::lock_guard l(mu_);
            last_accept_ = accept;
            content_types_.emplace_back(m.content_type);
        }
        std::string head = "HTTP/1.1 200 OK\r\nContent-Type: " + std::string(m.content_type) +
                           "\r\nContent-Length: " + std::to_string(m.body.size()) + "\r\nConnection: close\r\n\r\n";
        write_all(c, head);
        write_all(c, m.body);
        ++scrapes_;
    }

    const vitals::registry& r_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> scrapes_{0};
    mutable std::mutex mu_;
    std::vector<std::string> content_types_;
    std::string last_accept_;
    std::thread thread_;
};

// The registry every run serves: values known in advance, so queries can be checked exactly.
struct workload {
    vitals::registry r{vitals::const_labels{{"service", "e2e"}}};
    workload() {
        auto& jobs = r.counter<"e2e_jobs_total", vitals::labels<"kind">>("Jobs done, by kind.");
        jobs.labels("a").inc(12345);
        jobs.labels("b").inc(7);
        auto big = r.counter<"e2e_bytes_total">("Bytes.");
        big.inc(std::uint64_t{1} << 40);
        r.gauge<"e2e_temperature_celsius">("A gauge.").set(21.5);
        auto& classic =
            r.histogram<"e2e_classic_seconds", vitals::labels<"route">>("Classic.", std::vector<double>{0.1, 1});
        for (int i = 0; i < 50; ++i) classic.labels("/a").observe(0.05);
        for (int i = 0; i < 50; ++i) classic.labels("/a").observe(0.5);
        classic.labels("/a").observe(0.5, vitals::exemplar_labels{{"trace_id", "e2e-trace-histogram"}});
        jobs.labels("b").inc(1, vitals::exemplar_labels{{"trace_id", "e2e-trace-counter"}});
        auto native = r.native_histogram<"e2e_native_seconds">("Native.", {.classic_buckets = {0.25, 0.5, 1}});
        for (int i = 1; i <= 1000; ++i) native.observe(i / 1000.0);
        auto traced = r.native_histogram<"e2e_native_traced_seconds">("Native, traced.", {.classic_buckets = {1}});
        traced.observe(0.5, vitals::exemplar_labels{{"trace_id", "e2e-trace-native"}});
        auto rpc = r.summary<"e2e_rpc_seconds">("Summary.", {0.5, 0.9});
        for (int i = 1; i <= 1000; ++i) rpc.observe(i / 1000.0);
        r.info<"e2e_build_info", vitals::labels<"version">>("Build.").set("1.2.3");
        r.stateset<"e2e_mode">("Mode.", {"on", "off"}).labels().set_only("on");
    }
};

bool prometheus_available() { return access(prometheus_binary, X_OK) == 0; }

void common_checks(const prometheus_process& p, const metrics_server& srv) {
    // Target up, no scrape error.
    const auto targets = p.poll(
        "/api/v1/targets", [](const std::string& b) { return b.find("\"health\":\"up\"") != std::string::npos; }, 20s);
    ASSERT_NE(targets.find("\"health\":\"up\""), std::string::npos) << targets << "\n" << p.log();
    EXPECT_NE(targets.find("\"lastError\":\"\""), std::string::npos) << targets;
    EXPECT_GT(srv.scrapes(), 0);

    auto eq = [](double want) { return [want](double v) { return v == want; }; };
    EXPECT_EQ(p.query("e2e_jobs_total{kind=\"a\",service=\"e2e\"}", eq(12345)), 12345);
    EXPECT_EQ(p.query("e2e_jobs_total{kind=\"b\"}", eq(8)), 8);
    EXPECT_EQ(p.query("e2e_bytes_total", eq(1099511627776.0)), 1099511627776.0);
    EXPECT_EQ(p.query("e2e_temperature_celsius", eq(21.5)), 21.5);
    EXPECT_EQ(p.query("e2e_build_info{version=\"1.2.3\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_mode{e2e_mode=\"on\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_mode{e2e_mode=\"off\"}", eq(0)), 0);
    // Classic buckets {0.1, 1}: 50 at 0.05, 51 at 0.5. Rank q * 101 falls in the second bucket for
    // both quantiles, interpolated linearly across it.
    const auto q50 = p.query("histogram_quantile(0.5, sum by (le) (e2e_classic_seconds_bucket))");
    ASSERT_TRUE(q50);
    EXPECT_NEAR(*q50, 0.1 + 0.9 * (0.5 * 101 - 50) / 51, 1e-9);
    const auto q90 = p.query("histogram_quantile(0.9, sum by (le) (e2e_classic_seconds_bucket))");
    ASSERT_TRUE(q90);
    EXPECT_NEAR(*q90, 0.1 + 0.9 * (0.9 * 101 - 50) / 51, 1e-9);
    EXPECT_EQ(p.query("e2e_classic_seconds_count{route=\"/a\"}", eq(101)), 101);
    // Summary: quantiles within the stated relative error of rank floor(q * (n - 1)).
    const auto s50 = p.query("e2e_rpc_seconds{quantile=\"0.5\"}");
    ASSERT_TRUE(s50);
    EXPECT_NEAR(*s50, 0.5, 0.5 * vitals::summary_relative_error);
    const auto s90 = p.query("e2e_rpc_seconds{quantile=\"0.9\"}");
    ASSERT_TRUE(s90);
    EXPECT_NEAR(*s90, 0.9, 0.9 * vitals::summary_relative_error);
    EXPECT_EQ(p.query("e2e_rpc_seconds_count", eq(1000)), 1000);
}

}  // namespace

TEST(PrometheusE2E, NativeHistogramsOverProtobuf) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    workload w;
    metrics_server srv(w.r);
    ASSERT_TRUE(srv.ok());
    prometheus_process p(srv.port(), true);
    ASSERT_TRUE(p.started());
    common_checks(p, srv);
    // Native: 1000 observations of 0.001 … 1.000.
    EXPECT_EQ(p.query("histogram_count(e2e_native_seconds)", [](double v) { return v == 1000; }), 1000);
    const auto sum = p.query("histogram_sum(e2e_native_seconds)");
    ASSERT_TRUE(sum);
    EXPECT_NEAR(*sum, 500.5, 1e-6);
    // Schema 3 buckets are at most 2^(1/8) wide, so an estimate is within ~9% of the true value.
    const auto med = p.query("histogram_quantile(0.5, e2e_native_seconds)");
    ASSERT_TRUE(med);
    EXPECT_NEAR(*med, 0.5, 0.5 * 0.1);
    const auto p99 = p.query("histogram_quantile(0.99, e2e_native_seconds)");
    ASSERT_TRUE(p99);
    EXPECT_NEAR(*p99, 0.99, 0.99 * 0.1);
    // 2.42 takes only the native buckets of a histogram that has both: no classic series.
    const auto classic = http_get(p.port(), "/api/v1/query?query=" + url_encode("e2e_native_seconds_bucket"));
    ASSERT_TRUE(classic);
    EXPECT_NE(classic->find("\"result\":[]"), std::string::npos) << *classic;
    const auto types = srv.content_types();
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.back(), vitals::protobuf_content_type) << "Accept: " << srv.last_accept();
}

TEST(PrometheusE2E, OpenMetricsWithoutNativeHistograms) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    workload w;
    metrics_server srv(w.r);
    ASSERT_TRUE(srv.ok());
    prometheus_process p(srv.port(), false);
    ASSERT_TRUE(p.started());
    common_checks(p, srv);
    // Without the feature, the native histogram arrives as its classic buckets.
    EXPECT_EQ(p.query("e2e_native_seconds_count", [](double v) { return v == 1000; }), 1000);
    const auto med = p.query("histogram_quantile(0.5, e2e_native_seconds_bucket)");
    ASSERT_TRUE(med);
    EXPECT_NEAR(*med, 0.5, 1e-9);
    const auto types = srv.content_types();
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.back(), vitals::openmetrics_content_type) << "Accept: " << srv.last_accept();
}

// An exemplar set on a counter and on a histogram bucket comes back from the exemplars API
// (the run with exemplar storage enabled scrapes protobuf, which carries them).
TEST(PrometheusE2E, ExemplarsReachPrometheus) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    workload w;
    metrics_server srv(w.r);
    ASSERT_TRUE(srv.ok());
    prometheus_process p(srv.port(), true);
    ASSERT_TRUE(p.started());
    const auto now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    // A native histogram's exemplars come from its classic buckets and belong to the native series.
    const std::pair<const char*, const char*> cases[] = {{"e2e-trace-histogram", "e2e_classic_seconds_bucket"},
                                                         {"e2e-trace-counter", "e2e_jobs_total"},
                                                         {"e2e-trace-native", "e2e_native_traced_seconds"}};
    for (const auto& c : cases) {
        const char* const want = c.first;  // Clang 14 cannot capture a structured binding
        const char* const query = c.second;
        const std::string path = "/api/v1/query_exemplars?query=" + url_encode(query) +
                                 "&start=" + std::to_string(now - 600) + "&end=" + std::to_string(now + 600);
        const auto body = p.poll(
            path, [&](const std::string& b) { return b.find(want) != std::string::npos; }, 20s);
        EXPECT_NE(body.find(want), std::string::npos) << path << "\n" << body << "\n" << p.log();
    }
}

// The hostile inputs of tests/conformance_test.cpp, scraped over OpenMetrics (Prometheus without
// native histograms asks for it) by the real Prometheus: a value with no valid OpenMetrics form
// costs only its own sample, never the scrape. The target stays up without a scrape error, the
// well-formed series of the same scrape are stored with their values, and the left-out ones are
// absent.
TEST(PrometheusE2E, HostileValuesOverOpenMetricsKeepTheTargetUp) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    const double inf = std::numeric_limits<double>::infinity();
    const double nan = std::numeric_limits<double>::quiet_NaN();
    vitals::registry r;
    auto& jobs = r.callback_counter<"e2e_hostile_jobs_total", vitals::labels<"source">>("Callback counters.");
    jobs.set([] { return -1.0; }, "negative");
    jobs.set([nan] { return nan; }, "nan");
    jobs.set([]() -> double { throw std::runtime_error("backend gone"); }, "throws");
    jobs.set([] { return 7.0; }, "fine");
    // A callback gauge that throws reads as NaN, which a gauge may be.
    r.callback_gauge<"e2e_hostile_backend_level">("Callback gauge.").set([]() -> double {
        throw std::runtime_error("backend gone");
    });
    auto& deltas =
        r.histogram<"e2e_hostile_delta_seconds", vitals::labels<"case">>("Deltas.", std::vector<double>{0.1, 1});
    deltas.labels("both_infinities").observe(inf);
    deltas.labels("both_infinities").observe(-inf);  // sum NaN
    deltas.labels("negative").observe(-3);           // sum negative
    deltas.labels("fine").observe(0.5);
    auto offsets = r.histogram<"e2e_hostile_offset_seconds">("Negative bounds.", std::vector<double>{-1, 0, 1});
    offsets.observe(0.5);
    auto& changes =
        r.summary<"e2e_hostile_change_celsius", vitals::labels<"room">>("Changes.", std::vector<double>{0.5});
    for (int i = 1; i <= 100; ++i) changes.labels("cold").observe(-i);
    for (int i = 1; i <= 100; ++i) changes.labels("warm").observe(i);
    auto& levels = r.gauge<"e2e_hostile_level", vitals::labels<"v">>("Special gauge values.");
    levels.labels("nan").set(nan);
    levels.labels("plus_inf").set(inf);
    levels.labels("minus_inf").set(-inf);
    levels.labels("negative_zero").set(-0.0);
    levels.labels("quote\" back\\slash line\nfeed \xE2\x82\xAC").set(2);
    r.counter<"e2e_hostile_traced_total">("With an exemplar.")
        .inc(3, vitals::exemplar_labels{{"trace_id", "hostile-trace"}});

    metrics_server srv(r);
    ASSERT_TRUE(srv.ok());
    prometheus_process p(srv.port(), false);
    ASSERT_TRUE(p.started());
    const auto targets = p.poll(
        "/api/v1/targets", [](const std::string& b) { return b.find("\"health\":\"up\"") != std::string::npos; }, 20s);
    ASSERT_NE(targets.find("\"health\":\"up\""), std::string::npos) << targets << "\n" << p.log();
    EXPECT_NE(targets.find("\"lastError\":\"\""), std::string::npos) << targets;
    auto eq = [](double want) { return [want](double v) { return v == want; }; };
    EXPECT_EQ(p.query("up{job=\"vitals\"}", eq(1)), 1);
    const auto types = srv.content_types();
    ASSERT_FALSE(types.empty());
    EXPECT_EQ(types.back(), vitals::openmetrics_content_type) << "Accept: " << srv.last_accept();

    // Present, with their values.
    EXPECT_EQ(p.query("e2e_hostile_jobs_total{source=\"fine\"}", eq(7)), 7);
    EXPECT_EQ(p.query("e2e_hostile_delta_seconds_bucket{case=\"both_infinities\",le=\"0.1\"}", eq(1)), 1);  // -Inf
    EXPECT_EQ(p.query("e2e_hostile_delta_seconds_bucket{case=\"both_infinities\",le=\"+Inf\"}", eq(2)), 2);
    EXPECT_EQ(p.query("e2e_hostile_delta_seconds_bucket{case=\"negative\",le=\"0.1\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_hostile_delta_seconds_sum{case=\"fine\"}", eq(0.5)), 0.5);
    EXPECT_EQ(p.query("e2e_hostile_delta_seconds_count{case=\"fine\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_hostile_offset_seconds_bucket{le=\"0.0\"}", eq(0)), 0);
    EXPECT_EQ(p.query("e2e_hostile_offset_seconds_bucket{le=\"1.0\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_hostile_offset_seconds_bucket{le=\"+Inf\"}", eq(1)), 1);
    EXPECT_EQ(p.query("e2e_hostile_change_celsius_sum{room=\"warm\"}", eq(5050)), 5050);
    EXPECT_EQ(p.query("e2e_hostile_change_celsius_count{room=\"warm\"}", eq(100)), 100);
    const auto median = p.query("e2e_hostile_change_celsius{room=\"warm\",quantile=\"0.5\"}");
    ASSERT_TRUE(median);
    EXPECT_NEAR(*median, 50, 50 * vitals::summary_relative_error);
    const auto is_nan = [](double v) { return std::isnan(v); };
    const auto level_nan = p.query("e2e_hostile_level{v=\"nan\"}", is_nan);
    ASSERT_TRUE(level_nan);
    EXPECT_TRUE(std::isnan(*level_nan));
    const auto backend = p.query("e2e_hostile_backend_level", is_nan);
    ASSERT_TRUE(backend);
    EXPECT_TRUE(std::isnan(*backend));
    EXPECT_EQ(p.query("e2e_hostile_level{v=\"plus_inf\"}", eq(inf)), inf);
    EXPECT_EQ(p.query("e2e_hostile_level{v=\"minus_inf\"}", eq(-inf)), -inf);
    const auto zero = p.query("e2e_hostile_level{v=\"negative_zero\"}", eq(0));
    ASSERT_TRUE(zero);
    EXPECT_TRUE(std::signbit(*zero)) << "Prometheus keeps the sign of -0 from an OpenMetrics scrape";
    EXPECT_EQ(p.query("e2e_hostile_level{v=\"quote\\\" back\\\\slash line\\nfeed \xE2\x82\xAC\"}", eq(2)), 2);
    EXPECT_EQ(p.query("e2e_hostile_traced_total", eq(3)), 3);

    // Absent: the callback counters with no counter value, and the sums (with the counts that
    // OpenMetrics allows only beside a sum) of the histograms and summary whose sum is negative or
    // NaN or whose bounds are negative, and the negative quantile estimates.
    for (const char* q :
         {"e2e_hostile_jobs_total{source!=\"fine\"}", "e2e_hostile_delta_seconds_sum{case!=\"fine\"}",
          "e2e_hostile_delta_seconds_count{case!=\"fine\"}", "e2e_hostile_offset_seconds_sum",
          "e2e_hostile_change_celsius_sum{room=\"cold\"}", "e2e_hostile_change_celsius_count{room=\"cold\"}",
          "e2e_hostile_change_celsius{room=\"cold\"}"}) {
        const auto body = http_get(p.port(), "/api/v1/query?query=" + url_encode(q));
        ASSERT_TRUE(body) << q;
        EXPECT_NE(body->find("\"result\":[]"), std::string::npos) << q << "\n" << *body;
    }
    EXPECT_EQ(p.query("count(e2e_hostile_jobs_total)", eq(1)), 1);
    EXPECT_GE(jobs.dropped_samples(), 3u);
}

// The same workload served by vitals::exposer (http/exposer.hpp) instead of the minimal server
// above: Prometheus scrapes it with gzip (it always sends Accept-Encoding: gzip) and without,
// over OpenMetrics and over protobuf, and stores the exact values.
void exposer_run(bool gzip, bool native) {
    workload w;
    vitals::exposer_options o;
    o.gzip = gzip;
    o.gzip_min_bytes = 0;  // the workload's exposition is small; compress it anyway
    vitals::exposer e(o);
    e.serve_metrics(w.r);
    e.start();
    prometheus_process p(e.port(), native);
    ASSERT_TRUE(p.started());
    const auto targets = p.poll(
        "/api/v1/targets", [](const std::string& b) { return b.find("\"health\":\"up\"") != std::string::npos; }, 20s);
    ASSERT_NE(targets.find("\"health\":\"up\""), std::string::npos) << targets << "\n" << p.log();
    EXPECT_NE(targets.find("\"lastError\":\"\""), std::string::npos) << targets;
    auto eq = [](double want) { return [want](double v) { return v == want; }; };
    EXPECT_EQ(p.query("e2e_jobs_total{kind=\"a\",service=\"e2e\"}", eq(12345)), 12345);
    EXPECT_EQ(p.query("e2e_jobs_total{kind=\"b\"}", eq(8)), 8);
    EXPECT_EQ(p.query("e2e_bytes_total", eq(1099511627776.0)), 1099511627776.0);
    EXPECT_EQ(p.query("e2e_temperature_celsius", eq(21.5)), 21.5);
    EXPECT_EQ(p.query("e2e_classic_seconds_count{route=\"/a\"}", eq(101)), 101);
    EXPECT_EQ(p.query("e2e_rpc_seconds_count", eq(1000)), 1000);
    EXPECT_EQ(p.query("e2e_build_info{version=\"1.2.3\"}", eq(1)), 1);
    const auto served = p.query("vitals_exposer_requests_total{code=\"200\"}", [](double v) { return v >= 1; });
    ASSERT_TRUE(served);
    EXPECT_GE(*served, 1);
    // What went on the wire: compressed answers are well under the plain exposition's size.
    // Prometheus asks for protobuf with native histograms on, OpenMetrics otherwise.
    const auto format =
        native ? vitals::exposition_format::protobuf_delimited : vitals::exposition_format::openmetrics_1_0_0;
    std::string uncompressed;
    vitals::render(w.r, format, uncompressed);
    vitals::render(e.self_metrics(), format, uncompressed);
    const double plain = static_cast<double>(uncompressed.size());
    const auto sent = p.query("vitals_exposer_scrape_size_bytes_sum / vitals_exposer_scrape_size_bytes_count");
    ASSERT_TRUE(sent);
    if (gzip) {
        EXPECT_LT(*sent, plain / 2) << "Prometheus' scrapes were not compressed";
    } else {
        EXPECT_GT(*sent, plain / 2);
    }
    e.stop();
}

TEST(PrometheusE2E, ExposerWithGzipOverOpenMetrics) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    exposer_run(true, false);
}

TEST(PrometheusE2E, ExposerWithoutGzipOverProtobuf) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    exposer_run(false, true);
}
