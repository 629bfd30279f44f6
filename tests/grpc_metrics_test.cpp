// vitals::grpc::server_metrics and client_metrics (include/vitals/grpc/server_metrics.hpp,
// client_metrics.hpp) on a real gRPC server and client over loopback: unary and streaming calls,
// every status code the example's handlers return, deadline exceeded and cancellation by the
// client; each scrape's counts must equal what was sent, per method and code, and promtool must
// accept every scrape. Then 8 concurrent streams with a scrape every 100 ms: exact counts.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <vitals/exposition/text.hpp>
#include <vitals/grpc/client_metrics.hpp>
#include <vitals/grpc/server_metrics.hpp>

#include "grpc_kv_service.hpp"
#include "support/consumer_checks.hpp"

namespace {

using vitals::grpc::code_name;
namespace ex = vitals::example;

constexpr const char* service_name = "vitals.example.KeyValue";

// The server and a client channel, both instrumented, on one registry (as a service that calls
// itself would have; the families are distinct).
struct harness {
    explicit harness(bool histogram = true) {
        vitals::grpc::rpc_metrics_options o;
        o.handling_time_histogram = histogram;
        o.buckets = {0.001, 0.01, 0.1, 1};
        server_metrics.emplace(registry, vitals::grpc::methods_of(service_name), o);
        client_metrics.emplace(registry, vitals::grpc::methods_of(service_name), o);
        ::grpc::ServerBuilder b;
        b.AddListeningPort("127.0.0.1:0", ::grpc::InsecureServerCredentials(), &port);
        b.RegisterService(&kv);
        std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> si;
        si.push_back(server_metrics->interceptor_factory());
        b.experimental().SetInterceptorCreators(std::move(si));
        server = b.BuildAndStart();
        std::vector<std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface>> ci;
        ci.push_back(client_metrics->interceptor_factory());
        channel = ::grpc::experimental::CreateCustomChannelWithInterceptors("127.0.0.1:" + std::to_string(port),
                                                                            ::grpc::InsecureChannelCredentials(),
                                                                            ::grpc::ChannelArguments(), std::move(ci));
        stub = ex::KeyValue::NewStub(channel);
    }
    ~harness() {
        server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
        server->Wait();
    }

    std::string scrape() const { return vitals::render_text(registry); }

    vitals::registry registry;
    std::optional<vitals::grpc::server_metrics> server_metrics;
    std::optional<vitals::grpc::client_metrics> client_metrics;
    kv_example::service kv;
    int port = 0;
    std::unique_ptr<::grpc::Server> server;
    std::shared_ptr<::grpc::Channel> channel;
    std::unique_ptr<ex::KeyValue::Stub> stub;
};

// A deadline for every call, so that no call can hang the test.
void bound(::grpc::ClientContext& ctx, std::chrono::milliseconds d = std::chrono::seconds(10)) {
    ctx.set_deadline(std::chrono::system_clock::now() + d);
}

// What the test sent, per (side-independent) method row and code.
struct expected {
    std::map<std::string, double> started, received, sent;  // by method
    std::map<std::pair<std::string, std::string>, double> handled;
};

std::vector<std::string> row(const std::string& type, const std::string& method) {
    return {"grpc_type=\"" + type + "\"", "grpc_service=\"" + std::string(service_name) + "\"",
            "grpc_method=\"" + method + "\""};
}

// The value of `name{labels...}` in a text scrape (every `key="value"` in `labels` on the line);
// -1 when no line matches, the sum when several do.
double value(const std::string& text, const std::string& name, const std::vector<std::string>& labels) {
    double total = 0;
    bool found = false;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        const std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#' || line.substr(0, name.size()) != name) continue;
        if (line.size() <= name.size() || (line[name.size()] != '{' && line[name.size()] != ' ')) continue;
        bool all = true;
        for (const auto& l : labels) all = all && line.find(l) != std::string_view::npos;
        if (!all) continue;
        total += std::strtod(std::string(line.substr(line.rfind(' ') + 1)).c_str(), nullptr);
        found = true;
    }
    return found ? total : -1;
}

const std::map<std::string, std::string> types = {{"Get", "unary"},
                                                  {"Put", "unary"},
                                                  {"Scan", "server_stream"},
                                                  {"PutMany", "client_stream"},
                                                  {"Exchange", "bidi_stream"}};

