// The code shown in docs/health.md, compiled and run in CI.
#include <vitals/health/checks.hpp>
#include <vitals/health/handler.hpp>
#include <vitals/health/liveness.hpp>
#include <vitals/health/metrics.hpp>
#include <vitals/health/probe.hpp>
#include <vitals/vitals.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>

int main() {
    vitals::registry ops(vitals::const_labels_from_env("api", "development"));

    // Readiness: dependency checks, run concurrently, each under its own timeout; results are
    // cached for a second so a burst of probes does not become a burst of dependency calls.
    vitals::health::probe ready({
        .cache_ttl = std::chrono::seconds(1),
        .on_result = vitals::health::export_metrics(ops),  // health_check_up, health_check_duration_seconds
    });
    ready.add(vitals::health::writable_dir_check("spool", std::filesystem::temp_directory_path()));
    ready.add("cache", [] { return true; }, {.critical = false});
    ready.add(
        "queue",
        [](vitals::health::deadline_t) { return vitals::health::degraded("2 of 3 brokers reachable"); },
        {.timeout = std::chrono::milliseconds(500)});

    // Liveness: the process alone, never its dependencies.
    vitals::health::liveness live;

    // Framework-independent answers: route them from your server's handlers.
    vitals::health::response r = vitals::health::handle_ready(ready, "", "verbose");
    std::cout << r.status << ' ' << r.content_type << '\n' << r.body << '\n';
    vitals::health::response l = vitals::health::handle_live(live, "format=text");
    std::cout << l.status << ' ' << l.body << '\n';

    // One dependency: /v1/ready/spool
    auto one = vitals::health::handle_ready(ready, "/spool", "");
    std::cout << one.status << '\n';

    // Or use the report directly.
    vitals::health::readiness_report report = ready.check();
    for (const auto& c : report.checks)
        std::cout << c.name << ": " << vitals::health::to_string(c.result.status) << '\n';

    std::cout << vitals::render_text(ops);
}
