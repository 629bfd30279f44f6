// The demo service's readiness (examples/service) against real dependencies and misbehaving ones:
// redis-server and PostgreSQL started and stopped under it, then scripted loopback peers that
// hang, refuse, reset, answer garbage or flap. What matters to an orchestrator is checked: the
// status code, which check is blamed, and that every answer comes within the check timeout.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http_support.hpp"
#include "support/servers.hpp"

namespace {

namespace t = vitals::test;
using namespace std::chrono_literals;
using vitals_test::http_client;
using vitals_test::http_response;

// The check timeout the service is started with, and how much later than it an answer may come:
// generous, because a loaded CI machine must not turn scheduling delays into failures.
constexpr auto check_timeout = 1000ms;
constexpr auto answer_bound = check_timeout + 1500ms;

std::string binary() {
    const char* p = std::getenv("SERVICE_BINARY");
    return p ? p : "";
}

// The demo service as a child process with its own environment (set through env(1), so this
// multi-threaded test never calls setenv) and its own working and event-store directories.
class demo_service {
public:
    demo_service(const std::vector<std::string>& env, const std::vector<std::string>& args = {}) {
        std::vector<std::string> argv{"/usr/bin/env", "-u", "REDIS_ADDR", "-u", "REDIS_PASSWORD", "-u",
                                      "DATABASE_ADDR", "EVENT_STORE_DIR=" + (dir_.path() / "events").string()};
        argv.insert(argv.end(), env.begin(), env.end());
        argv.insert(argv.end(), {binary(), "--port", "0", "--host", "127.0.0.1", "--check-timeout-ms",
                                 std::to_string(check_timeout.count())});
        argv.insert(argv.end(), args.begin(), args.end());
        const auto log = dir_.path() / "service.log";
        proc_ = t::child_process(argv, {.cwd = dir_.path(), .log = log, .user = std::nullopt});
        const auto until = std::chrono::steady_clock::now() + 10s;
        while (port == 0 && std::chrono::steady_clock::now() < until && proc_.running()) {
            const std::string out = t::tail_of_file(log);
            const auto at = out.find("listening on ");
            if (at != std::string::npos && out.find('\n', at) != std::string::npos)
                port = std::atoi(out.c_str() + at + 13);
            else
                std::this_thread::sleep_for(10ms);
        }
        if (port == 0) throw std::runtime_error("service did not start; log:\n" + t::tail_of_file(log));
    }
    ~demo_service() {
        // A service that died under the test (a crash, or a sanitizer report with halt_on_error)
        // otherwise shows up only as refused connections; say so, with its log.
        if (!proc_.running())
            ADD_FAILURE() << "the service exited early (code " << proc_.exit_code() << "); log:\n"
                          << t::tail_of_file(dir_.path() / "service.log", 16000);
        proc_.stop(SIGTERM, 10s);
    }
    demo_service(const demo_service&) = delete;
    demo_service& operator=(const demo_service&) = delete;

