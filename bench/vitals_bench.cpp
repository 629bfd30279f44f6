// vitals benchmarks, side by side with prometheus-cpp when it is available.
//
// Every case is registered as `<case>/vitals` and, when built with VITALS_BENCH_PROMETHEUS_CPP,
// `<case>/prometheus_cpp`, with the same inputs for both. The hot-path cases run with one and two
// threads; with two threads both threads update the *same* series, and the figure to compare is
// CPU time per operation (Google Benchmark sums the CPU time of all threads and divides it by the
// iterations of all threads).
//
// Each hot loop ends with benchmark::ClobberMemory(): the compiler must assume any memory changed,
// so it reloads the thread-local pointers, the series and its slot on every iteration, as it would
// in real code where the update sits among other work. Nothing is hoisted out of the loop for
// either library.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <vitals/core/summary.hpp>
#include <vitals/vitals.hpp>

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Shared inputs.

// Ten finite bucket bounds (the Prometheus defaults less the last one); +Inf is implied.
constexpr std::array<double, 10> bucket_bounds{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};

// Observations spread over every bucket, +Inf included; cycled through by the histogram cases.
const std::vector<double>& observations() {
    static const std::vector<double> v = [] {
        std::vector<double> out(1024);
        std::uint64_t x = 0x9E3779B97F4A7C15ULL;
        for (auto& o : out) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            const double u = static_cast<double>(x >> 11) / 9007199254740992.0;  // [0, 1)
            o = 0.001 * std::pow(10000.0, u);                                    // 1 ms .. 10 s, log-uniform
        }
        return out;
    }();
    return v;
}

// 64 label combinations for the labelled lookup: runtime strings, all of them already created.
struct label_values {
    std::vector<std::string> method, path, code;
    label_values() {
        const char* methods[] = {"GET", "POST", "PUT", "DELETE"};
        const char* paths[] = {"/api/v1/users", "/api/v1/orders", "/healthz", "/metrics"};
        const char* codes[] = {"200", "404", "500", "503"};
        for (auto* m : methods)
            for (auto* p : paths)
                for (auto* c : codes) {
                    method.emplace_back(m);
                    path.emplace_back(p);
                    code.emplace_back(c);
                }
    }
    std::size_t size() const { return method.size(); }
};
const label_values& combos() {
    static const label_values v;
    return v;
}

constexpr int render_counter_series = 10000;
constexpr int render_histogram_series = 1000;

std::string series_path(int i) { return "/api/v1/resource/" + std::to_string(i); }

// ---------------------------------------------------------------------------------------------
// vitals fixtures (function-local statics: built once, shared by all threads of a case).

struct vitals_hot {
    vitals::registry reg;
    vitals::counter counter = reg.counter<"bench_counter_total">("A counter.");
    vitals::gauge gauge_inc = reg.gauge<"bench_gauge_inc">("A gauge that is incremented.");
    vitals::gauge gauge_set = reg.gauge<"bench_gauge_set">("A gauge that is set.");
    vitals::histogram histogram = reg.histogram<"bench_histogram_seconds">("A histogram.", bucket_bounds);
    vitals::counter_family<vitals::labels<"method", "path", "code">>& family =
        reg.counter<"bench_labeled_total", vitals::labels<"method", "path", "code">>("A labelled counter.");
    vitals::counter kept = family.with("GET", "/api/v1/users", "200");
    // The same labels given at run time (as an exporter reading its configuration would).
    vitals::counter_family<vitals::dynamic_labels>& runtime_family =
        reg.counter("bench_runtime_labeled_total", "A labelled counter, label names given at run time.",
                    {"method", "path", "code"});
    vitals_hot() {
        const auto& c = combos();
        for (std::size_t i = 0; i < c.size(); ++i) {
            family.labels(c.method[i], c.path[i], c.code[i]).inc();
            runtime_family.labels(c.method[i], c.path[i], c.code[i]).inc();
        }
    }
};
vitals_hot& vh() {
    static vitals_hot f;
    return f;
}

