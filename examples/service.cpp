// examples/service — an instrumented demo service on cpp-httplib.
//
//   service [--port N] [--host ADDRESS] [--admin-port N] [--no-instrumentation] [--event-store DIR]
//           [--check-interval-ms N] [--check-timeout-ms N] [--expose-health-details]
//           [--status-interval-ms N] [--status-refresh-ms N]
//
// Prints "listening on <port>" once it accepts connections (--port 0 picks a free port) and stops
// cleanly on SIGINT or SIGTERM. SERVICE_NAME (default "api") and ENVIRONMENT (default
// "development") become const labels on every series. --no-instrumentation registers the same
// handlers without the metrics wrapper, so that scripts/http_overhead.sh can measure its cost.
//
// Two registries: the operational one is served at /v1/metrics; the "constitutional" one
// (governance signals such as breaches and the halt state) is kept apart and never served there,
// so an operational scraper cannot see or depend on it.
//
// Health: /v1/health is liveness (the process alone); /v1/ready answers from the dependency checks,
// which run in the background every --check-interval-ms (default 5000) under --check-timeout-ms
// (default 1000), so no answer waits on a dependency; Kubernetes' conventions (?verbose,
// ?exclude=NAME, /v1/ready/NAME for one check). Dependencies
// come from the environment as they would in a container: DATABASE_ADDR (host:port, PostgreSQL)
// adds the check "database", REDIS_ADDR (host:port; REDIS_PASSWORD optional) adds "redis". The
// local event-store directory ("event_store"; EVENT_STORE_DIR or --event-store, default
// ./event-store, created at start) is always checked, so the demo is ready out of the box.
// Failure details are withheld unless --expose-health-details is given: they name hosts and errors.
//
// Status page: /v1/status (and on the admin port) shows the service, its build, uptime and restarts,
// each check, and per route the request rate, error rate by type and p50/p95/p99 over the last 1, 5
// and 15 intervals (--status-interval-ms, default one minute), as HTML with inline SVG sparklines;
// ?format=json gives the same numbers. --status-refresh-ms (default 1000): renders closer together
// than this show the same counts.
//
// Admin port: --admin-port N (0 picks one; prints "admin listening on <port>" first) serves
// /metrics, /health and /ready (and /ready/NAME) through vitals::exposer on the same --host, so
// that probes and scrapes keep being answered while the traffic port is saturated or attacked
// (cpp-httplib gives every connection a worker thread: slow clients can take them all).
//
// The traffic port is configured as production should configure cpp-httplib (docs/http.md says
// why): a listen backlog of 1024, 256 workers, 5 s read and write timeouts, keep-alive for 2 s and
// 100 requests at most, and request bodies of 1 MiB at most (larger ones answer 413).
#include <httplib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

#include <vitals/core/native_histogram.hpp>
#include <vitals/health/checks.hpp>
#include <vitals/health/handler.hpp>
#include <vitals/health/liveness.hpp>
#include <vitals/health/metrics.hpp>
#include <vitals/health/probe.hpp>
#include <vitals/http/adapters/httplib.hpp>
#include <vitals/http/exposer.hpp>
#include <vitals/process/build_info.hpp>
#include <vitals/process/process_collector.hpp>
#include <vitals/status/status_page.hpp>
#include <vitals/vitals.hpp>

namespace {

struct options {
    int port = 8080;
    std::string host = "0.0.0.0";
    int admin_port = -1;  // none unless --admin-port
    bool instrumented = true;
    std::string event_store_dir;
    long check_interval_ms = 5000;  // each dependency is checked this often, whatever the probe traffic
    long check_timeout_ms = 1000;   // a hung dependency is reported as "timeout" after this
    bool expose_health_details = false;
    long status_interval_ms = 60'000;  // one slot of the status page's history
    long status_refresh_ms = 1000;
};

long parse_number(const char* text, long max, const char* what) {
    char* end = nullptr;
    const long v = std::strtol(text, &end, 10);
    if (!end || end == text || *end || v < 0 || v > max)
        throw std::invalid_argument(std::string("bad ") + what + " value");
    return v;
}

options parse_args(int argc, char** argv) {
    options o;
    const char* store = std::getenv("EVENT_STORE_DIR");
    o.event_store_dir = store && *store ? store : "event-store";
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) {
            o.port = static_cast<int>(parse_number(argv[++i], 65535, "--port"));
        } else if (a == "--host" && i + 1 < argc) {
            o.host = argv[++i];
        } else if (a == "--admin-port" && i + 1 < argc) {
            o.admin_port = static_cast<int>(parse_number(argv[++i], 65535, "--admin-port"));
        } else if (a == "--no-instrumentation") {
            o.instrumented = false;
        } else if (a == "--event-store" && i + 1 < argc) {
            o.event_store_dir = argv[++i];
        } else if (a == "--check-interval-ms" && i + 1 < argc) {
            o.check_interval_ms = parse_number(argv[++i], 3'600'000, "--check-interval-ms");
            if (o.check_interval_ms == 0) throw std::invalid_argument("--check-interval-ms must be positive");
        } else if (a == "--check-timeout-ms" && i + 1 < argc) {
            o.check_timeout_ms = parse_number(argv[++i], 60'000, "--check-timeout-ms");
            if (o.check_timeout_ms == 0) throw std::invalid_argument("--check-timeout-ms must be positive");
        } else if (a == "--expose-health-details") {
            o.expose_health_details = true;
        } else if (a == "--status-interval-ms" && i + 1 < argc) {
            o.status_interval_ms = parse_number(argv[++i], 3'600'000, "--status-interval-ms");
            if (o.status_interval_ms == 0) throw std::invalid_argument("--status-interval-ms must be positive");
        } else if (a == "--status-refresh-ms" && i + 1 < argc) {
            o.status_refresh_ms = parse_number(argv[++i], 3'600'000, "--status-refresh-ms");
        } else {
            throw std::invalid_argument("unknown argument: " + a);
        }
    }
    return o;
}