// Every series of both sides equals `e` (codes not in e: 0); the histogram's count equals handled.
void expect_counts(const std::string& text, const expected& e, bool histogram = true) {
    for (const auto& entry : types) {
        const std::string& method = entry.first;  // a plain name: Clang 14 cannot capture bindings
        const auto labels = row(entry.second, method);
        auto at = [&](const std::map<std::string, double>& m) {
            const auto it = m.find(method);
            return it == m.end() ? 0.0 : it->second;
        };
        double handled_total = 0;
        for (int c = 0; c < static_cast<int>(vitals::grpc::code_count); ++c) {
            auto l = labels;
            l.push_back("grpc_code=\"" + std::string(code_name(c)) + "\"");
            const auto it = e.handled.find({method, std::string(code_name(c))});
            const double want = it == e.handled.end() ? 0 : it->second;
            handled_total += want;
            for (const char* side : {"server", "client"}) {
                EXPECT_EQ(value(text, std::string("grpc_") + side + "_handled_total", l), want)
                    << side << " " << method << " " << code_name(c);
            }
        }
        for (const char* side : {"server", "client"}) {
            const std::string s = std::string("grpc_") + side;
            EXPECT_EQ(value(text, s + "_started_total", labels), at(e.started)) << side << " " << method;
            if (histogram) {
                EXPECT_EQ(value(text, s + "_handling_seconds_count", labels), handled_total) << side << " " << method;
            }
        }
        // Messages: what the client sent the server received, and the other way round.
        EXPECT_EQ(value(text, "grpc_client_msg_sent_total", labels), at(e.sent)) << method;
        EXPECT_EQ(value(text, "grpc_server_msg_received_total", labels), at(e.sent)) << method;
        EXPECT_EQ(value(text, "grpc_server_msg_sent_total", labels), at(e.received)) << method;
        EXPECT_EQ(value(text, "grpc_client_msg_received_total", labels), at(e.received)) << method;
    }
}

TEST(grpc_metrics, every_series_exists_before_the_first_call) {
    harness h;
    const std::string text = h.scrape();
    expect_counts(text, {});
    // 5 methods + 4 unknown rows, 17 codes each, on both sides.
    for (const char* side : {"server", "client"}) {
        double rows = 0;
        std::size_t pos = 0;
        const std::string name = std::string("grpc_") + side + "_handled_total{";
        while ((pos = text.find(name, pos)) != std::string::npos) {
            ++rows;
            ++pos;
        }
        EXPECT_EQ(rows, 9 * 17) << side;
    }
    vitals_test::expect_promtool_accepts(text);
}

