// request_timer, instrument() and the label rules, without any framework.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <vitals/http/http.hpp>
#include <vitals/vitals.hpp>

#include "http_support.hpp"
#include "support/protobuf_decode.hpp"

using namespace vitals::http;
using vitals_test::sample;

namespace {

struct fixture : ::testing::Test {
    vitals::registry reg;
    instrumentation inst{reg};
    std::string scrape() { return vitals::render_text(reg); }
    double total(std::string_view method, std::string_view endpoint, std::string_view status) {
        return sample(scrape(), "http_requests_total",
                      {"method=\"" + std::string(method) + "\"", "endpoint=\"" + std::string(endpoint) + "\"",
                       "status=\"" + std::string(status) + "\""});
    }
    double failed(std::string_view endpoint, std::string_view status, std::string_view type) {
        return sample(scrape(), "http_requests_failed_total",
                      {"endpoint=\"" + std::string(endpoint) + "\"", "status=\"" + std::string(status) + "\"",
                       "error_type=\"" + std::string(type) + "\""});
    }
};

TEST(http_labels, status_labels_are_precomputed_and_closed) {
    EXPECT_EQ(status_label(100), "100");
    EXPECT_EQ(status_label(200), "200");
    EXPECT_EQ(status_label(404), "404");
    EXPECT_EQ(status_label(599), "599");
    EXPECT_EQ(status_label(99), invalid_status);
    EXPECT_EQ(status_label(600), invalid_status);
    EXPECT_EQ(status_label(-1), invalid_status);
    static_assert(status_label(503) == "503");
}

TEST(http_labels, methods_are_case_sensitive_and_closed) {
    for (auto m : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"})
        EXPECT_EQ(method_name(parse_method(m)), m);
    EXPECT_EQ(parse_method("get"), method_id::other);
    EXPECT_EQ(parse_method("PROPFIND"), method_id::other);
    EXPECT_EQ(parse_method(""), method_id::other);
    EXPECT_EQ(method_name(method_id::other), "other");
}

TEST(http_labels, route_templates_match_and_translate) {
    route_template t("/v1/events/{id}");
    EXPECT_TRUE(t.matches("/v1/events/42"));
    EXPECT_FALSE(t.matches("/v1/events/"));
    EXPECT_FALSE(t.matches("/v1/events"));
    EXPECT_FALSE(t.matches("/v1/events/42/x"));
    EXPECT_FALSE(t.matches("/v2/events/42"));
    EXPECT_EQ(t.to_regex(), "/v1/events/([^/]+)");
    EXPECT_EQ(t.to_glob(), "/v1/events/*$");
    EXPECT_TRUE(route_template("/").matches("/"));
    EXPECT_FALSE(route_template("/").matches("/x"));
    EXPECT_EQ(route_template("/a.b/{x}/c").to_regex(), "/a\\.b/([^/]+)/c");
    EXPECT_THROW(route_template("v1"), vitals::invalid_argument_error);
    EXPECT_THROW(route_template("/v1/x{id}"), vitals::invalid_argument_error);
    EXPECT_THROW(route_template("/v1/{}"), vitals::invalid_argument_error);
    EXPECT_EQ(path_of("/a/b?x=1"), "/a/b");
}

TEST_F(fixture, status_sets_total_and_failure_labels) {
    auto& r = inst.route("GET", "/v1/events/{id}");
    { request_timer t(r); }  // default 200
    {
        request_timer t(r);
        t.set_status(404);
    }
    {
        request_timer t(r);
        t.set_status(503);
    }
    {
        request_timer t(r);
        t.set_status(302);
    }
    EXPECT_EQ(total("GET", "/v1/events/{id}", "200"), 1);
    EXPECT_EQ(total("GET", "/v1/events/{id}", "404"), 1);
    EXPECT_EQ(total("GET", "/v1/events/{id}", "503"), 1);
    EXPECT_EQ(total("GET", "/v1/events/{id}", "302"), 1);
    EXPECT_EQ(failed("/v1/events/{id}", "404", "client_error"), 1);
    EXPECT_EQ(failed("/v1/events/{id}", "503", "server_error"), 1);
    EXPECT_TRUE(std::isnan(failed("/v1/events/{id}", "200", "client_error")));
    EXPECT_TRUE(std::isnan(sample(scrape(), "http_requests_failed_total", {"status=\"302\""})));
    EXPECT_EQ(sample(scrape(), "http_request_duration_seconds_count", {"endpoint=\"/v1/events/{id}\""}), 4);
}

TEST_F(fixture, out_of_range_status_is_one_fixed_value) {
    auto& r = inst.route("GET", "/x");
    for (int s : {0, 99, 600, 1000, -5}) {
        request_timer t(r);
        t.set_status(s);
    }
    EXPECT_EQ(total("GET", "/x", "invalid"), 5);
    EXPECT_TRUE(std::isnan(sample(scrape(), "http_requests_failed_total")));
}

TEST_F(fixture, exception_records_500_and_propagates_untouched) {
    auto& r = inst.route("POST", "/v1/events");
    const std::runtime_error original("boom");
    try {
        request_timer t(r);
        t.set_status(201);
        throw original;
    } catch (const std::runtime_error& e) {
        EXPECT_STREQ(e.what(), "boom");
    }
    EXPECT_EQ(total("POST", "/v1/events", "500"), 1);
    EXPECT_EQ(failed("/v1/events", "500", "exception"), 1);
    EXPECT_TRUE(std::isnan(failed("/v1/events", "500", "server_error")));
    EXPECT_EQ(inst.in_flight().value(), 0);
}

TEST_F(fixture, timer_made_during_unwinding_only_sees_new_exceptions) {
    auto& r = inst.route("GET", "/cleanup");
    struct in_destructor {
        route_metrics& r;
        ~in_destructor() {
            request_timer t(r);  // runs while an exception is in flight, but none leaves this scope
            t.set_status(204);
        }
    };
    try {
        in_destructor d{r};
        throw 1;
    } catch (int) {}
    EXPECT_EQ(total("GET", "/cleanup", "204"), 1);
    EXPECT_TRUE(std::isnan(sample(scrape(), "http_requests_failed_total")));
}

TEST_F(fixture, timeout_and_cancelled_marks) {
    auto& r = inst.route("GET", "/slow");
    {
        request_timer t(r);
        t.mark_timeout();
    }
    {
        request_timer t(r);
        t.mark_cancelled();
    }
    EXPECT_EQ(failed("/slow", "504", "timeout"), 1);
    EXPECT_EQ(failed("/slow", "499", "cancelled"), 1);
    EXPECT_TRUE(std::isnan(failed("/slow", "504", "server_error")));
}

TEST_F(fixture, unmatched_requests_share_one_endpoint) {
    for (int i = 0; i < 3; ++i) {
        request_timer t(inst.unmatched().for_method("GET"));
        t.set_status(404);
    }
    EXPECT_EQ(total("GET", "unmatched", "404"), 3);
    EXPECT_EQ(&inst.endpoint("unmatched"), &inst.unmatched());
}

TEST_F(fixture, method_normalisation_in_labels) {
    auto& e = inst.endpoint("/m");
    for (auto m : {"get", "BREW", "GET"}) request_timer t(e.for_method(m));
    EXPECT_EQ(total("other", "/m", "200"), 2);
    EXPECT_EQ(total("GET", "/m", "200"), 1);
    EXPECT_EQ(&inst.route("GET", "/m"), &e.for_method(method_id::get));
}

TEST_F(fixture, in_flight_gauge_counts_open_timers) {
    auto& r = inst.route("GET", "/f");
    {
        request_timer a(r);
        request_timer b(r);
        EXPECT_EQ(inst.in_flight().value(), 2);
    }
    EXPECT_EQ(inst.in_flight().value(), 0);
    EXPECT_EQ(sample(scrape(), "http_requests_in_flight"), 0);
}

TEST_F(fixture, routes_are_shared_across_threads) {
    auto& r = inst.route("GET", "/t");
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i)
        ts.emplace_back([&r, i] {
            for (int j = 0; j < 1000; ++j) {
                request_timer t(r);
                t.set_status(j % 2 ? 200 : 400 + i);
            }
        });
    for (auto& t : ts) t.join();
    EXPECT_EQ(total("GET", "/t", "200"), 2000);
    EXPECT_EQ(sample(scrape(), "http_requests_failed_total", {"error_type=\"client_error\""}), 2000);
    EXPECT_EQ(inst.in_flight().value(), 0);
}

// --- instrument() -------------------------------------------------------------------------

struct fake_response {
    int status = -1;
    std::string body;
};

TEST_F(fixture, wrapper_reads_integer_results) {
    auto h = instrument(inst, "GET", "/int", [](int code) { return code; });
    EXPECT_EQ(h(201), 201);
    EXPECT_EQ(h(404), 404);
    EXPECT_EQ(total("GET", "/int", "201"), 1);
    EXPECT_EQ(failed("/int", "404", "client_error"), 1);
}

TEST_F(fixture, wrapper_reads_response_argument_and_result_members) {
    auto filler = instrument(inst, "PUT", "/arg", [](const std::string&, fake_response& res) { res.status = 409; });
    fake_response res;
    filler(std::string("x"), res);
    EXPECT_EQ(res.status, 409);
    auto unset = instrument(inst, "PUT", "/arg", [](fake_response&) {});
    fake_response untouched;
    unset(untouched);
    auto returns = instrument(inst, "GET", "/obj", [] { return fake_response{503, "down"}; });
    EXPECT_EQ(returns().body, "down");
    EXPECT_EQ(total("PUT", "/arg", "409"), 1);
    EXPECT_EQ(total("PUT", "/arg", "200"), 1);  // -1 ("not set") is sent as 200 by frameworks
    EXPECT_EQ(failed("/obj", "503", "server_error"), 1);
}

TEST_F(fixture, wrapper_with_status_reader) {
    struct reply {
        int code;
    };
    auto from_result = instrument(
        inst, "GET", "/r", [] { return reply{418}; }, [](const reply& r) { return r.code; });
    EXPECT_EQ(from_result().code, 418);
    auto from_args = instrument(
        inst, "GET", "/a", [](reply& r) { r.code = 202; }, [](reply& r) { return r.code; });
    reply rr{0};
    from_args(rr);
    EXPECT_EQ(total("GET", "/r", "418"), 1);
    EXPECT_EQ(total("GET", "/a", "202"), 1);
}

TEST_F(fixture, wrapper_rethrows_and_records_exception) {
    auto h = instrument(inst, "GET", "/crash", []() -> int { throw std::logic_error("bad"); });
    EXPECT_THROW(h(), std::logic_error);
    EXPECT_EQ(failed("/crash", "500", "exception"), 1);
    EXPECT_EQ(inst.in_flight().value(), 0);
}

TEST_F(fixture, wrapper_forwards_references_and_move_only_results) {
    int x = 7;
    auto ref = instrument(inst, "GET", "/ref", [&x]() -> int& { return x; });
    int& got = ref();
    EXPECT_EQ(&got, &x);
    auto mo = instrument(inst, "GET", "/mo", [] { return std::make_unique<int>(3); });
    EXPECT_EQ(*mo(), 3);
    std::function<int(int)> f = instrument(inst, "GET", "/fn", [](int s) { return s; });
    EXPECT_EQ(f(200), 200);
}

TEST_F(fixture, scrape_passes_promtool) {
    auto& r = inst.route("GET", "/p/{id}");
    for (int s : {200, 404, 500}) {
        request_timer t(r);
        t.set_status(s);
    }
    inst.operational().service_started("api");
    auto [ok, out] = vitals_test::promtool_check(scrape());
    EXPECT_TRUE(ok) << out;
}

TEST_F(fixture, metrics_endpoint_defaults_to_text) {
    for (auto accept : {"", "text/plain", "*/*", "garbage"}) {
        auto m = render_metrics(reg, accept);
        EXPECT_EQ(m.content_type, vitals::text_content_type) << accept;
        EXPECT_EQ(m.body, scrape()) << accept;
    }
    // Whatever format is negotiated, the response says which one it is.
    auto om = render_metrics(reg, "application/openmetrics-text; version=1.0.0");
    EXPECT_FALSE(om.content_type.empty());
    EXPECT_FALSE(om.body.empty());
}

}  // namespace

