// base/text_buffer.hpp: owned characters for names, help texts and label blocks; a render sink.
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include <vitals/base/text_buffer.hpp>

using vitals::string_ref;
using vitals::text_buffer;

namespace {

TEST(text_buffer, appends_strings_and_characters) {
    text_buffer b;
    EXPECT_TRUE(b.empty());
    b += "http";
    b += '_';
    b += std::string("requests");
    b.append("_total_ignored", 6);
    EXPECT_EQ(b.view(), "http_requests_total");
    EXPECT_TRUE(b == "http_requests_total");
}

TEST(text_buffer, appending_its_own_bytes_survives_growth) {
    text_buffer b("abc");
    for (int i = 0; i < 12; ++i) b.append(b.data(), b.size());  // each append outgrows the block
    ASSERT_EQ(b.size(), 3u << 12);
    for (std::size_t i = 0; i < b.size(); ++i) ASSERT_EQ(b[i], "abc"[i % 3]) << i;
}

TEST(text_buffer, copies_are_deep_and_moves_take_the_block) {
    text_buffer a("one");
    text_buffer copy = a;
    copy += "+two";
    EXPECT_EQ(a.view(), "one");
    EXPECT_EQ(copy.view(), "one+two");
    const char* block = copy.data();
    text_buffer moved = std::move(copy);
    EXPECT_EQ(moved.data(), block);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
    a = moved;
    EXPECT_EQ(a.view(), "one+two");
    a = text_buffer("three");
    EXPECT_EQ(a.view(), "three");
}

TEST(text_buffer, clear_keeps_the_capacity) {
    text_buffer b;
    b.reserve(100);
    b += "some text";
    const char* block = b.data();
    b.clear();
    EXPECT_TRUE(b.empty());
    b += "again";
    EXPECT_EQ(b.data(), block);  // reused: a render into a warm buffer allocates nothing
    EXPECT_GE(b.capacity(), 100u);
}

TEST(text_buffer, converts_to_the_standard_types_through_string_ref) {
    const text_buffer b("label");
    const string_ref r = b;
    const std::string s = b.view();
    EXPECT_EQ(r.data(), b.data());
    EXPECT_EQ(s, "label");
}

}  // namespace