TEST(grpc_metrics, unary_and_streaming_calls_with_every_code_deadline_and_cancel) {
    harness h;
    expected e;
    auto unary_get = [&](const std::string& key, const std::string& want_code) {
        ::grpc::ClientContext ctx;
        bound(ctx);
        ex::GetRequest req;
        req.set_key(key);
        ex::GetReply rep;
        const auto st = h.stub->Get(&ctx, req, &rep);
        EXPECT_EQ(code_name(st.error_code()), want_code) << key;
        e.started["Get"] += 1;
        e.sent["Get"] += 1;
        if (st.ok()) e.received["Get"] += 1;
        e.handled[{"Get", want_code}] += 1;
    };
    // Put: OK twice, INVALID_ARGUMENT once.
    for (const char* key : {"a", "b", ""}) {
        ::grpc::ClientContext ctx;
        bound(ctx);
        ex::PutRequest req;
        req.set_key(key);
        req.set_value(std::string("value of ") + key);
        ex::PutReply rep;
        const auto st = h.stub->Put(&ctx, req, &rep);
        const std::string code(code_name(*key ? 0 : 3));
        EXPECT_EQ(code_name(st.error_code()), code);
        e.started["Put"] += 1;
        e.sent["Put"] += 1;
        if (st.ok()) e.received["Put"] += 1;
        e.handled[{"Put", code}] += 1;
    }
    unary_get("a", "OK");
    unary_get("missing", "NotFound");
    // Every code a handler can return (fail:N answers N).
    for (int c = 1; c < static_cast<int>(vitals::grpc::code_count); ++c)
        unary_get("fail:" + std::to_string(c), std::string(code_name(c)));
    {
        // Deadline exceeded: the handler sleeps past the client's deadline.
        ::grpc::ClientContext ctx;
        bound(ctx, std::chrono::milliseconds(100));
        ex::GetRequest req;
        req.set_key("sleep:2000");
        ex::GetReply rep;
        EXPECT_EQ(h.stub->Get(&ctx, req, &rep).error_code(), ::grpc::StatusCode::DEADLINE_EXCEEDED);
        e.started["Get"] += 1;
        e.sent["Get"] += 1;
        e.handled[{"Get", "DeadlineExceeded"}] += 1;
    }
    {
        // Cancelled by the client while the handler runs.
        ::grpc::ClientContext ctx;
        bound(ctx);
        ex::GetRequest req;
        req.set_key("sleep:2000");
        std::thread canceller([&ctx] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            ctx.TryCancel();
        });
        ex::GetReply rep;
        EXPECT_EQ(h.stub->Get(&ctx, req, &rep).error_code(), ::grpc::StatusCode::CANCELLED);
        canceller.join();
        e.started["Get"] += 1;
        e.sent["Get"] += 1;
        e.handled[{"Get", "Canceled"}] += 1;
    }
    {
        // Client stream: 5 puts, OK; then 3 with one empty key, INVALID_ARGUMENT.
        for (int round = 0; round < 2; ++round) {
            ::grpc::ClientContext ctx;
            bound(ctx);
            ex::PutReply rep;
            auto w = h.stub->PutMany(&ctx, &rep);
            const int n = round == 0 ? 5 : 3;
            for (int i = 0; i < n; ++i) {
                ex::PutRequest req;
                req.set_key(round == 1 && i == 1 ? "" : "k" + std::to_string(i));
                req.set_value("v");
                ASSERT_TRUE(w->Write(req));
            }
            w->WritesDone();
            const auto st = w->Finish();
            const std::string code(code_name(round == 0 ? 0 : 3));
            EXPECT_EQ(code_name(st.error_code()), code);
            e.started["PutMany"] += 1;
            e.sent["PutMany"] += n;
            if (st.ok()) e.received["PutMany"] += 1;
            e.handled[{"PutMany", code}] += 1;
        }
    }
    {
        // Server stream: Scan("k") answers k0..k4.
        ::grpc::ClientContext ctx;
        bound(ctx);
        ex::ScanRequest req;
        req.set_prefix("k");
        auto r = h.stub->Scan(&ctx, req);
        ex::Entry entry;
        int got = 0;
        while (r->Read(&entry)) ++got;
        EXPECT_TRUE(r->Finish().ok());
        EXPECT_EQ(got, 5);
        e.started["Scan"] += 1;
        e.sent["Scan"] += 1;
        e.received["Scan"] += got;
        e.handled[{"Scan", "OK"}] += 1;
    }
    {
        // Bidi: 4 requests, 4 replies, OK.
        ::grpc::ClientContext ctx;
        bound(ctx);
        auto s = h.stub->Exchange(&ctx);
        int got = 0;
        for (int i = 0; i < 4; ++i) {
            ex::GetRequest req;
            req.set_key("k" + std::to_string(i));
            ASSERT_TRUE(s->Write(req));
            ex::GetReply rep;
            ASSERT_TRUE(s->Read(&rep));
            EXPECT_EQ(rep.value(), "v");
            ++got;
        }
        s->WritesDone();
        EXPECT_TRUE(s->Finish().ok());
        e.started["Exchange"] += 1;
        e.sent["Exchange"] += 4;
        e.received["Exchange"] += got;
        e.handled[{"Exchange", "OK"}] += 1;
    }
    // The server counts a call when it sends its status, which can follow the client's return by
    // a moment (a cancelled handler still sleeps its 5 ms step): wait until the handled counts
    // agree, bounded.
    std::string text;
    for (int i = 0; i < 200; ++i) {
        text = h.scrape();
        double server = 0, client = 0;
        for (const auto& [m, t] : types) {
            server += value(text, "grpc_server_handled_total", row(t, m));
            client += value(text, "grpc_client_handled_total", row(t, m));
        }
        if (server == client) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    expect_counts(text, e);
    vitals_test::expect_promtool_accepts(text);
}

