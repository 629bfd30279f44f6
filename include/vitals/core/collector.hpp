// vitals — custom collectors: series produced at scrape time from another system's state.
//
// A cache's statistics, a connection pool, a C library's counters: values that already live
// somewhere else, read when a scrape asks. A collector declares its families once (describe),
// when it is registered, so that they are checked like any other family (names, labels,
// conflicts); each render then asks it for samples (collect). What it emits obeys the rules of
// every other family, whatever it does: a sample of a family it did not declare, of another
// kind, with the wrong number of label values, a counter that is negative or NaN, a histogram
// whose counts go down, or a label set emitted twice in one render is left out of that render
// and counted (dropped_samples), never passed on to break the scrape.
//
//   class pool_collector final : public vitals::collector {
//       void describe(vitals::collector_description& d) const override {
//           d.gauge("pool_connections", "Open connections.", {"pool", "state"});
//       }
//       void collect(vitals::collector_output& out) const override {
//           out.gauge("pool_connections", {"db", "idle"}, pool.idle());
//       }
//   };
//   auto reg = vitals::register_collector(registry, std::make_shared<pool_collector>());
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../base/error.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../detail/mutex.hpp"
#include "../detail/owning.hpp"
#include "family.hpp"
#include "histogram.hpp"
#include "label_names.hpp"
#include "registry.hpp"
#include "sample_data.hpp"

namespace vitals {

class collector_output;
class collector_description;

/// A source of series produced at scrape time. Implement both functions; they may be called
/// from any thread (renders of one registry take turns, but several registries or a
/// registry_set may render at once), so collect() must be safe to run concurrently with itself
/// and quick: it runs inside the scrape.
class collector {
public:
    virtual ~collector() = default;
    /// Declares every family the collector produces (called once, at registration).
    virtual void describe(collector_description& d) const = 0;
    /// Emits the samples of one render. Called once per declared family per render, with
    /// `out.family()` naming the one being rendered: samples of the others are ignored on that
    /// call, so a collector whose reads are costly emits only `out.wants(name)` families.
    virtual void collect(collector_output& out) const = 0;
};

/// One family a collector declared (collector_description::families()).
struct collected_family_spec {
    std::string name;                         ///< The family's name.
    std::string help;                         ///< Its help text.
    metric_type type = metric_type::unknown;  ///< Its kind.
    std::vector<std::string> labels;          ///< Its label names, in order.
    std::vector<double> buckets;              ///< Histograms: the finite bucket bounds.
    std::vector<std::string> states;          ///< Statesets: the states.
};

/// What collector::describe() declares families in. Each call checks its arguments as the
/// registry's own functions do (invalid_argument_error for a bad name, label or bucket list).
class collector_description {
public:
    /// A counter family (its name should end in `_total`, as for registry::counter).
    void counter(string_ref name, string_ref help, const label_names& labels = {}) {
        add(name, help, metric_type::counter, labels);
    }
    /// A gauge family.
    void gauge(string_ref name, string_ref help, const label_names& labels = {}) {
        add(name, help, metric_type::gauge, labels);
    }
    /// A histogram family with these finite bucket bounds (+Inf implied); `le` cannot be a label.
    void histogram(string_ref name, string_ref help, const label_names& labels, span<const double> buckets) {
        add(name, help, metric_type::histogram, labels).buckets.assign(buckets.begin(), buckets.end());
    }
    /// A summary family; the quantiles come with each sample. `quantile` cannot be a label.
    void summary(string_ref name, string_ref help, const label_names& labels = {}) {
        add(name, help, metric_type::summary, labels);
    }
    /// An info family (name ending in `_info`); each sample's labels are the information.
    void info(string_ref name, string_ref help, const label_names& labels = {}) {
        add(name, help, metric_type::info, labels);
    }
    /// A stateset family with these states; the name is also the state label.
    void stateset(string_ref name, string_ref help, const label_names& labels, const string_list& states) {
        auto& f = add(name, help, metric_type::stateset, labels);
        for (string_ref s : states.view()) f.states.emplace_back(s.data(), s.size());
    }

