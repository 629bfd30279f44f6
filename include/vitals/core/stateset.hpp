// vitals — stateset: a fixed list of states, each on or off (feature flags, an enum's current
// value). OpenMetrics has a type for it; other formats show one 0/1 gauge series per state, with
// the family's name as the label that names the state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../detail/atomic.hpp"
#include "../detail/owning.hpp"
#include "family.hpp"
#include "handle.hpp"

namespace vitals {

namespace detail {

/// A stateset family's states and the label that names them (the family's name), shared by
/// the family and every series, which may outlive it.
class state_list {
public:
    /// Checks the states: 1 to 64 distinct, non-empty, valid UTF-8 strings without `\`, `"` or line
    /// feeds (they are written as label values verbatim), and the name: a valid label name, since
    /// it is the state label. invalid_argument_error otherwise.
    state_list(string_ref family_name, span<const string_ref> states)
        : label_(family_name), states_(states.begin(), states.end()) {
        if (!is_valid_label_name(family_name))
            throw invalid_argument_error("vitals: a stateset's name is its state label: '", family_name,
                                         "' must be a valid label name");
        if (states_.empty() || states_.size() > 64)
            throw invalid_argument_error("vitals: a stateset needs 1 to 64 states");
        for (std::size_t i = 0; i < states_.size(); ++i) {
            const auto& s = states_[i];
            if (s.empty() || !is_valid_utf8(s) || s.find_first_of("\\\"\n") != std::string::npos)
                throw invalid_argument_error("vitals: invalid state name '", s, "'");
            for (std::size_t j = 0; j < i; ++j)
                if (states_[j] == s) throw invalid_argument_error("vitals: duplicate state '", s, "'");
        }
        for (const auto& s : states_) views_.push_back(s);
    }

    [[nodiscard]] span<const std::string> names() const noexcept { return states_; }
    [[nodiscard]] span<const string_ref> views() const noexcept { return {views_.data(), views_.size()}; }
    [[nodiscard]] string_ref label() const noexcept { return label_; }
    [[nodiscard]] std::size_t size() const noexcept { return states_.size(); }

    /// The index of `state`; invalid_argument_error for a state the family lacks.
    [[nodiscard]] std::size_t index(string_ref state) const {
        for (std::size_t i = 0; i < states_.size(); ++i)
            if (states_[i] == state) return i;
        throw invalid_argument_error("vitals: unknown state '", state, "'");
    }

    bool operator==(const state_list& o) const { return states_ == o.states_; }

private:
    std::string label_;
    std::vector<std::string> states_;
    std::vector<string_ref> views_;
};

/// One series of a stateset: a flag per state. Setting a flag is a relaxed store; no lock.
class stateset_series final : public series_base {
public:
    struct params {
        shared<const state_list> states;
        bool operator==(const params& o) const { return *states == *o.states; }
        [[nodiscard]] text_buffer difference(const params& o) const {
            return definition_field("states", name_list(states->views()).view(), name_list(o.states->views()).view());
        }
    };
    static constexpr metric_type type = metric_type::stateset;

    /// The parameters of a stateset named `family_name` (checked, see state_list).
    static params make_params(string_ref family_name, span<const string_ref> states) {
        return {shared<const state_list>::make(family_name, states)};
    }

    stateset_series(const params& p, span<const string_ref> names, const label_key& key)
        : series_base(names, key), states_(p.states), flags_(states_->size()) {
        // The per-state series that formats without a stateset type render on their own: the
        // series' labels, then the state label.
        std::vector<string_ref> state_names(names.begin(), names.end());
        state_names.push_back(states_->label());
        std::vector<string_ref> values(key.values.begin(), key.values.end());
        values.push_back({});
        for (const string_ref st : states_->views()) {
            values.back() = st;
            const label_key k{values, hash_values(values)};
            per_state_.push_back(std::make_unique<series_base>(state_names, k));
        }
        for (const auto& s : per_state_) per_state_views_.push_back(s->view());
    }

    void set(string_ref state, bool on) { flags_[states_->index(state)].store(on, memory_order_relaxed); }
    void set_only(string_ref state) {
        const std::size_t k = states_->index(state);
        for (std::size_t i = 0; i < flags_.size(); ++i) flags_[i].store(i == k, memory_order_relaxed);
    }
    [[nodiscard]] bool get(string_ref state) const { return flags_[states_->index(state)].load(memory_order_relaxed); }

    void emit_locked(sample_visitor& v) {
        bool values[64];  // a stateset has at most 64 states
        for (std::size_t i = 0; i < flags_.size(); ++i) values[i] = flags_[i].load(memory_order_relaxed);
        v.stateset_sample(view(), states_->views(), span<const bool>(values, flags_.size()),
                          {per_state_views_.data(), per_state_views_.size()});
    }

private:
    shared<const state_list> states_;
    std::vector<atomic<bool>> flags_;
    std::vector<std::unique_ptr<series_base>> per_state_;
    std::vector<series_view> per_state_views_;
};

}  // namespace detail

/// What a stateset series can do, through a handle or `family.labels(...)`.
template <class Derived>
class stateset_operations {
protected:
    using series_type = detail::stateset_series;  // the series basic_handle owns

public:
    /// Sets one state on or off; invalid_argument_error for a state the family lacks.
    void set(string_ref state, bool on) const { series().set(state, on); }
    /// Turns `state` on and every other state off (a stateset used as an enum).
    void set_only(string_ref state) const { series().set_only(state); }
    /// Whether `state` is on.
    [[nodiscard]] bool get(string_ref state) const { return series().get(state); }

private:
    detail::stateset_series& series() const { return static_cast<const Derived*>(this)->series_ref(); }
};

/// A handle to one stateset series (see basic_handle).
using stateset = basic_handle<stateset_operations>;

namespace detail {
template <>
struct series_traits<stateset_series> {
    using handle = stateset;
    template <class D>
    using operations = stateset_operations<D>;
};
}  // namespace detail

/// A stateset family: `registry.stateset<"feature", labels<"env">>("Flags.", {"fast", "safe"})`.
/// The family of every kind (see metric_family), with states(); series start with every state
/// off.
template <label_set Labels>
using stateset_family = metric_family<stateset_series, Labels>;

#if VITALS_EXTERN_TEMPLATES
extern template class detail::family_impl<detail::stateset_series>;  // in libvitals (base/config.hpp)
#endif

}  // namespace vitals
