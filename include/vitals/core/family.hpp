// vitals — a family: all series of one metric name, one per combination of label values.
//
// Lookups of existing series are lock-free: an open-addressing table is read with acquire loads
// inside a read section of the family's own reader gate (detail/reader_gate.hpp); creation and
// removal take the family's mutex briefly, and a render takes it only to copy the list of series.
// Removed series and outgrown tables are freed after a grace period (no reader still inside a
// read section that began before the removal), so a concurrent lookup never touches freed memory.
#pragma once

#include <type_traits>

#include "../base/config.hpp"
#include "../detail/mutex.hpp"
#include "../detail/owning.hpp"
#include "../detail/pod_vector.hpp"
#include "../detail/scratch_array.hpp"
#include "../detail/text.hpp"
#include "../detail/reader_gate.hpp"
#include "const_labels.hpp"
#include "counter.hpp"
#include "definition_difference.hpp"
#include "label_names.hpp"
#include "../base/error.hpp"
#include "exemplar.hpp"
#include "names.hpp"
#include "sample_data.hpp"
#include "sample_visitor.hpp"
#include "series.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"
#include "../base/text_buffer.hpp"

namespace vitals {

// Each kind's series is defined in the kind's header (core/counter.hpp, core/summary.hpp, ...).
namespace detail {
class counter_series;
class gauge_series;
class histogram_series;
class summary_series;
class native_histogram_series;
class info_series;
class stateset_series;
}  // namespace detail

/// The series type of each metric kind: the first argument of metric_family, and what a
/// registration's `Series` parameter defaults to. Each is defined with its kind (core/counter.hpp,
/// core/summary.hpp, ...); users reach series through handles and families, never directly.
using counter_series = detail::counter_series;
using gauge_series = detail::gauge_series;                        ///< See counter_series.
using histogram_series = detail::histogram_series;                ///< See counter_series.
using summary_series = detail::summary_series;                    ///< See counter_series.
using native_histogram_series = detail::native_histogram_series;  ///< See counter_series.
using info_series = detail::info_series;                          ///< See counter_series.
using stateset_series = detail::stateset_series;                  ///< See counter_series.

/// What every family has, whatever its type and labels: the registry holds families by this.
class family_base {
public:
    family_base(string_ref name, string_ref help, metric_type type, span<const string_ref> names);
    virtual ~family_base() = default;
    family_base(const family_base&) = delete;
    family_base& operator=(const family_base&) = delete;

    [[nodiscard]] string_ref name() const noexcept { return name_.view(); }
    [[nodiscard]] string_ref help() const noexcept { return help_.view(); }
    [[nodiscard]] metric_type type() const noexcept { return type_; }
    [[nodiscard]] span<const string_ref> label_names() const noexcept { return label_names_; }
    [[nodiscard]] string_ref unit() const noexcept { return unit_.view(); }

    /// Sets the OpenMetrics unit (must be a suffix of the name, as OpenMetrics requires).
    void set_unit(string_ref unit);

    /// Emits the header and every series to `v`.
    virtual void collect(sample_visitor& v) = 0;
    /// Number of series.
    [[nodiscard]] virtual std::size_t size() const = 0;

    /// Called by the registry once: const labels apply to every series, except where the family
    /// has a label of the same name (the family's own value takes precedence).
    void apply_const_labels(span<const label_pair> labels);

    /// fork(): takes every lock of the family and its series (see detail/fork_hooks.hpp), gives
    /// them back in the parent, resets them in the child. Kinds without locks of their own keep
    /// these defaults.
    virtual void fork_prepare() noexcept {}
    virtual void fork_parent() noexcept {}
    virtual void fork_child() noexcept {}

    /// True when `other` was declared with the same type, labels and parameters.
    [[nodiscard]] virtual bool same_definition(const family_base& other) const = 0;

    /// What kind of metric this is, as registration errors name it: "counter", "native
    /// histogram", "callback gauge", ... (the exposition type for kinds without a name of their own).
    [[nodiscard]] virtual string_ref kind() const noexcept { return detail::metric_type_name(type_); }

