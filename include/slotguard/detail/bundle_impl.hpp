// SPDX-License-Identifier: Apache-2.0
// The bodies of what slotguard/bundle.hpp declares: the parser and its
// section checks, the streamed reader, verification (payload, signatures,
// eligibility), signing and the builder. Included by slotguard/bundle.hpp
// only.
#ifndef SLOTGUARD_DETAIL_BUNDLE_IMPL_HPP
#define SLOTGUARD_DETAIL_BUNDLE_IMPL_HPP

#include <slotguard/config.hpp>

#include <slotguard/bundle.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/trust.hpp>
#include <slotguard/detail/schema_utf8.hpp>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

namespace detail {

SLOTGUARD_DECL bool bundle_valid_utf8(byte_view s) noexcept {
  // RFC 3629's UTF-8 (the schema's validator), and no NUL.
  for (const std::uint8_t c : s)
    if (c == 0) return false;
  return utf8_valid(s.data(), s.size());
}

SLOTGUARD_DECL bool bundle_valid_channel(std::string_view c) noexcept {
  if (c.empty() || c.size() > max_channel_length) return false;
  auto alnum = [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
  };
  if (!alnum(c[0])) return false;
  for (char ch : c)
    if (!alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  if (c.back() == '.') return false;
  const std::string_view base = c.substr(0, c.find('.'));
  auto upper = [](char ch) { return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 'a' + 'A') : ch; };
  auto is = [&](std::string_view name) {
    if (base.size() != name.size()) return false;
    for (std::size_t i = 0; i < name.size(); ++i)
      if (upper(base[i]) != name[i]) return false;
    return true;
  };
  if (is("CON") || is("PRN") || is("AUX") || is("NUL")) return false;
  if (base.size() == 4 && base[3] >= '0' && base[3] <= '9') {
    const std::string_view stem = base.substr(0, 3);
    const char a = upper(stem[0]), b = upper(stem[1]), d = upper(stem[2]);
    if ((a == 'C' && b == 'O' && d == 'M') || (a == 'L' && b == 'P' && d == 'T')) return false;
  }
  return true;
}

inline void bundle_store_header(std::uint8_t* h, std::uint32_t manifest_size, std::uint64_t payload_size,
                                std::uint32_t signature_block_size) noexcept {
  std::memcpy(h, bundle_magic.data(), bundle_magic.size());
  store_le16(h + 8, bundle_format_version);
  store_le16(h + 10, 0);  // flags
  store_le32(h + 12, static_cast<std::uint32_t>(bundle_header_size));
  store_le32(h + 16, manifest_size);
  store_le32(h + 20, 0);  // reserved
  store_le64(h + 24, payload_size);
  store_le32(h + 32, signature_block_size);
  store_le32(h + 36, crc32c(byte_view(h, 36)));
}

inline std::vector<std::uint8_t> bundle_message(byte_view header, byte_view manifest) {
  std::vector<std::uint8_t> m;
  m.reserve(bundle_signature_context.size() + bundle_signed_header_size + manifest.size());
  m.insert(m.end(), bundle_signature_context.begin(), bundle_signature_context.end());
  m.insert(m.end(), header.begin(), header.begin() + bundle_signed_header_size);
  m.insert(m.end(), manifest.begin(), manifest.end());
  return m;
}

SLOTGUARD_DECL result<std::vector<std::uint8_t>> bundle_assemble(byte_view manifest, byte_view payload) {
  if (manifest.size() > (std::numeric_limits<std::uint32_t>::max)()) return errc::too_large;
  std::vector<std::uint8_t> out(bundle_header_size);
  out.reserve(bundle_header_size + manifest.size() + payload.size() + 4);
  bundle_store_header(out.data(), static_cast<std::uint32_t>(manifest.size()),
                      static_cast<std::uint64_t>(payload.size()), 4);
  out.insert(out.end(), manifest.begin(), manifest.end());
  out.insert(out.end(), payload.begin(), payload.end());
  append_le32(out, 0);
  return out;
}

SLOTGUARD_DECL result<void> bundle_append_signature(std::vector<std::uint8_t>& b, const ed25519_seed& seed) {
  if (b.size() < bundle_header_size) return errc::truncated;
  std::uint8_t* h = b.data();
  const std::uint64_t msize = load_le32(h + 16);
  const std::uint64_t psize = load_le64(h + 24);
  const std::uint64_t ssize = load_le32(h + 32);
  const std::uint64_t rest = b.size() - bundle_header_size;
  if (msize > rest || psize > rest - msize || ssize != rest - msize - psize) return errc::truncated;
  if (ssize < 4) return errc::bad_header;
  const std::uint32_t count = load_le32(h + bundle_header_size + msize + psize);
  if (ssize != 4 + std::uint64_t{count} * bundle_signature_entry_size) return errc::bad_header;
  if (ssize + bundle_signature_entry_size > (std::numeric_limits<std::uint32_t>::max)())
    return errc::too_many_signatures;
  const auto msize_z = static_cast<std::size_t>(msize);
  const auto sig_at = static_cast<std::size_t>(bundle_header_size + msize + psize);
  const std::vector<std::uint8_t> msg =
      bundle_message(byte_view(b.data(), bundle_header_size), byte_view(b.data() + bundle_header_size, msize_z));
  const ed25519_signature sig = ed25519_sign(seed, msg);
  const key_id id = key_id_of(ed25519_public_key_from_seed(seed));
  b.insert(b.end(), id.begin(), id.end());
  b.insert(b.end(), sig.begin(), sig.end());
  h = b.data();
  store_le32(h + sig_at, count + 1);
  store_le32(h + 32, static_cast<std::uint32_t>(ssize + bundle_signature_entry_size));
  store_le32(h + 36, crc32c(byte_view(h, 36)));
  return ok();
}

}  // namespace detail

