// Test helpers for the HTTP tests: a keep-alive HTTP/1.1 client on a plain POSIX socket (the
// same client talks to every framework), reading samples out of a scrape, and promtool.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include <vitals/exposition/text.hpp>
#include <vitals/health/liveness.hpp>
#include <vitals/health/probe.hpp>
#include <vitals/http/instrumentation.hpp>

namespace vitals_test {

/// One HTTP response.
struct http_response {
    int status = 0;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
};

/// A blocking HTTP/1.1 client on 127.0.0.1 that keeps its connection open between requests and
/// reconnects when the server closed it. Every read times out after 10 s, so no test hangs.
class http_client {
public:
    explicit http_client(int port) : port_(port) {}
    ~http_client() { close_socket(); }
    http_client(const http_client&) = delete;
    http_client& operator=(const http_client&) = delete;

    http_response get(const std::string& target, const std::string& accept = {}) {
        return request("GET", target, {}, accept.empty() ? std::string() : "Accept: " + accept + "\r\n");
    }
    http_response post(const std::string& target, const std::string& body) { return request("POST", target, body); }

    /// Sends `bytes` exactly as given (a request a framework should refuse) on a fresh connection
    /// and reads one response; `head` when it answers a HEAD request. End the request with
    /// `Connection: close` so that the server need not wait for more.
    http_response raw(const std::string& bytes, bool head = false) {
        close_socket();
        connect_socket();
        if (!send_all(bytes)) throw std::runtime_error("http_client: cannot send raw request");
        http_response res;
        if (!read_response(res, head)) throw std::runtime_error("http_client: no response to raw request");
        close_socket();
        return res;
    }

