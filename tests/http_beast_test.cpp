// The Boost.Beast router against a real Beast server (synchronous sessions) on loopback.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

#include <sys/socket.h>

#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/adapters/beast.hpp>
#include <vitals/vitals.hpp>

#include "http_support.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using namespace vitals::http;
using vitals_test::http_client;
using vitals_test::sample;

namespace {

using router = beast_router<>;

// A blocking Beast server: one thread accepts, one thread per connection reads requests and
// writes the router's responses until the client closes. stop() closes everything and joins.
class beast_server {
public:
    explicit beast_server(const router& r) : router_(r), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        port = acceptor_.local_endpoint().port();
        accept_thread_ = std::thread([this] { accept_loop(); });
    }
    ~beast_server() { stop(); }

    void stop() {
        if (stopped_.exchange(true)) return;
        beast::error_code ec;
        // A blocking accept() is not woken by close(); shutdown() wakes it on Linux.
        ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
        {
            std::lock_guard lock(mu_);
            for (auto& s : sockets_) s.shutdown(tcp::socket::shutdown_both, ec);
        }
        if (accept_thread_.joinable()) accept_thread_.join();
        acceptor_.close(ec);
        {
            std::lock_guard lock(mu_);
            for (auto& s : sockets_) s.shutdown(tcp::socket::shutdown_both, ec);
        }
        for (auto& t : sessions_) t.join();
    }

    int port = 0;

private:
    void accept_loop() {
        while (!stopped_) {
            tcp::socket s(io_);
            beast::error_code ec;
            acceptor_.accept(s, ec);
            if (ec) return;
            std::lock_guard lock(mu_);
            sockets_.push_back(std::move(s));
            tcp::socket* sock = &sockets_.back();
            sessions_.emplace_back([this, sock] { session(*sock); });
        }
    }

    // Reads with a body limit, as a real session should, and refuses larger bodies through the
    // router (so that they count under their route); every other request goes through
    // async_handle, and the session waits for the answer, however late it comes.
    void session(tcp::socket& s) {
        beast::flat_buffer buf;
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(64);
            beast::error_code ec;
            bhttp::read(s, buf, parser, ec);
            if (ec == bhttp::error::body_limit) {
                auto res = router_.reject(parser.get(), bhttp::status::payload_too_large);
                res.keep_alive(false);  // the rest of the body is still unread
                bhttp::write(s, res, ec);
                return;
            }
            if (ec) return;
            const router::request req = parser.release();
            auto answer = std::make_shared<std::promise<router::response>>();
            auto future = answer->get_future();
            router_.async_handle(req, [answer](router::response&& res) { answer->set_value(std::move(res)); });
            auto res = future.get();
            bhttp::write(s, res, ec);
            if (ec || !res.keep_alive()) return;
        }
    }

    const router& router_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread accept_thread_;
    std::mutex mu_;
    std::list<tcp::socket> sockets_;
    std::list<std::thread> sessions_;
    std::atomic<bool> stopped_{false};
};

