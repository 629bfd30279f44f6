// status/quantile.hpp against the real thing: a Prometheus server (Debian's /usr/bin/prometheus,
// 2.42) scrapes the latency histograms a status page reads, and its histogram_quantile over the
// scraped buckets must equal the page's p50/p95/p99, to the last bit (the same arithmetic in the
// same order). The Prometheus harness is prometheus_e2e_test.cpp's.
#include <vitals/http/exposer.hpp>
#include <vitals/http/operational.hpp>
#include <vitals/status/status_page.hpp>
#include <vitals/vitals.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
constexpr const char* prometheus_binary = "/usr/bin/prometheus";

int listen_loopback(std::uint16_t& port) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        close(fd);
        return -1;
    }
    port = ntohs(a.sin_port);
    return fd;
}

std::uint16_t free_port() {
    std::uint16_t port = 0;
    const int fd = listen_loopback(port);
    if (fd >= 0) close(fd);
    return port;
}

// Reads from `fd` until `done(buffer)` or EOF, for at most `timeout`.
std::string read_until(int fd, auto done, std::chrono::milliseconds timeout) {
    std::string buf;
    const auto deadline = clock_type::now() + timeout;
    while (!done(buf) && clock_type::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0) continue;
        char tmp[8192];
        const ssize_t n = read(fd, tmp, sizeof tmp);
        if (n <= 0) break;
        buf.append(tmp, static_cast<std::size_t>(n));
        if (buf.size() > (1u << 24)) break;
    }
    return buf;
}

bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}
// GET http://127.0.0.1:port/path; returns the body, or nullopt on failure.
std::optional<std::string> http_get(std::uint16_t port, const std::string& path) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::nullopt;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(fd);
        return std::nullopt;
    }
    write_all(fd, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    const std::string resp = read_until(
        fd, [](const std::string&) { return false; }, 5000ms);
    close(fd);
    const auto body = resp.find("\r\n\r\n");
    if (resp.rfind("HTTP/1.", 0) != 0 || body == std::string::npos) return std::nullopt;
    if (resp.find(" 200 ") > resp.find("\r\n")) return std::nullopt;
    return resp.substr(body + 4);
}

std::string url_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

