// Fuzzes the values the API accepts: every metric kind driven with negative, NaN, ±Inf, ±0,
// subnormal and huge values, hostile label and exemplar bytes, callbacks that lie or throw
// (tests/support/hostile_workload.hpp reads them from the input). Property: the API refuses
// only with a vitals::error, nothing crashes or trips a sanitizer, and every render is one a
// strict consumer accepts: OpenMetrics by the checker that mirrors the Python client's parser
// (tests/support/openmetrics_reader.hpp, cross-checked against it in hostile_values_test), text
// 0.0.4 by the strict text reader, protobuf by the decoder.
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/vitals.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>

#include "../tests/support/exposition_reader.hpp"
#include "../tests/support/hostile_workload.hpp"
#include "../tests/support/openmetrics_reader.hpp"
#include "../tests/support/protobuf_decode.hpp"

namespace {
[[noreturn]] void die(const std::string& why, const std::string& text) {
    std::fprintf(stderr, "%s\n---\n%s\n", why.c_str(), text.c_str());
    std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    vitals_test::hostile_workload load;
    load.apply(std::string_view(reinterpret_cast<const char*>(data), size));
    const vitals::registry& r = load.registry();

    vitals::exposition_options opt;
    opt.created = size % 2 == 1;
    const std::string om = vitals::render_openmetrics(r, opt);
    if (const std::string why = vitals_test::check_openmetrics(om); !why.empty()) die("OpenMetrics: " + why, om);

    const std::string text = vitals::render_text(r);
    if (const auto parsed = vitals_test::read_text_exposition(text); !parsed.ok()) die("text: " + parsed.error, text);

    try {
        (void)vitals_test::pb::decode_families(vitals::render_protobuf(r, opt));
    } catch (const std::exception& e) {
        die(std::string("protobuf: ") + e.what(), "");
    }
    return 0;
}
