// vitals — cpp-httplib adapter: routes registered by template, timed by request_timer.
//
// cpp-httplib routes by regular expression and does not tell a handler which pattern matched,
// so routes are registered here with their template: it becomes the `endpoint` label and is
// translated to the regex cpp-httplib needs. Requests that match no route are recorded as endpoint
// `unmatched`: from the server's error handler, which runs before an error response is written, so
// a client that has its 404 can already scrape it; the logger (it sees every response, but after
// writing it) records the rest, e.g. files from a mount point. A request cpp-httplib refuses before
// routing (a body over the payload limit, a method it does not know) whose path matches a
// registered template is recorded under that template instead: only paths that match nothing are
// `unmatched`, so per-route error rates include what the framework refused.
//
// Include only in programs that use cpp-httplib (link cpp-httplib, pkg-config `cpp-httplib`).
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../../health/handler.hpp"
#include "../instrument.hpp"
#include "../metrics_endpoint.hpp"
#include "../route_template.hpp"

namespace vitals::http {

/// Registers instrumented routes on a cpp-httplib server. The adapter itself may go away after
/// registration; `server` and `inst` must outlive the server's run.
class httplib_adapter {
public:
    /// Takes over `server`'s pre-routing handler, error handler and logger to record unmatched
    /// requests. `logger` and `error_handler`, if given, are still called as cpp-httplib would
    /// (set them here, not on the server afterwards: that would replace the adapter's).
    httplib_adapter(httplib::Server& server, instrumentation& inst, httplib::Logger logger = nullptr,
                    httplib::Server::HandlerWithResponse error_handler = nullptr)
        : server_(server), inst_(inst), routes_(std::make_shared<route_list>()) {
        server_.set_pre_routing_handler([](const httplib::Request&, httplib::Response&) {
            unmatched_state() = {std::chrono::steady_clock::now(), false};
            return httplib::Server::HandlerResponse::Unhandled;
        });
        server_.set_error_handler(
            httplib::Server::HandlerWithResponse([&inst, routes = routes_, error_handler = std::move(error_handler)](
                                                     const httplib::Request& req, httplib::Response& res) {
                auto handled = httplib::Server::HandlerResponse::Unhandled;
                if (error_handler) handled = error_handler(req, res);
                // A route matched when cpp-httplib filled `matches`; our handlers recorded those.
                if (req.matches.empty()) record_unrouted(inst, *routes, req, res);
                return handled;
            }));
        server_.set_logger([&inst, routes = routes_, logger = std::move(logger)](const httplib::Request& req,
                                                                                 const httplib::Response& res) {
            if (req.matches.empty()) record_unrouted(inst, *routes, req, res);
            // Requests cpp-httplib refuses before routing (400, 414) skip the pre-routing handler.
            unmatched_state() = {};
            if (logger) logger(req, res);
        });
    }

    /// Registers `handler` for GET (and HEAD) on `tmpl`, e.g. "/v1/events/{id}"; `options` sets
    /// the template's latency buckets. Register every route before the server listens.
    httplib_adapter& Get(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Get(pattern(tmpl), wrap("GET", tmpl, std::move(handler), options));
        return *this;
    }
    /// Registers `handler` for POST on `tmpl`.
    httplib_adapter& Post(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Post(pattern(tmpl), wrap("POST", tmpl, std::move(handler), options));
        return *this;
    }
    /// Registers `handler` for PUT on `tmpl`.
    httplib_adapter& Put(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Put(pattern(tmpl), wrap("PUT", tmpl, std::move(handler), options));
        return *this;
    }
    /// Registers `handler` for PATCH on `tmpl`.
    httplib_adapter& Patch(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Patch(pattern(tmpl), wrap("PATCH", tmpl, std::move(handler), options));
        return *this;
    }
    /// Registers `handler` for DELETE on `tmpl`.
    httplib_adapter& Delete(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Delete(pattern(tmpl), wrap("DELETE", tmpl, std::move(handler), options));
        return *this;
    }
    /// Registers `handler` for OPTIONS on `tmpl`.
    httplib_adapter& Options(string_ref tmpl, httplib::Server::Handler handler, const route_options& options = {}) {
        server_.Options(pattern(tmpl), wrap("OPTIONS", tmpl, std::move(handler), options));
        return *this;
    }

    /// Serves `r` at GET `path`; `r` must outlive the server. Recorded as a route only when the
    /// instrumentation's count_service_endpoints is set.
    httplib_adapter& metrics(string_ref path, const metric_source& r) {
        return service(path, [&r](const httplib::Request& req, httplib::Response& res) {
            auto m = render_metrics(r, req.get_header_value("Accept"));
            res.set_content(std::move(m.body), std::string(m.content_type).c_str());
        });
    }

    /// Serves a status page at GET `path` (issue 21): `page` is a vitals::status::status_page
    /// (<vitals/status/status_page.hpp>, a layer above this one, hence a template: anything with
    /// its handle(method, query) answering status, content_type, body and headers). Recorded as a
    /// route only when the instrumentation's count_service_endpoints is set. `page` must outlive
    /// the server.
    template <class Page>
    httplib_adapter& status(Page& page, string_ref path = "/v1/status") {
        return service(path, [&page](const httplib::Request& req, httplib::Response& res) {
            auto p = page.handle(req.method, query_string(req));
            res.status = p.status;
            for (const auto& [name, value] : p.headers) res.set_header(name, value);
            res.set_content(std::move(p.body), p.content_type);
        });
    }

