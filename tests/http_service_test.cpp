// The demo service (examples/service) as a child process: real requests, its metrics, a clean
// stop on SIGTERM and SIGINT.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "http_support.hpp"

using vitals_test::http_client;
using vitals_test::sample;

namespace {

// The service binary, passed by meson (tests/meson.build) in $SERVICE_BINARY.
std::string binary() {
    const char* p = std::getenv("SERVICE_BINARY");
    return p ? p : "";
}

class service_process {
public:
    struct with_args {};  // a third parameter, so that a braced list of pairs still means `env`
    explicit service_process(std::vector<std::pair<std::string, std::string>> env = {})
        : service_process(std::move(env), {}, with_args{}) {}
    service_process(std::vector<std::pair<std::string, std::string>> env, std::vector<std::string> extra_args,
                    with_args) {
        int out[2];
        if (::pipe(out) != 0) throw std::runtime_error("pipe failed");
        pid_ = ::fork();
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::close(out[0]);
            ::close(out[1]);
            for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
            std::vector<std::string> args = {binary(), "--port", "0", "--host", "127.0.0.1"};
            args.insert(args.end(), extra_args.begin(), extra_args.end());
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(out[1]);
        out_ = out[0];
        // Read the "listening on <port>" line (after "admin listening on <port>" when asked for),
        // 10 s at most.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (int lines = 0; lines < 2 && port == 0; ++lines) {
            std::string line;
            while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
                pollfd p{out_, POLLIN, 0};
                if (::poll(&p, 1, 100) <= 0) continue;
                char c;
                if (::read(out_, &c, 1) != 1) break;
                line += c;
            }
            if (lines == 0) first_line = line;
            if (line.rfind("admin listening on ", 0) == 0) admin_port = std::atoi(line.c_str() + 19);
            if (line.rfind("listening on ", 0) == 0) port = std::atoi(line.c_str() + 13);
        }
    }
    ~service_process() {
        if (pid_ > 0 && !reaped_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        if (out_ >= 0) ::close(out_);
    }

    /// Sends `sig` and waits (10 s at most) for the exit; returns the wait status, -1 on timeout.
    int stop(int sig) {
        ::kill(pid_, sig);
        for (int i = 0; i < 1000; ++i) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                reaped_ = true;
                return status;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return -1;
    }

    int port = 0;
    int admin_port = 0;
    std::string first_line;

private:
    pid_t pid_ = -1;
    int out_ = -1;
    bool reaped_ = false;
};

