// The demo service's readiness (examples/service) against real dependencies and misbehaving ones:
// redis-server and PostgreSQL started and stopped under it, then scripted loopback peers that
// hang, drip, refuse, reset, answer garbage or flap. What matters to an orchestrator is checked:
// the status code, which check is blamed, that the service notices within the check's interval
// plus timeout, and that no answer (readiness, liveness or a scrape) waits on a dependency: checks
// run in the background, so answers come far sooner than the check timeout, which is set long on
// purpose. Latency percentiles under concurrent probe load are printed for the record.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
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

// The check interval and timeout the service is started with. An answer that waited on a check
// would take the timeout; answer_bound is a third of it, generous for a loaded CI machine and
// still proof that nothing waited. notice_bound: how long the service may take to see a change
// (interval + timeout is the promise; the rest is margin for the machine).
constexpr auto check_interval = 100ms;
constexpr auto check_timeout = 3000ms;
constexpr auto answer_bound = 1000ms;
constexpr auto notice_bound = check_interval + check_timeout + 3000ms;

std::string binary() {
    const char* p = std::getenv("SERVICE_BINARY");
    return p ? p : "";
}

// The demo service as a child process with its own environment (set through env(1), so this
// multi-threaded test never calls setenv) and its own working and event-store directories.
class demo_service {
public:
    demo_service(const std::vector<std::string>& env, const std::vector<std::string>& args = {}) {
        std::vector<std::string> argv{
            "/usr/bin/env",   "-u", "REDIS_ADDR",    "-u",
            "REDIS_PASSWORD", "-u", "DATABASE_ADDR", "EVENT_STORE_DIR=" + (dir_.path() / "events").string()};
        argv.insert(argv.end(), env.begin(), env.end());
        argv.insert(argv.end(), {binary(), "--port", "0", "--host", "127.0.0.1", "--check-timeout-ms",
                                 std::to_string(check_timeout.count()), "--check-interval-ms",
                                 std::to_string(check_interval.count())});
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
        if (!stopped_ && !proc_.running())
            ADD_FAILURE() << "the service exited early (code " << proc_.exit_code() << "); log:\n"
                          << t::tail_of_file(dir_.path() / "service.log", 16000);
        proc_.stop(SIGTERM, 10s);
    }
    demo_service(const demo_service&) = delete;
    demo_service& operator=(const demo_service&) = delete;

    /// Sends `sig` and returns how long the service took to exit (or nullopt past `limit`).
    std::optional<std::chrono::steady_clock::duration> stop_timed(int sig, std::chrono::milliseconds limit) {
        const auto t0 = std::chrono::steady_clock::now();
        stopped_ = true;
        ::kill(proc_.pid(), sig);
        const auto code = proc_.wait_for(limit);
        if (!code) return std::nullopt;
        return std::chrono::steady_clock::now() - t0;
    }