    int port = 0;

private:
    t::temp_dir dir_{"vitals-demo-"};
    t::child_process proc_;
};

std::string addr(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// One request on a fresh connection (as a kubelet probe makes it), with how long it took.
struct timed_response {
    http_response res;
    std::chrono::steady_clock::duration took{};
};
timed_response probe(int port, const std::string& target) {
    const auto t0 = std::chrono::steady_clock::now();
    http_client c(port);
    timed_response r{c.request("GET", target, {}, "Connection: close\r\n"), {}};
    r.took = std::chrono::steady_clock::now() - t0;
    return r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string healthy_json(const std::string& name) {
    return "\"" + name + "\":{\"name\":\"" + name + "\",\"healthy\":true,";
}
std::string failed_json(const std::string& name) {
    return "\"" + name + "\":{\"name\":\"" + name + "\",\"healthy\":false,";
}

// `threads` clients sending `each` requests at once; every answer must have `status` and come
// within answer_bound.
void concurrent_probes(int port, const std::string& target, int status, int threads = 8, int each = 5) {
    std::atomic<int> wrong_status{0}, too_slow{0}, errors{0};
    std::mutex first_error_mutex;
    std::string first_error;
    std::vector<std::thread> clients;
    for (int i = 0; i < threads; ++i)
        clients.emplace_back([&] {
            for (int j = 0; j < each; ++j) {
                try {
                    const auto r = probe(port, target);
                    if (r.res.status != status) ++wrong_status;
                    if (r.took >= answer_bound) ++too_slow;
                } catch (const std::exception& e) {
                    if (errors++ == 0) {
                        std::lock_guard lock(first_error_mutex);
                        first_error = e.what();
                    }
                }
            }
        });
    for (auto& c : clients) c.join();
    EXPECT_EQ(wrong_status.load(), 0) << target;
    EXPECT_EQ(too_slow.load(), 0) << target;
    EXPECT_EQ(errors.load(), 0) << target << ", first error: " << first_error;
}

// Scrapes /v1/metrics, checks it with promtool and returns it.
std::string scrape(int port) {
    const auto r = probe(port, "/v1/metrics");
    EXPECT_EQ(r.res.status, 200);
    auto [ok, out] = vitals_test::promtool_check(r.res.body);
    EXPECT_TRUE(ok) << out;
    return r.res.body;
}

double check_up(const std::string& scrape_body, const std::string& check) {
    return vitals_test::sample(scrape_body, "health_check_up", {"check=\"" + check + "\""});
}

TEST(service_ready, real_redis_and_postgres) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::redis_server redis;
    t::postgres_server postgres;
    demo_service svc({"REDIS_ADDR=" + addr(redis.port()), "DATABASE_ADDR=" + addr(postgres.port())},
                     {"--ready-cache-ms", "0"});

    auto all = probe(svc.port, "/v1/ready");
    EXPECT_EQ(all.res.status, 200) << all.res.body;
    EXPECT_EQ(all.res.headers["content-type"], "application/json");
    EXPECT_TRUE(all.res.body.starts_with(R"({"status":"ready",)")) << all.res.body;
    for (const char* name : {"database", "redis", "event_store"})
        EXPECT_TRUE(contains(all.res.body, healthy_json(name))) << name << ": " << all.res.body;
    EXPECT_TRUE(contains(all.res.body, "\"latency_ms\":")) << all.res.body;

    auto verbose = probe(svc.port, "/v1/ready?verbose");
    EXPECT_EQ(verbose.res.status, 200);
    EXPECT_EQ(verbose.res.body, "[+]database ok\n[+]redis ok\n[+]event_store ok\nreadyz check passed\n");
    EXPECT_EQ(probe(svc.port, "/v1/ready/redis").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/database").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/nosuch").res.status, 404);
    concurrent_probes(svc.port, "/v1/ready", 200);
    EXPECT_EQ(check_up(scrape(svc.port), "redis"), 1);

    // Redis goes away: not ready, Redis blamed, liveness untouched.
    redis.stop();
    auto down = probe(svc.port, "/v1/ready");
    EXPECT_EQ(down.res.status, 503) << down.res.body;
    EXPECT_TRUE(down.res.body.starts_with(R"({"status":"not-ready",)")) << down.res.body;
    EXPECT_TRUE(contains(down.res.body, failed_json("redis"))) << down.res.body;
    EXPECT_TRUE(contains(down.res.body, healthy_json("database"))) << down.res.body;
    EXPECT_TRUE(contains(down.res.body, R"("message":"failed")")) << "details must be withheld: " << down.res.body;
    EXPECT_FALSE(contains(down.res.body, "127.0.0.1")) << down.res.body;
    EXPECT_EQ(probe(svc.port, "/v1/health").res.status, 200);
    auto text = probe(svc.port, "/v1/ready?verbose");
    EXPECT_EQ(text.res.status, 503);
    EXPECT_TRUE(contains(text.res.body, "[+]event_store ok\n")) << text.res.body;
    EXPECT_TRUE(contains(text.res.body, "[-]redis failed: reason withheld\n")) << text.res.body;
    auto excluded = probe(svc.port, "/v1/ready?exclude=redis&verbose");
    EXPECT_EQ(excluded.res.status, 200) << excluded.res.body;
    EXPECT_TRUE(contains(excluded.res.body, "[+]redis excluded: ok\n")) << excluded.res.body;
    EXPECT_EQ(probe(svc.port, "/v1/ready/redis").res.status, 503);
    EXPECT_EQ(probe(svc.port, "/v1/ready/event_store").res.status, 200);
    concurrent_probes(svc.port, "/v1/ready", 503);
    const std::string after_redis = scrape(svc.port);
    EXPECT_EQ(check_up(after_redis, "redis"), 0);
    EXPECT_EQ(check_up(after_redis, "database"), 1);
    EXPECT_GT(vitals_test::sample(after_redis, "health_check_duration_seconds_count", {"check=\"redis\""}), 0);

    redis.start();
    EXPECT_EQ(probe(svc.port, "/v1/ready").res.status, 200);

    // The same for PostgreSQL.
    postgres.stop();
    auto db_down = probe(svc.port, "/v1/ready");
    EXPECT_EQ(db_down.res.status, 503) << db_down.res.body;
    EXPECT_TRUE(contains(db_down.res.body, failed_json("database"))) << db_down.res.body;
    EXPECT_TRUE(contains(db_down.res.body, healthy_json("redis"))) << db_down.res.body;
    EXPECT_EQ(probe(svc.port, "/v1/health").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready?exclude=database").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/database").res.status, 503);
    EXPECT_EQ(probe(svc.port, "/v1/ready/redis").res.status, 200);
    EXPECT_EQ(check_up(scrape(svc.port), "database"), 0);

