// Tests for vitals/detail/json.hpp: escaping, UTF-8 repair and the writer.
#include "vitals/health/detail/json.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

namespace json = vitals::health::detail::json;

TEST(HealthJson, EscapesQuotesBackslashAndControls) {
    EXPECT_EQ(json::quote("plain"), R"("plain")");
    EXPECT_EQ(json::quote("a\"b\\c"), R"("a\"b\\c")");
    EXPECT_EQ(json::quote("\n\r\t\b\f"), R"("\n\r\t\b\f")");
    EXPECT_EQ(json::quote(std::string("\x01\x1f", 2)), R"("\u0001\u001f")");
    EXPECT_EQ(json::quote(std::string("a\0b", 3)), R"("a\u0000b")");
    EXPECT_EQ(json::quote("/ and \x7f stay"), "\"/ and \x7f stay\"");
}

TEST(HealthJson, KeepsValidUtf8) {
    const std::string s = "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // é € 😀
    EXPECT_EQ(json::quote(s), "\"" + s + "\"");
    EXPECT_EQ(json::repair_utf8(s), s);
}

TEST(HealthJson, ReplacesInvalidUtf8WithReplacementChar) {
    const std::string fffd = "\xEF\xBF\xBD";
    EXPECT_EQ(json::repair_utf8("a\xFF"
                                "b"),
              "a" + fffd + "b");
    EXPECT_EQ(json::repair_utf8("\x80"), fffd);                                   // lone continuation
    EXPECT_EQ(json::repair_utf8("\xC0\xAF"), fffd + fffd);                        // overlong '/'
    EXPECT_EQ(json::repair_utf8("\xED\xA0\x80"), fffd + fffd + fffd);             // surrogate D800
    EXPECT_EQ(json::repair_utf8("\xF4\x90\x80\x80"), fffd + fffd + fffd + fffd);  // > U+10FFFF
    // A truncated sequence is one replacement, and the byte that broke it is
    // processed on its own.
    EXPECT_EQ(json::repair_utf8("\xE2\x82"
                                "A"),
              fffd + "A");
    EXPECT_EQ(json::repair_utf8("x\xE2\x82"), "x" + fffd);
    EXPECT_EQ(json::quote("\xE2\x82\""), "\"" + fffd + "\\\"\"");
}

TEST(HealthJson, WriterProducesSeparatorsAndNesting) {
    json::writer w;
    w.begin_object();
    w.key("s");
    w.value("x\"y");
    w.key("b");
    w.value(true);
    w.key("n");
    w.value(1.5);
    w.key("i");
    w.value(42);
    w.key("o");
    w.begin_object();
    w.key("inner");
    w.null();
    w.end_object();
    w.key("a");
    w.begin_array();
    w.value(1);
    w.value("two");
    w.begin_object();
    w.end_object();
    w.end_array();
    w.end_object();
    EXPECT_EQ(w.str(), R"({"s":"x\"y","b":true,"n":1.5,"i":42,"o":{"inner":null},"a":[1,"two",{}]})");
}

TEST(HealthJson, NonFiniteNumbersBecomeNull) {
    std::string out;
    json::append_number(out, std::numeric_limits<double>::quiet_NaN());
    out += ',';
    json::append_number(out, std::numeric_limits<double>::infinity());
    out += ',';
    json::append_number(out, 0.25);
    EXPECT_EQ(out, "null,null,0.25");
}
