// The civetweb adapter against a real civetweb server on loopback.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/adapters/civetweb.hpp>
#include <vitals/vitals.hpp>

#include "http_support.hpp"

using namespace vitals::http;
using vitals_test::http_client;
using vitals_test::sample;

namespace {

int reply(mg_connection* conn, int status, std::string_view body) {
    mg_response_header_start(conn, status);
    mg_response_header_add(conn, "Content-Type", "text/plain", -1);
    const std::string len = std::to_string(body.size());
    mg_response_header_add(conn, "Content-Length", len.c_str(), -1);
    mg_response_header_send(conn);
    mg_write(conn, body.data(), body.size());
    return status;
}

class civetweb_fixture : public ::testing::Test {
protected:
    civetweb_fixture() { start({}); }

    // (Re)starts with a fresh registry, instrumentation (made with `options`) and server.
    void start(instrumentation_options options) {
        server.reset();
        state.reset();
        state = std::make_unique<vitals_test::metrics_state>(std::move(options));
        reg = &state->reg;
        inst = &state->inst;
        server = std::make_unique<civetweb_server>(
            *inst, std::vector<std::string>{"listening_ports", "127.0.0.1:0", "num_threads", "8", "enable_keep_alive",
                                            "yes", "tcp_nodelay", "1"});
        server
            ->handle("/v1/events/{id}",
                     [](mg_connection* c) {
                         const mg_request_info* ri = mg_get_request_info(c);
                         if (std::strcmp(ri->request_method, "POST") == 0) return reply(c, 405, "");
                         return std::strcmp(ri->local_uri, "/v1/events/1") == 0 ? reply(c, 200, "{\"id\":1}")
                                                                                : reply(c, 404, "no");
                     })
            .handle("/v1/fail", [](mg_connection* c) { return reply(c, 502, "bad gateway"); })
            .handle("/v1/crash", [](mg_connection*) -> int { throw std::runtime_error("crash"); })
            .handle("/v1/fast", [](mg_connection* c) { return reply(c, 200, "f"); },
                    {.buckets = vitals_test::fast_buckets})
            .metrics("/metrics", *reg)
            .health(health.live, health.ready);
    }

    std::string scrape() {
        http_client c(server->port());
        return vitals_test::checked_scrape(c);
    }

    vitals_test::health_routes health;
    std::unique_ptr<vitals_test::metrics_state> state;
    vitals::registry* reg = nullptr;
    instrumentation* inst = nullptr;
    std::unique_ptr<civetweb_server> server;
};

std::vector<std::string> labels(std::string_view method, std::string_view endpoint, std::string_view status) {
    return vitals_test::route_labels(method, endpoint, status);
}

TEST_F(civetweb_fixture, counts_statuses_and_templates_exactly) {
    ASSERT_GT(server->port(), 0);
    http_client c(server->port());
    for (int i = 0; i < 6; ++i) EXPECT_EQ(c.get("/v1/events/1").status, 200);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(c.get("/v1/events/x" + std::to_string(i)).status, 404);
    EXPECT_EQ(c.post("/v1/events/1", "x").status, 405);
    EXPECT_EQ(c.get("/v1/fail").status, 502);
    EXPECT_EQ(c.get("/v1/events/1/extra").status, 404);  // the glob matches, the template does not
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 6);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "404")), 4);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events/{id}", "405")), 1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/fail\"", "status=\"502\"", "error_type=\"server_error\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/events/{id}\"", "status=\"404\"", "error_type=\"client_error\""}),
              4);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 1);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 11);
}

TEST_F(civetweb_fixture, exception_is_answered_500_and_recorded) {
    http_client c(server->port());
    EXPECT_EQ(c.get("/v1/crash").status, 500);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/crash\"", "status=\"500\"", "error_type=\"exception\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/crash", "500")), 1);
}

TEST_F(civetweb_fixture, unmatched_paths_share_one_series) {
    http_client c(server->port());
    EXPECT_EQ(c.get("/nope").status, 404);
    scrape();
    const auto before = vitals_test::sample_lines(scrape());
    std::mt19937_64 rng(11);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(c.get("/r/" + std::to_string(rng())).status, 404) << i;
    const auto s = scrape();
    EXPECT_EQ(vitals_test::sample_lines(s), before);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 10001);
}

TEST_F(civetweb_fixture, concurrent_requests_are_all_counted) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([this] {
            http_client c(server->port());
            for (int i = 0; i < 50; ++i) c.get("/v1/events/1");
        });
    for (auto& t : ts) t.join();
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 200);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 0);  // the scrape is not a route
}

// The unmatched series is updated before the error page is written (from http_error), so a client
// holding its 404 finds it counted, and end_request does not count it a second time.
TEST_F(civetweb_fixture, unmatched_is_counted_before_the_answer) {
    http_client c(server->port());
    for (int i = 1; i <= 300; ++i) {
        ASSERT_EQ(c.get("/missing/" + std::to_string(i)).status, 404);
        ASSERT_EQ(sample(vitals::render_text(*reg), "http_requests_total", labels("GET", "unmatched", "404")), i);
    }
    ASSERT_EQ(c.get("/v1/events/1").status, 200);  // a matched request in between resets nothing wrongly
    ASSERT_EQ(c.get("/v1/events/1/extra").status, 404);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 301);
    EXPECT_EQ(sample(s, "http_requests_failed_total", {"endpoint=\"unmatched\"", "error_type=\"client_error\""}), 301);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 1);
}

}  // namespace

TEST_F(civetweb_fixture, health_routes_in_one_line) {
    vitals_test::expect_health_routes(
        server->port(), health, [this] { return scrape(); }, false);
    *health.redis_up = true;  // as the first round found it
    (void)health.ready.run_now();
    start({.count_service_endpoints = true});
    vitals_test::expect_health_routes(
        server->port(), health, [this] { return scrape(); }, true);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/metrics", "200")), 1);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 1);
}

TEST_F(civetweb_fixture, route_buckets_and_instrumentation_buckets) {
    http_client c(server->port());
    EXPECT_EQ(c.get("/v1/fast").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    vitals_test::expect_route_buckets(scrape());
    auto om = c.get("/metrics", "application/openmetrics-text; version=1.0.0");
    const auto [parsed, said] = vitals_test::openmetrics_parser_check(om.body);
    EXPECT_TRUE(parsed) << said << om.body;

    start({.buckets = {0.001, 0.002}});
    http_client c2(server->port());
    EXPECT_EQ(c2.get("/v1/events/1").status, 200);
    EXPECT_EQ(vitals_test::le_values(scrape(), "/v1/events/{id}"),
              (std::vector<std::string>{"0.001", "0.002", "+Inf"}));
}

TEST_F(civetweb_fixture, opentelemetry_names) {
    start({.names = metric_names::opentelemetry});
    http_client c(server->port());
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/2").status, 404);
    EXPECT_EQ(c.get("/nope").status, 404);
    vitals_test::expect_otel_names(scrape());
}

// civetweb answers some requests itself, before any handler (a method it does not serve): those
// whose path is a registered template count under it; only paths that match nothing are unmatched.
TEST_F(civetweb_fixture, refused_before_routing_keeps_the_route) {
    http_client c(server->port());
    const auto known = c.raw("BREW /v1/events/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const auto unknown = c.raw("BREW /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_GE(known.status, 400);
    EXPECT_EQ(unknown.status, known.status);
    const auto s = scrape();
    const std::string st = std::to_string(known.status);
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "/v1/events/{id}", st)), 1) << s;
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "unmatched", st)), 1) << s;
}
