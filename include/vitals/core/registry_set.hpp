// vitals — several registries served from one endpoint as one exposition.
//
// An ops endpoint often serves more than one registry: the service's own metrics and, say, the
// process collector's. Rendering them one after the other would give two `# EOF` lines in
// OpenMetrics and, where both define a family, two HELP/TYPE blocks of one name, which strict
// consumers reject. A registry_set renders its registries as one: a family defined alike in
// several of them is rendered once, with every registry's series under it; a family that another
// registry of the set defines differently is refused when the set is built and, if it appears
// later, left out of the render and named in a self-metric, so that one bad definition never
// costs the whole scrape.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include "../base/error.hpp"
#include "family.hpp"
#include "metric_source.hpp"
#include "registry.hpp"
#include "series.hpp"
#include "../base/span.hpp"
#include "../base/string_ref.hpp"

namespace vitals {

/// Several registries rendered as one exposition (one `# EOF`, each family once). It refers to
/// the registries, which must outlive it, and holds no lock or state of its own while it renders:
/// a render pins each member (a read section, so unregister() frees nothing it may still read),
/// copies their family lists and works out what to render from them.
///
/// Merging: a family whose name several registries use is rendered once when every one of them
/// defines it alike (type, label names, buckets or quantiles, help and unit) *and* the registries'
/// const labels tell its series apart (the same labels in two registries would render one series
/// twice). Any other shared name, including a sample name one family exposes and another uses
/// (`x` as a histogram and `x_count` as a gauge), is a conflict: the first registry given wins.
///
/// Conflicts: the constructor throws registration_error naming the metric, the registries and
/// why. A conflict that only appears later (a family registered after the set was built) cannot
/// be refused there: the render leaves the later family out and renders the gauge
/// `vitals_conflicting_definitions{metric="<name>"} 1`, and check() throws the error on demand.
class registry_set final : public metric_source {
public:
    /// The set of `first` and `more`, rendered in that order. Throws invalid_argument_error when a
    /// registry is given twice, and registration_error when two registries define a name
    /// differently (see the class comment).
    template <class... More>
        requires(std::is_same_v<More, registry> && ...)
    explicit registry_set(const registry& first, const More&... more) : members_{&first, &more...} {
        init();
    }

    /// The set of registries given at run time (none may be null); throws as above, and
    /// invalid_argument_error for an empty list.
    explicit registry_set(span<const registry* const> members) : members_(members.begin(), members.end()) { init(); }

    registry_set(const registry_set&) = delete;
    registry_set& operator=(const registry_set&) = delete;

    /// Renders every member's families, merged as the class comment says, then the members'
    /// series limit rejections as one family, then `vitals_conflicting_definitions` when any
    /// family was left out.
    void collect(sample_visitor& v) const override {
        const member_pins pins(members_);
        const plan p = make_plan();
        merging_visitor out(v);
        for (const step& s : p.steps) {
            if (s.continues)
                out.continue_next();
            else
                out.begin_next();
            s.family->collect(out);
        }
        out.finish();
        bool begun = false;
        for (std::size_t m = 0; m < members_.size(); ++m) {
            const span<family_base* const> families{p.families.data() + p.member_begin[m],
                                                    p.member_begin[m + 1] - p.member_begin[m]};
            begun = members_[m]->collect_rejections(v, families, begun, [&p](const family_base* f) {
                return std::find(p.left_out.begin(), p.left_out.end(), f) == p.left_out.end();
            });
        }
        if (begun) v.end_family();
        collect_conflicts(v, p);
    }

    /// Throws registration_error describing the first conflict among the members' families as
    /// they are now; does nothing when there is none.
    void check() const {
        const member_pins pins(members_);
        const plan p = make_plan();
        if (!p.first_conflict.empty()) throw registration_error(p.first_conflict);
    }

    /// The number of registries in the set.
    [[nodiscard]] std::size_t size() const noexcept { return members_.size(); }

private:
    // One family's turn in a render; `continues` merges it into the family rendered before it.
    struct step {
        family_base* family;
        bool continues;
    };

    // What one render works from: every member's families, member by member, and the order to
    // render them in.
    struct plan {
        std::vector<family_base*> families;
        std::vector<std::size_t> member_of;     // families[i] belongs to members_[member_of[i]]
        std::vector<std::size_t> member_begin;  // members_[m]'s families start at member_begin[m]
        std::vector<step> steps;
        std::vector<const family_base*> left_out;
        std::vector<std::string> left_out_names;  // sorted, each once
        std::string first_conflict;
    };

