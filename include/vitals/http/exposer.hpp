// vitals — exposer: a small HTTP/1.1 server of its own for programs without an HTTP framework,
// or for an admin port kept apart from traffic. It serves a metric_source at /metrics, liveness
// and readiness from vitals::health, and handlers of the program's own.
//
// One thread and one epoll instance: a connection costs a few hundred bytes and no thread, so a
// thousand clients that send a byte every few seconds, or hold a connection open and say nothing,
// take nothing from the others. Every limit is a setting (exposer_options) with a default that is
// safe on a public network: connections, request line, head size and field count, body size, a
// timeout on the whole head (not on each read), on idle keep-alive connections and on writing an
// answer. At the connection limit the connection that has gone longest without completing a
// request is closed to make room, so the clients that finish requests (probes, scrapes) keep
// getting in and the ones that only hold sockets are the ones that lose them.
//
// Handlers run on the server's thread, one at a time: the probe answers come from the latest
// background results and never wait, and a scrape holds the loop for its render (about 4 ms for
// 100k series). A handler of your own must not block.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "../detail/deflate.hpp"
#include "../exposition/render.hpp"
#include "../health/handler.hpp"
#include "detail/request_parser.hpp"

namespace vitals {

/// Settings of an exposer. Every limit has a default that is safe for a port reachable by anyone.
struct exposer_options {
    /// Address to listen on: a numeric IPv4 or IPv6 address ("0.0.0.0", "::" for every
    /// interface, dual-stack) or a host name. Loopback by default: exposing is a decision.
    std::string host = "127.0.0.1";
    /// TCP port; 0 picks a free one (read it with exposer::port()).
    std::uint16_t port = 0;
    /// listen() backlog: connections the kernel queues before the server accepts them.
    int backlog = 1024;
    /// Open connections at most. At the limit, a new connection closes the one that has gone
    /// longest without completing a request (unless it is being answered).
    std::size_t max_connections = 1024;
    /// Longest request line; longer answers 414.
    std::size_t max_request_line = 8192;
    /// Largest request head (request line and header fields); larger answers 431.
    std::size_t max_header_bytes = 16384;
    /// Most header fields in a request; more answers 431.
    std::size_t max_headers = 64;
    /// Largest body a handler registered with takes_body accepts; larger answers 413. The
    /// metrics and probe endpoints take no body at all.
    std::size_t max_body_bytes = 64 * 1024;
    /// Time for a whole request to arrive, head and body, from its first byte (or from the
    /// connection's accept); past it the server answers 408 and closes.
    std::chrono::milliseconds header_timeout{10'000};
    /// Time a keep-alive connection may wait for its next request.
    std::chrono::milliseconds idle_timeout{60'000};
    /// Time to write a whole answer; a client that does not read it is closed.
    std::chrono::milliseconds write_timeout{30'000};
    /// How long stop() lets answers being written finish before it closes them.
    std::chrono::milliseconds stop_grace{2'000};
    /// Answers held for all clients together, not yet taken by them. Clients that ask for
    /// scrapes and do not read them would otherwise hold a whole exposition each; past this a
    /// scrape answers 503 until they read or time out.
    std::size_t max_pending_output_bytes = 256u << 20;
    /// gzip the scrape answer when the scraper accepts it. Off by default: on loopback and in a
    /// data centre the compression costs more CPU than the bytes it saves (docs/http.md has the
    /// measurement); turn it on when scrapes cross a slow or metered link.
    bool gzip = false;
    /// Answers smaller than this are sent uncompressed even with gzip on.
    std::size_t gzip_min_bytes = 4096;
    /// Path of the scrape endpoint ("" leaves it out).
    std::string metrics_path = "/metrics";
    /// Path of the liveness endpoint.
    std::string live_path = "/health";
    /// Path of the readiness endpoint; "<ready_path>/<check>" answers for one check.
    std::string ready_path = "/ready";
    /// Render the exposer's own metrics (`vitals_exposer_*`) after the served source's.
    bool self_metrics = true;
    /// Options of the exposition formats (created timestamps).
    exposition_options exposition{};
    /// How the probe answers are written (JSON or text, details withheld).
    health::handler_options health{};
};

/// An HTTP/1.1 server for metrics, probes and small handlers; see the file comment. Configure it
/// (serve_metrics, serve_health, handle) before start(); everything it refers to must outlive it.
class exposer {
public:
    /// A request as a handler sees it; every view is valid during the call only.
    struct request {
        string_ref method;                       ///< "GET", "HEAD", "POST"…
        string_ref target;                       ///< As sent.
        string_ref path;                         ///< The target's path.
        string_ref query;                        ///< After '?', without it.
        span<const http::header_field> headers;  ///< In the order sent.
        string_ref body;                         ///< Empty unless the handler takes a body.

        /// The first header named `name` (case-insensitive), empty when absent.
        [[nodiscard]] string_ref header(string_ref name) const noexcept {
            for (const auto& h : headers)
                if (http::detail::iequals(h.name, name)) return h.value;
            return {};
        }
    };

    /// A handler's answer. For HEAD the body is measured, not sent.
    struct response {
        int status = 200;                                            ///< 100–599 (else 500 is sent).
        std::string content_type = "text/plain; charset=utf-8";      ///< Content-Type.
        std::string body{};                                          ///< The body.
        std::vector<std::pair<std::string, std::string>> headers{};  ///< More fields (CR/LF refused).
    };

    /// A handler of your own; runs on the server's thread, so it must not block.
    using handler = std::function<response(const request&)>;

    /// An exposer that will listen as `options` says, once start() is called.
    explicit exposer(exposer_options options = {}) : opt_(std::move(options)), self_(std::make_unique<self_state>()) {}
    ~exposer() { stop(); }
    exposer(const exposer&) = delete;
    exposer& operator=(const exposer&) = delete;

    /// Serves `source` (a registry or a registry_set) at options.metrics_path, in the format the
    /// scrape's Accept header negotiates.
    void serve_metrics(const metric_source& source) {
        configurable();
        metrics_ = &source;
    }
    /// Serves liveness at options.live_path and readiness at options.ready_path.
    void serve_health(const health::liveness& live, const health::probe& ready) {
        configurable();
        live_ = &live;
        ready_ = &ready;
    }
    /// Serves liveness only.
    void serve_liveness(const health::liveness& live) {
        configurable();
        live_ = &live;
    }
    /// Serves `h` for requests to exactly `path`, any method (answer 405 yourself for the ones
    /// you do not take). With `takes_body`, a body up to options.max_body_bytes is read first.
    void handle(std::string path, handler h, bool takes_body = false) {
        configurable();
        routes_.push_back(route{std::move(path), std::move(h), takes_body});
    }

    /// Binds, listens and starts the server's thread. Throws std::system_error when the address
    /// cannot be resolved or bound (the port in use, say), std::logic_error when already started.
    void start() {
        configurable();
        listen_socket();
        thread_ = std::thread([this] { loop(); });
        started_.store(true);
    }

    /// The port listened on (the one picked when options.port was 0); 0 before start().
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    /// Stops accepting, closes idle connections, lets answers being written finish for at most
    /// options.stop_grace, then closes the rest and joins the thread. Idempotent; call it from
    /// any thread but the server's own (a handler).
    void stop() {
        std::lock_guard lock(stop_mu_);
        if (!thread_.joinable()) return;
        const std::uint64_t one = 1;
        [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
        thread_.join();
        close_fds();
    }

    /// The exposer's own metrics, for a program that serves them somewhere else (they are also
    /// rendered at the end of every scrape unless options.self_metrics is false):
    /// `vitals_exposer_connections` (open), `vitals_exposer_connections_accepted_total`,
    /// `vitals_exposer_connections_rejected_total{reason}`, `vitals_exposer_requests_total{code}`,
    /// `vitals_exposer_scrape_duration_seconds` and `vitals_exposer_scrape_size_bytes` (bytes
    /// sent, after compression). A family of the served source with one of these names (or a
    /// name one of them extends) wins: the exposer's is then left out of the scrape.
    [[nodiscard]] const registry& self_metrics() const noexcept { return self_->reg; }

private:
    using clock = std::chrono::steady_clock;

    struct route {
        std::string path;
        handler fn;
        bool takes_body = false;
    };

    // The registry and the handles the loop updates.
    struct self_state {
        registry reg;
        gauge open = reg.gauge<"vitals_exposer_connections">("Connections the exposer holds open.");
        counter accepted =
            reg.counter<"vitals_exposer_connections_accepted_total">("Connections the exposer accepted.");
        decltype(reg.counter<"vitals_exposer_connections_rejected_total", labels<"reason">>("")) rejected =
            reg.counter<"vitals_exposer_connections_rejected_total", labels<"reason">>(
                "Connections the exposer closed before answering, or answered with an error and closed, by reason.");
        decltype(reg.counter<"vitals_exposer_requests_total", labels<"code">>("")) requests =
            reg.counter<"vitals_exposer_requests_total", labels<"code">>(
                "Requests the exposer answered, by status code.");
        histogram duration = reg.histogram<"vitals_exposer_scrape_duration_seconds">(
            "Time to render (and compress) a scrape answer.",
            std::vector<double>{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5});
        histogram size = reg.histogram<"vitals_exposer_scrape_size_bytes">(
            "Bytes of scrape answers as sent (after compression).",
            std::vector<double>{1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864});
    };

    // The served source, then the exposer's own families that the source does not already use.
    class with_self_metrics final : public metric_source {
    public:
        with_self_metrics(const metric_source& user, const registry& self) : user_(user), self_(self) {}
        void collect(sample_visitor& v) const override {
            names_.clear();
            recorder rec(v, names_);
            user_.collect(rec);
            guard g(v, names_);
            self_.collect(g);
        }

    private:
        // Forwards everything; remembers the family names.
        class recorder final : public forwarding_visitor {
        public:
            recorder(sample_visitor& to, std::vector<std::string>& names) : forwarding_visitor(to), names_(names) {}
            void begin_family(const family_header& h) override {
                names_.emplace_back(h.name.data(), h.name.size());
                target().begin_family(h);
            }

        private:
            std::vector<std::string>& names_;
        };
        // Forwards the families whose names the source left free.
        class guard final : public forwarding_visitor {
        public:
            guard(sample_visitor& to, const std::vector<std::string>& taken) : forwarding_visitor(to), taken_(taken) {}
            void begin_family(const family_header& h) override {
                const std::string_view mine(h.name.data(), h.name.size());
                skip_ = false;
                for (const std::string& t : taken_)
                    if (overlaps(mine, t)) skip_ = true;
                if (!skip_) target().begin_family(h);
            }
            void continue_family(const family_header& h) override {
                if (!skip_) target().continue_family(h);
            }
            void end_family() override {
                if (!skip_) target().end_family();
            }
            void counter_sample(series_view s, const counter_value& c, const exemplar* ex) override {
                if (!skip_) target().counter_sample(s, c, ex);
            }
            void gauge_sample(series_view s, double g) override {
                if (!skip_) target().gauge_sample(s, g);
            }
            void histogram_sample(series_view s, span<const std::uint64_t> c, double sum,
                                  span<const exemplar* const> ex) override {
                if (!skip_) target().histogram_sample(s, c, sum, ex);
            }
            void summary_sample(series_view s, span<const quantile_value> q, double sum, std::uint64_t count) override {
                if (!skip_) target().summary_sample(s, q, sum, count);
            }
            void native_histogram_sample(series_view s, const native_histogram_data& h,
                                         span<const exemplar* const> ex) override {
                if (!skip_) target().native_histogram_sample(s, h, ex);
            }
            void info_sample(series_view s) override {
                if (!skip_) target().info_sample(s);
            }
            void stateset_sample(series_view s, span<const string_ref> states, span<const bool> values,
                                 span<const series_view> per_state) override {
                if (!skip_) target().stateset_sample(s, states, values, per_state);
            }

        private:
            // Equal names, or one extending the other by a suffix (`x` and `x_total`, `x_bucket`):
            // either way two families would expose one sample name.
            static bool overlaps(std::string_view a, std::string_view b) noexcept {
                if (a.size() > b.size()) std::swap(a, b);
                return b.substr(0, a.size()) == a && (b.size() == a.size() || b[a.size()] == '_');
            }
            const std::vector<std::string>& taken_;
            bool skip_ = false;
        };

        const metric_source& user_;
        const registry& self_;
        mutable std::vector<std::string> names_;
    };

    // One client connection. Connections form a list in the order they last completed a request
    // (or were accepted): the head is the first to go when the server is full.
    struct connection {
        int fd = -1;
        connection* prev = nullptr;
        connection* next = nullptr;
        std::string in;           // bytes received and not yet consumed
        std::size_t scanned = 0;  // how far `in` was searched for the end of a head
        std::string out;          // answers not yet sent
        std::size_t out_sent = 0;
        clock::time_point phase_start{};  // when the current wait (idle, request, write) began
        enum class phase : std::uint8_t { idle, request, write, linger } ph = phase::request;
        bool peer_closed = false;
        bool close_after_write = false;
        bool continue_sent = false;
        bool dead = false;
        std::uint32_t interest = 0;
        std::size_t lingered = 0;
    };

    void configurable() const {
        if (started_.load()) throw std::logic_error("vitals::exposer: configure it before start()");
    }

    static std::system_error sys_error(const char* what) { return {errno, std::generic_category(), what}; }

    void listen_socket() {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
        addrinfo* list = nullptr;
        const std::string service = std::to_string(opt_.port);
        const int rc = ::getaddrinfo(opt_.host.empty() ? nullptr : opt_.host.c_str(), service.c_str(), &hints, &list);
        if (rc != 0)
            throw std::system_error(std::make_error_code(std::errc::invalid_argument),
                                    "vitals::exposer: cannot resolve '" + opt_.host + "': " + ::gai_strerror(rc));
        std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(list, &::freeaddrinfo);
        int err = EADDRNOTAVAIL;
        for (addrinfo* ai = list; ai; ai = ai->ai_next) {
            const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) {
                err = errno;
                continue;
            }
            const int one = 1, zero = 0;
            ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            // "::" should take IPv4 clients too, whatever the system's default is.
            if (ai->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
            if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, opt_.backlog) != 0) {
                err = errno;
                ::close(fd);
                continue;
            }
            sockaddr_storage bound{};
            socklen_t len = sizeof bound;
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
            port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                      : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
            listen_fd_ = fd;
            break;
        }
        if (listen_fd_ < 0) {
            errno = err;
            throw sys_error(("vitals::exposer: cannot listen on " + opt_.host + ":" + service).c_str());
        }
        epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
        wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        // Kept open so that at the descriptor limit one can be freed to accept and close a
        // connection: otherwise the listener stays readable and the loop spins.
        spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (epoll_fd_ < 0 || wake_fd_ < 0) {
            const auto e = sys_error("vitals::exposer: epoll or eventfd");
            close_fds();
            throw e;
        }
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.ptr = &listen_fd_;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
        ev.data.ptr = &wake_fd_;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
    }

    void close_fds() noexcept {
        for (int* fd : {&listen_fd_, &epoll_fd_, &wake_fd_, &spare_fd_})
            if (*fd >= 0) ::close(std::exchange(*fd, -1));
    }

    // --- the loop ---

    void loop() {
        std::vector<epoll_event> events(256);
        bool stopping = false;
        clock::time_point stop_deadline{};
        clock::time_point next_scan = clock::now();
        for (;;) {
            const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 50);
            for (int i = 0; i < n; ++i) {
                void* p = events[static_cast<std::size_t>(i)].data.ptr;
                const std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
                if (p == &listen_fd_) {
                    if (!stopping) accept_all();
                } else if (p == &wake_fd_) {
                    std::uint64_t v = 0;
                    [[maybe_unused]] const auto r = ::read(wake_fd_, &v, sizeof v);
                    if (!stopping) {
                        stopping = true;
                        stop_deadline = clock::now() + opt_.stop_grace;
                        begin_stop();
                    }
                } else {
                    auto* c = static_cast<connection*>(p);
                    if (!c->dead) on_event(*c, ev);
                }
            }
            const auto now = clock::now();
            if (now >= next_scan) {
                scan_deadlines(now);
                next_scan = now + std::chrono::milliseconds(50);
            }
            bury();
            if (stopping && (head_ == nullptr || now >= stop_deadline)) break;
        }
        while (head_) close_connection(*head_);
        bury();
    }

    void begin_stop() {
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
        ::close(std::exchange(listen_fd_, -1));
        for (connection* c = head_; c;) {
            connection* next = c->next;
            // Answers being written finish; a request not complete yet is not started.
            if (c->out.size() == c->out_sent)
                close_connection(*c);
            else
                c->close_after_write = true;
            c = next;
        }
    }

    void accept_all() {
        for (int k = 0; k < 256; ++k) {  // bounded, so a connection flood cannot starve the rest
            const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if ((errno == EMFILE || errno == ENFILE) && spare_fd_ >= 0) {
                    ::close(std::exchange(spare_fd_, -1));
                    const int shed = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
                    if (shed >= 0) {
                        ::close(shed);
                        self_->rejected.labels("fd_limit").inc();
                    }
                    spare_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
                    continue;
                }
                return;
            }
            if (open_ >= opt_.max_connections && !evict_one()) {
                ::close(fd);
                self_->rejected.labels("max_connections").inc();
                continue;
            }
            const int one = 1;
            ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto* c = new connection;
            c->fd = fd;
            c->phase_start = clock::now();
            c->ph = connection::phase::request;
            link_tail(*c);
            ++open_;
            self_->accepted.inc();
            self_->open.set(static_cast<double>(open_));
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = c;
            c->interest = EPOLLIN;
            if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) close_connection(*c);
        }
    }

