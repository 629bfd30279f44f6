// vitals — gRPC server metrics under go-grpc-prometheus' names, from a server interceptor.
//
//   vitals::grpc::server_metrics metrics(registry, vitals::grpc::methods_of("pkg.Service"));
//   builder.experimental().SetInterceptorCreators(interceptors);  // with metrics.interceptor_factory()
//
// Series: grpc_server_started_total, grpc_server_handled_total{grpc_code},
// grpc_server_msg_received_total, grpc_server_msg_sent_total, and, when asked for,
// grpc_server_handling_seconds; all labelled grpc_type, grpc_service, grpc_method.
//
// When a call ends (why here): when the handler sends its status, and with that status, as the
// reference counts what the handler returns; so a handler that notices its client's cancel
// should return CANCELLED (as a Go handler returns ctx.Err()). One exception: a call whose
// deadline has passed counts as DeadlineExceeded, since that is what its client got. A call torn
// down without a status (server shutdown) counts as Unknown when its interceptor goes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "rpc_metrics.hpp"

namespace vitals::grpc {

namespace detail {

[[nodiscard]] constexpr rpc_type server_type(::grpc::experimental::ServerRpcInfo::Type t) noexcept {
    switch (t) {
        case ::grpc::experimental::ServerRpcInfo::Type::CLIENT_STREAMING:
            return rpc_type::client_stream;
        case ::grpc::experimental::ServerRpcInfo::Type::SERVER_STREAMING:
            return rpc_type::server_stream;
        case ::grpc::experimental::ServerRpcInfo::Type::BIDI_STREAMING:
            return rpc_type::bidi_stream;
        default:
            return rpc_type::unary;
    }
}

// One call's interceptor. Hooks of one call can run on two threads at once (a reader and a
// writer of a bidi stream, the completion queue's close), hence the atomics.
class server_interceptor final : public ::grpc::experimental::Interceptor {
public:
    server_interceptor(const method_series& s, ::grpc::experimental::ServerRpcInfo* info)
        : s_(s), info_(info), t0_(start_time(s)) {
        s_.started.inc();
    }
    ~server_interceptor() override {
        // A call torn down without sending a status (the server shutting down) still ends once.
        finish(code_.load(std::memory_order_acquire));
    }

    static void* operator new(std::size_t n) {
        if (n != sizeof(server_interceptor)) return ::operator new(n);
        return block_cache<sizeof(server_interceptor)>::take();
    }
    static void operator delete(void* p, std::size_t n) noexcept {
        if (n != sizeof(server_interceptor)) return ::operator delete(p);
        block_cache<sizeof(server_interceptor)>::give(p);
    }

    void Intercept(::grpc::experimental::InterceptorBatchMethods* m) override {
        using hook = ::grpc::experimental::InterceptionHookPoints;
        if (m->QueryInterceptionHookPoint(hook::POST_RECV_MESSAGE) && m->GetRecvMessage()) s_.msg_received.inc();
        if (m->QueryInterceptionHookPoint(hook::PRE_SEND_MESSAGE)) s_.msg_sent.inc();
        if (m->QueryInterceptionHookPoint(hook::PRE_SEND_STATUS)) {
            int code = static_cast<int>(m->GetSendStatus().error_code());
            // Past its deadline the client has had DEADLINE_EXCEEDED already, whatever the
            // handler returns now. (ServerContext::IsCancelled() would also catch a client's
            // cancel, but on the synchronous API it plucks the completion queue: ~10 % of a
            // loopback unary call, measured by bench/grpc_overhead.)
            auto* ctx = info_ ? info_->server_context() : nullptr;
            if (ctx && code != ::grpc::StatusCode::DEADLINE_EXCEEDED &&
                std::chrono::system_clock::now() >= ctx->deadline())
                code = ::grpc::StatusCode::DEADLINE_EXCEEDED;
            code_.store(code, std::memory_order_release);
            finish(code);
        }
        m->Proceed();
    }

private:
    void finish(int code) {
        if (done_.exchange(true, std::memory_order_acq_rel)) return;
        s_.finish(code < 0 ? ::grpc::StatusCode::UNKNOWN : code, t0_);
    }

    const method_series& s_;
    ::grpc::experimental::ServerRpcInfo* info_;  // owned by the call, which outlives this
    std::chrono::steady_clock::time_point t0_;
    std::atomic<int> code_{-1};  // the status sent; -1 before
    std::atomic<bool> done_{false};
};

}  // namespace detail

/// The server metrics of one registry and a closed set of methods. Outlives every server that
/// uses its interceptor factory. Thread-safe; a call costs no lock and no allocation of ours (the
/// interceptor gRPC asks for each call comes from a per-thread cache of freed ones).
class server_metrics {
public:
    /// Registers the families in `r` and every series of `methods` (the unknown-method rows too).
    /// Throws invalid_argument_error for a malformed or repeated method name or bad buckets,
    /// registration_error when `r` has these names defined otherwise.
    server_metrics(registry& r, const std::vector<method_info>& methods, rpc_metrics_options options = {})
        : table_(r, "server", methods, options,
                 {"Total number of RPCs started on the server.",
                  "Total number of RPCs completed on the server, regardless of success or failure.",
                  "Total number of RPC stream messages received on the server.",
                  "Total number of gRPC stream messages sent by the server.",
                  "Histogram of response latency (seconds) of gRPC that had been application-level handled by the "
                  "server."}) {}

    server_metrics(const server_metrics&) = delete;
    server_metrics& operator=(const server_metrics&) = delete;

    /// A factory for ServerBuilder::experimental().SetInterceptorCreators(); it refers to this
    /// object, which must outlive the server.
    [[nodiscard]] std::unique_ptr<::grpc::experimental::ServerInterceptorFactoryInterface> interceptor_factory() {
        return std::make_unique<factory>(table_);
    }

    /// Number of methods in the table (the unknown rows aside).
    [[nodiscard]] std::size_t methods() const noexcept { return table_.size(); }

private:
    class factory final : public ::grpc::experimental::ServerInterceptorFactoryInterface {
    public:
        explicit factory(const detail::method_table& t) : t_(t) {}
        ::grpc::experimental::Interceptor* CreateServerInterceptor(::grpc::experimental::ServerRpcInfo* info) override {
            const char* m = info->method();
            return new detail::server_interceptor(t_.find(m ? m : "", detail::server_type(info->type())), info);
        }

    private:
        const detail::method_table& t_;
    };

    detail::method_table table_;
};

}  // namespace vitals::grpc