    /// What was declared, in order.
    [[nodiscard]] const std::vector<collected_family_spec>& families() const noexcept { return families_; }

private:
    collected_family_spec& add(string_ref name, string_ref help, metric_type type, const label_names& labels) {
        collected_family_spec f;
        f.name.assign(name.data(), name.size());
        f.help.assign(help.data(), help.size());
        f.type = type;
        for (string_ref l : labels.view()) f.labels.emplace_back(l.data(), l.size());
        families_.push_back(std::move(f));
        return families_.back();
    }
    std::vector<collected_family_spec> families_;
};

namespace detail {
class collected_family;
}

/// What collector::collect() emits samples into, for the family being rendered. Each function
/// names the family and gives one value per declared label, in order; a sample that breaks a
/// rule (see the header comment) is dropped and counted.
class collector_output {
public:
    /// The family this call renders.
    [[nodiscard]] string_ref family() const noexcept;
    /// Whether samples of `name` are wanted on this call (it is the family being rendered).
    [[nodiscard]] bool wants(string_ref name) const noexcept { return name == family(); }

    /// A counter sample: non-negative, not NaN or infinite.
    void counter(string_ref name, const label_values& values, double value);
    /// A gauge sample: any value.
    void gauge(string_ref name, const label_values& values, double value);
    /// A histogram sample: cumulative counts, one per declared bucket plus +Inf (the count),
    /// never decreasing; and the sum.
    void histogram(string_ref name, const label_values& values, span<const std::uint64_t> cumulative, double sum);
    /// A summary sample: quantiles (each in [0, 1], increasing), the sum and the count.
    void summary(string_ref name, const label_values& values, span<const quantile_value> quantiles, double sum,
                 std::uint64_t count);
    /// An info sample: its labels are the information.
    void info(string_ref name, const label_values& values);
    /// A stateset sample: one flag per declared state, in order.
    void stateset(string_ref name, const label_values& values, span<const bool> states);

private:
    friend class detail::collected_family;
    collector_output(detail::collected_family& f, sample_visitor& v) noexcept : f_(f), v_(v) {}
    detail::collected_family& f_;
    sample_visitor& v_;
};

namespace detail {

/// The registry's view of one declared family of a collector: a family_base whose render asks
/// the collector for its samples.
class collected_family final : private label_name_store<dynamic_labels>, public family_base {
    using store = label_name_store<dynamic_labels>;

public:
    collected_family(std::shared_ptr<const collector> c, const collected_family_spec& spec)
        : collected_family(std::move(c), spec,
                           string_list(span<const std::string>{spec.labels.data(), spec.labels.size()})) {}

private:
    collected_family(std::shared_ptr<const collector> c, const collected_family_spec& spec, const string_list& labels)
        : store(spec.name, labels.view(), reserved_for(spec)),
          family_base(spec.name, spec.help, spec.type, store::label_name_span()),
          collector_(std::move(c)),
          spec_(spec) {
        if (spec_.type == metric_type::histogram)
            layout_ =
                shared<const histogram_layout>::make(span<const double>{spec_.buckets.data(), spec_.buckets.size()});
        if (spec_.type == metric_type::info && !(spec_.name.size() > 5 && string_ref(spec_.name).ends_with("_info")))
            throw invalid_argument_error("vitals: collector family '", spec_.name,
                                         "': an info family's name must end in '_info'");
        if (spec_.type == metric_type::stateset) {
            if (!is_valid_label_name(spec_.name))
                throw invalid_argument_error("vitals: collector stateset '", spec_.name,
                                             "': the name is the state label and must be a valid label name");
            for (string_ref l : store::label_name_span())
                if (l == this->name())
                    throw invalid_argument_error("vitals: collector stateset '", spec_.name, "': '", l,
                                                 "' is its state label and cannot be one of its labels");
            if (spec_.states.empty() || spec_.states.size() > 64)
                throw invalid_argument_error("vitals: collector stateset '", spec_.name, "' needs 1 to 64 states");
            for (const auto& st : spec_.states) state_views_.push_back(st);
            for (string_ref l : store::label_name_span()) state_label_names_.push_back(l);
            state_label_names_.push_back(this->name());
        }
    }

