// vitals — registry: owns families and renders them. Independent registries never see each
// other's families, which is how operational metrics stay apart from any other set.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "callback.hpp"
#include "counter.hpp"
#include "family.hpp"
#include "gauge.hpp"
#include "histogram.hpp"
#include "info.hpp"
#include "names.hpp"
#include "stateset.hpp"

namespace vitals {

/// A counter family with compile-time labels.
template <label_set Labels>
using counter_family = metric_family<detail::counter_series, Labels>;
/// A gauge family with compile-time labels.
template <label_set Labels>
using gauge_family = metric_family<detail::gauge_series, Labels>;
/// A histogram family with compile-time labels.
template <label_set Labels>
using histogram_family = metric_family<detail::histogram_series, Labels>;

/// Label name/value pairs applied to every series a registry renders.
using const_labels = std::vector<std::pair<std::string, std::string>>;

/// `service` from $SERVICE_NAME and `environment` from $ENVIRONMENT, each falling back to the given
/// default; a label whose value ends up empty is left out.
inline const_labels const_labels_from_env(std::string_view default_service = {},
                                          std::string_view default_environment = {}) {
    const_labels out;
    auto add = [&](const char* label, const char* var, std::string_view fallback) {
        const char* v = std::getenv(var);
        std::string value = (v && *v) ? std::string(v) : std::string(fallback);
        if (!value.empty()) out.emplace_back(label, std::move(value));
    };
    add("service", "SERVICE_NAME", default_service);
    add("environment", "ENVIRONMENT", default_environment);
    return out;
}

/// Owns metric families. Thread-safe: families can be registered while others render.
class registry {
public:
    /// A registry without const labels.
    registry() = default;

    /// A registry whose const labels apply to every series it renders. Throws
    /// invalid_argument_error for an invalid or repeated label name.
    explicit registry(const_labels labels) : const_labels_(std::move(labels)) {
        for (std::size_t i = 0; i < const_labels_.size(); ++i) {
            check_label_name(const_labels_[i].first);
            const_labels_[i].second = detail::to_valid_utf8(const_labels_[i].second);
            for (std::size_t j = 0; j < i; ++j)
                if (const_labels_[j].first == const_labels_[i].first)
                    throw invalid_argument_error("vitals: duplicate const label '" + const_labels_[i].first + "'");
        }
    }

    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;

