// SPDX-License-Identifier: Apache-2.0
// Compile-time switches and the few macros every other header relies on.
// User switches are SLOTGUARD_CONFIG_*: define them before the first slotguard
// include (or on the command line) to change the library's behaviour. Every
// switch has a default that suits a production sensor.
#ifndef SLOTGUARD_CONFIG_HPP
#define SLOTGUARD_CONFIG_HPP

#include <cstdio>
#include <cstdlib>

// SLOTGUARD_CONFIG_NO_EXCEPTIONS: the library never throws across its API in
// any case; this switch only decides what the one internal SLOTGUARD_THROW
// does. Detected from the compiler (-fno-exceptions) when not set.
#ifndef SLOTGUARD_CONFIG_NO_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define SLOTGUARD_CONFIG_NO_EXCEPTIONS 0
#else
#define SLOTGUARD_CONFIG_NO_EXCEPTIONS 1
#endif
#endif

// SLOTGUARD_CONFIG_NO_HW_ACCEL: set to 1 to use only the portable SHA-256 and
// CRC32C code even where the CPU offers SHA-NI, ARMv8 SHA2 or SSE4.2. The
// choice is otherwise made at run time from CPUID, never from build flags.
#ifndef SLOTGUARD_CONFIG_NO_HW_ACCEL
#define SLOTGUARD_CONFIG_NO_HW_ACCEL 0
#endif

// SLOTGUARD_CONFIG_SEPARATE_COMPILATION: set to 1 in every translation unit
// to compile the library's code once rather than in every unit that includes
// it. The headers then declare the parts that carry most of the code (the
// guard, bundles, schemas and validation, probes, signatures and hashes), and
// exactly one unit of the program includes <slotguard/implementation.hpp>,
// which defines them. A unit that includes <slotguard/guard.hpp> then reads
// the declarations only (docs/PERFORMANCE.md, "Include cost"). Header-only
// (0) is the default.
#ifndef SLOTGUARD_CONFIG_SEPARATE_COMPILATION
#define SLOTGUARD_CONFIG_SEPARATE_COMPILATION 0
#endif

// SLOTGUARD_DECL: what a separately compiled function is declared and
// defined with: inline when header-only, nothing (one definition, in the
// implementation unit) when compiled separately.
// SLOTGUARD_DETAIL_DEFINITIONS: whether the headers include the files that
// define those functions (always when header-only; in the implementation
// unit only when compiled separately).
#if SLOTGUARD_CONFIG_SEPARATE_COMPILATION
#define SLOTGUARD_DECL
#if defined(SLOTGUARD_DETAIL_IMPLEMENTATION_UNIT)
#define SLOTGUARD_DETAIL_DEFINITIONS 1
#else
#define SLOTGUARD_DETAIL_DEFINITIONS 0
#endif
#else
#define SLOTGUARD_DECL inline
#define SLOTGUARD_DETAIL_DEFINITIONS 1
#endif

// Whether the host replaced SLOTGUARD_FATAL or SLOTGUARD_ASSERT (read before
// the defaults below are defined).
#if defined(SLOTGUARD_FATAL) || defined(SLOTGUARD_ASSERT)
#define SLOTGUARD_DETAIL_HOST_CHECKS 1
#else
#define SLOTGUARD_DETAIL_HOST_CHECKS 0
#endif

// SLOTGUARD_ABI_NAMESPACE: the inline namespace everything lives in, one per
// combination of the switches that change generated code (exceptions,
// hardware acceleration, the host's own SLOTGUARD_FATAL/SLOTGUARD_ASSERT,
// separate compilation).
// Translation units built with different settings thus link as two copies of
// the library side by side, never as one the one-definition rule breaks (the
// linker would otherwise keep one TU's inline functions for both). Code names
// slotguard::x, never the inline namespace. Two different host definitions
// of SLOTGUARD_ASSERT in one program are still the host's to keep apart.
#define SLOTGUARD_DETAIL_CAT6(a, b, c, d, e, f) a##b##c##d##e##f
#define SLOTGUARD_DETAIL_ABI(e, h, c, s) SLOTGUARD_DETAIL_CAT6(v1_, e, h, c, s, _)
#if SLOTGUARD_CONFIG_NO_EXCEPTIONS
#define SLOTGUARD_DETAIL_ABI_E n
#else
#define SLOTGUARD_DETAIL_ABI_E e
#endif
#if SLOTGUARD_CONFIG_NO_HW_ACCEL
#define SLOTGUARD_DETAIL_ABI_H p
#else
#define SLOTGUARD_DETAIL_ABI_H h
#endif
#if SLOTGUARD_DETAIL_HOST_CHECKS
#define SLOTGUARD_DETAIL_ABI_C u
#else
#define SLOTGUARD_DETAIL_ABI_C d
#endif
#if SLOTGUARD_CONFIG_SEPARATE_COMPILATION
#define SLOTGUARD_DETAIL_ABI_S s
#else
#define SLOTGUARD_DETAIL_ABI_S i
#endif
#define SLOTGUARD_ABI_NAMESPACE                                                               \
  SLOTGUARD_DETAIL_ABI(SLOTGUARD_DETAIL_ABI_E, SLOTGUARD_DETAIL_ABI_H, SLOTGUARD_DETAIL_ABI_C, \
                       SLOTGUARD_DETAIL_ABI_S)

// SLOTGUARD_FATAL(msg): what happens when the library meets a programmer error
// it cannot report as a value (a failed SLOTGUARD_ASSERT, SLOTGUARD_THROW with
// exceptions off). Override to route into the host's crash reporting; it must
// not return.
#ifndef SLOTGUARD_FATAL
#define SLOTGUARD_FATAL(msg) ::slotguard::detail::fatal(msg, __FILE__, __LINE__)
#endif

// SLOTGUARD_ASSERT(cond): checks a precondition that only a bug in the caller
// or in slotguard can break (never input validation, which is always compiled
// in and reported as errc values). Define it to nothing to remove the checks,
// or to the host's own assert.
#ifndef SLOTGUARD_ASSERT
#define SLOTGUARD_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : SLOTGUARD_FATAL("assertion failed: " #cond))
#endif

// SLOTGUARD_THROW(x): the only place the library may throw. With exceptions
// off it becomes a fatal error.
#if SLOTGUARD_CONFIG_NO_EXCEPTIONS
#define SLOTGUARD_THROW(x) SLOTGUARD_FATAL(#x)
#else
#define SLOTGUARD_THROW(x) throw x
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SLOTGUARD_LIKELY(x) __builtin_expect(!!(x), 1)
#define SLOTGUARD_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define SLOTGUARD_LIKELY(x) (x)
#define SLOTGUARD_UNLIKELY(x) (x)
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define SLOTGUARD_ARCH_X86_64 1
#else
#define SLOTGUARD_ARCH_X86_64 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define SLOTGUARD_ARCH_AARCH64 1
#else
#define SLOTGUARD_ARCH_AARCH64 0
#endif

#if defined(_WIN32)
#define SLOTGUARD_OS_WINDOWS 1
#else
#define SLOTGUARD_OS_WINDOWS 0
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

[[noreturn]] inline void fatal(const char* msg, const char* file, int line) noexcept {
  std::fprintf(stderr, "slotguard: fatal: %s (%s:%d)\n", msg, file, line);
  std::fflush(stderr);
  std::abort();
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_CONFIG_HPP
