// The cpp-httplib sample of docs/http.md, compiled and run in CI: it serves on a free loopback
// port, sends itself one request and stops.
#include <httplib.h>

#include <iostream>
#include <string>
#include <thread>

#include <vitals/http/adapters/httplib.hpp>
#include <vitals/vitals.hpp>

namespace {

void create_event(const httplib::Request& req, httplib::Response& res) { res.status = req.body.empty() ? 400 : 201; }

}  // namespace

int main() {
    vitals::registry reg(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(reg);

    httplib::Server server;
    vitals::http::httplib_adapter api(server, inst);  // takes over pre-routing, error handler, logger
    api.Get("/v1/events/{id}",
            [](const httplib::Request& req, httplib::Response& res) {
                auto id = req.matches[1];  // {id} is capture group 1
                res.set_content("{\"id\":" + id.str() + "}", "application/json");
            })
        .Post("/v1/events", create_event)
        .metrics("/v1/metrics", reg);

    const int port = server.bind_to_any_port("127.0.0.1");
    if (port <= 0) {
        std::cerr << "cannot listen on 127.0.0.1\n";
        return 1;
    }
    std::thread serving([&server] { server.listen_after_bind(); });
    httplib::Client client("127.0.0.1", port);
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    const auto event = client.Get("/v1/events/42");
    const auto scrape = client.Get("/v1/metrics");
    server.stop();
    serving.join();
    if (!event || event->body != R"({"id":42})" || !scrape || scrape->status != 200) {
        std::cerr << "unexpected answers\n";
        return 1;
    }
    std::cout << scrape->body;
}
