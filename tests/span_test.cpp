// base/span.hpp: the list view vitals' API takes (buckets, quantiles, states) and hands to
// exposition formats.
#include <gtest/gtest.h>

#include <array>
#include <numeric>
#include <span>
#include <vector>

#include <vitals/base/span.hpp>

using vitals::span;

namespace {

double total(span<const double> values) { return std::accumulate(values.begin(), values.end(), 0.0); }

TEST(span, views_standard_containers_arrays_and_braced_lists) {
    std::vector<double> v{1, 2, 3};
    const std::array<double, 2> a{10, 20};
    const double c[] = {100, 200, 300, 400};
    EXPECT_EQ(total(v), 6);
    EXPECT_EQ(total(a), 30);
    EXPECT_EQ(total(c), 1000);
    EXPECT_EQ(total({0.5, 0.25}), 0.75);
    EXPECT_EQ(total(std::span<const double>(v)), 6);
    EXPECT_EQ(span<const double>(v).data(), v.data());  // a view, not a copy
}

TEST(span, writes_through_to_the_viewed_values) {
    std::vector<int> v(4, 0);
    span<int> s = v;
    for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<int>(i * i);
    EXPECT_EQ(v, (std::vector<int>{0, 1, 4, 9}));
    span<const int> read_only = s;  // span<T> converts to span<const T>
    EXPECT_EQ(read_only.back(), 9);
}

TEST(span, subspans) {
    const int values[] = {1, 2, 3, 4, 5};
    const span<const int> s = values;
    EXPECT_EQ(s.subspan(3).size(), 2u);
    EXPECT_EQ(s.subspan(3).front(), 4);
    EXPECT_EQ(s.subspan(1, 2).back(), 3);
    EXPECT_EQ(s.first(2).back(), 2);
    EXPECT_TRUE(s.subspan(5).empty());
    EXPECT_TRUE(span<const int>().empty());
}

TEST(span, is_a_contiguous_range_for_std_span) {
    const int values[] = {7, 8};
    const span<const int> s = values;
    const std::span<const int> std_span = s;
    EXPECT_EQ(std_span.size(), 2u);
    EXPECT_EQ(std_span.data(), values);
}

}  // namespace