    /// What differs between this family's definition and `other`'s, as registration errors say
    /// it: "<what> <this one's> (registered) vs <other's> (new)", for the first of kind, label names, help and the
    /// kind's own parameters (buckets, quantiles, states...) that differs; empty when the two
    /// are alike. Kinds with parameters override it and start from common_difference().
    [[nodiscard]] virtual text_buffer definition_difference(const family_base& other) const;

    /// The default limit on the number of series in one family (see set_series_limit).
    static constexpr std::size_t default_series_limit = 10000;

    /// Caps the number of label combinations. Past the cap, a new combination is not created: its
    /// updates go to one overflow series whose every label value is `overflow_label_value`, and
    /// the turned-away lookup is counted (registry self-metric
    /// `vitals_series_limit_rejections_total{metric}`). Memory stays bounded whatever the
    /// cardinality of the input; the service keeps running. Existing series are unaffected.
    void set_series_limit(std::size_t limit) noexcept { series_limit_.store(limit, detail::memory_order_relaxed); }
    [[nodiscard]] std::size_t series_limit() const noexcept { return series_limit_.load(detail::memory_order_relaxed); }
    /// How many lookups were sent to the overflow series so far.
    [[nodiscard]] std::uint64_t series_limit_rejections() const noexcept {
        return rejections_.load(detail::memory_order_relaxed);
    }
    /// The label value of every label of the overflow series.
    static constexpr string_ref overflow_label_value = "__overflow__";

protected:
    void count_rejection() noexcept { rejections_.fetch_add(1, detail::memory_order_relaxed); }

    /// The first of kind, label names and help in which `other` differs (see definition_difference).
    [[nodiscard]] text_buffer common_difference(const family_base& other) const;

    family_header header(const histogram_layout* layout = nullptr) const noexcept {
        return {name_.view(), help_.view(),        unit_.view(),          type_,
                label_names_, const_block_.view(), const_labels_.pairs(), layout};
    }

private:
    detail::atomic<std::size_t> series_limit_{default_series_limit};
    detail::atomic<std::uint64_t> rejections_{0};
    text_buffer name_, help_, unit_;
    metric_type type_;
    span<const string_ref> label_names_;
    text_buffer const_block_;
    vitals::const_labels const_labels_;
};

namespace detail {

/// The lock-free lookup table of a family. Readers call find() inside a read_section; writers
/// hold the family mutex.
template <class Series>
class series_table {
public:
    series_table() { current_.store(new table(16), detail::memory_order_relaxed); }
    ~series_table() { delete current_.load(detail::memory_order_relaxed); }
    series_table(const series_table&) = delete;
    series_table& operator=(const series_table&) = delete;

    Series* find(const label_key& k) const noexcept {
        const table* t = current_.load(detail::memory_order_acquire);
        for (std::size_t i = k.hash & t->mask;; i = (i + 1) & t->mask) {
            Series* p = t->slots[i].ptr.load(detail::memory_order_acquire);
            if (!p) return nullptr;
            if (p != tombstone() && t->slots[i].hash.load(detail::memory_order_relaxed) == k.hash && p->matches(k))
                return p;
        }
    }

    /// Inserts `s`; returns the table it replaced (to be freed with destroy() after a grace
    /// period) or null.
    [[nodiscard]] void* insert(Series* s) {
        void* old = nullptr;
        table* t = current_.load(detail::memory_order_relaxed);
        if ((used_ + 1) * 2 > t->mask + 1) {
            std::size_t cap = 16;
            while (cap < (live_ + 1) * 3) cap *= 2;  // at most a third full after growing
            auto* bigger = new table(cap);
            for (std::size_t i = 0; i <= t->mask; ++i) {
                Series* p = t->slots[i].ptr.load(detail::memory_order_relaxed);
                if (p && p != tombstone()) place(*bigger, p);
            }
            current_.store(bigger, detail::memory_order_release);
            old = t;
            t = bigger;
            used_ = live_;
        }
        place(*t, s);
        ++used_;
        ++live_;
        return old;
    }

