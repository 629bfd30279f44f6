// Fuzzes what an HTTP client controls once a request reaches vitals: the method, the raw path
// (matched against route templates, and recorded as `unmatched` when nothing matches) and the
// query string of the health endpoints. Property: no crash, method and status labels stay in
// their fixed sets, the series count stays bounded, every render is valid, and the health
// answers are well-formed.
#include <vitals/health/handler.hpp>
#include <vitals/http/http.hpp>
#include <vitals/vitals.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "../tests/support/exposition_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    namespace http = vitals::http;
    static vitals::registry r;
    static http::instrumentation inst(r);
    static const http::route_template routes[] = {http::route_template("/v1/events/{id}"),
                                                  http::route_template("/v1/events"),
                                                  http::route_template("/v1/health")};
    static vitals::health::probe ready;
    static const bool once = [] {
        ready.add("database", [] { return true; });
        ready.add("redis", [] { return vitals::health::unhealthy("down at 10.0.0.1"); }, {.critical = false});
        return true;
    }();
    (void)once;

    // Input: method '\n' target '\n' status (two bytes).
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const auto nl1 = in.find('\n');
    const std::string_view method = in.substr(0, nl1);
    const std::string_view rest = nl1 == std::string_view::npos ? std::string_view{} : in.substr(nl1 + 1);
    const auto nl2 = rest.find('\n');
    const std::string_view target = rest.substr(0, nl2);
    int status = 200;
    if (nl2 != std::string_view::npos && nl2 + 2 < rest.size())
        status = static_cast<unsigned char>(rest[nl2 + 1]) * 256 + static_cast<unsigned char>(rest[nl2 + 2]) - 1000;

    const std::string_view path = http::path_of(target);
    const http::route_template* matched = nullptr;
    for (const auto& rt : routes)
        if (rt.matches(path)) matched = &rt;
    {
        auto timer = matched ? http::request_timer(inst, method, matched->text())
                             : http::request_timer(inst.unmatched().for_method(method));
        timer.set_status(status);
    }
    if (http::method_name(http::parse_method(method)).empty()) std::abort();

    // Health answers for whatever query the client sent.
    const std::string_view query =
        target.find('?') == std::string_view::npos ? std::string_view{} : target.substr(target.find('?'));
    const auto ready_answer =
        vitals::health::handle_ready(ready, path.starts_with("/v1/ready") ? path.substr(9) : "", query);
    if (ready_answer.status != 200 && ready_answer.status != 503 && ready_answer.status != 404) std::abort();
    if (ready_answer.body.find("10.0.0.1") != std::string::npos) std::abort();  // details withheld

    // Bounded: 3 routes + unmatched, 10 methods, 501 status values at most.
    const std::string text = vitals::render_text(r);
    const auto parsed = vitals_test::read_text_exposition(text);
    if (!parsed.ok()) {
        std::fprintf(stderr, "invalid exposition: %s\n", parsed.error.c_str());
        std::abort();
    }
    return 0;
}
