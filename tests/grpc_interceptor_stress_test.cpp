// The concurrent parts of include/vitals/grpc/ that are vitals' own, under ThreadSanitizer:
// interceptors made and fed hook points from 8 threads and deleted on other threads (the
// per-thread block caches), lookups in the method table, scrapes every 100 ms meanwhile, and the
// health service's answers racing its shutdown(). gRPC's library is not instrumented, so the tests
// with a real gRPC server (grpc_metrics_test, grpc_health_service_test) cannot run clean under
// TSan; this one drives the interceptors through a scripted InterceptorBatchMethods instead, so
// every access TSan sees is vitals' or the test's. Counts must come out exact.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <vitals/exposition/text.hpp>
#include <vitals/grpc/client_metrics.hpp>
#include <vitals/grpc/health_service.hpp>
#include <vitals/grpc/server_metrics.hpp>

#include "support/consumer_checks.hpp"

namespace {

using hook = ::grpc::experimental::InterceptionHookPoints;

// One batch: the hook points it has, a received message or none, the status sent or received.
class scripted_batch final : public ::grpc::experimental::InterceptorBatchMethods {
public:
    scripted_batch(hook h, bool message, ::grpc::Status status = ::grpc::Status::OK)
        : hook_(h), message_(message), status_(std::move(status)) {}
    bool QueryInterceptionHookPoint(hook type) override { return type == hook_; }
    void Proceed() override { ++proceeded; }
    void Hijack() override { std::abort(); }
    ::grpc::ByteBuffer* GetSerializedSendMessage() override { return nullptr; }
    const void* GetSendMessage() override { return nullptr; }
    void ModifySendMessage(const void*) override {}
    bool GetSendMessageStatus() override { return true; }
    std::multimap<std::string, std::string>* GetSendInitialMetadata() override { return nullptr; }
    ::grpc::Status GetSendStatus() override { return status_; }
    void ModifySendStatus(const ::grpc::Status&) override {}
    std::multimap<std::string, std::string>* GetSendTrailingMetadata() override { return nullptr; }
    void* GetRecvMessage() override { return message_ ? &dummy_ : nullptr; }
    std::multimap<::grpc::string_ref, ::grpc::string_ref>* GetRecvInitialMetadata() override { return nullptr; }
    ::grpc::Status* GetRecvStatus() override { return &status_; }
    std::multimap<::grpc::string_ref, ::grpc::string_ref>* GetRecvTrailingMetadata() override { return nullptr; }
    std::unique_ptr<::grpc::ChannelInterface> GetInterceptedChannel() override { return nullptr; }
    void FailHijackedRecvMessage() override {}
    void FailHijackedSendMessage() override {}

