// Must not compile: a visitor (a format of one's own) that leaves a metric kind out. The set of
// kinds is closed, so forgetting summaries is a compile error, not a render that drops them.
#include <vitals/vitals.hpp>
struct my_format : vitals::sample_visitor {
    void begin_family(const vitals::family_header&) override {}
    void continue_family(const vitals::family_header&) override {}
    void end_family() override {}
    void counter_sample(vitals::series_view, const vitals::counter_value&, const vitals::exemplar*) override {}
    void gauge_sample(vitals::series_view, double) override {}
    void histogram_sample(vitals::series_view, vitals::span<const std::uint64_t>, double,
                          vitals::span<const vitals::exemplar* const>) override {}
#ifdef VITALS_CONTROL
    void summary_sample(vitals::series_view, vitals::span<const vitals::quantile_value>, double,
                        std::uint64_t) override {}
#endif
    void native_histogram_sample(vitals::series_view, const vitals::native_histogram_data&,
                                 vitals::span<const vitals::exemplar* const>) override {}
    void info_sample(vitals::series_view) override {}
    void stateset_sample(vitals::series_view, vitals::span<const vitals::string_ref>, vitals::span<const bool>,
                         vitals::span<const vitals::series_view>) override {}
};
int main() {
    vitals::registry r;
    my_format f;
    r.collect(f);
}
