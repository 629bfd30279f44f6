// vitals — gRPC client metrics under go-grpc-prometheus' names, from a client interceptor.
//
//   vitals::grpc::client_metrics metrics(registry, vitals::grpc::methods_of("pkg.Service"));
//   auto channel = ::grpc::experimental::CreateCustomChannelWithInterceptors(target, creds, args,
//                                                                           {metrics.interceptor_factory()});
//
// Series: grpc_client_started_total, grpc_client_handled_total{grpc_code},
// grpc_client_msg_received_total, grpc_client_msg_sent_total, and, when asked for,
// grpc_client_handling_seconds; all labelled grpc_type, grpc_service, grpc_method. A call counts
// as handled when its status is received (Finish()): deadline exceeded and cancellation by the
// caller arrive as statuses like any other. A stream that is never finished is started and never
// handled, as in the reference.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "rpc_metrics.hpp"

namespace vitals::grpc {

namespace detail {

[[nodiscard]] constexpr rpc_type client_type(::grpc::experimental::ClientRpcInfo::Type t) noexcept {
    using T = ::grpc::experimental::ClientRpcInfo::Type;
    switch (t) {
        case T::CLIENT_STREAMING:
            return rpc_type::client_stream;
        case T::SERVER_STREAMING:
            return rpc_type::server_stream;
        case T::BIDI_STREAMING:
            return rpc_type::bidi_stream;
        default:
            return rpc_type::unary;
    }
}

// One call's interceptor; the hooks of a stream's reader and writer may run at once.
class client_interceptor final : public ::grpc::experimental::Interceptor {
public:
    explicit client_interceptor(const method_series& s) : s_(s), t0_(start_time(s)) { s_.started.inc(); }

    static void* operator new(std::size_t n) {
        if (n != sizeof(client_interceptor)) return ::operator new(n);
        return block_cache<sizeof(client_interceptor)>::take();
    }
    static void operator delete(void* p, std::size_t n) noexcept {
        if (n != sizeof(client_interceptor)) return ::operator delete(p);
        block_cache<sizeof(client_interceptor)>::give(p);
    }

    void Intercept(::grpc::experimental::InterceptorBatchMethods* m) override {
        using hook = ::grpc::experimental::InterceptionHookPoints;
        if (m->QueryInterceptionHookPoint(hook::PRE_SEND_MESSAGE)) s_.msg_sent.inc();
        if (m->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE) && m->GetRecvMessage()) s_.msg_received.inc();
        if (m->QueryInterceptionHookPoint(hook::POST_RECV_STATUS)) {
            const ::grpc::Status* st = m->GetRecvStatus();
            if (!done_.exchange(true, std::memory_order_acq_rel))
                s_.finish(st ? static_cast<int>(st->error_code()) : ::grpc::StatusCode::UNKNOWN, t0_);
        }
        m->Proceed();
    }

private:
    const method_series& s_;
    std::chrono::steady_clock::time_point t0_;
    std::atomic<bool> done_{false};
};

}  // namespace detail

/// The client metrics of one registry and a closed set of methods. Outlives every channel that
/// uses its interceptor factory. Thread-safe; a call costs no lock and no allocation of ours.
class client_metrics {
public:
    /// Registers the families in `r` and every series of `methods`; throws as server_metrics does.
    client_metrics(registry& r, const std::vector<method_info>& methods, rpc_metrics_options options = {})
        : table_(r, "client", methods, options,
                 {"Total number of RPCs started on the client.",
                  "Total number of RPCs completed by the client, regardless of success or failure.",
                  "Total number of RPC stream messages received by the client.",
                  "Total number of gRPC stream messages sent by the client.",
                  "Histogram of response latency (seconds) of the gRPC until it is finished by the application."}) {}

    client_metrics(const client_metrics&) = delete;
    client_metrics& operator=(const client_metrics&) = delete;

    /// A factory for CreateCustomChannelWithInterceptors(); it refers to this object, which must
    /// outlive the channel.
    [[nodiscard]] std::unique_ptr<::grpc::experimental::ClientInterceptorFactoryInterface> interceptor_factory() {
        return std::make_unique<factory>(table_);
    }

    /// Number of methods in the table (the unknown rows aside).
    [[nodiscard]] std::size_t methods() const noexcept { return table_.size(); }

private:
    class factory final : public ::grpc::experimental::ClientInterceptorFactoryInterface {
    public:
        explicit factory(const detail::method_table& t) : t_(t) {}
        ::grpc::experimental::Interceptor* CreateClientInterceptor(::grpc::experimental::ClientRpcInfo* info) override {
            const char* m = info->method();
            return new detail::client_interceptor(t_.find(m ? m : "", detail::client_type(info->type())));
        }

    private:
        const detail::method_table& t_;
    };

    detail::method_table table_;
};

}  // namespace vitals::grpc
