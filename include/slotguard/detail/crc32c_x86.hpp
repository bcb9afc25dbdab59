// SPDX-License-Identifier: Apache-2.0
// CRC-32C with the SSE4.2 crc32 instruction. The instruction has a latency of
// three cycles and a throughput of one, so one dependency chain reaches only
// a third of its speed: the input is cut into three equal lanes hashed in
// interleaved chains, and the lanes' registers are joined with a "shift by n
// zero bytes" operator kept as four 256-entry tables per lane length.
#ifndef SLOTGUARD_DETAIL_CRC32C_X86_HPP
#define SLOTGUARD_DETAIL_CRC32C_X86_HPP

#include <slotguard/config.hpp>

#include <slotguard/detail/cpu.hpp>
#include <slotguard/detail/crc32c_tables.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>

#if SLOTGUARD_ARCH_X86_64 && !SLOTGUARD_CONFIG_NO_HW_ACCEL
#define SLOTGUARD_HAVE_CRC32C_X86 1
// SSE4.2's header alone: <immintrin.h> would bring every x86 extension's
// intrinsics (some 47,000 lines) into each file that includes a hashing header.
#include <nmmintrin.h>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// The linear map "append n zero bytes" on the raw register, as tables of the
// images of each byte position.
struct crc32c_shift_table {
  std::uint32_t t[4][256];

  explicit crc32c_shift_table(std::size_t n) noexcept {
    std::uint32_t basis[32];
    for (int bit = 0; bit < 32; ++bit) {
      std::uint32_t c = 1u << bit;
      for (std::size_t i = 0; i < n; ++i) c = crc32c_tables.t[0][c & 0xFF] ^ (c >> 8);
      basis[bit] = c;
    }
    for (int k = 0; k < 4; ++k) {
      for (std::uint32_t v = 0; v < 256; ++v) {
        std::uint32_t r = 0;
        for (int bit = 0; bit < 8; ++bit)
          if ((v >> bit) & 1u) r ^= basis[8 * k + bit];
        t[k][v] = r;
      }
    }
  }
  std::uint32_t apply(std::uint32_t c) const noexcept {
    return t[0][c & 0xFF] ^ t[1][(c >> 8) & 0xFF] ^ t[2][(c >> 16) & 0xFF] ^ t[3][c >> 24];
  }
};

// Lane lengths: long lanes for bulk data, short ones for the rest.
inline constexpr std::size_t crc32c_long_lane = 8192;
inline constexpr std::size_t crc32c_short_lane = 256;

inline const crc32c_shift_table& crc32c_long_shift() noexcept {
  static const crc32c_shift_table table(crc32c_long_lane);
  return table;
}
inline const crc32c_shift_table& crc32c_short_shift() noexcept {
  static const crc32c_shift_table table(crc32c_short_lane);
  return table;
}

inline std::uint64_t crc32c_load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);  // x86 is little-endian; the instruction wants host order
  return v;
}

// Three lanes of `lane` bytes each from p; returns the register after all
// 3 * lane bytes.
SLOTGUARD_TARGET("sse4.2")
inline std::uint32_t crc32c_sse42_3way(std::uint32_t crc, const std::uint8_t* p, std::size_t lane,
                                       const crc32c_shift_table& shift) noexcept {
  std::uint64_t c0 = crc, c1 = 0, c2 = 0;
  const std::uint8_t* end = p + lane;
  while (p < end) {
    c0 = _mm_crc32_u64(c0, crc32c_load64(p));
    c1 = _mm_crc32_u64(c1, crc32c_load64(p + lane));
    c2 = _mm_crc32_u64(c2, crc32c_load64(p + 2 * lane));
    p += 8;
  }
  std::uint32_t r = shift.apply(static_cast<std::uint32_t>(c0)) ^ static_cast<std::uint32_t>(c1);
  return shift.apply(r) ^ static_cast<std::uint32_t>(c2);
}

SLOTGUARD_TARGET("sse4.2")
inline std::uint32_t crc32c_raw_sse42(std::uint32_t crc, const std::uint8_t* p,
                                      std::size_t size) noexcept {
  if (size >= 3 * crc32c_long_lane) {
    const crc32c_shift_table& shift = crc32c_long_shift();
    while (size >= 3 * crc32c_long_lane) {
      crc = crc32c_sse42_3way(crc, p, crc32c_long_lane, shift);
      p += 3 * crc32c_long_lane;
      size -= 3 * crc32c_long_lane;
    }
  }
  if (size >= 3 * crc32c_short_lane) {
    const crc32c_shift_table& shift = crc32c_short_shift();
    while (size >= 3 * crc32c_short_lane) {
      crc = crc32c_sse42_3way(crc, p, crc32c_short_lane, shift);
      p += 3 * crc32c_short_lane;
      size -= 3 * crc32c_short_lane;
    }
  }
  std::uint64_t c = crc;
  while (size >= 8) {
    c = _mm_crc32_u64(c, crc32c_load64(p));
    p += 8;
    size -= 8;
  }
  crc = static_cast<std::uint32_t>(c);
  while (size-- > 0) crc = _mm_crc32_u8(crc, *p++);
  return crc;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#else
#define SLOTGUARD_HAVE_CRC32C_X86 0
#endif

#endif  // SLOTGUARD_DETAIL_CRC32C_X86_HPP
