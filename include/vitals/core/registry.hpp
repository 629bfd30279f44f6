// vitals — registry: owns families and renders them. Independent registries never see each
// other's families, which is how operational metrics stay apart from any other set.
#pragma once

#include <cstdlib>
#include <initializer_list>
#include <type_traits>

#include "../base/config.hpp"
#include "../detail/fork_hooks.hpp"
#include "../detail/mutex.hpp"
#include "../detail/pod_vector.hpp"
#include "../detail/reader_gate.hpp"
#include "callback.hpp"
#include "const_labels.hpp"
#include "counter.hpp"
#include "family.hpp"
#include "gauge.hpp"
#include "histogram.hpp"
#include "metric_source.hpp"
#include "names.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"

namespace vitals {

/// The quantiles a summary reports unless told otherwise: median, 90th and 99th percentile.
inline constexpr double default_quantiles[] = {0.5, 0.9, 0.99};

/// A counter family with compile-time labels.
template <label_set Labels>
using counter_family = metric_family<counter_series, Labels>;
/// A gauge family with compile-time labels.
template <label_set Labels>
using gauge_family = metric_family<gauge_series, Labels>;
/// A histogram family with compile-time labels.
template <label_set Labels>
using histogram_family = metric_family<histogram_series, Labels>;
/// A summary family with compile-time labels.
template <label_set Labels>
using summary_family = metric_family<summary_series, Labels>;
/// A native histogram family with compile-time labels.
template <label_set Labels>
using native_histogram_family = metric_family<native_histogram_series, Labels>;

/// `service` from $SERVICE_NAME and `environment` from $ENVIRONMENT, each falling back to the given
/// default; a label whose value ends up empty is left out.
VITALS_COLD const_labels const_labels_from_env(string_ref default_service = {}, string_ref default_environment = {});

namespace detail {

// A name a family exposes: its own name (or a part of it) and a suffix, compared without
// building the string.
struct sample_name {
    string_ref base, suffix;
    [[nodiscard]] bool operator==(const sample_name& o) const noexcept {
        if (base.size() + suffix.size() != o.base.size() + o.suffix.size()) return false;
        // Compare the concatenations piecewise.
        const sample_name* a = this;
        const sample_name* b = &o;
        if (a->base.size() > b->base.size()) {
            a = &o;
            b = this;
        }
        return b->base.substr(0, a->base.size()) == a->base &&
               b->base.substr(a->base.size()) == a->suffix.substr(0, b->base.size() - a->base.size()) &&
               a->suffix.substr(b->base.size() - a->base.size()) == b->suffix;
    }
};

// Every name a family's samples use, in any format.
struct sample_name_set {
    sample_name names[4];
    int count = 0;
    explicit sample_name_set(const family_base& f) {
        const string_ref n = f.name();
        names[count++] = {n, {}};
        if (f.type() == metric_type::histogram) {
            names[count++] = {n, "_bucket"};
            names[count++] = {n, "_sum"};
            names[count++] = {n, "_count"};
        } else if (f.type() == metric_type::summary) {
            names[count++] = {n, "_sum"};
            names[count++] = {n, "_count"};
        } else if (f.type() == metric_type::counter && n.size() > 6 && n.ends_with("_total")) {
            // OpenMetrics names a counter's family without `_total`; that name must be free too.
            names[count++] = {n.substr(0, n.size() - 6), {}};
        }
    }
    // The first of these names `other` uses too, or null.
    [[nodiscard]] const sample_name* shared_with(const sample_name_set& other) const noexcept {
        for (int i = 0; i < count; ++i)
            for (int j = 0; j < other.count; ++j)
                if (names[i] == other.names[j]) return &names[i];
        return nullptr;
    }
};

// A series of the one label `metric`, as the self-metrics the registry and registry_set render
// have: `value` must outlive it.
inline series_base metric_label_series(const string_ref& value) {
    static constexpr string_ref names[] = {"metric"};
    return series_base(names, {{&value, 1}, hash_values({&value, 1})});
}

// The names of the families vitals renders itself. A user family may not expose them, in any
// registry: the self-metric would be rendered twice.
inline constexpr string_ref series_limit_rejections_name = "vitals_series_limit_rejections_total";
inline constexpr string_ref conflicting_definitions_name = "vitals_conflicting_definitions";

}  // namespace detail

#if VITALS_EXTERN_TEMPLATES
// Compiled mode: the family code of these kinds is in libvitals (see base/config.hpp).
extern template class detail::family_impl<counter_series>;
extern template class detail::family_impl<gauge_series>;
extern template class detail::family_impl<histogram_series>;
#endif

class registry_set;

/// Owns metric families. Thread-safe: families can be registered while others render.
class registry : public metric_source {
public:
    /// A registry without const labels.
    registry();

