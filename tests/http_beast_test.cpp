// The Boost.Beast router against a real Beast server (synchronous sessions) on loopback.
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>

#include <sys/socket.h>

#include <list>
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

    void session(tcp::socket& s) {
        beast::flat_buffer buf;
        for (;;) {
            router::request req;
            beast::error_code ec;
            bhttp::read(s, buf, req, ec);
            if (ec) return;
            auto res = router_.handle(req);
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

class beast_fixture : public ::testing::Test {
protected:
    beast_fixture() {
        r.add(bhttp::verb::get, "/v1/events/{id}",
              [](const router::request& req) {
                  const auto t = req.target();
                  return vitals::http::path_of(std::string_view(t.data(), t.size())) == "/v1/events/1"
                             ? text(req, bhttp::status::ok, "{\"id\":1}")
                                                        : text(req, bhttp::status::not_found, "no");
              })
            .add(bhttp::verb::post, "/v1/events",
                 [](const router::request& req) {
                     return text(req, req.body().empty() ? bhttp::status::bad_request : bhttp::status::created, "");
                 })
            .add(bhttp::verb::get, "/v1/fail",
                 [](const router::request& req) { return text(req, bhttp::status::service_unavailable, ""); })
            .add(bhttp::verb::get, "/v1/crash",
                 [](const router::request&) -> router::response { throw std::runtime_error("crash"); })
            .metrics("/metrics", reg)
            .health(health.live, health.ready);
        server = std::make_unique<beast_server>(r);
    }
    ~beast_fixture() override { server->stop(); }

    std::string scrape() {
        http_client c(server->port);
        return vitals_test::checked_scrape(c, "/metrics", "text/plain");
    }

    vitals::registry reg;
    instrumentation inst{reg};
    vitals_test::health_routes health;
    router r{inst};
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
    EXPECT_EQ(c.request("get", "/v1/events/1").status, 404);  // methods are case-sensitive
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
    EXPECT_EQ(sample(s, "http_requests_total", labels("other", "unmatched", "404")), 1);
    EXPECT_EQ(sample(s, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 7);
    EXPECT_EQ(sample(s, "http_requests_in_flight"), 1);
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
    vitals_test::expect_health_routes(server->port, health, [this] { return scrape(); });
}
