// Module tests, executable side: a plugin opened with dlopen(RTLD_NOW | RTLD_LOCAL), the way a host
// loads plugins it does not trust to share its symbol namespace.
#pragma once

#include <dlfcn.h>

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "modules.hpp"

namespace modules_test {

/// The path meson passes in `variable` (see meson.build); throws when it is missing.
inline std::string module_path(const char* variable) {
    const char* p = std::getenv(variable);
    if (!p || !*p)
        throw std::runtime_error(std::string("environment variable ") + variable + " (a plugin's path) is not set");
    return p;
}

/// True when the module at `path` is mapped in this process (RTLD_NOLOAD opens nothing new).
inline bool module_is_loaded(const std::string& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (!h) return false;
    dlclose(h);
    return true;
}

/// A loaded plugin. Stays loaded when destroyed, unless close() was called: families the plugin
/// registered may outlive this object in a registry, and their code is the plugin's.
class plugin {
public:
    explicit plugin(std::string path) : path_(static_cast<std::string&&>(path)) {
        handle_ = dlopen(path_.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle_) throw std::runtime_error("dlopen(" + path_ + "): " + dlerror());
        run_ = symbol<modules_run_fn>("vitals_plugin_run");
        read_ = symbol<modules_read_fn>("vitals_plugin_read");
        hammer_ = symbol<modules_hammer_fn>("vitals_plugin_hammer");
        cleanup_ = symbol<modules_cleanup_fn>("vitals_plugin_cleanup");
    }
    plugin(const plugin&) = delete;
    plugin& operator=(const plugin&) = delete;

    [[nodiscard]] const std::string& path() const noexcept { return path_; }

    // Each returns "" on success, or the plugin's own account of what went wrong.
    std::string run(vitals::registry& r, const modules_work& w) const {
        return call([&](char* e, std::size_t n) { return run_(&r, &w, e, n); });
    }
    std::string read(vitals::registry& r, const char* prefix, modules_reading& out) const {
        return call([&](char* e, std::size_t n) { return read_(&r, prefix, &out, e, n); });
    }
    std::string hammer(vitals::registry& r, const modules_hammer& h) const {
        return call([&](char* e, std::size_t n) { return hammer_(&r, &h, e, n); });
    }
    std::string cleanup(vitals::registry& r, const char* prefix, bool unregister) const {
        return call([&](char* e, std::size_t n) { return cleanup_(&r, prefix, unregister ? 1 : 0, e, n); });
    }

    /// dlclose; "" on success, else dlerror().
    std::string close() {
        void* h = handle_;
        handle_ = nullptr;
        if (!h) return "not open";
        if (dlclose(h) != 0) return dlerror();
        return {};
    }

private:
    template <class Fn>
    Fn* symbol(const char* name) {
        void* s = dlsym(handle_, name);
        if (!s) throw std::runtime_error(path_ + " has no symbol " + name);
        return reinterpret_cast<Fn*>(s);
    }

    template <class F>
    static std::string call(F f) {
        char error[512] = "";
        if (f(error, sizeof error) == 0) return {};
        return error[0] ? error : "failed without a reason";
    }

    std::string path_;
    void* handle_ = nullptr;
    modules_run_fn* run_ = nullptr;
    modules_read_fn* read_ = nullptr;
    modules_hammer_fn* hammer_ = nullptr;
    modules_cleanup_fn* cleanup_ = nullptr;
};

}  // namespace modules_test
