// vitals — the standard gRPC health service (grpc.health.v1.Health) answered from a
// vitals::health::probe, so that Kubernetes' `grpc:` probes and grpc_health_probe see the same
// readiness as the HTTP probes.
//
// Needs the C++ code protoc and grpc_cpp_plugin generate from grpc.health.v1's health.proto
// (Debian's grpc-proto: /usr/share/grpc-proto/grpc/health/v1/health.proto, compiled with
// --proto_path=/usr/share/grpc-proto), so that "grpc/health/v1/health.grpc.pb.h" is on the
// include path and its .pb.cc files are linked in; the meson build does this
// (vitals_grpc_health_dep).
//
// Answers:
//  * Check never waits on a dependency: it reads the probe's latest results (probe::check and
//    check_one return at once). The empty service name is the probe's overall readiness; other
//    names are mapped to lists of checks (all must be up), or are live names (SERVING while the
//    process runs); an unmapped name answers NOT_FOUND, as the protocol asks.
//  * Watch sends the status at once and then every change. Changes are found by reading the
//    probe every watch_interval (100 ms by default), not by a notification from the probe: a
//    result can turn stale, and a run hung past its timeout becomes a failure, without any run
//    completing, so only reading the probe's clock-aware answer sees every change. The cost is
//    one lock-and-copy of the results per watcher per interval.
//  * shutdown() answers NOT_SERVING to everything from then on and ends every Watch stream (after
//    sending NOT_SERVING), so that Server::Shutdown() does not wait forever on watchers.
#pragma once

#include <grpc/health/v1/health.grpc.pb.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../health/probe.hpp"

namespace vitals::grpc {

/// Settings of a health_service.
struct health_service_options {
    /// Service names (usually the full names of the gRPC services this server serves,
    /// "pkg.Service") and the probe checks each depends on: the name is SERVING when every one of
    /// them is up (healthy or degraded). An empty list: SERVING while the probe is ready. The
    /// empty name is always the probe's overall readiness and need not be listed.
    std::map<std::string, std::vector<std::string>, std::less<>> services = {};
    /// Names that answer SERVING whatever the checks say, until shutdown(): liveness for
    /// Kubernetes' `grpc:` liveness probe, which must not restart a process because a dependency
    /// is down (the HTTP side's /health, beside /ready).
    std::vector<std::string> live_services = {};
    /// How often a Watch stream reads the probe for a change.
    std::chrono::milliseconds watch_interval{100};
};

/// grpc.health.v1.Health backed by a probe (see the file comment). Register it with
/// ServerBuilder::RegisterService; the probe must outlive it.
class health_service final : public ::grpc::health::v1::Health::Service {
public:
    /// The protocol's serving status.
    using serving_status = ::grpc::health::v1::HealthCheckResponse::ServingStatus;

    /// Answers from `probe` as `options` maps service names to its checks.
    explicit health_service(const vitals::health::probe& probe, health_service_options options = {})
        : probe_(probe), options_(std::move(options)) {}

    /// The status of `service` now; nullopt for a name that is not mapped.
    [[nodiscard]] std::optional<serving_status> status(string_ref service_name) const {
        const std::string_view service = service_name;
        const auto it = options_.services.find(service);
        const bool live = !service.empty() && std::find(options_.live_services.begin(), options_.live_services.end(),
                                                        service) != options_.live_services.end();
        if (!service.empty() && !live && it == options_.services.end()) return std::nullopt;
        if (is_shut_down()) return ::grpc::health::v1::HealthCheckResponse::NOT_SERVING;
        if (live) return ::grpc::health::v1::HealthCheckResponse::SERVING;
        bool up = true;
        if (service.empty() || it->second.empty()) {
            up = probe_.check().ready;
        } else {
            for (const auto& name : it->second) {
                const auto r = probe_.check_one(name);
                if (!r || r->result.status == vitals::health::status::unhealthy) {
                    up = false;
                    break;
                }
            }
        }
        return up ? ::grpc::health::v1::HealthCheckResponse::SERVING
                  : ::grpc::health::v1::HealthCheckResponse::NOT_SERVING;
    }

    /// grpc.health.v1.Health/Check.
    ::grpc::Status Check(::grpc::ServerContext*, const ::grpc::health::v1::HealthCheckRequest* request,
                         ::grpc::health::v1::HealthCheckResponse* response) override {
        const auto s = status(request->service());
        if (!s) return {::grpc::StatusCode::NOT_FOUND, "unknown service"};
        response->set_status(*s);
        return ::grpc::Status::OK;
    }

    /// grpc.health.v1.Health/Watch: the status now, then each change, until the client goes away
    /// or shutdown() is called. An unmapped name is SERVICE_UNKNOWN (the protocol's answer for a
    /// service that may be registered later).
    ::grpc::Status Watch(::grpc::ServerContext* context, const ::grpc::health::v1::HealthCheckRequest* request,
                         ::grpc::ServerWriter<::grpc::health::v1::HealthCheckResponse>* writer) override {
        std::optional<serving_status> sent;
        for (;;) {
            const bool final = is_shut_down();
            const serving_status now =
                status(request->service()).value_or(::grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
            if (!sent || *sent != now) {
                ::grpc::health::v1::HealthCheckResponse response;
                response.set_status(now);
                if (!writer->Write(response)) return {::grpc::StatusCode::CANCELLED, "the client went away"};
                sent = now;
            }
            if (final) return ::grpc::Status::OK;
            if (context->IsCancelled()) return {::grpc::StatusCode::CANCELLED, "cancelled by the client"};
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, options_.watch_interval, [&] { return shut_down_; });
        }
    }

    /// From now on every name answers NOT_SERVING, and Watch streams send it and end. Call it
    /// before Server::Shutdown(). Idempotent.
    void shutdown() {
        {
            std::lock_guard lock(mu_);
            shut_down_ = true;
        }
        cv_.notify_all();
    }

private:
    [[nodiscard]] bool is_shut_down() const {
        std::lock_guard lock(mu_);
        return shut_down_;
    }

    const vitals::health::probe& probe_;
    health_service_options options_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool shut_down_ = false;
};

}  // namespace vitals::grpc
