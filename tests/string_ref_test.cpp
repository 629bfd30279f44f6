// base/string_ref.hpp: the text view of vitals' API, and how it meets std::string and
// std::string_view in callers' code.
#include <gtest/gtest.h>

#include <map>
#include <sstream>
#include <string>
#include <string_view>

#include <vitals/base/string_ref.hpp>

using vitals::string_ref;

namespace {

// Checked while compiling: names given as template arguments are validated with string_ref.
static_assert(string_ref("http_requests_total").ends_with("_total"));
static_assert(string_ref("abc").substr(1) == "bc");
static_assert(string_ref("abc").substr(5).empty());  // clamped, never out of range
static_assert(string_ref("a,b").find(',') == 1);
static_assert(string_ref("abc").find('x') == string_ref::npos);
static_assert(string_ref("abcabd").find("abd") == 3);
static_assert(string_ref("le") < string_ref("lf"));
static_assert(!(string_ref("le") == string_ref("le\0", 3)));

TEST(string_ref, takes_and_gives_back_the_standard_string_types) {
    const std::string s = "service";
    const std::string_view sv = "service";
    const string_ref from_string = s, from_view = sv, from_literal = "service";
    EXPECT_EQ(from_string.data(), s.data());  // a view, not a copy
    EXPECT_EQ(from_view.size(), 7u);
    EXPECT_TRUE(from_string == from_view && from_view == from_literal);

    const std::string back = from_literal;
    const std::string_view back_view = from_literal;
    EXPECT_EQ(back, "service");
    EXPECT_EQ(back_view.data(), from_literal.data());
    EXPECT_EQ(std::string(from_view), s);
}

TEST(string_ref, compares_with_strings_views_and_literals_in_either_order) {
    const string_ref r = "GET";
    const std::string s = "GET";
    const std::string_view sv = "GET";
    EXPECT_TRUE(r == s);
    EXPECT_TRUE(s == r);
    EXPECT_TRUE(r == sv);
    EXPECT_TRUE(sv == r);
    EXPECT_TRUE(r == "GET");
    EXPECT_TRUE("GET" == r);
    EXPECT_TRUE(r != "POST");
    EXPECT_FALSE(r == "GE");
    EXPECT_FALSE(string_ref() == "x");
    EXPECT_TRUE(string_ref() == "");
}

TEST(string_ref, appends_to_and_indexes_standard_containers) {
    std::string out = "a";
    const string_ref r = "bc";
    out += r;
    out.append(r);
    EXPECT_EQ(out, "abcbc");
    std::map<std::string, int> m{{"bc", 1}};
    EXPECT_EQ(m.count(r), 1u);
    std::ostringstream os;
    os << '[' << r << ']';
    EXPECT_EQ(os.str(), "[bc]");
}

TEST(string_ref, compare_orders_bytewise_and_unsigned) {
    EXPECT_LT(string_ref("a").compare("b"), 0);
    EXPECT_GT(string_ref("ab").compare("a"), 0);
    EXPECT_EQ(string_ref("ab").compare("ab"), 0);
    EXPECT_LT(string_ref("z").compare("\xC3\xA9"), 0);  // 0x7A < 0xC3: bytes are unsigned
}

TEST(string_ref, prefix_suffix_and_trimming) {
    string_ref r = "vitals_total";
    EXPECT_TRUE(r.starts_with("vitals"));
    EXPECT_TRUE(r.starts_with('v'));
    EXPECT_FALSE(r.starts_with("total"));
    EXPECT_TRUE(r.ends_with('l'));
    EXPECT_FALSE(string_ref().ends_with('l'));
    r.remove_suffix(6);
    EXPECT_EQ(r, "vitals");
    r.remove_prefix(3);
    EXPECT_EQ(r, "als");
    EXPECT_EQ(r.front(), 'a');
    EXPECT_EQ(r.back(), 's');
    EXPECT_TRUE(r.contains('l'));
    EXPECT_FALSE(r.contains("x"));
}

}  // namespace
