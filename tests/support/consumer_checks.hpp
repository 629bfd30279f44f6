// GoogleTest checks of an exposition by its real consumers: the Python client's strict OpenMetrics
// parser and promtool. A missing consumer fails the test (CI installs both).
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "openmetrics.hpp"
#include "promtool.hpp"

namespace vitals_test {

inline void expect_openmetrics_parses(const std::string& text) {
    const auto p = openmetrics_check(text);
    ASSERT_FALSE(p.parser_missing) << "install Debian's python3-prometheus-client: " << p.output;
    EXPECT_TRUE(p.ok) << p.output << "\n--- exposition ---\n" << text;
}

inline void expect_promtool_accepts(const std::string& text) {
    const auto r = promtool_check(text);
    ASSERT_NE(r.exit_code, 127) << "promtool not found";
    EXPECT_EQ(r.exit_code, 0) << r.output << "\n--- exposition ---\n" << text;
}

}  // namespace vitals_test
