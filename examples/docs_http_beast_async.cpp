// The asynchronous Boost.Beast sample of docs/http.md, compiled and run in CI: a server on two io
// threads whose event route answers after an asynchronous wait (standing in for a backend call),
// asked by a client on this thread for that route, its HEAD, another method and a scrape. Exits
// non-zero when an answer is not the documented one.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/adapters/beast.hpp>
#include <vitals/vitals.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using router_type = vitals::http::beast_router<>;

namespace {

router_type::response event_response(const router_type::request& req, std::string_view id) {
    router_type::response res{http::status::ok, req.version()};
    res.set(http::field::content_type, "application/json");
    res.body() = "{\"id\":\"" + std::string(id) + "\"}";
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    return res;
}

// One connection: read a request, let the router answer it (now or later), write, repeat.
class session : public std::enable_shared_from_this<session> {
public:
    session(asio::ip::tcp::socket socket, const router_type& router) : stream_(std::move(socket)), router_(router) {}

    void start() { read(); }

private:
    void read() {
        req_ = {};
        http::async_read(stream_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return;
            // req_ stays put until the answer is written: the router's handlers may read it late.
            self->router_.async_handle(self->req_, [self](router_type::response&& res) {
                // A handler may answer on any io thread: back to this connection's strand first.
                asio::post(self->stream_.get_executor(),
                           [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
            });
        });
    }

    void write(router_type::response res) {
        res_ = std::make_shared<router_type::response>(std::move(res));
        http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (!ec && self->res_->keep_alive()) self->read();
        });
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    router_type::request req_;
    std::shared_ptr<router_type::response> res_;
    const router_type& router_;
};

void accept_loop(asio::ip::tcp::acceptor& acceptor, const router_type& router) {
    acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                          [&acceptor, &router](beast::error_code ec, asio::ip::tcp::socket socket) {
                              if (!ec) std::make_shared<session>(std::move(socket), router)->start();
                              if (acceptor.is_open()) accept_loop(acceptor, router);
                          });
}

// The client: one request on a fresh connection, the answer's status, Allow header and body.
struct answer {
    unsigned status = 0;
    std::string allow, body;
};
answer ask(unsigned short port, http::verb method, const std::string& target) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    stream.expires_after(std::chrono::seconds(5));
    http::request<http::empty_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(false);
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.skip(method == http::verb::head);  // a HEAD answer has a length and no body
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    return {res.result_int(), std::string(res[http::field::allow]), res.body()};
}

}  // namespace

int main() {
    vitals::registry reg(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(reg);
    asio::io_context io;

    vitals::http::beast_router<> router(inst);
    router
        .add(http::verb::get, "/v1/events/{id}",
             [&io](const router_type::request& req, const vitals::http::route_params& params,
                   router_type::responder done) {
                 // Stands in for a backend call: the io thread serves other connections meanwhile.
                 auto wait = std::make_shared<asio::steady_timer>(io, std::chrono::milliseconds(5));
                 wait->async_wait(
                     [wait, &req, id = std::string(params["id"]), done = std::move(done)](beast::error_code) mutable {
                         done(event_response(req, id));  // records the request, then sends the answer
                     });
             })
        .metrics("/metrics", reg);

    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    accept_loop(acceptor, router);
    std::vector<std::thread> threads;
    for (int i = 0; i < 2; ++i) threads.emplace_back([&io] { io.run(); });

    const auto port = acceptor.local_endpoint().port();
    const answer event = ask(port, http::verb::get, "/v1/events/7");
    const answer head = ask(port, http::verb::head, "/v1/events/7");
    const answer other = ask(port, http::verb::delete_, "/v1/events/7");
    const answer slash = ask(port, http::verb::get, "/v1/events/7/");
    const answer scrape = ask(port, http::verb::get, "/metrics");

    asio::post(io, [&acceptor] { acceptor.close(); });
    io.stop();
    for (auto& t : threads) t.join();

    bool ok = event.status == 200 && event.body == R"({"id":"7"})";
    ok &= head.status == 200 && head.body.empty();
    ok &= other.status == 405 && other.allow == "GET, HEAD";
    ok &= slash.status == 404;  // a trailing slash is another path
    ok &= scrape.status == 200 && scrape.body.find("endpoint=\"/v1/events/{id}\",status=\"405\"") != std::string::npos;
    if (!ok) {
        std::cerr << "unexpected answers: " << event.status << ' ' << event.body << " / " << head.status << " / "
                  << other.status << ' ' << other.allow << " / " << slash.status << "\n"
                  << scrape.body;
        return 1;
    }
    std::cout << scrape.body;
}