TEST(http_service, serves_instrumented_endpoints_and_stops_on_sigterm) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    service_process svc({{"SERVICE_NAME", "api-test"}, {"ENVIRONMENT", "ci"}});
    ASSERT_GT(svc.port, 0) << "no 'listening on' line, got: '" << svc.first_line << "'";
    {
        http_client c(svc.port);
        auto health = c.get("/v1/health");
        EXPECT_EQ(health.status, 200);
        EXPECT_NE(health.body.find("\"status\":\"healthy\""), std::string::npos) << health.body;
        EXPECT_NE(health.body.find("\"uptime_seconds\":"), std::string::npos) << health.body;
        // Not ready until the event-store check's first background run has completed (a few
        // milliseconds after start; bounded here at 5 s).
        auto ready = c.get("/v1/ready");
        for (int i = 0; i < 250 && ready.status != 200; ++i) {
            EXPECT_NE(ready.body.find("\"message\":\"pending\""), std::string::npos) << ready.body;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            ready = c.get("/v1/ready");
        }
        EXPECT_EQ(ready.status, 200);
        EXPECT_EQ(ready.body.rfind(R"({"status":"ready",)", 0), 0u) << ready.body;
        EXPECT_EQ(c.get("/v1/events/1").status, 200);
        EXPECT_EQ(c.get("/v1/events/999").status, 404);
        auto created = c.post("/v1/events", R"({"kind":"test"})");
        EXPECT_EQ(created.status, 201);
        EXPECT_NE(created.body.find("\"id\":"), std::string::npos);
        const std::string id = created.body.substr(6, created.body.size() - 7);
        EXPECT_EQ(c.get("/v1/events/" + id).status, 200) << created.body;
        EXPECT_EQ(c.post("/v1/events", "").status, 400);
        EXPECT_EQ(c.get("/v1/fail").status, 500);
        EXPECT_EQ(c.get("/v1/crash").status, 500);
        EXPECT_EQ(c.get("/no/such/path").status, 404);

        auto first = c.get("/v1/metrics");
        auto [first_ok, first_out] = vitals_test::promtool_check(first.body);
        EXPECT_TRUE(first_ok) << first_out;
        auto m = c.get("/v1/metrics");
        ASSERT_EQ(m.status, 200);
        EXPECT_EQ(m.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
        const auto& s = m.body;
        auto [ok, out] = vitals_test::promtool_check(s);
        EXPECT_TRUE(ok) << out;
        const std::vector<std::string> svc_labels = {"service=\"api-test\"", "environment=\"ci\""};
        EXPECT_EQ(sample(s, "service_starts_total", svc_labels), 1);
        EXPECT_GE(sample(s, "uptime_seconds", svc_labels), 0);
        auto with = [&](std::vector<std::string> l) {
            l.insert(l.end(), svc_labels.begin(), svc_labels.end());
            return l;
        };
        EXPECT_EQ(sample(s, "http_requests_total", with({"endpoint=\"/v1/events/{id}\"", "status=\"200\""})), 2);
        EXPECT_EQ(sample(s, "http_requests_total", with({"endpoint=\"/v1/events/{id}\"", "status=\"404\""})), 1);
        EXPECT_EQ(sample(s, "http_requests_total", with({"method=\"POST\"", "status=\"201\""})), 1);
        EXPECT_EQ(sample(s, "http_requests_failed_total",
                         with({"endpoint=\"/v1/events\"", "status=\"400\"", "error_type=\"client_error\""})),
                  1);
        EXPECT_EQ(sample(s, "http_requests_failed_total",
                         with({"endpoint=\"/v1/fail\"", "status=\"500\"", "error_type=\"server_error\""})),
                  1);
        EXPECT_EQ(sample(s, "http_requests_failed_total",
                         with({"endpoint=\"/v1/crash\"", "status=\"500\"", "error_type=\"exception\""})),
                  1);
        EXPECT_EQ(sample(s, "http_requests_total", with({"endpoint=\"unmatched\"", "status=\"404\""})), 1);
        EXPECT_EQ(sample(s, "http_requests_total", with({"endpoint=\"/v1/metrics\""})), 1);
        // The native histogram's classic buckets: one accepted payload of 15 bytes.
        EXPECT_EQ(sample(s, "event_payload_bytes_count", svc_labels), 1);
        EXPECT_EQ(sample(s, "event_payload_bytes_sum", svc_labels), 15);
        EXPECT_EQ(sample(s, "event_payload_bytes_bucket", with({"le=\"64\""})), 1);
        EXPECT_EQ(s.find("/no/such/path"), std::string::npos);
        // The constitutional registry is never served here.
        EXPECT_EQ(s.find("constitutional"), std::string::npos);
        EXPECT_EQ(s.find("halt_state"), std::string::npos);
    }
    const int status = svc.stop(SIGTERM);
    ASSERT_NE(status, -1) << "service did not stop within 10 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(http_service, defaults_and_sigint) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    service_process svc({{"SERVICE_NAME", ""}, {"ENVIRONMENT", ""}});
    ASSERT_GT(svc.port, 0) << svc.first_line;
    {
        http_client c(svc.port);
        const auto s = c.get("/v1/metrics").body;
        auto [ok, out] = vitals_test::promtool_check(s);
        EXPECT_TRUE(ok) << out;
        EXPECT_EQ(sample(s, "service_starts_total", {"service=\"api\"", "environment=\"development\""}), 1);
    }
    const int status = svc.stop(SIGINT);
    ASSERT_NE(status, -1);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
}