SLOTGUARD_DECL result<host_version> parse_host_version(std::string_view text) noexcept {
  host_version v;
  std::uint32_t* parts[3] = {&v.major, &v.minor, &v.patch};
  std::size_t i = 0;
  for (int k = 0; k < 3; ++k) {
    if (k > 0) {
      if (i >= text.size() || text[i] != '.') return errc::invalid_argument;
      ++i;
    }
    const std::size_t start = i;
    std::uint64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && i - start < 11) {
      n = n * 10 + static_cast<std::uint64_t>(text[i] - '0');
      ++i;
    }
    const std::size_t len = i - start;
    if (len == 0 || len > 10 || (len > 1 && text[start] == '0') ||
        n > (std::numeric_limits<std::uint32_t>::max)())
      return errc::invalid_argument;
    *parts[k] = static_cast<std::uint32_t>(n);
  }
  if (i != text.size()) return errc::invalid_argument;
  return v;
}

SLOTGUARD_DECL std::string to_string(const host_version& v) {
  return std::to_string(v.major) + "." + std::to_string(v.minor) + "." + std::to_string(v.patch);
}

namespace detail {

// What the header says (docs/FORMAT.md, "Header").
struct bundle_header_fields {
  std::uint16_t format_version = 0;
  std::uint32_t manifest_size = 0;
  std::uint64_t payload_size = 0;
  std::uint32_t signature_block_size = 0;
};

// Parsing, steps 1 to 5 (the header): `first` is the first min(40, size)
// bytes of an input of `size` bytes.
inline result<bundle_header_fields> bundle_check_header(byte_view first, std::uint64_t size) noexcept {
  const std::size_t magic_len = first.size() < bundle_magic.size() ? first.size() : bundle_magic.size();
  if (magic_len > 0 && std::memcmp(first.data(), bundle_magic.data(), magic_len) != 0) return errc::bad_magic;
  if (size < bundle_magic.size() + 2) return errc::truncated;
  const std::uint8_t* h = first.data();
  bundle_header_fields f;
  f.format_version = load_le16(h + 8);
  // The version is checked before anything else in the header, whose layout
  // a later version may change.
  if (f.format_version != bundle_format_version) return errc::unsupported_format_version;
  if (size < bundle_header_size) return errc::truncated;
  if (crc32c(first.sub(0, 36)) != load_le32(h + 36)) return errc::checksum_mismatch;
  if (load_le16(h + 10) != 0 || load_le32(h + 12) != bundle_header_size || load_le32(h + 20) != 0)
    return errc::bad_header;
  f.manifest_size = load_le32(h + 16);
  f.payload_size = load_le64(h + 24);
  f.signature_block_size = load_le32(h + 32);
  return f;
}

// Parsing, steps 6 and 7: the header's sizes against the limits, then
// against the input's size.
inline result<void> bundle_check_limits(const bundle_header_fields& f, std::uint64_t size,
                                        const bundle_limits& limits) noexcept {
  const std::uint64_t msize = f.manifest_size;
  const std::uint64_t psize = f.payload_size;
  const std::uint64_t ssize = f.signature_block_size;
  if (size > limits.max_bundle_size || msize > limits.max_manifest_size || psize > limits.max_bundle_size ||
      psize > limits.max_payload_size)
    return errc::too_large;
  if (ssize > 4 + std::uint64_t{limits.max_signatures} * bundle_signature_entry_size)
    return errc::too_many_signatures;
  // size >= 40 here (bundle_check_header), and msize and ssize are u32s:
  // none of this overflows.
  const std::uint64_t rest = size - bundle_header_size;
  if (msize > rest || psize > rest - msize || ssize > rest - msize - psize) return errc::truncated;
  if (ssize < rest - msize - psize) return errc::trailing_bytes;
  return ok();
}

// Parsing, step 8: the signature block (count, then 72-byte entries).
inline result<void> bundle_check_signature_block(byte_view block, const bundle_limits& limits) noexcept {
  if (block.size() < 4) return errc::bad_header;
  const std::uint32_t count = load_le32(block.data());
  if (count > limits.max_signatures) return errc::too_many_signatures;
  if (static_cast<std::uint64_t>(block.size()) != 4 + std::uint64_t{count} * bundle_signature_entry_size)
    return errc::bad_header;
  return ok();
}

// One known field's type, length and value rules (docs/FORMAT.md, "Manifest
// fields"), stored into m.
inline result<void> bundle_parse_known_field(manifest_field_id id, std::uint8_t flags, std::uint8_t type,
                                             byte_view v, const bundle_limits& limits,
                                             bundle_manifest& m) noexcept {
  const auto want = [&](manifest_field_type t, std::size_t size) {
    return type == static_cast<std::uint8_t>(t) && (size == 0 || v.size() == size);
  };
  const auto as_string = [&]() { return v.as_chars(); };
  switch (id) {
    case manifest_field_id::channel:
      if (!want(manifest_field_type::string, 0)) return errc::malformed_field;
      if (!bundle_valid_utf8(v)) return errc::invalid_utf8;
      if (!bundle_valid_channel(as_string())) return errc::malformed_field;
      m.channel = as_string();
      break;
    case manifest_field_id::sequence:
      if (!want(manifest_field_type::u64, 8)) return errc::malformed_field;
      m.sequence = load_le64(v.data());
      break;
    case manifest_field_id::version:
      if (!want(manifest_field_type::string, 0)) return errc::malformed_field;
      if (!bundle_valid_utf8(v)) return errc::invalid_utf8;
      m.version = as_string();
      m.has_version = true;
      break;
    case manifest_field_id::schema_id:
      if (!want(manifest_field_type::string, 0)) return errc::malformed_field;
      if (!bundle_valid_utf8(v)) return errc::invalid_utf8;
      if (v.empty()) return errc::malformed_field;
      m.schema_id = as_string();
      break;
    case manifest_field_id::schema_version:
      if (!want(manifest_field_type::u32, 4)) return errc::malformed_field;
      m.schema_version = load_le32(v.data());
      break;
    case manifest_field_id::host_min:
    case manifest_field_id::host_max: {
      if (!want(manifest_field_type::string, 0)) return errc::malformed_field;
      // A string field: UTF-8 first, as for every string, then the syntax.
      if (!bundle_valid_utf8(v)) return errc::invalid_utf8;
      const result<host_version> hv = parse_host_version(as_string());
      if (!hv) return errc::malformed_field;
      (id == manifest_field_id::host_min ? m.host_min : m.host_max) = *hv;
      break;
    }
    case manifest_field_id::created:
      if (!want(manifest_field_type::i64, 8)) return errc::malformed_field;
      m.created = static_cast<std::int64_t>(load_le64(v.data()));
      break;
    case manifest_field_id::not_before:
      if (!want(manifest_field_type::i64, 8)) return errc::malformed_field;
      m.not_before = static_cast<std::int64_t>(load_le64(v.data()));
      break;
    case manifest_field_id::expires:
      if (!want(manifest_field_type::i64, 8)) return errc::malformed_field;
      m.expires = static_cast<std::int64_t>(load_le64(v.data()));
      break;
    case manifest_field_id::payload_size:
      if (!want(manifest_field_type::u64, 8)) return errc::malformed_field;
      m.payload_size = load_le64(v.data());
      break;
    case manifest_field_id::payload_sha256:
      if (!want(manifest_field_type::bytes, 32)) return errc::malformed_field;
      std::memcpy(m.payload_sha256.data(), v.data(), 32);
      break;
    case manifest_field_id::rollout: {
      // The shape (type, not empty, whole steps) before the count, the count
      // before the steps' values.
      if (!want(manifest_field_type::rollout, 0) || v.empty() || v.size() % rollout_view::step_size != 0)
        return errc::malformed_field;
      const rollout_view ramp(v);
      if (ramp.size() > limits.max_rollout_steps) return errc::field_too_large;
      for (std::size_t i = 0; i < ramp.size(); ++i) {
        const rollout_step s = ramp[i];
        if (s.percent > 100) return errc::malformed_field;
        if (i > 0) {
          const rollout_step prev = ramp[i - 1];
          if (s.offset <= prev.offset || s.percent < prev.percent) return errc::malformed_field;
        }
      }
      m.rollout = ramp;
      break;
    }
    case manifest_field_id::recalls: {
      if (!want(manifest_field_type::u64_list, 0) || v.empty() || v.size() % 8 != 0)
        return errc::malformed_field;
      const sequence_list_view list(v);
      if (list.size() > limits.max_recalls) return errc::field_too_large;
      for (std::size_t i = 1; i < list.size(); ++i)
        if (list[i] <= list[i - 1]) return errc::malformed_field;
      m.recalls = list;
      break;
    }
    case manifest_field_id::payload_kind: {
      if (!want(manifest_field_type::u32, 4)) return errc::malformed_field;
      const std::uint32_t k = load_le32(v.data());
      if (k > static_cast<std::uint32_t>(payload_kind::tree)) return errc::malformed_field;
      // A kind other than bytes must be critical: a reader that ignored it
      // would take the payload for plain bytes.
      if (k != 0 && (flags & manifest_flag_critical) == 0) return errc::malformed_field;
      m.kind = static_cast<payload_kind>(k);
      break;
    }
  }
  return ok();
}

// Parsing, steps 9 and 10: the manifest's fields, the required ones, and the
// rules between fields.
inline result<void> bundle_parse_manifest(byte_view bytes, const bundle_limits& limits,
                                          bundle_manifest& m) noexcept {
  detail::le_reader r(bytes);
  std::uint32_t seen = 0;  // bit i: field id i was present
  while (r.remaining() > 0) {
    // At most max_fields fields, known or not: the check comes before the
    // field is read, against the number read so far.
    if (m.field_count >= limits.max_fields) return errc::too_many_fields;
    ++m.field_count;
    std::uint16_t id = 0;
    std::uint8_t flags = 0, type = 0;
    std::uint32_t len = 0;
    if (!(r.u16(id) && r.u8(flags) && r.u8(type) && r.u32(len))) return errc::truncated;
    if (len > limits.max_field_size) return errc::field_too_large;
    byte_view v;
    if (!r.bytes(len, v)) return errc::truncated;
    if ((flags & ~manifest_flag_critical) != 0 || id == 0) return errc::malformed_field;
    if (id > static_cast<std::uint16_t>(manifest_field_id::payload_kind)) {
      if (flags & manifest_flag_critical) return errc::unknown_critical_field;
      ++m.unknown_field_count;
      continue;
    }
    const std::uint32_t bit = std::uint32_t{1} << id;
    if (seen & bit) return errc::duplicate_field;
    seen |= bit;
    SLOTGUARD_TRY(bundle_parse_known_field(static_cast<manifest_field_id>(id), flags, type, v, limits, m));
  }
  constexpr std::uint32_t required =
      (1u << static_cast<unsigned>(manifest_field_id::channel)) |
      (1u << static_cast<unsigned>(manifest_field_id::sequence)) |
      (1u << static_cast<unsigned>(manifest_field_id::schema_id)) |
      (1u << static_cast<unsigned>(manifest_field_id::schema_version)) |
      (1u << static_cast<unsigned>(manifest_field_id::created)) |
      (1u << static_cast<unsigned>(manifest_field_id::payload_size)) |
      (1u << static_cast<unsigned>(manifest_field_id::payload_sha256));
  if ((seen & required) != required) return errc::missing_field;
  // Ranges that admit nothing are a publisher's mistake, caught here rather
  // than on every device.
  if (m.host_min && m.host_max && *m.host_max < *m.host_min) return errc::malformed_field;
  if (m.not_before && m.expires && *m.expires <= *m.not_before) return errc::malformed_field;
  return ok();
}

// Reads exactly n bytes at off: the read's error, or truncated when it comes
// back short (the input is shorter than its size said).
inline result<void> bundle_read_exact(const read_at_fn& read, std::uint64_t off, std::uint8_t* out,
                                      std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const result<std::size_t> got = read(off + done, out + done, n - done);
    if (!got) return got.error();
    if (*got == 0 || *got > n - done) return errc::truncated;
    done += *got;
  }
  return ok();
}

}  // namespace detail