    /// Unlinks `s` (it stays allocated until its last reference goes).
    void erase(Series* s) noexcept {
        table* t = current_.load(detail::memory_order_relaxed);
        for (std::size_t i = s->hash() & t->mask;; i = (i + 1) & t->mask) {
            Series* p = t->slots[i].ptr.load(detail::memory_order_relaxed);
            if (!p) return;
            if (p == s) {
                t->slots[i].ptr.store(tombstone(), detail::memory_order_release);
                --live_;
                return;
            }
        }
    }

private:
    struct entry {
        detail::atomic<std::uint64_t> hash{0};
        detail::atomic<Series*> ptr{nullptr};
    };
    struct table {
        explicit table(std::size_t cap) : mask(cap - 1), slots(new entry[cap]) {}
        ~table() { delete[] slots; }
        table(const table&) = delete;
        table& operator=(const table&) = delete;
        std::size_t mask;
        entry* slots;
    };

public:
    /// Frees a table that insert() returned.
    static void destroy(void* t) noexcept { delete static_cast<table*>(t); }

private:
    static Series* tombstone() noexcept {
        static char marker;
        return reinterpret_cast<Series*>(&marker);
    }
    static void place(table& t, Series* s) noexcept {
        for (std::size_t i = s->hash() & t.mask;; i = (i + 1) & t.mask) {
            if (!t.slots[i].ptr.load(detail::memory_order_relaxed)) {
                t.slots[i].hash.store(s->hash(), detail::memory_order_relaxed);
                t.slots[i].ptr.store(s, detail::memory_order_release);
                return;
            }
        }
    }

    detail::atomic<table*> current_;
    std::size_t used_ = 0;  // live entries plus tombstones in the current table
    std::size_t live_ = 0;
};

/// Where repaired label values live while a lookup uses them (see repair_label_values).
class repaired_label_values {
public:
    repaired_label_values() noexcept = default;
    repaired_label_values(const repaired_label_values&) = delete;
    repaired_label_values& operator=(const repaired_label_values&) = delete;
    ~repaired_label_values() { delete[] values_; }

private:
    friend std::uint64_t repair_label_values(span<string_ref> views, repaired_label_values& out);
    text_buffer* values_ = nullptr;
};

/// Points each value of `views` that is not valid UTF-8 at its repair (U+FFFD for bad bytes),
/// kept in `out`; returns the values' new hash. The rare path of a lookup, out of line.
[[gnu::cold]] VITALS_COLD std::uint64_t repair_label_values(span<string_ref> views, repaired_label_values& out);

/// Label values as a key: checked for valid UTF-8 (rarely needed: ASCII is checked 8 bytes at a
/// time) and hashed. Invalid UTF-8 is repaired with U+FFFD, so values that differ only in invalid
/// bytes name the same series.
template <std::size_t N>
class normalized_values {
public:
    template <class... V>
    explicit normalized_values(const V&... v) : views_{string_ref(v)...} {
        hash_and_check();
    }
    /// Named values (vitals::label), put in declaration order by the family's label list.
    template <label_set Labels, fixed_string... Given>
    normalized_values(Labels*, const named_label_value<Given>&... v) {
        ((views_[Labels::index_of(Given.view())] = v.value), ...);
        hash_and_check();
    }
    normalized_values(const normalized_values&) = delete;
    normalized_values& operator=(const normalized_values&) = delete;
    [[nodiscard]] label_key key() const noexcept { return {{views_, N}, hash_}; }

private:
    void hash_and_check() {
        std::uint64_t seen = 0;  // every byte of every value, OR-ed: no high bit means all ASCII
        hash_ = hash_values({views_, N}, seen);
        if (seen & 0x8080808080808080ULL) [[unlikely]]
            hash_ = repair_label_values({views_, N}, repaired_);
    }
    string_ref views_[N == 0 ? 1 : N];
    repaired_label_values repaired_;
    std::uint64_t hash_ = 0;
};

/// Label values whose number is known only at run time (the span forms of a dynamic_labels
/// family), normalized like normalized_values: checked for valid UTF-8, repaired, hashed.
class runtime_values {
public:
    explicit runtime_values(span<const string_ref> v) {
        views_.append(v.data(), v.size());
        std::uint64_t seen = 0;
        hash_ = hash_values({views_.data(), views_.size()}, seen);
        if (seen & 0x8080808080808080ULL) [[unlikely]]
            hash_ = repair_label_values({views_.data(), views_.size()}, repaired_);
    }
    runtime_values(const runtime_values&) = delete;
    runtime_values& operator=(const runtime_values&) = delete;
    [[nodiscard]] label_key key() const noexcept { return {{views_.data(), views_.size()}, hash_}; }

private:
    pod_vector<string_ref> views_;
    repaired_label_values repaired_;
    std::uint64_t hash_ = 0;
};

}  // namespace detail

namespace detail {

/// What a family of one kind does whatever its label names are: the lock-free lookup, creation
/// under the series limit, removal with a grace period, the render, fork(). metric_family adds
/// only what the label names decide (how values are given and checked), so the code below exists
/// once per kind, not once per label set.
template <class Series>
class family_impl : public family_base {
    using traits = series_traits<Series>;

public:
    /// The owning handle type: vitals::counter, vitals::gauge, vitals::histogram...
    using handle = typename traits::handle;

