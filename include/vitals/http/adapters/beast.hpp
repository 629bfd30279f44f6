// vitals — Boost.Beast adapter: a small instrumented router for Beast requests.
//
// Beast parses and writes HTTP but has no router, so there is no matched route to read: routes
// are added here with their template, which both selects the handler and becomes the `endpoint`
// label. Call the router from your own session loop: handle() returns the response to write;
// async_handle() hands it to a callback, which an asynchronous handler calls when its work is done.
//
// Routing rules: a path matches a template exactly, segment by segment, so a trailing slash is
// significant (`/v1/events/` is not `/v1/events`). HEAD is answered by a GET route (the body is
// dropped, the headers kept). A path that some route matches under another method gets 405 with
// `Allow`, recorded under that route's template; a path no route matches gets 404, recorded as
// `unmatched`; a handler that throws gets 500, recorded with error_type "exception".
//
// Asynchronous handlers take a completion (`responder`) rather than returning an awaitable: a
// callback works with every Asio style (plain handlers, strands, stackful or C++20 coroutines,
// which can wrap it) and in programs that never include Asio's coroutine headers, while an
// awaitable would tie every route to one executor model.
//
// Include only in programs that use Boost.Beast (header-only; Boost.Asio needs threads).
#pragma once

// Before Boost: Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>,
// which GCC 12 refuses in C++20 unless something included it first (docs/consuming.md).
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/beast/http.hpp>

#include "../../health/handler.hpp"
#include "../metrics_endpoint.hpp"
#include "../request_timer.hpp"
#include "../route_template.hpp"

namespace vitals::http {

/// Routes Beast requests by method and route template, timing every request. Add routes before
/// serving; handle() and async_handle() are then safe to call from any number of threads at once.
template <class RequestBody = boost::beast::http::string_body, class ResponseBody = boost::beast::http::string_body>
class beast_router {
public:
    /// The request type handlers receive.
    using request = boost::beast::http::request<RequestBody>;
    /// The response type handlers return.
    using response = boost::beast::http::response<ResponseBody>;
    /// A route's handler; its response's status is the recorded one.
    using handler = std::function<response(const request&)>;
    /// A route's handler that also receives the template's parameters (`{id}`).
    using param_handler = std::function<response(const request&, const route_params&)>;
    /// Where a response goes: the session's write (async_handle's `send`).
    using sender = std::function<void(response&&)>;

    /// The completion an asynchronous handler calls, once, with its response; it records the
    /// request then (status, latency) and passes the response to the session. Movable, so the
    /// handler can carry it across its waits. Dropped without being called, it answers 500
    /// (recorded as an exception when dropped by one, otherwise as a server error), so no client
    /// waits forever on a forgotten request.
    class responder {
    public:
        responder(responder&& o) noexcept
            : timer_(std::move(o.timer_)),
              send_(std::move(o.send_)),
              head_(o.head_),
              version_(o.version_),
              keep_alive_(o.keep_alive_),
              done_(o.done_) {
            o.done_ = true;
        }
        responder& operator=(responder&&) = delete;
        responder(const responder&) = delete;
        responder& operator=(const responder&) = delete;
        ~responder() {
            if (done_) return;
            try {
                (*this)(plain(version_, keep_alive_, boost::beast::http::status::internal_server_error,
                              "internal error\n"));
            } catch (...) {  // a destructor must not throw; the timer still records
            }
        }

        /// Records the request, then sends `res` (its headers only for a HEAD request): a client
        /// holding its answer finds it counted. Later calls do nothing.
        void operator()(response res) {
            if (done_) return;
            done_ = true;
            timer_->set_status(static_cast<int>(res.result_int()));
            timer_.reset();
            if (head_) strip_body(res);
            send_(std::move(res));
        }

        /// True once a response was sent.
        [[nodiscard]] bool answered() const noexcept { return done_; }
        /// The timer of this request, until it is answered: mark_timeout() or mark_cancelled()
        /// before answering.
        [[nodiscard]] request_timer& timer() noexcept { return *timer_; }

    private:
        friend class beast_router;
        responder(route_metrics& r, sender send, const request& req)
            : timer_(std::in_place, r),
              send_(std::move(send)),
              head_(req.method() == boost::beast::http::verb::head),
              version_(req.version()),
              keep_alive_(req.keep_alive()) {}

        std::optional<request_timer> timer_;  // emptied (recorded) when answered
        sender send_;
        bool head_;
        unsigned version_;
        bool keep_alive_;
        bool done_ = false;
    };

    /// An asynchronous handler: answers later through the responder it is given. The parameters
    /// object lives for the call only (copy what is needed); its values view the request's
    /// target, which lives as long as the request.
    using async_handler = std::function<void(const request&, const route_params&, responder)>;

    /// A router recording to `inst`, which must outlive it.
    explicit beast_router(instrumentation& inst) : inst_(inst) {}

