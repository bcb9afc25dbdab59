// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/pem.hpp declares: strict base64 and PEM framing, a
// minimal strict DER reader, and the Ed25519 key forms built on them.
// Included by slotguard/pem.hpp only.
#ifndef SLOTGUARD_DETAIL_PEM_IMPL_HPP
#define SLOTGUARD_DETAIL_PEM_IMPL_HPP

#include <slotguard/pem.hpp>

#include <slotguard/detail/ed25519_core.hpp>

#include <array>
#include <cstring>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// PEM text longer than this is refused before decoding: an Ed25519 key's PEM
// is about 120 characters, so this bounds the work on hostile input.
inline constexpr std::size_t pem_max_text = 16 * 1024;

inline bool pem_is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

inline int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Strict base64 (RFC 4648 with padding), skipping whitespace: returns
// pem_invalid for any other character, a bad length, misplaced padding or
// non-zero unused bits. `out` is made once with room for the longest result
// the text can give (3 bytes per 4 characters), so the decoded key is never
// copied into a grown buffer and left in the old one; on failure it still
// holds what was decoded, which its destructor wipes. out_of_memory when
// that buffer cannot be had.
inline result<void> base64_decode(std::string_view text, secret_buffer& out) noexcept {
  std::size_t chars = 0;
  for (char c : text) chars += pem_is_space(c) ? 0 : 1;
  out = secret_buffer(chars / 4 * 3);
  if (out.capacity() < chars / 4 * 3) return errc::out_of_memory;
  if (chars % 4 != 0) return errc::pem_invalid;
  std::uint32_t acc = 0;
  int nchars = 0;   // characters in the current quantum
  int padding = 0;  // '=' seen
  // The pushes cannot fail: `chars` counted every character that adds to out.
  bool fits = true;
  for (char c : text) {
    if (pem_is_space(c)) continue;
    if (c == '=') {
      if (nchars < 2) return errc::pem_invalid;
      ++padding;
      ++nchars;
      acc <<= 6;
      if (nchars == 4) {
        // "xx==" carries one byte, "xxx=" two; the bits past them must be zero.
        if (padding == 2) {
          if ((acc & 0xFFFFu) != 0) return errc::pem_invalid;
          fits = fits && out.push_back(static_cast<std::uint8_t>(acc >> 16));
        } else {
          if ((acc & 0xFFu) != 0) return errc::pem_invalid;
          fits = fits && out.push_back(static_cast<std::uint8_t>(acc >> 16));
          fits = fits && out.push_back(static_cast<std::uint8_t>(acc >> 8));
        }
        nchars = 0;
        acc = 0;
      }
      continue;
    }
    if (padding != 0) return errc::pem_invalid;  // data after padding
    const int v = base64_value(c);
    if (v < 0) return errc::pem_invalid;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    if (++nchars == 4) {
      fits = fits && out.push_back(static_cast<std::uint8_t>(acc >> 16));
      fits = fits && out.push_back(static_cast<std::uint8_t>(acc >> 8));
      fits = fits && out.push_back(static_cast<std::uint8_t>(acc));
      nchars = 0;
      acc = 0;
    }
  }
  acc = 0;
  if (nchars != 0 || !fits) return errc::pem_invalid;
  return ok();
}

inline constexpr std::size_t base64_size(std::size_t size) noexcept { return (size + 2) / 3 * 4; }

// Appends the base64 of data to `out`, which the caller has reserved room
// for, so that no partial copy is left in a block given back on growth.
inline void base64_append(std::string& out, const std::uint8_t* data, std::size_t size) {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) | data[i + 2];
    for (int k = 3; k >= 0; --k) out.push_back(alphabet[(v >> (6 * k)) & 63]);
  }
  if (size - i == 1) {
    const std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out += "==";
  } else if (size - i == 2) {
    const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back('=');
  }
}

SLOTGUARD_DECL std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  std::string out;
  out.reserve(base64_size(size));
  base64_append(out, data, size);
  return out;
}

