// examples/service — an instrumented demo service on cpp-httplib.
//
//   service [--port N] [--host ADDRESS] [--no-instrumentation] [--event-store DIR]
//           [--ready-cache-ms N] [--check-timeout-ms N] [--expose-health-details]
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
// Health: /v1/health is liveness (the process alone); /v1/ready runs the dependency checks, with
// Kubernetes' conventions (?verbose, ?exclude=NAME, /v1/ready/NAME for one check). Dependencies
// come from the environment as they would in a container: DATABASE_ADDR (host:port, PostgreSQL)
// adds the check "database", REDIS_ADDR (host:port; REDIS_PASSWORD optional) adds "redis". The
// local event-store directory ("event_store"; EVENT_STORE_DIR or --event-store, default
// ./event-store, created at start) is always checked, so the demo is ready out of the box.
// Failure details are withheld unless --expose-health-details is given: they name hosts and errors.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cctype>
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
#include <vitals/vitals.hpp>

namespace {

struct options {
    int port = 8080;
    std::string host = "0.0.0.0";
    bool instrumented = true;
    std::string event_store_dir;
    long ready_cache_ms = 1000;    // a burst of probes costs one round of dependency calls
    long check_timeout_ms = 1000;  // a hung dependency answers "timeout" instead of holding the probe
    bool expose_health_details = false;
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
        } else if (a == "--no-instrumentation") {
            o.instrumented = false;
        } else if (a == "--event-store" && i + 1 < argc) {
            o.event_store_dir = argv[++i];
        } else if (a == "--ready-cache-ms" && i + 1 < argc) {
            o.ready_cache_ms = parse_number(argv[++i], 3'600'000, "--ready-cache-ms");
        } else if (a == "--check-timeout-ms" && i + 1 < argc) {
            o.check_timeout_ms = parse_number(argv[++i], 60'000, "--check-timeout-ms");
            if (o.check_timeout_ms == 0) throw std::invalid_argument("--check-timeout-ms must be positive");
        } else if (a == "--expose-health-details") {
            o.expose_health_details = true;
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

// cpp-httplib decodes the query into params and keeps no raw copy, while the vitals handlers take
// a raw query string: encode the params back.
std::string query_of(const httplib::Request& req) {
    static constexpr char hex[] = "0123456789ABCDEF";
    const auto encode = [](std::string& out, const std::string& s) {
        for (const char c : s) {
            const auto u = static_cast<unsigned char>(c);
            if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
                out += c;
            } else {
                out += '%';
                out += hex[u >> 4];
                out += hex[u & 0xF];
            }
        }
    };
    std::string q;
    for (const auto& [k, v] : req.params) {
        if (!q.empty()) q += '&';
        encode(q, k);
        q += '=';
        encode(q, v);
    }
    return q;
}

void send(httplib::Response& res, const vitals::health::response& r) {
    res.status = r.status;
    res.set_content(r.body, r.content_type.c_str());
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

    const vitals::const_labels labels = vitals::const_labels_from_env("api", "development");
    std::string service = "api";
    for (const auto& [k, v] : labels)
        if (k == "service") service = v;

    vitals::registry operational(labels);
    vitals::http::instrumentation inst(operational);
    inst.operational().service_started(service);

    // Payload sizes as a native histogram (Prometheus with --enable-feature=native-histograms
    // asks for protobuf and stores the sparse buckets); the classic buckets serve the text formats.
    vitals::native_histogram_options payload_buckets;
    payload_buckets.classic_buckets = {64, 256, 1024, 4096, 16384, 65536};
    auto payload = operational.native_histogram<"event_payload_bytes">("Sizes of accepted event payloads.",
                                                                      payload_buckets);

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
    probe_opts.cache_ttl = std::chrono::milliseconds(opt.ready_cache_ms);
    probe_opts.on_result = vitals::health::export_metrics(operational);
    vitals::health::probe ready(std::move(probe_opts));
    add_readiness_checks(ready, opt);
    vitals::health::handler_options health_out;
    health_out.expose_details = opt.expose_health_details;

    event_store events;
    httplib::Server server;
    // cpp-httplib gives each keep-alive connection a worker for as long as it stays open; with the
    // default 8 workers, 8 idle keep-alive clients would leave probes and scrapes queued.
    server.new_task_queue = [] { return new httplib::ThreadPool(64); };
    server.set_tcp_nodelay(true);
    server.set_keep_alive_max_count(10000);
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
    get("/v1/health", [&live, &health_out](const httplib::Request& req, httplib::Response& res) {
        send(res, vitals::health::handle_live(live, query_of(req), health_out));
    });
    get("/v1/ready", [&ready, &health_out](const httplib::Request& req, httplib::Response& res) {
        send(res, vitals::health::handle_ready(ready, "", query_of(req), health_out));
    });
    // One check per path, as Kubernetes' /readyz/<name>; an unknown name answers 404.
    get("/v1/ready/{check}", [&ready, &health_out](const httplib::Request& req, httplib::Response& res) {
        send(res, vitals::health::handle_ready(ready, "/" + req.matches[1].str(), query_of(req), health_out));
    });
    get("/v1/events/{id}", [&events](const httplib::Request& req, httplib::Response& res) {
        const std::string id = req.matches[1];
        char* end = nullptr;
        const unsigned long long n = std::strtoull(id.c_str(), &end, 10);
        if (!id.empty() && *end == '\0' && events.contains(n)) {
            res.set_content("{\"id\":" + id + "}", "application/json");
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
    get("/v1/crash", [](const httplib::Request&, httplib::Response&) {
        throw std::runtime_error("crashed on purpose");
    });

    const int port = opt.port == 0 ? server.bind_to_any_port(opt.host)
                                   : (server.bind_to_port(opt.host, opt.port) ? opt.port : -1);
    if (port <= 0) {
        std::fprintf(stderr, "service: cannot listen on port %d\n", opt.port);
        return 1;
    }

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
    std::fprintf(stderr, "service: stopped (constitutional breaches: %.0f)\n", breaches.value());
    return ok || by_signal ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "service: %s\n", e.what());
    return 2;
}
