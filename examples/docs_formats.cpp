// The code samples of docs/formats.md: content negotiation, OpenMetrics, protobuf, summaries,
// native histograms, info and stateset. Built and run by CI (suite 'docs').
#include <vitals/exposition/render.hpp>
#include <vitals/core/info.hpp>
#include <vitals/core/native_histogram.hpp>
#include <vitals/core/stateset.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#include <cassert>
#include <cmath>
#include <iostream>
#include <string>

int main() {
    vitals::registry r;

    // Summary: quantiles over the last 10 minutes (5 rotating age buckets), within 0.55%.
    auto latency = r.summary<"rpc_duration_seconds">("RPC latency.", {0.5, 0.9, 0.99});
    latency.observe(0.042);

    // Native histogram: schema 3 (bucket factor 1.1), at most 160 buckets, classic buckets kept
    // for consumers that read only those.
    auto& sizes = r.native_histogram<"response_size_bytes", vitals::labels<"route">>(
        "Response sizes.", {.bucket_factor = 1.1, .max_buckets = 160, .classic_buckets = {1e3, 1e4, 1e5}});
    sizes.labels("/v1/events").observe(5300);

    // Info and stateset.
    r.info<"build_info", vitals::labels<"version", "revision">>("Build information.").set("1.4.2", "9f1c2e0");
    auto& mode = r.stateset<"mode">("Serving mode.", {"primary", "replica"});
    mode.labels().set_only("primary");

    // Serving a scrape: pick the format from the Accept header, render, send with its type.
    auto serve = [&](std::string_view accept_header) {
        const vitals::negotiated_format n = vitals::negotiate(accept_header);
        std::string body;  // reuse across scrapes
        vitals::render(r, n.format, body);
        return std::pair{std::string(n.content_type), body};
    };

    auto [type, body] = serve("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5");
    assert(type == "application/openmetrics-text; version=1.0.0; charset=utf-8");
    assert(body.ends_with("# EOF\n"));
    auto [legacy_type, legacy_body] = serve("");
    assert(legacy_type == "text/plain; version=0.0.4; charset=utf-8");
    assert(!legacy_body.empty());

    // Per-call reads, for tests and debugging.
    assert(std::fabs(latency.quantile(0.5) - 0.042) <= 0.042 * vitals::summary_relative_error);
    assert(sizes.with("/v1/events").snapshot().count == 1);
    std::cout << body;
}
