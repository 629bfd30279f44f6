// Every public options struct, set the way the docs set them: designated initializers naming one
// field. The build uses -Wall -Wextra -Werror, so a member without a default initializer (which
// GCC reports as a missing field initializer) fails this file's build; the cases check that the
// fields left out keep their documented defaults.
#include <gtest/gtest.h>

#include <vitals/core/native_histogram.hpp>
#include <vitals/core/summary.hpp>
#include <vitals/exposition/openmetrics.hpp>
#include <vitals/health/checks.hpp>
#include <vitals/health/handler.hpp>
#include <vitals/health/probe.hpp>
#include <vitals/vitals.hpp>

using namespace std::chrono_literals;
namespace h = vitals::health;

TEST(Options, CoreOptionsKeepTheirDefaults) {
    const vitals::summary_options s{.age_buckets = 2};
    EXPECT_EQ(s.max_age, 600s);
    const vitals::native_histogram_options n{.max_buckets = 20};
    EXPECT_EQ(n.bucket_factor, 1.1);
    EXPECT_TRUE(n.classic_buckets.empty());
    const vitals::exposition_options e{.created = true};
    EXPECT_TRUE(e.created);
}

TEST(Options, HealthOptionsKeepTheirDefaults) {
    const h::redis_options r{.port = 6380};
    EXPECT_EQ(r.host, "127.0.0.1");
    EXPECT_TRUE(r.username.empty());
    EXPECT_TRUE(r.password.empty());
    const h::postgres_options p{.password = "secret"};
    EXPECT_EQ(p.user, "postgres");
    EXPECT_TRUE(p.database.empty());
    EXPECT_FALSE(p.allow_cleartext);
    const h::check_options c{.critical = false};
    EXPECT_EQ(c.timeout, 2s);
    EXPECT_EQ(c.interval, 5s);
    const h::probe_options o{.max_workers = 2};
    EXPECT_EQ(o.shutdown_grace, 200ms);
    const h::handler_options ho{.expose_details = true};
    EXPECT_EQ(ho.ready_label, "readyz");
}