    // A read section of every member for the render's length: what the render copied from a
    // member's family list stays alive until it ends. No lock is held meanwhile, so the set adds
    // no lock-order edge between registries (fork()'s handlers take them one registry after
    // another) and two sets over the same registries never wait for each other.
    class member_pins {
    public:
        explicit member_pins(const std::vector<const registry*>& members) : m_(members), epochs_(members.size()) {
            for (std::size_t i = 0; i < m_.size(); ++i) epochs_[i] = m_[i]->set_readers_.enter();
        }
        ~member_pins() {
            for (std::size_t i = 0; i < m_.size(); ++i) m_[i]->set_readers_.leave(epochs_[i]);
        }
        member_pins(const member_pins&) = delete;
        member_pins& operator=(const member_pins&) = delete;

    private:
        const std::vector<const registry*>& m_;
        std::vector<std::uint32_t> epochs_;
    };

    // Passes every call on, except that a family merged into the previous one continues it
    // (continue_family instead of begin_family) and the previous one's end_family is held back
    // until it is known that nothing continues it.
    class merging_visitor final : public forwarding_visitor {
    public:
        explicit merging_visitor(sample_visitor& to) : forwarding_visitor(to) {}
        void begin_next() {
            finish();
            continuing_ = false;
        }
        void continue_next() { continuing_ = open_; }
        void finish() {
            if (open_) target().end_family();
            open_ = false;
        }

        void begin_family(const family_header& h) override {
            if (continuing_)
                target().continue_family(h);
            else
                target().begin_family(h);
            open_ = true;
        }
        void end_family() override {}  // finish() or the next begin_next() ends it

    private:
        bool open_ = false;
        bool continuing_ = false;
    };

    void init() {
        if (members_.empty()) throw invalid_argument_error("vitals: a registry_set needs at least one registry");
        for (std::size_t i = 0; i < members_.size(); ++i) {
            if (!members_[i]) throw invalid_argument_error("vitals: a registry_set's registry is null");
            for (std::size_t j = 0; j < i; ++j)
                if (members_[j] == members_[i])
                    throw invalid_argument_error("vitals: registry #", detail::decimal(j + 1),
                                                 " is given to a registry_set twice");
        }
        check();
    }

    // FNV-1a of a sample name's bytes, base then suffix.
    static std::uint64_t hash_of(const detail::sample_name& n) noexcept {
        std::uint64_t h = 14695981039346656037ull;
        for (string_ref part : {n.base, n.suffix})
            for (char c : part) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
        return h;
    }

    plan make_plan() const {
        plan p;
        p.member_begin.push_back(0);
        for (std::size_t m = 0; m < members_.size(); ++m) {
            detail::lock_guard lock(members_[m]->mu_);
            for (family_base* f : members_[m]->families_) {
                p.families.push_back(f);
                p.member_of.push_back(m);
            }
            p.member_begin.push_back(p.families.size());
        }
        const std::size_t n = p.families.size();

        // Families that share a sample name, found by sorting the hashes of every name each one
        // exposes: few families share one, so only those pairs are looked at below.
        struct named {
            std::uint64_t hash;
            std::size_t entry;
            int index;  // in the entry's sample_name_set
        };
        std::vector<named> names;
        names.reserve(n * 2);
        for (std::size_t e = 0; e < n; ++e) {
            const detail::sample_name_set set(*p.families[e]);
            for (int i = 0; i < set.count; ++i) names.push_back({hash_of(set.names[i]), e, i});
        }
        std::sort(names.begin(), names.end(), [](const named& a, const named& b) {
            return a.hash != b.hash ? a.hash < b.hash : a.entry < b.entry;
        });
        struct pair {
            std::size_t later, earlier;
        };
        std::vector<pair> shared;
        for (std::size_t a = 0; a < names.size();) {
            std::size_t b = a + 1;
            while (b < names.size() && names[b].hash == names[a].hash) ++b;
            for (std::size_t j = a + 1; j < b; ++j)
                for (std::size_t i = a; i < j; ++i) {
                    if (names[i].entry == names[j].entry) continue;
                    const detail::sample_name_set x(*p.families[names[i].entry]), y(*p.families[names[j].entry]);
                    if (x.names[names[i].index] == y.names[names[j].index])
                        shared.push_back({names[j].entry, names[i].entry});
                }
            a = b;
        }
        std::sort(shared.begin(), shared.end(), [](const pair& x, const pair& y) {
            return x.later != y.later ? x.later < y.later : x.earlier < y.earlier;
        });

        // In registration order, first come first served: a family is kept when every earlier
        // kept family it shares a name with is the same family defined alike in a registry whose
        // const labels differ; it then renders right after the first of them.
        std::vector<char> kept(n, 1);
        std::vector<std::size_t> primary(n);
        for (std::size_t e = 0; e < n; ++e) primary[e] = e;
        for (std::size_t k = 0; k < shared.size(); ++k) {
            const std::size_t e = shared[k].later, q = shared[k].earlier;
            if (!kept[e] || !kept[q] || (k > 0 && shared[k - 1].later == e && shared[k - 1].earlier == q)) continue;
            std::string why = conflict(p, q, e);
            if (why.empty()) {
                primary[e] = std::min(primary[e], primary[q]);
                continue;
            }
            kept[e] = 0;
            p.left_out.push_back(p.families[e]);
            if (p.first_conflict.empty()) p.first_conflict = static_cast<std::string&&>(why);
        }

        std::vector<pair> order;  // (primary, entry): each kept family, followed by those merged into it
        for (std::size_t e = 0; e < n; ++e)
            if (kept[e]) order.push_back({primary[e], e});
        std::sort(order.begin(), order.end(), [](const pair& x, const pair& y) {
            return x.later != y.later ? x.later < y.later : x.earlier < y.earlier;
        });
        for (const pair& o : order) p.steps.push_back({p.families[o.earlier], o.later != o.earlier});

        for (const family_base* f : p.left_out) p.left_out_names.emplace_back(f->name().data(), f->name().size());
        std::sort(p.left_out_names.begin(), p.left_out_names.end());
        p.left_out_names.erase(std::unique(p.left_out_names.begin(), p.left_out_names.end()), p.left_out_names.end());
        return p;
    }