// A timer carried across an asynchronous wait (moved into a callback) records its request once,
// with the status set after the move; the moved-from timer records nothing.
TEST_F(fixture, moved_timer_records_once) {
    auto& r = inst.route("GET", "/async");
    std::vector<std::function<void()>> later;  // stands in for an event loop's queue
    {
        request_timer t(r);
        later.push_back([timer = std::make_shared<request_timer>(std::move(t))] { timer->set_status(201); });
        EXPECT_EQ(inst.in_flight().value(), 1);  // still in flight: the moved-to timer owns it
    }
    EXPECT_EQ(inst.in_flight().value(), 1);
    later.front()();
    later.clear();
    EXPECT_EQ(inst.in_flight().value(), 0);
    EXPECT_EQ(total("GET", "/async", "201"), 1);
    EXPECT_EQ(sample(scrape(), "http_request_duration_seconds_count", {"endpoint=\"/async\""}), 1);

    // Moved into a plain member, no shared_ptr needed.
    struct session {
        request_timer timer;
    };
    {
        session s{request_timer(r)};
        s.timer.set_status(404);
    }
    EXPECT_EQ(total("GET", "/async", "404"), 1);
    EXPECT_EQ(sample(scrape(), "http_request_duration_seconds_count", {"endpoint=\"/async\""}), 2);
}