    /// Serves liveness at GET `live_path` and readiness at GET `ready_path` (all checks) and
    /// `ready_path`/{check} (one), answered from the probe's latest results without waiting on a
    /// dependency. Recorded as routes only when the instrumentation's count_service_endpoints is
    /// set. `live` and `ready` must outlive the server.
    httplib_adapter& health(const vitals::health::liveness& live, const vitals::health::probe& ready,
                            vitals::health::handler_options options = {}, string_ref live_path = "/v1/health",
                            string_ref ready_path = "/v1/ready") {
        service(live_path, [&live, options](const httplib::Request& req, httplib::Response& res) {
            send(res, vitals::health::handle_live(live, query_string(req), options));
        });
        service(ready_path, [&ready, options](const httplib::Request& req, httplib::Response& res) {
            send(res, vitals::health::handle_ready(ready, "", query_string(req), options));
        });
        service(std::string(ready_path) + "/{check}", [&ready, options](const httplib::Request& req,
                                                                        httplib::Response& res) {
            send(res, vitals::health::handle_ready(ready, "/" + req.matches[1].str(), query_string(req), options));
        });
        return *this;
    }

    /// The request's query string. cpp-httplib decodes the query into params and keeps no raw
    /// copy, so the params are encoded back.
    [[nodiscard]] static std::string query_string(const httplib::Request& req) {
        static constexpr char hex[] = "0123456789ABCDEF";
        const auto encode = [](std::string& out, const std::string& s) {
            for (const char c : s) {
                const auto u = static_cast<unsigned char>(c);
                if ((u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || c == '-' ||
                    c == '_' || c == '.' || c == '~') {
                    out += c;
                } else {
                    out += '%';
                    out += hex[u >> 4];
                    out += hex[u & 0xF];
                }
            }
        };
        std::string q;
        for (const auto& [k, v] : req.params) {
            if (!q.empty()) q += '&';
            encode(q, k);
            q += '=';
            encode(q, v);
        }
        return q;
    }

    /// The regex cpp-httplib is given for `tmpl`.
    [[nodiscard]] static std::string pattern(string_ref tmpl) { return route_template(tmpl).to_regex(); }

private:
    static void send(httplib::Response& res, const vitals::health::response& r) {
        res.status = r.status;
        res.set_content(r.body, r.content_type.c_str());
    }

    // The templates registered so far, for requests cpp-httplib refuses before routing. Shared
    // with the error handler and logger, which outlive the adapter; written only before serving.
    struct route_list {
        std::vector<std::pair<route_template, endpoint_metrics*>> routes;  // null: not counted
    };

    // A metrics or probe endpoint: instrumented only when service endpoints count as routes.
    httplib_adapter& service(std::string_view path, httplib::Server::Handler handler) {
        if (inst_.options().count_service_endpoints) return Get(path, std::move(handler));
        routes_->routes.emplace_back(route_template(path), nullptr);
        server_.Get(pattern(path), std::move(handler));
        return *this;
    }

    httplib::Server::Handler wrap(std::string_view method, std::string_view tmpl, httplib::Server::Handler handler,
                                  const route_options& options) {
        endpoint_metrics* e = &inst_.endpoint(tmpl, options);
        routes_->routes.emplace_back(route_template(tmpl), e);
        e->for_method(method);  // the route's latency series exists (at zero) from registration on
        // The method is read per request: cpp-httplib also sends HEAD to GET routes.
        return [e, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
            request_timer timer(e->for_method(req.method));
            handler(req, res);
            timer.set_status(res.status > 0 ? res.status : 200);
        };
    }

    struct request_state {
        std::chrono::steady_clock::time_point start{};
        bool recorded = false;  // by the error handler: the logger must not count it again
    };
    static request_state& unmatched_state() {
        // cpp-httplib routes, answers and logs a request on one worker thread.
        static thread_local request_state s;
        return s;
    }

    // A request no handler of ours saw: under the first template its path matches, else unmatched.
    static void record_unrouted(instrumentation& inst, const route_list& routes, const httplib::Request& req,
                                const httplib::Response& res) {
        auto& state = unmatched_state();
        if (state.recorded) return;
        state.recorded = true;
        endpoint_metrics* e = &inst.unmatched();
        // A request refused while its request line was read may have a target and no path yet.
        const string_ref path = req.path.empty() ? path_of(req.target) : string_ref(req.path);
        for (const auto& [tmpl, metrics] : routes.routes)
            if (tmpl.matches(path)) {
                e = metrics;
                break;
            }
        if (!e) return;  // a service endpoint that is not counted
        const auto now = std::chrono::steady_clock::now();
        const double seconds =
            state.start.time_since_epoch().count() ? std::chrono::duration<double>(now - state.start).count() : 0.0;
        try {
            e->for_method(req.method).record(res.status, error_type::none, seconds);
        } catch (...) {  // never fail a response for a metric
        }
    }

    httplib::Server& server_;
    instrumentation& inst_;
    std::shared_ptr<route_list> routes_;
};

}  // namespace vitals::http
