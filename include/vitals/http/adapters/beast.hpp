// vitals — Boost.Beast adapter: a small instrumented router for Beast requests.
//
// Beast parses and writes HTTP but has no router, so there is no matched route to read: routes
// are added here with their template, which both selects the handler and becomes the `endpoint`
// label. Call the router from your own session loop (sync or async): it returns the response to
// write. A request that matches no route gets 404 and is recorded as endpoint `unmatched`; a
// handler that throws gets 500 and is recorded with error_type "exception".
//
// Include only in programs that use Boost.Beast (header-only; Boost.Asio needs threads).
#pragma once

#include <boost/beast/http.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../health/handler.hpp"
#include "../metrics_endpoint.hpp"
#include "../request_timer.hpp"
#include "../route_template.hpp"

namespace vitals::http {

/// Routes Beast requests by method and route template, timing every request. Add routes before
/// serving; handle() is then safe to call from any number of threads at once.
template <class RequestBody = boost::beast::http::string_body, class ResponseBody = boost::beast::http::string_body>
class beast_router {
public:
    /// The request type handlers receive.
    using request = boost::beast::http::request<RequestBody>;
    /// The response type handlers return.
    using response = boost::beast::http::response<ResponseBody>;
    /// A route's handler; its response's status is the recorded one.
    using handler = std::function<response(const request&)>;

    /// A router recording to `inst`, which must outlive it.
    explicit beast_router(instrumentation& inst) : inst_(inst) {}

    /// Routes `method` requests whose path has the shape of `tmpl` ("/v1/events/{id}") to `h`.
    /// Routes are tried in the order they were added.
    beast_router& add(boost::beast::http::verb method, std::string_view tmpl, handler h) {
        route_template t(tmpl);
        const auto name = boost::beast::http::to_string(method);
        route_metrics& r = inst_.route(std::string_view(name.data(), name.size()), tmpl);
        routes_.push_back({method, std::move(t), &r, std::move(h)});
        return *this;
    }

    /// Serves `r` (which must outlive the router) at GET `path`.
    beast_router& metrics(std::string_view path, const metric_source& r) {
        return add(boost::beast::http::verb::get, path, [&r](const request& req) {
            const auto accept = req[boost::beast::http::field::accept];
            auto m = render_metrics(r, std::string_view(accept.data(), accept.size()));
            response res{boost::beast::http::status::ok, req.version()};
            res.set(boost::beast::http::field::content_type,
                    boost::beast::string_view(m.content_type.data(), m.content_type.size()));
            res.body() = std::move(m.body);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            return res;
        });
    }

    /// Serves liveness at GET `live_path` and readiness at GET `ready_path` (all checks) and
    /// `ready_path`/{check} (one), answered from the probe's latest results: no handler waits on a
    /// dependency, so they are safe on an event loop. `live` and `ready` must outlive the router.
    beast_router& health(const vitals::health::liveness& live, const vitals::health::probe& ready,
                         vitals::health::handler_options options = {}, std::string_view live_path = "/v1/health",
                         std::string_view ready_path = "/v1/ready") {
        add(boost::beast::http::verb::get, live_path, [&live, options](const request& req) {
            return from(req, vitals::health::handle_live(live, query_of(req), options));
        });
        add(boost::beast::http::verb::get, ready_path, [&ready, options](const request& req) {
            return from(req, vitals::health::handle_ready(ready, "", query_of(req), options));
        });
        add(boost::beast::http::verb::get, std::string(ready_path) + "/{check}",
            [&ready, options, prefix = std::string(ready_path)](const request& req) {
                const auto target = req.target();
                const std::string_view path = path_of(std::string_view(target.data(), target.size()));
                return from(req, vitals::health::handle_ready(ready, path.substr(prefix.size()), query_of(req), options));
            });
        return *this;
    }

    /// Handles one request: the matching route's response, 404 when none matches, 500 when the
    /// handler throws.
    response handle(const request& req) const {
        const auto target = req.target();
        const std::string_view path = path_of(std::string_view(target.data(), target.size()));
        for (const auto& r : routes_) {
            if (r.method != req.method() || !r.tmpl.matches(path)) continue;
            try {
                request_timer timer(*r.metrics);
                response res = r.h(req);
                timer.set_status(static_cast<int>(res.result_int()));
                return res;
            } catch (...) {  // the timer has recorded the exception; the client still gets an answer
                return plain(req, boost::beast::http::status::internal_server_error, "internal error\n");
            }
        }
        const auto m = req.method_string();
        request_timer timer(inst_.unmatched().for_method(std::string_view(m.data(), m.size())));
        timer.set_status(404);
        return plain(req, boost::beast::http::status::not_found, "not found\n");
    }

    /// Same as handle().
    response operator()(const request& req) const { return handle(req); }

private:
    struct entry {
        boost::beast::http::verb method;
        route_template tmpl;
        route_metrics* metrics;
        handler h;
    };

    static std::string_view query_of(const request& req) {
        const auto target = req.target();
        const std::string_view t(target.data(), target.size());
        const auto q = t.find('?');
        return q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
    }

    static response from(const request& req, const vitals::health::response& r) {
        response res{static_cast<boost::beast::http::status>(r.status), req.version()};
        res.set(boost::beast::http::field::content_type, r.content_type);
        res.body() = r.body;
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return res;
    }

    static response plain(const request& req, boost::beast::http::status status, std::string_view body) {
        response res{status, req.version()};
        res.set(boost::beast::http::field::content_type, "text/plain");
        res.body() = std::string(body);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        return res;
    }

    instrumentation& inst_;
    std::vector<entry> routes_;
};

}  // namespace vitals::http