    // Closes the connection that has gone longest without completing a request, unless every
    // connection is being answered.
    bool evict_one() {
        for (connection* c = head_; c; c = c->next) {
            if (c->ph == connection::phase::write) continue;
            self_->rejected.labels("evicted").inc();
            close_connection(*c);
            return true;
        }
        return false;
    }

    void on_event(connection& c, std::uint32_t ev) {
        if (ev & (EPOLLERR)) {
            close_connection(c);
            return;
        }
        if (ev & (EPOLLIN | EPOLLHUP)) {
            if (!read_some(c)) return;
        }
        progress(c);
    }

    // One read; false when the connection was closed.
    bool read_some(connection& c) {
        char buf[16384];
        const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return true;
            close_connection(c);
            return false;
        }
        if (n == 0) {
            c.peer_closed = true;
            if (c.ph == connection::phase::linger) {
                close_connection(c);
                return false;
            }
            return true;
        }
        if (c.ph == connection::phase::linger) {
            // Discarding what a refused client still sends, so that closing does not reset the
            // connection before it has read the refusal; bounded in bytes and by the deadline.
            c.lingered += static_cast<std::size_t>(n);
            if (c.lingered > 256 * 1024) {
                close_connection(c);
                return false;
            }
            return true;
        }
        if (c.in.empty() && c.ph == connection::phase::idle) {
            c.ph = connection::phase::request;
            c.phase_start = clock::now();
        }
        c.in.append(buf, static_cast<std::size_t>(n));
        return true;
    }