    // Why the family at entry `later` cannot render beside the one at `earlier`, or empty when it
    // merges into it.
    [[nodiscard]] std::string conflict(const plan& p, std::size_t earlier, std::size_t later) const {
        const family_base& a = *p.families[earlier];
        const family_base& b = *p.families[later];
        const std::string ma = std::to_string(p.member_of[earlier] + 1);
        const std::string mb = std::to_string(p.member_of[later] + 1);
        auto message = [&](const auto&... why) {
            std::string out;
            for (string_ref part : {string_ref("vitals: metric '"), b.name(), string_ref("' of registry #"),
                                    string_ref(mb), string_ref(" in a registry_set "), string_ref(why)...})
                out.append(part.data(), part.size());
            return out;
        };
        if (a.name() != b.name()) {
            const detail::sample_name_set mine(b), theirs(a);
            const detail::sample_name* clash = mine.shared_with(theirs);
            return message("would expose '", clash ? clash->base : b.name(), clash ? clash->suffix : string_ref{},
                           "', which '", a.name(), "' of registry #", ma, " exposes");
        }
        if (!a.same_definition(b)) {
            const text_buffer d = a.definition_difference(b);
            return message("is defined differently in registry #", ma, ": ", d.view());
        }
        if (a.unit() != b.unit())
            return message("is defined differently in registry #", ma, ": ",
                           detail::definition_field("unit", a.unit(), b.unit()).view());
        if (same_const_labels(*members_[p.member_of[earlier]], *members_[p.member_of[later]], b.label_names()))
            return message("is also in registry #", ma,
                           " with the same const labels, so their series would be rendered twice (give the "
                           "registries a const label that tells them apart)");
        return {};
    }

    // Whether two registries give a family's series the same const labels (those the family's own
    // labels do not override), as sets.
    [[nodiscard]] static bool same_const_labels(const registry& x, const registry& y, span<const string_ref> own) {
        auto overridden = [&](string_ref name) {
            for (string_ref n : own)
                if (n == name) return true;
            return false;
        };
        auto covered = [&](const registry& from, const registry& in) {
            for (const auto& [k, v] : from.labels()) {
                if (overridden(k)) continue;
                bool found = false;
                for (const auto& [k2, v2] : in.labels()) found |= (k2 == k && v2 == v);
                if (!found) return false;
            }
            return true;
        };
        return covered(x, y) && covered(y, x);
    }

    static void collect_conflicts(sample_visitor& v, const plan& p) {
        if (p.left_out_names.empty()) return;
        static constexpr string_ref names[] = {"metric"};
        family_header h;
        h.name = detail::conflicting_definitions_name;
        h.help =
            "Families left out of this endpoint because another registry served on it defines the same name "
            "differently (1 per name).";
        h.type = metric_type::gauge;
        h.label_names = names;
        v.begin_family(h);
        for (const std::string& name : p.left_out_names) {
            const string_ref value(name.data(), name.size());
            v.gauge_sample(detail::metric_label_series(value).view(), 1);
        }
        v.end_family();
    }

    std::vector<const registry*> members_;
};

}  // namespace vitals
