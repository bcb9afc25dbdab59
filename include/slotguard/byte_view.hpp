// SPDX-License-Identifier: Apache-2.0
// Byte views: a non-owning view of bytes (C++17 has no std::span), the
// fixed-size byte strings the parts exchange, and little-endian loads and
// stores that do not depend on the host's byte order or alignment. What a
// reader of content needs of slotguard/bytes.hpp, which includes this and
// adds the helpers that build encodings (append_le16 ...) and hex text.
#ifndef SLOTGUARD_BYTE_VIEW_HPP
#define SLOTGUARD_BYTE_VIEW_HPP

#include <slotguard/config.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// Fixed-size byte strings the parts exchange, defined here so that a header
// that only carries them (a parsed manifest, a tree's table) needs neither
// the hash nor the signature code.
using sha256_digest = std::array<std::uint8_t, 32>;
// A key id: the first 8 bytes of the SHA-256 of the 32-byte public key. It
// only names a key for lookup; signatures are always checked against the
// whole key.
using key_id = std::array<std::uint8_t, 8>;
using ed25519_signature = std::array<std::uint8_t, 64>;

// A read-only view of contiguous bytes. Never owns; the caller keeps the
// bytes alive for as long as the view is used.
class byte_view {
 public:
  constexpr byte_view() noexcept = default;
  constexpr byte_view(const std::uint8_t* data, std::size_t size) noexcept
      : data_(data), size_(size) {}
  byte_view(const void* data, std::size_t size) noexcept
      : data_(static_cast<const std::uint8_t*>(data)), size_(size) {}
  byte_view(const std::vector<std::uint8_t>& v) noexcept : data_(v.data()), size_(v.size()) {}
  template <std::size_t N>
  constexpr byte_view(const std::array<std::uint8_t, N>& a) noexcept : data_(a.data()), size_(N) {}
  byte_view(std::string_view s) noexcept
      : data_(reinterpret_cast<const std::uint8_t*>(s.data())), size_(s.size()) {}

  constexpr const std::uint8_t* data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr const std::uint8_t* begin() const noexcept { return data_; }
  constexpr const std::uint8_t* end() const noexcept { return data_ + size_; }
  // Requires i < size().
  constexpr std::uint8_t operator[](std::size_t i) const noexcept { return data_[i]; }

  // The bytes [offset, offset + count), clamped to the view: never reaches
  // outside it.
  constexpr byte_view sub(std::size_t offset, std::size_t count = static_cast<std::size_t>(-1)) const noexcept {
    if (offset > size_) offset = size_;
    if (count > size_ - offset) count = size_ - offset;
    return byte_view(data_ + offset, count);
  }
  std::string_view as_chars() const noexcept {
    return std::string_view(reinterpret_cast<const char*>(data_), size_);
  }
  std::vector<std::uint8_t> to_vector() const { return std::vector<std::uint8_t>(begin(), end()); }

  friend bool operator==(byte_view a, byte_view b) noexcept {
    // char_traits<char>::compare is memcmp, from <string> rather than <cstring>.
    return a.size_ == b.size_ &&
           (a.size_ == 0 || std::char_traits<char>::compare(reinterpret_cast<const char*>(a.data_),
                                                            reinterpret_cast<const char*>(b.data_), a.size_) == 0);
  }
  friend bool operator!=(byte_view a, byte_view b) noexcept { return !(a == b); }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

namespace detail {

// Little-endian loads and stores, byte by byte: correct on big-endian hosts
// and at any alignment; compilers turn them into single moves on x86 and arm.
inline std::uint16_t load_le16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t load_le32(const std::uint8_t* p) noexcept {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
inline std::uint64_t load_le64(const std::uint8_t* p) noexcept {
  return static_cast<std::uint64_t>(load_le32(p)) |
         (static_cast<std::uint64_t>(load_le32(p + 4)) << 32);
}
inline void store_le16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void store_le64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
// Reads little-endian values from a view, checking every length first. After
// a failed read the reader stays failed and every further read fails too, so
// a parser may check ok() once after a group of reads.
class le_reader {
 public:
  explicit le_reader(byte_view in) noexcept : in_(in) {}
  bool ok() const noexcept { return ok_; }
  std::size_t offset() const noexcept { return pos_; }
  std::size_t remaining() const noexcept { return ok_ ? in_.size() - pos_ : 0; }
  bool u8(std::uint8_t& v) noexcept { return take(1) ? (v = in_[pos_ - 1], true) : false; }
  bool u16(std::uint16_t& v) noexcept {
    return take(2) ? (v = load_le16(in_.data() + pos_ - 2), true) : false;
  }
  bool u32(std::uint32_t& v) noexcept {
    return take(4) ? (v = load_le32(in_.data() + pos_ - 4), true) : false;
  }
  bool u64(std::uint64_t& v) noexcept {
    return take(8) ? (v = load_le64(in_.data() + pos_ - 8), true) : false;
  }
  bool bytes(std::size_t n, byte_view& v) noexcept {
    return take(n) ? (v = in_.sub(pos_ - n, n), true) : false;
  }

 private:
  bool take(std::size_t n) noexcept {
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }
  byte_view in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace detail

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_BYTE_VIEW_HPP
