// vitals — one HTTP header field as the exposer hands it to handlers (exposer::request::headers)
// and as its request parser produces it.
#pragma once

#include <string_view>

namespace vitals::http {

/// One header field; both views point into the request's buffer, valid during the handler call.
struct header_field {
    std::string_view name;   ///< As sent (compare case-insensitively).
    std::string_view value;  ///< Without surrounding whitespace.
};

}  // namespace vitals::http
