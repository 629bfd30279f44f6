// A program that uses vitals the way an application would; built by every consumer project in
// this folder. It prints its exposition, and run.sh checks the lines it expects.
//
//   consumer <how it was built>
#include <vitals/http/operational.hpp>
#include <vitals/process/build_info.hpp>
#include <vitals/process/process_collector.hpp>
#include <vitals/vitals.hpp>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
    const std::string way = argc > 1 ? argv[1] : "unknown";
    vitals::registry r(vitals::const_labels{{"consumer", way}});
    vitals::operational_metrics ops(r);
    ops.service_started("consumer");
    ops.requests_total.labels("GET", "/v1/health", "200").inc();
    vitals::register_process_metrics(r);
    vitals::register_vitals_build_info(r);
    std::cout << vitals::render_text(r);
    // How vitals' cold code reached this program, so run.sh can tell that a compiled-mode build
    // really was one (a header-only build of the same file would print the same metrics).
#ifdef VITALS_COMPILED
    std::cout << "# vitals mode: compiled\n";
#else
    std::cout << "# vitals mode: header-only\n";
#endif
}
