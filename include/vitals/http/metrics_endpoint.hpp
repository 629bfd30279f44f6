// vitals — serving a registry over HTTP: the body and content type of a scrape response.
//
// Every adapter and the demo service answer a scrape through render_metrics(), so that content
// negotiation (OpenMetrics, protobuf) can be added here once, for all of them.
#pragma once

#include <string>
#include <string_view>

#include "../core/registry.hpp"
#include "../exposition/negotiate.hpp"
#include "../exposition/render.hpp"
#include "../exposition/text.hpp"

namespace vitals::http {

/// The exposition formats a scrape can be answered in (see vitals/exposition/negotiate.hpp).
using exposition_format = vitals::exposition_format;

/// Picks the format for a request's `Accept` header: OpenMetrics or protobuf when the scraper
/// prefers them, text 0.0.4 for no header, unknown types or garbage (see vitals::negotiate).
[[nodiscard]] constexpr exposition_format negotiate_format(string_ref accept) noexcept {
    return vitals::negotiate(accept).format;
}

/// A rendered scrape: send `body` with the `Content-Type` header `content_type`.
struct metrics_response {
    std::string body;         ///< The exposition.
    string_ref content_type;  ///< A static string: valid for the program's lifetime.
};

/// Renders `r` for a scrape whose `Accept` header is `accept` (empty when absent).
[[nodiscard]] inline metrics_response render_metrics(const metric_source& r, string_ref accept = {}) {
    metrics_response out;
    const auto n = vitals::negotiate(accept);
    vitals::render(r, n.format, out.body);
    out.content_type = n.content_type;
    return out;
}

}  // namespace vitals::http
