// examples/service — an instrumented demo service on cpp-httplib.
//
//   service [--port N] [--host ADDRESS] [--no-instrumentation]
//
// Prints "listening on <port>" once it accepts connections (--port 0 picks a free port) and stops
// cleanly on SIGINT or SIGTERM. SERVICE_NAME (default "api") and ENVIRONMENT (default
// "development") become const labels on every series. --no-instrumentation registers the same
// handlers without the metrics wrapper, so that scripts/http_overhead.sh can measure its cost.
//
// Two registries: the operational one is served at /v1/metrics; the "constitutional" one
// (governance signals such as breaches and the halt state) is kept apart and never served there,
// so an operational scraper cannot see or depend on it.
#include <httplib.h>
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <vitals/http/adapters/httplib.hpp>
#include <vitals/vitals.hpp>

namespace {

struct options {
    int port = 8080;
    std::string host = "0.0.0.0";
    bool instrumented = true;
};

options parse_args(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) {
            char* end = nullptr;
            const long p = std::strtol(argv[++i], &end, 10);
            if (!end || *end || p < 0 || p > 65535) throw std::invalid_argument("bad --port value");
            o.port = static_cast<int>(p);
        } else if (a == "--host" && i + 1 < argc) {
            o.host = argv[++i];
        } else if (a == "--no-instrumentation") {
            o.instrumented = false;
        } else {
            throw std::invalid_argument("unknown argument: " + a);
        }
    }
    return o;
}

// Kept to one function so that vitals::health can replace it.
void ready_handler(const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"status":"ready","checks":{}})", "application/json");
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

    vitals::registry constitutional(labels);
    auto breaches = constitutional.counter<"constitutional_breach_count">("Constitutional breaches detected.");
    auto halted = constitutional.gauge<"halt_state">("1 while the service is halted by governance, else 0.");
    halted.set(0);

    event_store events;
    httplib::Server server;
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
    get("/v1/health", [&inst, &service](const httplib::Request&, httplib::Response& res) {
        char body[96];
        std::snprintf(body, sizeof body, R"({"status":"healthy","uptime_seconds":%.3f})",
                      inst.operational().uptime(service));
        res.set_content(body, "application/json");
    });
    get("/v1/ready", ready_handler);
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
    post("/v1/events", [&events](const httplib::Request& req, httplib::Response& res) {
        if (req.body.empty()) {
            res.status = 400;
            res.set_content(R"({"error":"empty body"})", "application/json");
            return;
        }
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
