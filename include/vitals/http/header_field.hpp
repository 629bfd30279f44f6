// vitals — one HTTP header field as the exposer hands it to handlers (exposer::request::headers)
// and as its request parser produces it.
#pragma once

#include "../base/string_ref.hpp"

namespace vitals::http {

/// One header field; both views point into the request's buffer, valid during the handler call.
struct header_field {
    string_ref name;   ///< As sent (compare case-insensitively).
    string_ref value;  ///< Without surrounding whitespace.
};

}  // namespace vitals::http
