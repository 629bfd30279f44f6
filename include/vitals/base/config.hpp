// vitals — how this translation unit uses the library: header-only (the default), or compiled.
//
// Header-only, every function is defined in the headers and compiled in each file that uses it.
// Compiled (define VITALS_COMPILED, or use the `vitals-compiled` Meson dependency or pkg-config
// package, or the `vitals::compiled` CMake target), the cold code — registration, rendering,
// formatting, the family machinery of every metric kind — is only declared here and built once
// into libvitals; the hot paths (updates, lookups of existing series) stay inline. Use one mode
// per program.
#pragma once

#if defined(VITALS_BUILDING_LIBRARY)
// Building libvitals: the cold code is defined here, once, with external linkage.
#define VITALS_COLD_DEFINED 1
#define VITALS_COLD
#elif defined(VITALS_COMPILED)
// Using libvitals: the cold code is declared only.
#define VITALS_COLD_DEFINED 0
#define VITALS_COLD
#else
// Header-only: the cold code is defined inline in every translation unit that uses it.
#define VITALS_COLD_DEFINED 1
#define VITALS_COLD inline
#endif

// The metric kinds' family code (detail::family_impl<Series>) and the std::string renders are
// explicitly instantiated in libvitals, and only declared (extern template) where it is used.
#if defined(VITALS_COMPILED) && !defined(VITALS_BUILDING_LIBRARY)
#define VITALS_EXTERN_TEMPLATES 1
#else
#define VITALS_EXTERN_TEMPLATES 0
#endif
