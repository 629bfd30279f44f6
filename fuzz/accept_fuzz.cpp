// Fuzzes the scrape's Accept header: negotiation must never throw or crash, must always answer
// one of the three formats with its exact content type, and the render in that format must be
// valid (text 0.0.4 is checked by the strict in-process reader).
#include <vitals/exposition/render.hpp>
#include <vitals/vitals.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "../tests/support/exposition_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static vitals::registry r;
    static const bool filled = [] {
        r.counter<"fuzz_requests_total", vitals::labels<"code">>("Requests.").labels("200").inc(3);
        r.histogram<"fuzz_seconds">("Latency.", std::vector<double>{0.1, 1}).observe(0.5);
        r.gauge<"fuzz_temperature">("T.").set(21.5);
        return true;
    }();
    (void)filled;
    const std::string_view accept(reinterpret_cast<const char*>(data), size);
    const vitals::negotiated_format n = vitals::negotiate(accept);
    if (n.content_type != vitals::content_type_of(n.format)) std::abort();
    const vitals::exposition e = vitals::serve_metrics(r, accept);
    if (e.content_type != n.content_type || e.body.empty()) std::abort();
    if (n.format == vitals::exposition_format::text_0_0_4) {
        const auto parsed = vitals_test::read_text_exposition(e.body);
        if (!parsed.ok()) {
            std::fprintf(stderr, "invalid exposition: %s\n", parsed.error.c_str());
            std::abort();
        }
    } else if (n.format == vitals::exposition_format::openmetrics_1_0_0) {
        if (!e.body.ends_with("# EOF\n")) std::abort();
    }
    return 0;
}
