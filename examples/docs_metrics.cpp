// The code shown in docs/metrics.md, compiled and run in CI (tests/docs_samples_check.py checks
// that the page shows exactly this code).
#include <vitals/core/collector.hpp>
#include <vitals/core/registry_set.hpp>
#include <vitals/core/timer.hpp>
#include <vitals/vitals.hpp>

#include <iostream>
#include <memory>
#include <string>
#include <vector>

// A metric whose value lives elsewhere; read when the registry is rendered.
struct work_queue {
    std::size_t size() const { return 17; }
};

// A connection pool's own statistics, exposed by a collector that reads them at scrape time.
struct connection_pool {
    int idle() const { return 3; }
    int busy() const { return 5; }
    long long waits() const { return 120; }
};

class pool_collector final : public vitals::collector {
public:
    explicit pool_collector(const connection_pool& pool) : pool_(pool) {}
    void describe(vitals::collector_description& d) const override {
        d.gauge("db_pool_connections", "Connections, by state.", {"state"});
        d.counter("db_pool_waits_total", "Times a caller waited for a connection.");
    }
    void collect(vitals::collector_output& out) const override {
        out.gauge("db_pool_connections", {"idle"}, pool_.idle());
        out.gauge("db_pool_connections", {"busy"}, pool_.busy());
        out.counter("db_pool_waits_total", {}, static_cast<double>(pool_.waits()));
    }

private:
    const connection_pool& pool_;
};

int main() {
    // Every series this registry renders carries service="api" and environment="staging".
    vitals::registry ops(vitals::const_labels{{"service", "api"}, {"environment", "staging"}});

    // Counters: only go up. Integer increments are exact; bad increments are refused.
    auto& requests = ops.counter<"http_requests_total", vitals::labels<"method", "endpoint", "status">>(
        "HTTP requests handled, by method, route template and status code.");
    requests.labels("GET", "/v1/events/{id}", "200").inc();
    requests.labels("GET", "/v1/events/{id}", "200").inc(41);
    bool accepted = requests.labels("GET", "/v1/events/{id}", "200").inc(-1);  // false: nothing added

    // Gauges: go up and down, or are set.
    auto& depth = ops.gauge<"event_queue_depth", vitals::labels<"queue">>("Events waiting to be written.");
    depth.labels("primary").set(17);
    depth.labels("primary").dec();

    // Histograms: buckets fixed at registration (+Inf implied); observe values or durations.
    auto& latency = ops.histogram<"http_request_duration_seconds", vitals::labels<"method", "endpoint">>(
        "HTTP request latency in seconds.", vitals::http_duration_buckets);
    latency.labels("GET", "/v1/events/{id}").observe(0.042);

    // A family without labels hands out its single series directly.
    auto in_flight = ops.gauge<"http_requests_in_flight">("HTTP requests being handled right now.");
    in_flight.inc();

    // A handle: look the series up once, then update it with no lookup at all.
    auto ok = requests.with("POST", "/v1/events", "201");
    ok.inc();

    // Named label values: checked against the family's labels at compile time, in any order.
    requests
        .labels(vitals::label<"status">("201"), vitals::label<"method">("POST"),
                vitals::label<"endpoint">("/v1/events"))
        .inc();
    if (ok.value() != 2) return 1;  // the same series as the positional spelling

    // Removing a series: it disappears from the next render. The handle still works, but what
    // it records is no longer exposed; the same label values later start a new series at zero.
    requests.remove("POST", "/v1/events", "201");
    ok.inc();                                                 // counted, but no longer rendered
    auto fresh = requests.with("POST", "/v1/events", "201");  // a new series, starting at zero

    // Registering the same definition again returns the same family; a different one throws.
    auto& again = ops.counter<"http_requests_total", vitals::labels<"method", "endpoint", "status">>(
        "HTTP requests handled, by method, route template and status code.");
    if (&again != &requests) return 1;
    try {
        ops.gauge<"http_requests_total">("Not a counter this time.");
    } catch (const vitals::registration_error& e) {
        std::cerr << e.what() << '\n';
    }

    // Callback metrics: computed at render time from state kept elsewhere.
    work_queue queue;
    auto& backlog = ops.callback_gauge<"work_queue_backlog", vitals::labels<"queue">>("Items waiting.");
    backlog.set([&queue] { return static_cast<double>(queue.size()); }, "primary");

    // Timing any code: a scope guard observes the seconds into a histogram (or summary) when the
    // scope ends, exceptions included; another counts work in progress on a gauge.
    auto job_seconds = ops.histogram<"job_duration_seconds">("Batch job durations.", {0.1, 1, 10});
    auto jobs_running = ops.gauge<"jobs_running">("Batch jobs in progress.");
    {
        vitals::scoped_timer timer(job_seconds);
        vitals::inprogress_guard in_progress(jobs_running);
        // ... the job ...
    }
    const int rows = vitals::timed(job_seconds, [] { return 42; });  // times one call

    // Names known only at run time (an exporter reading its configuration): a run-time metric
    // name, and label names in any list of strings. Both are checked here, at registration.
    const std::vector<std::string> configured = {"queue", "result"};
    auto& jobs = ops.counter("exporter_jobs_total", "Jobs, by queue and result.", configured);
    jobs.labels("mail", "sent").inc();  // the number of values is checked at run time
    const std::vector<std::string> row = {"sms", "failed"};
    jobs.with(row).inc();  // or the values in a list too
    auto& waiting = ops.gauge("exporter_queue_depth", "Items waiting.", {"queue"});
    waiting.labels("mail").set(3);

    // A custom collector: its families are checked now; its samples are read at every scrape.
    connection_pool pool;
    const vitals::collector_registration pool_metrics =
        vitals::register_collector(ops, std::make_shared<pool_collector>(pool));
    if (pool_metrics.names().size() != 2) return 1;

    // Registries are independent: rendering one never shows another's metrics.
    vitals::registry governance;
    governance.gauge<"halt_state">("1 while the system is halted.").set(0);

    // One endpoint for several registries: a registry_set renders them as one exposition.
    vitals::registry process_metrics({{"collector", "process"}});
    process_metrics.gauge<"process_open_fds">("Open file descriptors.").set(12);
    const vitals::registry_set ops_endpoint(ops, process_metrics);
    std::string ops_scrape;
    vitals::render_text(ops_endpoint, ops_scrape);  // or render_openmetrics: one # EOF

    std::string body;                // reuse it across scrapes
    vitals::render_text(ops, body);  // appends text format 0.0.4
    std::cout << body;
    return fresh.value() == 0 && !accepted && rows == 42 ? 0 : 1;
}