    // The label names a kind keeps for itself.
    static span<const string_ref> reserved_for(const collected_family_spec& spec) noexcept {
        static constexpr string_ref le[] = {"le"}, quantile[] = {"quantile"};
        if (spec.type == metric_type::histogram) return le;
        if (spec.type == metric_type::summary) return quantile;
        return {};  // a stateset's own name is checked by the constructor
    }

public:
    [[nodiscard]] string_ref kind() const noexcept override {
        switch (type()) {
            case metric_type::counter:
                return "collector counter";
            case metric_type::gauge:
                return "collector gauge";
            case metric_type::histogram:
                return "collector histogram";
            case metric_type::summary:
                return "collector summary";
            case metric_type::info:
                return "collector info";
            case metric_type::stateset:
                return "collector stateset";
            case metric_type::unknown:
                break;
        }
        return "collector";
    }

    void collect(sample_visitor& v) override {
        detail::lock_guard lock(mu_);  // renders of several registries or sets may overlap
        seen_.clear();
        kept_.clear();
        per_state_.clear();
        v.begin_family(header(layout_.get()));
        collector_output out(*this, v);
        try {
            collector_->collect(out);
        } catch (...) {
            drop();  // what it emitted before throwing stays; the rest of this render is lost
        }
        v.end_family();
    }

    [[nodiscard]] std::size_t size() const override {
        detail::lock_guard lock(mu_);
        return kept_.size();
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        const auto* o = dynamic_cast<const collected_family*>(&other);
        return o && o->collector_ == collector_ && o->help() == help();
    }

    /// Samples left out of renders so far (see collector.hpp).
    [[nodiscard]] std::uint64_t dropped_samples() const noexcept { return dropped_.load(detail::memory_order_relaxed); }

    void fork_prepare() noexcept override { mu_.lock(); }
    void fork_parent() noexcept override { mu_.unlock(); }
    void fork_child() noexcept override { mu_.reset_after_fork(); }

private:
    friend class vitals::collector_output;

    void drop() noexcept { dropped_.fetch_add(1, detail::memory_order_relaxed); }

    // The series for one sample: values checked against the declaration and against the samples
    // already emitted in this render (a label set twice would be rejected by every consumer).
    // Null when the sample is dropped.
    const series_base* series_for(string_ref name, metric_type type, const label_values& values) {
        if (name != this->name()) return nullptr;  // another family's call: not dropped, not here
        if (type != this->type() || values.view().size() != store::label_count()) {
            drop();
            return nullptr;
        }
        runtime_values key(values.view());
        auto range = seen_.equal_range(key.key().hash);
        for (auto it = range.first; it != range.second; ++it)
            if (kept_[it->second]->matches(key.key())) {
                drop();
                return nullptr;
            }
        kept_.push_back(std::make_unique<series_base>(label_names(), key.key()));
        seen_.emplace(key.key().hash, kept_.size() - 1);
        return kept_.back().get();
    }

