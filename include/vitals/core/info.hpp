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
class info_family final : private detail::label_name_store<Labels>, public family_base {
    using store = detail::label_name_store<Labels>;

public:
    /// Use registry::info() rather than constructing one yourself.
    info_family(string_ref name, string_ref help)
        requires(!store::dynamic)
        : family_base(name, help, metric_type::info, store::label_name_span()) {}
    /// A dynamic_labels family: `names` are checked (invalid_argument_error).
    info_family(string_ref name, string_ref help, span<const string_ref> names)
        requires(store::dynamic)
        : store(name, names), family_base(name, help, metric_type::info, store::label_name_span()) {}

    /// Adds the series with these label values (nothing happens if it exists).
    template <class... V>
    void set(const V&... values) {
        store::template check_values<sizeof...(V)>(name());
        detail::normalized_values<sizeof...(V)> key(values...);
        detail::lock_guard lock(mu_);
        for (const auto& s : series_)
            if (s->matches(key.key())) return;
        series_.push_back(std::make_unique<detail::info_series>(store::label_name_span(), key.key()));
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
        store::template check_values<sizeof...(V)>(name());
        detail::normalized_values<sizeof...(V)> key(values...);
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
        return dynamic_cast<const info_family*>(&other) && other.help() == help() &&
               detail::same_names(label_names(), other.label_names());
    }

    void fork_prepare() noexcept override { mu_.lock(); }
    void fork_parent() noexcept override { mu_.unlock(); }
    void fork_child() noexcept override { mu_.reset_after_fork(); }

private:
    mutable detail::mutex mu_;
    std::vector<std::unique_ptr<detail::info_series>> series_;
};

}  // namespace vitals
