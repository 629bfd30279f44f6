// vitals — one entry point for every exposition format, for servers that negotiate.
#pragma once

#include <string>

#include "../core/registry.hpp"
#include "negotiate.hpp"
#include "openmetrics.hpp"
#include "protobuf.hpp"
#include "text.hpp"

namespace vitals {

/// Appends the registry's exposition in format `f` to `out` (reuse `out` across scrapes).
/// `opt` applies to OpenMetrics and protobuf; text 0.0.4 has no optional parts.
inline void render(const metric_source& r, exposition_format f, std::string& out, exposition_options opt = {}) {
    switch (f) {
        case exposition_format::openmetrics_1_0_0:
            render_openmetrics(r, out, opt);
            return;
        case exposition_format::protobuf_delimited:
            render_protobuf(r, out, opt);
            return;
        case exposition_format::text_0_0_4:
            break;
    }
    render_text(r, out);
}

/// A rendered scrape answer: send `body` with `Content-Type: content_type`.
struct exposition {
    std::string body;         ///< The exposition.
    string_ref content_type;  ///< A static string.
};

/// Negotiates the format from a scrape's `Accept` header and renders `r` in it.
inline exposition serve_metrics(const metric_source& r, string_ref accept, exposition_options opt = {}) {
    const negotiated_format n = negotiate(accept);
    exposition e;
    render(r, n.format, e.body, opt);
    e.content_type = n.content_type;
    return e;
}

}  // namespace vitals
