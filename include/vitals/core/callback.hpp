// vitals — callback metrics: values computed when a registry is rendered (uptime, queue depth read
// from elsewhere, a process's resident memory).
#pragma once

#include <type_traits>

#include "../detail/math.hpp"
#include "../detail/mutex.hpp"
#include "../detail/owning.hpp"
#include "../detail/pod_vector.hpp"
#include "family.hpp"

namespace vitals {
namespace detail {

/// A type-erased `double()` callable (std::function would cost <functional> in every TU).
class value_source {
public:
    template <class F>
    explicit value_source(F f) : p_(new impl<F>(static_cast<F&&>(f))) {}
    double operator()() const { return p_->call(); }

private:
    struct base {
        virtual ~base() = default;
        virtual double call() = 0;
    };
    template <class F>
    struct impl final : base {
        explicit impl(F fn) : f(static_cast<F&&>(fn)) {}
        double call() override { return static_cast<double>(f()); }
        F f;
    };
    unique<base> p_;
};

class callback_series final : public series_base {
public:
    callback_series(span<const string_ref> names, const label_key& key, value_source fn)
        : series_base(names, key), fn(static_cast<value_source&&>(fn)) {}
    value_source fn;
};
}  // namespace detail

/// A family whose series each carry a function called at render time. `Type` is
/// metric_type::gauge or metric_type::counter. The functions run during the render with the
/// family's lock held: they must be quick and must not create series in this family. An
/// exception from one is not propagated: a gauge's series renders NaN for this scrape; a
/// counter's series is left out of it, as it is when its callback returns a negative or NaN
/// value (no consumer accepts such a counter; see dropped_samples()).
template <metric_type Type, label_set Labels>
class callback_family final : private detail::label_name_store<Labels>, public family_base {
    static_assert(Type == metric_type::gauge || Type == metric_type::counter,
                  "vitals: a callback metric is a gauge or a counter");
    using store = detail::label_name_store<Labels>;

public:
    callback_family(string_ref name, string_ref help)
        requires(!store::dynamic)
        : family_base(name, help, Type, store::label_name_span()) {}
    /// A dynamic_labels family: `names` are checked (invalid_argument_error).
    callback_family(string_ref name, string_ref help, span<const string_ref> names)
        requires(store::dynamic)
        : store(name, names), family_base(name, help, Type, store::label_name_span()) {}
    ~callback_family() override {
        for (detail::callback_series* s : series_) delete s;
    }

    /// Sets the function of the series with these label values (creating it, or replacing the
    /// function of an existing one).
    /// `fn` is any callable returning a number (a lambda, a function pointer, a std::function).
    template <class F, class... V>
        requires std::is_invocable_v<F&> && std::is_convertible_v<std::invoke_result_t<F&>, double>
    void set(F fn, const V&... values) {
        store::template check_values<sizeof...(V)>(name());
        // An empty std::function or a null function pointer would fail at every render.
        if constexpr (std::is_pointer_v<F> || requires { fn.target_type(); })
            if (!static_cast<bool>(fn))
                throw invalid_argument_error("vitals: callback metric '", name(), "' needs a function");
        detail::normalized_values<sizeof...(V)> key(values...);
        detail::lock_guard lock(mu_);
        for (auto& s : series_)
            if (s->matches(key.key())) {
                s->fn = detail::value_source(static_cast<F&&>(fn));
                return;
            }
        series_.reserve(series_.size() + 1);  // so that the push_back below cannot throw
        series_.push_back(new detail::callback_series(store::label_name_span(), key.key(),
                                                      detail::value_source(static_cast<F&&>(fn))));
    }

    /// Removes the series with these label values; false if there was none.
    template <class... V>
    bool remove(const V&... values) {
        store::template check_values<sizeof...(V)>(name());
        detail::normalized_values<sizeof...(V)> key(values...);
        detail::lock_guard lock(mu_);
        for (std::size_t i = 0; i < series_.size(); ++i) {
            if (!series_[i]->matches(key.key())) continue;
            delete series_[i];
            // Keep the render order: shift the rest down.
            for (std::size_t j = i + 1; j < series_.size(); ++j) series_[j - 1] = series_[j];
            series_.pop_back();
            return true;
        }
        return false;
    }

    /// Removes every series (their functions are destroyed; a render in progress finishes first).
    void clear() {
        detail::lock_guard lock(mu_);
        for (detail::callback_series* s : series_) delete s;
        series_.clear();
    }

    [[nodiscard]] std::size_t size() const override {
        detail::lock_guard lock(mu_);
        return series_.size();
    }

    void collect(sample_visitor& v) override {
        detail::lock_guard lock(mu_);
        v.begin_family(header());
        for (const auto& s : series_) {
            double x;
            try {
                x = s->fn();
            } catch (...) {
                x = detail::quiet_nan;
            }
            if constexpr (Type == metric_type::gauge) {
                v.gauge_sample(s->view(), x);
            } else if (!(x >= 0)) {
                // Not a counter value (negative, or NaN from a failed callback): this
                // scrape goes without the sample rather than giving consumers one they reject.
                dropped_.fetch_add(1, detail::memory_order_relaxed);
            } else if (x < 18446744073709551616.0 && x == detail::floor_of(x)) {
                v.counter_sample(s->view(), counter_value{0, static_cast<std::uint64_t>(x), 0}, nullptr);
            } else {
                v.counter_sample(s->view(), counter_value{0, 0, x}, nullptr);
            }
        }
        v.end_family();
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        return dynamic_cast<const callback_family*>(&other) && other.help() == help() &&
               detail::same_names(label_names(), other.label_names());
    }

    [[nodiscard]] string_ref kind() const noexcept override {
        return Type == metric_type::counter ? string_ref("callback counter") : string_ref("callback gauge");
    }

    /// How many samples of a callback counter were left out of renders because the callback
    /// returned a negative or NaN value or threw.
    [[nodiscard]] std::uint64_t dropped_samples() const noexcept { return dropped_.load(detail::memory_order_relaxed); }

    void fork_prepare() noexcept override { mu_.lock(); }
    void fork_parent() noexcept override { mu_.unlock(); }
    void fork_child() noexcept override { mu_.reset_after_fork(); }

private:
    detail::atomic<std::uint64_t> dropped_{0};
    mutable detail::mutex mu_;
    detail::pod_vector<detail::callback_series*> series_;  // owned
};

}  // namespace vitals