SLOTGUARD_DECL result<bundle_view> parse_bundle(byte_view in, const bundle_limits& limits) noexcept {
  const std::uint64_t n = in.size();
  const result<detail::bundle_header_fields> f = detail::bundle_check_header(in.sub(0, bundle_header_size), n);
  if (!f) return f.error();
  SLOTGUARD_TRY(detail::bundle_check_limits(*f, n, limits));
  // The sizes add up to n, a size_t.
  const auto msize = static_cast<std::size_t>(f->manifest_size);
  const auto psize = static_cast<std::size_t>(f->payload_size);
  bundle_view b;
  b.format_version = f->format_version;
  b.bytes = in;
  b.header = in.sub(0, bundle_header_size);
  b.manifest_bytes = in.sub(bundle_header_size, msize);
  b.payload = in.sub(bundle_header_size + msize, psize);
  b.signature_block = in.sub(bundle_header_size + msize + psize);
  SLOTGUARD_TRY(detail::bundle_check_signature_block(b.signature_block, limits));
  SLOTGUARD_TRY(detail::bundle_parse_manifest(b.manifest_bytes, limits, b.manifest));
  return b;
}

SLOTGUARD_DECL result<bundle_head> read_bundle_head(const read_at_fn& read, std::uint64_t file_size,
                                                    const bundle_limits& limits) {
  std::uint8_t first[bundle_header_size];
  const std::size_t first_size =
      file_size < bundle_header_size ? static_cast<std::size_t>(file_size) : bundle_header_size;
  SLOTGUARD_TRY(detail::bundle_read_exact(read, 0, first, first_size));
  const result<detail::bundle_header_fields> f = detail::bundle_check_header(byte_view(first, first_size), file_size);
  if (!f) return f.error();
  SLOTGUARD_TRY(detail::bundle_check_limits(*f, file_size, limits));
  // Both are u32s, bounded by the limits; on a 32-bit host with limits
  // raised past what memory can hold, refuse rather than wrap.
  const std::uint64_t head_size = bundle_header_size + std::uint64_t{f->manifest_size};
  const std::uint64_t block_size = f->signature_block_size;
  const std::uint64_t cap = (std::numeric_limits<std::size_t>::max)() / 2;
  if (head_size > cap || block_size > cap) return errc::too_large;
  bundle_head h;
  h.file_size = file_size;
  h.payload_offset = head_size;
  h.payload_size = f->payload_size;
  h.header_and_manifest.resize(static_cast<std::size_t>(head_size));
  std::memcpy(h.header_and_manifest.data(), first, bundle_header_size);
  h.signature_block.resize(static_cast<std::size_t>(f->signature_block_size));
  // parse_bundle's order: the signature block before the manifest.
  SLOTGUARD_TRY(detail::bundle_read_exact(read, head_size + f->payload_size, h.signature_block.data(),
                                          h.signature_block.size()));
  SLOTGUARD_TRY(detail::bundle_check_signature_block(h.signature_block, limits));
  SLOTGUARD_TRY(detail::bundle_read_exact(read, bundle_header_size, h.header_and_manifest.data() + bundle_header_size,
                                          h.header_and_manifest.size() - bundle_header_size));
  bundle_view& b = h.view;
  b.format_version = f->format_version;
  const byte_view all(h.header_and_manifest);
  b.header = all.sub(0, bundle_header_size);
  b.manifest_bytes = all.sub(bundle_header_size);
  b.signature_block = byte_view(h.signature_block);
  SLOTGUARD_TRY(detail::bundle_parse_manifest(b.manifest_bytes, limits, b.manifest));
  return h;
}

