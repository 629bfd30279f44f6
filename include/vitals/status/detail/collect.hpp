// vitals — what the status page reads from a registry in one render: a visitor that keeps the
// families it knows by name (latency histograms, failures, uptime, starts, build info) and skips
// the rest, so the page costs one ordinary render and nothing on any update path.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../../core/histogram.hpp"
#include "../../core/sample_visitor.hpp"
#include "../reading.hpp"

namespace vitals::status::detail {

class collector final : public sample_visitor {
public:
    collector(const metric_names& names, std::size_t max_routes, reading& out)
        : n_(names), max_routes_(max_routes), out_(out) {}

    void begin_family(const family_header& h) override {
        kind_ = kind::other;
        const std::string_view name(h.name.data(), h.name.size());
        if (name == n_.duration && h.type == metric_type::histogram)
            kind_ = kind::duration;
        else if (name == n_.failures && h.type == metric_type::counter)
            kind_ = kind::failures;
        else if (name == n_.uptime && h.type == metric_type::gauge)
            kind_ = kind::uptime;
        else if (name == n_.starts && h.type == metric_type::counter)
            kind_ = kind::starts;
        else if (name == n_.process_start && h.type == metric_type::gauge)
            kind_ = kind::process_start;
        else if (name.size() > n_.build_suffix.size() && name.ends_with(n_.build_suffix) &&
                 h.type == metric_type::gauge)
            kind_ = kind::build;
        continue_family(h);
        family_ = std::string(name);
    }
    void continue_family(const family_header& h) override {
        names_.assign(h.label_names.begin(), h.label_names.end());
        method_ = index_of(n_.method_label);
        route_ = index_of(n_.route_label);
        error_ = index_of(n_.error_label);
        service_ = index_of(n_.service_label);
        bounds_.clear();
        if (h.layout) bounds_.assign(h.layout->bounds().begin(), h.layout->bounds().end());
        for (const auto& c : h.const_labels) {
            const std::string_view k(c.name.data(), c.name.size());
            if (k == n_.service_label && out_.service.empty()) out_.service.assign(c.value.data(), c.value.size());
            if (k == n_.environment_label && out_.environment.empty())
                out_.environment.assign(c.value.data(), c.value.size());
        }
    }
    void end_family() override { kind_ = kind::other; }

    void counter_sample(series_view s, const counter_value& v, const exemplar*) override {
        if (kind_ == kind::failures) {
            if (method_ < 0 || route_ < 0 || error_ < 0) return;
            const auto l = values(s);
            route_sample* r = find_route(l[static_cast<std::size_t>(method_)], l[static_cast<std::size_t>(route_)]);
            if (!r) return;
            const std::string& type = l[static_cast<std::size_t>(error_)];
            for (auto& f : r->failures)
                if (f.first == type) return void(f.second += v.as_double());
            r->failures.emplace_back(type, v.as_double());
        } else if (kind_ == kind::starts && service_ >= 0) {
            service_of(values(s)[static_cast<std::size_t>(service_)]).starts += v.as_double();
        }
    }
    void gauge_sample(series_view s, double v) override {
        if (kind_ == kind::uptime && service_ >= 0) {
            service_of(values(s)[static_cast<std::size_t>(service_)]).uptime = v;
        } else if (kind_ == kind::process_start) {
            out_.process_start = v;
        } else if (kind_ == kind::build) {
            build_sample b{family_, {}};
            const auto l = values(s);
            for (std::size_t i = 0; i < l.size() && i < names_.size(); ++i)
                b.labels.emplace_back(std::string(names_[i].data(), names_[i].size()), l[i]);
            out_.build.push_back(std::move(b));
        }
    }
    void histogram_sample(series_view s, span<const std::uint64_t> cumulative, double,
                          span<const exemplar* const>) override {
        if (kind_ != kind::duration || method_ < 0 || route_ < 0) return;
        if (cumulative.size() != bounds_.size() + 1) return;
        const auto l = values(s);
        route_sample* r = find_route(l[static_cast<std::size_t>(method_)], l[static_cast<std::size_t>(route_)]);
        if (!r) return;
        if (r->cumulative.empty()) {
            r->bounds = bounds_;
            r->cumulative.assign(cumulative.begin(), cumulative.end());
        } else if (r->bounds == bounds_) {
            // The same route from another registry of a registry_set: one route, summed.
            for (std::size_t i = 0; i < cumulative.size(); ++i) r->cumulative[i] += cumulative[i];
        }
    }
    void summary_sample(series_view, span<const quantile_value>, double, std::uint64_t) override {}
    void native_histogram_sample(series_view, const native_histogram_data&, span<const exemplar* const>) override {}
    void info_sample(series_view) override {}
    void stateset_sample(series_view, span<const string_ref>, span<const bool>, span<const series_view>) override {}

private:
    enum class kind { other, duration, failures, uptime, starts, process_start, build };

    int index_of(const std::string& label) const {
        for (std::size_t i = 0; i < names_.size(); ++i)
            if (std::string_view(names_[i].data(), names_[i].size()) == label) return static_cast<int>(i);
        return -1;
    }
    std::vector<std::string>& values(series_view s) {
        values_.clear();
        s.for_each_label_value([this](string_ref v) { values_.emplace_back(v.data(), v.size()); });
        values_.resize(names_.size());
        return values_;
    }
    // Failures may come before the histogram (registration order decides): either makes the route.
    route_sample* find_route(const std::string& method, const std::string& endpoint) {
        key_.assign(method);
        key_ += '\0';  // label values may hold any byte; the pair is still unambiguous by length
        key_ += std::to_string(method.size());
        key_ += '\0';
        key_ += endpoint;
        if (const auto it = index_.find(key_); it != index_.end()) return &out_.routes[it->second];
        if (out_.routes.size() >= max_routes_) {
            ++out_.routes_dropped;
            return nullptr;
        }
        index_.emplace(key_, out_.routes.size());
        out_.routes.push_back(route_sample{method, endpoint, {}, {}, {}});
        return &out_.routes.back();
    }
    service_sample& service_of(const std::string& name) {
        for (auto& s : out_.services)
            if (s.name == name) return s;
        out_.services.push_back(service_sample{name});
        return out_.services.back();
    }

    const metric_names& n_;
    std::size_t max_routes_;
    reading& out_;
    kind kind_ = kind::other;
    std::string family_;
    std::vector<string_ref> names_;
    int method_ = -1, route_ = -1, error_ = -1, service_ = -1;
    std::vector<double> bounds_;
    std::vector<std::string> values_;
    std::string key_;
    std::unordered_map<std::string, std::size_t> index_;  // route key -> out_.routes index
};

}  // namespace vitals::status::detail
