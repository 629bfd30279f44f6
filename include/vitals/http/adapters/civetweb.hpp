// vitals — civetweb adapter: an instrumented civetweb server with handlers registered by template.
//
// civetweb selects handlers by URI glob and does not say which one matched, so handlers are
// registered here with their route template: it becomes the `endpoint` label, is translated to a
// civetweb glob, and is checked again exactly (globs also match longer paths). Requests that reach
// no handler are recorded as endpoint `unmatched`: from civetweb's http_error callback, which runs
// before an error page is written (so a client holding its 404 can already scrape it), or else from
// end_request, which sees every request but only after its response was sent. A request civetweb
// answers without calling a handler (a method it refuses) whose path matches a registered template
// is recorded under that template: only paths that match nothing are `unmatched`. civetweb is C:
// an exception must not reach it, so a handler that throws is recorded (error_type "exception")
// and answered 500 here.
//
// Include only in programs that use civetweb (link libcivetweb).
#pragma once

#include <civetweb.h>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../../health/handler.hpp"
#include "../metrics_endpoint.hpp"
#include "../request_timer.hpp"
#include "../route_template.hpp"

namespace vitals::http {

/// A running civetweb server whose handlers are timed. Handlers may be added while it runs.
class civetweb_server {
public:
    /// A handler: writes the whole response to `conn` and returns the status code it sent (the
    /// return value of civetweb's own handlers, too).
    using handler = std::function<int(mg_connection* conn)>;

    /// Starts civetweb with `options` (name/value pairs such as {"listening_ports",
    /// "127.0.0.1:0"}); throws std::runtime_error when it cannot start.
    civetweb_server(instrumentation& inst, const std::vector<std::string>& options) : inst_(inst) {
        static const unsigned init = mg_init_library(0);  // once per process, before any mg_start
        (void)init;
        std::vector<const char*> opts;
        for (const auto& o : options) opts.push_back(o.c_str());
        opts.push_back(nullptr);
        mg_callbacks cb{};
        cb.begin_request = &begin_request;
        cb.end_request = &end_request;
        cb.http_error = &http_error;
        ctx_ = mg_start(&cb, this, opts.data());
        if (!ctx_) throw std::runtime_error("vitals: civetweb failed to start (port in use or bad option?)");
    }

    civetweb_server(const civetweb_server&) = delete;
    civetweb_server& operator=(const civetweb_server&) = delete;
    ~civetweb_server() { stop(); }

    /// Stops the server, waiting for requests in progress.
    void stop() {
        if (ctx_) mg_stop(ctx_);
        ctx_ = nullptr;
    }

    /// Routes requests of any method whose path has the shape of `tmpl` ("/v1/events/{id}") to
    /// `h`; the method label comes from each request, `options` sets the template's buckets.
    civetweb_server& handle(string_ref tmpl, handler h, const route_options& options = {}) {
        return add(tmpl, std::move(h), &inst_.endpoint(tmpl, options));
    }

    /// Serves `r` (which must outlive the server) at `path`.
    /// Recorded as a route only when the instrumentation's count_service_endpoints is set.
    civetweb_server& metrics(string_ref path, const metric_source& r) {
        return service(path, [&r](mg_connection* conn) {
            const char* accept = mg_get_header(conn, "Accept");
            const auto m = render_metrics(r, accept ? accept : "");
            mg_send_http_ok(conn, std::string(m.content_type).c_str(), static_cast<long long>(m.body.size()));
            mg_write(conn, m.body.data(), m.body.size());
            return 200;
        });
    }

    /// Serves a status page at `path` (issue 21): `page` is a vitals::status::status_page
    /// (<vitals/status/status_page.hpp>, a layer above this one, hence a template: anything with
    /// its handle(method, query) answering status, content_type, body and headers). Recorded as a
    /// route only when the instrumentation's count_service_endpoints is set. `page` must outlive
    /// the server.
    template <class Page>
    civetweb_server& status(Page& page, string_ref path = "/v1/status") {
        return service(path, [&page](mg_connection* conn) {
            const mg_request_info* info = mg_get_request_info(conn);
            auto p = page.handle(info && info->request_method ? info->request_method : "", query_of(conn));
            mg_response_header_start(conn, p.status);
            mg_response_header_add(conn, "Content-Type", p.content_type.c_str(), -1);
            for (const auto& [name, value] : p.headers) mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
            const std::string length = std::to_string(p.body.size());
            mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
            mg_response_header_send(conn);
            if (std::string_view(info && info->request_method ? info->request_method : "") != "HEAD")
                mg_write(conn, p.body.data(), p.body.size());
            return p.status;
        });
    }

    /// Serves liveness at `live_path` and readiness at `ready_path` (all checks) and
    /// `ready_path`/{check} (one), answered from the probe's latest results without waiting on a
    /// dependency. Recorded as routes only when the instrumentation's count_service_endpoints is
    /// set. `live` and `ready` must outlive the server.
    civetweb_server& health(const vitals::health::liveness& live, const vitals::health::probe& ready,
                            vitals::health::handler_options options = {}, string_ref live_path = "/v1/health",
                            string_ref ready_path = "/v1/ready") {
        service(live_path, [&live, options](mg_connection* conn) {
            return send(conn, vitals::health::handle_live(live, query_of(conn), options));
        });
        service(ready_path, [&ready, options](mg_connection* conn) {
            return send(conn, vitals::health::handle_ready(ready, "", query_of(conn), options));
        });
        service(std::string(ready_path) + "/{check}",
                [&ready, options, prefix = std::string(ready_path)](mg_connection* conn) {
                    const mg_request_info* info = mg_get_request_info(conn);
                    const std::string_view path = info && info->local_uri_raw ? info->local_uri_raw : "";
                    const std::string_view suffix =
                        path.size() > prefix.size() ? path.substr(prefix.size()) : std::string_view{};
                    return send(conn, vitals::health::handle_ready(ready, suffix, query_of(conn), options));
                });
        return *this;
    }