SLOTGUARD_DECL result<void> stream_payload(const read_at_fn& read, const bundle_head& h, const chunk_fn& sink,
                                           std::size_t chunk) {
  if (chunk == 0) return errc::invalid_argument;
  if (h.view.manifest.payload_size != h.payload_size) return errc::payload_size_mismatch;
  const std::uint64_t buf_size = h.payload_size < chunk ? h.payload_size : std::uint64_t{chunk};
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(buf_size));
  sha256 hash;
  std::uint64_t done = 0;
  while (done < h.payload_size) {
    const std::uint64_t left = h.payload_size - done;
    const std::size_t n = left < buf.size() ? static_cast<std::size_t>(left) : buf.size();
    SLOTGUARD_TRY(detail::bundle_read_exact(read, h.payload_offset + done, buf.data(), n));
    hash.update(buf.data(), n);
    if (sink) SLOTGUARD_TRY(sink(byte_view(buf.data(), n)));
    done += n;
  }
  if (hash.finish() != h.view.manifest.payload_sha256) return errc::payload_hash_mismatch;
  return ok();
}

SLOTGUARD_DECL result<void> verify_payload(const bundle_view& b) noexcept {
  if (b.manifest.payload_size != static_cast<std::uint64_t>(b.payload.size()))
    return errc::payload_size_mismatch;
  if (sha256_of(b.payload) != b.manifest.payload_sha256) return errc::payload_hash_mismatch;
  return ok();
}

