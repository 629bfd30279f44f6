// Build information: the vitals_build_info series, the application's own, and the version macros.
#define VITALS_BUILD_REVISION "test-revision"
#include <vitals/process/build_info.hpp>
#include <vitals/version.hpp>
#include <vitals/vitals.hpp>

#include <string>

#include <gtest/gtest.h>

#include "support/promtool.hpp"

namespace {

#define VITALS_TEST_STR2(x) #x
#define VITALS_TEST_STR(x) VITALS_TEST_STR2(x)

TEST(BuildInfo, VersionMacrosAgreeWithTheBuild) {
    const std::string parts = VITALS_TEST_STR(VITALS_VERSION_MAJOR) "." VITALS_TEST_STR(
        VITALS_VERSION_MINOR) "." VITALS_TEST_STR(VITALS_VERSION_PATCH);
    EXPECT_EQ(parts, VITALS_VERSION_STRING);
    EXPECT_EQ(std::string(vitals::version_string), VITALS_VERSION_STRING);
#ifdef VITALS_MESON_VERSION
    EXPECT_EQ(std::string(VITALS_VERSION_STRING), VITALS_MESON_VERSION) << "update include/vitals/version.hpp";
#endif
}

TEST(BuildInfo, VitalsBuildInfoCarriesVersionRevisionAndCompiler) {
    vitals::registry r;
    vitals::register_vitals_build_info(r);
    const std::string text = vitals::render_text(r);
    const std::string prefix =
        "vitals_build_info{version=\"" VITALS_VERSION_STRING "\",revision=\"test-revision\",compiler=\"";
    const auto at = text.find(prefix);
    ASSERT_NE(at, std::string::npos) << text;
    const auto line = text.substr(at, text.find('\n', at) - at);
    EXPECT_TRUE(line.ends_with("\"} 1")) << line;
    const std::string compiler = vitals::compiler_description();
    EXPECT_TRUE(compiler.starts_with("gcc ") || compiler.starts_with("clang ")) << compiler;
    EXPECT_FALSE(compiler.ends_with(" "));
    EXPECT_NE(line.find(compiler), std::string::npos);
    EXPECT_NE(text.find("# TYPE vitals_build_info gauge\n"), std::string::npos);
}

TEST(BuildInfo, ApplicationBuildInfo) {
    vitals::registry r;
    vitals::register_build_info(r, "events_build_info", "1.4.2", "9f3c2e1");
    EXPECT_NE(vitals::render_text(r).find("events_build_info{version=\"1.4.2\",revision=\"9f3c2e1\"} 1\n"),
              std::string::npos);
    EXPECT_THROW(vitals::register_build_info(r, "bad name", "1", "x"), vitals::invalid_argument_error);
}

TEST(BuildInfo, RenderIsPromtoolClean) {
    vitals::registry r(vitals::const_labels{{"service", "api"}});
    vitals::register_vitals_build_info(r);
    vitals::register_build_info(r, "events_build_info", "1.4.2", "9f3c2e1");
    const auto result = vitals_test::promtool_check(vitals::render_text(r));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(result.output, "");
}

}  // namespace
