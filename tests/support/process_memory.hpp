// Test support: the process's resident set size, for tests that show memory stays bounded.
#pragma once

#include <cstddef>
#include <fstream>

#include <unistd.h>

namespace vitals_test {

/// False under AddressSanitizer and ThreadSanitizer, whose allocators keep freed memory (in a
/// quarantine, or for race detection), so the resident set says nothing about what vitals frees.
inline constexpr bool rss_reflects_frees =
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    false;
#else
    true;
#endif
#else
    true;
#endif

/// Resident set size in bytes, from /proc/self/statm.
inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace vitals_test
