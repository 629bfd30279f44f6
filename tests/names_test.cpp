// Tests for vitals/core/names.hpp: metric and label name rules.
#include <vitals/core/names.hpp>

#include <gtest/gtest.h>

using namespace vitals;

TEST(Names, MetricNameRules) {
    EXPECT_TRUE(is_valid_metric_name("http_requests_total"));
    EXPECT_TRUE(is_valid_metric_name("job:rate5m"));
    EXPECT_TRUE(is_valid_metric_name("_x"));
    EXPECT_TRUE(is_valid_metric_name(":x9"));
    EXPECT_FALSE(is_valid_metric_name(""));
    EXPECT_FALSE(is_valid_metric_name("9lives"));
    EXPECT_FALSE(is_valid_metric_name("has-dash"));
    EXPECT_FALSE(is_valid_metric_name("has space"));
    EXPECT_FALSE(is_valid_metric_name("ünicode"));
}

TEST(Names, LabelNameRules) {
    EXPECT_TRUE(is_valid_label_name("method"));
    EXPECT_TRUE(is_valid_label_name("_private"));
    EXPECT_TRUE(is_valid_label_name("a1"));
    EXPECT_FALSE(is_valid_label_name("__reserved"));
    EXPECT_FALSE(is_valid_label_name("a:b"));  // colons are for metric names only
    EXPECT_FALSE(is_valid_label_name("1a"));
    EXPECT_FALSE(is_valid_label_name(""));
}

TEST(Names, RuntimeChecksThrowWithMessage) {
    EXPECT_NO_THROW(check_metric_name("ok_total"));
    try {
        check_metric_name("bad-name");
        FAIL() << "no exception";
    } catch (const invalid_argument_error& e) {
        EXPECT_NE(std::string(e.what()).find("bad-name"), std::string::npos);
    }
    EXPECT_THROW(check_label_name("__x"), invalid_argument_error);
}

TEST(Names, LabelsTypeKnowsItsNames) {
    using L = labels<"method", "endpoint", "status">;
    static_assert(L::size == 3);
    static_assert(L::contains("endpoint"));
    static_assert(!L::contains("le"));
    EXPECT_EQ(L::names[1], "endpoint");
    static_assert(labels<>::size == 0);
}