    /// Threads and open descriptors of the service, from /proc.
    [[nodiscard]] std::pair<std::size_t, std::size_t> threads_and_fds() const {
        std::size_t threads = 0, fds = 0;
        const std::string base = "/proc/" + std::to_string(proc_.pid());
        std::error_code ec;
        for (auto it = std::filesystem::directory_iterator(base + "/task", ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
            ++threads;
        for (auto it = std::filesystem::directory_iterator(base + "/fd", ec);
             !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
            ++fds;
        return {threads, fds};
    }

    int port = 0;

private:
    bool stopped_ = false;  // by the test, on purpose
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

// Polls `target` until `done(response)` (every 20 ms, at most `within`); returns the last answer.
// Used for "the service notices within the interval plus the timeout".
timed_response poll_until(
    int port, const std::string& target, const std::function<bool(const timed_response&)>& done,
    std::chrono::milliseconds within = std::chrono::duration_cast<std::chrono::milliseconds>(notice_bound)) {
    const auto until = std::chrono::steady_clock::now() + within;
    timed_response r = probe(port, target);
    while (!done(r) && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(20ms);
        r = probe(port, target);
    }
    return r;
}
timed_response wait_for_status(int port, const std::string& target, int status) {
    const auto t0 = std::chrono::steady_clock::now();
    auto r = poll_until(port, target, [status](const timed_response& x) { return x.res.status == status; });
    EXPECT_EQ(r.res.status, status) << target << " after "
                                    << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                                    << " s: " << r.res.body;
    return r;
}
// Until every check has a result (none pending).
void wait_for_first_round(int port) {
    poll_until(port, "/v1/ready?verbose&format=text",
               [](const timed_response& x) { return x.res.body.find("pending") == std::string::npos; });
}

// Latency percentiles of `requests` answers to `target`, each on a fresh connection, from
// `clients` concurrent clients.
struct latency {
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
    int errors = 0;
};
latency measure(int port, const std::string& target, int clients, int requests) {
    std::vector<double> ms;
    std::mutex mu;
    std::atomic<int> errors{0}, next{0};
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c)
        ts.emplace_back([&] {
            while (next++ < requests) {
                try {
                    const auto r = probe(port, target);
                    std::lock_guard lock(mu);
                    ms.push_back(std::chrono::duration<double, std::milli>(r.took).count());
                } catch (const std::exception&) {
                    ++errors;
                }
            }
        });
    for (auto& t : ts) t.join();
    latency out;
    out.errors = errors.load();
    if (ms.empty()) return out;
    std::sort(ms.begin(), ms.end());
    out.p50_ms = ms[ms.size() / 2];
    out.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
    out.max_ms = ms.back();
    return out;
}

TEST(service_ready, real_redis_and_postgres) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::redis_server redis;
    t::postgres_server postgres;
    demo_service svc({"REDIS_ADDR=" + addr(redis.port()), "DATABASE_ADDR=" + addr(postgres.port())});

    auto all = wait_for_status(svc.port, "/v1/ready", 200);
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

    // Redis goes away: not ready within the interval plus the timeout, Redis blamed, liveness
    // untouched.
    redis.stop();
    auto down = wait_for_status(svc.port, "/v1/ready", 503);
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
    wait_for_status(svc.port, "/v1/ready", 200);

    // The same for PostgreSQL.
    postgres.stop();
    auto db_down = wait_for_status(svc.port, "/v1/ready", 503);
    EXPECT_EQ(db_down.res.status, 503) << db_down.res.body;
    EXPECT_TRUE(contains(db_down.res.body, failed_json("database"))) << db_down.res.body;
    EXPECT_TRUE(contains(db_down.res.body, healthy_json("redis"))) << db_down.res.body;
    EXPECT_EQ(probe(svc.port, "/v1/health").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready?exclude=database").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/database").res.status, 503);
    EXPECT_EQ(probe(svc.port, "/v1/ready/redis").res.status, 200);
    EXPECT_EQ(check_up(scrape(svc.port), "database"), 0);

    postgres.start();
    wait_for_status(svc.port, "/v1/ready", 200);
    EXPECT_EQ(check_up(scrape(svc.port), "database"), 1);
}

TEST(service_ready, out_of_the_box_only_the_event_store) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    demo_service svc({});
    wait_for_first_round(svc.port);
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
        wait_for_first_round(svc.port);
        auto r = probe(svc.port, "/v1/ready/redis?verbose");
        EXPECT_EQ(r.res.status, 503);
        EXPECT_EQ(r.res.body, "[-]redis failed: reason withheld\nreadyz check failed\n");
    }
    demo_service svc({"REDIS_ADDR=" + closed}, {"--expose-health-details"});
    wait_for_first_round(svc.port);
    auto r = probe(svc.port, "/v1/ready/redis?verbose");
    EXPECT_EQ(r.res.status, 503);
    EXPECT_FALSE(contains(r.res.body, "reason withheld")) << r.res.body;
}

// --- faults: REDIS_ADDR points at a peer run by the test ---

// The service with REDIS_ADDR at the test's peer: once the first check has completed, 20 probes in
// a row must all say not ready and blame Redis, each answered within answer_bound (the check
// timeout is three times longer: an answer that waited on the peer would show). Then liveness, one
// check's endpoint and the exported metric.
void probe_fault(std::uint16_t redis_port) {
    demo_service svc({"REDIS_ADDR=" + addr(redis_port)});
    wait_for_first_round(svc.port);
    for (int i = 0; i < 20; ++i) {
        const auto r = probe(svc.port, "/v1/ready");
        EXPECT_EQ(r.res.status, 503) << "probe " << i << ": " << r.res.body;
        EXPECT_LT(r.took, answer_bound) << "probe " << i << " took " << std::chrono::duration<double>(r.took).count()
                                        << " s";
        EXPECT_TRUE(contains(r.res.body, failed_json("redis"))) << r.res.body;
    }
    EXPECT_EQ(probe(svc.port, "/v1/health").res.status, 200);
    EXPECT_EQ(probe(svc.port, "/v1/ready/event_store").res.status, 200);
    EXPECT_EQ(check_up(scrape(svc.port), "redis"), 0);
}

