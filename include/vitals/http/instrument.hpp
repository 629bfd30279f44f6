// vitals — instrument(): wraps any handler callable so that every call is timed and counted.
//
// The wrapper learns the status from what the handler gives back, in this order:
// - a status reader passed to instrument(), called with the handler's result, or (when the
//   handler returns void or the reader does not take the result) with the handler's arguments;
// - a result that is an integer (the status), or an object with an integral `status` member
//   (cpp-httplib style) or a `result_int()` member (Boost.Beast style);
// - for a handler returning void, the first non-const argument with an integral `status` member
//   (the response object a framework passed in);
// - otherwise 200.
#pragma once

#include <concepts>
#include <functional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "request_timer.hpp"

namespace vitals::http {

namespace detail {

template <class T>
concept status_integer = std::integral<std::remove_cvref_t<T>> && !std::same_as<std::remove_cvref_t<T>, bool>;

template <class T>
concept has_status_member = requires(const T& t) { requires status_integer<decltype(t.status)>; };

template <class T>
concept has_result_int = requires(const T& t) {
    { t.result_int() } -> std::convertible_to<unsigned>;
};

// The status a value carries, if it carries one; false when it does not.
template <class T>
bool read_status(const T& v, int& out) {
    if constexpr (status_integer<T>) {
        out = static_cast<int>(v);
        return true;
    } else if constexpr (has_status_member<T>) {
        out = static_cast<int>(v.status);
        return true;
    } else if constexpr (has_result_int<T>) {
        out = static_cast<int>(v.result_int());
        return true;
    } else {
        return false;
    }
}

// A response object a framework passes in for the handler to fill: a non-const lvalue argument.
template <class A>
bool read_status_from_argument(A&& a, int& out) {
    if constexpr (std::is_lvalue_reference_v<A> && !std::is_const_v<std::remove_reference_t<A>> &&
                  has_status_member<std::remove_cvref_t<A>>) {
        out = static_cast<int>(a.status);
        return true;
    } else {
        return false;
    }
}

// Frameworks use a negative or zero status for "not set yet", then send 200.
inline int normalise_unset(int s) noexcept { return s <= 0 ? 200 : s; }

}  // namespace detail

/// The default StatusReader of instrumented_handler: none, the result or arguments tell the status.
struct no_status_reader {};

/// A handler wrapped by instrument(): same call signature, same result, same exceptions.
template <class Handler, class StatusReader = no_status_reader>
class instrumented_handler {
public:
    /// Wraps `h` for `route`; `read` learns the status (see the file comment).
    instrumented_handler(route_metrics& route, Handler h, StatusReader read = {})
        : route_(&route), handler_(std::move(h)), read_(std::move(read)) {}

    /// Calls the handler inside a request_timer.
    template <class... A>
    decltype(auto) operator()(A&&... args) {
        return call(handler_, read_, *route_, std::forward<A>(args)...);
    }
    /// Calls the handler inside a request_timer.
    template <class... A>
    decltype(auto) operator()(A&&... args) const {
        return call(handler_, read_, *route_, std::forward<A>(args)...);
    }

    /// The route this handler records to.
    [[nodiscard]] route_metrics& route() const noexcept { return *route_; }

private:
    template <class H, class R, class... A>
    static decltype(auto) call(H& handler, R& read, route_metrics& route, A&&... args) {
        constexpr bool reader = !std::is_same_v<StatusReader, no_status_reader>;
        request_timer timer(route);
        // A reader of arguments needs them after the call: they are then passed as lvalues.
        using result = std::conditional_t<reader, std::invoke_result_t<H&, A&...>, std::invoke_result_t<H&, A...>>;
        if constexpr (std::is_void_v<result>) {
            if constexpr (reader) {
                std::invoke(handler, args...);
                timer.set_status(detail::normalise_unset(static_cast<int>(std::invoke(read, args...))));
            } else {
                std::invoke(handler, std::forward<A>(args)...);
                int s = 200;
                (void)(detail::read_status_from_argument(std::forward<A>(args), s) || ...);
                timer.set_status(detail::normalise_unset(s));
            }
        } else {
            auto&& r = [&]() -> decltype(auto) {
                if constexpr (reader)
                    return std::invoke(handler, args...);
                else
                    return std::invoke(handler, std::forward<A>(args)...);
            }();
            int s = 200;
            if constexpr (reader) {
                if constexpr (std::is_invocable_v<R&, const std::remove_reference_t<result>&>)
                    s = static_cast<int>(std::invoke(read, std::as_const(r)));
                else
                    s = static_cast<int>(std::invoke(read, args...));
            } else {
                detail::read_status(r, s);
            }
            timer.set_status(detail::normalise_unset(s));
            return static_cast<result>(std::forward<decltype(r)>(r));
        }
    }

    route_metrics* route_;
    Handler handler_;
    StatusReader read_;
};

/// Wraps `handler` so that each call is recorded on `route` (see the file comment for how the
/// status is learnt).
template <class Handler>
auto instrument(route_metrics& route, Handler&& handler) {
    return instrumented_handler<std::decay_t<Handler>>(route, std::forward<Handler>(handler));
}

/// Wraps `handler` for `route`; `status_of` reads the status from the handler's result or, failing
/// that, from its arguments (e.g. `[](const Req&, Res& res) { return res.code; }`).
template <class Handler, class StatusReader>
auto instrument(route_metrics& route, Handler&& handler, StatusReader&& status_of) {
    return instrumented_handler<std::decay_t<Handler>, std::decay_t<StatusReader>>(
        route, std::forward<Handler>(handler), std::forward<StatusReader>(status_of));
}

/// Wraps `handler` for `method` on `route_template`: the route is looked up once, here.
template <class Handler>
auto instrument(instrumentation& inst, string_ref method, string_ref route_template, Handler&& handler) {
    return instrument(inst.route(method, route_template), std::forward<Handler>(handler));
}

/// As above, with a status reader.
template <class Handler, class StatusReader>
auto instrument(instrumentation& inst, string_ref method, string_ref route_template, Handler&& handler,
                StatusReader&& status_of) {
    return instrument(inst.route(method, route_template), std::forward<Handler>(handler),
                      std::forward<StatusReader>(status_of));
}

}  // namespace vitals::http
