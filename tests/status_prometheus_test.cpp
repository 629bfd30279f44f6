// status/quantile.hpp against the real thing: a Prometheus server (Debian's /usr/bin/prometheus,
// 2.42) scrapes the latency histograms a status page reads, and its histogram_quantile over the
// scraped buckets must equal the page's p50/p95/p99, to the last bit (the same arithmetic in the
// same order). The Prometheus harness is prometheus_e2e_test.cpp's.
#include <vitals/http/exposer.hpp>
#include <vitals/http/operational.hpp>
#include <vitals/status/status_page.hpp>
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

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
using namespace vitals_test::prometheus;

bool prometheus_available() { return access(prometheus_binary, X_OK) == 0; }

TEST(StatusPrometheus, QuantilesEqualHistogramQuantile) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    double t = 0;
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    vitals::status::status_options o;
    o.clock = [&t] { return t; };
    vitals::status::status_page page(reg, nullptr, o);  // its first slot: every count zero
    // Routes with different shapes: lognormal latency, everything in one bucket, on bucket
    // boundaries, mostly past the last finite bound.
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(std::log(0.08), 0.9);
    for (int i = 0; i < 3000; ++i) (void)ops.request_duration.labels("GET", "/lognormal").observe(latency(rng));
    for (int i = 0; i < 100; ++i) (void)ops.request_duration.labels("GET", "/one-bucket").observe(0.03);
    for (int i = 0; i < 500; ++i)
        (void)ops.request_duration.labels("POST", "/boundaries")
            .observe(vitals::http_duration_buckets
                         .data()[static_cast<std::size_t>(i) % vitals::http_duration_buckets.size()]);
    for (int i = 0; i < 200; ++i) (void)ops.request_duration.labels("GET", "/slow").observe(i < 190 ? 30.0 : 0.2);
    t = 600;
    const auto d = page.data();
    ASSERT_EQ(d.routes.size(), 4U);

    vitals::exposer e;
    e.serve_metrics(reg);
    e.start();
    prometheus_process p(e.port(), false);
    ASSERT_TRUE(p.started());
    for (const auto& r : d.routes) {
        const auto& w = r.windows.back();  // 15 intervals: back to the first slot, so every count
        const std::string sel =
            "http_request_duration_seconds_bucket{method=\"" + r.method + "\",endpoint=\"" + r.endpoint + "\"}";
        const std::pair<double, double> qs[] = {{0.5, w.p50}, {0.95, w.p95}, {0.99, w.p99}};
        for (const auto& [q, ours] : qs) {
            const std::string expr = "histogram_quantile(" + std::to_string(q) + ", " + sel + ")";
            const auto theirs = p.query(expr, [](double v) { return !std::isnan(v); });
            ASSERT_TRUE(theirs) << expr << "\n" << p.log();
            EXPECT_EQ(*theirs, ours) << expr << " on " << r.endpoint;
        }
    }
    e.stop();
}

}  // namespace
