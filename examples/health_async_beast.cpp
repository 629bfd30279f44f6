// An asynchronous Boost.Beast server on 2 io threads whose readiness depends on Redis, and what a
// hung Redis does to it: nothing. Compiled and run in CI (suite docs).
//
// The router answers /v1/ready and /v1/health from the probe's latest background results
// (router.health(...)), so no io thread ever waits on a dependency; /v1/ready/refresh shows the
// asynchronous interface: it runs every check now and writes the answer when they are done,
// without blocking its io thread (vitals::health::async_run posts the report back to the
// connection's executor).
//
// As a self-test it measures the p99 latency of a business route under 20 concurrent probe
// clients, first with a Redis stand-in that answers PING, then with one that accepts and never
// answers, and exits non-zero if the hung dependency more than doubles that p99 (plus a
// millisecond of slack for timer noise at this scale), or if readiness does not say so.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <vitals/health/asio.hpp>
#include <vitals/health/checks.hpp>
#include <vitals/health/handler.hpp>
#include <vitals/health/metrics.hpp>
#include <vitals/http/adapters/beast.hpp>
#include <vitals/vitals.hpp>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

using router_type = vitals::http::beast_router<>;

// One connection: read a request, answer it, repeat while the client keeps it alive.
class session : public std::enable_shared_from_this<session> {
public:
    session(asio::ip::tcp::socket socket, const router_type& router, vitals::health::probe& ready)
        : stream_(std::move(socket)), router_(router), ready_(ready) {}

    void start() { read(); }

private:
    void read() {
        req_ = {};
        stream_.expires_after(30s);
        http::async_read(stream_, buffer_, req_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec) return self->close();
            self->answer();
        });
    }

    void answer() {
        const std::string_view target(req_.target().data(), req_.target().size());
        if (target.starts_with("/v1/ready/refresh")) {
            // Run every check now; the io thread goes back to other connections meanwhile.
            vitals::health::async_run(
                ready_, stream_.get_executor(), [self = shared_from_this()](vitals::health::readiness_report report) {
                    const auto r = vitals::health::ready_response(report, "");
                    http::response<http::string_body> res{static_cast<http::status>(r.status), self->req_.version()};
                    res.set(http::field::content_type, r.content_type);
                    res.body() = r.body;
                    res.keep_alive(self->req_.keep_alive());
                    res.prepare_payload();
                    self->write(std::move(res));
                });
            return;
        }
        write(router_.handle(req_));  // every route answers without waiting on a dependency
    }

    void write(http::response<http::string_body> res) {
        res_ = std::make_shared<http::response<http::string_body>>(std::move(res));
        http::async_write(stream_, *res_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
            if (ec || !self->res_->keep_alive()) return self->close();
            self->read();
        });
    }

    void close() {
        beast::error_code ignored;
        stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    }

    beast::tcp_stream stream_;
    beast::flat_buffer buffer_;
    http::request<http::string_body> req_;
    std::shared_ptr<http::response<http::string_body>> res_;
    const router_type& router_;
    vitals::health::probe& ready_;
};

void accept_loop(asio::ip::tcp::acceptor& acceptor, const router_type& router, vitals::health::probe& ready) {
    acceptor.async_accept(asio::make_strand(acceptor.get_executor()),
                          [&acceptor, &router, &ready](beast::error_code ec, asio::ip::tcp::socket socket) {
                              if (!ec) std::make_shared<session>(std::move(socket), router, ready)->start();
                              if (acceptor.is_open()) accept_loop(acceptor, router, ready);
                          });
}

// --- stand-ins for Redis, on loopback -------------------------------------------------------

int listen_loopback(std::uint16_t& port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
        throw std::runtime_error("cannot listen on loopback");
    port = ntohs(a.sin_port);
    return fd;
}

// Answers every PING with +PONG, or (hung) accepts and never says a word.
class fake_redis {
public:
    explicit fake_redis(bool hung) : hung_(hung), fd_(listen_loopback(port_)), thread_([this] { serve(); }) {}
    ~fake_redis() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
        for (int c : held_) ::close(c);
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }

private:
    void serve() {
        while (!stop_) {
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, 20) <= 0) continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            if (hung_) {
                held_.push_back(c);  // open and silent until the end
                continue;
            }
            char buf[256];
            pollfd q{c, POLLIN, 0};
            if (::poll(&q, 1, 1000) > 0 && ::read(c, buf, sizeof buf) > 0) (void)!::write(c, "+PONG\r\n", 7);
            ::close(c);
        }
    }
    bool hung_;
    std::uint16_t port_ = 0;
    int fd_;
    std::vector<int> held_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

// --- load ------------------------------------------------------------------------------------

int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        if (fd >= 0) ::close(fd);
        return -1;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval limit{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    return fd;
}

// One GET on `fd`; returns the status code (0 on error). Reads exactly one response.
int get(int fd, const std::string& target, bool keep_alive) {
    const std::string req =
        "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return 0;
    std::string in;
    char buf[8192];
    std::size_t header_end = std::string::npos, need = 0;
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) return 0;
        in.append(buf, static_cast<std::size_t>(n));
        if (header_end == std::string::npos) {
            header_end = in.find("\r\n\r\n");
            if (header_end == std::string::npos) continue;
            const auto cl = in.find("Content-Length: ");
            need = header_end + 4 + (cl == std::string::npos ? 0 : std::stoul(in.substr(cl + 16)));
        }
        if (in.size() >= need) break;
    }
    return in.size() > 12 ? std::atoi(in.c_str() + 9) : 0;
}

