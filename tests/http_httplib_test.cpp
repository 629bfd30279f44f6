// The cpp-httplib adapter against a real cpp-httplib server on loopback.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/adapters/httplib.hpp>
#include <vitals/vitals.hpp>

#include "http_support.hpp"

using namespace vitals::http;
using vitals_test::http_client;
using vitals_test::sample;

namespace {

// Bounded: a server that does not start within 5 s fails the test instead of hanging it.
void wait_running(const httplib::Server& s) {
    for (int i = 0; i < 500 && !s.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(s.is_running());
}

class httplib_fixture : public ::testing::Test {
protected:
    void SetUp() override { start({}); }
    void TearDown() override { stop(); }

    // (Re)starts the server with a fresh registry and instrumentation made with `options`;
    // `configure` sets the server up before the routes are added.
    void start(instrumentation_options options, const std::function<void(httplib::Server&)>& configure = {}) {
        stop();
        server.reset();
        state.reset();
        state = std::make_unique<vitals_test::metrics_state>(std::move(options));
        reg = &state->reg;
        inst = &state->inst;
        server = std::make_unique<httplib::Server>();
        if (configure) configure(*server);
        httplib_adapter api(*server, *inst);
        api.Get("/v1/events/{id}",
                [](const httplib::Request& req, httplib::Response& res) {
                    if (req.matches[1] == "1") {
                        res.set_content("{\"id\":1}", "application/json");
                    } else {
                        res.status = 404;
                        res.set_content("not found", "text/plain");
                    }
                })
            .Post("/v1/events", [](const httplib::Request& req,
                                   httplib::Response& res) { res.status = req.body.empty() ? 400 : 201; })
            .Get("/v1/fail", [](const httplib::Request&, httplib::Response& res) { res.status = 500; })
            .Get("/v1/crash", [](const httplib::Request&, httplib::Response&) { throw std::runtime_error("crash"); })
            .Get("/v1/fast",
                 [](const httplib::Request&, httplib::Response& res) { res.set_content("f", "text/plain"); },
                 {.buckets = vitals_test::fast_buckets})
            .metrics("/metrics", *reg)
            .health(health.live, health.ready);
        server->set_keep_alive_max_count(100000);
        server->set_tcp_nodelay(true);  // responses are written in pieces: avoid Nagle's delays
        port = server->bind_to_any_port("127.0.0.1");
        ASSERT_GT(port, 0);
        thread = std::thread([this] { server->listen_after_bind(); });
        wait_running(*server);
    }
    void stop() {
        if (server) server->stop();
        if (thread.joinable()) thread.join();
    }

    // Every scrape is also checked by promtool.
    std::string scrape() {
        http_client c(port);
        return vitals_test::checked_scrape(c);
    }

    vitals_test::health_routes health;
    std::unique_ptr<vitals_test::metrics_state> state;
    vitals::registry* reg = nullptr;
    instrumentation* inst = nullptr;
    std::unique_ptr<httplib::Server> server;
    std::thread thread;
    int port = 0;
};

std::vector<std::string> labels(std::string_view method, std::string_view endpoint, std::string_view status) {
    return vitals_test::route_labels(method, endpoint, status);
}

TEST_F(httplib_fixture, counts_statuses_and_templates_exactly) {
    http_client c(port);
    for (int i = 0; i < 7; ++i) EXPECT_EQ(c.get("/v1/events/1").status, 200);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(c.get("/v1/events/" + std::to_string(100 + i)).status, 404);
    EXPECT_EQ(c.post("/v1/events", "{}").status, 201);
    EXPECT_EQ(c.post("/v1/events", "").status, 400);
    EXPECT_EQ(c.get("/v1/fail").status, 500);
    EXPECT_EQ(c.request("HEAD", "/v1/events/1").status, 200);

    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 7);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "404")), 3);
    EXPECT_EQ(sample(s, "http_requests_total", labels("HEAD", "/v1/events/{id}", "200")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "201")), 1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/events/{id}\"", "status=\"404\"", "error_type=\"client_error\""}),
              3);
    EXPECT_EQ(sample(s, "http_requests_failed_total", {"endpoint=\"/v1/events\"", "error_type=\"client_error\""}), 1);
    EXPECT_EQ(sample(s, "http_requests_failed_total", {"endpoint=\"/v1/fail\"", "error_type=\"server_error\""}), 1);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"method=\"GET\"", "endpoint=\"/v1/events/{id}\""}), 10);
    // Raw paths never become label values.
    EXPECT_EQ(s.find("/v1/events/100"), std::string::npos);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 0);  // the scrape itself is not a route
    EXPECT_EQ(s.find("endpoint=\"/metrics\""), std::string::npos);
}

