// vitals — scratch_array: a reusable array of default-constructed objects, for buffers a render
// refills each time (exemplars read from their slots). Growing discards the old contents, which
// no caller needs; once large enough it never allocates again.
#pragma once

#include <cstddef>

namespace vitals::detail {

template <class T>
class scratch_array {
public:
    scratch_array() noexcept = default;
    ~scratch_array() { delete[] data_; }
    scratch_array(const scratch_array&) = delete;
    scratch_array& operator=(const scratch_array&) = delete;

    /// At least `n` objects; contents are unspecified after growth.
    void resize(std::size_t n) {
        if (n > capacity_) {
            T* bigger = new T[n];
            delete[] data_;
            data_ = bigger;
            capacity_ = n;
        }
        size_ = n;
    }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
    [[nodiscard]] T* data() noexcept { return data_; }

private:
    T* data_ = nullptr;
    std::size_t size_ = 0;
    std::size_t capacity_ = 0;
};

}  // namespace vitals::detail