    /// A registry whose const labels apply to every series it renders. Throws
    /// invalid_argument_error for an invalid or repeated label name.
    explicit registry(const_labels labels);

    /// The same, written inline: `registry r({{"service", "api"}});`.
    registry(std::initializer_list<label_pair> labels) : registry(const_labels(labels)) {}

    registry(const registry&) = delete;
    registry& operator=(const registry&) = delete;
    ~registry();

    /// Registers (or finds) a counter family. Without labels it returns a vitals::counter handle,
    /// with labels a reference to the family. The name is checked at compile time.
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) counter(string_ref help) {
        return counter<Labels>(detail::checked_metric_name<Name>(), help);
    }
    /// Registers (or finds) a counter family whose name is known only at run time (checked,
    /// invalid_argument_error when bad).
    template <label_set Labels = labels<>>
        requires(!detail::is_dynamic_labels<Labels>)
    decltype(auto) counter(string_ref name, string_ref help) {
        return unwrap<Labels>(add<metric_family<counter_series, Labels>>(name, help, counter_series::params{}));
    }

    /// Registers (or finds) a counter family whose label names are known only at run time, e.g.
    /// read from configuration: `counter("jobs_total", "Jobs.", {"queue", "result"})`. The names
    /// are checked here (invalid_argument_error: bad or repeated name); the values are given as
    /// for labels<...> (their number checked at run time) or as a list (`labels(span)`). Returns
    /// the family, also when `names` is empty.
    /// (Like every run-time-names form, a template only so that files which never call it do
    /// not instantiate it: leave `Family` defaulted.)
    template <class Family = counter_family<dynamic_labels>>
    Family& counter(string_ref name, string_ref help, const label_names& names) {
        return add<Family>(name, help, counter_series::params{}, names.view());
    }

