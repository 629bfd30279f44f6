// The Boost.Beast sample of docs/http.md, compiled and run in CI: one session on a free loopback
// port, fed one request by a client thread.
#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <iostream>
#include <string>
#include <thread>

#include <vitals/http/adapters/beast.hpp>
#include <vitals/vitals.hpp>

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

http::response<http::string_body> make_response(const http::request<http::string_body>& req) {
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = R"({"id":7})";
    res.keep_alive(false);
    res.prepare_payload();
    return res;
}

// Sends one request and returns the raw answer; the socket timeout bounds the wait.
std::string ask(unsigned short port, const std::string& request) {
    asio::io_context io;
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), port});
    timeval limit{5, 0};
    ::setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    asio::write(s, asio::buffer(request));
    std::string answer;
    boost::beast::error_code ec;
    char chunk[4096];
    for (std::size_t n; (n = s.read_some(asio::buffer(chunk), ec)) > 0 && !ec;) answer.append(chunk, n);
    return answer;
}

// A session that reads with a body limit answers what it refuses through the router.
void read_limited(asio::ip::tcp::socket& socket, boost::beast::flat_buffer& buffer,
                  const vitals::http::beast_router<>& router) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024);
    boost::beast::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec == http::error::body_limit) {
        auto res = router.reject(parser.get(), http::status::payload_too_large);  // counted under its route
        res.keep_alive(false);
        http::write(socket, res);
    }
}

}  // namespace

int main() {
    vitals::registry reg(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(reg);

    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    std::string answer;
    std::thread client([&answer, port = acceptor.local_endpoint().port()] {
        answer = ask(port, "GET /v1/events/7 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    });
    asio::ip::tcp::socket socket = acceptor.accept();
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;

    vitals::http::beast_router<> router(inst);
    router.add(http::verb::get, "/v1/events/{id}", [](const auto& req) { return make_response(req); })
        .metrics("/metrics", reg);
    http::read(socket, buffer, req);  // in your session loop
    auto res = router.handle(req);    // 404 (unmatched) / 500 (handler threw) built in
    http::write(socket, res);

    socket.shutdown(asio::ip::tcp::socket::shutdown_send);
    client.join();
    if (answer.find(R"({"id":7})") == std::string::npos) {
        std::cerr << "unexpected answer: " << answer << '\n';
        return 1;
    }

    // A body over the session's limit: refused before routing, still counted under its route.
    std::string refused;
    std::thread big([&refused, port = acceptor.local_endpoint().port()] {
        refused = ask(port, "PUT /v1/events/7 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 4096\r\n\r\n" +
                                std::string(4096, 'x'));
    });
    asio::ip::tcp::socket second = acceptor.accept();
    boost::beast::flat_buffer second_buffer;
    read_limited(second, second_buffer, router);
    second.shutdown(asio::ip::tcp::socket::shutdown_send);
    big.join();
    if (refused.rfind("HTTP/1.1 413", 0) != 0) {
        std::cerr << "unexpected answer: " << refused << '\n';
        return 1;
    }
    std::cout << vitals::render_text(reg);
}