router::response text(const router::request& req, bhttp::status st, std::string body) {
    router::response res{st, req.version()};
    res.set(bhttp::field::content_type, "text/plain");
    res.body() = std::move(body);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// Answers from another thread, later: what an asynchronous handler waiting on I/O does.
class late_answers {
public:
    ~late_answers() { join(); }
    template <class F>
    void post(F f) {
        std::lock_guard lock(mu_);
        threads_.emplace_back(std::move(f));
    }
    void join() {
        std::lock_guard lock(mu_);
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

private:
    std::mutex mu_;
    std::vector<std::thread> threads_;
};

class beast_fixture : public ::testing::Test {
protected:
    beast_fixture() { start({}); }
    ~beast_fixture() override { stop(); }

    // (Re)starts with a fresh registry, instrumentation (made with `options`), router and server.
    void start(instrumentation_options options) {
        stop();
        server.reset();
        r.reset();
        state.reset();
        state = std::make_unique<vitals_test::metrics_state>(std::move(options));
        reg = &state->reg;
        inst = &state->inst;
        r = std::make_unique<router>(*inst);
        r->add(bhttp::verb::get, "/v1/events/{id}",
               [](const router::request& req, const route_params& p) {
                   return p["id"] == "1" ? text(req, bhttp::status::ok, "{\"id\":1}")
                                         : text(req, bhttp::status::not_found, "no");
               })
            .add(bhttp::verb::post, "/v1/events",
                 [](const router::request& req) {
                     return text(req, req.body().empty() ? bhttp::status::bad_request : bhttp::status::created, "");
                 })
            .add(bhttp::verb::put, "/v1/events/{id}",
                 [](const router::request& req) { return text(req, bhttp::status::no_content, ""); })
            .add(bhttp::verb::get, "/v1/items/{item}/parts/{part}",
                 [](const router::request& req, const route_params& p) {
                     return text(req, bhttp::status::ok,
                                 std::string(p.name(0)) + "=" + std::string(p["item"]) + " " + std::string(p.name(1)) +
                                     "=" + std::string(p.value(1)));
                 })
            .add(bhttp::verb::get, "/v1/async/{id}",
                 [this](const router::request& req, const route_params& p, router::responder done) {
                     std::string id(p["id"]);
                     late.post([&req, id, done = std::move(done)]() mutable {
                         std::this_thread::sleep_for(std::chrono::milliseconds(2));
                         if (id == "throw") return;  // dropped unanswered: the responder answers 500
                         done(text(req, id == "gone" ? bhttp::status::gone : bhttp::status::ok, "async " + id));
                     });
                 })
            .add(bhttp::verb::get, "/v1/async-throws",
                 [](const router::request&, const route_params&, router::responder) { throw std::runtime_error("x"); })
            .add(bhttp::verb::get, "/v1/fail",
                 [](const router::request& req) { return text(req, bhttp::status::service_unavailable, ""); })
            .add(bhttp::verb::get, "/v1/crash",
                 [](const router::request&) -> router::response { throw std::runtime_error("crash"); })
            .add(bhttp::verb::get, "/v1/fast",
                 [](const router::request& req) { return text(req, bhttp::status::ok, "f"); },
                 {.buckets = vitals_test::fast_buckets})
            .metrics("/metrics", *reg)
            .health(health.live, health.ready);
        server = std::make_unique<beast_server>(*r);
    }
    void stop() {
        if (server) server->stop();
        late.join();
    }

    std::string scrape() {
        http_client c(server->port);
        return vitals_test::checked_scrape(c, "/metrics", "text/plain");
    }

    vitals_test::health_routes health;
    late_answers late;
    std::unique_ptr<vitals_test::metrics_state> state;
    vitals::registry* reg = nullptr;
    instrumentation* inst = nullptr;
    std::unique_ptr<router> r;
    std::unique_ptr<beast_server> server;
};

std::vector<std::string> labels(std::string_view method, std::string_view endpoint, std::string_view status) {
    return vitals_test::route_labels(method, endpoint, status);
}

TEST_F(beast_fixture, counts_statuses_and_templates_exactly) {
    http_client c(server->port);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(c.get("/v1/events/1?x=1").status, 200);
    for (int i = 0; i < 2; ++i) EXPECT_EQ(c.get("/v1/events/abc").status, 404);
    EXPECT_EQ(c.post("/v1/events", "x").status, 201);
    EXPECT_EQ(c.post("/v1/events", "").status, 400);
    EXPECT_EQ(c.get("/v1/fail").status, 503);
    EXPECT_EQ(c.request("get", "/v1/events/1").status, 405);  // methods are case-sensitive: a known path
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 5);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "404")), 2);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "201")), 1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/events\"", "status=\"400\"", "error_type=\"client_error\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/fail\"", "status=\"503\"", "error_type=\"server_error\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "/v1/events/{id}", "405")), 1);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 8);  // with the 405
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 0);  // the scrape is not a route
}

TEST_F(beast_fixture, exception_is_answered_500_and_recorded) {
    http_client c(server->port);
    EXPECT_EQ(c.get("/v1/crash").status, 500);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/crash\"", "status=\"500\"", "error_type=\"exception\""}),
              1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/crash", "500")), 1);
}

TEST_F(beast_fixture, unmatched_paths_share_one_series) {
    http_client c(server->port);
    EXPECT_EQ(c.get("/nope").status, 404);
    scrape();
    const auto before = vitals_test::sample_lines(scrape());
    std::mt19937_64 rng(7);
    for (int i = 0; i < 10000; ++i) ASSERT_EQ(c.get("/r/" + std::to_string(rng())).status, 404) << i;
    const auto s = scrape();
    EXPECT_EQ(vitals_test::sample_lines(s), before);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 10001);
}

TEST_F(beast_fixture, concurrent_requests_are_all_counted) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 4; ++t)
        ts.emplace_back([this] {
            http_client c(server->port);
            for (int i = 0; i < 50; ++i) c.get("/v1/events/1");
        });
    for (auto& t : ts) t.join();
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 200);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 200);
}

}  // namespace

TEST_F(beast_fixture, health_routes_in_one_line) {
    vitals_test::expect_health_routes(
        server->port, health, [this] { return scrape(); }, false);
    *health.redis_up = true;  // as the first round found it
    (void)health.ready.run_now();
    start({.count_service_endpoints = true});
    vitals_test::expect_health_routes(
        server->port, health, [this] { return scrape(); }, true);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/metrics", "200")), 1);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 1);
}

