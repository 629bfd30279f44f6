// The process collector: plausible values read from /proc/self, and renders promtool accepts.
#include <vitals/http/operational.hpp>
#include <vitals/process/process_collector.hpp>
#include <vitals/vitals.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/promtool.hpp"

namespace {

// The value of the first sample line of `name` (any labels), NaN when absent.
double sample(const std::string& text, const std::string& name) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto eol = text.find('\n', pos);
        if (eol == std::string::npos) eol = text.size();
        const std::string line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
        const char next = line[name.size()];
        if (next != ' ' && next != '{') continue;
        return std::strtod(line.c_str() + line.rfind(' ') + 1, nullptr);
    }
    return std::nan("");
}

struct process_registry {
    vitals::registry r;
    process_registry() { vitals::register_process_metrics(r); }
    double get(const std::string& name) const { return sample(vitals::render_text(r), name); }
};

#if defined(__linux__)

TEST(ProcessCollector, MemoryIsPlausible) {
    process_registry p;
    const double rss = p.get("process_resident_memory_bytes");
    const double vms = p.get("process_virtual_memory_bytes");
    EXPECT_GT(rss, 0);
    EXPECT_GE(vms, rss);
    EXPECT_EQ(std::fmod(rss, static_cast<double>(sysconf(_SC_PAGESIZE))), 0);
}

TEST(ProcessCollector, OpenFdsFollowOpenFiles) {
    process_registry p;
    const double before = p.get("process_open_fds");
    ASSERT_GE(before, 3);  // at least stdin, stdout, stderr
    std::vector<int> fds;
    for (int i = 0; i < 5; ++i) fds.push_back(open("/dev/null", O_RDONLY | O_CLOEXEC));
    EXPECT_EQ(p.get("process_open_fds"), before + 5);
    for (int fd : fds) close(fd);
    EXPECT_EQ(p.get("process_open_fds"), before);
    EXPECT_GE(p.get("process_max_fds"), before + 5);
}

TEST(ProcessCollector, CpuSecondsIncreaseAfterBusyWork) {
    process_registry p;
    const double before = p.get("process_cpu_seconds_total");
    ASSERT_GE(before, 0);
    // Burn at least 0.3 s of CPU; clock ticks are 10 ms, so the counter must move by >= 0.2 s.
    const std::clock_t start = std::clock();
    volatile double sink = 0;
    while (static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC < 0.3)
        for (int i = 0; i < 10000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
    EXPECT_GE(p.get("process_cpu_seconds_total") - before, 0.2);
}

TEST(ProcessCollector, StartTimeIsWithinAMinuteOfNow) {
    process_registry p;
    const double start = p.get("process_start_time_seconds");
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LE(start, now + 1);
    EXPECT_GT(start, now - 60);
}

#endif

TEST(ProcessCollector, ParsesStatWithAwkwardCommandName) {
    // A command name may hold spaces and parentheses: fields are counted from the last ')'.
    const std::string line =
        "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 12345 104857600 2560 "
        "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n";
    const auto s = vitals::detail::parse_proc_stat(line, 100, 4096);
    ASSERT_TRUE(s);
    EXPECT_DOUBLE_EQ(s->cpu_seconds, 3.0);
    EXPECT_DOUBLE_EQ(s->start_ticks, 12345);
    EXPECT_DOUBLE_EQ(s->virtual_bytes, 104857600);
    EXPECT_DOUBLE_EQ(s->resident_bytes, 2560.0 * 4096);
    EXPECT_FALSE(vitals::detail::parse_proc_stat("4242 (truncated) S 1 2 3", 100, 4096));
    EXPECT_FALSE(vitals::detail::parse_proc_stat("no parenthesis", 100, 4096));
    EXPECT_EQ(vitals::detail::parse_boot_time("cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"), 1700000000);
    EXPECT_FALSE(vitals::detail::parse_boot_time("cpu 1 2 3\n"));
}

TEST(ProcessCollector, TypesAndHelpAreTheConventionalOnes) {
    process_registry p;
    const std::string text = vitals::render_text(p.r);
    EXPECT_NE(text.find("# TYPE process_cpu_seconds_total counter\n"), std::string::npos) << text;
    for (const char* g : {"process_resident_memory_bytes", "process_virtual_memory_bytes", "process_open_fds",
                          "process_max_fds", "process_start_time_seconds"})
        EXPECT_NE(text.find(std::string("# TYPE ") + g + " gauge\n"), std::string::npos) << g;
    EXPECT_NE(text.find("# HELP process_open_fds Number of open file descriptors.\n"), std::string::npos);
}

TEST(ProcessCollector, RegisteringTwiceKeepsOneFamilyEach) {
    process_registry p;
    const auto families = p.r.family_count();
    vitals::register_process_metrics(p.r);
    EXPECT_EQ(p.r.family_count(), families);
    EXPECT_EQ(families, 6u);
}

TEST(ProcessCollector, RenderIsPromtoolClean) {
    vitals::registry r({{"service", "api"}, {"environment", "test"}});
    vitals::register_process_metrics(r);
    vitals::operational_metrics ops(r);
    ops.service_started("api");
    const auto result = vitals_test::promtool_check(vitals::render_text(r));
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_EQ(result.output, "");
}

}  // namespace