// --- instrumentation_options and route_options -------------------------------------------------

namespace {

std::vector<std::string> route_les(const std::string& scrape, std::string_view method, std::string_view endpoint) {
    return vitals_test::le_values(scrape, endpoint, method);
}

void observe(route_metrics& r, int status = 200) {
    request_timer t(r);
    t.set_status(status);
}

// One family, two layouts, in all three formats: each series keeps its own buckets, and every
// consumer accepts the mix.
TEST(http_options, route_buckets_render_as_one_family_in_every_format) {
    vitals::registry reg({{"service", "api"}});
    instrumentation inst(reg);
    auto& fast = inst.route("GET", "/fast", {.buckets = {0.0001, 0.001}});
    auto& slow = inst.route("GET", "/slow");
    observe(fast);
    observe(slow);
    observe(inst.unmatched().for_method("GET"), 404);

    const auto text = vitals_test::checked_render(reg);
    EXPECT_EQ(route_les(text, "GET", "/fast"), (std::vector<std::string>{"0.0001", "0.001", "+Inf"}));
    EXPECT_EQ(route_les(text, "GET", "/slow").size(), 11u);
    EXPECT_EQ(route_les(text, "GET", "unmatched").size(), 11u);  // unmatched keeps the default
    // Layers get the registry's const labels like any family.
    EXPECT_EQ(
        sample(text, "http_request_duration_seconds_bucket", {"endpoint=\"/fast\"", "service=\"api\"", "le=\"+Inf\""}),
        1)
        << text;

    const auto om = vitals::render_openmetrics(reg);
    const auto [ok, said] = vitals_test::openmetrics_parser_check(om);
    EXPECT_TRUE(ok) << said << om;

    const auto families = vitals_test::pb::decode_families(vitals::render_protobuf(reg));
    std::size_t named = 0;
    for (const auto& f : families) named += f.name == "http_request_duration_seconds";
    EXPECT_EQ(named, 1u);
    const auto& d = vitals_test::pb::find(families, "http_request_duration_seconds");
    ASSERT_EQ(d.metrics.size(), 3u);
    for (const auto& m : d.metrics) {
        const std::size_t buckets = vitals_test::pb::all(m.body, 3).size();  // Histogram.bucket
        EXPECT_EQ(buckets, m.label("endpoint") == "/fast" ? 2u : 10u) << m.label("endpoint");
    }
}

// One template's series share a layout: other buckets for it later are refused, the same ones
// or none are fine, and every method of the template gets them.
TEST(http_options, a_template_has_one_layout) {
    vitals::registry reg;
    instrumentation inst(reg);
    auto& a = inst.route("GET", "/a", {.buckets = {1, 2}});
    EXPECT_THROW(inst.route("POST", "/a", {.buckets = {3}}), vitals::invalid_argument_error);
    EXPECT_EQ(&inst.route("GET", "/a", {.buckets = {1, 2}}), &a);
    observe(inst.route("HEAD", "/a"));
    EXPECT_EQ(route_les(vitals_test::checked_render(reg), "HEAD", "/a"), (std::vector<std::string>{"1", "2", "+Inf"}));
    EXPECT_THROW(inst.route("GET", "/b", {.buckets = {2, 1}}), vitals::invalid_argument_error);  // not increasing
}

TEST(http_options, instrumentation_buckets_apply_to_every_route) {
    vitals::registry reg;
    instrumentation inst(reg, {.buckets = {0.5, 1}});
    observe(inst.route("GET", "/x"));
    observe(inst.unmatched().for_method("GET"), 404);
    const auto text = vitals_test::checked_render(reg);
    EXPECT_EQ(route_les(text, "GET", "/x"), (std::vector<std::string>{"0.5", "1", "+Inf"}));
    EXPECT_EQ(route_les(text, "GET", "unmatched"), (std::vector<std::string>{"0.5", "1", "+Inf"}));
}

// Operational metrics made by the caller keep their buckets for every route; asking for others
// is an error, not a silent fallback.
TEST(http_options, caller_operational_metrics_fix_the_buckets) {
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    EXPECT_THROW(instrumentation(reg, ops, {.buckets = {0.5}}), vitals::invalid_argument_error);
    instrumentation same(reg, ops, {.buckets = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}});
    instrumentation inst(reg, ops);
    EXPECT_THROW(inst.route("GET", "/x", {.buckets = {0.1}}), vitals::invalid_argument_error);
    observe(inst.route("GET", "/x"));
    EXPECT_EQ(sample(vitals_test::checked_render(reg), "http_request_duration_seconds_count", {"endpoint=\"/x\""}), 1);
}