TEST(grpc_metrics, unknown_methods_share_one_row) {
    // A server that serves KeyValue but whose table lists only Health: its calls go to the
    // unknown rows, one per type, whatever the method names.
    vitals::registry registry;
    vitals::grpc::server_metrics metrics(registry, {{"/grpc.health.v1.Health/Check", vitals::grpc::rpc_type::unary}});
    kv_example::service kv;
    int port = 0;
    ::grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", ::grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&kv);
    std::vector<std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface>> si;
    si.push_back(metrics.interceptor_factory());
    b.experimental().SetInterceptorCreators(std::move(si));
    auto server = b.BuildAndStart();
    auto stub = ex::KeyValue::NewStub(
        ::grpc::CreateChannel("127.0.0.1:" + std::to_string(port), ::grpc::InsecureChannelCredentials()));
    for (const char* key : {"x", "y"}) {
        ::grpc::ClientContext ctx;
        bound(ctx);
        ex::PutRequest req;
        req.set_key(key);
        ex::PutReply rep;
        EXPECT_TRUE(stub->Put(&ctx, req, &rep).ok());
    }
    server->Shutdown();
    server->Wait();
    const std::string text = vitals::render_text(registry);
    const std::vector<std::string> unknown = {"grpc_type=\"unary\"", "grpc_service=\"unknown\"",
                                              "grpc_method=\"unknown\""};
    EXPECT_EQ(value(text, "grpc_server_started_total", unknown), 2);
    EXPECT_EQ(text.find("KeyValue"), std::string::npos) << text;
    vitals_test::expect_promtool_accepts(text);
}

TEST(grpc_metrics, bad_method_names_are_refused) {
    vitals::registry r;
    EXPECT_THROW(vitals::grpc::server_metrics(r, {{"Get", vitals::grpc::rpc_type::unary}}),
                 vitals::invalid_argument_error);
    vitals::registry r2;
    EXPECT_THROW(vitals::grpc::server_metrics(
                     r2, {{"/a.B/C", vitals::grpc::rpc_type::unary}, {"/a.B/C", vitals::grpc::rpc_type::unary}}),
                 vitals::invalid_argument_error);
    EXPECT_THROW(static_cast<void>(vitals::grpc::methods_of("no.such.Service")), vitals::invalid_argument_error);
}

// 8 bidi streams at once, each sending a fixed number of messages, while a thread scrapes every
// 100 ms: counters never decrease nor pass what the clients send, and promtool accepts every
// scrape (checked after the run, so that its cost does not space the scrapes out); at the end
// every count is exact. (TSan builds skip this file, see tests/meson.build;
// grpc_interceptor_stress_test runs there.)
TEST(grpc_metrics, exact_counts_under_eight_concurrent_streams_and_scrapes) {
    harness h(true);
    constexpr int streams = 8, per_stream = 300;
    std::atomic<bool> done{false};
    std::vector<std::string> taken;  // every scrape, up to a bound
    std::thread scraper([&] {
        double last_received = 0, last_sent = 0;
        while (!done.load()) {
            std::string text = h.scrape();
            const double received = value(text, "grpc_server_msg_received_total", row("bidi_stream", "Exchange"));
            const double sent = value(text, "grpc_server_msg_sent_total", row("bidi_stream", "Exchange"));
            EXPECT_GE(received, last_received);
            EXPECT_GE(sent, last_sent);
            EXPECT_LE(received, streams * per_stream);
            EXPECT_LE(value(text, "grpc_server_started_total", row("bidi_stream", "Exchange")), streams);
            last_received = received;
            last_sent = sent;
            if (taken.size() < 300) taken.push_back(std::move(text));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    });
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int s = 0; s < streams; ++s)
        clients.emplace_back([&, s] {
            ::grpc::ClientContext ctx;
            bound(ctx, std::chrono::seconds(60));
            auto st = h.stub->Exchange(&ctx);
            for (int i = 0; i < per_stream; ++i) {
                ex::GetRequest req;
                req.set_key("s" + std::to_string(s));
                if (!st->Write(req)) return;
                ex::GetReply rep;
                if (!st->Read(&rep)) return;
            }
            st->WritesDone();
            if (st->Finish().ok()) ok.fetch_add(1);
        });
    for (auto& t : clients) t.join();
    done = true;
    scraper.join();
    ASSERT_EQ(ok.load(), streams);
    EXPECT_GE(taken.size(), 1u);
    for (const auto& t : taken) vitals_test::expect_promtool_accepts(t);
    expected e;
    e.started["Exchange"] = streams;
    e.sent["Exchange"] = streams * per_stream;
    e.received["Exchange"] = streams * per_stream;
    e.handled[{"Exchange", "OK"}] = streams;
    std::string text;
    for (int i = 0; i < 200; ++i) {  // the server's count follows the client's Finish
        text = h.scrape();
        if (value(text, "grpc_server_handled_total", row("bidi_stream", "Exchange")) == streams) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    expect_counts(text, e);
    vitals_test::expect_promtool_accepts(text);
}

}  // namespace