SLOTGUARD_DECL std::vector<std::uint8_t> bundle_signed_message(const bundle_view& b) {
  return detail::bundle_message(b.header, b.manifest_bytes);
}

SLOTGUARD_DECL result<void> verify_signatures(const bundle_view& b, const trust_set& trust) {
  const std::size_t count = b.signature_count();
  bool any_known = false;
  for (std::size_t i = 0; i < count && !any_known; ++i)
    any_known = trust.find(b.signature(i).id) != trust_set::npos;
  if (!any_known) return errc::unknown_key;
  const std::vector<std::uint8_t> msg = bundle_signed_message(b);
  std::vector<bool> counted(trust.size(), false);
  std::size_t distinct = 0;
  for (std::size_t i = 0; i < count; ++i) {
    const signature_entry e = b.signature(i);
    const std::size_t k = trust.find(e.id);
    if (k == trust_set::npos) continue;
    const result<void> r = ed25519_verify(trust.key(k), msg, e.signature);
    if (!r) return r.error();
    if (!counted[k]) {
      counted[k] = true;
      ++distinct;
    }
  }
  if (distinct < trust.threshold()) return errc::below_threshold;
  return ok();
}

SLOTGUARD_DECL result<void> verify_signatures(const bundle_head& h, const trust_set& trust) {
  return verify_signatures(h.view, trust);
}

