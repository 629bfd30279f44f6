// vitals — span: a view of contiguous values, for lists that vitals' API takes and hands out.
//
// Why not std::span: in C++20 <span> brings the ranges machinery with it (see string_ref.hpp).
// vitals::span is built from anything with data() and size() (std::vector, std::array, std::span,
// a C array, a braced list for the length of a call), and it is itself a contiguous range, so a
// std::span can be made from it.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <type_traits>

namespace vitals {

/// A view of `size()` values of type T starting at `data()`; T may be const.
template <class T>
class span {
public:
    using element_type = T;                  ///< The viewed type, const or not.
    using value_type = std::remove_cv_t<T>;  ///< The viewed type without const.

    constexpr span() noexcept = default;
    /// `size` values from `data`.
    constexpr span(T* data, std::size_t size) noexcept : data_(data), size_(size) {}
    /// A whole C array.
    template <std::size_t N>
    constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
    /// Any contiguous container whose data() converts to T*: std::vector, std::array, std::span...
    template <class C>
        requires(!std::is_same_v<std::remove_cvref_t<C>, span> &&
                 requires(C& c) {
                     static_cast<T*>(c.data());
                     static_cast<std::size_t>(c.size());
                 })
    constexpr span(C& c) noexcept : data_(c.data()), size_(c.size()) {}
    template <class C>
        requires(!std::is_same_v<std::remove_cvref_t<C>, span> &&
                 requires(const C& c) {
                     static_cast<T*>(c.data());
                     static_cast<std::size_t>(c.size());
                 })
    constexpr span(const C& c) noexcept : data_(c.data()), size_(c.size()) {}
    /// A braced list, for a call's arguments: `f({1.0, 2.0})`. The list ends with the full
    /// expression, so don't keep the span.
    constexpr span(std::initializer_list<value_type> list) noexcept
        requires std::is_const_v<T>
        : data_(first_of(list)), size_(list.size()) {}
    /// span<T> converts to span<const T>.
    template <class U>
        requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
    constexpr span(span<U> o) noexcept : data_(o.data()), size_(o.size()) {}

    [[nodiscard]] constexpr T* data() const noexcept { return data_; }
    [[nodiscard]] constexpr std::size_t size() const noexcept { return size_; }
    [[nodiscard]] constexpr bool empty() const noexcept { return size_ == 0; }
    [[nodiscard]] constexpr T* begin() const noexcept { return data_; }
    [[nodiscard]] constexpr T* end() const noexcept { return data_ + size_; }
    /// The i-th value; i < size().
    [[nodiscard]] constexpr T& operator[](std::size_t i) const noexcept { return data_[i]; }
    [[nodiscard]] constexpr T& front() const noexcept { return data_[0]; }
    [[nodiscard]] constexpr T& back() const noexcept { return data_[size_ - 1]; }
    /// The values from `offset` on (offset <= size()).
    [[nodiscard]] constexpr span subspan(std::size_t offset) const noexcept { return {data_ + offset, size_ - offset}; }
    /// `count` values from `offset` (offset + count <= size()).
    [[nodiscard]] constexpr span subspan(std::size_t offset, std::size_t count) const noexcept {
        return {data_ + offset, count};
    }
    /// The first `count` values.
    [[nodiscard]] constexpr span first(std::size_t count) const noexcept { return {data_, count}; }

private:
    // Through a function: GCC warns about a member initialised from list.begin() directly, which
    // is the point here (the list outlives the call that takes the span).
    static constexpr T* first_of(std::initializer_list<value_type> list) noexcept { return list.begin(); }

    T* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace vitals
