// SPDX-License-Identifier: Apache-2.0
// SHA-256 with the ARMv8 SHA2 instructions. Compiled for aarch64 only, with a
// target attribute on the compression function alone; it runs only after the
// OS reported the extension (see cpu.hpp).
#ifndef SLOTGUARD_DETAIL_SHA256_ARM_HPP
#define SLOTGUARD_DETAIL_SHA256_ARM_HPP

#include <slotguard/config.hpp>

#include <slotguard/detail/cpu.hpp>
#include <slotguard/detail/sha256_common.hpp>

#include <cstddef>
#include <cstdint>

// Older clang (before 16) declares the SHA2 intrinsics only when the whole
// translation unit is built with the extension; there the underlying
// builtins, which honour the function's target attribute, are used instead
// (little-endian only, where lanes need no reversal).
#if SLOTGUARD_ARCH_AARCH64 && !SLOTGUARD_CONFIG_NO_HW_ACCEL
#if defined(__clang__) && __clang_major__ < 16 && !defined(__ARM_FEATURE_SHA2)
#if defined(__LITTLE_ENDIAN__)
#define SLOTGUARD_SHA256_ARM_BUILTINS 1
#else
#define SLOTGUARD_SHA256_ARM_UNSUPPORTED 1
#endif
#endif
#endif

#if SLOTGUARD_ARCH_AARCH64 && !SLOTGUARD_CONFIG_NO_HW_ACCEL && \
    !defined(SLOTGUARD_SHA256_ARM_UNSUPPORTED)
#define SLOTGUARD_HAVE_SHA256_ARM 1
#include <arm_neon.h>

#if defined(__clang__)
#define SLOTGUARD_TARGET_ARM_SHA2 SLOTGUARD_TARGET("crypto,sha2")
#elif defined(__GNUC__)
#define SLOTGUARD_TARGET_ARM_SHA2 SLOTGUARD_TARGET("+crypto")
#else
#define SLOTGUARD_TARGET_ARM_SHA2
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

#if defined(SLOTGUARD_SHA256_ARM_BUILTINS)
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256h(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return (uint32x4_t)__builtin_neon_vsha256hq_v((int8x16_t)a, (int8x16_t)b, (int8x16_t)c, 50);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256h2(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return (uint32x4_t)__builtin_neon_vsha256h2q_v((int8x16_t)a, (int8x16_t)b, (int8x16_t)c, 50);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256su0(uint32x4_t a, uint32x4_t b) noexcept {
  return (uint32x4_t)__builtin_neon_vsha256su0q_v((int8x16_t)a, (int8x16_t)b, 50);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256su1(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return (uint32x4_t)__builtin_neon_vsha256su1q_v((int8x16_t)a, (int8x16_t)b, (int8x16_t)c, 50);
}
#else
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256h(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return vsha256hq_u32(a, b, c);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256h2(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return vsha256h2q_u32(a, b, c);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256su0(uint32x4_t a, uint32x4_t b) noexcept {
  return vsha256su0q_u32(a, b);
}
SLOTGUARD_TARGET_ARM_SHA2 inline uint32x4_t arm_sha256su1(uint32x4_t a, uint32x4_t b, uint32x4_t c) noexcept {
  return vsha256su1q_u32(a, b, c);
}
#endif

SLOTGUARD_TARGET_ARM_SHA2
inline void sha256_compress_arm(std::uint32_t* state, const std::uint8_t* data,
                                std::size_t blocks) noexcept {
  uint32x4_t abcd = vld1q_u32(state);
  uint32x4_t efgh = vld1q_u32(state + 4);
  while (blocks-- > 0) {
    const uint32x4_t abcd_save = abcd;
    const uint32x4_t efgh_save = efgh;
    uint32x4_t w[4];
    for (int i = 0; i < 4; ++i)
      w[i] = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(data + 16 * i)));
    for (int i = 0; i < 16; ++i) {
      const uint32x4_t wk = vaddq_u32(w[i & 3], vld1q_u32(sha256_k + 4 * i));
      if (i < 12) {
        // W[4i+16..4i+19] from the ring, before w[i & 3] is overwritten below.
        w[i & 3] = arm_sha256su1(arm_sha256su0(w[i & 3], w[(i + 1) & 3]), w[(i + 2) & 3],
                                 w[(i + 3) & 3]);
      }
      const uint32x4_t abcd_prev = abcd;
      abcd = arm_sha256h(abcd, efgh, wk);
      efgh = arm_sha256h2(efgh, abcd_prev, wk);
    }
    abcd = vaddq_u32(abcd, abcd_save);
    efgh = vaddq_u32(efgh, efgh_save);
    data += 64;
  }
  vst1q_u32(state, abcd);
  vst1q_u32(state + 4, efgh);
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#else
#define SLOTGUARD_HAVE_SHA256_ARM 0
#endif

#endif  // SLOTGUARD_DETAIL_SHA256_ARM_HPP
