// Fuzzes the exposer's request-head parser (http/detail/request_parser.hpp) with what a client
// controls: every byte of the head. Properties: no crash; a complete head lies inside the input,
// has a token method, a path starting with '/', no more fields than the limit and no control
// bytes in values, every view inside the input, and never both Content-Length and Transfer-Encoding; an error is one of the
// statuses the exposer answers; and a head that arrives in two pieces (the parser told how far it
// searched before) parses exactly as the whole one does.
#include <vitals/http/detail/request_parser.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

namespace d = vitals::http::detail;

bool inside(std::string_view part, std::string_view whole) {
    return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void check(const d::parse_result& r, std::string_view in, const d::request_limits& limits) {
    if (r.status == d::parse_status::error) {
        switch (r.error_status) {
            case 400:
            case 413:
            case 414:
            case 417:
            case 431:
            case 505:
                return;
            default:
                std::abort();
        }
    }
    if (r.status != d::parse_status::complete) return;
    const d::request_head& h = r.head;
    if (h.head_size > in.size() || h.head_size > limits.max_header_bytes) std::abort();
    if (in.substr(h.head_size - 4, 4) != "\r\n\r\n") std::abort();
    if (h.method.empty() || !inside(h.method, in) || !inside(h.target, in) || !inside(h.query, in)) std::abort();
    if (!inside(h.path, in) && h.path != "/") std::abort();  // an absolute target without a path asks for "/"

    for (char c : h.method)
        if (!d::is_tchar(c)) std::abort();
    if (h.path.empty() || h.path.front() != '/') std::abort();
    if (h.headers.size() > limits.max_headers) std::abort();
    for (const auto& f : h.headers) {
        if (!inside(f.name, in) || !inside(f.value, in) || f.name.empty()) std::abort();
        for (char c : f.value)
            if (c == '\r' || c == '\n' || c == '\0') std::abort();
    }
    if (h.chunked && h.content_length) std::abort();
    if (h.version_minor != 0 && h.version_minor != 1 && h.version_minor > 9) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    d::request_limits small;
    small.max_request_line = 64;
    small.max_header_bytes = 256;
    small.max_headers = 4;
    for (const d::request_limits& limits : {d::request_limits{}, small}) {
        const d::parse_result whole = d::parse_request_head(in, limits);
        check(whole, in, limits);
        // In two pieces: the first byte picks the split.
        const std::size_t split = size == 0 ? 0 : data[0] % size;
        const d::parse_result first = d::parse_request_head(in.substr(0, split), limits);
        check(first, in.substr(0, split), limits);
        if (first.status == d::parse_status::incomplete) {
            const d::parse_result resumed = d::parse_request_head(in, limits, split);
            if (resumed.status != whole.status || resumed.error_status != whole.error_status ||
                resumed.head.head_size != whole.head.head_size ||
                resumed.head.headers.size() != whole.head.headers.size())
                std::abort();
        }
    }
    return 0;
}