    /// Routes `method` requests whose path has the shape of `tmpl` ("/v1/events/{id}") to `h`,
    /// which is one of: `response(const request&)`, `response(const request&, const
    /// route_params&)`, or asynchronous, `void(const request&, const route_params&, responder)`.
    /// Routes are tried in the order they were added; `options` sets the template's buckets.
    template <class H>
    beast_router& add(boost::beast::http::verb method, string_ref tmpl, H h, const route_options& options = {}) {
        return add_route(method, tmpl, std::move(h), &inst_.endpoint(tmpl, options));
    }

    /// Serves `r` (which must outlive the router) at GET `path`; recorded as a route only when
    /// the instrumentation's count_service_endpoints is set.
    beast_router& metrics(string_ref path, const metric_source& r) {
        return add_service(path, [&r](const request& req) {
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

    /// Serves a status page at GET `path` (issue 21): `page` is a vitals::status::status_page
    /// (<vitals/status/status_page.hpp>, a layer above this one, hence a template: anything with
    /// its handle(method, query) answering status, content_type, body and headers). Recorded as a
    /// route only when the instrumentation's count_service_endpoints is set. `page` must outlive
    /// the server.
    template <class Page>
    beast_router& status(Page& page, string_ref path = "/v1/status") {
        return add_service(path, [&page](const request& req) {
            const auto m = req.method_string();
            auto p = page.handle(std::string_view(m.data(), m.size()), query_of(req));
            response res{static_cast<boost::beast::http::status>(p.status), req.version()};
            res.set(boost::beast::http::field::content_type, p.content_type);
            for (const auto& [name, value] : p.headers) res.set(name, value);
            res.body() = std::move(p.body);
            res.keep_alive(req.keep_alive());
            res.prepare_payload();
            return res;
        });
    }

    /// Serves liveness at GET `live_path` and readiness at GET `ready_path` (all checks) and
    /// `ready_path`/{check} (one), answered from the probe's latest results: no handler waits on a
    /// dependency, so they are safe on an event loop. `live` and `ready` must outlive the router.
    /// Recorded as routes only when the instrumentation's count_service_endpoints is set.
    beast_router& health(const vitals::health::liveness& live, const vitals::health::probe& ready,
                         vitals::health::handler_options options = {}, string_ref live_path = "/v1/health",
                         string_ref ready_path = "/v1/ready") {
        add_service(live_path, [&live, options](const request& req) {
            return from(req, vitals::health::handle_live(live, query_of(req), options));
        });
        add_service(ready_path, [&ready, options](const request& req) {
            return from(req, vitals::health::handle_ready(ready, "", query_of(req), options));
        });
        add_service(std::string(ready_path) + "/{check}", [&ready, options](const request& req, const route_params& p) {
            return from(req,
                        vitals::health::handle_ready(ready, "/" + std::string(p["check"]), query_of(req), options));
        });
        return *this;
    }

    /// Handles one request: the matching route's response, 405 or 404 when none matches, 500 when
    /// the handler throws or is asynchronous (those need async_handle()).
    response handle(const request& req) const {
        response out;
        async_handle(
            req, [&out](response&& res) { out = std::move(res); }, true);
        return out;
    }

    /// Same as handle().
    response operator()(const request& req) const { return handle(req); }

    /// Handles one request and passes its response to `send`: at once for a synchronous route,
    /// when the handler calls its responder for an asynchronous one (possibly on another thread).
    /// `req` must stay valid, unmoved, until `send` has been called; `send` must accept the
    /// response whenever that is (capture the session by shared_ptr).
    void async_handle(const request& req, sender send) const { async_handle(req, std::move(send), false); }

    /// Answers a request the session refuses before routing (a body over the parser's limit, a
    /// read timeout) with `status`, recorded under the template the path matches like any answer
    /// of that route, or as `unmatched` when none does: per-route error rates then include them.
    response reject(const request& req, boost::beast::http::status status) const {
        const auto m = req.method_string();
        std::optional<request_timer> timer;
        if (endpoint_metrics* e = endpoint_for(path(req)))
            timer.emplace(e->for_method(std::string_view(m.data(), m.size())));
        if (timer) timer->set_status(static_cast<int>(status));
        const auto reason = boost::beast::http::obsolete_reason(status);
        return plain(req.version(), req.keep_alive(), status, std::string(reason.data(), reason.size()) + "\n");
    }

private:
    struct entry {
        boost::beast::http::verb method;
        route_template tmpl;
        endpoint_metrics* metrics;  // null: not recorded (a service endpoint)
        param_handler sync;
        async_handler async;  // set instead of sync for an asynchronous handler
    };

    template <class H>
    beast_router& add_route(boost::beast::http::verb method, std::string_view tmpl, H h, endpoint_metrics* e) {
        entry en{method, route_template(tmpl), e, {}, {}};
        if constexpr (std::is_invocable_v<H&, const request&, const route_params&, responder>) {
            en.async = std::move(h);
        } else if constexpr (std::is_invocable_r_v<response, H&, const request&, const route_params&>) {
            en.sync = std::move(h);
        } else {
            static_assert(std::is_invocable_r_v<response, H&, const request&>,
                          "vitals: a beast_router handler takes (request), (request, route_params) or "
                          "(request, route_params, responder)");
            en.sync = [h = std::move(h)](const request& req, const route_params&) mutable { return h(req); };
        }
        if (e) e->for_method(verb_name(method));  // the route's latency series exists from registration on
        routes_.push_back(std::move(en));
        return *this;
    }

    template <class H>
    beast_router& add_service(std::string_view path, H h) {
        endpoint_metrics* e = inst_.options().count_service_endpoints ? &inst_.endpoint(path) : nullptr;
        return add_route(boost::beast::http::verb::get, path, std::move(h), e);
    }

    void async_handle(const request& req, sender send, bool sync_only) const {
        const std::string_view p = path(req);
        const bool head = req.method() == boost::beast::http::verb::head;
        const auto m = req.method_string();
        const std::string_view method(m.data(), m.size());
        const entry* known = nullptr;  // the first route whose template matches, whatever its method
        route_params params;
        for (const auto& r : routes_) {
            if (!r.tmpl.match(p, params)) continue;
            if (!known) known = &r;
            if (r.method != req.method() && !(head && r.method == boost::beast::http::verb::get)) continue;
            if (!r.metrics) return send(run_unrecorded(r, req, params));
            responder done(r.metrics->for_method(method), std::move(send), req);
            if (r.async && sync_only)
                return done(plain(req.version(), req.keep_alive(), boost::beast::http::status::internal_server_error,
                                  "asynchronous route: serve it with async_handle\n"));
            try {
                if (r.async) return r.async(req, params, std::move(done));
                done(r.sync(req, params));
            } catch (...) {  // recorded as an exception; the client still gets an answer
                if (!done.answered()) {
                    done.timer().mark_exception();
                    done(plain(req.version(), req.keep_alive(), boost::beast::http::status::internal_server_error,
                               "internal error\n"));
                }
            }
            return;
        }
        if (known) return send(method_not_allowed(req, p, *known, method));
        request_timer timer(inst_.unmatched().for_method(method));
        timer.set_status(404);
        send(plain(req.version(), req.keep_alive(), boost::beast::http::status::not_found, "not found\n"));
    }

    // A service endpoint that is not recorded: the handler's answer, or 500 when it throws.
    static response run_unrecorded(const entry& r, const request& req, const route_params& params) {
        try {
            response res = r.sync(req, params);
            if (req.method() == boost::beast::http::verb::head) strip_body(res);
            return res;
        } catch (...) {
            return plain(req.version(), req.keep_alive(), boost::beast::http::status::internal_server_error,
                         "internal error\n");
        }
    }

    // 405 with every method some route accepts on this path, recorded under the first matching
    // route's template (the path is known; only the method is wrong).
    response method_not_allowed(const request& req, std::string_view p, const entry& known,
                                std::string_view method) const {
        std::vector<boost::beast::http::verb> verbs;
        for (const auto& r : routes_) {
            if (!r.tmpl.matches(p)) continue;
            const auto add = [&verbs](boost::beast::http::verb v) {
                for (auto seen : verbs)
                    if (seen == v) return;
                verbs.push_back(v);
            };
            add(r.method);
            if (r.method == boost::beast::http::verb::get) add(boost::beast::http::verb::head);
        }
        std::string allow;
        for (auto v : verbs) {
            if (!allow.empty()) allow += ", ";
            allow += verb_name(v);
        }
        std::optional<request_timer> timer;
        if (known.metrics) timer.emplace(known.metrics->for_method(method));
        if (timer) timer->set_status(405);
        response res = plain(req.version(), req.keep_alive(), boost::beast::http::status::method_not_allowed,
                             "method not allowed\n");
        res.set(boost::beast::http::field::allow, allow);
        return res;
    }

    // The endpoint a path's answers are recorded under; null for a service endpoint not counted.
    endpoint_metrics* endpoint_for(std::string_view p) const {
        for (const auto& r : routes_)
            if (r.tmpl.matches(p)) return r.metrics;
        return &inst_.unmatched();
    }

    static std::string_view verb_name(boost::beast::http::verb v) {
        const auto n = boost::beast::http::to_string(v);
        return {n.data(), n.size()};
    }

    static std::string_view path(const request& req) {
        const auto target = req.target();
        return path_of(std::string_view(target.data(), target.size()));
    }

    // A HEAD answer: the GET answer's headers (Content-Length included), without its body.
    static void strip_body(response& res) {
        if constexpr (std::is_same_v<ResponseBody, boost::beast::http::string_body>) {
            res.body().clear();
        } else {
            res.body() = {};
        }
    }

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

    static response plain(unsigned version, bool keep_alive, boost::beast::http::status status, std::string_view body) {
        response res{status, version};
        res.set(boost::beast::http::field::content_type, "text/plain");
        res.body() = std::string(body);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        return res;
    }

    instrumentation& inst_;
    std::vector<entry> routes_;
};

}  // namespace vitals::http