    // Answers what can be answered, writes what can be written, and sets the next wait.
    void progress(connection& c) {
        if (c.ph != connection::phase::linger) handle_requests(c);
        if (!flush(c)) return;
        const bool drained = c.out_sent == c.out.size();
        if (drained && !c.out.empty()) {
            // A scrape's buffer goes back to the next scrape: no copy, and no page faults.
            if (c.out.capacity() > render_buf_.capacity()) std::swap(c.out, render_buf_);
            c.out.clear();
            c.out_sent = 0;
            if (c.out.capacity() > 256 * 1024) std::string().swap(c.out);
        }
        if (c.ph == connection::phase::linger) {
            set_interest(c, EPOLLIN);
            return;
        }
        if (drained && c.close_after_write) {
            // Half-close and linger briefly: the client reads the answer instead of a reset.
            ::shutdown(c.fd, SHUT_WR);
            c.in.clear();
            std::string().swap(c.in);
            c.ph = connection::phase::linger;
            c.phase_start = clock::now();
            if (c.peer_closed) {
                close_connection(c);
                return;
            }
            set_interest(c, EPOLLIN);
            return;
        }
        if (drained && c.peer_closed) {
            close_connection(c);  // nothing more will come, and a partial request cannot finish
            return;
        }
        if (!drained) {
            if (c.ph != connection::phase::write) {
                c.ph = connection::phase::write;
                c.phase_start = clock::now();
            }
        } else if (c.ph == connection::phase::write) {
            c.ph = c.in.empty() ? connection::phase::idle : connection::phase::request;
            c.phase_start = clock::now();
        }
        std::uint32_t want = 0;
        if (!drained) want |= EPOLLOUT;
        if (!c.peer_closed && c.out.size() - c.out_sent < output_pause && c.in.size() < input_cap()) want |= EPOLLIN;
        set_interest(c, want);
    }