class prometheus_process {
public:
    prometheus_process(std::uint16_t target_port, bool native) {
        char tmpl[] = "/tmp/vitals-e2e-XXXXXX";
        if (!mkdtemp(tmpl)) return;
        dir_ = tmpl;
        port_ = free_port();
        std::ofstream(dir_ / "prometheus.yml") << "global:\n"
                                                  "  scrape_interval: 1s\n"
                                                  "  scrape_timeout: 1s\n"
                                                  "  evaluation_interval: 1s\n"
                                                  "scrape_configs:\n"
                                                  "  - job_name: vitals\n"
                                                  "    static_configs:\n"
                                                  "      - targets: ['127.0.0.1:"
                                               << target_port << "']\n";
        std::vector<std::string> args = {prometheus_binary, "--config.file=" + (dir_ / "prometheus.yml").string(),
                                         "--storage.tsdb.path=" + (dir_ / "data").string(),
                                         "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
        if (native) args.push_back("--enable-feature=native-histograms,exemplar-storage");
        const std::string log = (dir_ / "prometheus.log").string();
        pid_ = fork();
        if (pid_ == 0) {
            const int out = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }
    ~prometheus_process() {
        if (pid_ > 0) {
            kill(pid_, SIGTERM);
            int status = 0;
            const auto deadline = clock_type::now() + 5s;
            while (waitpid(pid_, &status, WNOHANG) == 0) {
                if (clock_type::now() > deadline) {
                    kill(pid_, SIGKILL);
                    waitpid(pid_, &status, 0);
                    break;
                }
                std::this_thread::sleep_for(20ms);
            }
        }
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] bool started() const { return pid_ > 0; }
    [[nodiscard]] std::string log() const {
        std::ifstream in(dir_ / "prometheus.log");
        return {std::istreambuf_iterator<char>(in), {}};
    }

    // Polls until `pred(body)` holds for GET path, at most `timeout`; returns the last body.
    std::string poll(const std::string& path, auto pred, std::chrono::milliseconds timeout) const {
        std::string last;
        const auto deadline = clock_type::now() + timeout;
        while (clock_type::now() < deadline) {
            if (auto b = http_get(port_, path)) {
                last = *b;
                if (pred(last)) return last;
            }
            std::this_thread::sleep_for(200ms);
        }
        return last;
    }

    // The first value of an instant query, polled until it satisfies `pred` (bounded).
    std::optional<double> query(const std::string& q, auto pred, std::chrono::milliseconds timeout = 15s) const {
        std::optional<double> v;
        poll(
            "/api/v1/query?query=" + url_encode(q),
            [&](const std::string& body) {
                v = first_value(body);
                return v && pred(*v);
            },
            timeout);
        return v;
    }
    std::optional<double> query(const std::string& q) const {
        return query(q, [](double) { return true; });
    }

    static std::optional<double> first_value(const std::string& body) {
        const auto at = body.find("\"value\":[");
        if (at == std::string::npos) return std::nullopt;
        const auto q1 = body.find('"', body.find(',', at) + 1);
        const auto q2 = body.find('"', q1 + 1);
        if (q1 == std::string::npos || q2 == std::string::npos) return std::nullopt;
        const std::string s = body.substr(q1 + 1, q2 - q1 - 1);
        if (s == "NaN") return std::nan("");
        char* end = nullptr;
        const double d = std::strtod(s.c_str(), &end);
        if (end == s.c_str()) return std::nullopt;
        return d;
    }

private:
    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    pid_t pid_ = -1;
};

bool prometheus_available() { return access(prometheus_binary, X_OK) == 0; }

TEST(StatusPrometheus, QuantilesEqualHistogramQuantile) {
    if (!prometheus_available()) GTEST_SKIP() << "no " << prometheus_binary << " (Debian package 'prometheus')";
    double t = 0;
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    vitals::status::status_options o;
    o.clock = [&t] { return t; };
    vitals::status::status_page page(reg, nullptr, o);  // its first slot: every count zero
    // Routes with different shapes: lognormal latency, everything in one bucket, on bucket
    // boundaries, mostly past the last finite bound.
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> latency(std::log(0.08), 0.9);
    for (int i = 0; i < 3000; ++i) (void)ops.request_duration.labels("GET", "/lognormal").observe(latency(rng));
    for (int i = 0; i < 100; ++i) (void)ops.request_duration.labels("GET", "/one-bucket").observe(0.03);
    for (int i = 0; i < 500; ++i)
        (void)ops.request_duration.labels("POST", "/boundaries")
            .observe(vitals::http_duration_buckets
                         .data()[static_cast<std::size_t>(i) % vitals::http_duration_buckets.size()]);
    for (int i = 0; i < 200; ++i) (void)ops.request_duration.labels("GET", "/slow").observe(i < 190 ? 30.0 : 0.2);
    t = 600;
    const auto d = page.data();
    ASSERT_EQ(d.routes.size(), 4U);

    vitals::exposer e;
    e.serve_metrics(reg);
    e.start();
    prometheus_process p(e.port(), false);
    ASSERT_TRUE(p.started());
    for (const auto& r : d.routes) {
        const auto& w = r.windows.back();  // 15 intervals: back to the first slot, so every count
        const std::string sel =
            "http_request_duration_seconds_bucket{method=\"" + r.method + "\",endpoint=\"" + r.endpoint + "\"}";
        const std::pair<double, double> qs[] = {{0.5, w.p50}, {0.95, w.p95}, {0.99, w.p99}};
        for (const auto& [q, ours] : qs) {
            const std::string expr = "histogram_quantile(" + std::to_string(q) + ", " + sel + ")";
            const auto theirs = p.query(expr, [](double v) { return !std::isnan(v); });
            ASSERT_TRUE(theirs) << expr << "\n" << p.log();
            EXPECT_EQ(*theirs, ours) << expr << " on " << r.endpoint;
        }
    }
    e.stop();
}

}  // namespace