    /// The first listening port (the real one when configured as port 0).
    [[nodiscard]] int port() const {
        mg_server_port ports[4]{};
        const int n = mg_get_server_ports(ctx_, 4, ports);
        return n > 0 ? ports[0].port : -1;
    }

    /// The civetweb context, for anything this class does not wrap.
    [[nodiscard]] mg_context* context() const noexcept { return ctx_; }

private:
    struct entry {
        route_template tmpl;
        endpoint_metrics* endpoint;  // null: a service endpoint that is not counted
        handler h;
    };

    civetweb_server& add(std::string_view tmpl, handler h, endpoint_metrics* e) {
        route_template t(tmpl);
        const std::string glob = t.to_glob();
        entry* added;
        {
            std::lock_guard lock(entries_mu_);  // callbacks read the list while handlers are added
            added = &entries_.emplace_back(entry{std::move(t), e, std::move(h)});
        }
        mg_set_request_handler(ctx_, glob.c_str(), &dispatch, added);
        return *this;
    }

    civetweb_server& service(std::string_view path, handler h) {
        return add(path, std::move(h), inst_.options().count_service_endpoints ? &inst_.endpoint(path) : nullptr);
    }

    static std::string_view query_of(mg_connection* conn) {
        const mg_request_info* info = mg_get_request_info(conn);
        return info && info->query_string ? info->query_string : "";
    }

    static int send(mg_connection* conn, const vitals::health::response& r) {
        mg_response_header_start(conn, r.status);
        mg_response_header_add(conn, "Content-Type", r.content_type.c_str(), -1);
        const std::string length = std::to_string(r.body.size());
        mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
        mg_response_header_send(conn);
        mg_write(conn, r.body.data(), r.body.size());
        return r.status;
    }

    // civetweb serves each request, callbacks included, on one worker thread.
    struct request_state {
        std::chrono::steady_clock::time_point start{};
        bool matched = false;   // a handler of ours took it; its timer recorded it
        bool recorded = false;  // recorded as unmatched already (from http_error)
    };
    static request_state& state() {
        static thread_local request_state s;
        return s;
    }

    static int begin_request(mg_connection*) {
        state() = {std::chrono::steady_clock::now(), false, false};
        return 0;  // civetweb goes on to route the request
    }

    static int http_error(mg_connection* conn, int status, const char*) {
        record_unmatched(conn, status);
        return 1;  // civetweb writes its own error page
    }

    static void end_request(const mg_connection* conn, int status) {
        record_unmatched(conn, status);
        state() = {};  // a request civetweb refuses before begin_request starts from a clean state
    }

    static void record_unmatched(const mg_connection* conn, int status) {
        auto& s = state();
        if (s.matched || s.recorded) return;
        s.recorded = true;
        const mg_request_info* ri = mg_get_request_info(conn);
        auto* self = static_cast<civetweb_server*>(ri ? ri->user_data : nullptr);
        if (!self) return;
        try {
            endpoint_metrics* e = &self->inst_.unmatched();
            // A request refused while it was parsed (a method civetweb does not serve) has its
            // target in request_uri and no local_uri yet.
            const char* uri = ri->local_uri ? ri->local_uri : ri->request_uri;
            if (uri) {
                const std::string_view path = path_of(uri);
                std::lock_guard lock(self->entries_mu_);
                for (const entry& en : self->entries_)
                    if (en.tmpl.matches(path)) {
                        e = en.endpoint;
                        break;
                    }
            }
            if (!e) return;  // a service endpoint that is not counted
            const double seconds =
                s.start.time_since_epoch().count()
                    ? std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count()
                    : 0.0;
            e->for_method(ri->request_method ? ri->request_method : "").record(status, error_type::none, seconds);
        } catch (...) {  // never let an exception into C
        }
    }

    static int dispatch(mg_connection* conn, void* data) {
        auto* e = static_cast<entry*>(data);
        const mg_request_info* ri = mg_get_request_info(conn);
        if (!ri || !ri->local_uri || !e->tmpl.matches(ri->local_uri)) return 0;  // not ours: civetweb goes on
        state().matched = true;
        if (!e->endpoint) {  // not counted; still never let an exception into C
            try {
                return e->h(conn);
            } catch (...) {
                mg_send_http_error(conn, 500, "%s", "internal error");
                return 500;
            }
        }
        try {
            request_timer timer(e->endpoint->for_method(ri->request_method ? ri->request_method : ""));
            const int status = e->h(conn);
            timer.set_status(status);
            return status;
        } catch (...) {  // the timer has recorded the exception
            mg_send_http_error(conn, 500, "%s", "internal error");
            return 500;
        }
    }

    instrumentation& inst_;
    std::mutex entries_mu_;
    std::list<entry> entries_;  // stable addresses: civetweb holds pointers to them
    mg_context* ctx_ = nullptr;
};

}  // namespace vitals::http
