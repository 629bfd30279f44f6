// A real Prometheus for end-to-end tests: started on a free loopback port with a config that
// scrapes a target of the test's, queried over its HTTP API, stopped with the test. Shared by
// tests/prometheus_e2e_test.cpp and tests/status_prometheus_test.cpp.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace vitals_test::prometheus {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

inline constexpr const char* prometheus_binary = "/usr/bin/prometheus";

inline int listen_loopback(std::uint16_t& port) {
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

inline std::uint16_t free_port() {
    std::uint16_t port = 0;
    const int fd = listen_loopback(port);
    if (fd >= 0) close(fd);
    return port;
}

// Reads from `fd` until `done(buffer)` or EOF, for at most `timeout`.
inline std::string read_until(int fd, auto done, std::chrono::milliseconds timeout) {
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

inline bool write_all(int fd, std::string_view s) {
    while (!s.empty()) {
        const ssize_t n = send(fd, s.data(), s.size(), MSG_NOSIGNAL);
        if (n <= 0) return false;
        s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// GET http://127.0.0.1:port/path; returns the body, or nullopt on failure.
inline std::optional<std::string> http_get(std::uint16_t port, const std::string& path) {
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

inline std::string url_encode(std::string_view s) {
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

}  // namespace vitals_test::prometheus
