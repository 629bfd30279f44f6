// Module tests: a plugin, loaded with dlopen. Built twice from this source, with default and with
// hidden symbol visibility; only the entry points below are exported from the hidden build.
#include <cstdio>
#include <exception>

#include "modules.hpp"
#include "workload.hpp"

#define MODULES_PLUGIN_ENTRY extern "C" __attribute__((visibility("default")))

namespace {

// Exceptions must not unwind into the loader's frames: every entry point reports through `error`.
template <class F>
int guarded(char* error, std::size_t error_size, F f) {
    try {
        f();
        return 0;
    } catch (const std::exception& e) {
        std::snprintf(error, error_size, "%s", e.what());
    } catch (...) {
        std::snprintf(error, error_size, "unknown exception");
    }
    return 1;
}

}  // namespace

MODULES_PLUGIN_ENTRY int vitals_plugin_run(vitals::registry* r, const modules_work* w, char* error,
                                           std::size_t error_size) {
    return guarded(error, error_size, [&] { modules_test::run(*r, *w); });
}

MODULES_PLUGIN_ENTRY int vitals_plugin_read(vitals::registry* r, const char* prefix, modules_reading* out, char* error,
                                            std::size_t error_size) {
    return guarded(error, error_size, [&] { *out = modules_test::read(*r, prefix); });
}

MODULES_PLUGIN_ENTRY int vitals_plugin_hammer(vitals::registry* r, const modules_hammer* h, char* error,
                                              std::size_t error_size) {
    return guarded(error, error_size, [&] { modules_test::hammer(*r, *h); });
}

MODULES_PLUGIN_ENTRY int vitals_plugin_cleanup(vitals::registry* r, const char* prefix, int unregister, char* error,
                                               std::size_t error_size) {
    return guarded(error, error_size, [&] { modules_test::cleanup(*r, prefix, unregister != 0); });
}
