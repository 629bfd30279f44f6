// vitals::grpc::health_service (include/vitals/grpc/health_service.hpp) on a real gRPC server:
// Check and Watch follow a probe whose dependency goes down and up, unknown names answer as the
// protocol says, and shutdown() turns everything NOT_SERVING and ends Watch streams so that
// Server::Shutdown() without a deadline returns. Python's grpcio probes it from outside in
// tests/grpc_health_check.py.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <vitals/grpc/health_service.hpp>

namespace {

using hc = ::grpc::health::v1::HealthCheckResponse;

struct harness {
    harness() {
        vitals::health::check_options fast;
        fast.interval = std::chrono::milliseconds(20);
        fast.timeout = std::chrono::milliseconds(500);
        probe.add(
            "dep", [this] { return up.load() ? vitals::health::healthy() : vitals::health::unhealthy("down"); }, fast);
        probe.add(
            "other", [] { return vitals::health::healthy(); }, fast);
        vitals::grpc::health_service_options o;
        o.services["pkg.Dependent"] = {"dep"};
        o.services["pkg.Independent"] = {"other"};
        o.live_services = {"liveness"};
        o.watch_interval = std::chrono::milliseconds(20);
        health.emplace(probe, o);
        ::grpc::ServerBuilder b;
        b.AddListeningPort("127.0.0.1:0", ::grpc::InsecureServerCredentials(), &port);
        b.RegisterService(&*health);
        server = b.BuildAndStart();
        stub = ::grpc::health::v1::Health::NewStub(
            ::grpc::CreateChannel("127.0.0.1:" + std::to_string(port), ::grpc::InsecureChannelCredentials()));
    }
    ~harness() {
        health->shutdown();
        server->Shutdown();
        server->Wait();
        probe.stop();
    }

    ::grpc::Status check(const std::string& service, hc* out) {
        ::grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        ::grpc::health::v1::HealthCheckRequest req;
        req.set_service(service);
        return stub->Check(&ctx, req, out);
    }

    // The status of `service` once it equals `want`, polled for at most 5 s; the last seen else.
    hc::ServingStatus await(const std::string& service, hc::ServingStatus want) {
        hc r;
        for (int i = 0; i < 250; ++i) {
            if (check(service, &r).ok() && r.status() == want) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return r.status();
    }

    std::atomic<bool> up{true};
    vitals::health::probe probe;
    std::optional<vitals::grpc::health_service> health;
    int port = 0;
    std::unique_ptr<::grpc::Server> server;
    std::unique_ptr<::grpc::health::v1::Health::Stub> stub;
};

TEST(grpc_health_service, check_follows_the_probe) {
    harness h;
    EXPECT_EQ(h.await("", hc::SERVING), hc::SERVING);
    EXPECT_EQ(h.await("pkg.Dependent", hc::SERVING), hc::SERVING);
    h.up = false;
    EXPECT_EQ(h.await("pkg.Dependent", hc::NOT_SERVING), hc::NOT_SERVING);
    EXPECT_EQ(h.await("", hc::NOT_SERVING), hc::NOT_SERVING);
    hc r;
    ASSERT_TRUE(h.check("pkg.Independent", &r).ok());
    EXPECT_EQ(r.status(), hc::SERVING);
    ASSERT_TRUE(h.check("liveness", &r).ok());  // the process is up, whatever its dependencies
    EXPECT_EQ(r.status(), hc::SERVING);
    h.up = true;
    EXPECT_EQ(h.await("", hc::SERVING), hc::SERVING);
    EXPECT_EQ(h.check("no.such.Service", &r).error_code(), ::grpc::StatusCode::NOT_FOUND);
}

TEST(grpc_health_service, watch_streams_changes_and_shutdown_ends_it) {
    harness h;
    ASSERT_EQ(h.await("pkg.Dependent", hc::SERVING), hc::SERVING);
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service("pkg.Dependent");
    auto reader = h.stub->Watch(&ctx, req);
    hc r;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status(), hc::SERVING);
    h.up = false;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status(), hc::NOT_SERVING);
    h.up = true;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status(), hc::SERVING);
    // Shutdown: NOT_SERVING, then the stream ends (OK), and Check says NOT_SERVING too.
    h.health->shutdown();
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status(), hc::NOT_SERVING);
    EXPECT_FALSE(reader->Read(&r));
    EXPECT_TRUE(reader->Finish().ok());
    ASSERT_TRUE(h.check("", &r).ok());
    EXPECT_EQ(r.status(), hc::NOT_SERVING);
    ASSERT_TRUE(h.check("liveness", &r).ok());
    EXPECT_EQ(r.status(), hc::NOT_SERVING);
}

TEST(grpc_health_service, watch_of_an_unknown_name_is_service_unknown) {
    harness h;
    ::grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ::grpc::health::v1::HealthCheckRequest req;
    req.set_service("no.such.Service");
    auto reader = h.stub->Watch(&ctx, req);
    hc r;
    ASSERT_TRUE(reader->Read(&r));
    EXPECT_EQ(r.status(), hc::SERVICE_UNKNOWN);
    ctx.TryCancel();
    while (reader->Read(&r)) {}
    EXPECT_EQ(reader->Finish().error_code(), ::grpc::StatusCode::CANCELLED);
}

// Several watchers and checkers at once while the dependency flaps, then a shutdown with every
// watcher still connected: Server::Shutdown() (no deadline) must return. (Not under TSan: see tests/meson.build.)
TEST(grpc_health_service, concurrent_watchers_and_shutdown) {
    auto h = std::make_unique<harness>();
    std::atomic<int> ended{0};
    std::vector<std::thread> watchers;
    for (int i = 0; i < 4; ++i)
        watchers.emplace_back([&, i] {
            ::grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
            ::grpc::health::v1::HealthCheckRequest req;
            req.set_service(i % 2 ? "" : "pkg.Dependent");
            auto reader = h->stub->Watch(&ctx, req);
            hc r;
            while (reader->Read(&r)) {}
            if (reader->Finish().ok()) ended.fetch_add(1);
        });
    for (int flip = 0; flip < 6; ++flip) {
        h->up = flip % 2 == 1;
        hc r;
        EXPECT_TRUE(h->check("", &r).ok());
        std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
    h.reset();  // shutdown(), then Server::Shutdown() without a deadline
    for (auto& t : watchers) t.join();
    EXPECT_EQ(ended.load(), 4);
}

}  // namespace
