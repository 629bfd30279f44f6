// vitals — const_labels: label pairs a registry adds to every series it renders (service,
// environment, ...). Owns its strings; hands them out as a span of label_pair views.
#pragma once

#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>

#include "../detail/pod_vector.hpp"
#include "names.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"

namespace vitals {

/// An owned list of label name/value pairs, in insertion order: `{{"service", "api"}}`.
/// Nothing is checked here; the registry that takes the list checks the names.
class const_labels {
public:
    const_labels() noexcept = default;
    /// Copies of the pairs, in order: `{{"service", "api"}, {"environment", env}}`.
    const_labels(std::initializer_list<label_pair> pairs) {
        for (const auto& p : pairs) add(p.name, p.value);
    }
    /// From any range of pairs with `.first` and `.second` (a std::vector or std::map of
    /// std::string pairs, for one).
    template <class Range>
        requires requires(const Range& r) {
            string_ref(r.begin()->first);
            string_ref(r.begin()->second);
            r.begin() != r.end();
        }
    explicit const_labels(const Range& pairs) {
        for (const auto& p : pairs) add(p.first, p.second);
    }
    const_labels(const const_labels& o) {
        for (const auto& p : o) add(p.name, p.value);
    }
    const_labels(const_labels&& o) noexcept { pairs_.swap(o.pairs_); }
    const_labels& operator=(const const_labels& o) {
        if (this != &o) {
            const_labels copy(o);
            pairs_.swap(copy.pairs_);
        }
        return *this;
    }
    const_labels& operator=(const_labels&& o) noexcept {
        const_labels moved(static_cast<const_labels&&>(o));
        pairs_.swap(moved.pairs_);
        return *this;
    }
    ~const_labels() { clear(); }

    /// Appends a pair (copies both strings).
    void add(string_ref name, string_ref value) {
        pairs_.reserve(pairs_.size() + 1);  // so that the push_back below cannot throw
        pairs_.push_back(owned_pair(name, value));
    }
    /// The same as add, under the name std::vector users reach for.
    void emplace_back(string_ref name, string_ref value) { add(name, value); }
    /// Replaces the value of pair `i`.
    void set_value(std::size_t i, string_ref value) {
        const label_pair old = pairs_[i];
        pairs_[i] = owned_pair(old.name, value);
        std::free(const_cast<char*>(old.name.data()));
    }
    /// Removes every pair.
    void clear() noexcept {
        for (const auto& p : pairs_) std::free(const_cast<char*>(p.name.data()));
        pairs_.clear();
    }

    [[nodiscard]] std::size_t size() const noexcept { return pairs_.size(); }
    [[nodiscard]] bool empty() const noexcept { return pairs_.empty(); }
    [[nodiscard]] const label_pair& operator[](std::size_t i) const noexcept { return pairs_[i]; }
    [[nodiscard]] const label_pair* begin() const noexcept { return pairs_.begin(); }
    [[nodiscard]] const label_pair* end() const noexcept { return pairs_.end(); }
    /// The pairs as a view (valid until the list changes).
    [[nodiscard]] span<const label_pair> pairs() const noexcept { return {pairs_.data(), pairs_.size()}; }

private:
    // Each pair's name and value share one malloc'd block, which the name points at.
    static label_pair owned_pair(string_ref name, string_ref value) {
        char* block = static_cast<char*>(std::malloc(name.size() + value.size() + 1));
        if (!block) throw std::bad_alloc();
        if (name.size()) std::memcpy(block, name.data(), name.size());
        if (value.size()) std::memcpy(block + name.size(), value.data(), value.size());
        return {{block, name.size()}, {block + name.size(), value.size()}};
    }

    detail::pod_vector<label_pair> pairs_;
};

/// The service name a process reports: $SERVICE_NAME when it is set and not empty, else
/// `fallback`. const_labels_from_env makes the same choice for the `service` label, so passing
/// this name to operational_metrics::service_started() keeps `uptime_seconds{service}` equal to
/// the service label of every other series. The view points into the environment or at
/// `fallback`: valid until SERVICE_NAME is changed and while `fallback` lives.
[[nodiscard]] inline string_ref service_name_from_env(string_ref fallback = {}) noexcept {
    const char* v = std::getenv("SERVICE_NAME");
    return (v && *v) ? string_ref(v) : fallback;
}

}  // namespace vitals
