// detail/pod_vector.hpp: the growable array behind the core's internal lists.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include <vitals/detail/pod_vector.hpp>

using vitals::detail::pod_vector;

namespace {

std::vector<int> contents(const pod_vector<int>& v) { return {v.begin(), v.end()}; }

TEST(pod_vector, keeps_every_value_across_growth) {
    pod_vector<std::uint64_t> v;
    EXPECT_TRUE(v.empty());
    for (std::uint64_t i = 0; i < 100000; ++i) v.push_back(i * 3 + 1);
    ASSERT_EQ(v.size(), 100000u);
    EXPECT_GE(v.capacity(), v.size());
    for (std::uint64_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], i * 3 + 1) << i;
    EXPECT_EQ(v.back(), 99999u * 3 + 1);
}

TEST(pod_vector, push_back_within_reserve_does_not_move_the_values) {
    pod_vector<int> v;
    v.reserve(64);
    const int* before = v.data();
    for (int i = 0; i < 64; ++i) v.push_back(i);
    EXPECT_EQ(v.data(), before);  // the core reserves first so that a later push_back cannot throw
    v.reserve(10);                // never shrinks
    EXPECT_EQ(v.data(), before);
    EXPECT_EQ(v.capacity(), 64u);
}

TEST(pod_vector, pushing_or_filling_with_its_own_element_survives_growth) {
    pod_vector<int> v;
    v.push_back(11);
    for (int i = 0; i < 20; ++i) v.push_back(v[0]);  // several of these reallocate
    for (std::size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], 11) << i;
    v.resize(1000, v[0]);
    EXPECT_EQ(v[999], 11);
}

TEST(pod_vector, swap_remove_moves_the_last_value_into_the_hole) {
    pod_vector<int> v;
    for (int i : {10, 20, 30, 40}) v.push_back(i);
    v.swap_remove(1);
    EXPECT_EQ(contents(v), (std::vector<int>{10, 40, 30}));
    v.swap_remove(2);  // the last one: just dropped
    EXPECT_EQ(contents(v), (std::vector<int>{10, 40}));
    v.pop_back();
    v.pop_back();
    EXPECT_TRUE(v.empty());
}

TEST(pod_vector, remove_drops_every_equal_value_and_keeps_the_order) {
    pod_vector<int> v;
    for (int i : {1, 2, 1, 3, 1, 4}) v.push_back(i);
    v.remove(1);
    EXPECT_EQ(contents(v), (std::vector<int>{2, 3, 4}));
    v.remove(9);
    EXPECT_EQ(contents(v), (std::vector<int>{2, 3, 4}));
}

TEST(pod_vector, append_resize_assign_and_clear) {
    pod_vector<int> v;
    const int more[] = {7, 8, 9};
    v.append(more, 3);
    v.append(more, 0);
    EXPECT_EQ(contents(v), (std::vector<int>{7, 8, 9}));
    v.resize(5, -1);
    EXPECT_EQ(contents(v), (std::vector<int>{7, 8, 9, -1, -1}));
    v.resize(2);
    EXPECT_EQ(contents(v), (std::vector<int>{7, 8}));
    v.resize(4);  // new values are value-initialised
    EXPECT_EQ(contents(v), (std::vector<int>{7, 8, 0, 0}));
    v.assign(3, 5);
    EXPECT_EQ(contents(v), (std::vector<int>{5, 5, 5}));
    v.clear();
    EXPECT_TRUE(v.empty());
    EXPECT_GE(v.capacity(), 5u);  // clear keeps the memory for reuse (render scratch)
}

TEST(pod_vector, moves_and_swaps_hand_over_the_storage) {
    pod_vector<int> a;
    for (int i = 0; i < 20; ++i) a.push_back(i);
    const int* storage = a.data();
    pod_vector<int> b(static_cast<pod_vector<int>&&>(a));
    EXPECT_EQ(b.data(), storage);
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(a.data(), nullptr);
    pod_vector<int> c;
    c.push_back(99);
    c = static_cast<pod_vector<int>&&>(b);
    EXPECT_EQ(c.data(), storage);
    EXPECT_EQ(c.size(), 20u);
    pod_vector<int> d;
    d.push_back(1);
    d.swap(c);
    EXPECT_EQ(d.size(), 20u);
    EXPECT_EQ(contents(c), (std::vector<int>{1}));
    a.push_back(5);  // a moved-from vector is empty and usable
    EXPECT_EQ(contents(a), (std::vector<int>{5}));
}

TEST(pod_vector, an_impossible_size_throws_bad_alloc_and_keeps_the_values) {
    pod_vector<std::uint64_t> v;
    v.push_back(42);
    EXPECT_THROW(v.reserve(static_cast<std::size_t>(-1) / 4), std::bad_alloc);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v[0], 42u);
}

}  // namespace
