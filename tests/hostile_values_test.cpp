// Hostile values, swept: seeded random streams of the inputs that break expositions (negative,
// NaN, ±Inf, ±0, subnormals, 2^53 and 2^64 neighbours, bucket boundaries, NUL and invalid UTF-8 in
// labels and exemplars, callbacks that lie or throw, series past their limit) drive every metric
// kind (tests/support/hostile_workload.hpp), and every render must be accepted by the real
// consumers: the Python client's strict OpenMetrics parser, promtool for text 0.0.4, and the
// protobuf decoder. The fuzz target hostile_values_fuzz checks the same with the in-process
// OpenMetrics checker; the first tests here prove that checker rejects every kind of body the
// Python parser rejects and agrees with it on every render of the sweep.
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/exposition/protobuf.hpp>
#include <vitals/vitals.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "support/exposition_reader.hpp"
#include "support/hostile_workload.hpp"
#include "support/openmetrics.hpp"
#include "support/openmetrics_reader.hpp"
#include "support/promtool.hpp"
#include "support/protobuf_decode.hpp"
#include "support/sanitizers.hpp"

namespace {

// Bodies the Python parser rejects, one per rule it enforces.
const std::vector<std::string> invalid_bodies = {
    "a_total 1\n",                                                                 // no # EOF
    "# TYPE a counter\na_total 1\n# EOF\nb 1\n",                                   // line after # EOF
    "# TYPE a counter\n\na_total 1\n# EOF\n",                                      // blank line
    "# TYPE a counter\na_total -1\n# EOF\n",                                       // negative counter
    "# TYPE a counter\na_total NaN\n# EOF\n",                                      // NaN counter
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum NaN\n# EOF\n",  // NaN sum
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum -2\n# EOF\n",   // negative sum
    "# TYPE h histogram\nh_bucket{le=\"-1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum 1\n# EOF\n",  // sum, neg buckets
    "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_count 1\nh_sum 1\n# EOF\n",                            // no +Inf
    "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",  // not cumulative
    "# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",  // le order
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 1\nh_sum 1\n# EOF\n",        // count != +Inf
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n# EOF\n",                 // _count without _sum
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\n# EOF\n",                   // _sum without _count
    "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n",                          // fractional bucket
    "# TYPE h histogram\nh_bucket{le=\"NaN\"} 1\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",    // NaN le
    "# TYPE h histogram\nh_bucket{le=\"Inf\"} 1\n# EOF\n",                             // uncanonical +Inf
    "# TYPE s summary\ns{quantile=\"0.5\"} -1\n# EOF\n",                               // negative quantile value
    "# TYPE s summary\ns{quantile=\"1.5\"} 1\n# EOF\n",                                // quantile out of range
    "# TYPE s summary\ns_count 1\ns_sum -1\n# EOF\n",                                  // negative summary sum
    "# TYPE i info\ni_info 2\n# EOF\n",                                                // info not 1
    "# TYPE m stateset\nm{m=\"a\"} 2\n# EOF\n",                                        // stateset not 0/1
    "# TYPE m stateset\nm 1\n# EOF\n",                                                 // stateset without label
    "# TYPE g gauge\ng 1 # {a=\"b\"} 1\n# EOF\n",                                      // exemplar on a gauge
    "# TYPE a counter\na_total 1 # {a=\"" + std::string(130, 'x') + "\"} 1\n# EOF\n",  // exemplar too long
    "# TYPE a counter\na_total 1 # {a=\"}\"} 1\n# EOF\n",                              // '}' in an exemplar value
    "# TYPE a counter\n# TYPE a counter\na_total 1\n# EOF\n",                          // two TYPEs
    "# HELP a x\n# HELP a y\n# EOF\n",                                                 // two HELPs
    "# TYPE a counter\na_total 1\n# HELP a late\n# EOF\n",                             // metadata after samples
    "# TYPE a counter\na_total 1\n# TYPE b gauge\nb 1\n# TYPE a counter\na_total 2\n# EOF\n",  // clashing name
    "# TYPE a counter\n# UNIT a seconds\na_total 1\n# EOF\n",                                  // unit not a suffix
    "# TYPE a untyped\na 1\n# EOF\n",                                     // untyped is not OpenMetrics
    "# TYPE g gauge\ng{a=\"1\"} 1\ng{a=\"2\"} 1\ng{a=\"1\"} 2\n# EOF\n",  // interleaved groups
    "# TYPE g gauge\ng{a=\"1\",a=\"2\"} 1\n# EOF\n",                      // duplicate label
    "# TYPE g gauge\ng 1 \n# EOF\n",                                      // trailing space
    "# TYPE g gauge\ng one\n# EOF\n",                                     // bad value
};

// Bodies both accept: the forms vitals relies on.
const std::vector<std::string> valid_bodies = {
    "# EOF\n",
    "# HELP a_seconds x \\\" \\\\ \\n\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1 # "
    "{trace_id=\"x\"} 0.5 1.25\na_seconds_created 1.5\n# EOF\n",
    "# TYPE h histogram\nh_bucket{le=\"-1\"} 0\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",  // negative buckets, no sum
    "# TYPE g gauge\ng{a=\"\\\"\\n\\\\\"} -Inf\ng{a=\"2\"} NaN\ng{a=\"3\"} -0\n# EOF\n",
    "# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns_count 0\ns_sum 0\n# EOF\n",
};

}  // namespace