    int proceeded = 0;

private:
    hook hook_;
    bool message_;
    ::grpc::Status status_;
    int dummy_ = 0;
};

double value(const std::string& text, std::string_view prefix) {
    const auto at = text.find(prefix);
    if (at == std::string::npos) return -1;
    const auto sp = text.find(' ', at + prefix.size());
    return std::strtod(text.c_str() + sp + 1, nullptr);
}

TEST(grpc_interceptor_stress, exact_counts_from_eight_threads_with_cross_thread_deletes_and_scrapes) {
    vitals::registry registry;
    vitals::grpc::rpc_metrics_options o;
    o.handling_time_histogram = true;
    const std::vector<vitals::grpc::method_info> methods = {{"/pkg.S/Chat", vitals::grpc::rpc_type::bidi_stream},
                                                            {"/pkg.S/Get", vitals::grpc::rpc_type::unary}};
    vitals::grpc::server_metrics server(registry, methods, o);
    vitals::grpc::client_metrics client(registry, methods, o);
    // A table of its own ("grpc_stress_*"), beside the two sides' families: both interceptor kinds
    // feed its rows here, which needs no RpcInfo (gRPC makes those, with private constructors).
    const vitals::grpc::detail::method_table table(registry, "stress", methods, o, {"a", "b", "c", "d", "e"});

    constexpr int threads = 8, calls = 400, messages = 5;
    // Finished interceptors are handed to another thread to delete, as gRPC ends calls on
    // completion-queue threads.
    std::mutex mu;
    std::vector<::grpc::experimental::Interceptor*> graveyard;
    std::atomic<bool> done{false};
    std::thread reaper([&] {
        for (;;) {
            std::vector<::grpc::experimental::Interceptor*> batch;
            {
                std::lock_guard lock(mu);
                batch.swap(graveyard);
            }
            for (auto* i : batch) delete i;
            if (batch.empty() && done.load()) return;
            std::this_thread::yield();
        }
    });
    std::atomic<int> scrapes{0};
    std::thread scraper([&] {
        while (!done.load()) {
            const std::string text = vitals::render_text(registry);
            if (scrapes.fetch_add(1) == 0) vitals_test::expect_promtool_accepts(text);
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            for (int c = 0; c < calls; ++c) {
                const auto& chat = table.find("/pkg.S/Chat", vitals::grpc::rpc_type::bidi_stream);
                auto* s = new vitals::grpc::detail::server_interceptor(chat, nullptr);
                auto* k = new vitals::grpc::detail::client_interceptor(chat);
                for (int m = 0; m < messages; ++m) {
                    scripted_batch in(hook::POST_RECV_MESSAGE, true), out(hook::PRE_SEND_MESSAGE, false);
                    s->Intercept(&in);
                    s->Intercept(&out);
                    k->Intercept(&in);
                    k->Intercept(&out);
                }
                scripted_batch end_of_stream(hook::POST_RECV_MESSAGE, false);  // not a message
                s->Intercept(&end_of_stream);
                const ::grpc::Status st =
                    (t + c) % 2 ? ::grpc::Status::OK : ::grpc::Status(::grpc::StatusCode::NOT_FOUND, "x");
                scripted_batch status(hook::PRE_SEND_STATUS, false, st), recv(hook::POST_RECV_STATUS, false, st);
                s->Intercept(&status);
                k->Intercept(&recv);
                std::lock_guard lock(mu);
                graveyard.push_back(s);
                graveyard.push_back(k);
            }
        });
    for (auto& w : workers) w.join();
    done = true;
    scraper.join();
    reaper.join();
    EXPECT_GE(scrapes.load(), 1);
    const std::string text = vitals::render_text(registry);
    const std::string chat = "{grpc_type=\"bidi_stream\",grpc_service=\"pkg.S\",grpc_method=\"Chat\"";
    const double total = 2.0 * threads * calls;  // a server and a client interceptor per call, one row
    EXPECT_EQ(value(text, "grpc_stress_started_total" + chat), total);
    EXPECT_EQ(value(text, "grpc_stress_msg_received_total" + chat), total * messages);
    EXPECT_EQ(value(text, "grpc_stress_msg_sent_total" + chat), total * messages);
    EXPECT_EQ(value(text, "grpc_stress_handled_total" + chat + ",grpc_code=\"OK\""), total / 2);
    EXPECT_EQ(value(text, "grpc_stress_handled_total" + chat + ",grpc_code=\"NotFound\""), total / 2);
    EXPECT_EQ(value(text, "grpc_stress_handling_seconds_count" + chat), total);
    vitals_test::expect_promtool_accepts(text);
}

TEST(grpc_interceptor_stress, health_answers_race_shutdown) {
    vitals::health::check_options fast;
    fast.interval = std::chrono::milliseconds(5);
    std::atomic<bool> up{true};
    vitals::health::probe probe;
    probe.add(
        "dep", [&] { return up.load() ? vitals::health::healthy() : vitals::health::unhealthy("down"); }, fast);
    vitals::grpc::health_service_options o;
    o.services["pkg.S"] = {"dep"};
    vitals::grpc::health_service health(probe, o);
    std::atomic<int> answered{0};
    std::vector<std::thread> askers;
    for (int t = 0; t < 4; ++t)
        askers.emplace_back([&] {
            for (int i = 0; i < 500; ++i) {
                ::grpc::health::v1::HealthCheckRequest req;
                req.set_service(i % 2 ? "" : "pkg.S");
                ::grpc::health::v1::HealthCheckResponse res;
                if (health.Check(nullptr, &req, &res).ok()) answered.fetch_add(1);
                up = i % 3 != 0;
            }
        });
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    health.shutdown();
    for (auto& a : askers) a.join();
    EXPECT_EQ(answered.load(), 2000);
    EXPECT_EQ(health.status("pkg.S"), ::grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    EXPECT_EQ(health.status(""), ::grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    probe.stop();
}

}  // namespace