    http_response request(const std::string& method, const std::string& target, const std::string& body = {},
                          const std::string& extra_headers = {}) {
        std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
        if (!body.empty() || method == "POST" || method == "PUT")
            req += "Content-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
        req += "\r\n" + body;
        // A kept-alive connection may have been closed by the server: retry once on a new one.
        for (int attempt = 0; attempt < 2; ++attempt) {
            if (fd_ < 0) connect_socket();
            if (!send_all(req)) {
                close_socket();
                continue;
            }
            http_response res;
            if (read_response(res, method == "HEAD")) return res;
            close_socket();
            if (attempt == 0 && !got_bytes_) continue;
            throw std::runtime_error("http_client: no response for " + method + " " + target);
        }
        throw std::runtime_error("http_client: cannot send " + method + " " + target);
    }

private:
    void connect_socket() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        timeval tv{10, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<std::uint16_t>(port_));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
            close_socket();
            throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port_) +
                                     " failed: " + std::strerror(errno));
        }
        buf_.clear();
    }
    void close_socket() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        buf_.clear();
    }
    bool send_all(const std::string& s) {
        std::size_t off = 0;
        while (off < s.size()) {
            const ssize_t n = ::send(fd_, s.data() + off, s.size() - off, MSG_NOSIGNAL);
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    bool fill() {
        char tmp[16384];
        const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
        if (n <= 0) return false;
        got_bytes_ = true;
        buf_.append(tmp, static_cast<std::size_t>(n));
        return true;
    }
    bool read_line(std::string& line) {
        for (;;) {
            const auto p = buf_.find("\r\n");
            if (p != std::string::npos) {
                line = buf_.substr(0, p);
                buf_.erase(0, p + 2);
                return true;
            }
            if (!fill()) return false;
        }
    }
    bool read_exact(std::size_t n, std::string& out) {
        while (buf_.size() < n)
            if (!fill()) return false;
        out.append(buf_, 0, n);
        buf_.erase(0, n);
        return true;
    }
    bool read_response(http_response& res, bool head) {
        got_bytes_ = false;
        std::string line;
        if (!read_line(line)) return false;
        if (line.size() < 12 || line.compare(0, 5, "HTTP/") != 0) return false;
        res.status = std::atoi(line.c_str() + 9);
        while (read_line(line) && !line.empty()) {
            const auto c = line.find(':');
            if (c == std::string::npos) continue;
            std::string name = line.substr(0, c);
            for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            std::string value = line.substr(c + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            res.headers[name] = value;
        }
        const bool close = res.headers.count("connection") && res.headers["connection"] == "close";
        bool ok = true;
        if (head || res.status == 204 || res.status == 304) {
        } else if (res.headers.count("content-length")) {
            ok = read_exact(std::stoul(res.headers["content-length"]), res.body);
        } else if (res.headers.count("transfer-encoding")) {
            for (;;) {
                if (!read_line(line)) return false;
                const std::size_t n = std::stoul(line, nullptr, 16);
                if (n == 0) {
                    read_line(line);
                    break;
                }
                if (!read_exact(n, res.body) || !read_line(line)) return false;
            }
        } else {
            while (fill()) {}
            res.body = std::move(buf_);
            buf_.clear();
            close_socket();
            return true;
        }
        if (close) close_socket();
        return ok;
    }

    int port_;
    int fd_ = -1;
    bool got_bytes_ = false;
    std::string buf_;
};

/// The value of the sample `name{labels...}` in a text scrape, where `labels` is a list of
/// `key="value"` pairs that must all appear; NaN when no line matches, the sum when several do.
inline double sample(std::string_view scrape, std::string_view name, const std::vector<std::string>& labels = {}) {
    double total = 0;
    bool found = false;
    std::size_t pos = 0;
    while (pos < scrape.size()) {
        std::size_t end = scrape.find('\n', pos);
        if (end == std::string_view::npos) end = scrape.size();
        const std::string_view line = scrape.substr(pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#') continue;
        if (line.substr(0, name.size()) != name) continue;
        if (line.size() > name.size() && line[name.size()] != '{' && line[name.size()] != ' ') continue;
        bool all = true;
        for (const auto& l : labels) all &= line.find(l) != std::string_view::npos;
        if (!all) continue;
        const auto sp = line.rfind(' ');
        total += std::strtod(std::string(line.substr(sp + 1)).c_str(), nullptr);
        found = true;
    }
    return found ? total : std::nan("");
}

/// Number of sample lines in a scrape.
inline std::size_t sample_lines(std::string_view scrape) {
    std::size_t n = 0, pos = 0;
    while (pos < scrape.size()) {
        std::size_t end = scrape.find('\n', pos);
        if (end == std::string_view::npos) end = scrape.size();
        if (end > pos && scrape[pos] != '#') ++n;
        pos = end + 1;
    }
    return n;
}

/// Runs `promtool check metrics` on `scrape`; returns {passed, what promtool said}. A missing
/// promtool fails, with a message saying so: CI installs it, so its absence is an error.
inline std::pair<bool, std::string> promtool_check(const std::string& scrape) {
    const char* env = std::getenv("PROMTOOL");
    const std::string tool = env && *env ? env : "promtool";
    char path[] = "/tmp/vitals-scrape-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return {false, "cannot create a temporary file"};
    const bool written = ::write(fd, scrape.data(), scrape.size()) == static_cast<ssize_t>(scrape.size());
    ::close(fd);
    if (!written) return {false, "cannot write the scrape"};
    const std::string cmd = "'" + tool + "' check metrics < " + path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    int rc = -1;
    if (p) {
        char b[4096];
        std::size_t n;
        while ((n = std::fread(b, 1, sizeof b, p)) > 0) out.append(b, n);
        rc = ::pclose(p);
    }
    ::unlink(path);
    if (!p || (WIFEXITED(rc) && WEXITSTATUS(rc) == 127))
        return {false, "promtool not found (install the Debian package 'prometheus' or set PROMTOOL): " + out};
    return {WIFEXITED(rc) && WEXITSTATUS(rc) == 0, out};
}

/// Parses `exposition` (OpenMetrics) with the strict parser of the Python client (Debian's
/// python3-prometheus-client), as tests/support/openmetrics.hpp does; {passed, what it said}. A
/// missing parser fails with a message naming the package.
inline std::pair<bool, std::string> openmetrics_parser_check(const std::string& exposition) {
    char path[] = "/tmp/vitals-om-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return {false, "cannot create a temporary file"};
    const bool written = ::write(fd, exposition.data(), exposition.size()) == static_cast<ssize_t>(exposition.size());
    ::close(fd);
    if (!written) return {false, "cannot write the exposition"};
    const std::string cmd = std::string("/usr/bin/python3 -c '") +
                            "import sys\n"
                            "from prometheus_client.openmetrics.parser import text_string_to_metric_families\n"
                            "for f in text_string_to_metric_families(sys.stdin.read()):\n"
                            "    list(f.samples)\n' < " +
                            path + " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    std::string out;
    int rc = -1;
    if (p) {
        char b[4096];
        std::size_t n;
        while ((n = std::fread(b, 1, sizeof b, p)) > 0) out.append(b, n);
        rc = ::pclose(p);
    }
    ::unlink(path);
    if (out.find("ModuleNotFoundError") != std::string::npos)
        return {false, "the OpenMetrics parser is missing (install python3-prometheus-client): " + out};
    return {p && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, out};
}

/// Scrapes `path` with `c`: expects 200, the text format's content type and a body promtool
/// accepts (each a test failure otherwise); returns the body.
inline std::string checked_scrape(http_client& c, const std::string& path = "/metrics",
                                  const std::string& accept = {}) {
    auto res = c.get(path, accept);
    EXPECT_EQ(res.status, 200);
    EXPECT_EQ(res.headers["content-type"], vitals::text_content_type);
    auto [ok, out] = promtool_check(res.body);
    EXPECT_TRUE(ok) << out << "\n" << res.body;
    return res.body;
}

/// Renders `r` in the text format and expects promtool to accept it; returns the exposition.
inline std::string checked_render(const vitals::registry& r) {
    auto body = vitals::render_text(r);
    auto [ok, out] = promtool_check(body);
    EXPECT_TRUE(ok) << out << "\n" << body;
    return body;
}

/// The label matchers of `http_requests_total` for one method, route template and status.
inline std::vector<std::string> route_labels(std::string_view method, std::string_view endpoint,
                                             std::string_view status) {
    return {"method=\"" + std::string(method) + "\"", "endpoint=\"" + std::string(endpoint) + "\"",
            "status=\"" + std::string(status) + "\""};
}

/// What an adapter's health(live, ready) routes are tested against: a liveness and a probe with a
/// healthy "db" check and a "redis" check that `redis_up` controls.
struct health_routes {
    health_routes() {
        ready.add("db", [] { return true; });
        ready.add("redis", [up = redis_up] { return up->load(); },
                  {.critical = true, .timeout = std::chrono::seconds(1)});
        (void)ready.run_now();
    }
    std::shared_ptr<std::atomic<bool>> redis_up = std::make_shared<std::atomic<bool>>(true);
    vitals::health::liveness live;
    vitals::health::probe ready;
};

/// The routes an adapter's health() registers, on `port`: /v1/health, /v1/ready and
/// /v1/ready/{check} answer from the probe's results in every format, and are instrumented under
/// their templates when `counted` (count_service_endpoints), absent from the metrics otherwise
/// (`scrape` returns the adapter's metrics).
inline void expect_health_routes(int port, health_routes& h, const std::function<std::string()>& scrape,
                                 bool counted = true) {
    http_client c(port);
    auto live = c.get("/v1/health");
    EXPECT_EQ(live.status, 200);
    EXPECT_EQ(live.headers["content-type"], "application/json");
    EXPECT_EQ(live.body.rfind(R"({"status":"healthy","uptime_seconds":)", 0), 0u) << live.body;
    EXPECT_EQ(c.get("/v1/health?format=text").body, "ok\n");

    auto ready = c.get("/v1/ready");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(ready.body.rfind(R"({"status":"ready","degraded":false,)", 0), 0u) << ready.body;
    EXPECT_EQ(c.get("/v1/ready?verbose").body, "[+]db ok\n[+]redis ok\nreadyz check passed\n");
    EXPECT_EQ(c.get("/v1/ready/db?format=text").body, "ok\n");

    *h.redis_up = false;
    (void)h.ready.run_now();
    EXPECT_EQ(c.get("/v1/ready").status, 503);
    auto text = c.get("/v1/ready?verbose&exclude=db");
    EXPECT_EQ(text.status, 503);
    EXPECT_EQ(text.body, "[-]redis failed: reason withheld\n[+]db excluded: ok\nreadyz check failed\n");
    EXPECT_EQ(c.get("/v1/ready?exclude=redis").status, 200);
    EXPECT_EQ(c.get("/v1/ready/redis").status, 503);
    EXPECT_EQ(c.get("/v1/ready/db").status, 200);
    EXPECT_EQ(c.get("/v1/ready/nosuch").status, 404);
    EXPECT_EQ(c.get("/v1/health").status, 200);  // liveness never looks at dependencies

    const std::string metrics = scrape();
    if (!counted) {
        EXPECT_EQ(metrics.find("endpoint=\"/v1/health\""), std::string::npos) << metrics;
        EXPECT_EQ(metrics.find("endpoint=\"/v1/ready"), std::string::npos) << metrics;
        EXPECT_EQ(metrics.find("endpoint=\"/metrics\""), std::string::npos) << metrics;
        EXPECT_EQ(metrics.find("endpoint=\"unmatched\""), std::string::npos) << metrics;  // not miscounted either
        return;
    }
    EXPECT_EQ(sample(metrics, "http_requests_total", {"endpoint=\"/v1/health\"", "status=\"200\""}), 3) << metrics;
    EXPECT_EQ(sample(metrics, "http_requests_total", {"endpoint=\"/v1/ready/{check}\"", "status=\"503\""}), 1)
        << metrics;
    EXPECT_EQ(sample(metrics, "http_requests_total", {"endpoint=\"/v1/ready/{check}\"", "status=\"404\""}), 1)
        << metrics;
}

/// A registry and an instrumentation of it, made and destroyed together: what an adapter test
/// restarts with other options. (A registry is never deleted through a pointer to itself: it has
/// virtual functions and no virtual destructor.)
struct metrics_state {
    explicit metrics_state(vitals::http::instrumentation_options options) : inst(reg, std::move(options)) {}
    vitals::registry reg;
    vitals::http::instrumentation inst;
};

/// The bucket bounds the adapter tests give the fast route `/v1/fast` (route_options).
inline const std::vector<double> fast_buckets = {0.0001, 0.00025, 0.0005, 0.001};

/// A scrape's `le` values of `http_request_duration_seconds` for one method and endpoint, in order.
inline std::vector<std::string> le_values(std::string_view scrape, std::string_view endpoint,
                                          std::string_view method = "GET") {
    std::vector<std::string> out;
    const std::string prefix = "http_request_duration_seconds_bucket{";
    const std::string ep = "endpoint=\"" + std::string(endpoint) + "\"";
    std::size_t pos = 0;
    while ((pos = scrape.find(prefix, pos)) != std::string_view::npos) {
        const std::size_t end = scrape.find('\n', pos);
        const std::string_view line = scrape.substr(pos, end - pos);
        pos = end;
        if (line.find(ep) == std::string_view::npos ||
            line.find("method=\"" + std::string(method) + "\"") == std::string_view::npos)
            continue;
        const auto le = line.find("le=\"");
        if (le == std::string_view::npos) continue;
        const auto close = line.find('"', le + 4);
        out.emplace_back(line.substr(le + 4, close - le - 4));
    }
    return out;
}

/// What every adapter's test checks of per-route buckets, after one GET of `/v1/fast` and one of
/// `/v1/events/1`: each template's series have their own buckets, the default route keeps the
/// seed's 10 ms…10 s, and both are one family (`promtool` has checked the scrape already).
inline void expect_route_buckets(const std::string& scrape) {
    EXPECT_EQ(le_values(scrape, "/v1/fast"), (std::vector<std::string>{"0.0001", "0.00025", "0.0005", "0.001", "+Inf"}))
        << scrape;
    EXPECT_EQ(le_values(scrape, "/v1/events/{id}"),
              (std::vector<std::string>{"0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}))
        << scrape;
    EXPECT_EQ(sample(scrape, "http_request_duration_seconds_count", {"endpoint=\"/v1/fast\""}), 1) << scrape;
    EXPECT_EQ(sample(scrape, "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 1) << scrape;
    std::size_t types = 0;
    for (std::size_t p = 0; (p = scrape.find("# TYPE http_request_duration_seconds ", p)) != std::string::npos; ++p)
        ++types;
    EXPECT_EQ(types, 1u) << scrape;
}

/// What every adapter's test checks of OpenTelemetry's names, after 2 GETs of `/v1/events/1`, one
/// of `/v1/events/2` (404) and one of a path no route matches.
inline void expect_otel_names(const std::string& scrape) {
    const auto otel = [](std::string_view method, std::string_view route, std::string_view status) {
        return std::vector<std::string>{"http_request_method=\"" + std::string(method) + "\"",
                                        "http_route=\"" + std::string(route) + "\"",
                                        "http_response_status_code=\"" + std::string(status) + "\""};
    };
    EXPECT_EQ(sample(scrape, "http_server_request_duration_seconds_count", otel("GET", "/v1/events/{id}", "200")), 2)
        << scrape;
    EXPECT_EQ(sample(scrape, "http_server_request_duration_seconds_count", otel("GET", "/v1/events/{id}", "404")), 1)
        << scrape;
    EXPECT_EQ(sample(scrape, "http_server_request_duration_seconds_count", otel("GET", "", "404")), 1) << scrape;
    EXPECT_EQ(sample(scrape, "http_server_request_duration_seconds_bucket",
                     {"http_route=\"/v1/events/{id}\"", "http_response_status_code=\"200\"", "le=\"10\""}),
              2)
        << scrape;
    EXPECT_EQ(sample(scrape, "http_server_active_requests"), 0) << scrape;
    // vitals' own names record nothing meanwhile.
    EXPECT_TRUE(std::isnan(sample(scrape, "http_requests_total"))) << scrape;
    EXPECT_TRUE(std::isnan(sample(scrape, "http_request_duration_seconds_count"))) << scrape;
    EXPECT_EQ(scrape.find("endpoint=\""), std::string::npos) << scrape;
}

}  // namespace vitals_test
