// The status page through each HTTP adapter's status(): cpp-httplib and civetweb over loopback,
// Boost.Beast's router called directly. Each must answer the page and its JSON with the page's
// headers (CSP, nosniff), and leave the page out of the route metrics by default.
#include <httplib.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/adapters/beast.hpp>
#include <vitals/http/adapters/civetweb.hpp>
#include <vitals/http/adapters/httplib.hpp>
#include <vitals/status/status_page.hpp>
#include <vitals/vitals.hpp>

#include "http_support.hpp"

namespace {

struct page_fixture {
    vitals::registry reg;
    vitals::http::instrumentation inst{reg};
    vitals::health::probe probe;
    vitals::status::status_page page{reg, &probe};
    page_fixture() {
        probe.add("db", [] { return true; });
        auto& route = inst.route("GET", "/v1/items/{id}");
        for (int i = 0; i < 20; ++i) route.record(i < 18 ? 200 : 503, vitals::http::error_type::none, 0.004 * i);
    }
};

void expect_page(vitals_test::http_client& c, const std::string& path) {
    const auto html = c.get(path);
    EXPECT_EQ(html.status, 200);
    EXPECT_EQ(html.headers.count("content-security-policy"), 1U);
    EXPECT_EQ(html.headers.at("content-security-policy"), vitals::status::content_security_policy);
    EXPECT_EQ(html.headers.at("x-content-type-options"), "nosniff");
    EXPECT_EQ(html.headers.at("content-type").rfind("text/html", 0), 0U);
    EXPECT_NE(html.body.find("<td class=\"endpoint\" rowspan=\"3\">/v1/items/{id}</td>"), std::string::npos)
        << html.body;
    const auto json = c.get(path + "?format=json");
    EXPECT_EQ(json.status, 200);
    EXPECT_EQ(json.headers.at("content-type"), "application/json");
    EXPECT_NE(json.body.find("\"server_error\":"), std::string::npos) << json.body;
    EXPECT_EQ(json.body.find("/v1/status"), std::string::npos);  // not a route of its own
}

TEST(StatusAdapters, Httplib) {
    page_fixture f;
    httplib::Server server;
    vitals::http::httplib_adapter(server, f.inst).status(f.page);
    const int port = server.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port, 0);
    std::thread t([&] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    {
        vitals_test::http_client c(port);
        expect_page(c, "/v1/status");
    }
    server.stop();
    t.join();
}

TEST(StatusAdapters, Civetweb) {
    page_fixture f;
    vitals::http::civetweb_server server(f.inst, {"listening_ports", "127.0.0.1:0", "num_threads", "2"});
    server.status(f.page, "/status");
    vitals_test::http_client c(server.port());
    expect_page(c, "/status");
}

TEST(StatusAdapters, Beast) {
    page_fixture f;
    vitals::http::beast_router<> router(f.inst);
    router.status(f.page);
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::verb::get, "/v1/status?format=json", 11};
    const auto res = router.handle(req);
    EXPECT_EQ(res.result_int(), 200U);
    EXPECT_EQ(std::string(res[http::field::content_type]), "application/json");
    EXPECT_EQ(std::string(res["Content-Security-Policy"]), std::string(vitals::status::content_security_policy));
    EXPECT_NE(res.body().find("\"endpoint\":\"/v1/items/{id}\""), std::string::npos) << res.body();
    http::request<http::string_body> html{http::verb::get, "/v1/status", 11};
    const auto page = router.handle(html);
    EXPECT_EQ(page.result_int(), 200U);
    EXPECT_NE(page.body().find("<!DOCTYPE html>"), std::string::npos);
}

}  // namespace