    /// Registers (or finds) a gauge family; see counter().
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) gauge(string_ref help) {
        return gauge<Labels>(detail::checked_metric_name<Name>(), help);
    }
    /// Registers (or finds) a gauge family with a run-time name.
    template <label_set Labels = labels<>>
        requires(!detail::is_dynamic_labels<Labels>)
    decltype(auto) gauge(string_ref name, string_ref help) {
        return unwrap<Labels>(add<metric_family<gauge_series, Labels>>(name, help, gauge_series::params{}));
    }

    /// Registers (or finds) a gauge family with run-time label names; see counter().
    template <class Family = gauge_family<dynamic_labels>>
    Family& gauge(string_ref name, string_ref help, const label_names& names) {
        return add<Family>(name, help, gauge_series::params{}, names.view());
    }

    /// Registers (or finds) a histogram family with the given bucket upper bounds (+Inf implied).
    /// `le` cannot be a label (compile error); bad buckets throw invalid_argument_error.
    template <fixed_string Name, label_set Labels = labels<>>
    decltype(auto) histogram(string_ref help, span<const double> buckets = default_buckets) {
        return histogram<Labels>(detail::checked_metric_name<Name>(), help, buckets);
    }
    /// Registers (or finds) a histogram family with a run-time name.
    template <label_set Labels = labels<>>
        requires(!detail::is_dynamic_labels<Labels>)
    decltype(auto) histogram(string_ref name, string_ref help, span<const double> buckets = default_buckets) {
        static_assert(!Labels::contains("le"), "vitals: 'le' is reserved for histogram buckets and cannot be a label");
        auto layout = detail::shared<const histogram_layout>::make(buckets);
        return unwrap<Labels>(add<metric_family<histogram_series, Labels>>(
            name, help, histogram_series::params{static_cast<decltype(layout)&&>(layout)}));
    }

    /// Registers (or finds) a histogram family with run-time label names (see counter()); `le`
    /// cannot be one of them (invalid_argument_error).
    template <class Family = histogram_family<dynamic_labels>>
    Family& histogram(string_ref name, string_ref help, const label_names& names,
                      span<const double> buckets = default_buckets) {
        static constexpr string_ref reserved[] = {"le"};
        auto layout = detail::shared<const histogram_layout>::make(buckets);
        return add<Family>(name, help, histogram_series::params{static_cast<decltype(layout)&&>(layout)}, names.view(),
                           span<const string_ref>(reserved));
    }

    /// Registers (or finds) a gauge whose values are computed at render time; add series with
    /// `family.set(fn, label values...)`.
    template <fixed_string Name, label_set Labels = labels<>>
    callback_family<metric_type::gauge, Labels>& callback_gauge(string_ref help) {
        return add<callback_family<metric_type::gauge, Labels>>(detail::checked_metric_name<Name>(), help);
    }
    /// Registers (or finds) a counter whose values are computed at render time.
    template <fixed_string Name, label_set Labels = labels<>>
    callback_family<metric_type::counter, Labels>& callback_counter(string_ref help) {
        return add<callback_family<metric_type::counter, Labels>>(detail::checked_metric_name<Name>(), help);
    }

    /// Registers (or finds) a callback gauge with a run-time name (checked, invalid_argument_error).
    template <label_set Labels = labels<>>
        requires(!detail::is_dynamic_labels<Labels>)
    callback_family<metric_type::gauge, Labels>& callback_gauge(string_ref name, string_ref help) {
        return add<callback_family<metric_type::gauge, Labels>>(name, help);
    }
    /// Registers (or finds) a callback gauge with run-time label names (see counter()).
    template <class Family = callback_family<metric_type::gauge, dynamic_labels>>
    Family& callback_gauge(string_ref name, string_ref help, const label_names& names) {
        return add<Family>(name, help, names.view());
    }
    /// Registers (or finds) a callback counter with a run-time name.
    template <label_set Labels = labels<>>
        requires(!detail::is_dynamic_labels<Labels>)
    callback_family<metric_type::counter, Labels>& callback_counter(string_ref name, string_ref help) {
        return add<callback_family<metric_type::counter, Labels>>(name, help);
    }
    /// Registers (or finds) a callback counter with run-time label names (see counter()).
    template <class Family = callback_family<metric_type::counter, dynamic_labels>>
    Family& callback_counter(string_ref name, string_ref help, const label_names& names) {
        return add<Family>(name, help, names.view());
    }

    // The kinds below live in headers of their own, which keeps <vitals/vitals.hpp> light; the
    // last template parameter of each only defers the need for that header to the call (leave it
    // defaulted). Without the header the call does not compile: "no matching function", with a
    // note naming the incomplete type.

    /// Registers (or finds) a native histogram family (sparse exponential buckets, exposed in
    /// protobuf; classic buckets kept too when `options.classic_buckets` is set). Without labels it
    /// returns a vitals::native_histogram handle. Bad options throw invalid_argument_error.
    /// Needs <vitals/core/native_histogram.hpp>.
    template <fixed_string Name, label_set Labels = labels<>, class Series = native_histogram_series>
    decltype(auto) native_histogram(string_ref help, typename Series::options_type options = {}) {
        static_assert(!Labels::contains("le"), "vitals: 'le' is reserved for histogram buckets and cannot be a label");
        return unwrap<Labels>(add<metric_family<Series, Labels>>(
            detail::checked_metric_name<Name>(), help,
            Series::make_params(static_cast<typename Series::options_type&&>(options))));
    }

    /// Registers (or finds) a native histogram family with a run-time name (checked).
    template <label_set Labels = labels<>, class Series = native_histogram_series>
        requires(!detail::is_dynamic_labels<Labels>)
    decltype(auto) native_histogram(string_ref name, string_ref help, typename Series::options_type options = {}) {
        static_assert(!Labels::contains("le"), "vitals: 'le' is reserved for histogram buckets and cannot be a label");
        return unwrap<Labels>(add<metric_family<Series, Labels>>(
            name, help, Series::make_params(static_cast<typename Series::options_type&&>(options))));
    }
    /// Registers (or finds) a native histogram family with run-time label names (see counter());
    /// `le` cannot be one of them.
    template <class Series = native_histogram_series>
    metric_family<Series, dynamic_labels>& native_histogram(string_ref name, string_ref help, const label_names& names,
                                                            typename Series::options_type options = {}) {
        static constexpr string_ref reserved[] = {"le"};
        return add<metric_family<Series, dynamic_labels>>(
            name, help, Series::make_params(static_cast<typename Series::options_type&&>(options)), names.view(),
            span<const string_ref>(reserved));
    }

    /// Registers (or finds) a summary family: the given quantiles (each in [0, 1], distinct) over a
    /// sliding window, plus sum and count. `quantile` cannot be a label (compile error). Without
    /// labels it returns a vitals::summary handle. Needs <vitals/core/summary.hpp>.
    template <fixed_string Name, label_set Labels = labels<>, class Series = summary_series>
    decltype(auto) summary(string_ref help, span<const double> quantiles = default_quantiles,
                           typename Series::options_type options = {}) {
        static_assert(!Labels::contains("quantile"),
                      "vitals: 'quantile' is reserved for summary quantiles and cannot be a label");
        return unwrap<Labels>(add<metric_family<Series, Labels>>(detail::checked_metric_name<Name>(), help,
                                                                 Series::make_params(quantiles, options)));
    }

    /// Registers (or finds) a summary family with a run-time name (checked).
    template <label_set Labels = labels<>, class Series = summary_series>
        requires(!detail::is_dynamic_labels<Labels>)
    decltype(auto) summary(string_ref name, string_ref help, span<const double> quantiles = default_quantiles,
                           typename Series::options_type options = {}) {
        static_assert(!Labels::contains("quantile"),
                      "vitals: 'quantile' is reserved for summary quantiles and cannot be a label");
        return unwrap<Labels>(add<metric_family<Series, Labels>>(name, help, Series::make_params(quantiles, options)));
    }
    /// Registers (or finds) a summary family with run-time label names (see counter());
    /// `quantile` cannot be one of them.
    template <class Series = summary_series>
    metric_family<Series, dynamic_labels>& summary(string_ref name, string_ref help, const label_names& names,
                                                   span<const double> quantiles = default_quantiles,
                                                   typename Series::options_type options = {}) {
        static constexpr string_ref reserved[] = {"quantile"};
        return add<metric_family<Series, dynamic_labels>>(name, help, Series::make_params(quantiles, options),
                                                          names.view(), span<const string_ref>(reserved));
    }

    /// Registers (or finds) an info family; the name must end in `_info` (OpenMetrics names the
    /// family without it). Add series with `family.set(label values...)`. Needs
    /// <vitals/core/info.hpp>.
    template <fixed_string Name, label_set Labels = labels<>, class Series = info_series>
    metric_family<Series, Labels>& info(string_ref help) {
        static_assert(Name.view().ends_with("_info") && Name.view().size() > 5,
                      "vitals: an info metric's name must end in '_info'");
        return add<metric_family<Series, Labels>>(detail::checked_metric_name<Name>(), help, typename Series::params{});
    }

    /// Registers (or finds) an info family with a run-time name (checked; it must end in `_info`).
    template <label_set Labels = labels<>, class Series = info_series>
        requires(!detail::is_dynamic_labels<Labels>)
    metric_family<Series, Labels>& info(string_ref name, string_ref help) {
        check_info_name(name);
        return add<metric_family<Series, Labels>>(name, help, typename Series::params{});
    }
    /// Registers (or finds) an info family with run-time label names (see counter()).
    template <class Series = info_series>
    metric_family<Series, dynamic_labels>& info(string_ref name, string_ref help, const label_names& names) {
        check_info_name(name);
        return add<metric_family<Series, dynamic_labels>>(name, help, typename Series::params{}, names.view());
    }

    /// Registers (or finds) a stateset family with the given states; the family's name is also
    /// the label that names a state, so it must be a valid label name distinct from the labels.
    /// States are 1 to 64 distinct non-empty strings without `\`, `"` or line feeds
    /// (invalid_argument_error otherwise). Needs <vitals/core/stateset.hpp>.
    template <fixed_string Name, label_set Labels = labels<>, class Series = stateset_series>
    metric_family<Series, Labels>& stateset(string_ref help, span<const string_ref> states) {
        static_assert(
            is_valid_label_name(Name.view()) && !Labels::contains(Name.view()),
            "vitals: a stateset's name is its state label: it must be a valid label name and not one of its labels");
        constexpr string_ref name = detail::checked_metric_name<Name>();
        return add<metric_family<Series, Labels>>(name, help, Series::make_params(name, states));
    }
    /// Registers (or finds) a stateset family with a run-time name, which must also be a valid
    /// label name (it is the state label), distinct from the labels (invalid_argument_error).
    template <label_set Labels = labels<>, class Series = stateset_series>
        requires(!detail::is_dynamic_labels<Labels>)
    metric_family<Series, Labels>& stateset(string_ref name, string_ref help, const label_names& states) {
        check_metric_name(name);
        if (!is_valid_label_name(name) || detail::labels_contain<Labels>(name))
            throw invalid_argument_error("vitals: a stateset's name is its state label: '", name,
                                         "' must be a valid label name and not one of its labels");
        return add<metric_family<Series, Labels>>(name, help, Series::make_params(name, states.view()));
    }
    /// Registers (or finds) a stateset family with a run-time name and run-time label names.
    template <class Series = stateset_series>
    metric_family<Series, dynamic_labels>& stateset(string_ref name, string_ref help, const label_names& states,
                                                    const label_names& names) {
        check_metric_name(name);
        return add<metric_family<Series, dynamic_labels>>(name, help, Series::make_params(name, states.view()),
                                                          names.view(), span<const string_ref>(&name, 1));
    }

    /// The same, with the states in any range of strings (a std::vector<std::string>, say).
    template <fixed_string Name, label_set Labels = labels<>, class Range>
        requires requires(const Range& r) {
            string_ref(*r.begin());
            r.begin() != r.end();
        }
    decltype(auto) stateset(string_ref help, const Range& states) {
        detail::pod_vector<string_ref> views;
        for (const auto& s : states) views.push_back(string_ref(s));
        return stateset<Name, Labels>(help, span<const string_ref>{views.data(), views.size()});
    }

    /// Registers a family built elsewhere (other metric kinds plug in here), taking it over from
    /// `f`: a std::unique_ptr<Family> or any owner with get() and release(). Returns the family
    /// already registered under that name when it has the same definition (and `f` keeps, then
    /// frees, the new one); throws registration_error when it differs.
    template <class Owner>
    auto& add_family(Owner f) {
        using Family = std::remove_reference_t<decltype(*f.get())>;
        static_assert(std::is_base_of_v<family_base, Family>, "vitals: add_family takes an owner of a family");
        family_base& registered = adopt(*f.get());
        if (&registered == f.get()) (void)f.release();  // the registry owns it now
        return static_cast<Family&>(registered);
    }

    /// Calls f.collect(v) for every family, in registration order. When any family has turned
    /// series away at its limit, a last family `vitals_series_limit_rejections_total{metric}`
    /// counts them (absent otherwise, so it costs nothing until it matters). Renders take turns;
    /// registering a family never waits for one.
    void collect(sample_visitor& v) const override;

    /// Removes the family named `name` and frees it; returns false when there is none. It is no
    /// longer rendered, and the name may be registered again (with any definition). Handles to
    /// its series keep working, unrendered, but references to the family itself (what a labelled
    /// registration returned) dangle: drop them first. A plugin that registered families calls
    /// this for each before it is unloaded, since a family's code is the plugin's; likewise it
    /// drops every handle to a series its code created (the series' code is the plugin's too),
    /// and joins the threads it started.
    bool unregister(string_ref name);

    /// The series limit given to families registered from now on (default
    /// family_base::default_series_limit); each family can also be changed on its own.
    void set_default_series_limit(std::size_t limit) noexcept {
        default_series_limit_.store(limit, detail::memory_order_relaxed);
    }

    /// The const labels given at construction.
    [[nodiscard]] const const_labels& labels() const noexcept { return const_labels_; }

    /// Number of registered families.
    [[nodiscard]] std::size_t family_count() const {
        detail::lock_guard lock(mu_);
        return families_.size();
    }

