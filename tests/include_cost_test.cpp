// The include-cost budget of <vitals/vitals.hpp> (docs/performance.md): the standard headers that
// cost most to parse in C++20 must not come in through it. A change that brings one back fails
// here, before the benchmark's timing would show it. (The guard macros are libstdc++'s, which is
// the library vitals is built and measured with.)
#include <vitals/vitals.hpp>

#if defined(__GLIBCXX__)
#ifdef _GLIBCXX_STRING
#error "<vitals/vitals.hpp> includes <string>"
#endif
#ifdef _GLIBCXX_STRING_VIEW
#error "<vitals/vitals.hpp> includes <string_view>"
#endif
#ifdef _GLIBCXX_VECTOR
#error "<vitals/vitals.hpp> includes <vector>"
#endif
#ifdef _GLIBCXX_SPAN
#error "<vitals/vitals.hpp> includes <span>"
#endif
#ifdef _GLIBCXX_STDEXCEPT
#error "<vitals/vitals.hpp> includes <stdexcept>"
#endif
#ifdef _GLIBCXX_OPTIONAL
#error "<vitals/vitals.hpp> includes <optional>"
#endif
#ifdef _GLIBCXX_ATOMIC
#error "<vitals/vitals.hpp> includes <atomic>"
#endif
#ifdef _GLIBCXX_MUTEX
#error "<vitals/vitals.hpp> includes <mutex>"
#endif
#ifdef _GLIBCXX_ARRAY
#error "<vitals/vitals.hpp> includes <array>"
#endif
#ifdef _GLIBCXX_CMATH
#error "<vitals/vitals.hpp> includes <cmath>"
#endif
#endif

// And the whole core is usable without them: declare, update and render into a text_buffer.
int main() {
    vitals::registry r({{"service", "include-cost"}});
    auto c = r.counter<"checks_total">("Checks.");
    c.inc();
    auto& f = r.histogram<"latency_seconds", vitals::labels<"route">>("Latency.");
    f.labels("/").observe(0.2);
    vitals::text_buffer out;
    vitals::render_text(r, out);
    const vitals::string_ref text = out.view();
    return text.find("checks_total{service=\"include-cost\"} 1\n") != vitals::string_ref::npos &&
                   text.find("latency_seconds_count{service=\"include-cost\",route=\"/\"} 1\n") !=
                       vitals::string_ref::npos
               ? 0
               : 1;
}
