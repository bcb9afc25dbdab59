// SPDX-License-Identifier: Apache-2.0
// Run-time detection of the CPU instructions the hashing code can use (SHA-NI,
// SSE4.2 on x86-64 via CPUID; the SHA2 extension on aarch64 via the OS), so
// that one binary picks the fastest path on whatever machine it runs. Nothing
// here depends on build flags; the answer is computed once, on first use.
#ifndef SLOTGUARD_DETAIL_CPU_HPP
#define SLOTGUARD_DETAIL_CPU_HPP

#include <slotguard/config.hpp>

#if !SLOTGUARD_CONFIG_NO_HW_ACCEL
#if SLOTGUARD_ARCH_X86_64
// GCC and clang read CPUID through inline assembly below rather than
// <cpuid.h>, whose macros (__cpuid, bit_SSE4_2, ...) would otherwise reach
// every file that includes a slotguard header that hashes.
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#elif SLOTGUARD_ARCH_AARCH64
#if defined(__linux__)
#include <sys/auxv.h>
#elif SLOTGUARD_OS_WINDOWS
#include <slotguard/detail/windows.hpp>
#endif
#endif
#endif

// The attribute that enables an instruction set for one function only.
#if defined(__GNUC__) || defined(__clang__)
#define SLOTGUARD_TARGET(x) __attribute__((target(x)))
#else
#define SLOTGUARD_TARGET(x)
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

#if !SLOTGUARD_CONFIG_NO_HW_ACCEL && SLOTGUARD_ARCH_X86_64 && !(defined(_MSC_VER) && !defined(__clang__))
// CPUID leaf `leaf`, subleaf `sub`: eax, ebx, ecx, edx. x86-64 only, where
// rbx is no PIC register the compiler must keep.
inline void cpuid(unsigned leaf, unsigned sub, unsigned (&r)[4]) noexcept {
  __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
#endif

struct cpu_features {
  bool sha_ni = false;     // x86: SHA extensions plus the SSSE3/SSE4.1 they are used with
  bool sse42 = false;      // x86: the crc32 instruction
  bool arm_sha2 = false;   // aarch64: SHA256H/H2/SU0/SU1
};

inline cpu_features detect_cpu_features() noexcept {
  cpu_features f;
#if !SLOTGUARD_CONFIG_NO_HW_ACCEL
#if SLOTGUARD_ARCH_X86_64
  unsigned r1[4] = {0, 0, 0, 0};  // leaf 1: eax, ebx, ecx, edx
  unsigned r7[4] = {0, 0, 0, 0};  // leaf 7, subleaf 0
  unsigned max_leaf = 0;
#if defined(_MSC_VER) && !defined(__clang__)
  int regs[4];
  __cpuid(regs, 0);
  max_leaf = static_cast<unsigned>(regs[0]);
  if (max_leaf >= 1) {
    __cpuidex(regs, 1, 0);
    for (int i = 0; i < 4; ++i) r1[i] = static_cast<unsigned>(regs[i]);
  }
  if (max_leaf >= 7) {
    __cpuidex(regs, 7, 0);
    for (int i = 0; i < 4; ++i) r7[i] = static_cast<unsigned>(regs[i]);
  }
#else
  unsigned r0[4] = {0, 0, 0, 0};
  cpuid(0, 0, r0);
  max_leaf = r0[0];
  if (max_leaf >= 1) cpuid(1, 0, r1);
  if (max_leaf >= 7) cpuid(7, 0, r7);
#endif
  const bool ssse3 = (r1[2] >> 9) & 1u;
  const bool sse41 = (r1[2] >> 19) & 1u;
  f.sse42 = (r1[2] >> 20) & 1u;
  f.sha_ni = ((r7[1] >> 29) & 1u) && ssse3 && sse41;
#elif SLOTGUARD_ARCH_AARCH64
#if defined(__linux__)
  // HWCAP_SHA2 is bit 6 of AT_HWCAP on arm64 Linux.
  f.arm_sha2 = (getauxval(AT_HWCAP) >> 6) & 1u;
#elif defined(__APPLE__)
  f.arm_sha2 = true;  // every Apple arm64 core has the crypto extensions
#elif SLOTGUARD_OS_WINDOWS
  f.arm_sha2 = IsProcessorFeaturePresent(PF_ARM_V8_CRYPTO_INSTRUCTIONS_AVAILABLE) != 0;
#endif
#endif
#endif
  return f;
}

// Detected once; a function-local static, so no global constructor runs.
inline const cpu_features& cpu() noexcept {
  static const cpu_features features = detect_cpu_features();
  return features;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_CPU_HPP
