// Fuzzes everything outside data can reach on the metrics side: label values (any bytes), help
// strings, metric names given at run time, runtime bucket lists and observed values. Property: no
// crash, no sanitizer report, bad names and buckets are refused with invalid_argument_error, and
// every render is a valid exposition with exact counts.
#include <vitals/vitals.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../tests/support/exposition_reader.hpp"

namespace {
// Splits the input at NUL bytes; missing parts are empty.
std::vector<std::string_view> split(std::string_view in, std::size_t parts) {
    std::vector<std::string_view> out;
    while (out.size() + 1 < parts) {
        const auto z = in.find('\0');
        if (z == std::string_view::npos) break;
        out.push_back(in.substr(0, z));
        in.remove_prefix(z + 1);
    }
    out.push_back(in);
    out.resize(parts);
    return out;
}

[[noreturn]] void die(const std::string& why, const std::string& text) {
    std::fprintf(stderr, "%s\n---\n%s\n", why.c_str(), text.c_str());
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto p = split(in, 7);  // name, help, v1, v2, v3, const label value, bucket bytes
    vitals::registry r({{"service", std::string(p[5])}});
    auto& fixed = r.counter<"fuzz_requests_total", vitals::labels<"a", "b", "c">>(p[1]);
    fixed.labels(p[2], p[3], p[4]).inc();
    fixed.labels(p[2], p[3], p[4]).inc(2);
    fixed.with(p[3], p[4], p[2]).inc();
    if (fixed.with(p[2], p[3], p[4]).value() < 3) die("lost increments", vitals::render_text(r));

    try {
        auto& g = r.gauge<vitals::labels<"v">>(p[0], p[1]);
        g.labels(p[2]).set(static_cast<double>(p[2].size()));
    } catch (const vitals::invalid_argument_error&) {
        if (vitals::is_valid_metric_name(p[0])) die("valid name refused: " + std::string(p[0]), "");
    } catch (const vitals::registration_error&) {
        // the runtime name collided with one of the fixed families: refused, as documented
    }

    std::vector<double> bounds;
    for (std::size_t i = 0; i + 8 <= p[6].size() && bounds.size() < 40; i += 8) {
        double d;
        std::memcpy(&d, p[6].data() + i, 8);
        bounds.push_back(d);
    }
    try {
        auto& h = r.histogram<"fuzz_seconds", vitals::labels<"route">>("h", bounds);
        for (double v : bounds) h.labels(p[3]).observe(v);
        h.labels(p[4]).observe(0.5);
    } catch (const vitals::invalid_argument_error&) {
    } catch (const vitals::registration_error&) {
        // the runtime gauge above took a name this histogram exposes (e.g. fuzz_seconds_sum)
    }

    const std::string text = vitals::render_text(r);
    const auto parsed = vitals_test::read_text_exposition(text);
    if (!parsed.ok()) die("invalid exposition: " + parsed.error, text);
    return 0;
}