struct vitals_render_counters {
    vitals::registry reg;
    vitals_render_counters() {
        auto& fam = reg.counter<"bench_requests_total", vitals::labels<"method", "path">>("Requests.");
        for (int i = 0; i < render_counter_series; ++i)
            fam.labels(i % 2 ? "GET" : "POST", series_path(i)).inc(static_cast<std::uint64_t>(i) * 7 + 1);
    }
};

struct vitals_render_histograms {
    vitals::registry reg;
    vitals_render_histograms() {
        auto& fam = reg.histogram<"bench_latency_seconds", vitals::labels<"path">>("Latency.", bucket_bounds);
        const auto& obs = observations();
        for (int i = 0; i < render_histogram_series; ++i) {
            auto s = fam.labels(series_path(i));
            for (int k = 0; k < 16; ++k) s.observe(obs[static_cast<std::size_t>(i * 16 + k) % obs.size()]);
        }
    }
};

// ---------------------------------------------------------------------------------------------
// vitals cases.

// One loop, at one address, for both counter cases. The same eight instructions measure anywhere
// from 0.6 to 1.3 ns per increment on this machine depending only on where the loop lands in the
// binary (instruction fetch alignment; GCC's -falign-loops/-falign-jumps move it either way), so
// two copies of the loop would compare code placement, not counters. Sharing it leaves only what
// the cases differ in: the series (an unlabelled counter's, or a labelled family's kept handle's).
[[gnu::noinline]] void counter_inc_loop(benchmark::State& state, const vitals::counter& c) {
    for (auto _ : state) {
        c.inc();
        benchmark::ClobberMemory();
    }
}

void counter_inc_vitals(benchmark::State& state) { counter_inc_loop(state, vh().counter); }

void gauge_inc_vitals(benchmark::State& state) {
    const vitals::gauge& g = vh().gauge_inc;
    for (auto _ : state) {
        g.inc();
        benchmark::ClobberMemory();
    }
}

void gauge_set_vitals(benchmark::State& state) {
    const vitals::gauge& g = vh().gauge_set;
    std::int64_t v = 0;  // an integer chain, converted each time: no FP latency chain in the loop
    for (auto _ : state) {
        g.set(static_cast<double>(v++));
        benchmark::ClobberMemory();
    }
}

void histogram_observe_vitals(benchmark::State& state) {
    const vitals::histogram& h = vh().histogram;
    const auto& obs = observations();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 512;
    for (auto _ : state) {
        h.observe(obs[i++ & 1023]);
        benchmark::ClobberMemory();
    }
}

void labeled_inc_vitals(benchmark::State& state) {
    auto& fam = vh().family;
    const auto& c = combos();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
    for (auto _ : state) {
        const std::size_t k = i++ & 63;
        fam.labels(c.method[k], c.path[k], c.code[k]).inc();
        benchmark::ClobberMemory();
    }
}

void labeled_inc_handle_vitals(benchmark::State& state) { counter_inc_loop(state, vh().kept); }

// labeled_inc on a family whose label names were given at run time: the same lookup, plus a
// run-time check of the number of values.
void labeled_inc_runtime_vitals(benchmark::State& state) {
    auto& fam = vh().runtime_family;
    const auto& c = combos();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
    for (auto _ : state) {
        const std::size_t k = i++ & 63;
        fam.labels(c.method[k], c.path[k], c.code[k]).inc();
        benchmark::ClobberMemory();
    }
}

// labeled_inc with the values named (vitals::label<"...">), given out of declaration order: the
// names are resolved at compile time, so this should cost what the positional form costs.
void labeled_inc_named_vitals(benchmark::State& state) {
    auto& fam = vh().family;
    const auto& c = combos();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
    for (auto _ : state) {
        const std::size_t k = i++ & 63;
        fam.labels(vitals::label<"code">(c.code[k]), vitals::label<"method">(c.method[k]),
                   vitals::label<"path">(c.path[k]))
            .inc();
        benchmark::ClobberMemory();
    }
}

