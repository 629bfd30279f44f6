// memory_probe — heap bytes per series for vitals (and prometheus-cpp when built with
// VITALS_BENCH_PROMETHEUS_CPP), vitals' per-thread cost, and a check that rendering into a reused
// std::string allocates nothing once warm.
//
// Every operator new/delete in the process (prometheus-cpp's shared library included: the
// executable's definitions interpose) goes through the counting replacements below, which track
// live bytes as malloc_usable_size reports them: the heap the program really holds, rounding
// included, malloc's own per-block header (8 bytes on glibc) excluded.
//
// Prints one JSON object on stdout; exits non-zero if a warm render allocated.
#include <malloc.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include <vitals/vitals.hpp>

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#endif

namespace {
std::atomic<std::int64_t> live_bytes{0};
std::atomic<std::int64_t> allocations{0};

void* counted_alloc(std::size_t n, std::size_t align) {
    if (n == 0) n = 1;
    void* p =
        align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
    if (!p) throw std::bad_alloc();
    live_bytes.fetch_add(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    allocations.fetch_add(1, std::memory_order_relaxed);
    return p;
}
void counted_free(void* p) noexcept {
    if (!p) return;
    live_bytes.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n, 0); }
void* operator new[](std::size_t n) { return counted_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n, 0);
    } catch (...) {
        return nullptr;
    }
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    try {
        return counted_alloc(n, 0);
    } catch (...) {
        return nullptr;
    }
}
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_free(p); }

namespace {

constexpr int counter_series = 10000;
constexpr int histogram_series = 1000;
constexpr std::array<double, 10> bucket_bounds{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};

std::int64_t live() { return live_bytes.load(); }
std::string series_path(int i) { return "/api/v1/resource/" + std::to_string(i); }

struct vitals_result {
    double counter_series_bytes = 0;  // objects, table and per-CPU cells (allocated with the series)
    double counter_cells_bytes = 0;   // what the first updates add per series (nothing expected)
    double histogram_series_bytes = 0;
    double histogram_cells_bytes = 0;
    std::int64_t thread_first_touch = 0;   // a new thread's first update (nothing expected)
    std::int64_t thread_second_chunk = 0;  // the same thread updating a series far from the first
    std::int64_t render_counters_allocs = -1;
    std::int64_t render_histograms_allocs = -1;
};

// Runs `f` on a fresh thread and returns the live-byte delta it caused while the thread is still
// alive: what a library allocates per thread shows here (vitals: nothing; its cells are per CPU).
template <class F>
std::int64_t delta_on_new_thread(F f, bool registered = false) {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false, release = false;
    std::int64_t delta = 0;
    std::thread t([&] {
        (void)registered;
        const std::int64_t before = live();
        f();
        delta = live() - before;
        std::unique_lock lock(mu);
        done = true;
        cv.notify_all();
        cv.wait(lock, [&] { return release; });
    });
    {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done; });
        release = true;
        cv.notify_all();
    }
    t.join();
    return delta;
}

vitals_result probe_vitals() {
    vitals_result r;
    vitals::registry reg;
    auto& counters = reg.counter<"probe_requests_total", vitals::labels<"method", "path">>("Requests.");
    auto& histograms = reg.histogram<"probe_latency_seconds", vitals::labels<"path">>("Latency.", bucket_bounds);

    // Label strings are built before measuring so that only the library's own memory counts.
    std::vector<std::string> paths;
    for (int i = 0; i < counter_series; ++i) paths.push_back(series_path(i));

    // Series: objects, lookup table and their per-CPU cells, created on another thread.
    r.counter_series_bytes = static_cast<double>(delta_on_new_thread(
                                 [&] {
                                     for (int i = 0; i < counter_series; ++i)
                                         counters.with(i % 2 ? "GET" : "POST", paths[static_cast<std::size_t>(i)]);
                                 },
                                 true)) /
                             counter_series;
    std::int64_t before = live();
    for (int i = 0; i < counter_series; ++i)
        counters.labels(i % 2 ? "GET" : "POST", paths[static_cast<std::size_t>(i)]).inc();
    r.counter_cells_bytes = static_cast<double>(live() - before) / counter_series;

    r.histogram_series_bytes = static_cast<double>(delta_on_new_thread(
                                   [&] {
                                       for (int i = 0; i < histogram_series; ++i)
                                           histograms.with(paths[static_cast<std::size_t>(i)]);
                                   },
                                   true)) /
                               histogram_series;
    before = live();
    for (int i = 0; i < histogram_series; ++i) histograms.labels(paths[static_cast<std::size_t>(i)]).observe(0.3);
    r.histogram_cells_bytes = static_cast<double>(live() - before) / histogram_series;

    // Per-thread cost: a fresh thread updates one series, then one far from it (another chunk).
    auto first = counters.with("POST", paths[0]);
    auto last = counters.with("GET", paths[static_cast<std::size_t>(counter_series - 1)]);
    r.thread_first_touch = delta_on_new_thread([&] { first.inc(); });
    std::int64_t second = 0;
    delta_on_new_thread(
        [&] {
            first.inc();
            const std::int64_t b = live();
            last.inc();
            second = live() - b;
        },
        true);
    r.thread_second_chunk = second;

    // A warm render into a reused string allocates nothing.
    vitals::registry counters_only, histograms_only;
    auto& c2 = counters_only.counter<"probe_requests_total", vitals::labels<"method", "path">>("Requests.");
    for (int i = 0; i < counter_series; ++i)
        c2.labels(i % 2 ? "GET" : "POST", paths[static_cast<std::size_t>(i)]).inc(i);
    auto& h2 = histograms_only.histogram<"probe_latency_seconds", vitals::labels<"path">>("Latency.", bucket_bounds);
    for (int i = 0; i < histogram_series; ++i) h2.labels(paths[static_cast<std::size_t>(i)]).observe(i * 0.01);
    std::string out;
    auto allocs_of_warm_render = [&](const vitals::registry& rr) {
        for (int i = 0; i < 2; ++i) {
            out.clear();
            vitals::render_text(rr, out);
        }
        const std::int64_t a = allocations.load();
        out.clear();
        vitals::render_text(rr, out);
        return allocations.load() - a;
    };
    r.render_counters_allocs = allocs_of_warm_render(counters_only);
    r.render_histograms_allocs = allocs_of_warm_render(histograms_only);
    return r;
}

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
struct prom_result {
    double counter_series_bytes = 0;
    double histogram_series_bytes = 0;
};

