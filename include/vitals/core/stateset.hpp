// vitals — stateset: a fixed list of states, each on or off (feature flags, an enum's current
// value). OpenMetrics has a type for it; other formats show one 0/1 gauge series per state, with
// the family's name as the label that names the state.
#pragma once

#include <algorithm>
#include <array>
#include <memory>
#include "../base/span.hpp"
#include <string>
#include "../base/string_ref.hpp"
#include <vector>

#include "../detail/atomic.hpp"
#include "../detail/mutex.hpp"
#include "family.hpp"

namespace vitals {

/// One series of a stateset: a flag per state. Setting a flag is a relaxed store; no lock.
class stateset_series final : public detail::series_base {
public:
    /// Created by stateset_family.
    stateset_series(span<const string_ref> names, const detail::label_key& key,
                    span<const string_ref> state_label_names, span<const std::string> states)
        : series_base(names, key), states_(states), flags_(states.size()) {
        // The per-state views that formats without a stateset type render as separate series.
        std::vector<string_ref> values(key.values.begin(), key.values.end());
        values.push_back({});
        for (const auto& st : states) {
            values.back() = st;
            const detail::label_key k{values, detail::hash_values(values)};
            per_state_.push_back(std::make_unique<detail::series_base>(state_label_names, k));
        }
        for (const auto& p : per_state_) per_state_ptrs_.push_back(p.get());
    }

    /// Sets one state on or off; throws invalid_argument_error for a state the family lacks.
    void set(string_ref state, bool on) { flags_[index(state)].store(on, detail::memory_order_relaxed); }

    /// Turns `state` on and every other state off (a stateset used as an enum).
    void set_only(string_ref state) {
        const std::size_t k = index(state);
        for (std::size_t i = 0; i < flags_.size(); ++i) flags_[i].store(i == k, detail::memory_order_relaxed);
    }

    /// Whether `state` is on.
    [[nodiscard]] bool get(string_ref state) const { return flags_[index(state)].load(detail::memory_order_relaxed); }

    /// Reports the flags to a visitor.
    void emit_locked(sample_visitor& v, span<const string_ref> state_views) const {
        std::vector<char> snapshot(flags_.size());
        for (std::size_t i = 0; i < flags_.size(); ++i) snapshot[i] = flags_[i].load(detail::memory_order_relaxed);
        bool values[64];  // the family caps states at 64
        for (std::size_t i = 0; i < snapshot.size(); ++i) values[i] = snapshot[i] != 0;
        v.stateset_sample(*this, state_views, span<const bool>(values, snapshot.size()), per_state_ptrs_);
    }

private:
    std::size_t index(string_ref state) const {
        for (std::size_t i = 0; i < states_.size(); ++i)
            if (states_[i] == state) return i;
        throw invalid_argument_error("vitals: unknown state '" + std::string(state) + "'");
    }

    span<const std::string> states_;
    std::vector<detail::atomic<bool>> flags_;
    std::vector<std::unique_ptr<detail::series_base>> per_state_;
    std::vector<const detail::series_base*> per_state_ptrs_;
};

/// A stateset family: `registry.stateset<"feature", labels<"env">>("Flags.", {"fast", "safe"})`.
/// Series are created on first use and live as long as the family, so the references that
/// `labels()` returns stay valid.
template <label_set Labels>
class stateset_family final : private detail::label_name_store<Labels>, public family_base {
    using store = detail::label_name_store<Labels>;

public:
    /// Use registry::stateset() rather than constructing one yourself. States must be 1 to 64
    /// distinct, non-empty, valid UTF-8 strings without `\`, `"` or line feeds (they are written
    /// as label values verbatim); otherwise invalid_argument_error.
    stateset_family(string_ref name, string_ref help, span<const string_ref> states)
        requires(!store::dynamic)
        : family_base(name, help, metric_type::stateset, store::label_name_span()),
          states_(states.begin(), states.end()) {
        check_states();
    }
    /// A dynamic_labels family: `names` are checked (invalid_argument_error); the family's name is
    /// its state label, so it cannot be one of them.
    stateset_family(string_ref name, string_ref help, span<const string_ref> states, span<const string_ref> names)
        requires(store::dynamic)
        : store(name, names, span<const string_ref>{&name, 1}),
          family_base(name, help, metric_type::stateset, store::label_name_span()),
          states_(states.begin(), states.end()) {
        if (!is_valid_label_name(name))
            throw invalid_argument_error("vitals: a stateset's name is its state label: '", name,
                                         "' must be a valid label name");
        check_states();
    }

private:
    void check_states() {
        if (states_.empty() || states_.size() > 64)
            throw invalid_argument_error("vitals: a stateset needs 1 to 64 states");
        for (std::size_t i = 0; i < states_.size(); ++i) {
            const auto& s = states_[i];
            if (s.empty() || !detail::is_valid_utf8(s) || s.find_first_of("\\\"\n") != std::string::npos)
                throw invalid_argument_error("vitals: invalid state name '", s, "'");
            for (std::size_t j = 0; j < i; ++j)
                if (states_[j] == s) throw invalid_argument_error("vitals: duplicate state '", s, "'");
        }
        for (const auto& s : states_) state_views_.push_back(s);
        for (string_ref n : store::label_name_span()) state_label_names_.push_back(n);
        state_label_names_.push_back(this->name());
    }

public:
    /// The series with these label values, created (all states off) on first use.
    template <class... V>
    stateset_series& labels(const V&... values) {
        store::template check_values<sizeof...(V)>(name());
        detail::normalized_values<sizeof...(V)> key(values...);
        detail::lock_guard lock(mu_);
        for (const auto& s : series_)
            if (s->matches(key.key())) return *s;
        series_.push_back(
            std::make_unique<stateset_series>(store::label_name_span(), key.key(), state_label_names_, states_));
        return *series_.back();
    }

    /// The states, in declaration order.
    [[nodiscard]] span<const std::string> states() const noexcept { return states_; }

    [[nodiscard]] std::size_t size() const override {
        detail::lock_guard lock(mu_);
        return series_.size();
    }

    void collect(sample_visitor& v) override {
        detail::lock_guard lock(mu_);
        v.begin_family(header());
        for (const auto& s : series_) s->emit_locked(v, state_views_);
        v.end_family();
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        const auto* o = dynamic_cast<const stateset_family*>(&other);
        return o && o->help() == help() && o->states_ == states_ && detail::same_names(label_names(), o->label_names());
    }

    [[nodiscard]] text_buffer definition_difference(const family_base& other) const override {
        text_buffer d = common_difference(other);
        if (!d.empty()) return d;
        const auto* o = dynamic_cast<const stateset_family*>(&other);
        if (!o) return detail::definition_field("definition", kind(), other.kind());
        if (o->states_ != states_)
            return detail::definition_field("states",
                                            detail::name_list({state_views_.data(), state_views_.size()}).view(),
                                            detail::name_list({o->state_views_.data(), o->state_views_.size()}).view());
        return {};
    }

    void fork_prepare() noexcept override { mu_.lock(); }
    void fork_parent() noexcept override { mu_.unlock(); }
    void fork_child() noexcept override { mu_.reset_after_fork(); }

private:
    std::vector<std::string> states_;
    std::vector<string_ref> state_views_;
    std::vector<string_ref> state_label_names_;  // the family's labels, then its own name
    mutable detail::mutex mu_;
    std::vector<std::unique_ptr<stateset_series>> series_;
};

}  // namespace vitals
