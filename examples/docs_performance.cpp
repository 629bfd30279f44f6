// The code shown in docs/performance.md, compiled and run in CI.
#include <vitals/vitals.hpp>

#include <iostream>
#include <string>
#include <thread>
#include <vector>

int main() {
    vitals::registry r;
    auto& requests =
        r.counter<"http_requests_total", vitals::labels<"method", "endpoint", "status">>("HTTP requests handled.");

    // Fastest: a handle kept for the hot loop. Each increment is one add to the current CPU's
    // word (an rseq sequence: no locked instruction).
    auto ok = requests.with("GET", "/v1/events/{id}", "200");

    // Next: lookup by runtime values, lock-free once the series exists. The scoped reference it
    // returns is for this statement only.
    auto count = [&](const std::string& status) { requests.labels("GET", "/v1/events/{id}", status).inc(); };

    std::vector<std::thread> workers;
    for (int t = 0; t < 4; ++t)
        workers.emplace_back([&] {
            for (int i = 0; i < 100000; ++i) ok.inc();
            count("404");
        });
    for (auto& w : workers) w.join();

    // Rendering sums every CPU's cells; reuse the buffer so a warm render allocates nothing.
    std::string body;
    for (int scrape = 0; scrape < 3; ++scrape) {
        body.clear();  // keeps the capacity
        vitals::render_text(r, body);
    }
    std::cout << body;
}