// A registry where the plain latency family already exists (an operational_metrics of the
// program's own): an instrumentation made without it shares that family, as before.
TEST(http_options, plain_family_registered_first_is_shared) {
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    instrumentation inst(reg);
    observe(inst.route("GET", "/x"));
    ops.request_duration.labels("GET", "/y").observe(0.1);
    const auto text = vitals_test::checked_render(reg);
    EXPECT_EQ(sample(text, "http_request_duration_seconds_count", {"endpoint=\"/x\""}), 1);
    EXPECT_EQ(sample(text, "http_request_duration_seconds_count", {"endpoint=\"/y\""}), 1);
    EXPECT_THROW(inst.route("GET", "/z", {.buckets = {0.1}}), vitals::invalid_argument_error);
    EXPECT_THROW(instrumentation(reg, {.buckets = {0.1}}), vitals::registration_error);
}

TEST(http_options, two_instrumentations_share_one_registry) {
    vitals::registry reg;
    instrumentation a(reg);
    instrumentation b(reg);
    observe(a.route("GET", "/a", {.buckets = {0.001}}));
    observe(b.route("GET", "/b"));
    const auto text = vitals_test::checked_render(reg);
    EXPECT_EQ(route_les(text, "GET", "/a"), (std::vector<std::string>{"0.001", "+Inf"}));
    EXPECT_EQ(sample(text, "http_request_duration_seconds_count", {"endpoint=\"/b\""}), 1);
}