    static constexpr std::size_t output_pause = 256 * 1024;  // stop reading requests past this
    std::size_t input_cap() const noexcept { return opt_.max_header_bytes + opt_.max_body_bytes + 1; }

    void set_interest(connection& c, std::uint32_t want) {
        if (want == c.interest) return;
        epoll_event ev{};
        ev.events = want;
        ev.data.ptr = &c;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
        c.interest = want;
    }

    // Writes pending output; false when the connection was closed.
    bool flush(connection& c) {
        while (c.out_sent < c.out.size()) {
            const ssize_t n = ::send(c.fd, c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
            if (n > 0) {
                c.out_sent += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
            close_connection(c);
            return false;
        }
        return true;
    }

    void handle_requests(connection& c) {
        http::detail::request_limits limits;
        limits.max_request_line = opt_.max_request_line;
        limits.max_header_bytes = opt_.max_header_bytes;
        limits.max_headers = opt_.max_headers;
        while (!c.in.empty() && !c.close_after_write && c.out.size() - c.out_sent < output_pause) {
            const std::string_view buf(c.in);
            auto parsed = http::detail::parse_request_head(buf, limits, c.scanned);
            if (parsed.status == http::detail::parse_status::incomplete) {
                c.scanned = c.in.size();
                return;
            }
            if (parsed.status == http::detail::parse_status::error) {
                refuse(c, parsed.error_status);
                return;
            }
            const http::detail::request_head& h = parsed.head;
            const route* r = find_route(h.path);
            const bool takes_body = r && r->takes_body;
            if (h.chunked) {
                refuse(c, takes_body ? 411 : 413);
                return;
            }
            const std::uint64_t body = h.content_length.value_or(0);
            if (body > (takes_body ? opt_.max_body_bytes : 0)) {
                refuse(c, 413);
                return;
            }
            if (buf.size() - h.head_size < body) {
                if (h.expect_continue && !c.continue_sent) {
                    c.out += "HTTP/1.1 100 Continue\r\n\r\n";
                    c.continue_sent = true;
                }
                c.scanned = h.head_size - 1;  // the head is whole; only the body is awaited
                return;
            }
            const bool keep = h.keep_alive;
            const std::size_t out_before = c.out.size();
            try {
                answer(c, h, r, buf.substr(h.head_size, static_cast<std::size_t>(body)), keep);
            } catch (...) {
                // Out of memory rendering, say: this request fails, the server goes on.
                c.out.resize(out_before);
                refuse(c, 500);
                return;
            }
            c.in.erase(0, h.head_size + static_cast<std::size_t>(body));
            c.scanned = 0;
            c.continue_sent = false;
            if (!keep) c.close_after_write = true;
            move_to_tail(c);
            // The next wait starts now: for the next request's bytes, or for it to begin.
            c.ph = c.in.empty() ? connection::phase::idle : connection::phase::request;
            c.phase_start = clock::now();
        }
    }

    const route* find_route(std::string_view path) const noexcept {
        for (const route& r : routes_)
            if (r.path == path) return &r;
        return nullptr;
    }

    static std::string_view reason(int status) noexcept {
        switch (status) {
            case 200:
                return "OK";
            case 201:
                return "Created";
            case 204:
                return "No Content";
            case 301:
                return "Moved Permanently";
            case 302:
                return "Found";
            case 304:
                return "Not Modified";
            case 400:
                return "Bad Request";
            case 401:
                return "Unauthorized";
            case 403:
                return "Forbidden";
            case 404:
                return "Not Found";
            case 405:
                return "Method Not Allowed";
            case 406:
                return "Not Acceptable";
            case 408:
                return "Request Timeout";
            case 411:
                return "Length Required";
            case 413:
                return "Content Too Large";
            case 414:
                return "URI Too Long";
            case 417:
                return "Expectation Failed";
            case 429:
                return "Too Many Requests";
            case 431:
                return "Request Header Fields Too Large";
            case 500:
                return "Internal Server Error";
            case 501:
                return "Not Implemented";
            case 503:
                return "Service Unavailable";
            case 505:
                return "HTTP Version Not Supported";
            default:
                return status < 400 ? "OK" : status < 500 ? "Client Error" : "Server Error";
        }
    }

    static std::string_view refusal_reason(int status) noexcept {
        switch (status) {
            case 408:
                return "header_timeout";
            case 413:
                return "body_too_large";
            case 414:
                return "request_line_too_long";
            case 431:
                return "header_too_large";
            case 500:
                return "internal_error";
            default:
                return "bad_request";
        }
    }

    // Answers an error and closes: the rest of the stream cannot be trusted to be framed.
    void refuse(connection& c, int status) {
        self_->rejected.labels(refusal_reason(status)).inc();
        std::string body(reason(status));
        body += '\n';
        write_head(c.out, status, "text/plain; charset=utf-8", body.size(), false, {});
        c.out += body;
        count(status);
        c.close_after_write = true;
        c.in.clear();
    }

    void count(int status) { self_->requests.labels(std::to_string(status)).inc(); }

    static bool header_ok(std::string_view name, std::string_view value) noexcept {
        if (name.empty()) return false;
        for (char ch : name)
            if (!http::detail::is_tchar(ch)) return false;
        for (char ch : value)
            if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7F) return false;
        return true;
    }

    static void write_head(std::string& out, int status, std::string_view content_type, std::size_t length,
                           bool keep_alive_1_0, const std::vector<std::pair<std::string, std::string>>& extra,
                           bool close = true) {
        out += "HTTP/1.1 ";
        out += std::to_string(status);
        out += ' ';
        out += reason(status);
        out += "\r\nContent-Type: ";
        out += content_type;
        out += "\r\nContent-Length: ";
        out += std::to_string(length);
        out += "\r\n";
        for (const auto& [k, v] : extra) {
            if (!header_ok(k, v)) continue;  // a CR or LF would let a value forge fields
            out += k;
            out += ": ";
            out += v;
            out += "\r\n";
        }
        if (close)
            out += "Connection: close\r\n";
        else if (keep_alive_1_0)
            out += "Connection: keep-alive\r\n";
        out += "\r\n";
    }

    void answer(connection& c, const http::detail::request_head& h, const route* r, std::string_view body, bool keep) {
        const bool head_only = h.method == "HEAD";
        const bool get_like = h.method == "GET" || head_only;
        const bool v10 = h.version_minor == 0;
        auto simple = [&](int status, std::string_view type, std::string_view text,
                          const std::vector<std::pair<std::string, std::string>>& extra) {
            write_head(c.out, status, type, text.size(), v10, extra, !keep);
            if (!head_only) c.out += text;
            count(status);
        };
        if (r) {
            request req{h.method, h.target, h.path, h.query, {h.headers.data(), h.headers.size()}, body};
            response res;
            try {
                res = r->fn(req);
            } catch (...) {
                res = response{500, "text/plain; charset=utf-8", "internal error\n", {}};
            }
            if (res.status < 100 || res.status > 599) res.status = 500;
            if (res.content_type.find_first_of("\r\n") != std::string::npos)
                res.content_type = "application/octet-stream";
            simple(res.status, res.content_type, res.body, res.headers);
            return;
        }
        const bool is_metrics = metrics_ && !opt_.metrics_path.empty() && h.path == opt_.metrics_path;
        const bool is_live = live_ && h.path == opt_.live_path;
        const bool is_ready = ready_ && (h.path == opt_.ready_path || (h.path.size() > opt_.ready_path.size() &&
                                                                       h.path.starts_with(opt_.ready_path) &&
                                                                       h.path[opt_.ready_path.size()] == '/'));
        if (!is_metrics && !is_live && !is_ready) {
            simple(404, "text/plain; charset=utf-8", "not found\n", {});
            return;
        }
        if (!get_like) {
            simple(405, "text/plain; charset=utf-8", "method not allowed\n", {{"Allow", "GET, HEAD"}});
            return;
        }
        if (is_live || is_ready) {
            const health::response pr =
                is_live ? health::handle_live(*live_, h.query, opt_.health)
                        : health::handle_ready(*ready_, h.path.substr(opt_.ready_path.size()), h.query, opt_.health);
            simple(pr.status, pr.content_type, pr.body, {{"Cache-Control", "no-store"}});
            return;
        }
        scrape(c, h, head_only, v10, keep);
    }

    // Whether `accept_encoding` accepts gzip: named (or `*`) without q=0.
    static bool accepts_gzip(std::string_view v) noexcept {
        bool star = false, gzip = false, gzip_refused = false;
        while (!v.empty()) {
            const auto comma = v.find(',');
            std::string_view item = v.substr(0, comma);
            v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
            std::string_view params;
            if (const auto semi = item.find(';'); semi != std::string_view::npos) {
                params = item.substr(semi + 1);
                item = item.substr(0, semi);
            }
            auto trim = [](std::string_view s) {
                while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
                while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
                return s;
            };
            item = trim(item);
            params = trim(params);
            bool zero = false;
            if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
                std::string_view q = trim(params.substr(2));
                zero = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
            }
            if (http::detail::iequals(item, "gzip") || http::detail::iequals(item, "x-gzip")) {
                if (zero)
                    gzip_refused = true;
                else
                    gzip = true;
            } else if (item == "*" && !zero) {
                star = true;
            }
        }
        return !gzip_refused && (gzip || star);
    }

