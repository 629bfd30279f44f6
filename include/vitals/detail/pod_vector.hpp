// vitals — a growable array of trivially copyable values, for the core's internal lists.
//
// Why not std::vector: every translation unit that includes vitals parses the core's inline
// functions, and each std::vector operation they use is a template instantiated there (with
// allocator traits, iterator adaptors and exception-safety paths). The core's lists hold pointers
// and small integers, for which malloc/realloc and memcpy are all that is needed.
#pragma once

#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>

namespace vitals::detail {

/// A vector of trivially copyable T. Growth throws std::bad_alloc; nothing else throws.
template <class T>
class pod_vector {
    static_assert(std::is_trivially_copyable_v<T>, "pod_vector holds trivially copyable values only");

public:
    pod_vector() noexcept = default;
    ~pod_vector() { std::free(data_); }
    pod_vector(const pod_vector& o) { append(o.data_, o.size_); }
    pod_vector& operator=(const pod_vector& o) {
        if (this != &o) {
            size_ = 0;
            append(o.data_, o.size_);
        }
        return *this;
    }
    pod_vector(pod_vector&& o) noexcept : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
        o.data_ = nullptr;
        o.size_ = o.capacity_ = 0;
    }
    pod_vector& operator=(pod_vector&& o) noexcept {
        if (this != &o) {
            std::free(data_);
            data_ = o.data_;
            size_ = o.size_;
            capacity_ = o.capacity_;
            o.data_ = nullptr;
            o.size_ = o.capacity_ = 0;
        }
        return *this;
    }

    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] T* data() noexcept { return data_; }
    [[nodiscard]] const T* data() const noexcept { return data_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] T* begin() noexcept { return data_; }
    [[nodiscard]] T* end() noexcept { return data_ + size_; }
    [[nodiscard]] const T* begin() const noexcept { return data_; }
    [[nodiscard]] const T* end() const noexcept { return data_ + size_; }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] T& back() noexcept { return data_[size_ - 1]; }
    [[nodiscard]] const T& back() const noexcept { return data_[size_ - 1]; }

    /// Makes room for `n` values in all, so that push_back up to `n` cannot fail.
    void reserve(std::size_t n) {
        if (n <= capacity_) return;
        if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_alloc();
        void* p = std::realloc(static_cast<void*>(data_), n * sizeof(T));
        if (!p) throw std::bad_alloc();
        data_ = static_cast<T*>(p);
        capacity_ = n;
    }
    void push_back(const T& v) {
        const T copy = v;  // `v` may be one of ours, and growing moves them
        if (size_ == capacity_) reserve(capacity_ ? capacity_ * 2 : 8);
        std::memcpy(static_cast<void*>(data_ + size_), &copy, sizeof(T));
        ++size_;
    }
    /// Appends `n` values from `first` (which must not point into this vector).
    void append(const T* first, std::size_t n) {
        if (n == 0) return;
        if (size_ + n > capacity_) reserve(size_ + n > capacity_ * 2 ? size_ + n : capacity_ * 2);
        std::memcpy(static_cast<void*>(data_ + size_), first, n * sizeof(T));
        size_ += n;
    }
    /// Makes it hold `n` values: existing ones are kept, new ones are `fill`.
    void resize(std::size_t n, const T& fill = T{}) {
        const T copy = fill;  // `fill` may be one of ours, and growing moves them
        reserve(n);
        for (std::size_t i = size_; i < n; ++i) data_[i] = copy;
        size_ = n;
    }
    /// Makes it hold `n` copies of `v`.
    void assign(std::size_t n, const T& v) {
        size_ = 0;
        resize(n, v);
    }
    void swap(pod_vector& o) noexcept {
        pod_vector t(static_cast<pod_vector&&>(o));
        o = static_cast<pod_vector&&>(*this);
        *this = static_cast<pod_vector&&>(t);
    }
    void pop_back() noexcept { --size_; }
    void clear() noexcept { size_ = 0; }
    /// Removes the value at `i`, moving the last one into its place (order is not kept).
    void swap_remove(std::size_t i) noexcept { data_[i] = data_[--size_]; }
    /// Removes every value equal to `v`, keeping the order of the rest.
    void remove(const T& v) noexcept {
        std::size_t out = 0;
        for (std::size_t i = 0; i < size_; ++i)
            if (!(data_[i] == v)) data_[out++] = data_[i];
        size_ = out;
    }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace vitals::detail
