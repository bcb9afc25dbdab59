// SPDX-License-Identifier: Apache-2.0
// CRC-32C tables and the portable slicing-by-8 loop. The tables are built by
// constexpr functions, so they are constant-initialized data: no code runs
// before main and no first-use race exists.
#ifndef SLOTGUARD_DETAIL_CRC32C_TABLES_HPP
#define SLOTGUARD_DETAIL_CRC32C_TABLES_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// The Castagnoli polynomial 0x1EDC6F41, bit-reflected.
inline constexpr std::uint32_t crc32c_poly = 0x82F63B78u;

struct crc32c_slice_tables {
  std::uint32_t t[8][256];
};

constexpr crc32c_slice_tables make_crc32c_slice_tables() noexcept {
  crc32c_slice_tables tables{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1u) ? (c >> 1) ^ crc32c_poly : c >> 1;
    tables.t[0][n] = c;
  }
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = tables.t[0][n];
    for (int s = 1; s < 8; ++s) {
      c = tables.t[0][c & 0xFFu] ^ (c >> 8);
      tables.t[s][n] = c;
    }
  }
  return tables;
}

// t[s][b]: the register after byte b followed by s zero bytes.
alignas(64) inline constexpr crc32c_slice_tables crc32c_tables = make_crc32c_slice_tables();

// The raw (not inverted) CRC register after `size` bytes, eight at a time.
inline std::uint32_t crc32c_raw_portable(std::uint32_t crc, const std::uint8_t* p,
                                         std::size_t size) noexcept {
  const auto& t = crc32c_tables.t;
  while (size >= 8) {
    const std::uint32_t lo = load_le32(p) ^ crc;
    const std::uint32_t hi = load_le32(p + 4);
    crc = t[7][lo & 0xFF] ^ t[6][(lo >> 8) & 0xFF] ^ t[5][(lo >> 16) & 0xFF] ^ t[4][lo >> 24] ^
          t[3][hi & 0xFF] ^ t[2][(hi >> 8) & 0xFF] ^ t[1][(hi >> 16) & 0xFF] ^ t[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size-- > 0) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return crc;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_CRC32C_TABLES_HPP