    void scrape(connection& c, const http::detail::request_head& h, bool head_only, bool v10, bool keep) {
        std::size_t pending = 0;
        for (const connection* x = head_; x; x = x->next) pending += x->out.size() - x->out_sent;
        if (pending + last_scrape_bytes_ > opt_.max_pending_output_bytes) {
            self_->rejected.labels("output_full").inc();
            const std::string_view text = "scrapes not read yet hold too much memory; try again\n";
            write_head(c.out, 503, "text/plain; charset=utf-8", text.size(), v10, {{"Retry-After", "1"}}, !keep);
            if (!head_only) c.out += text;
            count(503);
            return;
        }
        std::string_view accept, accept_encoding;
        for (const auto& f : h.headers) {
            if (accept.empty() && http::detail::iequals(f.name, "accept")) accept = f.value;
            if (accept_encoding.empty() && http::detail::iequals(f.name, "accept-encoding")) accept_encoding = f.value;
        }
        const auto t0 = clock::now();
        const negotiated_format fmt = negotiate(accept);
        // Rendered after room for the head, so that the buffer can become the connection's output
        // as it is: the head is written into the room once the length is known.
        render_buf_.assign(head_room, ' ');
        if (opt_.self_metrics) {
            const with_self_metrics both(*metrics_, self_->reg);
            render(both, fmt.format, render_buf_, opt_.exposition);
        } else {
            render(*metrics_, fmt.format, render_buf_, opt_.exposition);
        }
        std::string_view body = std::string_view(render_buf_).substr(head_room);
        const bool gz = opt_.gzip && body.size() >= opt_.gzip_min_bytes && accepts_gzip(accept_encoding);
        std::vector<std::pair<std::string, std::string>> extra;
        if (opt_.gzip) extra.emplace_back("Vary", "Accept-Encoding");
        if (gz) {
            gzip_buf_.clear();
            encoder_.gzip(body, gzip_buf_);
            body = gzip_buf_;
            extra.emplace_back("Content-Encoding", "gzip");
        }
        std::string head;
        write_head(head, 200, fmt.content_type, body.size(), v10, extra, !keep);
        const std::size_t sent_bytes = head_only ? 0 : body.size();
        last_scrape_bytes_ = body.size();
        if (!gz && !head_only && c.out.size() == c.out_sent && head.size() <= head_room) {
            std::swap(c.out, render_buf_);
            std::copy(head.begin(), head.end(), c.out.begin() + static_cast<std::ptrdiff_t>(head_room - head.size()));
            c.out_sent = head_room - head.size();
            render_buf_.clear();
        } else {
            c.out += head;
            if (!head_only) c.out.append(body.data(), body.size());
        }
        count(200);
        self_->duration.observe(std::chrono::duration<double>(clock::now() - t0).count());
        self_->size.observe(static_cast<double>(sent_bytes));
        if (gzip_buf_.capacity() > (16u << 20)) std::string().swap(gzip_buf_);
    }

