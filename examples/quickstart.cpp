// The quick start: declare the seed service's operational metrics with const labels from the
// environment (SERVICE_NAME, ENVIRONMENT), record a few values, print the exposition.
//
//   SERVICE_NAME=archon72-api ENVIRONMENT=staging ./build/examples/quickstart
#include <vitals/http/operational.hpp>
#include <vitals/vitals.hpp>

#include <iostream>
#include <string>

int main() {
    // Every series this registry renders carries service and environment labels. The process's
    // own uptime is tracked under the same name, so uptime_seconds{service} matches the rest.
    const vitals::string_ref service = vitals::service_name_from_env("api");
    vitals::registry ops_registry(vitals::const_labels_from_env(service, "development"));

    // One declaration registers uptime, starts, request latency, totals and failures.
    vitals::operational_metrics ops(ops_registry);
    ops.service_started(service);
    ops.service_started("event-writer");

    // Keep a handle to a hot series: updating it is one add to the current CPU's word.
    auto health_ok = ops.requests_total.with("GET", "/v1/health", "200");
    for (int i = 0; i < 3; ++i) health_ok.inc();

    // Or look series up by runtime values, lock-free once they exist.
    ops.request_duration.labels("GET", "/v1/events/{id}").observe(0.042);
    ops.requests_total.labels("GET", "/v1/events/{id}", "404").inc();
    ops.requests_failed_total.labels("GET", "/v1/events/{id}", "404", "client_error").inc();

    // A metric of your own, next to the bundle.
    auto& queue = ops_registry.gauge<"event_queue_depth", vitals::labels<"queue">>("Events waiting to be written.");
    queue.labels("primary").set(17);

    // Governance metrics live in a registry of their own and never reach the ops endpoint.
    vitals::registry governance;
    governance.gauge<"halt_state">("1 while the system is halted.").set(0);

    std::string body;  // reuse this buffer across scrapes: rendering appends, allocation-free once warm
    vitals::render_text(ops_registry, body);
    std::cout << body;
}
