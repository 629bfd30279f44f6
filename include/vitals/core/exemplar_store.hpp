// vitals — lock-free storage of the latest exemplar per counter or per histogram bucket.
//
// Each slot is a small seqlock over atomic words: a writer claims the slot with one
// compare-and-swap (a writer that finds the slot busy drops its exemplar instead of waiting: the
// slot keeps "the latest" one that got through), copies the encoded exemplar word by word and
// publishes it; a render copies the words and retries if a writer got in between. No thread ever
// blocks, and nothing is allocated when an exemplar is recorded.
#pragma once

#include <cstdint>
#include <cstring>

#include "exemplar.hpp"
#include "../detail/atomic.hpp"
#include "../detail/clock.hpp"
#include "../detail/percpu.hpp"

namespace vitals::detail {

/// Room for an encoded label set: 128 code points are at most 512 bytes, plus 4 bytes of lengths
/// per pair (at most 128 pairs, as every name has a code point).
inline constexpr std::size_t exemplar_encoded_max = exemplar_labels::max_encoded_bytes;

struct exemplar_slot {
    static constexpr std::size_t data_words = (exemplar_encoded_max + 7) / 8;
    detail::atomic<std::uint64_t> seq{0};  // odd while a writer copies
    detail::atomic<std::uint64_t> value{0}, timestamp{0}, length{0};
    detail::atomic<std::uint64_t> data[data_words]{};

    /// Publishes an encoded label set with its value; false if another writer held the slot.
    bool store(const char* encoded, std::size_t n, double v, double ts) noexcept {
        std::uint64_t s = seq.load(detail::memory_order_relaxed);
        if ((s & 1) || !seq.compare_exchange_strong(s, s + 1, detail::memory_order_acquire)) return false;
        detail::atomic_thread_fence(detail::memory_order_release);
        value.store(double_to_word(v), detail::memory_order_relaxed);
        timestamp.store(double_to_word(ts), detail::memory_order_relaxed);
        length.store(n, detail::memory_order_relaxed);
        for (std::size_t i = 0; i * 8 < n; ++i) {
            std::uint64_t w = 0;
            std::memcpy(&w, encoded + i * 8, n - i * 8 < 8 ? n - i * 8 : 8);
            data[i].store(w, detail::memory_order_relaxed);
        }
        seq.store(s + 2, detail::memory_order_release);
        return true;
    }

    /// Reads the slot into `out`; false when it is empty or kept changing under the reader.
    /// In a forked child: a copy another thread had under way will never finish. The slot is
    /// emptied (its words may be torn) and the next store fills it.
    void reset_in_child() noexcept {
        if (seq.load(detail::memory_order_relaxed) & 1) seq.store(0, detail::memory_order_relaxed);
    }

    bool load(exemplar& out) const {
        char buf[data_words * 8];
        for (int attempt = 0; attempt < 8; ++attempt) {
            const std::uint64_t s1 = seq.load(detail::memory_order_acquire);
            if (s1 == 0) return false;
            if (s1 & 1) continue;
            const double v = word_to_double(value.load(detail::memory_order_relaxed));
            const double ts = word_to_double(timestamp.load(detail::memory_order_relaxed));
            const std::size_t n = length.load(detail::memory_order_relaxed);
            if (n > exemplar_encoded_max) continue;
            for (std::size_t i = 0; i * 8 < n; ++i) {
                const std::uint64_t w = data[i].load(detail::memory_order_relaxed);
                std::memcpy(buf + i * 8, &w, 8);
            }
            detail::atomic_thread_fence(detail::memory_order_acquire);
            if (seq.load(detail::memory_order_relaxed) != s1) continue;
            decode(string_ref(buf, n), v, ts, out);
            return true;
        }
        return false;
    }

private:
    static void decode(string_ref enc, double v, double ts, exemplar& out) {
        out.clear_labels();
        std::size_t i = 0;
        auto take = [&]() {
            std::uint16_t len;
            std::memcpy(&len, enc.data() + i, 2);
            const string_ref s = enc.substr(i + 2, len);
            i += 2 + len;
            return s;
        };
        while (i + 4 <= enc.size()) {
            const string_ref k = take();
            const string_ref val = take();
            out.add_checked_label(k, val);
        }
        out.value = v;
        out.timestamp = ts;
    }
};

/// Lazily allocated exemplar slots of one series (one per counter, one per histogram bucket);
/// each slot (about 1 KiB) is allocated the first time an exemplar lands in it.
class exemplar_slots {
public:
    explicit exemplar_slots(std::size_t count) : count_(count) {}
    ~exemplar_slots() {
        if (auto* table = table_.load(detail::memory_order_acquire)) {
            for (std::size_t i = 0; i < count_; ++i) delete table[i].load(detail::memory_order_acquire);
            delete[] table;
        }
    }
    exemplar_slots(const exemplar_slots&) = delete;
    exemplar_slots& operator=(const exemplar_slots&) = delete;

    /// Records an exemplar in slot `i`; false if a concurrent writer held that slot.
    bool store(std::size_t i, const exemplar_labels& labels, double value) {
        return slot(i).store(labels.encoded().data(), labels.encoded().size(), value, unix_now());
    }

    /// Reads slot `i` into `out`; false when it holds no exemplar.
    bool load(std::size_t i, exemplar& out) const {
        const auto* table = table_.load(detail::memory_order_acquire);
        if (!table) return false;
        const exemplar_slot* s = table[i].load(detail::memory_order_acquire);
        return s && s->load(out);
    }

    /// True once any exemplar was recorded.
    /// In a forked child: see exemplar_slot::reset_in_child.
    void reset_in_child() noexcept {
        auto* table = table_.load(detail::memory_order_acquire);
        if (!table) return;
        for (std::size_t i = 0; i < count_; ++i)
            if (exemplar_slot* s = table[i].load(detail::memory_order_acquire)) s->reset_in_child();
    }

    [[nodiscard]] bool any() const noexcept { return table_.load(detail::memory_order_acquire) != nullptr; }

private:
    template <class T>
    static T* publish(detail::atomic<T*>& where, T* fresh) {
        T* seen = nullptr;
        if (where.compare_exchange_strong(seen, fresh, detail::memory_order_acq_rel)) return fresh;
        return seen;
    }
    exemplar_slot& slot(std::size_t i) {
        auto* table = table_.load(detail::memory_order_acquire);
        if (!table) [[unlikely]] {
            auto* fresh = new detail::atomic<exemplar_slot*>[count_] {};
            table = publish(table_, fresh);
            if (table != fresh) delete[] fresh;
        }
        exemplar_slot* s = table[i].load(detail::memory_order_acquire);
        if (!s) [[unlikely]] {
            auto* fresh = new exemplar_slot;
            s = publish(table[i], fresh);
            if (s != fresh) delete fresh;
        }
        return *s;
    }

    std::size_t count_;
    detail::atomic<detail::atomic<exemplar_slot*>*> table_{nullptr};
};

}  // namespace vitals::detail