private:
    // add_family's work, the same for every family type: returns the family registered under
    // f's name when it is defined alike, else takes `f` (the caller lets go of it) and returns it.
    family_base& adopt(family_base& f);

    template <class Family, class... Args>
    Family& add(string_ref name, string_ref help, Args&&... args) {
        check_metric_name(name);
        return add_family(detail::unique<Family>(new Family(name, help, static_cast<Args&&>(args)...)));
    }

    static void check_info_name(string_ref name) {
        if (!(name.ends_with("_info") && name.size() > 5))
            throw invalid_argument_error("vitals: info metric '", name, "': the name must end in '_info'");
    }

    // Label-less families are used through their single series: hand out its handle directly.
    template <label_set Labels, class Family>
    static decltype(auto) unwrap(Family& f) {
        if constexpr (detail::is_dynamic_labels<Labels>) {
            return (f);
        } else {
            if constexpr (Labels::size == 0)
                return f.with();
            else
                return (f);
        }
    }

    friend class registry_set;

    // Renders the rejections of `families` (those `include` accepts) as series of
    // vitals_series_limit_rejections_total. `begun`: another registry's part of that family came
    // first (a registry_set), so this one continues it. Returns whether the family is open, for
    // the caller to end.
    template <class Include>
    bool collect_rejections(sample_visitor& v, span<family_base* const> families, bool begun, Include include) const {
        static constexpr string_ref names[] = {"metric"};
        bool any = false;
        for (const family_base* f : families) {
            const std::uint64_t n = f->series_limit_rejections();
            if (n == 0 || !include(f)) continue;
            if (!any) {
                any = true;
                family_header h;
                h.name = detail::series_limit_rejections_name;
                h.help =
                    "Lookups of new label combinations sent to the overflow series because the family was at "
                    "its series limit.";
                h.type = metric_type::counter;
                h.label_names = names;
                h.const_block = rejections_const_block_;
                h.const_labels = const_labels_.pairs();
                if (begun)
                    v.continue_family(h);
                else
                    v.begin_family(h);
            }
            const string_ref value = f->name();
            v.counter_sample(detail::metric_label_series(value).view(), counter_value{0, n, 0}, nullptr);
        }
        return any || begun;
    }

    static text_buffer escaped_block(const const_labels& labels);

    // fork(): the registry's locks, then each family's, in the order every path takes them.
    class fork_link final : public detail::fork_participant {
    public:
        explicit fork_link(registry& r);
        // Also when the registry's constructor throws (bad const labels): the registry's
        // destructor does not run then, and a participant left behind would be called by the
        // next fork() after its memory is gone.
        ~fork_link();
        fork_link(const fork_link&) = delete;
        fork_link& operator=(const fork_link&) = delete;
        void leave() noexcept;
        void fork_prepare() noexcept override;
        void fork_parent() noexcept override;
        void fork_child() noexcept override;

    private:
        registry& r_;
        detail::fork_hooks* hooks_;  // the hooks joined (this copy of the code's)
    };

    detail::atomic<std::size_t> default_series_limit_{family_base::default_series_limit};
    mutable detail::mutex render_mu_;  // one render at a time; unregister waits for it
    mutable detail::mutex mu_;
    detail::pod_vector<family_base*> families_;             // owned
    mutable detail::pod_vector<family_base*> render_list_;  // the families a render visits
    detail::pod_vector<family_base*> retired_;              // unregistered, owned, freed after a grace period
    // Read sections of registry_set renders, which read families without the render lock.
    mutable detail::reader_gate set_readers_;
    vitals::const_labels const_labels_;
    text_buffer rejections_const_block_;
    fork_link fork_link_{*this};  // last: registered for fork() once everything else exists
};