// The admin port (--admin-port 0) serves metrics and probes through vitals::exposer, while the
// /v1 routes stay on the traffic port.
TEST(http_service, admin_port_serves_metrics_and_probes) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    service_process svc({{"SERVICE_NAME", "api-admin"}}, {"--admin-port", "0"}, service_process::with_args{});
    ASSERT_GT(svc.admin_port, 0) << "no 'admin listening on' line, got: '" << svc.first_line << "'";
    ASSERT_GT(svc.port, 0);
    ASSERT_NE(svc.admin_port, svc.port);
    {
        http_client traffic(svc.port);
        EXPECT_EQ(traffic.get("/v1/events/1").status, 200);
        EXPECT_EQ(traffic.get("/v1/health").status, 200);
        EXPECT_EQ(traffic.get("/metrics").status, 404);  // the admin routes are not on the traffic port
        http_client admin(svc.admin_port);
        EXPECT_EQ(admin.get("/v1/metrics").status, 404);
        const auto live = admin.get("/health");
        EXPECT_EQ(live.status, 200);
        EXPECT_NE(live.body.find("\"status\":\"healthy\""), std::string::npos) << live.body;
        auto ready = admin.get("/ready");
        for (int i = 0; i < 250 && ready.status != 200; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            ready = admin.get("/ready");
        }
        EXPECT_EQ(ready.status, 200) << ready.body;
        EXPECT_EQ(admin.get("/ready/event_store").status, 200);
        EXPECT_EQ(admin.get("/ready/nope").status, 404);
        const auto m = admin.get("/metrics");
        ASSERT_EQ(m.status, 200);
        auto [ok, out] = vitals_test::promtool_check(m.body);
        EXPECT_TRUE(ok) << out;
        // The same registry as /v1/metrics: the traffic port's request counted above is there.
        EXPECT_EQ(sample(m.body, "http_requests_total",
                         {"endpoint=\"/v1/events/{id}\"", "status=\"200\"", "service=\"api-admin\""}),
                  1);
        EXPECT_GE(sample(m.body, "vitals_exposer_connections", {}), 1);
        const auto om = admin.get("/metrics", "application/openmetrics-text;version=1.0.0");
        EXPECT_EQ(om.headers.at("content-type").rfind("application/openmetrics-text", 0), 0u);
        EXPECT_NE(om.body.find("# EOF\n"), std::string::npos);
    }
    const int status = svc.stop(SIGTERM);
    ASSERT_NE(status, -1) << "service did not stop within 10 s of SIGTERM";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

// Only canonical decimal ids name an event, and the answer never echoes the raw path; bodies are
// bounded.
TEST(http_service, event_ids_are_canonical_and_bodies_bounded) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    service_process svc;
    ASSERT_GT(svc.port, 0) << svc.first_line;
    {
        http_client c(svc.port);
        const auto one = c.get("/v1/events/1");
        EXPECT_EQ(one.status, 200);
        EXPECT_EQ(one.body, "{\"id\":1}");
        for (const std::string id :
             {"+1", "%2B1", "0001", "01", "1%00garbage", "1%20", "%201", "1x", "-1", "-18446744073709551615",
              "18446744073709551616", "99999999999999999999999", "1%0d%0aX:%20y", "%01", "0x1", "1e0", "%31"}) {
            const auto r = c.get("/v1/events/" + id);
            if (id == "%31") {  // percent-encoded '1' decodes to the canonical "1": the same event
                EXPECT_EQ(r.status, 200) << id;
                EXPECT_EQ(r.body, "{\"id\":1}") << id;
                continue;
            }
            EXPECT_EQ(r.status, 404) << id << ": " << r.body;
            EXPECT_EQ(r.body, "{\"error\":\"not found\"}") << id;
        }
        EXPECT_EQ(c.get("/v1/events/0").status, 404);  // canonical, but no such event
        const auto big = c.post("/v1/events", std::string((1 << 20) + 1, 'x'));
        EXPECT_EQ(big.status, 413);
        http_client c2(svc.port);
        EXPECT_EQ(c2.post("/v1/events", std::string(1 << 20, 'x')).status, 201);
        const auto s = c2.get("/v1/metrics").body;
        auto [ok, out] = vitals_test::promtool_check(s);
        EXPECT_TRUE(ok) << out;
        EXPECT_EQ(s.find("garbage"), std::string::npos);
    }
    EXPECT_EQ(WEXITSTATUS(svc.stop(SIGTERM)), 0);
}

}  // namespace