// One PEM block, alone in the text but for surrounding whitespace. On
// success, label holds the text between "BEGIN " and "-----", der the
// decoded body. Returns pem_invalid for anything malformed, out_of_memory
// when der's buffer cannot be had.
inline result<void> pem_decode(std::string_view text, std::string& label, secret_buffer& der) {
  if (text.size() > pem_max_text) return errc::pem_invalid;
  std::size_t b = 0;
  while (b < text.size() && pem_is_space(text[b])) ++b;
  std::size_t e = text.size();
  while (e > b && pem_is_space(text[e - 1])) --e;
  text = text.substr(b, e - b);

  constexpr std::string_view begin = "-----BEGIN ";
  constexpr std::string_view end = "-----END ";
  constexpr std::string_view dashes = "-----";
  if (text.substr(0, begin.size()) != begin) return errc::pem_invalid;
  const std::size_t label_end = text.find(dashes, begin.size());
  if (label_end == std::string_view::npos) return errc::pem_invalid;
  const std::string_view lab = text.substr(begin.size(), label_end - begin.size());
  if (lab.empty()) return errc::pem_invalid;
  for (char c : lab)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E || c == '-')
      return errc::pem_invalid;
  const std::size_t body_begin = label_end + dashes.size();
  // The body ends at the first "-----END "; it must be followed by the same
  // label and the closing dashes, and then nothing (trailing whitespace was
  // already trimmed). Compared in place: no copy of the key's text is made.
  const std::size_t end_pos = text.find(end, body_begin);
  if (end_pos == std::string_view::npos) return errc::pem_invalid;
  const std::string_view closing = text.substr(end_pos);
  if (closing.size() != end.size() + lab.size() + dashes.size() ||
      closing.substr(end.size(), lab.size()) != lab ||
      closing.substr(end.size() + lab.size()) != dashes)
    return errc::pem_invalid;
  const std::string_view body = text.substr(body_begin, end_pos - body_begin);
  // The BEGIN line must end with a line break before the base64.
  if (!body.empty() && body.front() != '\n' && body.front() != '\r') return errc::pem_invalid;
  SLOTGUARD_TRY(base64_decode(body, der));
  if (der.empty()) return errc::pem_invalid;
  label.assign(lab.data(), lab.size());
  return ok();
}

// A minimal strict DER reader: definite, minimally encoded lengths, each
// element inside its parent, nothing left over.
class der_reader {
 public:
  explicit der_reader(byte_view in) noexcept : in_(in) {}
  bool empty() const noexcept { return pos_ == in_.size(); }
  // Reads one element's tag and content; false when malformed.
  bool next(std::uint8_t& tag, byte_view& content) noexcept {
    if (in_.size() - pos_ < 2) return false;
    tag = in_[pos_];
    if ((tag & 0x1F) == 0x1F) return false;  // multi-byte tags never occur here
    std::size_t len = in_[pos_ + 1];
    std::size_t p = pos_ + 2;
    if (len & 0x80) {
      const std::size_t n = len & 0x7F;
      if (n == 0 || n > 2 || in_.size() - p < n) return false;  // indefinite or absurd
      len = 0;
      for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in_[p + i];
      p += n;
      if (len < 0x80 || (n == 2 && len < 0x100)) return false;  // not minimal
    }
    if (in_.size() - p < len) return false;
    content = in_.sub(p, len);
    pos_ = p + len;
    return true;
  }
  // Reads one element that must have `want` as its tag.
  bool expect(std::uint8_t want, byte_view& content) noexcept {
    std::uint8_t tag = 0;
    return next(tag, content) && tag == want;
  }
  std::uint8_t peek_tag() const noexcept { return empty() ? 0 : in_[pos_]; }

 private:
  byte_view in_;
  std::size_t pos_ = 0;
};

// id-Ed25519, 1.3.101.112.
inline constexpr std::uint8_t oid_ed25519[3] = {0x2B, 0x65, 0x70};

// Checks an AlgorithmIdentifier's content: the Ed25519 OID with parameters
// absent (RFC 8410 section 3). Structure errors are pem_invalid, any other
// algorithm key_invalid.
inline result<void> check_ed25519_algorithm(byte_view alg) noexcept {
  der_reader r(alg);
  byte_view oid;
  if (!r.expect(0x06, oid)) return errc::pem_invalid;
  std::uint8_t tag = 0;
  byte_view params;
  if (!r.empty() && !r.next(tag, params)) return errc::pem_invalid;
  if (!r.empty()) return errc::pem_invalid;
  if (oid != byte_view(oid_ed25519, 3)) return errc::key_invalid;
  if (tag != 0) return errc::key_invalid;  // parameters must be absent
  return ok();
}

}  // namespace detail

