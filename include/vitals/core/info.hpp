// vitals — info: a family whose series carry information in their labels (version, revision,
// build date), always with the value 1. OpenMetrics has a type for it; other formats show a gauge.
#pragma once

#include <memory>
#include "../base/span.hpp"
#include <string>
#include <vector>

#include "../detail/mutex.hpp"
#include "family.hpp"

namespace vitals {

namespace detail {
/// An info series: nothing but its labels.
class info_series final : public series_base {
public:
    using series_base::series_base;
};
}  // namespace detail

/// An info family: `registry.info<"build_info", labels<"version">>("Build.").set("1.4.2")`. Rarely
/// written (usually once, at start-up), so series sit behind the family's mutex.
template <label_set Labels>
class info_family final : public family_base {
    static constexpr std::size_t label_count = Labels::size;

public:
    /// Use registry::info() rather than constructing one yourself.
    info_family(std::string name, std::string help)
        : family_base(std::move(name), std::move(help), metric_type::info, {Labels::names, label_count}) {}

    /// Adds the series with these label values (nothing happens if it exists).
    template <class... V>
    void set(const V&... values) {
        static_assert(sizeof...(V) == label_count,
                      "vitals: wrong number of label values: pass exactly one value per label of the family");
        detail::normalized_values<label_count> key(values...);
        detail::lock_guard lock(mu_);
        for (const auto& s : series_)
            if (s->matches(key.key())) return;
        series_.push_back(std::make_unique<detail::info_series>(
            span<const string_ref>{Labels::names, label_count}, key.key()));
    }

    /// Replaces every series with the one with these label values (for information that changes,
    /// such as a reloaded configuration's hash).
    template <class... V>
    void replace(const V&... values) {
        clear();
        set(values...);
    }

    /// Removes the series with these label values; false if there was none.
    template <class... V>
    bool remove(const V&... values) {
        detail::normalized_values<label_count> key(values...);
        detail::lock_guard lock(mu_);
        return std::erase_if(series_, [&](const auto& s) { return s->matches(key.key()); }) > 0;
    }

    /// Removes every series.
    void clear() {
        detail::lock_guard lock(mu_);
        series_.clear();
    }

    [[nodiscard]] std::size_t size() const override {
        detail::lock_guard lock(mu_);
        return series_.size();
    }

    void collect(sample_visitor& v) override {
        detail::lock_guard lock(mu_);
        v.begin_family(header());
        for (const auto& s : series_) v.info_sample(*s);
        v.end_family();
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        return dynamic_cast<const info_family*>(&other) && other.help() == help();
    }

    void fork_prepare() noexcept override { mu_.lock(); }
    void fork_parent() noexcept override { mu_.unlock(); }
    void fork_child() noexcept override { mu_.reset_after_fork(); }
private:
    mutable detail::mutex mu_;
    std::vector<std::unique_ptr<detail::info_series>> series_;
};

}  // namespace vitals