// "host:port" or "[v6]:port" from an environment variable; nullopt when unset or empty.
std::optional<std::pair<std::string, std::uint16_t>> address_from_env(const char* var) {
    const char* v = std::getenv(var);
    if (!v || !*v) return std::nullopt;
    std::string s = v;
    const auto colon = s.rfind(':');
    if (colon == std::string::npos || colon == 0) throw std::invalid_argument(std::string(var) + " must be host:port");
    std::string host = s.substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const long port = parse_number(s.c_str() + colon + 1, 65535, var);
    if (port == 0) throw std::invalid_argument(std::string(var) + ": port 0");
    return std::pair{host, static_cast<std::uint16_t>(port)};
}

// Only configured dependencies get a check: an unset address means "not used here", not "down".
void add_readiness_checks(vitals::health::probe& ready, const options& opt) {
    vitals::health::check_options limits;
    limits.timeout = std::chrono::milliseconds(opt.check_timeout_ms);
    limits.interval = std::chrono::milliseconds(opt.check_interval_ms);
    if (auto db = address_from_env("DATABASE_ADDR")) {
        vitals::health::postgres_options pg;
        pg.host = db->first;
        pg.port = db->second;
        ready.add(vitals::health::postgres_check("database", pg), limits);
    }
    if (auto addr = address_from_env("REDIS_ADDR")) {
        vitals::health::redis_options r;
        r.host = addr->first;
        r.port = addr->second;
        if (const char* pw = std::getenv("REDIS_PASSWORD")) r.password = pw;
        ready.add(vitals::health::redis_check("redis", r), limits);
    }
    ready.add(vitals::health::writable_dir_check("event_store", opt.event_store_dir), limits);
}

void send(httplib::Response& res, const vitals::health::response& r) {
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
}

// Debian's libcpp-httplib is built with a listen backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG is read
// where the library is compiled, not here): 20 probe clients connecting at once overflow it, and
// the kernel drops their SYNs, which the clients resend a second later, so p99 latency becomes 1 s
// for reasons that have nothing to do with the handlers. listen() again on the bound socket
// raises the backlog; it is found by its port.
void widen_listen_backlog(int port) {
    for (int fd = 0; fd < 1024; ++fd) {
        int listening = 0;
        socklen_t len = sizeof listening;
        if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
        sockaddr_storage a{};
        socklen_t alen = sizeof a;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) != 0) continue;
        const int bound = a.ss_family == AF_INET    ? ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port)
                          : a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port)
                                                    : -1;
        if (bound == port) ::listen(fd, 1024);
    }
}

// The id of /v1/events/{id}: canonical decimal only ("0", or digits without a leading zero, no
// sign, no spaces, within 64 bits), so that one event has one URL and "+1", "0001", "1%00x" or
// "-18446744073709551615" are simply not found. strtoull would accept most of those.
std::optional<std::uint64_t> canonical_id(const std::string& s) {
    if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (UINT64_MAX - d) / 10) return std::nullopt;  // past 2^64 - 1
        v = v * 10 + d;
    }
    return v;
}

// A tiny in-memory event store.
class event_store {
public:
    event_store() { events_.emplace(1, "seed"); }
    bool contains(std::uint64_t id) {
        std::lock_guard lock(mu_);
        return events_.count(id) != 0;
    }
    std::uint64_t add(std::string body) {
        std::lock_guard lock(mu_);
        const std::uint64_t id = next_++;
        events_.emplace(id, std::move(body));
        return id;
    }

private:
    std::mutex mu_;
    std::map<std::uint64_t, std::string> events_;
    std::uint64_t next_ = 2;
};

}  // namespace