    std::shared_ptr<const collector> collector_;
    collected_family_spec spec_;
    shared<const histogram_layout> layout_;
    std::vector<string_ref> state_views_, state_label_names_;
    mutable detail::mutex mu_;
    std::unordered_multimap<std::uint64_t, std::size_t> seen_;  // label hash -> index in kept_
    std::vector<std::unique_ptr<series_base>> kept_;            // this render's series
    std::vector<std::unique_ptr<series_base>> per_state_;
    detail::atomic<std::uint64_t> dropped_{0};
};

}  // namespace detail

inline string_ref collector_output::family() const noexcept { return f_.name(); }

inline void collector_output::counter(string_ref name, const label_values& values, double value) {
    if (name != f_.name()) return;
    if (!(value >= 0) || value == __builtin_inf()) return f_.drop();
    const detail::series_base* s = f_.series_for(name, metric_type::counter, values);
    if (!s) return;
    if (value < 18446744073709551616.0 && value == detail::floor_of(value))
        v_.counter_sample(s->view(), counter_value{0, static_cast<std::uint64_t>(value), 0}, nullptr);
    else
        v_.counter_sample(s->view(), counter_value{0, 0, value}, nullptr);
}

inline void collector_output::gauge(string_ref name, const label_values& values, double value) {
    if (const detail::series_base* s = f_.series_for(name, metric_type::gauge, values))
        v_.gauge_sample(s->view(), value);
}

inline void collector_output::histogram(string_ref name, const label_values& values,
                                        span<const std::uint64_t> cumulative, double sum) {
    if (name != f_.name()) return;
    bool ok = f_.layout_ && cumulative.size() == f_.layout_->bounds().size() + 1;
    for (std::size_t i = 1; ok && i < cumulative.size(); ++i) ok = cumulative[i - 1] <= cumulative[i];
    if (!ok || detail::is_nan(sum)) return f_.drop();
    if (const detail::series_base* s = f_.series_for(name, metric_type::histogram, values))
        v_.histogram_sample(s->view(), cumulative, sum, {});
}

inline void collector_output::summary(string_ref name, const label_values& values, span<const quantile_value> quantiles,
                                      double sum, std::uint64_t count) {
    if (name != f_.name()) return;
    bool ok = !detail::is_nan(sum);
    for (std::size_t i = 0; ok && i < quantiles.size(); ++i)
        ok = quantiles[i].quantile >= 0 && quantiles[i].quantile <= 1 &&
             (i == 0 || quantiles[i - 1].quantile < quantiles[i].quantile);
    if (!ok) return f_.drop();
    if (const detail::series_base* s = f_.series_for(name, metric_type::summary, values))
        v_.summary_sample(s->view(), quantiles, sum, count);
}

inline void collector_output::info(string_ref name, const label_values& values) {
    if (const detail::series_base* s = f_.series_for(name, metric_type::info, values)) v_.info_sample(s->view());
}

inline void collector_output::stateset(string_ref name, const label_values& values, span<const bool> states) {
    if (name != f_.name()) return;
    if (states.size() != f_.state_views_.size()) return f_.drop();
    const detail::series_base* s = f_.series_for(name, metric_type::stateset, values);
    if (!s) return;
    // One series per state: the sample's labels plus <family>="<state>".
    detail::pod_vector<series_view> per_state;
    std::vector<string_ref> with_state(values.view().begin(), values.view().end());
    with_state.push_back({});
    for (const auto& st : f_.state_views_) {
        with_state.back() = st;
        detail::runtime_values key({with_state.data(), with_state.size()});
        f_.per_state_.push_back(std::make_unique<detail::series_base>(
            span<const string_ref>{f_.state_label_names_.data(), f_.state_label_names_.size()}, key.key()));
        per_state.push_back(f_.per_state_.back()->view());
    }
    v_.stateset_sample(s->view(), {f_.state_views_.data(), f_.state_views_.size()}, states,
                       {per_state.data(), per_state.size()});
}

/// What register_collector returns: the collector's families, to watch or to remove.
class collector_registration {
public:
    /// The declared families' names, in order.
    [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }
    /// Samples the collector emitted that broke a rule, left out of renders so far (all its
    /// families together).
    [[nodiscard]] std::uint64_t dropped_samples() const noexcept {
        std::uint64_t n = 0;
        for (const detail::collected_family* f : families_) n += f->dropped_samples();
        return n;
    }
    /// Unregisters every family of the collector (see registry::unregister); the registration
    /// is empty afterwards.
    void remove() {
        for (const auto& n : names_) registry_->unregister(n);
        names_.clear();
        families_.clear();
    }

private:
    friend collector_registration register_collector(registry&, std::shared_ptr<const collector>);
    registry* registry_ = nullptr;
    std::vector<std::string> names_;
    std::vector<const detail::collected_family*> families_;
};

/// Registers `c`'s families in `r` (they render like any other family, in registration order)
/// and returns them. All or nothing: when one declaration is invalid (invalid_argument_error) or
/// clashes with a family already there (registration_error), none stays registered. Register a
/// collector once: a second registration of the same collector finds its families.
inline collector_registration register_collector(registry& r, std::shared_ptr<const collector> c) {
    if (!c) throw invalid_argument_error("vitals: register_collector needs a collector");
    collector_description d;
    c->describe(d);
    collector_registration out;
    out.registry_ = &r;
    try {
        for (const auto& spec : d.families()) {
            auto& f = r.add_family(detail::unique<detail::collected_family>(new detail::collected_family(c, spec)));
            out.names_.push_back(spec.name);
            out.families_.push_back(&f);
        }
    } catch (...) {
        out.remove();
        throw;
    }
    return out;
}

}  // namespace vitals
