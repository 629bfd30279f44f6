// Tests for vitals/http/operational.hpp: the seed service's metrics, ready-made.
#include <vitals/http/operational.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <thread>

#include "support/promtool.hpp"

using namespace vitals;

TEST(Operational, AllSeedMetricsRenderAndParse) {
    registry r({{"service", "archon72-api"}, {"environment", "development"}});
    operational_metrics ops(r);
    for (const char* s : {"api", "event-writer", "observer", "watchdog"}) ops.service_started(s);
    ops.request_duration.labels("GET", "/v1/events/{id}").observe(0.02);
    ops.requests_total.labels("GET", "/v1/events/{id}", "200").inc();
    ops.requests_failed_total.labels("GET", "/v1/events/{id}", "404", "client_error").inc();
    const std::string out = render_text(r);
    for (const char* name : {"# TYPE uptime_seconds gauge", "# TYPE service_starts_total counter",
                             "# TYPE http_request_duration_seconds histogram", "# TYPE http_requests_total counter",
                             "# TYPE http_requests_failed_total counter"})
        EXPECT_NE(out.find(name), std::string::npos) << name;
    for (const char* s : {"api", "event-writer", "observer", "watchdog"}) {
        EXPECT_NE(out.find("uptime_seconds{environment=\"development\",service=\"" + std::string(s) + "\"}"),
                  std::string::npos);
        EXPECT_NE(out.find("service_starts_total{environment=\"development\",service=\"" + std::string(s) + "\"} 1"),
                  std::string::npos);
    }
    // The seed's buckets: 10 ms to 10 s.
    for (const char* le : {"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"})
        EXPECT_NE(out.find("le=\"" + std::string(le) + "\""), std::string::npos) << le;
    const auto check = vitals_test::promtool_check(out);
    EXPECT_EQ(check.exit_code, 0) << check.output << out;
    EXPECT_EQ(check.output, "");
}

TEST(Operational, RestartCountsAStartAndResetsUptime) {
    registry r;
    operational_metrics ops(r);
    EXPECT_LT(ops.uptime("watchdog"), 0);
    ops.service_started("watchdog");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    const double before = ops.uptime("watchdog");
    EXPECT_GE(before, 0.03);
    ops.service_started("watchdog");  // restarted in-process
    EXPECT_LT(ops.uptime("watchdog"), before);
    const std::string out = render_text(r);
    EXPECT_NE(out.find("service_starts_total{service=\"watchdog\"} 2\n"), std::string::npos) << out;
}
