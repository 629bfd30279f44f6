// The status page's cost (issue 21's bar: one render for 50 routes and 10 checks under 1 ms).
//
//   status_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// status_render/html and status_render/json: a full render each iteration (refresh_seconds = 0,
// so the registry is read every time) of 50 routes (10 buckets each, three error types) with 15
// slots of history, and 10 checks. status_render/data: the numbers without the writing.
// status_observe: an observation on a route whose page has its sampler running, to show the
// history adds nothing to the update path (compare with a plain histogram observe).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include <vitals/http/operational.hpp>
#include <vitals/process/build_info.hpp>
#include <vitals/status/status_page.hpp>
#include <vitals/vitals.hpp>

namespace {

struct page_fixture {
    double t = 0;
    vitals::registry reg{vitals::const_labels{{"service", "bench"}, {"environment", "bench"}}};
    vitals::operational_metrics ops{reg};
    vitals::health::probe probe;
    std::unique_ptr<vitals::status::status_page> page;

    page_fixture() {
        vitals::register_vitals_build_info(reg);
        ops.service_started("bench");
        for (int c = 0; c < 10; ++c) probe.add("check" + std::to_string(c), [] { return true; });
        (void)probe.run_now();
        vitals::status::status_options o;
        o.clock = [this] { return t; };
        o.refresh_seconds = 0;
        page = std::make_unique<vitals::status::status_page>(reg, &probe, o);
        for (int slot = 0; slot < 16; ++slot) {
            traffic(slot);
            t += 60;
            page->sample();
        }
        t += 30;
    }
    void traffic(int slot) {
        static const char* types[] = {"client_error", "server_error", "timeout"};
        for (int r = 0; r < 50; ++r) {
            const std::string route = "/v1/resource" + std::to_string(r) + "/{id}";
            auto h = ops.request_duration.with(r % 2 ? "GET" : "POST", route);
            for (int i = 0; i < 20; ++i) (void)h.observe(0.002 * (i + r + slot));
            ops.requests_failed_total.labels(r % 2 ? "GET" : "POST", route, "500", types[r % 3]).inc();
        }
    }
};

void status_render_html(benchmark::State& state) {
    page_fixture f;
    for (auto _ : state) {
        std::string s = f.page->html();
        benchmark::DoNotOptimize(s.data());
    }
}
BENCHMARK(status_render_html)->Name("status_render/html")->Unit(benchmark::kMicrosecond);

void status_render_json(benchmark::State& state) {
    page_fixture f;
    for (auto _ : state) {
        std::string s = f.page->json();
        benchmark::DoNotOptimize(s.data());
    }
}
BENCHMARK(status_render_json)->Name("status_render/json")->Unit(benchmark::kMicrosecond);

void status_render_data(benchmark::State& state) {
    page_fixture f;
    for (auto _ : state) {
        auto d = f.page->data();
        benchmark::DoNotOptimize(d.routes.data());
    }
}
BENCHMARK(status_render_data)->Name("status_render/data")->Unit(benchmark::kMicrosecond);

void status_observe(benchmark::State& state) {
    vitals::registry reg;
    vitals::operational_metrics ops(reg);
    auto h = ops.request_duration.with("GET", "/a");
    std::unique_ptr<vitals::status::status_page> page;
    if (state.range(0)) {
        vitals::status::status_options o;
        o.history.interval_seconds = 0.01;
        page = std::make_unique<vitals::status::status_page>(reg, nullptr, o);
        page->start_sampler();
    }
    double v = 0.001;
    for (auto _ : state) {
        (void)h.observe(v);
        benchmark::ClobberMemory();
    }
}
BENCHMARK(status_observe)->Name("status_observe")->ArgName("sampler")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
