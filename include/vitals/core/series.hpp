// vitals — what every series shares: its label values (raw, and escaped once for the text
// formats), a reference count, and the metric type tag.
#pragma once

#include <cstdint>
#include <cstring>

#include "../detail/atomic.hpp"
#include "../detail/clock.hpp"
#include "../detail/hash.hpp"
#include "../detail/escape.hpp"
#include "../base/error.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"

namespace vitals {

/// The kind of a metric family, as the exposition formats name it.
enum class metric_type { counter, gauge, histogram, summary, info, stateset, unknown };

namespace detail {
class series_base;
}

/// A series as an exposition format sees it during a render: its label values, raw and escaped,
/// and when it was created. Valid for the duration of the visitor call that received it.
class series_view {
public:
    /// The label pairs escaped for the text formats, without braces: `method="GET",code="200"`
    /// (the family's own labels, in declaration order; const labels come in the family header).
    [[nodiscard]] string_ref label_block() const noexcept;
    /// Calls f(string_ref) with each raw (unescaped) label value, in label order.
    template <class F>
    void for_each_label_value(F&& f) const;
    /// When the series was created, in seconds since the Unix epoch (OpenMetrics `_created`).
    [[nodiscard]] double created_time() const noexcept;

private:
    friend class detail::series_base;
    explicit series_view(const detail::series_base* s) noexcept : s_(s) {}
    const detail::series_base* s_;
};

namespace detail {

/// Label values checked and hashed for a lookup. Values are valid UTF-8 here (see
/// normalize_values), since consumers reject anything else.
struct label_key {
    span<const string_ref> values;
    std::uint64_t hash;
};

/// Hashes label values; every byte is also OR-ed into `seen` (see hash_bytes), so that the caller
/// learns whether all values are ASCII from the same pass.
inline std::uint64_t hash_values(span<const string_ref> values, std::uint64_t& seen) noexcept {
    std::uint64_t h = 0x243F6A8885A308D3ULL ^ values.size();
    for (auto v : values) h = hash_combine(h, hash_bytes(v, seen));
    return h;
}
inline std::uint64_t hash_values(span<const string_ref> values) noexcept {
    std::uint64_t seen = 0;
    return hash_values(values, seen);
}

/// Base of every series. Reference counted: the family's lookup table holds one reference and
/// every handle one more, so a handle outlives the series' removal from its family.
class series_base {
public:
    series_base(span<const string_ref> label_names, const label_key& key) : hash_(key.hash), created_(unix_now()) {
        text_buffer block;
        std::size_t raw = 0;
        for (std::size_t i = 0; i < key.values.size(); ++i) {
            const auto v = key.values[i];
            raw += sizeof(std::uint32_t) + v.size();
            if (i) block += ',';
            block += label_names[i];
            block += "=\"";
            append_escaped_label_value(block, v);
            block += '"';
        }
        if (raw > UINT32_MAX || block.size() > UINT32_MAX) throw capacity_error("vitals: label values too long");
        // One allocation of exactly the bytes needed holds both forms (see data_).
        key_size_ = static_cast<std::uint32_t>(raw);
        block_size_ = static_cast<std::uint32_t>(block.size());
        data_ = new char[raw + block.size()];
        char* out = data_;
        for (auto v : key.values) {
            const auto n = static_cast<std::uint32_t>(v.size());
            std::memcpy(out, &n, sizeof n);
            out += sizeof n;
            if (n) std::memcpy(out, v.data(), n);
            out += n;
        }
        if (!block.empty()) std::memcpy(out, block.data(), block.size());
    }
    virtual ~series_base() { delete[] data_; }
    series_base(const series_base&) = delete;
    series_base& operator=(const series_base&) = delete;

    /// The label pairs escaped for the text formats, without braces: `method="GET",code="200"`.
    [[nodiscard]] string_ref label_block() const noexcept { return {data_ + key_size_, block_size_}; }

    /// Calls f(string_ref) with each raw (unescaped) label value, in label order.
    template <class F>
    void for_each_label_value(F&& f) const {
        for (std::size_t i = 0; i < key_size_;) {
            std::uint32_t n;
            std::memcpy(&n, data_ + i, sizeof n);
            f(string_ref(data_ + i + sizeof n, n));
            i += sizeof n + n;
        }
    }

    [[nodiscard]] std::uint64_t hash() const noexcept { return hash_; }

    /// What a visitor is given of this series.
    [[nodiscard]] series_view view() const noexcept { return series_view(this); }

    /// When the series was created, in seconds since the Unix epoch (OpenMetrics `_created`).
    [[nodiscard]] double created_time() const noexcept { return created_; }

    [[nodiscard]] bool matches(const label_key& k) const noexcept {
        if (k.hash != hash_) return false;
        const char* key = data_;
        std::size_t i = 0;
        for (auto v : k.values) {
            std::uint32_t n;
            if (i + sizeof n > key_size_) return false;
            std::memcpy(&n, key + i, sizeof n);
            i += sizeof n;
            if (n != v.size() || i + n > key_size_ || !bytes_equal(key + i, v.data(), n)) return false;
            i += n;
        }
        return i == key_size_;
    }

    // fork(): a kind whose state has locks or half-done writes of its own takes them in
    // fork_prepare, gives them back in fork_parent, and resets them in fork_child (the child has
    // one thread; see detail/fork_hooks.hpp). The family calls these with its own locks held.
    virtual void fork_prepare() noexcept {}
    virtual void fork_parent() noexcept {}
    virtual void fork_child() noexcept {}

    void add_ref() noexcept { refs_.fetch_add(1, detail::memory_order_relaxed); }
    void release() noexcept {
        if (refs_.fetch_sub(1, detail::memory_order_acq_rel) == 1) delete this;
    }

private:
    detail::atomic<std::uint32_t> refs_{1};
    std::uint32_t key_size_ = 0;
    std::uint64_t hash_;
    double created_;
    // The raw values (each as a 4-byte length and its bytes; key_size_ bytes), then the label
    // block, escaped once here and never again per scrape (block_size_ bytes).
    char* data_ = nullptr;
    std::uint32_t block_size_ = 0;
};

}  // namespace detail

inline string_ref series_view::label_block() const noexcept { return s_->label_block(); }
template <class F>
void series_view::for_each_label_value(F&& f) const {
    s_->for_each_label_value(static_cast<F&&>(f));
}
inline double series_view::created_time() const noexcept { return s_->created_time(); }

namespace detail {

/// An owning pointer to a series (one reference).
template <class Series>
class series_ptr {
public:
    series_ptr() noexcept = default;
    /// Takes a new reference to `s`.
    explicit series_ptr(Series* s) noexcept : p_(s) {
        if (p_) p_->add_ref();
    }
    series_ptr(const series_ptr& o) noexcept : series_ptr(o.p_) {}
    series_ptr(series_ptr&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
    series_ptr& operator=(series_ptr o) noexcept {
        Series* mine = p_;
        p_ = o.p_;
        o.p_ = mine;
        return *this;
    }
    ~series_ptr() {
        if (p_) p_->release();
    }
    Series* get() const noexcept { return p_; }
    Series* operator->() const noexcept { return p_; }
    explicit operator bool() const noexcept { return p_ != nullptr; }

private:
    Series* p_ = nullptr;
};

}  // namespace detail
}  // namespace vitals