    /// Registers (or finds) a counter family. Without labels it returns a vitals::counter handle,
    /// with labels a reference to the family. The name is checked at compile time.
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) counter(std::string_view help) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        return counter<Labels>(Name.view(), help);
    }
    /// Registers (or finds) a counter family whose name is known only at run time (checked,
    /// invalid_argument_error when bad).
    template <label_set Labels = labels<>>
    decltype(auto) counter(std::string_view name, std::string_view help) {
        return unwrap<Labels>(add<metric_family<detail::counter_series, Labels>>(name, help, detail::counter_series::params{}));
    }

    /// Registers (or finds) a gauge family; see counter().
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) gauge(std::string_view help) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        return gauge<Labels>(Name.view(), help);
    }
    /// Registers (or finds) a gauge family with a run-time name.
    template <label_set Labels = labels<>>
    decltype(auto) gauge(std::string_view name, std::string_view help) {
        return unwrap<Labels>(add<metric_family<detail::gauge_series, Labels>>(name, help, detail::gauge_series::params{}));
    }

    /// Registers (or finds) a histogram family with the given bucket upper bounds (+Inf implied).
    /// `le` cannot be a label (compile error); bad buckets throw invalid_argument_error.
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) histogram(std::string_view help, std::span<const double> buckets = default_buckets) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        return histogram<Labels>(Name.view(), help, buckets);
    }
    /// Registers (or finds) a histogram family with a run-time name.
    template <label_set Labels = labels<>>
    decltype(auto) histogram(std::string_view name, std::string_view help,
                             std::span<const double> buckets = default_buckets) {
        static_assert(!Labels::contains("le"), "vitals: 'le' is reserved for histogram buckets and cannot be a label");
        auto layout = std::make_shared<const histogram_layout>(buckets);
        return unwrap<Labels>(
            add<metric_family<detail::histogram_series, Labels>>(name, help, detail::histogram_series::params{std::move(layout)}));
    }

    /// Registers (or finds) a gauge whose values are computed at render time; add series with
    /// `family.set(fn, label values...)`.
    template <fixed_string Name, label_set Labels = labels<>>
    callback_family<metric_type::gauge, Labels>& callback_gauge(std::string_view help) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        return add<callback_family<metric_type::gauge, Labels>>(Name.view(), help);
    }
    /// Registers (or finds) a counter whose values are computed at render time.
    template <fixed_string Name, label_set Labels = labels<>>
    callback_family<metric_type::counter, Labels>& callback_counter(std::string_view help) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        return add<callback_family<metric_type::counter, Labels>>(Name.view(), help);
    }

    /// Registers (or finds) an info family; the name must end in `_info` (OpenMetrics names the
    /// family without it). Add series with `family.set(label values...)`.
    template <fixed_string Name, label_set Labels = labels<>>
    info_family<Labels>& info(std::string_view help) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        static_assert(Name.view().ends_with("_info") && Name.view().size() > 5, "vitals: an info metric's name must end in '_info'");
        return add<info_family<Labels>>(Name.view(), help);
    }

    /// Registers (or finds) a stateset family with the given states; the family's name is also
    /// the label that names a state, so it must be a valid label name distinct from the labels.
    template <fixed_string Name, label_set Labels = labels<>>
    stateset_family<Labels>& stateset(std::string_view help, std::vector<std::string> states) {
        static_assert(is_valid_metric_name(Name.view()), "vitals: invalid metric name: must match [a-zA-Z_:][a-zA-Z0-9_:]*");
        static_assert(is_valid_label_name(Name.view()) && !Labels::contains(Name.view()),
                      "vitals: a stateset's name is its state label: it must be a valid label name and not one of its labels");
        return add<stateset_family<Labels>>(Name.view(), help, std::move(states));
    }

    /// Registers a family built elsewhere (other metric kinds plug in here). Returns the family
    /// already registered under that name when it has the same definition; throws
    /// registration_error when it differs.
    template <class Family>
    Family& add_family(std::unique_ptr<Family> f) {
        check_metric_name(f->name());
        std::lock_guard lock(mu_);
        for (auto& existing : families_) {
            if (existing->name() != f->name()) continue;
            if (existing->same_definition(*f)) return static_cast<Family&>(*existing);
            throw registration_error("vitals: metric '" + f->name() +
                                     "' is already registered with a different type, labels, buckets or help");
        }
        for (const auto& sample : sample_names(*f))
            for (auto& existing : families_)
                for (const auto& other : sample_names(*existing))
                    if (sample == other)
                        throw registration_error("vitals: metric '" + f->name() + "' would expose '" + sample +
                                                 "', which '" + existing->name() + "' already exposes");
        f->apply_const_labels(const_labels_);
        families_.push_back(std::move(f));
        return static_cast<Family&>(*families_.back());
    }

    /// Calls f.collect(v) for every family, in registration order.
    void collect(sample_visitor& v) const {
        std::shared_lock lock(mu_);
        for (const auto& f : families_) f->collect(v);
    }

    /// The const labels given at construction.
    [[nodiscard]] const const_labels& labels() const noexcept { return const_labels_; }

    /// Number of registered families.
    [[nodiscard]] std::size_t family_count() const {
        std::shared_lock lock(mu_);
        return families_.size();
    }

private:
    template <class Family, class... Args>
    Family& add(std::string_view name, std::string_view help, Args&&... args) {
        check_metric_name(name);
        return add_family(std::make_unique<Family>(std::string(name), std::string(help), std::forward<Args>(args)...));
    }

    // Label-less families are used through their single series: hand out its handle directly.
    template <label_set Labels, class Family>
    static decltype(auto) unwrap(Family& f) {
        if constexpr (Labels::size == 0)
            return f.with();
        else
            return (f);
    }

    static std::vector<std::string> sample_names(const family_base& f) {
        const std::string& n = f.name();
        if (f.type() == metric_type::histogram) return {n, n + "_bucket", n + "_sum", n + "_count"};
        if (f.type() == metric_type::summary) return {n, n + "_sum", n + "_count"};
        // OpenMetrics names a counter's family without `_total`; that name must be free too.
        if (f.type() == metric_type::counter && n.size() > 6 && n.ends_with("_total"))
            return {n, n.substr(0, n.size() - 6)};
        return {n};
    }

    mutable std::shared_mutex mu_;
    std::vector<std::unique_ptr<family_base>> families_;
    const_labels const_labels_;
};

}  // namespace vitals
