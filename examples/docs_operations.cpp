// The code shown in docs/operations.md, compiled and run in CI.
#include <vitals/http/operational.hpp>
#include <vitals/process/build_info.hpp>
#include <vitals/process/process_collector.hpp>
#include <vitals/vitals.hpp>

#include <iostream>

// Your build system defines these; the fallbacks keep the example self-contained.
#ifndef APP_VERSION
#define APP_VERSION "1.4.2"
#endif
#ifndef APP_REVISION
#define APP_REVISION "9f3c2e1"
#endif

int main() {
    // SERVICE_NAME and ENVIRONMENT become the service and environment labels the rules and the
    // dashboard select on.
    // The same SERVICE_NAME names the process's uptime and starts (see below).
    const vitals::string_ref service = vitals::service_name_from_env("api");
    vitals::registry ops(vitals::const_labels_from_env(service, "development"));

    // uptime_seconds, service_starts_total and the http_* metrics the rules are written for.
    vitals::operational_metrics metrics(ops);
    metrics.service_started(service);

    // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, ...
    vitals::register_process_metrics(ops);

    // vitals_build_info{version, revision, compiler} 1, and the application's own build info.
    vitals::register_vitals_build_info(ops);
    vitals::register_build_info(ops, "api_build_info", APP_VERSION, APP_REVISION);

    std::cout << vitals::render_text(ops);
}