// OpenTelemetry's names: their method and route conventions, one histogram whose _count counts
// requests per status, and nothing under vitals' names.
TEST(http_options, opentelemetry_names_and_values) {
    vitals::registry reg;
    instrumentation inst(reg, {.names = metric_names::opentelemetry});
    observe(inst.unmatched().for_method("BREW"), 404);
    observe(inst.route("GET", "/v1/events/{id}"), 200);
    {
        request_timer t(inst.route("POST", "/v1/events"));
        t.mark_timeout();
    }
    EXPECT_THROW(
        {
            request_timer t(inst.route("GET", "/v1/events/{id}"));
            throw std::runtime_error("x");
        },
        std::runtime_error);
    const auto text = vitals_test::checked_render(reg);
    const auto count = [&](std::string_view m, std::string_view route, std::string_view st) {
        return sample(text, "http_server_request_duration_seconds_count",
                      {"http_request_method=\"" + std::string(m) + "\"", "http_route=\"" + std::string(route) + "\"",
                       "http_response_status_code=\"" + std::string(st) + "\""});
    };
    EXPECT_EQ(count("_OTHER", "", "404"), 1) << text;
    EXPECT_EQ(count("GET", "/v1/events/{id}", "200"), 1) << text;
    EXPECT_EQ(count("GET", "/v1/events/{id}", "500"), 1) << text;
    EXPECT_EQ(count("POST", "/v1/events", "504"), 1) << text;
    EXPECT_EQ(inst.in_flight().value(), 0);
    EXPECT_NE(text.find("# TYPE http_server_active_requests gauge"), std::string::npos);
    EXPECT_TRUE(std::isnan(sample(text, "http_requests_total")));
    EXPECT_TRUE(std::isnan(sample(text, "http_requests_in_flight")));
}

// Layers made while other threads render and record: every render stays valid and complete.
TEST(http_options, layers_made_during_renders) {
    vitals::registry reg;
    instrumentation inst(reg);
    auto& base = inst.route("GET", "/base");
    std::atomic<bool> done{false};
    std::thread render([&] {
        while (!done) {
            const auto text = vitals::render_text(reg);
            ASSERT_EQ(sample(text, "http_request_duration_seconds_count", {"endpoint=\"/base\""}) >= 0, true);
        }
    });
    std::thread record([&] {
        while (!done) observe(base);
    });
    for (int i = 1; i <= 50; ++i) observe(inst.route("GET", "/r" + std::to_string(i), {.buckets = {0.001 * i}}));
    done = true;
    render.join();
    record.join();
    const auto text = vitals_test::checked_render(reg);
    EXPECT_EQ(route_les(text, "GET", "/r50"), (std::vector<std::string>{"0.05", "+Inf"}));
    EXPECT_EQ(sample(text, "http_request_duration_seconds_count", {"endpoint=\"/r7\""}), 1);
}

}  // namespace