SLOTGUARD_DECL result<void> check_eligibility(const bundle_manifest& m, const verify_options& o) noexcept {
  if (!o.channel.empty() && m.channel != o.channel) return errc::channel_mismatch;
  if (o.sequence_floor && m.sequence <= *o.sequence_floor) return errc::sequence_rollback;
  const std::int64_t now =
      o.now ? *o.now
            : static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
  if (m.expires && now >= *m.expires) return errc::expired;
  if (m.not_before && now < *m.not_before) return errc::not_yet_valid;
  if (o.host) {
    if (m.host_min && *o.host < *m.host_min) return errc::host_version_out_of_range;
    if (m.host_max && *o.host > *m.host_max) return errc::host_version_out_of_range;
  }
  return ok();
}

SLOTGUARD_DECL result<void> verify_bundle(const bundle_view& b, const trust_set& trust,
                                          const verify_options& options) {
  SLOTGUARD_TRY(verify_payload(b));
  SLOTGUARD_TRY(verify_signatures(b, trust));
  return check_eligibility(b.manifest, options);
}

SLOTGUARD_DECL result<std::vector<std::uint8_t>> add_signature(byte_view bundle, const ed25519_seed& seed,
                                                               const bundle_limits& limits) {
  const result<bundle_view> parsed = parse_bundle(bundle, limits);
  if (!parsed) return parsed.error();
  const key_id id = key_id_of(ed25519_public_key_from_seed(seed));
  const std::size_t count = parsed->signature_count();
  for (std::size_t i = 0; i < count; ++i)
    if (parsed->signature(i).id == id) return errc::already_exists;
  if (count + 1 > limits.max_signatures) return errc::too_many_signatures;
  std::vector<std::uint8_t> out = bundle.to_vector();
  SLOTGUARD_TRY(detail::bundle_append_signature(out, seed));
  return out;
}