SLOTGUARD_DECL result<ed25519_seed> parse_private_key_pem(std::string_view pem) {
  std::string label;
  secret_buffer der;  // wiped when it goes, on every path
  SLOTGUARD_TRY(detail::pem_decode(pem, label, der));
  // Another key type's block (RSA, EC, a public key...) is well-formed text
  // holding the wrong kind of key.
  if (label != "PRIVATE KEY") return errc::key_invalid;

  detail::der_reader outer(der.view());
  byte_view info;
  if (!outer.expect(0x30, info) || !outer.empty()) return errc::pem_invalid;
  detail::der_reader r(info);
  byte_view version, alg, key;
  if (!r.expect(0x02, version) || !r.expect(0x30, alg) || !r.expect(0x04, key))
    return errc::pem_invalid;
  // Optional attributes [0] and public key [1], in that order.
  byte_view attributes, public_key;
  bool has_public = false;
  if (!r.empty() && r.peek_tag() == 0xA0 && !r.expect(0xA0, attributes)) return errc::pem_invalid;
  if (!r.empty()) {
    if (r.peek_tag() != 0x81 || !r.expect(0x81, public_key)) return errc::pem_invalid;
    has_public = true;
  }
  if (!r.empty()) return errc::pem_invalid;
  if (version.size() != 1) return errc::pem_invalid;  // DER integers 0 and 1 are one byte
  SLOTGUARD_TRY(detail::check_ed25519_algorithm(alg));
  if (version[0] > 1 || (version[0] == 0 && has_public)) return errc::key_invalid;
  // CurvePrivateKey ::= OCTET STRING, inside the privateKey OCTET STRING.
  detail::der_reader kr(key);
  byte_view seed_bytes;
  if (!kr.expect(0x04, seed_bytes) || !kr.empty()) return errc::key_invalid;
  if (seed_bytes.size() != 32) return errc::key_invalid;
  ed25519_seed seed;
  detail::scoped_wipe wipe_seed(seed.data(), seed.size());  // the result holds the copy
  std::memcpy(seed.data(), seed_bytes.data(), 32);
  if (has_public) {
    // BIT STRING: no unused bits, then the 32-byte key, which must be the
    // seed's own.
    if (public_key.size() != 33 || public_key[0] != 0) return errc::key_invalid;
    const ed25519_public_key derived = ed25519_public_key_from_seed(seed);
    if (std::memcmp(derived.data(), public_key.data() + 1, 32) != 0) return errc::key_invalid;
  }
  return result<ed25519_seed>(seed);
}

SLOTGUARD_DECL result<ed25519_public_key> parse_public_key_pem(std::string_view pem) {
  std::string label;
  secret_buffer der;
  SLOTGUARD_TRY(detail::pem_decode(pem, label, der));
  if (label != "PUBLIC KEY") return errc::key_invalid;
  detail::der_reader outer(der.view());
  byte_view spki;
  if (!outer.expect(0x30, spki) || !outer.empty()) return errc::pem_invalid;
  detail::der_reader r(spki);
  byte_view alg, bits;
  if (!r.expect(0x30, alg) || !r.expect(0x03, bits) || !r.empty()) return errc::pem_invalid;
  if (bits.empty() || bits[0] > 7) return errc::pem_invalid;
  SLOTGUARD_TRY(detail::check_ed25519_algorithm(alg));
  if (bits.size() != 33 || bits[0] != 0) return errc::key_invalid;
  ed25519_public_key key;
  std::memcpy(key.data(), bits.data() + 1, 32);
  detail::ge25519 point;
  if (!detail::ge_frombytes(point, key.data()) || detail::ge_has_small_order(point))
    return errc::key_invalid;
  return key;
}

namespace detail {

// The PEM text of `der`. Its size is computed first and reserved, so a
// private key's text is written once into its final buffer and no partial
// copy is left in a block released by growth.
inline std::string pem_encode(std::string_view label, const std::uint8_t* der, std::size_t size) {
  constexpr std::string_view begin = "-----BEGIN ";
  constexpr std::string_view end = "-----END ";
  constexpr std::string_view dashes_nl = "-----\n";
  const std::size_t b64 = base64_size(size);
  const std::size_t lines = (b64 + 63) / 64;
  std::string out;
  out.reserve(begin.size() + end.size() + 2 * (label.size() + dashes_nl.size()) + b64 + lines);
  out.append(begin.data(), begin.size());
  out.append(label.data(), label.size());
  out.append(dashes_nl.data(), dashes_nl.size());
  for (std::size_t i = 0; i < size; i += 48) {  // 48 bytes make a 64-character line
    base64_append(out, der + i, size - i < 48 ? size - i : 48);
    out += '\n';
  }
  out.append(end.data(), end.size());
  out.append(label.data(), label.size());
  out.append(dashes_nl.data(), dashes_nl.size());
  return out;
}

}  // namespace detail

SLOTGUARD_DECL std::string private_key_pem(const ed25519_seed& seed) {
  std::uint8_t der[48] = {0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70,
                          0x04, 0x22, 0x04, 0x20};
  std::memcpy(der + 16, seed.data(), 32);
  std::string out = detail::pem_encode("PRIVATE KEY", der, sizeof der);
  detail::secure_wipe(der, sizeof der);
  return out;
}

SLOTGUARD_DECL std::string public_key_pem(const ed25519_public_key& key) {
  std::uint8_t der[44] = {0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00};
  std::memcpy(der + 12, key.data(), 32);
  return detail::pem_encode("PUBLIC KEY", der, sizeof der);
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_PEM_IMPL_HPP
