// SPDX-License-Identifier: Apache-2.0
// Byte views and the small encoding helpers every part shares: a non-owning
// view of bytes (C++17 has no std::span), little-endian loads and stores that
// do not depend on the host's byte order or alignment (those three in
// slotguard/byte_view.hpp, which a reader's unit includes alone), appends
// of little-endian values to an encoding, and hex text.
#ifndef SLOTGUARD_BYTES_HPP
#define SLOTGUARD_BYTES_HPP

#include <slotguard/byte_view.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

namespace detail {

inline void append_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  std::uint8_t b[2];
  store_le16(b, v);
  out.insert(out.end(), b, b + 2);
}
inline void append_le32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  std::uint8_t b[4];
  store_le32(b, v);
  out.insert(out.end(), b, b + 4);
}
inline void append_le64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  std::uint8_t b[8];
  store_le64(b, v);
  out.insert(out.end(), b, b + 8);
}

}  // namespace detail

// Lowercase hex of the bytes.
inline std::string to_hex(byte_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

// Decodes hex (either case). Returns invalid_argument for an odd length or a
// character that is not a hex digit.
inline result<std::vector<std::uint8_t>> from_hex(std::string_view text) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return errc::invalid_argument;
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 2);
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = nibble(text[i]);
    const int lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return errc::invalid_argument;
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_BYTES_HPP
