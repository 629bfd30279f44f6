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

    // Readiness: dependency checks run in the background, each on its own interval and under
    // its own timeout; answers read the latest results and never wait on a dependency.
    vitals::health::probe_options probe_opts;
    vitals::health::export_metrics(ops, probe_opts);  // health_check_up, _duration_seconds, ...
    vitals::health::probe ready(std::move(probe_opts));
    ready.add(vitals::health::writable_dir_check("spool", std::filesystem::temp_directory_path()));
    ready.add("cache", [] { return true; }, {.critical = false});
    ready.add("queue", [](vitals::health::deadline_t) { return vitals::health::degraded("2 of 3 brokers reachable"); },
              {.timeout = std::chrono::milliseconds(500), .interval = std::chrono::seconds(10)});

    // Tools and tests can run every check now and wait for the results.
    vitals::health::readiness_report first = ready.run_now();

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

    // Or use the report directly, and write it with the public renderers.
    vitals::health::readiness_report report = ready.check();
    for (const auto& c : report.checks)
        std::cout << c.name << ": " << vitals::health::to_string(c.result.status) << ", "
                  << std::chrono::duration<double>(c.age).count() << " s old\n";
    std::cout << vitals::health::readiness_json(report) << '\n'
              << vitals::health::readiness_text(first, {}, /*verbose=*/true);

    std::cout << vitals::render_text(ops);
}
