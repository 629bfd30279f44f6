// vitals — the exceptions vitals throws for bad input given at run time. Mistakes knowable at
// compile time (a bad metric or label name in a template argument, a wrong number of label
// values) are compile errors instead.
//
// Why not std::invalid_argument and friends: <stdexcept> brings <string> into every translation
// unit. These derive from std::exception, so `catch (const std::exception&)` sees them.
#pragma once

#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <new>

#include "string_ref.hpp"

namespace vitals {

/// Base of every vitals exception. what() is the whole message, prefixed "vitals: ".
class error : public std::exception {
public:
    /// The message is the parts written end to end; each is anything string_ref accepts.
    template <class... Parts>
        requires(sizeof...(Parts) > 0 && (std::is_constructible_v<string_ref, const Parts&> && ...))
    explicit error(const Parts&... parts) : text_(join({string_ref(parts)...})) {}
    error(const error& o) noexcept : text_(o.text_) { add_ref(); }
    error& operator=(const error& o) noexcept {
        if (this != &o) {
            release();
            text_ = o.text_;
            add_ref();
        }
        return *this;
    }
    ~error() override { release(); }

    [[nodiscard]] const char* what() const noexcept override {
        return text_ ? text_ + sizeof(unsigned) : "vitals: error (no memory for the message)";
    }

private:
    // One block per message, shared by copies (an exception's copy must not throw): a reference
    // count, then the NUL-terminated text.
    static char* join(std::initializer_list<string_ref> parts) noexcept {
        std::size_t n = 0;
        for (string_ref p : parts) n += p.size();
        auto* block = static_cast<char*>(std::malloc(sizeof(unsigned) + n + 1));
        if (!block) return nullptr;
        const unsigned one = 1;
        std::memcpy(block, &one, sizeof one);
        char* out = block + sizeof(unsigned);
        for (string_ref p : parts) {
            if (p.size()) std::memcpy(out, p.data(), p.size());
            out += p.size();
        }
        *out = '\0';
        return block;
    }
    unsigned* refs() const noexcept { return reinterpret_cast<unsigned*>(text_); }
    void add_ref() noexcept {
        if (text_) __atomic_fetch_add(refs(), 1u, __ATOMIC_RELAXED);
    }
    void release() noexcept {
        if (text_ && __atomic_fetch_sub(refs(), 1u, __ATOMIC_ACQ_REL) == 1) std::free(text_);
    }

    char* text_;
};

/// A bad name, label value, bucket layout or other definition given at run time.
class invalid_argument_error : public error {
public:
    using error::error;
};

/// A registration that conflicts with an earlier one of the same name (or a name it exposes).
class registration_error : public error {
public:
    using error::error;
};

/// A fixed capacity exceeded: label values longer than 4 GiB, a histogram with too many buckets.
class capacity_error : public error {
public:
    using error::error;
};

namespace detail {
/// An unsigned integer written in decimal, usable as a message part: `error("got ", decimal(n))`.
class decimal {
public:
    explicit decimal(unsigned long long v) noexcept {
        char* p = buf_ + sizeof buf_;
        do {
            *--p = static_cast<char>('0' + v % 10);
            v /= 10;
        } while (v);
        begin_ = static_cast<std::size_t>(p - buf_);
    }
    [[nodiscard]] const char* data() const noexcept { return buf_ + begin_; }
    [[nodiscard]] std::size_t size() const noexcept { return sizeof buf_ - begin_; }

private:
    char buf_[20];
    std::size_t begin_;
};
}  // namespace detail

}  // namespace vitals