SLOTGUARD_DECL result<void> add_signature(bundle_head& h, const ed25519_seed& seed,
                                          const bundle_limits& limits) {
  const key_id id = key_id_of(ed25519_public_key_from_seed(seed));
  const std::size_t count = h.view.signature_count();
  for (std::size_t i = 0; i < count; ++i)
    if (h.view.signature(i).id == id) return errc::already_exists;
  if (count + 1 > limits.max_signatures) return errc::too_many_signatures;
  const std::uint64_t ssize = h.signature_block.size() + std::uint64_t{bundle_signature_entry_size};
  if (ssize > (std::numeric_limits<std::uint32_t>::max)() || h.header_and_manifest.size() < bundle_header_size)
    return errc::too_many_signatures;
  const ed25519_signature sig = ed25519_sign(seed, bundle_signed_message(h.view));
  h.signature_block.insert(h.signature_block.end(), id.begin(), id.end());
  h.signature_block.insert(h.signature_block.end(), sig.begin(), sig.end());
  detail::store_le32(h.signature_block.data(), static_cast<std::uint32_t>(count + 1));
  std::uint8_t* hdr = h.header_and_manifest.data();
  detail::store_le32(hdr + 32, static_cast<std::uint32_t>(ssize));
  detail::store_le32(hdr + 36, crc32c(byte_view(hdr, 36)));
  h.view.signature_block = byte_view(h.signature_block);
  h.file_size += bundle_signature_entry_size;
  return ok();
}

SLOTGUARD_DECL result<std::vector<std::uint8_t>> bundle_builder::manifest() const {
  if (channel_.empty() || !sequence_ || !schema_id_ || !created_) return errc::missing_field;
  using id = manifest_field_id;
  detail::manifest_writer w;
  w.string(id::channel, true, channel_);
  w.u64(id::sequence, true, *sequence_);
  if (version_) w.string(id::version, false, *version_);
  w.string(id::schema_id, true, *schema_id_);
  w.u32(id::schema_version, true, schema_version_);
  if (host_min_) w.string(id::host_min, true, to_string(*host_min_));
  if (host_max_) w.string(id::host_max, true, to_string(*host_max_));
  w.i64(id::created, true, *created_);
  if (not_before_) w.i64(id::not_before, true, *not_before_);
  if (expires_) w.i64(id::expires, true, *expires_);
  if (payload_digest_) {
    w.u64(id::payload_size, true, payload_digest_->first);
    w.field(id::payload_sha256, true, manifest_field_type::bytes, byte_view(payload_digest_->second));
  } else {
    w.u64(id::payload_size, true, static_cast<std::uint64_t>(payload_.size()));
    w.field(id::payload_sha256, true, manifest_field_type::bytes, byte_view(sha256_of(payload_)));
  }
  if (!rollout_.empty()) {
    std::vector<std::uint8_t> v;
    v.reserve(rollout_.size() * rollout_view::step_size);
    for (const rollout_step& s : rollout_) {
      detail::append_le64(v, s.offset);
      v.push_back(s.percent);
    }
    w.field(id::rollout, true, manifest_field_type::rollout, v);
  }
  if (!recalls_.empty()) {
    std::vector<std::uint64_t> sorted = recalls_;
    std::sort(sorted.begin(), sorted.end());
    sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
    std::vector<std::uint8_t> v;
    v.reserve(sorted.size() * 8);
    for (std::uint64_t s : sorted) detail::append_le64(v, s);
    w.field(id::recalls, true, manifest_field_type::u64_list, v);
  }
  if (kind_ != payload_kind::bytes) w.u32(id::payload_kind, true, static_cast<std::uint32_t>(kind_));
  for (const extra& e : extra_)
    w.field(e.id, e.critical ? manifest_flag_critical : std::uint8_t{0}, e.type, e.value);
  return std::move(w).bytes();
}

