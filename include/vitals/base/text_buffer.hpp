// vitals — text_buffer: an owned, growable run of characters. vitals keeps names, help texts and
// escaped label blocks in it, and a render can write into one (it is a char sink).
//
// Why not std::string: <string> is the single most expensive header a vitals translation unit
// would otherwise include (see docs/performance.md); the core needs append and a view, no more.
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>

#include "string_ref.hpp"

namespace vitals {

/// Owned characters, not NUL-terminated. Copies are deep; growth throws std::bad_alloc.
class text_buffer {
public:
    text_buffer() noexcept = default;
    /// A copy of `s`.
    text_buffer(string_ref s) { append(s.data(), s.size()); }
    text_buffer(const text_buffer& o) { append(o.data(), o.size_); }
    text_buffer(text_buffer&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
        o.data_ = nullptr;
        o.size_ = o.capacity_ = 0;
    }
    text_buffer& operator=(const text_buffer& o) {
        if (this != &o) {
            text_buffer copy(o);
            swap(copy);
        }
        return *this;
    }
    text_buffer& operator=(text_buffer&& o) noexcept {
        text_buffer moved(static_cast<text_buffer&&>(o));
        swap(moved);
        return *this;
    }
    ~text_buffer() { std::free(data_); }

    /// Never null (an empty buffer gives a pointer to an empty string).
    [[nodiscard]] const char* data() const noexcept { return data_ ? data_ : ""; }
    /// Writable characters (null while nothing was ever stored).
    [[nodiscard]] char* data() noexcept { return data_; }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    /// Characters that fit before the next allocation.
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    /// The characters as a view (valid until the buffer changes).
    [[nodiscard]] string_ref view() const noexcept { return {data(), size_}; }
    /// The i-th character; i < size().
    [[nodiscard]] char operator[](std::size_t i) const noexcept { return data_[i]; }

    /// Room for `n` characters in all (never shrinks).
    void reserve(std::size_t n) {
        if (n <= capacity_) return;
        grow(n, nullptr, 0);
    }
    /// Appends `n` characters from `p` (which may point into this buffer).
    void append(const char* p, std::size_t n) {
        if (n == 0) return;
        if (size_ + n > capacity_) return grow(size_ + n > capacity_ * 2 ? size_ + n : capacity_ * 2, p, n);
        std::memcpy(data_ + size_, p, n);
        size_ += n;
    }
    /// Appends one character.
    void push_back(char c) { append(&c, 1); }
    /// Appends `s`.
    text_buffer& operator+=(string_ref s) {
        append(s.data(), s.size());
        return *this;
    }
    /// Appends `c`.
    text_buffer& operator+=(char c) {
        push_back(c);
        return *this;
    }
    /// Empties the buffer and keeps its capacity (a reused render buffer allocates nothing).
    void clear() noexcept { size_ = 0; }
    /// Exchanges the contents with `o` (no copy).
    void swap(text_buffer& o) noexcept {
        char* d = data_;
        data_ = o.data_;
        o.data_ = d;
        std::size_t t = size_;
        size_ = o.size_;
        o.size_ = t;
        t = capacity_;
        capacity_ = o.capacity_;
        o.capacity_ = t;
    }

    /// Compares the characters with anything string_ref accepts (another buffer included).
    friend bool operator==(const text_buffer& a, string_ref b) noexcept { return a.view() == b; }

private:
    // A new block of `capacity` characters holding the old ones, then the `n` at `p` (copied
    // before the old block is freed, since `p` may point into it).
    void grow(std::size_t capacity, const char* p, std::size_t n) {
        auto* bigger = static_cast<char*>(std::malloc(capacity));
        if (!bigger) throw std::bad_alloc();
        if (size_) std::memcpy(bigger, data_, size_);
        if (n) std::memcpy(bigger + size_, p, n);
        std::free(data_);
        data_ = bigger;
        capacity_ = capacity;
        size_ += n;
    }

    char* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace vitals
