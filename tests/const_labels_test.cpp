// core/const_labels.hpp: the label pairs a registry adds to every series.
#include <gtest/gtest.h>

#include <cstdlib>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <vitals/core/const_labels.hpp>
#include <vitals/core/registry.hpp>

using vitals::const_labels;

namespace {

std::vector<std::pair<std::string, std::string>> contents(const const_labels& l) {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& [name, value] : l) out.emplace_back(name, value);
    return out;
}

TEST(const_labels, keeps_pairs_in_order_and_owns_them) {
    std::string value = "api";
    const_labels l{{"service", value}};
    l.add("environment", std::string("staging"));
    value = "changed";  // the list copied it
    using pairs = std::vector<std::pair<std::string, std::string>>;
    EXPECT_EQ(contents(l), (pairs{{"service", "api"}, {"environment", "staging"}}));
    EXPECT_EQ(l.pairs().size(), 2u);
    EXPECT_EQ(l[1].name, "environment");
}

TEST(const_labels, from_standard_containers_of_pairs) {
    const std::vector<std::pair<std::string, std::string>> v{{"a", "1"}, {"b", "2"}};
    const std::map<std::string, std::string> m{{"z", "26"}, {"y", "25"}};
    EXPECT_EQ(contents(const_labels(v)), v);
    EXPECT_EQ(contents(const_labels(m)), (std::vector<std::pair<std::string, std::string>>{{"y", "25"}, {"z", "26"}}));
}

TEST(const_labels, copies_are_deep_and_set_value_replaces_one) {
    const_labels a{{"service", "api"}, {"region", "eu"}};
    const_labels b = a;
    b.set_value(0, "worker");
    EXPECT_EQ(a[0].value, "api");
    EXPECT_EQ(b[0].value, "worker");
    EXPECT_EQ(b[0].name, "service");
    const_labels c = std::move(b);
    EXPECT_EQ(c.size(), 2u);
    a = c;
    EXPECT_EQ(a[0].value, "worker");
    a.clear();
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(c[1].value, "eu");
}

// The name passed to service_started() and the const label come from the same variable, so
// uptime_seconds{service} cannot disagree with the service label of the http_* series.
TEST(const_labels, service_name_from_env_agrees_with_the_const_label) {
    auto service_label = [] {
        for (const auto& [name, value] : vitals::const_labels_from_env("api", "development"))
            if (name == "service") return std::string(value);
        return std::string();
    };
    ::unsetenv("SERVICE_NAME");
    EXPECT_EQ(vitals::service_name_from_env("api"), "api");
    EXPECT_TRUE(vitals::service_name_from_env().empty());
    EXPECT_EQ(service_label(), "api");
    ::setenv("SERVICE_NAME", "", 1);  // set but empty: the fallback, as for the const label
    EXPECT_EQ(vitals::service_name_from_env("api"), "api");
    EXPECT_EQ(service_label(), "api");
    ::setenv("SERVICE_NAME", "archon72-api", 1);
    EXPECT_EQ(vitals::service_name_from_env("api"), "archon72-api");
    EXPECT_EQ(service_label(), "archon72-api");
    ::unsetenv("SERVICE_NAME");
}

}  // namespace
