// The cost of vitals' gRPC interceptors on unary calls over loopback: calls per second of the same
// client and server without interceptors, with interceptors that do nothing (gRPC's interception
// machinery alone), and with vitals' server and client interceptors and the handling-time
// histogram on both sides, measured in ABBA order so that drift (other load, frequency changes)
// falls on all alike; prints each run, the medians and their ratios.
//
//   grpc_overhead [--rounds N] [--seconds S] [--threads T]
//
// Defaults: 10 rounds (20 runs per configuration: every round is A B C C B A), 1 s per run, 2 client
// threads. The bar: the instrumented median at most 3 % below the plain one.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <vitals/grpc/client_metrics.hpp>
#include <vitals/grpc/server_metrics.hpp>

#include "grpc_kv_service.hpp"

namespace {

// An interceptor that only lets every batch proceed: what gRPC's interception machinery costs by
// itself, whoever the interceptor is.
class empty_interceptor final : public ::grpc::experimental::Interceptor {
public:
    void Intercept(::grpc::experimental::InterceptorBatchMethods* m) override { m->Proceed(); }
};
struct empty_server_factory final : ::grpc::experimental::ServerInterceptorFactoryInterface {
    ::grpc::experimental::Interceptor* CreateServerInterceptor(::grpc::experimental::ServerRpcInfo*) override {
        return new empty_interceptor;
    }
};
struct empty_client_factory final : ::grpc::experimental::ClientInterceptorFactoryInterface {
    ::grpc::experimental::Interceptor* CreateClientInterceptor(::grpc::experimental::ClientRpcInfo*) override {
        return new empty_interceptor;
    }
};

// vitals_server: the server's interceptor only, as when the clients are other programs.
enum class kind { plain, empty, vitals, vitals_server };

// One server and a channel to it: without interceptors, with empty ones, or with vitals'.
struct endpoint {
    endpoint(kind k, vitals::registry& registry) {
        const bool instrumented = k == kind::vitals || k == kind::vitals_server;
        ::grpc::ServerBuilder b;
        b.AddListeningPort("127.0.0.1:0", ::grpc::InsecureServerCredentials(), &port);
        b.RegisterService(&kv);
        std::vector<std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface>> ci;
        if (instrumented) {
            vitals::grpc::rpc_metrics_options o;
            o.handling_time_histogram = true;
            const auto methods = vitals::grpc::methods_of("vitals.example.KeyValue");
            server_metrics.emplace(registry, methods, o);
            std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> si;
            si.push_back(server_metrics->interceptor_factory());
            b.experimental().SetInterceptorCreators(std::move(si));
            if (k == kind::vitals) {
                client_metrics.emplace(registry, methods, o);
                ci.push_back(client_metrics->interceptor_factory());
            }
        } else if (k == kind::empty) {
            std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> si;
            si.push_back(std::make_unique<empty_server_factory>());
            b.experimental().SetInterceptorCreators(std::move(si));
            ci.push_back(std::make_unique<empty_client_factory>());
        }
        server = b.BuildAndStart();
        channel = ::grpc::experimental::CreateCustomChannelWithInterceptors("127.0.0.1:" + std::to_string(port),
                                                                            ::grpc::InsecureChannelCredentials(),
                                                                            ::grpc::ChannelArguments(), std::move(ci));
        stub = vitals::example::KeyValue::NewStub(channel);
        ::grpc::ClientContext ctx;
        vitals::example::PutRequest req;
        req.set_key("k");
        req.set_value("value");
        vitals::example::PutReply rep;
        stub->Put(&ctx, req, &rep);
    }
    ~endpoint() {
        server->Shutdown();
        server->Wait();
    }

    std::optional<vitals::grpc::server_metrics> server_metrics;
    std::optional<vitals::grpc::client_metrics> client_metrics;
    kv_example::service kv;
    int port = 0;
    std::unique_ptr<::grpc::Server> server;
    std::shared_ptr<::grpc::Channel> channel;
    std::unique_ptr<vitals::example::KeyValue::Stub> stub;
};

// Unary Gets from `threads` threads for `seconds`: calls per second.
double run(endpoint& e, int threads, double seconds) {
    std::atomic<bool> stop{false};
    std::atomic<long> calls{0};
    std::vector<std::thread> ts;
    const auto t0 = std::chrono::steady_clock::now();
    for (int t = 0; t < threads; ++t)
        ts.emplace_back([&] {
            long n = 0;
            vitals::example::GetRequest req;
            req.set_key("k");
            while (!stop.load(std::memory_order_relaxed)) {
                ::grpc::ClientContext ctx;
                vitals::example::GetReply rep;
                if (e.stub->Get(&ctx, req, &rep).ok()) ++n;
            }
            calls.fetch_add(n);
        });
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : ts) t.join();
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return static_cast<double>(calls.load()) / elapsed;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
    int rounds = 10, threads = 2;
    double seconds = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
        if (a == "--seconds") seconds = std::atof(argv[i + 1]);
        if (a == "--threads") threads = std::atoi(argv[i + 1]);
    }
    vitals::registry registry, server_only_registry;
    endpoint plain(kind::plain, registry), empty(kind::empty, registry), instrumented(kind::vitals, registry);
    endpoint server_only(kind::vitals_server, server_only_registry);
    for (endpoint* e : {&plain, &empty, &instrumented, &server_only}) run(*e, threads, seconds / 2);  // warm up
    // Two ABBA sequences interleaved: plain vs vitals (the bar) and empty vs vitals (what
    // vitals adds to gRPC's own interception cost).
    std::vector<double> a, b, c, d;
    for (int r = 0; r < rounds; ++r) {
        a.push_back(run(plain, threads, seconds));
        b.push_back(run(instrumented, threads, seconds));
        c.push_back(run(empty, threads, seconds));
        d.push_back(run(server_only, threads, seconds));
        d.push_back(run(server_only, threads, seconds));
        c.push_back(run(empty, threads, seconds));
        b.push_back(run(instrumented, threads, seconds));
        a.push_back(run(plain, threads, seconds));
        std::printf(
            "round %2d: plain %7.0f %7.0f  empty interceptors %7.0f %7.0f  vitals %7.0f %7.0f  "
            "vitals server only %7.0f %7.0f calls/s\n",
            r + 1, a[a.size() - 2], a.back(), c[c.size() - 2], c.back(), b[b.size() - 2], b.back(), d[d.size() - 2],
            d.back());
        std::fflush(stdout);
    }
    const double ma = median(a), mb = median(b), mc = median(c), md = median(d);
    std::printf(
        "median of %zu runs each: plain %.0f, empty interceptors %.0f, vitals %.0f, vitals server only %.0f "
        "calls/s\n",
        a.size(), ma, mc, mb, md);
    std::printf(
        "vitals / plain %.4f (%+.2f %%); empty / plain %.4f (%+.2f %%); vitals / empty %.4f (%+.2f %%); "
        "vitals server only / plain %.4f (%+.2f %%)\n",
        mb / ma, (mb / ma - 1) * 100, mc / ma, (mc / ma - 1) * 100, mb / mc, (mb / mc - 1) * 100, md / ma,
        (md / ma - 1) * 100);
    return 0;
}