    /// A reference to a series for immediate use: `family.labels("GET", "/").inc()`. It keeps a
    /// read section of the family open instead of taking a reference count, so it costs no
    /// locked instruction; don't keep it beyond the statement (use `with` for that).
    class scoped : public traits::template operations<scoped> {
    public:
        scoped(const scoped&) = delete;
        scoped& operator=(const scoped&) = delete;

    private:
        friend class family_impl;
        friend typename traits::template operations<scoped>;
        scoped(family_impl& f, const label_key& k) : section_(f.gate_), series_(f.find_or_create(k)) {}
        Series& series_ref() const noexcept { return *series_; }
        read_section section_;
        Series* series_;
    };

    ~family_impl() override;

    /// Removes every series.
    void clear();

    [[nodiscard]] std::size_t size() const override;

    /// The family's parameters (histogram buckets; empty for counters and gauges).
    [[nodiscard]] const typename Series::params& params() const noexcept { return params_; }

    void collect(sample_visitor& v) override;

    [[nodiscard]] string_ref kind() const noexcept override {
        if constexpr (requires { Series::kind_name; })
            return Series::kind_name;
        else
            return family_base::kind();
    }

    [[nodiscard]] text_buffer definition_difference(const family_base& other) const override;

    void fork_prepare() noexcept override;
    void fork_parent() noexcept override;
    void fork_child() noexcept override;

protected:
    family_impl(string_ref name, string_ref help, span<const string_ref> label_names, typename Series::params params);

    /// Same help, label names and parameters (the caller checks that the types match).
    [[nodiscard]] bool same_parts(const family_impl& o) const;

    handle handle_for(const label_key& k);
    scoped scoped_for(const label_key& k) { return scoped(*this, k); }

    bool remove_key(const label_key& key);

private:
    // Never null: GCC would otherwise see a null path through series_ptr's check and warn about
    // the updates that follow it.
    [[gnu::returns_nonnull]] Series* find_or_create(const label_key& k) {
        if (Series* s = table_.find(k)) [[likely]]
            return s;
        return create(k);
    }

    // A series is built before the family lock is taken, and dropped after it is let go when
    // another thread won the race: building and dropping take the cell pool's lock, which is
    // never taken inside a family's (the order fork() relies on, detail/fork_hooks.hpp).
    [[gnu::noinline, gnu::returns_nonnull]] Series* create(const label_key& k);

    void insert_locked(Series* s);

    // Frees what was unlinked once no lock-free reader can still see it; retried later otherwise.
    // Runs without the family mutex: a lookup that is waiting for the mutex (to create a series)
    // sits inside its read section, and the grace period must be able to see it leave.
    void reclaim();

    void emit(sample_visitor& v, Series& s);

