// SPDX-License-Identifier: Apache-2.0
// UTF-8 validation for schema string fields: a constexpr form for checking
// declarations at compile time, and a fast form for validate(), which skips
// ASCII eight bytes at a time because content strings are mostly ASCII.
// Both accept exactly the well-formed UTF-8 of RFC 3629 (no overlong forms,
// no surrogates, nothing above U+10FFFF).
#ifndef SLOTGUARD_DETAIL_SCHEMA_UTF8_HPP
#define SLOTGUARD_DETAIL_SCHEMA_UTF8_HPP

#include <slotguard/config.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Checks the multi-byte sequence that starts at s[i] (s[i] >= 0x80); on
// success advances i past it.
template <class Get>
constexpr bool utf8_sequence(const Get& at, std::size_t n, std::size_t& i) noexcept {
  const unsigned c = at(i);
  unsigned lo = 0x80, hi = 0xBF;
  std::size_t extra = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    extra = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    extra = 2;
    if (c == 0xE0) lo = 0xA0;        // overlong
    else if (c == 0xED) hi = 0x9F;   // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    extra = 3;
    if (c == 0xF0) lo = 0x90;        // overlong
    else if (c == 0xF4) hi = 0x8F;   // above U+10FFFF
  } else {
    return false;
  }
  if (extra > n - i - 1) return false;
  const unsigned c1 = at(i + 1);
  if (c1 < lo || c1 > hi) return false;
  for (std::size_t k = 2; k <= extra; ++k) {
    const unsigned ck = at(i + k);
    if (ck < 0x80 || ck > 0xBF) return false;
  }
  i += extra + 1;
  return true;
}

constexpr bool utf8_valid_constexpr(std::string_view s) noexcept {
  auto at = [&s](std::size_t k) -> unsigned { return static_cast<unsigned char>(s[k]); };
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    if (at(i) < 0x80) {
      ++i;
      continue;
    }
    if (!utf8_sequence(at, n, i)) return false;
  }
  return true;
}

inline std::uint64_t load8(const std::uint8_t* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}

inline bool utf8_valid(const std::uint8_t* p, std::size_t n) noexcept {
  constexpr std::uint64_t high = 0x8080808080808080ull;  // byte order does not matter for the mask
  auto at = [p](std::size_t k) -> unsigned { return p[k]; };
  std::size_t i = 0;
  while (i < n) {
    // ASCII sixteen, then eight, bytes at a time.
    while (n - i >= 16 && ((load8(p + i) | load8(p + i + 8)) & high) == 0) i += 16;
    while (n - i >= 8 && (load8(p + i) & high) == 0) i += 8;
    // A short ASCII tail: its last eight bytes, overlapping bytes already
    // accepted (if those were part of a multi-byte sequence the test fails
    // and the byte loop below decides).
    if (n - i < 8 && n >= 8 && (load8(p + n - 8) & high) == 0) return true;
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    if (!utf8_sequence(at, n, i)) return false;
  }
  return true;
}

// Decodes the well-formed sequence that starts at p[i] (i < n): its code
// point and its length in bytes; false when p[i] starts none (what
// utf8_valid() rejects). One decoder for whoever needs the code points.
inline bool utf8_decode(const std::uint8_t* p, std::size_t n, std::size_t i, std::uint32_t& cp,
                        std::size_t& len) noexcept {
  if (p[i] < 0x80) {
    cp = p[i];
    len = 1;
    return true;
  }
  auto at = [p](std::size_t k) -> unsigned { return p[k]; };
  std::size_t end = i;
  if (!utf8_sequence(at, n, end)) return false;
  len = end - i;
  cp = p[i] & (len == 2 ? 0x1Fu : len == 3 ? 0x0Fu : 0x07u);
  for (std::size_t k = 1; k < len; ++k) cp = (cp << 6) | (p[i + k] & 0x3Fu);
  return true;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_SCHEMA_UTF8_HPP
