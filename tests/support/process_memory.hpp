// Test support: the process's resident set size, for tests that show memory stays bounded.
#pragma once

#include <cstddef>
#include <fstream>

#include <unistd.h>

namespace vitals_test {

/// Resident set size in bytes, from /proc/self/statm.
inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace vitals_test
