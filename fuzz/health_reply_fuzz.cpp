// Fuzzes what a dependency's peer may answer: the bytes of the input are the reply a loopback
// peer sends to the Redis, PostgreSQL (without credentials, and logging in: SASL/SCRAM, md5,
// cleartext, the session start-up and the SELECT 1 reply) and HTTP checks. Property: no crash,
// no sanitizer report, and each check ends within its deadline with a verdict (garbage is
// "unhealthy", never a hang).
#include <vitals/health/checks.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

namespace {
// A one-connection-at-a-time loopback peer that sends `reply` after reading what it is sent.
class peer {
public:
    explicit peer(std::string reply) : reply_(std::move(reply)) {
        fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd_, 8) != 0) std::abort();
        socklen_t len = sizeof a;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            for (int i = 0; i < checks; ++i) {
                const int c = accept(fd_, nullptr, nullptr);
                if (c < 0) return;
                timeval tv{0, 20000};
                setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char buf[512];
                (void)!recv(c, buf, sizeof buf, 0);
                (void)!send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
                close(c);
            }
        });
    }
    ~peer() {
        shutdown(fd_, SHUT_RDWR);
        close(fd_);
        thread_.join();
    }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }

    // Connections served: one per check run below.
    static constexpr int checks = 5;

private:
    std::string reply_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::thread thread_;
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace h = vitals::health;
    peer p(std::string(reinterpret_cast<const char*>(data), size));
    const auto bound = std::chrono::milliseconds(300);
    auto run = [&](auto&& check) {
        const auto t0 = h::clock::now();
        const h::check_result r = check.check(t0 + bound);
        if (h::clock::now() - t0 > bound + std::chrono::milliseconds(500)) {
            std::fprintf(stderr, "check overran its deadline: %s\n", r.message.c_str());
            std::abort();
        }
    };
    run(h::redis_check("redis", {.host = "127.0.0.1", .port = p.port(), .username = {}, .password = {}}));
    run(h::postgres_check("db", {.host = "127.0.0.1", .port = p.port(), .user = "vitals_probe", .database = {}}));
    run(h::postgres_check("db", {.host = "127.0.0.1",
                                 .port = p.port(),
                                 .user = "app",
                                 .database = "app",
                                 .password = "secret",
                                 .allow_cleartext = false}));
    run(h::postgres_check("db", {.host = "127.0.0.1",
                                 .port = p.port(),
                                 .user = "app",
                                 .database = {},
                                 .password = "secret",
                                 .allow_cleartext = true}));
    run(h::http_check("web", "http://127.0.0.1:" + std::to_string(p.port()) + "/healthz"));
    return 0;
}