TEST_F(httplib_fixture, exception_is_answered_500_and_recorded) {
    http_client c(port);
    EXPECT_EQ(c.get("/v1/crash").status, 500);
    EXPECT_EQ(c.get("/v1/crash").status, 500);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/crash\"", "status=\"500\"", "error_type=\"exception\""}),
              2);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/crash", "500")), 2);
    EXPECT_TRUE(std::isnan(sample(s, "http_requests_failed_total", {"error_type=\"server_error\""})));
}

TEST_F(httplib_fixture, unmatched_paths_share_one_series) {
    http_client c(port);
    EXPECT_EQ(c.get("/nope").status, 404);
    scrape();  // the first scrape's own series appear after it was rendered
    const auto before = vitals_test::sample_lines(scrape());
    std::mt19937_64 rng(42);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(c.get("/random/" + std::to_string(rng())).status, 404) << i;
    const auto s = scrape();
    EXPECT_EQ(vitals_test::sample_lines(s), before);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 10001);
    EXPECT_EQ(sample(s, "http_requests_failed_total", {"endpoint=\"unmatched\"", "error_type=\"client_error\""}),
              10001);
}

TEST_F(httplib_fixture, concurrent_requests_are_all_counted) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([this] {
            http_client c(port);
            for (int i = 0; i < 50; ++i) {
                c.get("/v1/events/1");
                c.get("/v1/events/2");
            }
        });
    for (auto& t : ts) t.join();
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 200);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "404")), 200);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 400);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 0);
}

TEST_F(httplib_fixture, user_logger_still_called) {
    TearDown();
    httplib::Server other;
    std::atomic<int> logged{0};  // cpp-httplib may log from any of its workers
    httplib_adapter a(other, *inst, [&logged](const httplib::Request&, const httplib::Response&) { ++logged; });
    a.Get("/x", [](const httplib::Request&, httplib::Response& res) { res.set_content("x", "text/plain"); });
    const int p = other.bind_to_any_port("127.0.0.1");
    std::thread t([&] { other.listen_after_bind(); });
    wait_running(other);
    {
        http_client c(p);
        c.get("/x");
        c.get("/y");
    }
    other.stop();
    t.join();
    EXPECT_EQ(logged, 2);
    EXPECT_EQ(sample(vitals::render_text(*reg), "http_requests_total", labels("GET", "unmatched", "404")), 1);
    EXPECT_EQ(httplib_adapter::pattern("/a.b/{id}"), "/a\\.b/([^/]+)");
}