// A peer that hangs or drips: under 20 concurrent probe clients, readiness, liveness and scrapes
// all answer promptly (printed: p50/p99 of each), the service says not ready within the interval
// plus the timeout, and 1,000 probes leave threads and descriptors where they were.
void stall_load(std::uint16_t redis_port, const char* what) {
    demo_service svc({"REDIS_ADDR=" + addr(redis_port)});
    const auto t0 = std::chrono::steady_clock::now();
    wait_for_first_round(svc.port);
    const double noticed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(probe(svc.port, "/v1/ready").res.status, 503);
    const auto before = svc.threads_and_fds();
    for (const char* target : {"/v1/ready", "/v1/health", "/v1/metrics"}) {
        const latency l = measure(svc.port, target, 20, target == std::string("/v1/ready") ? 1000 : 400);
        std::printf("%s peer: %-11s p50 %.2f ms, p99 %.2f ms, max %.2f ms (20 clients)\n", what, target, l.p50_ms,
                    l.p99_ms, l.max_ms);
        EXPECT_EQ(l.errors, 0) << target;
        const double bound_ms = std::chrono::duration<double, std::milli>(answer_bound).count();
        EXPECT_LT(l.max_ms, bound_ms) << target;
    }
    const auto after = svc.threads_and_fds();
    std::printf("%s peer: not ready after %.2f s; threads %zu -> %zu, fds %zu -> %zu over 1,800 requests\n", what,
                noticed, before.first, after.first, before.second, after.second);
    EXPECT_LE(after.first, before.first + 2) << "threads grew";
    EXPECT_LE(after.second, before.second + 4) << "descriptors grew";
}

TEST(service_ready_faults, peer_that_never_answers) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    // Accepts, then says nothing; later connections wait in the backlog and fare no better.
    t::fake_peer hang([](t::fake_peer& self, int) { self.stall(30s); });
    probe_fault(hang.port());
    stall_load(hang.port(), "hung");
}

TEST(service_ready_faults, peer_that_drips_a_byte_a_second) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer drip([](t::fake_peer& self, int fd) {
        self.read_request(fd, "PING\r\n");
        for (const char c : std::string("+PONG\r\n")) {
            t::fake_peer::send_all(fd, std::string(1, c));
            self.stall(1s);
        }
    });
    probe_fault(drip.port());
    stall_load(drip.port(), "dripping");
}

// SIGTERM with a check hung on a 60 s timeout: the service exits in under 2 s (the probe waits its
// 200 ms grace for runs in flight, then leaves them).
TEST(service_ready_faults, sigterm_with_a_hung_check_exits_promptly) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer hang([](t::fake_peer& self, int) { self.stall(90s); });
    demo_service svc({"REDIS_ADDR=" + addr(hang.port())}, {"--check-timeout-ms", "60000"});
    // The check is running (and hung) from the start.
    wait_for_status(svc.port, "/v1/health", 200);
    std::this_thread::sleep_for(300ms);
    const auto took = svc.stop_timed(SIGTERM, 10s);
    ASSERT_TRUE(took.has_value()) << "the service did not exit within 10 s of SIGTERM";
    std::printf("SIGTERM with a hung check: exited after %.3f s\n", std::chrono::duration<double>(*took).count());
    EXPECT_LT(*took, 2s);
}

TEST(service_ready_faults, closed_port) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    probe_fault(t::free_port());
}

TEST(service_ready_faults, peer_that_resets) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer reset([](t::fake_peer& self, int fd) {
        self.drain(fd);
        // Linger 0: close() sends RST instead of FIN.
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    });
    probe_fault(reset.port());
    EXPECT_GE(reset.accepted(), 1);
}

TEST(service_ready_faults, peer_that_answers_garbage) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    t::fake_peer garbage([](t::fake_peer& self, int fd) {
        self.read_request(fd, "PING\r\n");
        t::fake_peer::send_all(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
    });
    probe_fault(garbage.port());
}

TEST(service_ready_faults, peer_that_flaps) {
    ASSERT_FALSE(binary().empty()) << "SERVICE_BINARY is not set";
    // Connection n: even -> a proper +PONG; otherwise garbage or a close without a word. The
    // background check meets each in turn, so over a few seconds the answers must show both
    // verdicts, each answered promptly.
    std::atomic<int> n{0};
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
    demo_service svc({"REDIS_ADDR=" + addr(flap.port())});
    wait_for_first_round(svc.port);
    int ready = 0, not_ready = 0;
    const auto until = std::chrono::steady_clock::now() + 5s;
    while ((ready == 0 || not_ready == 0) && std::chrono::steady_clock::now() < until) {
        const auto r = probe(svc.port, "/v1/ready");
        EXPECT_LT(r.took, answer_bound);
        (r.res.status == 200 ? ready : not_ready)++;
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_GT(ready, 0);
    EXPECT_GT(not_ready, 0);
    EXPECT_GE(n.load(), 2);
}

}  // namespace