int main(int argc, char** argv) try {
    const options opt = parse_args(argc, argv);

    // Signals are taken by one thread with sigwait, so every other thread (created after this)
    // has them blocked and the stop path is ordinary code rather than a signal handler.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    const vitals::string_ref service = vitals::service_name_from_env("api");
    const vitals::const_labels labels = vitals::const_labels_from_env(service, "development");

    vitals::registry operational(labels);
    vitals::http::instrumentation inst(operational);
    inst.operational().service_started(service);
    // CPU, memory, file descriptors and start time (the dashboard's process panels), and which
    // vitals built this.
    vitals::register_process_metrics(operational);
    vitals::register_vitals_build_info(operational);

    // Payload sizes as a native histogram (Prometheus with --enable-feature=native-histograms
    // asks for protobuf and stores the sparse buckets); the classic buckets serve the text formats.
    vitals::native_histogram_options payload_buckets;
    payload_buckets.classic_buckets = {64, 256, 1024, 4096, 16384, 65536};
    auto payload =
        operational.native_histogram<"event_payload_bytes">("Sizes of accepted event payloads.", payload_buckets);

    vitals::registry constitutional(labels);
    auto breaches = constitutional.counter<"constitutional_breach_count">("Constitutional breaches detected.");
    auto halted = constitutional.gauge<"halt_state">("1 while the service is halted by governance, else 0.");
    halted.set(0);

    // Created here so that a fresh checkout is ready at once; a directory that cannot be created
    // is reported by the readiness check rather than refusing to start.
    std::error_code store_error;
    std::filesystem::create_directories(opt.event_store_dir, store_error);
    vitals::health::liveness live;
    vitals::health::probe_options probe_opts;
    vitals::health::export_metrics(operational, probe_opts);  // health_check_up and friends, kept current
    vitals::health::probe ready(std::move(probe_opts));
    add_readiness_checks(ready, opt);
    vitals::health::handler_options health_out;
    health_out.expose_details = opt.expose_health_details;

    // The status page reads the operational registry and the probe; its sampler thread keeps one
    // slot of counts per interval, so the 15-minute numbers need no request in the meantime.
    vitals::status::status_options status_opts;
    status_opts.history.interval_seconds = static_cast<double>(opt.status_interval_ms) / 1000;
    status_opts.refresh_seconds = static_cast<double>(opt.status_refresh_ms) / 1000;
    status_opts.expose_details = opt.expose_health_details;
    vitals::status::status_page status(operational, &ready, status_opts);
    status.start_sampler();

    event_store events;
    httplib::Server server;
    // cpp-httplib gives each keep-alive connection a worker for as long as it stays open; with the
    // default 8 workers, 8 idle keep-alive clients would leave probes and scrapes queued.
    // 256 workers: every connection holds one for as long as it is open, so this is how many
    // clients (slow or idle) it takes to stop the traffic port answering. Idle workers cost a
    // stack each (virtual memory; a few pages of it resident).
    server.new_task_queue = [] { return new httplib::ThreadPool(256); };
    server.set_tcp_nodelay(true);
    // Each of these bounds how long one client can hold a worker. The read timeout is per read,
    // not per request (cpp-httplib has no whole-request timeout): a client sending a byte every
    // few seconds still holds its worker, which is why probes belong on the admin port.
    server.set_read_timeout(std::chrono::seconds(5));
    server.set_write_timeout(std::chrono::seconds(5));
    server.set_keep_alive_timeout(2);  // an idle keep-alive client holds a worker: not for long
    server.set_keep_alive_max_count(100);
    // Bodies are read into memory whole: bound them (larger ones answer 413 unread).
    server.set_payload_max_length(1 << 20);
    // cpp-httplib would otherwise send the exception's message to the client in a header.
    server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(R"({"error":"internal error"})", "application/json");
    });

    std::optional<vitals::http::httplib_adapter> adapter;
    if (opt.instrumented) adapter.emplace(server, inst);
    auto get = [&](std::string_view tmpl, httplib::Server::Handler h) {
        if (adapter)
            adapter->Get(tmpl, std::move(h));
        else
            server.Get(vitals::http::httplib_adapter::pattern(tmpl), std::move(h));
    };
    auto post = [&](std::string_view tmpl, httplib::Server::Handler h) {
        if (adapter)
            adapter->Post(tmpl, std::move(h));
        else
            server.Post(vitals::http::httplib_adapter::pattern(tmpl), std::move(h));
    };

    get("/v1/metrics", [&operational](const httplib::Request& req, httplib::Response& res) {
        auto m = vitals::http::render_metrics(operational, req.get_header_value("Accept"));
        res.set_content(std::move(m.body), std::string(m.content_type).c_str());
    });
    // /v1/health, /v1/ready and /v1/ready/{check} (one check, as Kubernetes' /readyz/<name>; an
    // unknown name answers 404), all answered from the latest background results.
    if (adapter) {
        adapter->health(live, ready, health_out);
    } else {
        using vitals::http::httplib_adapter;
        get("/v1/health", [&live, &health_out](const httplib::Request& req, httplib::Response& res) {
            send(res, vitals::health::handle_live(live, httplib_adapter::query_string(req), health_out));
        });
        get("/v1/ready", [&ready, &health_out](const httplib::Request& req, httplib::Response& res) {
            send(res, vitals::health::handle_ready(ready, "", httplib_adapter::query_string(req), health_out));
        });
        get("/v1/ready/{check}", [&ready, &health_out](const httplib::Request& req, httplib::Response& res) {
            send(res, vitals::health::handle_ready(ready, "/" + req.matches[1].str(),
                                                   httplib_adapter::query_string(req), health_out));
        });
    }
    // Not a route of its own in the metrics (like the probes): an operator's reloads would show up
    // in the very numbers the page is for.
    server.Get("/v1/status", [&status](const httplib::Request& req, httplib::Response& res) {
        const vitals::status::page_response page =
            status.handle(req.method, vitals::http::httplib_adapter::query_string(req));
        res.status = page.status;
        for (const auto& [name, value] : page.headers) res.set_header(name, value);
        res.set_content(page.body, page.content_type);
    });
    get("/v1/events/{id}", [&events](const httplib::Request& req, httplib::Response& res) {
        const std::optional<std::uint64_t> id = canonical_id(req.matches[1]);
        if (id && events.contains(*id)) {
            // The number as parsed, never the raw path segment.
            res.set_content("{\"id\":" + std::to_string(*id) + "}", "application/json");
        } else {
            res.status = 404;
            res.set_content(R"({"error":"not found"})", "application/json");
        }
    });
    post("/v1/events", [&events, &payload](const httplib::Request& req, httplib::Response& res) {
        if (req.body.empty()) {
            res.status = 400;
            res.set_content(R"({"error":"empty body"})", "application/json");
            return;
        }
        payload.observe(static_cast<double>(req.body.size()));
        res.status = 201;
        res.set_content("{\"id\":" + std::to_string(events.add(req.body)) + "}", "application/json");
    });
    get("/v1/fail", [](const httplib::Request&, httplib::Response& res) {
        res.status = 500;
        res.set_content(R"({"error":"failed on purpose"})", "application/json");
    });
    get("/v1/crash",
        [](const httplib::Request&, httplib::Response&) { throw std::runtime_error("crashed on purpose"); });

    // The admin listener: metrics and probes on a port of their own, event-driven, so that
    // clients holding the traffic port's workers cannot fail the probes.
    std::optional<vitals::exposer> admin;
    if (opt.admin_port >= 0) {
        vitals::exposer_options admin_opts;
        admin_opts.host = opt.host;
        admin_opts.port = static_cast<std::uint16_t>(opt.admin_port);
        admin_opts.health = health_out;
        admin.emplace(admin_opts);
        admin->serve_metrics(operational);
        admin->serve_health(live, ready);
        status.serve(*admin, "/v1/status");
        admin->start();
        std::printf("admin listening on %u\n", static_cast<unsigned>(admin->port()));
        std::fflush(stdout);
    }

    const int port =
        opt.port == 0 ? server.bind_to_any_port(opt.host) : (server.bind_to_port(opt.host, opt.port) ? opt.port : -1);
    if (port <= 0) {
        std::fprintf(stderr, "service: cannot listen on port %d\n", opt.port);
        return 1;
    }
    widen_listen_backlog(port);

    std::atomic<bool> stopping{false};
    std::thread signal_thread([&server, &stop_signals, &stopping] {
        int sig = 0;
        sigwait(&stop_signals, &sig);
        stopping = true;
        server.stop();
    });

    std::printf("listening on %d\n", port);
    std::fflush(stdout);
    const bool ok = server.listen_after_bind();
    const bool by_signal = stopping.load();

    // listen_after_bind also returns when the socket fails: wake the signal thread then.
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
    if (admin) admin->stop();  // answers being written finish, within the exposer's stop grace
    // Bounded even with a hung check: the probe waits at most its shutdown grace (200 ms) and
    // leaves a run still going behind; exit ends it.
    ready.stop();
    std::fprintf(stderr, "service: stopped (constitutional breaches: %.0f)\n", breaches.value());
    return ok || by_signal ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "service: %s\n", e.what());
    return 2;
}