    postgres.start();
    EXPECT_EQ(probe(svc.port, "/v1/ready").res.status, 200);
    EXPECT_EQ(check_up(scrape(svc.port), "database"), 1);
}

TEST(service_ready, out_of_the_box_only_the_event_store) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    demo_service svc({});
    auto r = probe(svc.port, "/v1/ready?verbose");
    EXPECT_EQ(r.res.status, 200);
    EXPECT_EQ(r.res.body, "[+]event_store ok\nreadyz check passed\n");
    EXPECT_EQ(probe(svc.port, "/v1/ready/redis").res.status, 404);
}

TEST(service_ready, details_only_when_asked) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    const std::string closed = addr(t::free_port());
    {
        demo_service svc({"REDIS_ADDR=" + closed});
        auto r = probe(svc.port, "/v1/ready/redis?verbose");
        EXPECT_EQ(r.res.status, 503);
        EXPECT_EQ(r.res.body, "[-]redis failed: reason withheld\nreadyz check failed\n");
    }
    demo_service svc({"REDIS_ADDR=" + closed}, {"--expose-health-details"});
    auto r = probe(svc.port, "/v1/ready/redis?verbose");
    EXPECT_EQ(r.res.status, 503);
    EXPECT_FALSE(contains(r.res.body, "reason withheld")) << r.res.body;
}

// --- faults: REDIS_ADDR points at a peer run by the test ---

// 20 probes in a row, cache disabled so each one reaches the peer; `expected(i)` is the status
// of probe i. Every answer must come within the check timeout plus a margin.
void probe_fault(std::uint16_t redis_port, const std::function<int(int)>& expected) {
    demo_service svc({"REDIS_ADDR=" + addr(redis_port)}, {"--ready-cache-ms", "0"});
    for (int i = 0; i < 20; ++i) {
        const auto r = probe(svc.port, "/v1/ready");
        EXPECT_EQ(r.res.status, expected(i)) << "probe " << i << ": " << r.res.body;
        EXPECT_LT(r.took, answer_bound) << "probe " << i << " took "
                                        << std::chrono::duration<double>(r.took).count() << " s";
        if (expected(i) == 503) {
            EXPECT_TRUE(contains(r.res.body, failed_json("redis"))) << r.res.body;
        }
    }
    EXPECT_EQ(probe(svc.port, "/v1/health").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/event_store").res.status, 200);
    EXPECT_EQ(check_up(scrape(svc.port), "redis"), expected(19) == 200 ? 1 : 0);
}

int always_503(int) { return 503; }

TEST(service_ready_faults, peer_that_never_answers) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    // Accepts, then says nothing; later connections wait in the backlog and fare no better.
    t::fake_peer hang([](t::fake_peer& self, int) { self.stall(30s); });
    probe_fault(hang.port(), always_503);
    // Concurrent probes share the stuck run instead of piling up behind it.
    demo_service svc({"REDIS_ADDR=" + addr(hang.port())}, {"--ready-cache-ms", "0"});
    concurrent_probes(svc.port, "/v1/ready", 503);
}

TEST(service_ready_faults, closed_port) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    probe_fault(t::free_port(), always_503);
}

TEST(service_ready_faults, peer_that_resets) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer reset([](t::fake_peer& self, int fd) {
        self.drain(fd);
        // Linger 0: close() sends RST instead of FIN.
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    });
    probe_fault(reset.port(), always_503);
    EXPECT_GE(reset.accepted(), 20);
}

TEST(service_ready_faults, peer_that_answers_garbage) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer garbage([](t::fake_peer& self, int fd) {
        self.read_request(fd, "PING\r\n");
        t::fake_peer::send_all(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    probe_fault(garbage.port(), always_503);
}

TEST(service_ready_faults, peer_that_flaps) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    // Connection n: even -> a proper +PONG; otherwise garbage or a close without a word.
    int n = 0;  // touched only by the peer's thread
    t::fake_peer flap([&n](t::fake_peer& self, int fd) {
        const int k = n++;
        if (k % 2 == 0) {
            self.read_request(fd, "PING\r\n");
            t::fake_peer::send_all(fd, "+PONG\r\n");
        } else if (k % 4 == 1) {
            self.read_request(fd, "PING\r\n");
            t::fake_peer::send_all(fd, "\x01\x02 not redis \xff\r\n");
        }
    });
    probe_fault(flap.port(), [](int i) { return i % 2 == 0 ? 200 : 503; });
}

}  // namespace