    typename Series::params params_;
    reader_gate gate_;
    mutex render_mu_;  // one render at a time: the scratch below is the render's
    mutable mutex mu_;
    series_table<Series> table_;
    pod_vector<Series*> order_;  // creation order: the render order
    pod_vector<Series*> retired_;
    pod_vector<void*> retired_tables_;  // outgrown series_table<Series> tables
    pod_vector<Series*> render_list_;   // reused by every render: no allocation once warm
    pod_vector<std::uint64_t> scratch_;
    scratch_array<exemplar> exemplar_scratch_;
    pod_vector<const exemplar*> exemplar_ptrs_;
};

// Compiled mode: these are instantiated in libvitals for every built-in kind, and not needed here.
#if !VITALS_EXTERN_TEMPLATES
template <class Series>
family_impl<Series>::family_impl(string_ref name, string_ref help, span<const string_ref> label_names,
                                 typename Series::params params)
    : family_base(name, help, Series::type, label_names), params_(static_cast<typename Series::params&&>(params)) {}

template <class Series>
family_impl<Series>::~family_impl() {
    // Nothing else can use the family now; releasing may free series (and their slots).
    for (Series* s : order_) s->release();
    for (Series* s : retired_) s->release();
    for (void* t : retired_tables_) series_table<Series>::destroy(t);
}

template <class Series>
void family_impl<Series>::clear() {
    {
        lock_guard lock(mu_);
        for (Series* s : order_) table_.erase(s);
        retired_.append(order_.data(), order_.size());
        order_.clear();
    }
    reclaim();
}

template <class Series>
std::size_t family_impl<Series>::size() const {
    lock_guard lock(mu_);
    return order_.size();
}

template <class Series>
void family_impl<Series>::collect(sample_visitor& v) {
    reclaim();
    lock_guard render(render_mu_);
    // The list is copied and the lock let go at once: creating and removing series never
    // waits for a render. The read section keeps every copied series alive until the end.
    read_section section(gate_);
    {
        lock_guard lock(mu_);
        render_list_.clear();
        render_list_.append(order_.data(), order_.size());
    }
    if constexpr (requires { params_.layout.get(); })  // histograms: the classic buckets
        v.begin_family(header(params_.layout.get()));
    else
        v.begin_family(header());
    for (Series* s : render_list_) emit(v, *s);
    v.end_family();
}

template <class Series>
text_buffer family_impl<Series>::definition_difference(const family_base& other) const {
    text_buffer d = common_difference(other);
    if (!d.empty()) return d;
    const auto* o = dynamic_cast<const family_impl*>(&other);
    if (!o) return definition_field("definition", kind(), other.kind());
    if constexpr (requires { params_.difference(o->params_); })
        if (!(params_ == o->params_)) return params_.difference(o->params_);
    if (!same_definition(other)) return definition_field("definition", kind(), other.kind());
    return {};
}

template <class Series>
void family_impl<Series>::fork_prepare() noexcept {
    render_mu_.lock();
    mu_.lock();
    gate_.fork_lock().lock();
    for (Series* s : order_) s->fork_prepare();
    for (Series* s : retired_) s->fork_prepare();
}

template <class Series>
void family_impl<Series>::fork_parent() noexcept {
    for (Series* s : retired_) s->fork_parent();
    for (Series* s : order_) s->fork_parent();
    gate_.fork_lock().unlock();
    mu_.unlock();
    render_mu_.unlock();
}

template <class Series>
void family_impl<Series>::fork_child() noexcept {
    for (Series* s : retired_) s->fork_child();
    for (Series* s : order_) s->fork_child();
    gate_.reset_in_child();
    mu_.reset_after_fork();
    render_mu_.reset_after_fork();
}

template <class Series>
bool family_impl<Series>::same_parts(const family_impl& o) const {
    return o.help() == help() && o.params_ == params_ && same_names(label_names(), o.label_names());
}

template <class Series>
typename family_impl<Series>::handle family_impl<Series>::handle_for(const label_key& k) {
    read_section section(gate_);
    return handle(series_ptr<Series>(find_or_create(k)));
}

template <class Series>
bool family_impl<Series>::remove_key(const label_key& key) {
    {
        lock_guard lock(mu_);
        Series* s = table_.find(key);
        if (!s) return false;
        table_.erase(s);
        order_.remove(s);
        retired_.push_back(s);
    }
    reclaim();
    return true;
}

template <class Series>
Series* family_impl<Series>::create(const label_key& k) {
    pod_vector<string_ref> overflow_values;
    for (std::size_t i = 0; i < label_names().size(); ++i) overflow_values.push_back(overflow_label_value);
    const span<const string_ref> overflow_view{overflow_values.data(), overflow_values.size()};
    const label_key overflow{overflow_view, hash_values(overflow_view)};
    Series* fresh = nullptr;
    bool fresh_is_overflow = false, counted = false;
    struct drop {
        Series*& s;
        ~drop() {
            if (s) s->release();
        }
    } dropper{fresh};
    for (;;) {
        bool want_overflow = false;
        {
            lock_guard lock(mu_);
            if (Series* s = table_.find(k)) return s;
            if (order_.size() >= series_limit()) [[unlikely]] {
                if (!counted) count_rejection();
                counted = true;
                if (Series* s = table_.find(overflow)) return s;
                want_overflow = true;
            }
            if (fresh && fresh_is_overflow == want_overflow) {
                insert_locked(fresh);
                Series* s = fresh;
                fresh = nullptr;
                return s;
            }
        }
        if (fresh) fresh->release();
        fresh = nullptr;
        fresh = new Series(params_, label_names(), want_overflow ? overflow : k);
        fresh_is_overflow = want_overflow;
    }
}

template <class Series>
void family_impl<Series>::insert_locked(Series* s) {
    // Room for the push_backs below, so that nothing throws once the series is in the table;
    // grown geometrically (reserve(size + 1) would copy the whole vector on every creation).
    if (order_.size() == order_.capacity()) order_.reserve(order_.size() * 2 + 8);
    // Likewise for an outgrown table: freeing it early (because keeping it failed) could pull
    // it from under a lock-free reader.
    retired_tables_.reserve(retired_tables_.size() + 1);
    void* old = table_.insert(s);
    order_.push_back(s);
    if (old) retired_tables_.push_back(old);
}

template <class Series>
void family_impl<Series>::reclaim() {
    pod_vector<Series*> series;
    pod_vector<void*> tables;
    {
        lock_guard lock(mu_);
        if (retired_.empty() && retired_tables_.empty()) return;
        series.swap(retired_);
        tables.swap(retired_tables_);
    }
    if (gate_.synchronize()) {
        for (Series* s : series) s->release();
        for (void* t : tables) series_table<Series>::destroy(t);
        return;
    }
    lock_guard lock(mu_);  // not yet: keep them for the next attempt
    try {
        retired_.append(series.data(), series.size());
        retired_tables_.append(tables.data(), tables.size());
    } catch (...) {
        // Out of memory: what could not be kept is leaked, never freed under a reader.
    }
}

template <class Series>
void family_impl<Series>::emit(sample_visitor& v, Series& s) {
    if constexpr (requires { s.emit_locked(v); }) {  // kinds that know their own visitor call
        s.emit_locked(v);
    } else if constexpr (std::is_same_v<Series, histogram_series>) {
        scratch_.resize(s.bucket_count());
        const span<std::uint64_t> cumulative{scratch_.data(), scratch_.size()};
        const double sum = s.read(cumulative);
        if (!s.exemplars().any()) return v.histogram_sample(s.view(), cumulative, sum, {});
        exemplar_scratch_.resize(s.bucket_count());
        exemplar_ptrs_.assign(s.bucket_count(), nullptr);
        for (std::size_t i = 0; i < s.bucket_count(); ++i)
            if (s.exemplars().load(i, exemplar_scratch_[i])) exemplar_ptrs_[i] = &exemplar_scratch_[i];
        v.histogram_sample(s.view(), cumulative, sum, {exemplar_ptrs_.data(), exemplar_ptrs_.size()});
    } else if constexpr (std::is_same_v<Series, gauge_series>) {
        v.gauge_sample(s.view(), s.read());
    } else {
        if (s.exemplars().any()) {  // the scratch is touched only for a counter that has one
            exemplar_scratch_.resize(1);
            if (s.exemplars().load(0, exemplar_scratch_[0]))
                return v.counter_sample(s.view(), s.read(), &exemplar_scratch_[0]);
        }
        v.counter_sample(s.view(), s.read(), nullptr);
    }
}
#endif  // !VITALS_EXTERN_TEMPLATES

}  // namespace detail

/// A metric family: every series of one metric. `Series` is the metric kind; `Labels` the label
/// names, fixed at compile time (labels<...>) or given at registration (dynamic_labels). All but
/// the checks of label values is detail::family_impl<Series>, shared by every label set.
template <class Series, label_set Labels>
class metric_family final : private detail::label_name_store<Labels>, public detail::family_impl<Series> {
    using impl = detail::family_impl<Series>;
    using store = detail::label_name_store<Labels>;
    static constexpr bool dynamic = store::dynamic;

public:
    using typename impl::handle;
    using typename impl::scoped;