TEST_F(beast_fixture, route_buckets_and_instrumentation_buckets) {
    http_client c(server->port);
    EXPECT_EQ(c.get("/v1/fast").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    vitals_test::expect_route_buckets(scrape());
    auto om = c.get("/metrics", "application/openmetrics-text; version=1.0.0");
    const auto [parsed, said] = vitals_test::openmetrics_parser_check(om.body);
    EXPECT_TRUE(parsed) << said << om.body;

    start({.buckets = {0.001, 0.002}});
    http_client c2(server->port);
    EXPECT_EQ(c2.get("/v1/events/1").status, 200);
    EXPECT_EQ(vitals_test::le_values(scrape(), "/v1/events/{id}"),
              (std::vector<std::string>{"0.001", "0.002", "+Inf"}));
}

TEST_F(beast_fixture, opentelemetry_names) {
    start({.names = metric_names::opentelemetry});
    http_client c(server->port);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/1").status, 200);
    EXPECT_EQ(c.get("/v1/events/2").status, 404);
    EXPECT_EQ(c.get("/nope").status, 404);
    vitals_test::expect_otel_names(scrape());
}

TEST_F(beast_fixture, path_parameters_reach_the_handler) {
    http_client c(server->port);
    const auto res = c.get("/v1/items/abc/parts/7?x=1");
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.body, "item=abc part=7");
    EXPECT_EQ(c.get("/v1/items/abc/parts").status, 404);
    EXPECT_EQ(sample(scrape(), "http_requests_total", labels("GET", "/v1/items/{item}/parts/{part}", "200")), 1);
}

// HEAD is answered by the GET route: its headers (Content-Length of the GET body), no body.
TEST_F(beast_fixture, head_is_answered_by_get_routes) {
    http_client c(server->port);
    const auto get = c.get("/v1/events/1");
    const auto head = c.request("HEAD", "/v1/events/1");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.headers.at("content-length"), std::to_string(get.body.size()));
    EXPECT_EQ(c.get("/v1/events/1").body, get.body);  // nothing of a body was left on the connection
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("HEAD", "/v1/events/{id}", "200")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events/{id}", "200")), 2);
}

// A known path with another method: 405 with every method its routes accept, counted under the
// route; a trailing slash is a different path.
TEST_F(beast_fixture, known_path_other_method_is_405_with_allow) {
    http_client c(server->port);
    auto del = c.request("DELETE", "/v1/events/1");
    EXPECT_EQ(del.status, 405);
    EXPECT_EQ(del.headers["allow"], "GET, HEAD, PUT");
    auto get = c.get("/v1/events");
    EXPECT_EQ(get.status, 405);
    EXPECT_EQ(get.headers["allow"], "POST");
    EXPECT_EQ(c.get("/v1/events/1/").status, 404);
    EXPECT_EQ(c.get("/v1/fail/").status, 404);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("DELETE", "/v1/events/{id}", "405")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/events", "405")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "unmatched", "404")), 2);
}

TEST_F(beast_fixture, asynchronous_handlers_answer_later) {
    http_client c(server->port);
    const auto ok = c.get("/v1/async/7");
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "async 7");
    EXPECT_EQ(c.get("/v1/async/gone").status, 410);
    EXPECT_EQ(c.get("/v1/async/throw").status, 500);   // the responder was dropped unanswered
    EXPECT_EQ(c.get("/v1/async-throws").status, 500);  // the handler threw
    EXPECT_EQ(r->handle(router::request{bhttp::verb::get, "/v1/async/1", 11}).result(),
              bhttp::status::internal_server_error);  // handle() cannot wait for an asynchronous route
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/async/{id}", "200")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("GET", "/v1/async/{id}", "410")), 1);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/async/{id}\"", "status=\"500\"", "error_type=\"server_error\""}),
              2);
    EXPECT_EQ(sample(s, "http_requests_failed_total",
                     {"endpoint=\"/v1/async-throws\"", "status=\"500\"", "error_type=\"exception\""}),
              1);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/async/{id}\""}), 4);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 0);
}

// The session refuses a body over its parser's limit before routing; reject() counts it under
// the route its path matches, and as unmatched only when none does.
TEST_F(beast_fixture, refused_before_routing_keeps_the_route) {
    http_client c(server->port);
    EXPECT_EQ(c.post("/v1/events", std::string(100, 'x')).status, 413);
    EXPECT_EQ(c.post("/nowhere", std::string(100, 'x')).status, 413);
    EXPECT_EQ(c.post("/v1/events", "x").status, 201);
    const auto s = scrape();
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "413")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "unmatched", "413")), 1);
    EXPECT_EQ(sample(s, "http_requests_total", labels("POST", "/v1/events", "201")), 1);
}
