// vitals — Boost.Asio glue for the readiness probe: fresh results delivered on your executor.
//
// probe::check() already answers at once from the latest background results, so an event loop can
// call handle_ready() inline. This is for the other case: running every check *now* (a "refresh"
// endpoint, a startup gate) without blocking an io thread. The probe's scheduler thread reports
// the results; they are posted to the executor the completion handler is associated with (or
// `ex`), so your handler runs where the rest of the connection's code runs.
//
// Include only in programs that use Boost.Asio (header-only).
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "probe.hpp"

namespace vitals::health {

/// Runs every check of `p` except `exclude` now (probe::async_run) and completes with the
/// readiness_report on `ex` (or the handler's associated executor): `token` is any Asio
/// completion token for the signature `void(readiness_report)` — a callback,
/// `boost::asio::use_future`, a coroutine's yield context. The executor is kept busy
/// (work-guarded) until then, so `io_context::run()` does not return early. Completes within the
/// largest check timeout; `p` must outlive the operation.
template <class Executor, class CompletionToken>
auto async_run(probe& p, const Executor& ex, CompletionToken&& token, std::vector<std::string> exclude = {}) {
    return boost::asio::async_initiate<CompletionToken, void(readiness_report)>(
        [&p, ex](auto handler, std::vector<std::string> excluded) {
            using handler_type = decltype(handler);
            // std::function needs a copyable callable; Asio handlers may be move-only.
            auto h = std::make_shared<handler_type>(std::move(handler));
            auto target = boost::asio::get_associated_executor(*h, ex);
            auto work = std::make_shared<boost::asio::executor_work_guard<decltype(target)>>(target);
            p.async_run(
                [h, target, work](readiness_report r) {
                    boost::asio::post(target, [h, work, r = std::move(r)]() mutable {
                        (*h)(std::move(r));
                        work->reset();
                    });
                },
                std::move(excluded));
        },
        token, std::move(exclude));
}

}  // namespace vitals::health