    metric_family(string_ref name, string_ref help, typename Series::params params)
        requires(!dynamic)
        : impl(name, help, store::label_name_span(), static_cast<typename Series::params&&>(params)) {}
    /// A dynamic_labels family: `names` checked (invalid_argument_error), none of `reserved`.
    metric_family(string_ref name, string_ref help, typename Series::params params, span<const string_ref> names,
                  span<const string_ref> reserved = {})
        requires(dynamic)
        : store(name, names, reserved),
          impl(name, help, store::label_name_span(), static_cast<typename Series::params&&>(params)) {}

    /// A handle to the series with these label values, created (at zero) if it does not exist.
    /// Exactly one value per label, in declaration order; anything convertible to string_view.
    template <class... V>
    handle with(const V&... values) {
        check_arity<sizeof...(V)>();
        detail::normalized_values<sizeof...(V)> key(values...);
        return this->handle_for(key.key());
    }

    /// A scoped reference to the series with these label values (see `scoped`); the fastest way
    /// to update a series by runtime label values.
    template <class... V>
    scoped labels(const V&... values) {
        check_arity<sizeof...(V)>();
        detail::normalized_values<sizeof...(V)> key(values...);
        return this->scoped_for(key.key());
    }

    /// with() by named values: `with(vitals::label<"status">("200"), vitals::label<"method">("GET"))`.
    /// Every label of the family named once, in any order (checked at compile time).
    template <fixed_string... Given>
        requires(sizeof...(Given) > 0)
    handle with(const named_label_value<Given>&... values) {
        check_names<Given...>();
        detail::normalized_values<sizeof...(Given)> key(static_cast<Labels*>(nullptr), values...);
        return this->handle_for(key.key());
    }

