// vitals — two small owning pointers, so the core needs no <memory> (which, in C++20 with
// libstdc++, drags <ostream> into every translation unit that includes vitals).
#pragma once

#include "atomic.hpp"

namespace vitals::detail {

/// Sole ownership of a heap object, like std::unique_ptr<T> without a custom deleter.
template <class T>
class unique {
public:
    unique() noexcept = default;
    explicit unique(T* p) noexcept : p_(p) {}
    unique(unique&& o) noexcept : p_(o.release()) {}
    unique& operator=(unique&& o) noexcept {
        if (this != &o) reset(o.release());
        return *this;
    }
    ~unique() { delete p_; }
    void reset(T* p = nullptr) noexcept {
        T* old = p_;
        p_ = p;
        delete old;
    }
    /// Gives the object up without deleting it.
    [[nodiscard]] T* release() noexcept {
        T* p = p_;
        p_ = nullptr;
        return p;
    }
    T* get() const noexcept { return p_; }
    T* operator->() const noexcept { return p_; }
    T& operator*() const noexcept { return *p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    T* p_ = nullptr;
};

/// Shared ownership of an immutable or internally synchronised value, like
/// std::shared_ptr<T>: the count is atomic, the value is created together with it.
template <class T>
class shared {
public:
    shared() noexcept = default;
    /// Creates the value in place.
    template <class... A>
    static shared make(A&&... args) {
        shared s;
        s.b_ = new block{{1}, T(static_cast<A&&>(args)...)};
        return s;
    }
    shared(const shared& o) noexcept : b_(o.b_) {
        if (b_) b_->refs.fetch_add(1, detail::memory_order_relaxed);
    }
    shared(shared&& o) noexcept : b_(o.b_) { o.b_ = nullptr; }
    shared& operator=(shared o) noexcept {
        block* mine = b_;
        b_ = o.b_;
        o.b_ = mine;
        return *this;
    }
    ~shared() {
        if (b_ && b_->refs.fetch_sub(1, detail::memory_order_acq_rel) == 1) delete b_;
    }
    T* get() const noexcept { return b_ ? &b_->value : nullptr; }
    T* operator->() const noexcept { return get(); }
    T& operator*() const noexcept { return b_->value; }
    explicit operator bool() const noexcept { return b_ != nullptr; }

private:
    struct block {
        detail::atomic<long> refs;
        T value;
    };
    block* b_ = nullptr;
};

}  // namespace vitals::detail