SLOTGUARD_DECL result<std::vector<std::uint8_t>> bundle_builder::build(const bundle_limits& limits) const {
  if (payload_digest_) return errc::invalid_argument;  // no bytes to put in: build_parts
  result<std::vector<std::uint8_t>> man = manifest();
  if (!man) return man.error();
  std::vector<key_id> ids;
  for (const ed25519_seed& s : seeds_) {
    const key_id id = key_id_of(ed25519_public_key_from_seed(s));
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return errc::already_exists;
    ids.push_back(id);
  }
  result<std::vector<std::uint8_t>> out = detail::bundle_assemble(*man, payload_);
  if (!out) return out.error();
  for (const ed25519_seed& s : seeds_) SLOTGUARD_TRY(detail::bundle_append_signature(*out, s));
  const result<bundle_view> check = parse_bundle(*out, limits);
  if (!check) return check.error();
  return out;
}

SLOTGUARD_DECL result<bundle_builder::parts> bundle_builder::build_parts(const bundle_limits& limits) const {
  if (!payload_digest_) return errc::invalid_argument;
  result<std::vector<std::uint8_t>> man = manifest();
  if (!man) return man.error();
  if (man->size() > (std::numeric_limits<std::uint32_t>::max)() - bundle_header_size) return errc::too_large;
  const std::uint64_t psize = payload_digest_->first;
  const std::uint64_t ssize = 4 + std::uint64_t{bundle_signature_entry_size} * seeds_.size();
  if (ssize > (std::numeric_limits<std::uint32_t>::max)()) return errc::too_many_signatures;
  parts out;
  out.head.resize(bundle_header_size);
  out.head.insert(out.head.end(), man->begin(), man->end());
  // Header bytes [0, 32), the signed ones, do not depend on the signature
  // block's size: the final header is written once.
  detail::bundle_store_header(out.head.data(), static_cast<std::uint32_t>(man->size()), psize,
                              static_cast<std::uint32_t>(ssize));
  const std::vector<std::uint8_t> msg = detail::bundle_message(
      byte_view(out.head.data(), bundle_header_size), byte_view(out.head.data() + bundle_header_size, man->size()));
  detail::append_le32(out.tail, static_cast<std::uint32_t>(seeds_.size()));
  std::vector<key_id> ids;
  for (const ed25519_seed& s : seeds_) {
    const key_id id = key_id_of(ed25519_public_key_from_seed(s));
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) return errc::already_exists;
    ids.push_back(id);
    const ed25519_signature sig = ed25519_sign(s, msg);
    out.tail.insert(out.tail.end(), id.begin(), id.end());
    out.tail.insert(out.tail.end(), sig.begin(), sig.end());
  }
  const std::uint64_t head_size = out.head.size();
  const std::uint64_t tail_size = out.tail.size();
  if (psize > (std::numeric_limits<std::uint64_t>::max)() - head_size - tail_size) return errc::too_large;
  const std::uint64_t tail_at = head_size + psize;
  // The same checks as a reader's; the payload's bytes are never read.
  const read_at_fn read = [&](std::uint64_t off, std::uint8_t* o, std::size_t n) -> result<std::size_t> {
    std::size_t done = 0;
    while (done < n) {
      const std::uint64_t at = off + done;
      if (at < head_size) {
        o[done++] = out.head[static_cast<std::size_t>(at)];
      } else if (at >= tail_at && at - tail_at < tail_size) {
        o[done++] = out.tail[static_cast<std::size_t>(at - tail_at)];
      } else if (at < tail_at) {
        return errc::internal;
      } else {
        break;
      }
    }
    return done;
  };
  const result<bundle_head> check = read_bundle_head(read, tail_at + tail_size, limits);
  if (!check) return check.error();
  return out;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_BUNDLE_IMPL_HPP