    /// labels() by named values (see with()); as fast as the positional form.
    template <fixed_string... Given>
        requires(sizeof...(Given) > 0)
    scoped labels(const named_label_value<Given>&... values) {
        check_names<Given...>();
        detail::normalized_values<sizeof...(Given)> key(static_cast<Labels*>(nullptr), values...);
        return this->scoped_for(key.key());
    }

    /// with() for a dynamic_labels family, the values in a list whose length is known only at run
    /// time (one per label, in the registration's order; invalid_argument_error otherwise).
    handle with(span<const string_ref> values)
        requires(dynamic)
    {
        store::check_value_count(values.size(), this->name());
        detail::runtime_values key(values);
        return this->handle_for(key.key());
    }
    /// labels() for a dynamic_labels family, the values in a run-time list (see with()).
    scoped labels(span<const string_ref> values)
        requires(dynamic)
    {
        store::check_value_count(values.size(), this->name());
        detail::runtime_values key(values);
        return this->scoped_for(key.key());
    }
    /// remove() for a dynamic_labels family, the values in a run-time list.
    bool remove(span<const string_ref> values)
        requires(dynamic)
    {
        store::check_value_count(values.size(), this->name());
        detail::runtime_values key(values);
        return this->remove_key(key.key());
    }
    /// The list forms above for any range of strings (a std::vector<std::string>, say).
    template <class Range>
        requires dynamic && (!std::is_convertible_v<const Range&, span<const string_ref>>) && requires(const Range& r) {
            string_ref(*r.begin());
            r.begin() != r.end();
        }
    handle with(const Range& values) {
        const vitals::string_list views(values);
        return with(views.view());
    }
    template <class Range>
        requires dynamic && (!std::is_convertible_v<const Range&, span<const string_ref>>) && requires(const Range& r) {
            string_ref(*r.begin());
            r.begin() != r.end();
        }
    scoped labels(const Range& values) {
        const vitals::string_list views(values);
        return labels(views.view());
    }

    /// Removes the series with these label values; returns false if there was none. Handles to it
    /// keep working but are no longer rendered.
    template <class... V>
    bool remove(const V&... values) {
        check_arity<sizeof...(V)>();
        detail::normalized_values<sizeof...(V)> key(values...);
        return this->remove_key(key.key());
    }