    static constexpr std::size_t head_room = 512;  // the longest head a scrape answer has, and more

    void scan_deadlines(clock::time_point now) {
        for (connection* c = head_; c;) {
            connection* next = c->next;
            const auto age = now - c->phase_start;
            switch (c->ph) {
                case connection::phase::idle:
                    if (age >= opt_.idle_timeout) close_connection(*c);
                    break;
                case connection::phase::request:
                    if (age >= opt_.header_timeout) {
                        if (c->in.empty()) {
                            close_connection(*c);  // never sent a byte: nothing to answer
                        } else {
                            refuse(*c, 408);
                            progress(*c);
                        }
                    }
                    break;
                case connection::phase::write:
                    if (age >= opt_.write_timeout) {
                        self_->rejected.labels("write_timeout").inc();
                        close_connection(*c);
                    }
                    break;
                case connection::phase::linger:
                    if (age >= std::chrono::seconds(1)) close_connection(*c);
                    break;
            }
            c = next;
        }
    }

    void link_tail(connection& c) noexcept {
        c.prev = tail_;
        c.next = nullptr;
        if (tail_)
            tail_->next = &c;
        else
            head_ = &c;
        tail_ = &c;
    }
    void unlink(connection& c) noexcept {
        if (c.prev)
            c.prev->next = c.next;
        else
            head_ = c.next;
        if (c.next)
            c.next->prev = c.prev;
        else
            tail_ = c.prev;
        c.prev = c.next = nullptr;
    }
    void move_to_tail(connection& c) noexcept {
        if (tail_ == &c) return;
        unlink(c);
        link_tail(c);
    }

    void close_connection(connection& c) {
        if (c.dead) return;
        c.dead = true;
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c.fd, nullptr);
        ::close(c.fd);
        unlink(c);
        --open_;
        self_->open.set(static_cast<double>(open_));
        graveyard_.push_back(&c);  // freed after the batch of events that may still name it
    }
    void bury() {
        for (connection* c : graveyard_) delete c;
        graveyard_.clear();
    }

    exposer_options opt_;
    std::unique_ptr<self_state> self_;
    const metric_source* metrics_ = nullptr;
    const health::liveness* live_ = nullptr;
    const health::probe* ready_ = nullptr;
    std::vector<route> routes_;

    int listen_fd_ = -1;
    int epoll_fd_ = -1;
    int wake_fd_ = -1;
    int spare_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> started_{false};
    std::mutex stop_mu_;
    std::thread thread_;

    // The loop thread's own.
    connection* head_ = nullptr;
    connection* tail_ = nullptr;
    std::size_t open_ = 0;
    std::vector<connection*> graveyard_;
    std::string render_buf_;
    std::string gzip_buf_;
    std::size_t last_scrape_bytes_ = 0;
    vitals::detail::deflate_encoder encoder_;
};

}  // namespace vitals