#if VITALS_COLD_DEFINED

VITALS_COLD const_labels const_labels_from_env(string_ref default_service, string_ref default_environment) {
    const_labels out;
    auto add = [&](const char* label, const char* var, string_ref fallback) {
        const char* v = std::getenv(var);
        const string_ref value = (v && *v) ? string_ref(v) : fallback;
        if (!value.empty()) out.add(label, value);
    };
    add("service", "SERVICE_NAME", default_service);
    add("environment", "ENVIRONMENT", default_environment);
    return out;
}

VITALS_COLD registry::registry() = default;

VITALS_COLD registry::registry(const_labels labels) : const_labels_(static_cast<const_labels&&>(labels)) {
    for (std::size_t i = 0; i < const_labels_.size(); ++i) {
        check_label_name(const_labels_[i].name);
        if (!detail::is_valid_utf8(const_labels_[i].value))
            const_labels_.set_value(i, detail::to_valid_utf8(const_labels_[i].value));
        for (std::size_t j = 0; j < i; ++j)
            if (const_labels_[j].name == const_labels_[i].name)
                throw invalid_argument_error("vitals: duplicate const label '", const_labels_[i].name, "'");
    }
    rejections_const_block_ = escaped_block(const_labels_);
}

VITALS_COLD registry::~registry() {
    fork_link_.leave();
    for (family_base* f : families_) delete f;
    for (family_base* f : retired_) delete f;
}

