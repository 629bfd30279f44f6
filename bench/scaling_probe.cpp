// scaling_probe — how memory grows with the number of threads that update the series, and what
// short-lived threads cost, for vitals and (when built with VITALS_BENCH_PROMETHEUS_CPP)
// prometheus-cpp. Both libraries are driven through their public API only.
//
//   scaling_probe                         every case below, one JSON object on stdout
//   scaling_probe memory | churn          every case of one kind
//   scaling_probe memory SHAPE T LIB      one case: SHAPE counters_10k | counters_100k | histograms_1k
//   scaling_probe churn LIB               one case: LIB vitals | prometheus_cpp | none (bare threads)
//
// Every case runs in a process of its own (the probe starts itself again): memory malloc has
// taken from the kernel stays resident after it is freed, so a case run after another one would
// reuse the earlier case's pages and show no RSS growth of its own.
//
// Heap bytes are counted by the replaced operator new/delete below (malloc_usable_size, so
// rounding is included and malloc's own headers are not), prometheus-cpp's shared library
// included: the executable's definitions interpose. RSS comes from /proc/self/statm and also sees
// what never passes through operator new (mmap, malloc's arenas, fragmentation).
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
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
std::atomic<std::int64_t> heap_live{0};
std::atomic<std::int64_t> heap_peak{0};

void* heap_alloc(std::size_t n, std::size_t align) {
    if (n == 0) n = 1;
    // aligned_alloc wants a size that is a multiple of the alignment.
    void* p =
        align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + align - 1) / align * align) : std::malloc(n);
    if (!p) throw std::bad_alloc();
    const auto size = static_cast<std::int64_t>(malloc_usable_size(p));
    const auto now = heap_live.fetch_add(size, std::memory_order_relaxed) + size;
    auto peak = heap_peak.load(std::memory_order_relaxed);
    while (now > peak && !heap_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {}
    return p;
}
void heap_free(void* p) noexcept {
    if (!p) return;
    heap_live.fetch_sub(static_cast<std::int64_t>(malloc_usable_size(p)), std::memory_order_relaxed);
    std::free(p);
}
void* heap_alloc_nothrow(std::size_t n, std::size_t align) noexcept {
    try {
        return heap_alloc(n, align);
    } catch (...) {
        return nullptr;
    }
}
}  // namespace

