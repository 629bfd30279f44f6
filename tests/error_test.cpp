// base/error.hpp: the exceptions vitals throws at run time.
#include <gtest/gtest.h>

#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include <vitals/base/error.hpp>

using namespace vitals;

namespace {

TEST(error, message_is_the_parts_end_to_end) {
    const std::string name = "bad name";
    const invalid_argument_error e("vitals: invalid metric name '", name, "': limit ", detail::decimal(1000),
                                   std::string_view(" (see docs)"));
    EXPECT_STREQ(e.what(), "vitals: invalid metric name 'bad name': limit 1000 (see docs)");
}

TEST(error, every_kind_is_a_std_exception_and_a_vitals_error) {
    auto kind_of = [](auto thrown) -> std::string {
        try {
            throw thrown;
        } catch (const registration_error&) {
            return "registration";
        } catch (const invalid_argument_error&) {
            return "invalid_argument";
        } catch (const error& e) {
            return std::string("error:") + e.what();
        }
    };
    EXPECT_EQ(kind_of(invalid_argument_error("x")), "invalid_argument");
    EXPECT_EQ(kind_of(registration_error("x")), "registration");
    EXPECT_EQ(kind_of(capacity_error("vitals: full")), "error:vitals: full");
    try {
        throw capacity_error("vitals: full");
    } catch (const std::exception& e) {
        EXPECT_STREQ(e.what(), "vitals: full");
    }
}

TEST(error, copies_share_the_message_and_outlive_the_original) {
    const char* text = nullptr;
    error copy("first");
    {
        const error original("vitals: ", std::string(100, 'x'));
        text = original.what();
        copy = original;
        const error second = original;
        EXPECT_EQ(second.what(), text);
    }
    EXPECT_EQ(copy.what(), text);  // the block lives while a copy does (ASan checks the read)
    EXPECT_EQ(std::strlen(copy.what()), 108u);
}

TEST(error, decimal_writes_the_full_range) {
    const detail::decimal zero(0), max(18446744073709551615ULL);
    EXPECT_EQ(std::string_view(zero.data(), zero.size()), "0");
    EXPECT_EQ(std::string_view(max.data(), max.size()), "18446744073709551615");
}

}  // namespace