struct phase_result {
    double p50_ms = 0, p99_ms = 0;
    int ready_status = 0;
    int errors = 0;
};

// 4 business clients (keep-alive, 1500 requests each) against /v1/events/1 while 20 probe
// clients hit /v1/ready and /v1/health on fresh connections, as kubelets and load balancers do.
phase_result run_phase(std::uint16_t port) {
    std::atomic<bool> done{false};
    std::atomic<int> errors{0};
    std::vector<std::thread> probes;
    for (int i = 0; i < 20; ++i)
        probes.emplace_back([&, i] {
            const auto until = clock_type::now() + 60s;
            while (!done && clock_type::now() < until) {
                const int fd = connect_to(port);
                if (fd < 0 || get(fd, i % 2 ? "/v1/health" : "/v1/ready", false) == 0) ++errors;
                if (fd >= 0) ::close(fd);
                std::this_thread::sleep_for(5ms);
            }
        });
    std::mutex mu;
    std::vector<double> ms;
    std::vector<std::thread> business;
    for (int i = 0; i < 4; ++i)
        business.emplace_back([&] {
            const int fd = connect_to(port);
            if (fd < 0) {
                ++errors;
                return;
            }
            std::vector<double> mine;
            for (int k = 0; k < 1500; ++k) {
                const auto t0 = clock_type::now();
                if (get(fd, "/v1/events/1", true) != 200) {
                    ++errors;
                    break;
                }
                mine.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
            }
            ::close(fd);
            std::lock_guard lock(mu);
            ms.insert(ms.end(), mine.begin(), mine.end());
        });
    for (auto& t : business) t.join();
    done = true;
    for (auto& t : probes) t.join();
    phase_result r;
    r.errors = errors.load();
    std::sort(ms.begin(), ms.end());
    if (!ms.empty()) {
        r.p50_ms = ms[ms.size() / 2];
        r.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    }
    const int fd = connect_to(port);
    r.ready_status = fd < 0 ? 0 : get(fd, "/v1/ready", false);
    if (fd >= 0) ::close(fd);
    return r;
}

}  // namespace

int main() try {
    fake_redis healthy(false), hung(true);
    std::atomic<std::uint16_t> redis_port{healthy.port()};

    vitals::registry ops(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(ops);
    vitals::health::liveness live;
    vitals::health::probe_options probe_opts;
    vitals::health::export_metrics(ops, probe_opts);
    vitals::health::probe ready(std::move(probe_opts));
    // The Redis address is switched by the self-test; a real service would pass redis_options.
    ready.add("redis",
              [&redis_port](vitals::health::deadline_t deadline) {
                  vitals::health::redis_options o;
                  o.port = redis_port.load();
                  return vitals::health::redis_check("redis", o).check(deadline);
              },
              {.timeout = 1s, .interval = 200ms});

    router_type router(inst);
    router
        .add(http::verb::get, "/v1/events/{id}",
             [](const router_type::request& req) {
                 router_type::response res{http::status::ok, req.version()};
                 res.set(http::field::content_type, "application/json");
                 res.body() = R"({"id":1})";
                 res.keep_alive(req.keep_alive());
                 res.prepare_payload();
                 return res;
             })
        .metrics("/v1/metrics", ops)
        .health(live, ready);  // /v1/health, /v1/ready, /v1/ready/{check}

    asio::io_context io;
    asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    acceptor.listen(1024);
    accept_loop(acceptor, router, ready);
    std::vector<std::thread> io_threads;
    for (int i = 0; i < 2; ++i) io_threads.emplace_back([&io] { io.run(); });
    const auto port = acceptor.local_endpoint().port();

    (void)ready.run_now();
    const phase_result fault_free = run_phase(port);
    redis_port = hung.port();
    ready.invalidate();
    std::this_thread::sleep_for(1500ms);  // the run against the hung peer times out after 1 s
    const phase_result fault = run_phase(port);

    // The asynchronous interface, through the server: runs the checks now, answers when done.
    const int fd = connect_to(port);
    const int refreshed = fd < 0 ? 0 : get(fd, "/v1/ready/refresh", false);
    if (fd >= 0) ::close(fd);

    asio::post(io, [&acceptor] { acceptor.close(); });
    io.stop();
    for (auto& t : io_threads) t.join();
    ready.stop();

    std::printf(
        "business route p50/p99: %.3f/%.3f ms with Redis answering, %.3f/%.3f ms with Redis hung "
        "(p99 ratio %.2f); /v1/ready %d then %d; refresh %d; errors %d/%d\n",
        fault_free.p50_ms, fault_free.p99_ms, fault.p50_ms, fault.p99_ms,
        fault_free.p99_ms > 0 ? fault.p99_ms / fault_free.p99_ms : 0.0, fault_free.ready_status, fault.ready_status,
        refreshed, fault_free.errors, fault.errors);
    const bool ok = fault_free.ready_status == 200 && fault.ready_status == 503 && refreshed == 503 &&
                    fault_free.errors == 0 && fault.errors == 0 && fault_free.p99_ms > 0 &&
                    fault.p99_ms <= 2 * fault_free.p99_ms + 1.0;
    return ok ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "health_async_beast: %s\n", e.what());
    return 2;
}