VITALS_COLD family_base& registry::adopt(family_base& f) {
    check_metric_name(f.name());
    // Names the registry renders itself: a family of the same name would be rendered twice.
    const detail::sample_name_set mine(f);
    for (int i = 0; i < mine.count; ++i) {
        using detail::sample_name;
        constexpr string_ref rejections = detail::series_limit_rejections_name;
        constexpr string_ref conflicts = detail::conflicting_definitions_name;
        if (mine.names[i] == sample_name{rejections, {}} ||
            mine.names[i] == sample_name{rejections.substr(0, rejections.size() - 6), {}})
            throw registration_error("vitals: metric '", f.name(), "' would expose '", rejections,
                                     "', which the registry renders itself (series limit rejections)");
        if (mine.names[i] == sample_name{conflicts, {}})
            throw registration_error("vitals: metric '", f.name(), "' would expose '", conflicts,
                                     "', which a registry_set renders itself (definitions left out)");
    }
    detail::lock_guard lock(mu_);
    for (auto& existing : families_) {
        if (existing->name() != f.name()) continue;
        if (existing->same_definition(f)) return *existing;
        throw registration_error("vitals: metric '", f.name(),
                                 "' is already registered differently: ", existing->definition_difference(f).view());
    }
    for (family_base* existing : families_)
        if (const detail::sample_name* clash = mine.shared_with(detail::sample_name_set(*existing)))
            throw registration_error("vitals: metric '", f.name(), "' would expose '", clash->base, clash->suffix,
                                     "', which '", existing->name(), "' already exposes");
    f.apply_const_labels(const_labels_.pairs());
    f.set_series_limit(default_series_limit_.load(detail::memory_order_relaxed));
    families_.reserve(families_.size() + 1);  // nothing may throw once ownership moves
    families_.push_back(&f);
    return f;
}

