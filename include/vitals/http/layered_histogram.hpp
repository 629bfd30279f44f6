// vitals — a histogram family whose series may have different bucket layouts, rendered under one
// name: what per-route latency buckets need.
//
// A core histogram family has one layout for all its series, and a registry holds one family per
// name. The exposition formats allow each series its own buckets (`le` is a label like any other),
// so this family keeps one ordinary histogram family per layout and renders them as one: the
// first layer begins the family, the others continue it (sample_visitor::continue_family, which
// every format implements by switching to the new header's layout). Observations go straight to a
// layer's series, so a route on the default layout costs exactly what a plain histogram does.
#pragma once

#include <memory>
#include <vector>

#include "../core/family.hpp"
#include "../core/histogram.hpp"
#include "../core/registry.hpp"
#include "../detail/fork_hooks.hpp"
#include "../detail/mutex.hpp"

namespace vitals::http {

/// A histogram family of `Labels` whose series are grouped by bucket layout, one ordinary
/// `histogram_family<Labels>` per layout, all rendered as one family. Register it with
/// `registry::add_family`; the layers are never registered themselves.
template <label_set Labels>
class layered_histogram_family final : public family_base {
public:
    /// One layout's series: an ordinary histogram family (with(), labels(), remove()).
    using layer_type = histogram_family<Labels>;

    /// A family `name` with `help` whose first layer has `bounds`. `const_labels` are the
    /// registry's: layers are made outside the registry, so they are given here (a layer made
    /// later gets them before any render can see it).
    layered_histogram_family(string_ref name, string_ref help, span<const double> bounds,
                             span<const label_pair> const_labels)
        : family_base(name, help, metric_type::histogram, {Labels::names, Labels::size}),
          const_labels_(const_labels.data(), const_labels.data() + const_labels.size()) {
        layers_.push_back(make_layer(bounds));
    }

    /// The layer of the first layout: the one this family was made with.
    [[nodiscard]] layer_type& first() noexcept { return *layers_.front(); }

    /// The layer holding series with buckets `bounds`, made on first use (a lock, an allocation;
    /// call it when a route is registered, not per request). Throws invalid_argument_error for
    /// bounds a histogram refuses.
    layer_type& layer(span<const double> bounds) {
        const histogram_layout wanted(bounds);
        ::vitals::detail::lock_guard lock(mu_);
        for (auto& l : layers_)
            if (*l->params().layout == wanted) return *l;
        layers_.reserve(layers_.size() + 1);
        layers_.push_back(make_layer(bounds));
        return *layers_.back();
    }

    /// Number of layouts in use.
    [[nodiscard]] std::size_t layer_count() const {
        ::vitals::detail::lock_guard lock(mu_);
        return layers_.size();
    }

    void collect(sample_visitor& v) override {
        std::vector<layer_type*> list;
        {
            ::vitals::detail::lock_guard lock(mu_);
            list.reserve(layers_.size());
            for (auto& l : layers_) list.push_back(l.get());
        }
        if (list.size() == 1) return list.front()->collect(v);  // the common case: nothing to merge
        continuing_visitor merged(v);
        for (layer_type* l : list) l->collect(merged);
        v.end_family();
    }

    [[nodiscard]] std::size_t size() const override {
        ::vitals::detail::lock_guard lock(mu_);
        std::size_t n = 0;
        for (auto& l : layers_) n += l->size();
        return n;
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        const auto* o = dynamic_cast<const layered_histogram_family*>(&other);
        return o && o->help() == help() && *o->layers_.front()->params().layout == *layers_.front()->params().layout;
    }

    void fork_prepare() noexcept override {
        mu_.lock();
        for (auto& l : layers_) l->fork_prepare();
    }
    void fork_parent() noexcept override {
        for (auto& l : layers_) l->fork_parent();
        mu_.unlock();
    }
    void fork_child() noexcept override {
        for (auto& l : layers_) l->fork_child();
        mu_.reset_after_fork();
    }

private:
    std::unique_ptr<layer_type> make_layer(span<const double> bounds) {
        auto layout = ::vitals::detail::shared<const histogram_layout>::make(bounds);
        auto l = std::make_unique<layer_type>(
            name(), help(),
            typename ::vitals::detail::histogram_series::params{static_cast<decltype(layout)&&>(layout)});
        l->apply_const_labels({const_labels_.data(), const_labels_.size()});
        return l;
    }

    // Turns every layer after the first into a continuation of the family the first began, and
    // holds end_family back until the last layer is done.
    class continuing_visitor final : public forwarding_visitor {
    public:
        explicit continuing_visitor(sample_visitor& to) : forwarding_visitor(to) {}
        void begin_family(const family_header& h) override {
            if (begun_)
                target().continue_family(h);
            else
                target().begin_family(h);
            begun_ = true;
        }
        void end_family() override {}

    private:
        bool begun_ = false;
    };

    std::vector<label_pair> const_labels_;
    mutable ::vitals::detail::mutex mu_;
    std::vector<std::unique_ptr<layer_type>> layers_;  // never shrinks: layers stay where they are
};

}  // namespace vitals::http
