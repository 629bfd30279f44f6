// vitals — the atomics the core needs, on the compiler's __atomic builtins.
//
// Why not std::atomic: in C++20, <atomic> brings in the wait/notify machinery and with it much of
// <chrono> and the thread headers, about 0.4 s of compile time in every translation unit that
// includes vitals. The builtins are what std::atomic itself is made of (GCC and Clang), generate
// the same code, and ThreadSanitizer understands them the same way.
#pragma once

#include <type_traits>

namespace vitals::detail {

/// Memory orders, spelled like std::memory_order's and with the builtins' values.
enum memory_order : int {
    memory_order_relaxed = __ATOMIC_RELAXED,
    memory_order_acquire = __ATOMIC_ACQUIRE,
    memory_order_release = __ATOMIC_RELEASE,
    memory_order_acq_rel = __ATOMIC_ACQ_REL,
    memory_order_seq_cst = __ATOMIC_SEQ_CST,
};

/// An atomic T for default-constructible, trivially copyable T of 1, 2, 4 or 8 bytes, with std::atomic's member names.
/// fetch_add and fetch_sub exist for integers only (the builtins would step pointers by bytes).
template <class T>
class atomic {
    static_assert(std::is_trivially_copyable_v<T>, "vitals::detail::atomic needs a trivially copyable type");
    static_assert(std::is_default_constructible_v<T>, "vitals::detail::atomic needs a default-constructible type");
    static_assert(sizeof(T) == 1 || sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8,
                  "vitals::detail::atomic supports 1-, 2-, 4- and 8-byte types only (always lock-free)");

public:
    constexpr atomic() noexcept : v_{} {}
    constexpr atomic(T v) noexcept : v_(v) {}  // NOLINT: implicit, like std::atomic
    atomic(const atomic&) = delete;
    atomic& operator=(const atomic&) = delete;

    [[nodiscard]] T load(memory_order o = memory_order_seq_cst) const noexcept {
        T r;
        __atomic_load(&v_, &r, o);
        return r;
    }
    void store(T v, memory_order o = memory_order_seq_cst) noexcept { __atomic_store(&v_, &v, o); }
    T exchange(T v, memory_order o = memory_order_seq_cst) noexcept {
        T r;
        __atomic_exchange(&v_, &v, &r, o);
        return r;
    }
    bool compare_exchange_strong(T& expected, T desired, memory_order success, memory_order failure) noexcept {
        return __atomic_compare_exchange(&v_, &expected, &desired, false, success, failure);
    }
    bool compare_exchange_strong(T& expected, T desired, memory_order o = memory_order_seq_cst) noexcept {
        return __atomic_compare_exchange(&v_, &expected, &desired, false, o, failure_order(o));
    }
    bool compare_exchange_weak(T& expected, T desired, memory_order success, memory_order failure) noexcept {
        return __atomic_compare_exchange(&v_, &expected, &desired, true, success, failure);
    }
    bool compare_exchange_weak(T& expected, T desired, memory_order o = memory_order_seq_cst) noexcept {
        return __atomic_compare_exchange(&v_, &expected, &desired, true, o, failure_order(o));
    }
    T fetch_add(T n, memory_order o = memory_order_seq_cst) noexcept
        requires std::is_integral_v<T>
    {
        return __atomic_fetch_add(&v_, n, o);
    }
    T fetch_sub(T n, memory_order o = memory_order_seq_cst) noexcept
        requires std::is_integral_v<T>
    {
        return __atomic_fetch_sub(&v_, n, o);
    }

private:
    static constexpr memory_order failure_order(memory_order o) noexcept {
        return o == memory_order_acq_rel ? memory_order_acquire : o == memory_order_release ? memory_order_relaxed : o;
    }

    alignas(sizeof(T)) T v_;
};

/// std::atomic_thread_fence.
inline void atomic_thread_fence(memory_order o) noexcept { __atomic_thread_fence(o); }
/// std::atomic_signal_fence.
inline void atomic_signal_fence(memory_order o) noexcept { __atomic_signal_fence(o); }

}  // namespace vitals::detail