VITALS_COLD void registry::collect(sample_visitor& v) const {
    detail::lock_guard render(render_mu_);
    {
        detail::lock_guard lock(mu_);
        render_list_.clear();
        render_list_.append(families_.data(), families_.size());
    }
    for (family_base* f : render_list_) f->collect(v);
    if (collect_rejections(v, {render_list_.data(), render_list_.size()}, false,
                           [](const family_base*) { return true; }))
        v.end_family();
}

VITALS_COLD bool registry::unregister(string_ref name) {
    family_base* gone = nullptr;
    {
        detail::lock_guard render(render_mu_);  // no render is using it
        detail::lock_guard lock(mu_);
        for (family_base* f : families_)
            if (f->name() == name) gone = f;
        if (gone) families_.remove(gone);
    }
    if (!gone) return false;
    // Outside the locks: freeing series gives their slots back to the pool. A registry_set's
    // render may still be reading the family (it pins the registry, not its render lock);
    // when it does not finish within the grace period the family waits for a later one.
    detail::pod_vector<family_base*> free_now;
    {
        detail::lock_guard lock(mu_);
        retired_.push_back(gone);
    }
    if (set_readers_.synchronize()) {
        detail::lock_guard lock(mu_);
        free_now.append(retired_.data(), retired_.size());
        retired_.clear();
    }
    for (family_base* f : free_now) delete f;
    return true;
}

