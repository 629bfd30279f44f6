// Module tests: the module side of the workload (see workload.hpp).
#include "workload.hpp"

#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace modules_test {
namespace {

// Handles that outlive run(): a plugin that keeps handles must be able to let go of them before
// it is unloaded, and cleanup() proves it can.
struct kept_handles {
    vitals::counter events;
    vitals::counter requests_kept;
    vitals::gauge in_flight;
};

std::mutex kept_mu;
std::map<std::string, std::unique_ptr<kept_handles>> kept_by_prefix;

std::string name_of(const char* prefix, vitals::string_ref suffix) {
    return std::string(prefix) + std::string(suffix.data(), suffix.size());
}

// Runs f(thread index) on `n` threads and rethrows the first exception any of them threw.
template <class F>
void on_threads(unsigned n, F f) {
    std::vector<std::thread> threads;
    std::vector<std::exception_ptr> errors(n);
    threads.reserve(n);
    for (unsigned t = 0; t < n; ++t)
        threads.emplace_back([&, t] {
            try {
                f(t);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    for (auto& th : threads) th.join();
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

// registry::unregister is new: this keeps the module building against a registry without it, and
// reports it (instead of leaving families whose code is about to be unmapped in the registry).
template <class Registry>
bool unregister_family(Registry& r, const std::string& name) {
    if constexpr (requires { r.unregister(vitals::string_ref(name)); }) {
        return r.unregister(vitals::string_ref(name));
    } else {
        throw std::runtime_error("vitals::registry has no unregister(string_ref): cannot remove '" + name + "'");
    }
}

}  // namespace

void run(vitals::registry& r, const modules_work& w) {
    const char* p = w.prefix;
    auto events = r.counter(name_of(p, events_suffix), events_help);
    auto& requests = r.counter<vitals::labels<"kind">>(name_of(p, requests_suffix), requests_help);
    auto& batches = r.histogram<vitals::labels<"kind">>(name_of(p, batch_suffix), batch_help, size_buckets);
    auto in_flight = r.gauge(name_of(p, in_flight_suffix), in_flight_help);
    // The executable's families: same definitions, so the registry hands back the existing ones.
    auto& shared = r.counter<"shared_total", vitals::labels<"origin">>(shared_help);
    auto& shared_sizes = r.histogram<"shared_size", vitals::labels<"origin">>(shared_size_help, size_buckets);

    on_threads(w.threads, [&](unsigned) {
        const auto kept = requests.with("kept");
        const auto mine = shared.with(p);
        for (unsigned i = 0; i < w.per_thread; ++i) {
            const auto v = static_cast<double>(i % observation_cycle);
            events.inc();
            requests.labels("lookup").inc();
            kept.inc();
            batches.labels("own").observe(v);
            in_flight.inc();
            if (i % 2 == 0) in_flight.dec();
            if (i % 2 == 0)
                shared.labels(p).inc();
            else
                mine.inc();
            shared_sizes.labels(p).observe(v);
        }
    });

    const std::lock_guard lock(kept_mu);
    kept_by_prefix[p] = std::make_unique<kept_handles>(kept_handles{events, requests.with("kept"), in_flight});
}

modules_reading read(vitals::registry& r, const char* prefix) {
    modules_reading out{};
    auto& requests = r.counter<vitals::labels<"kind">>(name_of(prefix, requests_suffix), requests_help);
    auto& batches = r.histogram<vitals::labels<"kind">>(name_of(prefix, batch_suffix), batch_help, size_buckets);
    auto& shared = r.counter<"shared_total", vitals::labels<"origin">>(shared_help);
    out.events = exact_u64(r.counter(name_of(prefix, events_suffix), events_help).exact_value());
    out.requests_lookup = exact_u64(requests.with("lookup").exact_value());
    out.requests_kept = exact_u64(requests.with("kept").exact_value());
    out.requests_main = exact_u64(requests.with("main").exact_value());
    out.shared_mine = exact_u64(shared.with(prefix).exact_value());
    out.main_total = exact_u64(r.counter<"main_total">(main_help).exact_value());
    const auto batch = batches.with("own").snapshot();
    out.batch_count = batch.count();
    out.batch_sum = batch.sum();
    out.in_flight = r.gauge(name_of(prefix, in_flight_suffix), in_flight_help).value();
    return out;
}

void hammer(vitals::registry& r, const modules_hammer& h) {
    on_threads(h.threads, [&](unsigned) {
        wait_at_start_line(h.start_line, h.parties);
        hammer_thread(r, h.origin, h.per_thread);
    });
}

void cleanup(vitals::registry& r, const char* prefix, bool unregister) {
    {
        const std::lock_guard lock(kept_mu);
        kept_by_prefix.erase(prefix);
    }
    if (!unregister) return;
    std::string missing;
    for (auto suffix : {events_suffix, requests_suffix, batch_suffix, in_flight_suffix}) {
        const std::string name = name_of(prefix, suffix);
        if (!unregister_family(r, name)) missing += (missing.empty() ? "" : ", ") + name;
    }
    if (!missing.empty()) throw std::runtime_error("unregister found no family named " + missing);
}

vitals::counter events_handle(vitals::registry& r, const char* prefix) {
    return r.counter(name_of(prefix, events_suffix), events_help);
}

}  // namespace modules_test