// The unmatched series is updated before the 404 is written (from the error handler), so every
// client that has its answer finds it counted; a user's error handler still shapes the answer,
// for matched and unmatched requests alike, and nothing is counted twice.
TEST_F(httplib_fixture, unmatched_is_counted_before_the_answer_and_user_error_handler_runs) {
    TearDown();
    httplib::Server other;
    std::atomic<int> errors{0};  // each connection has its own worker thread
    httplib_adapter a(other, *inst, nullptr, [&errors](const httplib::Request&, httplib::Response& res) {
        ++errors;
        res.set_content("custom " + std::to_string(res.status), "text/plain");
        return httplib::Server::HandlerResponse::Handled;
    });
    a.Get("/gone", [](const httplib::Request&, httplib::Response& res) { res.status = 410; });
    other.set_tcp_nodelay(true);
    const int p = other.bind_to_any_port("127.0.0.1");
    std::thread t([&] { other.listen_after_bind(); });
    wait_running(other);
    {
        http_client c(p);
        for (int i = 1; i <= 300; ++i) {
            const auto r = c.get("/missing/" + std::to_string(i));
            ASSERT_EQ(r.status, 404);
            ASSERT_EQ(r.body, "custom 404");
            ASSERT_EQ(sample(vitals::render_text(*reg), "http_requests_total", labels("GET", "unmatched", "404")), i);
        }
        const auto gone = c.get("/gone");
        EXPECT_EQ(gone.status, 410);
        EXPECT_EQ(gone.body, "custom 410");
        const auto odd = c.request("BREW", "/pot");  // a method cpp-httplib refuses with 400
        EXPECT_EQ(odd.status, 400);
        EXPECT_EQ(sample(vitals::render_text(*reg), "http_requests_total", labels("other", "unmatched", "400")), 1);
    }
    other.stop();
    t.join();
    EXPECT_EQ(errors, 302);
    const auto s = vitals_test::checked_render(*reg);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 300);
    EXPECT_EQ(sample(s, "http_requests_failed_total", {"endpoint=\"unmatched\"", "error_type=\"client_error\""}),
              301);  // the 300 404s and the 400
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/gone", "410")), 1);
}

}  // namespace

TEST_F(httplib_fixture, health_routes_in_one_line) {
    vitals_test::expect_health_routes(
        port, health, [this] { return scrape(); }, false);
    *health.redis_up = true;  // as the first round found it
    (void)health.ready.run_now();
    start({.count_service_endpoints = true});
    vitals_test::expect_health_routes(
        port, health, [this] { return scrape(); }, true);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/metrics", "200")), 1);  // the scrape before
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 1);                                // and this one
}

TEST_F(httplib_fixture, route_buckets_and_instrumentation_buckets) {
    http_client c(port);
    EXPECT_EQ(c.get("/v1/fast").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    const auto s = scrape();
    vitals_test::expect_route_buckets(s);
    auto om = c.get("/metrics", "application/openmetrics-text; version=1.0.0");
    EXPECT_EQ(om.status, 200);
    const auto [parsed, said] = vitals_test::openmetrics_parser_check(om.body);
    EXPECT_TRUE(parsed) << said << om.body;
    EXPECT_NE(om.body.find("le=\"0.00025\""), std::string::npos) << om.body;

    start({.buckets = {0.001, 0.002}});
    http_client c2(port);
    EXPECT_EQ(c2.get("/v1/events/1").status, 200);
    const auto s2 = scrape();
    EXPECT_EQ(vitals_test::le_values(s2, "/v1/events/{id}"), (std::vector<std::string>{"0.001", "0.002", "+Inf"}));
    EXPECT_EQ(vitals_test::le_values(s2, "/v1/fast").size(), 5u);  // its own still win
}

TEST_F(httplib_fixture, opentelemetry_names) {
    start({.names = metric_names::opentelemetry});
    http_client c(port);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/2").status, 404);
    EXPECT_EQ(c.get("/nope").status, 404);
    vitals_test::expect_otel_names(scrape());
}

// cpp-httplib answers some requests before any handler runs (a body over the payload limit, a
// method it does not know, a GET to a path only POST is registered for): those whose path is a
// registered template count under it; only paths that match nothing are `unmatched`.
TEST_F(httplib_fixture, refused_before_routing_keeps_the_route) {
    start({}, [](httplib::Server& s) { s.set_payload_max_length(16); });
    http_client c(port);
    EXPECT_EQ(c.post("/v1/events", std::string(100, 'x')).status, 413);
    EXPECT_EQ(c.post("/v1/events", "small").status, 201);
    EXPECT_EQ(c.raw("BREW /v1/events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 400);
    EXPECT_EQ(c.get("/v1/events").status, 404);
    EXPECT_EQ(c.raw("BREW /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status, 400);
    EXPECT_EQ(c.get("/nowhere").status, 404);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "413")), 1) << s;
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/events\"", "status=\"413\"", "error_type=\"client_error\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "201")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "/v1/events", "400")), 1) << s;
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events", "404")), 1) << s;
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "unmatched", "400")), 1) << s;
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 1) << s;
}