void render_counters_10k_vitals(benchmark::State& state) {
    static vitals_render_counters f;
    std::string out;
    for (auto _ : state) {
        out.clear();
        vitals::render_text(f.reg, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}

void render_histograms_1k_vitals(benchmark::State& state) {
    static vitals_render_histograms f;
    std::string out;
    for (auto _ : state) {
        out.clear();
        vitals::render_text(f.reg, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
// ---------------------------------------------------------------------------------------------
// prometheus-cpp fixtures and cases: the same work through its public API.

struct prom_hot {
    prometheus::Registry reg;
    prometheus::Counter& counter =
        prometheus::BuildCounter().Name("bench_counter_total").Help("A counter.").Register(reg).Add({});
    prometheus::Gauge& gauge_inc =
        prometheus::BuildGauge().Name("bench_gauge_inc").Help("A gauge that is incremented.").Register(reg).Add({});
    prometheus::Gauge& gauge_set =
        prometheus::BuildGauge().Name("bench_gauge_set").Help("A gauge that is set.").Register(reg).Add({});
    prometheus::Histogram& histogram =
        prometheus::BuildHistogram()
            .Name("bench_histogram_seconds")
            .Help("A histogram.")
            .Register(reg)
            .Add({}, prometheus::Histogram::BucketBoundaries(bucket_bounds.begin(), bucket_bounds.end()));
    prometheus::Family<prometheus::Counter>& family =
        prometheus::BuildCounter().Name("bench_labeled_total").Help("A labelled counter.").Register(reg);
    prom_hot() {
        const auto& c = combos();
        for (std::size_t i = 0; i < c.size(); ++i)
            family.Add({{"method", c.method[i]}, {"path", c.path[i]}, {"code", c.code[i]}}).Increment();
    }
};
prom_hot& ph() {
    static prom_hot f;
    return f;
}

struct prom_render_counters {
    prometheus::Registry reg;
    prom_render_counters() {
        auto& fam = prometheus::BuildCounter().Name("bench_requests_total").Help("Requests.").Register(reg);
        for (int i = 0; i < render_counter_series; ++i)
            fam.Add({{"method", i % 2 ? "GET" : "POST"}, {"path", series_path(i)}}).Increment(i * 7.0 + 1);
    }
};

struct prom_render_histograms {
    prometheus::Registry reg;
    prom_render_histograms() {
        auto& fam = prometheus::BuildHistogram().Name("bench_latency_seconds").Help("Latency.").Register(reg);
        const prometheus::Histogram::BucketBoundaries b(bucket_bounds.begin(), bucket_bounds.end());
        const auto& obs = observations();
        for (int i = 0; i < render_histogram_series; ++i) {
            auto& h = fam.Add({{"path", series_path(i)}}, b);
            for (int k = 0; k < 16; ++k) h.Observe(obs[static_cast<std::size_t>(i * 16 + k) % obs.size()]);
        }
    }
};

void counter_inc_prom(benchmark::State& state) {
    prometheus::Counter& c = ph().counter;
    for (auto _ : state) {
        c.Increment();
        benchmark::ClobberMemory();
    }
}

void gauge_inc_prom(benchmark::State& state) {
    prometheus::Gauge& g = ph().gauge_inc;
    for (auto _ : state) {
        g.Increment();
        benchmark::ClobberMemory();
    }
}

void gauge_set_prom(benchmark::State& state) {
    prometheus::Gauge& g = ph().gauge_set;
    std::int64_t v = 0;
    for (auto _ : state) {
        g.Set(static_cast<double>(v++));
        benchmark::ClobberMemory();
    }
}

void histogram_observe_prom(benchmark::State& state) {
    prometheus::Histogram& h = ph().histogram;
    const auto& obs = observations();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 512;
    for (auto _ : state) {
        h.Observe(obs[i++ & 1023]);
        benchmark::ClobberMemory();
    }
}

void labeled_inc_prom(benchmark::State& state) {
    auto& fam = ph().family;
    const auto& c = combos();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 7;
    for (auto _ : state) {
        const std::size_t k = i++ & 63;
        fam.Add({{"method", c.method[k]}, {"path", c.path[k]}, {"code", c.code[k]}}).Increment();
        benchmark::ClobberMemory();
    }
}

// What prometheus-cpp's exposer does per scrape: collect, then serialize to a string.
template <class Fixture>
void render_prom(benchmark::State& state) {
    static Fixture f;
    const prometheus::TextSerializer serializer;
    std::size_t bytes = 0;
    for (auto _ : state) {
        const std::string out = serializer.Serialize(f.reg.Collect());
        bytes = out.size();
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["bytes"] = static_cast<double>(bytes);
}
#endif

// ---------------------------------------------------------------------------------------------
// Registration: vitals and prometheus-cpp interleaved case by case, so both see the same machine
// state (frequency, caches) as closely as possible.

using bench_fn = void (*)(benchmark::State&);

void hot(const char* name, bench_fn fn) { benchmark::RegisterBenchmark(name, fn)->Threads(1)->Threads(2); }
void cold(const char* name, bench_fn fn) { benchmark::RegisterBenchmark(name, fn)->Unit(benchmark::kMicrosecond); }

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
#define VITALS_BENCH_PEER(kind, name, fn) kind(name, fn)
#else
#define VITALS_BENCH_PEER(kind, name, fn) static_cast<void>(0)
#endif

[[maybe_unused]] const bool registered = [] {
    hot("counter_inc/vitals", counter_inc_vitals);
    VITALS_BENCH_PEER(hot, "counter_inc/prometheus_cpp", counter_inc_prom);
    hot("gauge_inc/vitals", gauge_inc_vitals);
    VITALS_BENCH_PEER(hot, "gauge_inc/prometheus_cpp", gauge_inc_prom);
    hot("gauge_set/vitals", gauge_set_vitals);
    VITALS_BENCH_PEER(hot, "gauge_set/prometheus_cpp", gauge_set_prom);
    hot("histogram_observe/vitals", histogram_observe_vitals);
    VITALS_BENCH_PEER(hot, "histogram_observe/prometheus_cpp", histogram_observe_prom);
    hot("labeled_inc/vitals", labeled_inc_vitals);
    VITALS_BENCH_PEER(hot, "labeled_inc/prometheus_cpp", labeled_inc_prom);
    hot("labeled_inc_handle/vitals", labeled_inc_handle_vitals);
    hot("labeled_inc_named/vitals", labeled_inc_named_vitals);
    hot("labeled_inc_runtime/vitals", labeled_inc_runtime_vitals);
    cold("render_counters_10k/vitals", render_counters_10k_vitals);
    VITALS_BENCH_PEER(cold, "render_counters_10k/prometheus_cpp", render_prom<prom_render_counters>);
    cold("render_histograms_1k/vitals", render_histograms_1k_vitals);
    VITALS_BENCH_PEER(cold, "render_histograms_1k/prometheus_cpp", render_prom<prom_render_histograms>);
    return true;
}();

// ---------------------------------------------------------------------------------------------
// Reliability (issue 7): a scrape never blocks a writer. The writer's cost is measured while
// another thread renders a 10k-series registry in a loop; and the scrape time at 100k series.

void counter_inc_while_scraping_vitals(benchmark::State& state) {
    static vitals_render_counters f;  // the registry being scraped, 10k series
    auto& fam = f.reg.counter<"bench_requests_total", vitals::labels<"method", "path">>("Requests.");
    const vitals::counter c = fam.with("GET", series_path(1));  // a series the scrape renders
    std::atomic<bool> stop{false};
    std::atomic<long> scrapes{0};
    std::thread scraper([&] {
        std::string out;
        while (!stop.load(std::memory_order_relaxed)) {
            out.clear();
            vitals::render_text(f.reg, out);
            scrapes.fetch_add(1, std::memory_order_relaxed);
        }
    });
    for (auto _ : state) {
        c.inc();
        benchmark::ClobberMemory();
    }
    stop = true;
    scraper.join();
    state.counters["scrapes"] = static_cast<double>(scrapes.load());
}

void render_counters_100k_vitals(benchmark::State& state) {
    static const auto* reg = [] {
        auto* r = new vitals::registry;
        auto& fam = r->counter<"bench_big_total", vitals::labels<"method", "path">>("Requests.");
        fam.set_series_limit(200000);
        for (int i = 0; i < 100000; ++i)
            fam.labels(i % 2 ? "GET" : "POST", series_path(i)).inc(static_cast<std::uint64_t>(i) + 1);
        return r;
    }();
    std::string out;
    for (auto _ : state) {
        out.clear();
        vitals::render_text(*reg, out);
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    state.counters["bytes"] = static_cast<double>(out.size());
}

[[maybe_unused]] const bool registered_reliability = [] {
    benchmark::RegisterBenchmark("counter_inc_while_scraping/vitals", counter_inc_while_scraping_vitals);
    benchmark::RegisterBenchmark("render_counters_100k/vitals", render_counters_100k_vitals)
        ->Unit(benchmark::kMillisecond);
    return true;
}();

}  // namespace

// ---------------------------------------------------------------------------------------------
// Summaries (issue 6, formats engineer): quantiles over a 10-minute window in 5 age buckets, the
// defaults of both libraries. prometheus-cpp takes a mutex per observation; vitals writes the
// calling thread's own bucket.
#if defined(VITALS_BENCH_PROMETHEUS_CPP)
#include <prometheus/summary.h>
#endif

namespace {

void summary_observe_vitals(benchmark::State& state) {
    static vitals::registry reg;
    static const vitals::summary s = reg.summary<"bench_summary_seconds">("A summary.", {0.5, 0.9, 0.99});
    const auto& obs = observations();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 512;
    for (auto _ : state) {
        s.observe(obs[i++ & 1023]);
        benchmark::ClobberMemory();
    }
}

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
void summary_observe_prom(benchmark::State& state) {
    static prometheus::Registry reg;
    static prometheus::Summary& s =
        prometheus::BuildSummary()
            .Name("bench_summary_seconds")
            .Help("A summary.")
            .Register(reg)
            .Add({}, prometheus::Summary::Quantiles{{0.5, 0.05}, {0.9, 0.01}, {0.99, 0.001}});
    const auto& obs = observations();
    std::size_t i = static_cast<std::size_t>(state.thread_index()) * 512;
    for (auto _ : state) {
        s.Observe(obs[i++ & 1023]);
        benchmark::ClobberMemory();
    }
}
#endif

[[maybe_unused]] const bool registered_summary = [] {
    hot("summary_observe/vitals", summary_observe_vitals);
    VITALS_BENCH_PEER(hot, "summary_observe/prometheus_cpp", summary_observe_prom);
    return true;
}();

}  // namespace

// ---------------------------------------------------------------------------------------------
// Render while T threads are alive (idle, parked on a condition variable) after each of them has
// updated every series once: the scrape cost as updating threads grow, for storage that keeps
// state per thread or per CPU. `<case>/<library>/updaters:T/iterations:15`. The figure is the
// median wall time of the 15 renders, reported as the `median_ns` counter: a scrape waits in wall
// time, and the median drops the first (cold string) render and any the shared machine preempted.

namespace {

// Threads that run `touch(t)` once and then stay alive, idle, until destroyed.
class idle_threads {
public:
    template <class F>
    idle_threads(int n, F touch) : count_(static_cast<std::size_t>(n)) {
        threads_.reserve(static_cast<std::size_t>(n));
        for (int t = 0; t < n; ++t)
            threads_.emplace_back([this, touch, t] {
                touch(static_cast<unsigned>(t));
                std::unique_lock lock(mu_);
                if (++touched_ == count_) main_cv_.notify_one();
                idle_cv_.wait(lock, [&] { return released_; });
            });
        std::unique_lock lock(mu_);
        main_cv_.wait(lock, [&] { return touched_ == count_; });
    }
    idle_threads(const idle_threads&) = delete;
    idle_threads& operator=(const idle_threads&) = delete;
    ~idle_threads() {
        {
            std::lock_guard lock(mu_);
            released_ = true;
        }
        idle_cv_.notify_all();
        for (auto& t : threads_) t.join();
    }

private:
    std::mutex mu_;
    std::condition_variable main_cv_, idle_cv_;
    const std::size_t count_;  // not threads_.size(): workers read it while threads_ still grows
    std::size_t touched_ = 0;
    bool released_ = false;
    std::vector<std::thread> threads_;
};

// One fixture at a time: Google Benchmark runs all runs of one case back to back, so building a
// fixture once per (case, T) avoids starting 512 threads for every run, and dropping it when the
// next case starts keeps those threads out of every later case.
struct alive_fixture {
    virtual ~alive_fixture() = default;
};
std::unique_ptr<alive_fixture> alive_current;
const void* alive_key = nullptr;
int alive_updaters = 0;

template <class F>
F& alive(int updaters) {
    static const char key = 0;
    if (alive_key != &key || alive_updaters != updaters || !alive_current) {
        alive_current.reset();  // the previous case's threads exit before this case's start
        alive_current = std::make_unique<F>(updaters);
        alive_key = &key;
        alive_updaters = updaters;
    }
    return static_cast<F&>(*alive_current);
}
void release_alive() { alive_current.reset(); }

double observation_for(std::size_t series, unsigned thread) {
    const auto& obs = observations();
    return obs[(series * 16 + thread) % obs.size()];
}

// Members are declared so that the threads (last) are joined before the series and registry go.
struct vitals_alive_counters final : alive_fixture {
    vitals::registry reg;
    std::vector<vitals::counter> series;
    std::string out;
    std::unique_ptr<idle_threads> threads;
    explicit vitals_alive_counters(int updaters) {
        auto& fam = reg.counter<"bench_requests_total", vitals::labels<"method", "path">>("Requests.");
        for (int i = 0; i < render_counter_series; ++i)
            series.push_back(fam.with(i % 2 ? "GET" : "POST", series_path(i)));
        threads = std::make_unique<idle_threads>(updaters, [this](unsigned) {
            for (std::size_t i = 0; i < series.size(); ++i) series[i].inc(i * 7 + 1);
        });
    }
    std::size_t render() {
        out.clear();
        vitals::render_text(reg, out);
        benchmark::DoNotOptimize(out.data());
        return out.size();
    }
};

struct vitals_alive_histograms final : alive_fixture {
    vitals::registry reg;
    std::vector<vitals::histogram> series;
    std::string out;
    std::unique_ptr<idle_threads> threads;
    explicit vitals_alive_histograms(int updaters) {
        auto& fam = reg.histogram<"bench_latency_seconds", vitals::labels<"path">>("Latency.", bucket_bounds);
        for (int i = 0; i < render_histogram_series; ++i) series.push_back(fam.with(series_path(i)));
        threads = std::make_unique<idle_threads>(updaters, [this](unsigned t) {
            for (std::size_t i = 0; i < series.size(); ++i) series[i].observe(observation_for(i, t));
        });
    }
    std::size_t render() {
        out.clear();
        vitals::render_text(reg, out);
        benchmark::DoNotOptimize(out.data());
        return out.size();
    }
};

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
struct prom_alive_counters final : alive_fixture {
    prometheus::Registry reg;
    std::vector<prometheus::Counter*> series;
    std::unique_ptr<idle_threads> threads;
    explicit prom_alive_counters(int updaters) {
        auto& fam = prometheus::BuildCounter().Name("bench_requests_total").Help("Requests.").Register(reg);
        for (int i = 0; i < render_counter_series; ++i)
            series.push_back(&fam.Add({{"method", i % 2 ? "GET" : "POST"}, {"path", series_path(i)}}));
        threads = std::make_unique<idle_threads>(updaters, [this](unsigned) {
            for (std::size_t i = 0; i < series.size(); ++i) series[i]->Increment(static_cast<double>(i * 7 + 1));
        });
    }
    std::size_t render() {
        const std::string out = prometheus::TextSerializer().Serialize(reg.Collect());
        benchmark::DoNotOptimize(out.data());
        return out.size();
    }
};

struct prom_alive_histograms final : alive_fixture {
    prometheus::Registry reg;
    std::vector<prometheus::Histogram*> series;
    std::unique_ptr<idle_threads> threads;
    explicit prom_alive_histograms(int updaters) {
        auto& fam = prometheus::BuildHistogram().Name("bench_latency_seconds").Help("Latency.").Register(reg);
        const prometheus::Histogram::BucketBoundaries b(bucket_bounds.begin(), bucket_bounds.end());
        for (int i = 0; i < render_histogram_series; ++i) series.push_back(&fam.Add({{"path", series_path(i)}}, b));
        threads = std::make_unique<idle_threads>(updaters, [this](unsigned t) {
            for (std::size_t i = 0; i < series.size(); ++i) series[i]->Observe(observation_for(i, t));
        });
    }
    std::size_t render() {
        const std::string out = prometheus::TextSerializer().Serialize(reg.Collect());
        benchmark::DoNotOptimize(out.data());
        return out.size();
    }
};
#endif

template <class F>
void render_alive(benchmark::State& state) {
    F& f = alive<F>(static_cast<int>(state.range(0)));
    std::vector<double> ns;
    ns.reserve(static_cast<std::size_t>(state.max_iterations));
    std::size_t bytes = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        bytes = f.render();
        benchmark::ClobberMemory();
        ns.push_back(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    }
    if (!ns.empty()) {
        auto mid = ns.begin() + static_cast<std::ptrdiff_t>(ns.size() / 2);
        std::nth_element(ns.begin(), mid, ns.end());
        state.counters["median_ns"] = *mid;
    }
    state.counters["renders"] = static_cast<double>(ns.size());
    state.counters["bytes"] = static_cast<double>(bytes);
}

// A fixed count rather than --benchmark_min_time: at 512 threads one render may take tens of
// milliseconds, and a median of the two or three renders a time budget allows says little.
constexpr benchmark::IterationCount alive_renders = 15;

void alive_case(const char* name, bench_fn fn) {
    benchmark::RegisterBenchmark(name, fn)
        ->ArgName("updaters")
        ->Arg(1)
        ->Arg(8)
        ->Arg(64)
        ->Arg(512)
        ->Iterations(alive_renders)
        ->Unit(benchmark::kMicrosecond);
}

// Registered last, so that no other case runs while these cases' idle threads are alive.
[[maybe_unused]] const bool registered_alive = [] {
    alive_case("render_counters_10k_threads/vitals", render_alive<vitals_alive_counters>);
    VITALS_BENCH_PEER(alive_case, "render_counters_10k_threads/prometheus_cpp", render_alive<prom_alive_counters>);
    alive_case("render_histograms_1k_threads/vitals", render_alive<vitals_alive_histograms>);
    VITALS_BENCH_PEER(alive_case, "render_histograms_1k_threads/prometheus_cpp", render_alive<prom_alive_histograms>);
    return true;
}();

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    release_alive();  // join the last case's idle threads while everything they use still exists
    benchmark::Shutdown();
    return 0;
}
