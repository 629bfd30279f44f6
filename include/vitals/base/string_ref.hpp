// vitals — string_ref: the read-only text view of vitals' public API.
//
// Why not std::string_view: measured (docs/performance.md, "The API's vocabulary"), making this an
// alias of std::string_view cost a realistic user file +0.15 s of its 3.3 s at -O2, although that
// file includes <string> anyway: the library's many inline uses instantiate basic_string_view's
// members and char_traits, where these are plain functions. string_ref takes anything shaped like a string (std::string,
// std::string_view, a literal) and converts back to either, so callers keep their own types.
#pragma once

#include <cstddef>
#include <type_traits>

namespace vitals {

class string_ref;

/// A contiguous run of chars with data() and size(), other than string_ref itself:
/// std::string, std::string_view and the like.
template <class S>
concept string_like = !std::is_same_v<S, string_ref> && requires(const S& s) {
    static_cast<const char*>(s.data());
    static_cast<std::size_t>(s.size());
};

/// A view of characters owned elsewhere; constexpr throughout, so names checked at compile time
/// use it too. Converts implicitly from literals, `const char*` and string-like types, and to any
/// type constructible from a pointer and a length (std::string_view, std::string).
class string_ref {
public:
    /// "No position", as returned by find().
    static constexpr std::size_t npos = static_cast<std::size_t>(-1);

    constexpr string_ref() noexcept = default;
    /// A NUL-terminated string (not null).
    constexpr string_ref(const char* s) noexcept : data_(s), size_(__builtin_strlen(s)) {}
    constexpr string_ref(const char* s, std::size_t n) noexcept : data_(s), size_(n) {}
    /// Any string-like type: std::string, std::string_view, ...
    template <string_like S>
    constexpr string_ref(const S& s) noexcept : data_(s.data()), size_(s.size()) {}

    /// To std::string_view, std::string or any type constructible from (const char*, size_t).
    template <class S>
        requires(!std::is_same_v<S, string_ref> && requires(const char* p, std::size_t n) { S(p, n); })
    constexpr operator S() const {
        return S(data_, size_);
    }

    [[nodiscard]] constexpr const char* data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
    [[nodiscard]] constexpr std::size_t length() const noexcept { return size_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] constexpr const char* begin() const noexcept { return data_; }
    [[nodiscard]] constexpr const char* end() const noexcept { return data_ + size_; }
    /// The i-th character; i < size().
    [[nodiscard]] constexpr char operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] constexpr char front() const noexcept { return data_[0]; }
    [[nodiscard]] constexpr char back() const noexcept { return data_[size_ - 1]; }

    /// Up to `n` characters from `pos` (clamped to the end, never out of range).
    [[nodiscard]] constexpr string_ref substr(std::size_t pos, std::size_t n = npos) const noexcept {
        if (pos > size_) pos = size_;
        if (n > size_ - pos) n = size_ - pos;
        return {data_ + pos, n};
    }
    [[nodiscard]] constexpr bool starts_with(string_ref p) const noexcept {
        return p.size_ <= size_ && equal(data_, p.data_, p.size_);
    }
    [[nodiscard]] constexpr bool starts_with(char c) const noexcept { return size_ && data_[0] == c; }
    [[nodiscard]] constexpr bool ends_with(string_ref s) const noexcept {
        return s.size_ <= size_ && equal(data_ + size_ - s.size_, s.data_, s.size_);
    }
    [[nodiscard]] constexpr bool ends_with(char c) const noexcept { return size_ && data_[size_ - 1] == c; }
    /// Index of the first `c` at or after `pos`, or npos.
    [[nodiscard]] constexpr std::size_t find(char c, std::size_t pos = 0) const noexcept {
        for (std::size_t i = pos; i < size_; ++i)
            if (data_[i] == c) return i;
        return npos;
    }
    /// Index of the first occurrence of `s` at or after `pos`, or npos.
    [[nodiscard]] constexpr std::size_t find(string_ref s, std::size_t pos = 0) const noexcept {
        if (s.size_ > size_) return npos;
        for (std::size_t i = pos; i + s.size_ <= size_; ++i)
            if (equal(data_ + i, s.data_, s.size_)) return i;
        return npos;
    }
    [[nodiscard]] constexpr bool contains(char c) const noexcept { return find(c) != npos; }
    [[nodiscard]] constexpr bool contains(string_ref s) const noexcept { return find(s) != npos; }
    constexpr void remove_prefix(std::size_t n) noexcept {
        data_ += n;
        size_ -= n;
    }
    constexpr void remove_suffix(std::size_t n) noexcept { size_ -= n; }

    /// Negative, zero or positive as `*this` sorts before, with or after `o` (bytewise).
    [[nodiscard]] constexpr int compare(string_ref o) const noexcept {
        const std::size_t n = size_ < o.size_ ? size_ : o.size_;
        for (std::size_t i = 0; i < n; ++i) {
            const auto a = static_cast<unsigned char>(data_[i]);
            const auto b = static_cast<unsigned char>(o.data_[i]);
            if (a != b) return a < b ? -1 : 1;
        }
        return size_ == o.size_ ? 0 : (size_ < o.size_ ? -1 : 1);
    }

    friend constexpr bool operator==(string_ref a, string_ref b) noexcept {
        return a.size_ == b.size_ && equal(a.data_, b.data_, a.size_);
    }
    // Exact matches for string-like operands, which would otherwise be ambiguous between this
    // operator and theirs (each side converts to the other).
    template <string_like S>
    friend constexpr bool operator==(string_ref a, const S& b) noexcept {
        return a == string_ref(b);
    }
    friend constexpr bool operator<(string_ref a, string_ref b) noexcept { return a.compare(b) < 0; }

    /// Writes the characters to any stream with write(const char*, n) (std::ostream, for one).
    template <class Stream>
        requires requires(Stream& os, const char* p, long n) { os.write(p, n); }
    friend Stream& operator<<(Stream& os, string_ref s) {
        os.write(s.data_, static_cast<long>(s.size_));
        return os;
    }

private:
    static constexpr bool equal(const char* a, const char* b, std::size_t n) noexcept {
        if (n == 0) return true;  // either may be null then
        return __builtin_memcmp(a, b, n) == 0;
    }

    const char* data_ = "";  // never null, so an empty view can go to memcpy and friends
    std::size_t size_ = 0;
};

}  // namespace vitals
