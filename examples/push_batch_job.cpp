// A batch job that pushes its metrics to a Pushgateway when it is done: it lives too briefly for
// any scrape to find it, so the gateway keeps its last push for Prometheus.
//
//   ./build/examples/push_batch_job [http://gateway:9091]     (or PUSHGATEWAY_URL; default
//   http://127.0.0.1:9091). Exits 1, printing why, when the push fails.
#include <vitals/push/pushgateway.hpp>
#include <vitals/vitals.hpp>

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <thread>

int main(int argc, char** argv) {
    std::string url = "http://127.0.0.1:9091";
    if (const char* env = std::getenv("PUSHGATEWAY_URL"); env != nullptr && *env != '\0') url = env;
    if (argc > 1) url = argv[1];

    vitals::registry registry;
    auto duration = registry.gauge<"nightly_export_duration_seconds">("How long the last run took.");
    auto last_success =
        registry.gauge<"nightly_export_last_success_timestamp_seconds">("When the last run succeeded, in Unix time.");
    auto records = registry.counter<"nightly_export_records_processed_total">("Records the last run exported.");

    const auto started = std::chrono::steady_clock::now();
    for (int batch = 0; batch < 5; ++batch) {  // the job's real work goes here
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        records.inc(200);
    }
    duration.set(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    last_success.set(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());

    try {
        // One group per job and shard: a rerun replaces exactly its own last push.
        vitals::push::pushgateway gateway({.url = url,
                                           .job = "nightly_export",
                                           .grouping = {{"shard", "eu/west-1"}},  // '/' travels in base64
                                           .timeout = std::chrono::seconds(5)});
        const vitals::push::push_result result = gateway.push(registry);
        if (!result) {
            std::cerr << "push failed: " << result.message << '\n';
            return 1;
        }
        std::cout << "pushed to " << url << gateway.path() << " (HTTP " << result.status << ")\n";
    } catch (const std::exception& e) {  // a bad URL or grouping key: a configuration error
        std::cerr << "cannot push: " << e.what() << '\n';
        return 2;
    }
    return 0;
}