TEST(HostileValues, CheckerRejectsEveryKindOfBodyThePythonParserRejects) {
    std::vector<std::string> all = invalid_bodies;
    all.insert(all.end(), valid_bodies.begin(), valid_bodies.end());
    const auto verdicts = vitals_test::openmetrics_check_many(all);
    ASSERT_FALSE(verdicts[0].parser_missing) << "install Debian's python3-prometheus-client: " << verdicts[0].output;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const bool valid = i >= invalid_bodies.size();
        const std::string mine = vitals_test::check_openmetrics(all[i]);
        EXPECT_EQ(verdicts[i].ok, valid) << "python: " << verdicts[i].output << "\n--- body ---\n" << all[i];
        EXPECT_EQ(mine.empty(), valid) << "checker: " << mine << "\n--- body ---\n" << all[i];
    }
}

TEST(HostileValues, EveryRenderOfARandomSweepIsAcceptedByEveryConsumer) {
    const int workloads = vitals_test::under_sanitizer ? 150 : 600;
    std::mt19937_64 rng(20261202);
    std::vector<std::string> openmetrics;
    std::uint64_t refused = 0;
    int promtool_runs = 0;
    for (int w = 0; w < workloads; ++w) {
        std::string bytes(64 + rng() % 2048, '\0');
        for (char& c : bytes) c = static_cast<char>(rng());
        vitals_test::hostile_workload load;
        load.apply(bytes);
        refused += load.refused;
        const vitals::registry& r = load.registry();

        vitals::exposition_options opt;
        opt.created = (w & 1) != 0;
        std::string om = vitals::render_openmetrics(r, opt);
        const std::string mine = vitals_test::check_openmetrics(om);
        EXPECT_TRUE(mine.empty()) << "workload " << w << ": " << mine << "\n" << om;

        const std::string text = vitals::render_text(r);
        const auto parsed = vitals_test::read_text_exposition(text);
        EXPECT_TRUE(parsed.ok()) << "workload " << w << ": " << parsed.error << "\n" << text;
        if (w % 20 == 0) {
            const auto t = vitals_test::promtool_check(text);
            ASSERT_NE(t.exit_code, 127) << "promtool not found";
            EXPECT_EQ(t.exit_code, 0) << "workload " << w << ": " << t.output << "\n" << text;
            ++promtool_runs;
        }
        EXPECT_NO_THROW(vitals_test::pb::decode_families(vitals::render_protobuf(r, opt))) << "workload " << w;
        openmetrics.push_back(static_cast<std::string&&>(om));
    }
    const auto verdicts = vitals_test::openmetrics_check_many(openmetrics);
    ASSERT_FALSE(verdicts.empty());
    ASSERT_FALSE(verdicts[0].parser_missing) << "install Debian's python3-prometheus-client: " << verdicts[0].output;
    int rejected = 0;
    for (std::size_t i = 0; i < verdicts.size(); ++i)
        if (!verdicts[i].ok && ++rejected <= 5)
            ADD_FAILURE() << "workload " << i << ": " << verdicts[i].output << "\n" << openmetrics[i];
    EXPECT_EQ(rejected, 0);
    // The sweep reached the refusals it is about (NUL in exemplars, negative increments, ...).
    EXPECT_GT(refused, 0u);
    EXPECT_GT(promtool_runs, 0);
    std::printf("%d workloads, %zu OpenMetrics renders parsed, %llu operations refused, %d promtool runs\n", workloads,
                openmetrics.size(), static_cast<unsigned long long>(refused), promtool_runs);
}