VITALS_COLD text_buffer registry::escaped_block(const const_labels& labels) {
    text_buffer out;
    for (const auto& [k, val] : labels) {
        if (k == "metric") continue;
        if (!out.empty()) out += ',';
        out += k;
        out += "=\"";
        detail::append_escaped_label_value(out, val);
        out += '"';
    }
    return out;
}

VITALS_COLD registry::fork_link::fork_link(registry& r) : r_(r), hooks_(&detail::fork_hooks::instance()) {
    hooks_->add(this);
}

VITALS_COLD registry::fork_link::~fork_link() { leave(); }

VITALS_COLD void registry::fork_link::leave() noexcept {
    if (hooks_) hooks_->remove(this);
    hooks_ = nullptr;
}

VITALS_COLD void registry::fork_link::fork_prepare() noexcept {
    r_.render_mu_.lock();
    r_.mu_.lock();
    r_.set_readers_.fork_lock().lock();
    for (family_base* f : r_.families_) f->fork_prepare();
}

VITALS_COLD void registry::fork_link::fork_parent() noexcept {
    for (std::size_t i = r_.families_.size(); i-- > 0;) r_.families_[i]->fork_parent();
    r_.set_readers_.fork_lock().unlock();
    r_.mu_.unlock();
    r_.render_mu_.unlock();
}

VITALS_COLD void registry::fork_link::fork_child() noexcept {
    for (std::size_t i = r_.families_.size(); i-- > 0;) r_.families_[i]->fork_child();
    r_.set_readers_.reset_in_child();  // also frees its grace-period lock
    r_.mu_.reset_after_fork();
    r_.render_mu_.reset_after_fork();
}

#endif  // VITALS_COLD_DEFINED

}  // namespace vitals