void* operator new(std::size_t n) { return heap_alloc(n, 0); }
void* operator new[](std::size_t n) { return heap_alloc(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) { return heap_alloc(n, static_cast<std::size_t>(a)); }
void* operator new[](std::size_t n, std::align_val_t a) { return heap_alloc(n, static_cast<std::size_t>(a)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return heap_alloc_nothrow(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return heap_alloc_nothrow(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return heap_alloc_nothrow(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
    return heap_alloc_nothrow(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { heap_free(p); }
void operator delete[](void* p) noexcept { heap_free(p); }
void operator delete(void* p, std::size_t) noexcept { heap_free(p); }
void operator delete[](void* p, std::size_t) noexcept { heap_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { heap_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { heap_free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { heap_free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { heap_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { heap_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { heap_free(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap_free(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept { heap_free(p); }

namespace {

constexpr std::array<double, 10> bucket_bounds{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5};

struct shape {
    const char* name;
    int series;
    bool histogram;
};
constexpr shape shapes[] = {
    {"counters_10k", 10000, false}, {"counters_100k", 100000, false}, {"histograms_1k", 1000, true}};
constexpr int thread_counts[] = {1, 8, 64, 512};

constexpr int churn_threads = 10000;
constexpr int churn_concurrency = 8;
constexpr int churn_series = 1000;

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
constexpr const char* libraries[] = {"vitals", "prometheus_cpp"};
#else
constexpr const char* libraries[] = {"vitals"};
#endif

std::int64_t heap_now() { return heap_live.load(); }

// Read with open/read rather than stdio, whose buffer would itself be a malloc between samples.
std::int64_t rss_now() {
    char buf[128] = {};
    const int fd = ::open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return -1;
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (got <= 0) return -1;
    char* p = buf;
    std::strtoll(p, &p, 10);  // total program size; resident pages follow
    return std::strtoll(p, nullptr, 10) * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Three labels per series; the path makes every combination unique. Built before any
// measurement so that only the libraries' own copies are counted.
struct label_table {
    std::vector<std::string> method, path, code;
    explicit label_table(int n) {
        static const char* const methods[] = {"GET", "POST", "PUT", "DELETE"};
        static const char* const codes[] = {"200", "201", "404", "500", "503"};
        for (int i = 0; i < n; ++i) {
            method.emplace_back(methods[i % 4]);
            path.push_back("/api/v1/resource/" + std::to_string(i));
            code.emplace_back(codes[i % 5]);
        }
    }
};

// Spread over 1 ms .. 5 s, so that every bucket gets observations across series and threads.
double observation(std::size_t series, unsigned thread) {
    return 0.001 * static_cast<double>(1 + (series * 7 + thread * 13) % 5000);
}

// The same work for each library: create one family of n series, then update series i.
class subject {
public:
    virtual ~subject() = default;
    virtual void create(const label_table& labels) = 0;
    virtual void update(std::size_t i, unsigned thread) = 0;
};

class vitals_subject final : public subject {
public:
    vitals_subject(std::size_t n, bool histogram) : n_(n), histogram_(histogram) {
        // Capacity taken before the baseline: the probe's own handle arrays are not series cost.
        if (histogram_)
            histograms_.reserve(n);
        else
            counters_.reserve(n);
    }
    void create(const label_table& l) override {
        if (histogram_) {
            auto& fam = reg_.histogram<"probe_latency_seconds", vitals::labels<"method", "path", "code">>(
                "Latency.", bucket_bounds);
            fam.set_series_limit(2 * n_);
            for (std::size_t i = 0; i < n_; ++i) histograms_.push_back(fam.with(l.method[i], l.path[i], l.code[i]));
        } else {
            auto& fam = reg_.counter<"probe_requests_total", vitals::labels<"method", "path", "code">>("Requests.");
            fam.set_series_limit(2 * n_);
            for (std::size_t i = 0; i < n_; ++i) counters_.push_back(fam.with(l.method[i], l.path[i], l.code[i]));
        }
    }
    void update(std::size_t i, unsigned thread) override {
        if (histogram_)
            histograms_[i].observe(observation(i, thread));
        else
            counters_[i].inc();
    }

private:
    std::size_t n_;
    bool histogram_;
    vitals::registry reg_;
    std::vector<vitals::counter> counters_;
    std::vector<vitals::histogram> histograms_;
};

#if defined(VITALS_BENCH_PROMETHEUS_CPP)
class prom_subject final : public subject {
public:
    prom_subject(std::size_t n, bool histogram)
        : n_(n), histogram_(histogram), bounds_(bucket_bounds.begin(), bucket_bounds.end()) {
        if (histogram_)
            histograms_.reserve(n);
        else
            counters_.reserve(n);
    }
    void create(const label_table& l) override {
        if (histogram_) {
            auto& fam = prometheus::BuildHistogram().Name("probe_latency_seconds").Help("Latency.").Register(reg_);
            for (std::size_t i = 0; i < n_; ++i)
                histograms_.push_back(
                    &fam.Add({{"method", l.method[i]}, {"path", l.path[i]}, {"code", l.code[i]}}, bounds_));
        } else {
            auto& fam = prometheus::BuildCounter().Name("probe_requests_total").Help("Requests.").Register(reg_);
            for (std::size_t i = 0; i < n_; ++i)
                counters_.push_back(&fam.Add({{"method", l.method[i]}, {"path", l.path[i]}, {"code", l.code[i]}}));
        }
    }
    void update(std::size_t i, unsigned thread) override {
        if (histogram_)
            histograms_[i]->Observe(observation(i, thread));
        else
            counters_[i]->Increment();
    }

private:
    std::size_t n_;
    bool histogram_;
    prometheus::Histogram::BucketBoundaries bounds_;
    prometheus::Registry reg_;
    std::vector<prometheus::Counter*> counters_;
    std::vector<prometheus::Histogram*> histograms_;
};
#endif

// Threads that touch nothing: the churn case's floor (thread creation and exit alone).
class no_subject final : public subject {
public:
    void create(const label_table&) override {}
    void update(std::size_t, unsigned) override {}
};

std::unique_ptr<subject> make_subject(const std::string& lib, std::size_t n, bool histogram) {
    if (lib == "vitals") return std::make_unique<vitals_subject>(n, histogram);
#if defined(VITALS_BENCH_PROMETHEUS_CPP)
    if (lib == "prometheus_cpp") return std::make_unique<prom_subject>(n, histogram);
#endif
    if (lib == "none") return std::make_unique<no_subject>();
    return nullptr;
}

// Workers park here between phases while the main thread measures. Two condition variables, so
// that 512 arrivals wake only the main thread, not every parked worker.
class gate {
public:
    explicit gate(int workers) : workers_(workers) {}

    void arrive_and_wait() {
        std::unique_lock lock(mu_);
        const int phase = phase_;
        if (++arrived_ == workers_) main_cv_.notify_one();
        workers_cv_.wait(lock, [&] { return phase_ != phase; });
    }
    void wait_for_all() {
        std::unique_lock lock(mu_);
        main_cv_.wait(lock, [&] { return arrived_ == workers_; });
        arrived_ = 0;
    }
    void open() {
        {
            std::lock_guard lock(mu_);
            ++phase_;
        }
        workers_cv_.notify_all();
    }

private:
    std::mutex mu_;
    std::condition_variable main_cv_, workers_cv_;
    int workers_;
    int arrived_ = 0;
    int phase_ = 0;
};

// Touches the stack pages the update path may reach, before the baseline: otherwise 512 threads
// each faulting in a page or two of stack during their updates would show up as series RSS.
[[gnu::noinline]] void prefault_stack() {
    volatile char pad[32 * 1024];
    for (std::size_t i = 0; i < sizeof pad; i += 1024) pad[i] = 0;
}

int run_memory(const shape& s, int threads, const std::string& lib) {
    const auto n = static_cast<std::size_t>(s.series);
    const label_table labels(s.series);
    auto subj = make_subject(lib, n, s.histogram);
    if (!subj || lib == "none") return 2;
    gate g(threads);
    std::vector<std::thread> workers;
    workers.reserve(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            prefault_stack();
            // A service's threads have all used malloc before they touch a metric; a thread's
            // first malloc sets up its arena and cache, which is not the metrics library's cost.
            std::free(std::malloc(64));
            g.arrive_and_wait();  // parked: baseline, then the family is created
            for (std::size_t i = 0; i < n; ++i) subj->update(i, static_cast<unsigned>(t));
            g.arrive_and_wait();  // parked, alive: measured
        });
    g.wait_for_all();
    const std::int64_t heap0 = heap_now(), rss0 = rss_now();
    subj->create(labels);
    const std::int64_t heap1 = heap_now(), rss1 = rss_now();
    const auto t0 = std::chrono::steady_clock::now();
    g.open();
    g.wait_for_all();
    const double update_s = seconds_since(t0);
    const std::int64_t heap2 = heap_now(), rss2 = rss_now();
    g.open();
    for (auto& w : workers) w.join();

    const auto per = [&](std::int64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(n); };
    std::printf(
        "{\"shape\": \"%s\", \"threads\": %d, \"library\": \"%s\", \"series\": %zu, "
        "\"heap_bytes_created\": %lld, \"rss_bytes_created\": %lld, "
        "\"heap_bytes\": %lld, \"rss_bytes\": %lld, "
        "\"heap_bytes_per_series\": %.1f, \"rss_bytes_per_series\": %.1f, \"update_seconds\": %.3f}\n",
        s.name, threads, lib.c_str(), n, static_cast<long long>(heap1 - heap0), static_cast<long long>(rss1 - rss0),
        static_cast<long long>(heap2 - heap0), static_cast<long long>(rss2 - rss0), per(heap2 - heap0),
        per(rss2 - rss0), update_s);
    return 0;
}

// Threads start in waves of churn_concurrency and are joined before the next wave; each touches
// every series once and exits. The last wave stays alive until it has been measured.
int run_churn(const std::string& lib) {
    const label_table labels(churn_series);
    auto subj = make_subject(lib, churn_series, false);
    if (!subj) return 2;
    subj->create(labels);
    const std::int64_t heap0 = heap_now(), rss0 = rss_now();
    heap_peak.store(heap0);
    std::int64_t heap_alive = 0, rss_alive = 0;
    const int waves = churn_threads / churn_concurrency;
    std::vector<std::thread> wave;
    wave.reserve(churn_concurrency);
    const auto t0 = std::chrono::steady_clock::now();
    for (int w = 0; w < waves; ++w) {
        const bool last = w == waves - 1;
        gate g(churn_concurrency);
        for (int t = 0; t < churn_concurrency; ++t)
            wave.emplace_back([&, t, last] {
                for (std::size_t i = 0; i < churn_series; ++i) subj->update(i, static_cast<unsigned>(t));
                if (last) g.arrive_and_wait();
            });
        if (last) {
            g.wait_for_all();
            heap_alive = heap_now();
            rss_alive = rss_now();
            g.open();
        }
        for (auto& t : wave) t.join();
        wave.clear();
    }
    const double elapsed = seconds_since(t0);
    const std::int64_t heap1 = heap_now(), rss1 = rss_now();
    std::printf(
        "{\"library\": \"%s\", \"threads\": %d, \"concurrency\": %d, \"series\": %d, \"seconds\": %.3f, "
        "\"threads_per_second\": %.0f, \"heap_before\": %lld, \"heap_alive_delta\": %lld, "
        "\"heap_after_delta\": %lld, \"heap_peak_delta\": %lld, \"rss_before\": %lld, "
        "\"rss_alive_delta\": %lld, \"rss_after_delta\": %lld}\n",
        lib.c_str(), waves * churn_concurrency, churn_concurrency, churn_series, elapsed,
        waves * churn_concurrency / elapsed, static_cast<long long>(heap0), static_cast<long long>(heap_alive - heap0),
        static_cast<long long>(heap1 - heap0), static_cast<long long>(heap_peak.load() - heap0),
        static_cast<long long>(rss0), static_cast<long long>(rss_alive - rss0), static_cast<long long>(rss1 - rss0));
    return 0;
}

// Runs this executable again with `args` and appends its one line of JSON to `out`.
bool run_child(const std::string& self, const std::string& args, std::vector<std::string>& out) {
    const std::string cmd = "'" + self + "' " + args;
    std::FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return false;
    std::string text;
    char buf[4096];
    for (std::size_t got; (got = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, got);
    const int status = ::pclose(p);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
    if (status != 0 || text.empty()) {
        std::fprintf(stderr, "scaling_probe: '%s' failed (status %d)\n", args.c_str(), status);
        return false;
    }
    out.push_back(text);
    return true;
}

void print_list(const char* key, const std::vector<std::string>& items, bool more) {
    std::printf("  \"%s\": [", key);
    for (std::size_t i = 0; i < items.size(); ++i) std::printf("%s\n    %s", i ? "," : "", items[i].c_str());
    std::printf("\n  ]%s\n", more ? "," : "");
}

int run_all(bool memory, bool churn) {
    char self[4096] = {};
    const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return 2;
    bool ok = true;
    std::vector<std::string> mem, chu;
    if (memory)
        for (const auto& s : shapes)
            for (int t : thread_counts)
                for (const char* lib : libraries)
                    ok &= run_child(self, std::string("memory ") + s.name + " " + std::to_string(t) + " " + lib, mem);
    if (churn) {
        for (const char* lib : libraries) ok &= run_child(self, std::string("churn ") + lib, chu);
        ok &= run_child(self, "churn none", chu);
    }
    std::printf("{\n  \"churn_threads\": %d,\n  \"churn_concurrency\": %d,\n  \"churn_series\": %d,\n", churn_threads,
                churn_concurrency, churn_series);
    print_list("memory", mem, true);
    print_list("churn", chu, false);
    std::printf("}\n");
    return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> a(argv + 1, argv + argc);
    if (a.empty()) return run_all(true, true);
    if (a.size() == 1 && (a[0] == "memory" || a[0] == "churn")) return run_all(a[0] == "memory", a[0] == "churn");
    if (a.size() == 4 && a[0] == "memory") {
        const int threads = std::atoi(a[2].c_str());
        for (const auto& s : shapes)
            if (a[1] == s.name && threads > 0) return run_memory(s, threads, a[3]);
    }
    if (a.size() == 2 && a[0] == "churn") return run_churn(a[1]);
    std::fprintf(
        stderr,
        "usage: scaling_probe [memory [SHAPE THREADS LIB] | churn [LIB]]\n"
        "  SHAPE counters_10k | counters_100k | histograms_1k; LIB vitals | prometheus_cpp (| none for churn)\n");
    return 2;
}
