// vitals — what the gRPC server and client metrics share: the label vocabulary of the
// grpc-ecosystem interceptors (go-grpc-prometheus) and a closed table of per-method handles.
//
// Why a closed table built up front: a method's full name ("/pkg.Service/Method") arrives with
// every call, and looking series up by label values would hash and compare strings and, for a new
// name, allocate a series. The methods a server serves (or a client calls) are known when it is
// built, so every series (started, the 17 codes of handled, both message counters, the optional
// latency histogram) is made at construction; a call then finds its method in an immutable hash
// table (no lock) and bumps handles (no allocation). A name outside the table is counted under
// grpc_service="unknown", grpc_method="unknown", so that no peer can grow the number of series.
//
// Optional part: needs gRPC C++ (Debian's libgrpc++-dev); <vitals/vitals.hpp> leaves it out.
#pragma once

#include <google/protobuf/descriptor.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/support/client_interceptor.h>
#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/error.hpp"
#include "../core/counter.hpp"
#include "../core/histogram.hpp"
#include "../core/registry.hpp"

namespace vitals::grpc {

/// The shape of an RPC: the `grpc_type` label.
enum class rpc_type : std::uint8_t { unary, client_stream, server_stream, bidi_stream };

/// Number of rpc_type values.
inline constexpr std::size_t rpc_type_count = 4;

/// The `grpc_type` label value of `t`, as go-grpc-prometheus writes it.
[[nodiscard]] constexpr string_ref rpc_type_name(rpc_type t) noexcept {
    constexpr string_ref names[rpc_type_count] = {"unary", "client_stream", "server_stream", "bidi_stream"};
    return names[static_cast<std::size_t>(t)];
}

/// The rpc_type of a method that streams requests (`client_streaming`), responses, both or neither.
[[nodiscard]] constexpr rpc_type rpc_type_of(bool client_streaming, bool server_streaming) noexcept {
    if (client_streaming && server_streaming) return rpc_type::bidi_stream;
    if (client_streaming) return rpc_type::client_stream;
    if (server_streaming) return rpc_type::server_stream;
    return rpc_type::unary;
}

/// Number of gRPC status codes (OK = 0 to UNAUTHENTICATED = 16).
inline constexpr std::size_t code_count = 17;

/// The `grpc_code` label value of status code `code`: Go's codes.Code names, which is what the
/// reference interceptors (and every dashboard built on them) write: "OK", "Canceled",
/// "DeadlineExceeded"... A code outside 0–16 is "Unknown", as gRPC itself treats it.
[[nodiscard]] constexpr string_ref code_name(int code) noexcept {
    constexpr string_ref names[code_count] = {
        "OK",       "Canceled",       "Unknown",          "InvalidArgument",   "DeadlineExceeded",
        "NotFound", "AlreadyExists",  "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
        "Aborted",  "OutOfRange",     "Unimplemented",    "Internal",          "Unavailable",
        "DataLoss", "Unauthenticated"};
    return code >= 0 && code < static_cast<int>(code_count) ? names[code] : names[2];
}

/// The `grpc_service` and `grpc_method` values of calls to methods outside the table.
inline constexpr string_ref unknown_name = "unknown";

/// One method of the table: its full name as gRPC passes it ("/pkg.Service/Method") and its shape.
struct method_info {
    /// "/pkg.Service/Method".
    std::string full_name;
    /// Unary or streaming.
    rpc_type type = rpc_type::unary;
};

/// The methods of the service `full_service_name` ("pkg.Service"), read from the protobuf
/// descriptors that generated code links in (so the service's generated .pb.cc must be part of
/// the program). Throws invalid_argument_error when no such service is linked in.
[[nodiscard]] inline std::vector<method_info> methods_of(string_ref full_service_name) {
    const auto* pool = ::google::protobuf::DescriptorPool::generated_pool();
    const auto* service = pool->FindServiceByName(std::string(full_service_name));
    if (!service)
        throw invalid_argument_error("vitals::grpc: no service '", full_service_name,
                                     "' in the generated descriptors (is its .pb.cc linked in?)");
    std::vector<method_info> out;
    for (int i = 0; i < service->method_count(); ++i) {
        const auto* m = service->method(i);
        out.push_back(
            {"/" + service->full_name() + "/" + m->name(), rpc_type_of(m->client_streaming(), m->server_streaming())});
    }
    return out;
}

/// Settings shared by the server and the client metrics.
struct rpc_metrics_options {
    /// Record the `*_handling_seconds` histogram. Off by default, as in go-grpc-prometheus
    /// (EnableHandlingTimeHistogram): it multiplies the series by the number of buckets.
    bool handling_time_histogram = false;
    /// Its bucket upper bounds (+Inf implied); empty: Prometheus' DefBuckets (5 ms to 10 s), the
    /// reference's default.
    std::vector<double> buckets = {};
};

namespace detail {

// The handles of one (method, type) row: everything a call touches.
struct method_series {
    counter started;
    counter msg_received;
    counter msg_sent;
    std::array<std::optional<counter>, code_count> handled;
    std::optional<histogram> handling;

    // Counts a finished call started at `t0` (see start_time).
    void finish(int code, std::chrono::steady_clock::time_point t0) const {
        handled[static_cast<std::size_t>(code >= 0 && code < static_cast<int>(code_count) ? code : 2)]->inc();
        if (handling) handling->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
};

// The families of one side (grpc_server_* or grpc_client_*) and the closed table of rows.
class method_table {
public:
    using base_labels = labels<"grpc_type", "grpc_service", "grpc_method">;
    using code_labels = labels<"grpc_type", "grpc_service", "grpc_method", "grpc_code">;

