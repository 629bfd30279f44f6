// vitals — route templates (`/v1/events/{id}`): the `endpoint` label of the HTTP metrics.
//
// The label is always the template, never the raw path, so that a path holding an id or a random
// string cannot create a new series. Frameworks that lack a router of their own (Beast) or whose
// patterns are not templates (regular expressions in cpp-httplib, globs in civetweb) get the
// template translated at registration, and the template itself is kept for the label.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "../core/names.hpp"

namespace vitals::http {

/// The parameters of a route template matched against a path: `{id}` in `/v1/events/{id}` against
/// `/v1/events/42` gives `params["id"] == "42"`. Values are views of the path, as it was sent
/// (still percent-encoded); they live as long as the path does.
class route_params {
public:
    /// At most this many parameters per template (route_template refuses more).
    static constexpr std::size_t max_size = 16;

    /// The value of parameter `name`; empty when the template has none of that name.
    [[nodiscard]] string_ref operator[](string_ref name) const noexcept {
        for (std::size_t i = 0; i < size_; ++i)
            if (names_[i] == name) return values_[i];
        return {};
    }
    /// Number of parameters.
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    /// The name of the `i`-th parameter, in template order.
    [[nodiscard]] string_ref name(std::size_t i) const noexcept { return names_[i]; }
    /// The value of the `i`-th parameter, in template order.
    [[nodiscard]] string_ref value(std::size_t i) const noexcept { return values_[i]; }

private:
    friend class route_template;
    std::string_view names_[max_size];
    std::string_view values_[max_size];
    std::size_t size_ = 0;
};

/// A parsed route template: literal segments and `{name}` parameters, each a whole segment.
/// Matching allocates nothing, so a router can test every request against it.
class route_template {
public:
    /// Parses `text`; throws invalid_argument_error unless it starts with '/' and every brace
    /// pair is a whole segment with a non-empty name.
    explicit route_template(string_ref text) : text_(text) {
        if (text_.empty() || text_[0] != '/')
            throw invalid_argument_error("vitals: route template '" + text_ + "' must start with '/'");
        std::size_t pos = 1;
        while (pos <= text_.size()) {
            std::size_t end = text_.find('/', pos);
            if (end == std::string::npos) end = text_.size();
            const std::string_view seg = std::string_view(text_).substr(pos, end - pos);
            const bool param = seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
            const std::string_view inner = param ? seg.substr(1, seg.size() - 2) : seg;
            if ((param && inner.empty()) || inner.find_first_of("{}") != std::string_view::npos)
                throw invalid_argument_error("vitals: route template '" + text_ +
                                             "': a parameter must be a whole segment such as {id}");
            segments_.push_back({pos, end - pos, param});
            if (param && ++params_ > route_params::max_size)
                throw invalid_argument_error("vitals: route template '" + text_ + "' has more than 16 parameters");
            pos = end + 1;
        }
    }

    /// The template as written: the value of the `endpoint` label.
    [[nodiscard]] const std::string& text() const noexcept { return text_; }

    /// True when `path` (without query string) has the template's shape: literal segments equal,
    /// each parameter a non-empty segment without '/'.
    /// Paths match exactly, segment by segment, so a trailing slash matters: `/v1/events/` does
    /// not match `/v1/events` (its last segment is empty), only a template ending in '/' does.
    [[nodiscard]] bool matches(string_ref path) const noexcept {
        route_params ignored;
        return match(path, ignored);
    }

    /// As matches(), and fills `out` with the parameters' values (views of `path`).
    [[nodiscard]] bool match(string_ref path, route_params& out) const noexcept {
        out.size_ = 0;
        if (path.empty() || path[0] != '/') return false;
        std::size_t pos = 1;
        for (std::size_t i = 0; i < segments_.size(); ++i) {
            if (pos > path.size()) return false;
            std::size_t end = path.find('/', pos);
            if (end == string_ref::npos) end = path.size();
            const std::string_view seg = path.substr(pos, end - pos);
            const auto& s = segments_[i];
            if (s.param ? seg.empty() : seg != std::string_view(text_).substr(s.offset, s.length)) return false;
            if (s.param) {
                out.names_[out.size_] = std::string_view(text_).substr(s.offset + 1, s.length - 2);
                out.values_[out.size_++] = seg;
            }
            pos = end + 1;
        }
        return pos == path.size() + 1;
    }

    /// An ECMAScript regular expression matching the same paths (cpp-httplib routes by regex).
    [[nodiscard]] std::string to_regex() const {
        std::string out;
        for (const auto& s : segments_) {
            out += '/';
            if (s.param) {
                out += "([^/]+)";
                continue;
            }
            for (char c : std::string_view(text_).substr(s.offset, s.length)) {
                if (std::string_view(R"(\^$.|?*+()[]{})").find(c) != std::string_view::npos) out += '\\';
                out += c;
            }
        }
        return out;
    }

    /// A civetweb handler pattern: `*` for each parameter (one segment), `$` to anchor the end.
    /// civetweb has no escape for its pattern characters, so a literal holding one of `*?|$`
    /// is rejected (invalid_argument_error).
    [[nodiscard]] std::string to_glob() const {
        std::string out;
        for (const auto& s : segments_) {
            out += '/';
            if (s.param) {
                out += '*';
                continue;
            }
            const auto lit = std::string_view(text_).substr(s.offset, s.length);
            if (lit.find_first_of("*?|$") != std::string_view::npos)
                throw invalid_argument_error("vitals: route template '" + text_ +
                                             "' holds a civetweb pattern character");
            out += lit;
        }
        out += '$';
        return out;
    }

private:
    struct segment {
        std::size_t offset, length;
        bool param;
    };
    std::string text_;
    std::vector<segment> segments_;
    std::size_t params_ = 0;
};

/// The path part of a request target: everything before '?' or '#'.
[[nodiscard]] constexpr string_ref path_of(string_ref target) noexcept {
    const std::string_view t = target;
    return t.substr(0, t.find_first_of("?#"));
}

}  // namespace vitals::http
