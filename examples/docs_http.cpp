// The framework-free code shown in docs/http.md, compiled and run in CI (the adapters' samples are
// in docs_http_httplib.cpp, docs_http_beast.cpp and docs_http_civetweb.cpp). The samples sit at
// namespace scope, as in the page, so what they refer to is declared first.
#include <iostream>
#include <string>

#include <vitals/http/instrumentation.hpp>
#include <vitals/http/route_template.hpp>
#include <vitals/vitals.hpp>

// Stand-ins for a framework's request and response types.
struct Request {
    std::string path;
};
struct Response {
    int code = 0;
};
using Req = Request;
using Res = Response;

vitals::registry reg(vitals::const_labels_from_env("api", "development"));
vitals::http::instrumentation inst(reg);
vitals::http::route_metrics& events_route = inst.route("GET", "/v1/events/{id}");
vitals::http::route_metrics& route = events_route;
const std::string accept_header = "text/plain";

int serve(const Request& req) { return req.path.empty() ? 400 : 200; }
void handler(const Req& req, Res& res) { res.code = serve(req); }

#include <vitals/http/request_timer.hpp>

void handle(Request& req, Response& res) {
    vitals::http::request_timer timer(events_route);  // starts the clock, in-flight +1
    res.code = serve(req);                            // your handler's work
    timer.set_status(res.code);                       // default 200
}  // records duration, total, failure

#include <vitals/http/instrument.hpp>

auto h = vitals::http::instrument(inst, "GET", "/v1/events/{id}", handler);
auto h2 = vitals::http::instrument(route, handler, [](const Req&, Res& res) { return res.code; });

#include <vitals/http/metrics_endpoint.hpp>

auto m = vitals::http::render_metrics(reg, accept_header);  // {std::string body; vitals::string_ref content_type}

// The first sample: a registry and instrumentation of its own, as a program's setup would do.
void setup() {
    vitals::registry reg(vitals::const_labels_from_env("api", "development"));
    vitals::http::instrumentation inst(reg);  // or inst(reg, existing_operational_metrics)
    inst.operational().service_started("api");

    auto& route = inst.route("GET", "/v1/events/{id}");  // at registration: takes a lock, allocates
    vitals::http::request_timer timer(route);
    std::cout << vitals::render_text(reg).size() << " bytes from the setup sample's registry\n";
}

// Settings: buckets for every route, finer ones for a fast route, service endpoints not counted.
void settings() {
    vitals::registry reg;
    vitals::http::instrumentation inst(
        reg, {.buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}, .count_service_endpoints = false});
    auto& cache = inst.route("GET", "/v1/cache/{key}", {.buckets = {0.0001, 0.00025, 0.0005, 0.001, 0.005}});
    vitals::http::request_timer(cache).set_status(200);
    std::cout << inst.endpoint("/v1/cache/{key}").buckets().size() << " buckets on the cache route, "
              << inst.endpoint("/v1/events").buckets().size() << " on the others\n";
}

// OpenTelemetry's names, with the buckets OpenTelemetry advises.
void opentelemetry() {
    vitals::registry reg;
    const auto& otel = vitals::http::otel_duration_buckets;
    vitals::http::instrumentation inst(
        reg, {.buckets = {otel.data(), otel.data() + otel.size()}, .names = vitals::http::metric_names::opentelemetry});
    vitals::http::request_timer(inst.route("GET", "/v1/events/{id}")).set_status(404);
    // http_server_request_duration_seconds_count{http_request_method="GET",http_route="/v1/events/{id}",
    //                                            http_response_status_code="404"} 1
    std::cout << vitals::render_text(reg);
}

// Matching a path by hand, parameters included (what the Beast router does for each request).
void params() {
    const vitals::http::route_template tmpl("/v1/items/{item}/parts/{part}");
    vitals::http::route_params p;
    if (tmpl.match("/v1/items/abc/parts/7", p))
        std::cout << p.name(0) << '=' << p["item"] << ' ' << p.name(1) << '=' << p["part"] << '\n';
}

int main() {
    setup();
    settings();
    opentelemetry();
    params();
    Request req{"/v1/events/1"};
    Response res;
    handle(req, res);
    h(req, res);
    Request empty;
    h2(empty, res);  // 400 through the status reader
    std::cout << "content type " << m.content_type << " (rendered before any request)\n";
    std::cout << vitals::render_text(reg);
}