prom_result probe_prom() {
    prom_result r;
    prometheus::Registry reg;
    auto& counters = prometheus::BuildCounter().Name("probe_requests_total").Help("Requests.").Register(reg);
    auto& histograms = prometheus::BuildHistogram().Name("probe_latency_seconds").Help("Latency.").Register(reg);
    std::vector<std::string> paths;
    for (int i = 0; i < counter_series; ++i) paths.push_back(series_path(i));
    const prometheus::Histogram::BucketBoundaries b(bucket_bounds.begin(), bucket_bounds.end());

    std::int64_t before = live();
    for (int i = 0; i < counter_series; ++i)
        counters.Add({{"method", i % 2 ? "GET" : "POST"}, {"path", paths[static_cast<std::size_t>(i)]}}).Increment();
    r.counter_series_bytes = static_cast<double>(live() - before) / counter_series;

    before = live();
    for (int i = 0; i < histogram_series; ++i)
        histograms.Add({{"path", paths[static_cast<std::size_t>(i)]}}, b).Observe(0.3);
    r.histogram_series_bytes = static_cast<double>(live() - before) / histogram_series;
    return r;
}
#endif

}  // namespace

int main() {
    const vitals_result v = probe_vitals();
    std::printf("{\n");
    std::printf("  \"counter_series\": %d,\n  \"histogram_series\": %d,\n  \"histogram_buckets\": %zu,\n",
                counter_series, histogram_series, bucket_bounds.size());
    std::printf("  \"vitals_counter_series_bytes\": %.1f,\n", v.counter_series_bytes);
    std::printf("  \"vitals_counter_cells_bytes_per_thread\": %.1f,\n", v.counter_cells_bytes);
    std::printf("  \"vitals_histogram_series_bytes\": %.1f,\n", v.histogram_series_bytes);
    std::printf("  \"vitals_histogram_cells_bytes_per_thread\": %.1f,\n", v.histogram_cells_bytes);
    std::printf("  \"vitals_thread_first_touch_bytes\": %lld,\n", static_cast<long long>(v.thread_first_touch));
    std::printf("  \"vitals_thread_extra_chunk_bytes\": %lld,\n", static_cast<long long>(v.thread_second_chunk));
    std::printf("  \"vitals_warm_render_allocs_counters\": %lld,\n", static_cast<long long>(v.render_counters_allocs));
    std::printf("  \"vitals_warm_render_allocs_histograms\": %lld", static_cast<long long>(v.render_histograms_allocs));
#if defined(VITALS_BENCH_PROMETHEUS_CPP)
    const prom_result p = probe_prom();
    std::printf(",\n  \"prometheus_cpp_counter_series_bytes\": %.1f,\n", p.counter_series_bytes);
    std::printf("  \"prometheus_cpp_histogram_series_bytes\": %.1f", p.histogram_series_bytes);
#endif
    std::printf("\n}\n");
    return v.render_counters_allocs == 0 && v.render_histograms_allocs == 0 ? 0 : 1;
}