    // `side` is "server" or "client"; `help` the help texts in the reference's words.
    method_table(registry& r, std::string_view side, const std::vector<method_info>& methods,
                 const rpc_metrics_options& options, const std::array<std::string_view, 5>& help)
        : started_(r.counter<base_labels>(name(side, "started_total"), help[0])),
          handled_(r.counter<code_labels>(name(side, "handled_total"), help[1])),
          received_(r.counter<base_labels>(name(side, "msg_received_total"), help[2])),
          sent_(r.counter<base_labels>(name(side, "msg_sent_total"), help[3])) {
        if (options.handling_time_histogram) {
            const span<const double> b = options.buckets.empty()
                                             ? span<const double>(default_buckets)
                                             : span<const double>(options.buckets.data(), options.buckets.size());
            handling_ = &r.histogram<base_labels>(name(side, "handling_seconds"), help[4], b);
        }
        rows_.reserve(methods.size());
        for (const auto& m : methods) {
            const std::string_view full = m.full_name;
            const auto slash = full.rfind('/');
            if (full.size() < 4 || full[0] != '/' || slash == 0 || slash + 1 >= full.size())
                throw invalid_argument_error("vitals::grpc: method name '", full, "' is not /package.Service/Method");
            if (by_name_.count(full))
                throw invalid_argument_error("vitals::grpc: method '", full, "' is registered twice");
            rows_.push_back(std::make_unique<row>(
                row{m.full_name, m.type, make(m.type, full.substr(1, slash - 1), full.substr(slash + 1))}));
            by_name_.emplace(rows_.back()->name, rows_.back().get());
        }
        for (std::size_t t = 0; t < rpc_type_count; ++t)
            unknown_[t].emplace(make(static_cast<rpc_type>(t), unknown_name, unknown_name));
    }

    method_table(const method_table&) = delete;
    method_table& operator=(const method_table&) = delete;

    // The row of a call: read-only after construction, so any number of threads may look up
    // at once without a lock; hashing a string_view allocates nothing.
    [[nodiscard]] const method_series& find(std::string_view full_name, rpc_type call_type) const noexcept {
        const auto it = by_name_.find(full_name);
        if (it != by_name_.end() && it->second->type == call_type) return it->second->series;
        return *unknown_[static_cast<std::size_t>(call_type)];
    }

    // Number of methods in the table.
    [[nodiscard]] std::size_t size() const noexcept { return rows_.size(); }

private:
    struct row {
        std::string name;
        rpc_type type;
        method_series series;
    };

    static std::string name(std::string_view side, std::string_view what) {
        std::string n = "grpc_";
        n.append(side).append("_").append(what);
        return n;
    }

    method_series make(rpc_type t, std::string_view service, std::string_view method) {
        const std::string_view type = rpc_type_name(t);
        method_series s{started_.with(type, service, method),
                        received_.with(type, service, method),
                        sent_.with(type, service, method),
                        {},
                        std::nullopt};
        // Every code from the start, as the reference's preregistration does: a rate over
        // handled{grpc_code="Internal"} then reads 0 rather than nothing before the first error.
        for (std::size_t c = 0; c < code_count; ++c)
            s.handled[c].emplace(handled_.with(type, service, method, code_name(static_cast<int>(c))));
        if (handling_) s.handling.emplace(handling_->with(type, service, method));
        return s;
    }

    counter_family<base_labels>& started_;
    counter_family<code_labels>& handled_;
    counter_family<base_labels>& received_;
    counter_family<base_labels>& sent_;
    histogram_family<base_labels>* handling_ = nullptr;
    std::vector<std::unique_ptr<row>> rows_;
    std::unordered_map<std::string_view, const row*> by_name_;
    std::array<std::optional<method_series>, rpc_type_count> unknown_;
};

// The time a call starts, read only when a histogram will use it.
[[nodiscard]] inline std::chrono::steady_clock::time_point start_time(const method_series& s) noexcept {
    return s.handling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
}

// gRPC makes one interceptor object per call and deletes it when the call ends, which would be
// one heap allocation per call of ours. Each thread keeps a few freed blocks of one size to hand
// out again; a block freed on another thread (calls end on completion-queue threads) simply joins
// that thread's cache. No lock: the caches are thread-local.
template <std::size_t Size>
class block_cache {
public:
    static void* take() {
        if (cache* c = local(); c && c->count > 0) return c->blocks[--c->count];
        return ::operator new(Size);
    }
    static void give(void* p) noexcept {
        if (cache* c = local(); c && c->count < c->blocks.size()) {
            c->blocks[c->count++] = p;
            return;
        }
        ::operator delete(p);
    }

private:
    struct cache {
        std::array<void*, 64> blocks{};
        std::size_t count = 0;
        ~cache() {
            gone() = true;  // a call ended later on this thread (at exit) bypasses the cache
            for (std::size_t i = 0; i < count; ++i) ::operator delete(blocks[i]);
        }
    };
    // Trivially destructible, so it still reads true after the cache itself is destroyed.
    static bool& gone() noexcept {
        thread_local bool g = false;
        return g;
    }
    static cache* local() noexcept {
        if (gone()) return nullptr;
        thread_local cache c;
        return &c;
    }
};

}  // namespace detail
}  // namespace vitals::grpc
