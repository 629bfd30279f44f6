// A gRPC key-value service (examples/proto/kv.proto) instrumented with vitals: the server
// interceptor's grpc_server_* metrics, the standard grpc.health.v1 health service answered from a
// readiness probe, and a client interceptor's grpc_client_* metrics on the channel it uses to
// check its own health port once it listens. Metrics and the HTTP probes are served on an admin
// port by vitals::exposer.
//
//   grpc_service [--port N] [--admin-port N] [--host ADDRESS] [--redis HOST:PORT]
//
// 0 picks a free port (the default for both); prints "admin listening on <port>" and then
// "listening on <port>". With --redis the service depends on that Redis: the health service
// answers NOT_SERVING for "vitals.example.KeyValue" and for "" (overall readiness) while it is
// down; "liveness" is SERVING while the process runs. Stops on SIGTERM or SIGINT: health answers
// NOT_SERVING, Watch streams end, calls in flight get 2 s to finish.
#include <grpcpp/grpcpp.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <vitals/grpc/client_metrics.hpp>
#include <vitals/grpc/health_service.hpp>
#include <vitals/grpc/server_metrics.hpp>
#include <vitals/health/checks.hpp>
#include <vitals/health/liveness.hpp>
#include <vitals/health/probe.hpp>
#include <vitals/http/exposer.hpp>
#include <vitals/vitals.hpp>

#include "grpc_kv_service.hpp"

namespace {

struct options {
    int port = 0;
    int admin_port = 0;
    std::string host = "127.0.0.1";
    std::string redis;  // HOST:PORT, empty: no dependency
};

int parse_port(const char* s) {
    char* end = nullptr;
    const long v = std::strtol(s, &end, 10);
    if (!end || *end || v < 0 || v > 65535) {
        std::fprintf(stderr, "grpc_service: bad port '%s'\n", s);
        std::exit(2);
    }
    return static_cast<int>(v);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--port" && i + 1 < argc) {
            o.port = parse_port(argv[++i]);
        } else if (a == "--admin-port" && i + 1 < argc) {
            o.admin_port = parse_port(argv[++i]);
        } else if (a == "--host" && i + 1 < argc) {
            o.host = argv[++i];
        } else if (a == "--redis" && i + 1 < argc) {
            o.redis = argv[++i];
        } else {
            std::fprintf(stderr,
                         "usage: grpc_service [--port N] [--admin-port N] [--host ADDRESS] [--redis HOST:PORT]\n");
            std::exit(2);
        }
    }
    return o;
}

}  // namespace

int main(int argc, char** argv) try {
    const options opt = parse(argc, argv);

    // Signals are taken by one thread with sigwait: block them before any thread starts.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

    vitals::registry registry;
    vitals::health::liveness live;
    vitals::health::probe ready;
    vitals::grpc::health_service_options health_opts;
    health_opts.services["vitals.example.KeyValue"] = {};
    health_opts.live_services = {"liveness"};  // Kubernetes' liveness probe: the process alone
    if (!opt.redis.empty()) {
        const auto colon = opt.redis.rfind(':');
        vitals::health::redis_options redis;
        redis.host = opt.redis.substr(0, colon);
        redis.port = static_cast<std::uint16_t>(parse_port(opt.redis.c_str() + colon + 1));
        vitals::health::check_options every_200ms;
        every_200ms.interval = std::chrono::milliseconds(200);
        every_200ms.timeout = std::chrono::milliseconds(500);
        ready.add(vitals::health::redis_check("redis", redis), every_200ms);
        health_opts.services["vitals.example.KeyValue"] = {"redis"};
    }

    // Every method this server serves, known up front: the metrics' label sets are closed.
    std::vector<vitals::grpc::method_info> methods = vitals::grpc::methods_of("vitals.example.KeyValue");
    for (auto& m : vitals::grpc::methods_of("grpc.health.v1.Health")) methods.push_back(m);
    vitals::grpc::rpc_metrics_options metric_opts;
    metric_opts.handling_time_histogram = true;
    vitals::grpc::server_metrics server_metrics(registry, methods, metric_opts);
    vitals::grpc::client_metrics client_metrics(registry, vitals::grpc::methods_of("grpc.health.v1.Health"));

    kv_example::service kv;
    vitals::grpc::health_service health(ready, health_opts);

    ::grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort(opt.host + ":" + std::to_string(opt.port), ::grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&kv);
    builder.RegisterService(&health);
    std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
    interceptors.push_back(server_metrics.interceptor_factory());
    builder.experimental().SetInterceptorCreators(std::move(interceptors));

    vitals::exposer_options admin_opts;
    admin_opts.host = opt.host;
    admin_opts.port = static_cast<std::uint16_t>(opt.admin_port);
    vitals::exposer admin(admin_opts);
    admin.serve_metrics(registry);
    admin.serve_health(live, ready);
    admin.start();
    std::printf("admin listening on %u\n", static_cast<unsigned>(admin.port()));
    std::fflush(stdout);

    std::unique_ptr<::grpc::Server> server = builder.BuildAndStart();
    if (!server || port == 0) {
        std::fprintf(stderr, "grpc_service: cannot listen on %s:%d\n", opt.host.c_str(), opt.port);
        return 1;
    }

    // The client side: one Check of our own health service through an instrumented channel.
    std::vector<std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface>> client_interceptors;
    client_interceptors.push_back(client_metrics.interceptor_factory());
    auto channel = ::grpc::experimental::CreateCustomChannelWithInterceptors(
        opt.host + ":" + std::to_string(port), ::grpc::InsecureChannelCredentials(), ::grpc::ChannelArguments(),
        std::move(client_interceptors));
    {
        auto stub = ::grpc::health::v1::Health::NewStub(channel);
        ::grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
        ::grpc::health::v1::HealthCheckRequest req;
        ::grpc::health::v1::HealthCheckResponse res;
        const ::grpc::Status st = stub->Check(&ctx, req, &res);
        std::fprintf(stderr, "grpc_service: self check: %s\n", st.ok() ? "answered" : st.error_message().c_str());
    }

    std::printf("listening on %d\n", port);
    std::fflush(stdout);

    int sig = 0;
    sigwait(&stop_signals, &sig);
    // NOT_SERVING first, so that probes and watchers see the service leave before it goes.
    health.shutdown();
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server->Wait();
    admin.stop();
    ready.stop();
    std::fprintf(stderr, "grpc_service: stopped\n");
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "grpc_service: %s\n", e.what());
    return 1;
}