    /// Info families: adds the series with these label values (nothing happens if it exists).
    template <class... V>
        requires(Series::type == metric_type::info)
    void set(const V&... values) {
        (void)labels(values...);
    }
    /// Info families: replaces every series with the one with these label values (information
    /// that changes, such as a reloaded configuration's hash).
    template <class... V>
        requires(Series::type == metric_type::info)
    void replace(const V&... values) {
        this->clear();
        set(values...);
    }

    /// Stateset families: the states, in declaration order.
    [[nodiscard]] auto states() const noexcept
        requires(Series::type == metric_type::stateset)
    {
        return this->params().states->names();
    }

    [[nodiscard]] bool same_definition(const family_base& other) const override {
        // The registry hands out an existing family as the requested type: same type first.
        const auto* o = dynamic_cast<const metric_family*>(&other);
        return o && this->same_parts(*o);
    }

private:
    template <std::size_t Given>
    void check_arity() const {
        store::template check_values<Given>(this->name());
    }
    template <fixed_string... Given>
    static constexpr void check_names() {
        if constexpr (dynamic) {
            static_assert(!dynamic && sizeof...(Given) == 0,
                          "vitals: named label values need the label names at compile time (labels<...>); "
                          "a dynamic_labels family takes positional values");
        } else {
            static_assert((Labels::contains(Given.view()) && ...),
                          "vitals: unknown label name: a named label value must name one of the family's labels");
            static_assert(detail::distinct_names<Given...>(), "vitals: a label is named twice");
            static_assert(sizeof...(Given) == Labels::size,
                          "vitals: wrong number of label values: name every label of the family once");
        }
    }
};

#if VITALS_COLD_DEFINED

VITALS_COLD std::uint64_t detail::repair_label_values(span<string_ref> views, repaired_label_values& out) {
    out.values_ = new text_buffer[views.size()];
    for (std::size_t i = 0; i < views.size(); ++i) {
        if (is_valid_utf8(views[i])) continue;
        out.values_[i] = to_valid_utf8(views[i]);
        views[i] = out.values_[i].view();
    }
    return hash_values({views.data(), views.size()});
}

VITALS_COLD family_base::family_base(string_ref name, string_ref help, metric_type type, span<const string_ref> names)
    : name_(name), help_(detail::to_valid_utf8(help)), type_(type), label_names_(names) {}

VITALS_COLD void family_base::set_unit(string_ref unit) {
    // A counter's unit comes before its `_total`, as OpenMetrics names the family without it.
    const string_ref base =
        type_ == metric_type::counter && name().ends_with("_total") ? name().substr(0, name_.size() - 6) : name();
    if (!unit.empty() &&
        !(base.size() > unit.size() && base.ends_with(unit) && base[base.size() - unit.size() - 1] == '_'))
        throw invalid_argument_error("vitals: unit '", unit, "' must be a suffix of '", name(),
                                     "' after an underscore");
    unit_ = text_buffer(unit);
}

VITALS_COLD void family_base::apply_const_labels(span<const label_pair> labels) {
    const_labels_.clear();
    const_block_.clear();
    for (const auto& [k, v] : labels) {
        bool overridden = false;
        for (auto n : label_names_) overridden |= (n == k);
        if (overridden) continue;
        if (!const_block_.empty()) const_block_ += ',';
        const_block_ += k;
        const_block_ += "=\"";
        detail::append_escaped_label_value(const_block_, v);
        const_block_ += '"';
        const_labels_.add(k, v);
    }
}

VITALS_COLD text_buffer family_base::definition_difference(const family_base& other) const {
    text_buffer d = common_difference(other);
    if (d.empty() && !same_definition(other)) d = detail::definition_field("definition", kind(), other.kind());
    return d;
}

VITALS_COLD text_buffer family_base::common_difference(const family_base& other) const {
    if (kind() != other.kind()) return detail::definition_field("kind", kind(), other.kind());
    if (!detail::same_names(label_names(), other.label_names()))
        return detail::definition_field("label names", detail::name_list(label_names()).view(),
                                        detail::name_list(other.label_names()).view());
    if (help() != other.help())
        return detail::definition_field("help", detail::quoted(help()).view(), detail::quoted(other.help()).view());
    return {};
}

#endif  // VITALS_COLD_DEFINED

}  // namespace vitals
