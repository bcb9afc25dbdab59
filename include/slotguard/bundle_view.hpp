// SPDX-License-Identifier: Apache-2.0
// A parsed bundle as its readers see it: the format's constants, the parsed
// manifest (bundle_manifest, with its rollout ramp and recall list views) and
// bundle_view, the zero-copy views into a bundle's bytes that parse_bundle
// returns. Types only: it includes no hash, signature or OS code, so that
// code that only reads content (slotguard/reader.hpp) can carry a manifest.
// slotguard/bundle.hpp includes it and adds the parser, the verifier and
// the builder.
#ifndef SLOTGUARD_BUNDLE_VIEW_HPP
#define SLOTGUARD_BUNDLE_VIEW_HPP

#include <slotguard/config.hpp>

#include <slotguard/byte_view.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// ---------------------------------------------------------------------------
// Format constants (docs/FORMAT.md, "Header")

// The first 8 bytes of every bundle. The high-bit first byte and the CR LF,
// SUB and LF that follow make any 7-bit or newline-translating transfer
// visibly break the magic, as PNG's signature does.
inline constexpr std::array<std::uint8_t, 8> bundle_magic = {0x89, 'S', 'G', 'B',
                                                             0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::uint16_t bundle_format_version = 1;
inline constexpr std::size_t bundle_header_size = 40;
// Header bytes [0, 32) are signed; [32, 40) hold the signature block's size
// and the header CRC, which change when a signature is added.
inline constexpr std::size_t bundle_signed_header_size = 32;
inline constexpr std::size_t bundle_signature_entry_size = 72;  // key id (8) + signature (64)
// Domain separation: the signed message starts with these 20 bytes
// ("slotguard/bundle/v1" and a zero byte), so a bundle signature can never be
// mistaken for a signature over anything else made with the same key.
inline constexpr std::array<std::uint8_t, 20> bundle_signature_context = {
    's', 'l', 'o', 't', 'g', 'u', 'a', 'r', 'd', '/', 'b', 'u', 'n', 'd', 'l', 'e', '/', 'v', '1', 0};

// Manifest field ids (docs/FORMAT.md, "Manifest fields").
enum class manifest_field_id : std::uint16_t {
  channel = 1,
  sequence = 2,
  version = 3,
  schema_id = 4,
  schema_version = 5,
  host_min = 6,
  host_max = 7,
  created = 8,
  not_before = 9,
  expires = 10,
  payload_size = 11,
  payload_sha256 = 12,
  rollout = 13,
  recalls = 14,
  payload_kind = 15,
};

// What the payload is (manifest field 15). Absent means bytes; an encoder
// writes the field only for a value other than bytes, and then marks it
// critical, so that a reader that does not know the field refuses the bundle
// instead of taking a tree archive for plain bytes.
enum class payload_kind : std::uint8_t {
  bytes = 0,  // opaque bytes, given to the host as they are
  tree = 1,   // a tree archive (docs/FORMAT.md, "Tree payloads")
};

// Manifest field value types.
enum class manifest_field_type : std::uint8_t {
  u32 = 1,       // 4 bytes, little-endian
  u64 = 2,       // 8 bytes, little-endian
  i64 = 3,       // 8 bytes, little-endian two's complement
  string = 4,    // UTF-8, no U+0000
  bytes = 5,     // opaque
  rollout = 6,   // steps of {offset u64, percent u8}
  u64_list = 7,  // strictly increasing u64 values
};

inline constexpr std::uint8_t manifest_flag_critical = 0x01;
inline constexpr std::size_t manifest_field_header_size = 8;  // id u16, flags u8, type u8, length u32
inline constexpr std::size_t max_channel_length = 64;

// Hard limits on everything input-controlled. The defaults suit a sensor;
// a host may lower them (or raise them, knowing what it costs).
struct bundle_limits {
  std::uint64_t max_bundle_size = (std::uint64_t{4} << 30) + (std::uint64_t{1} << 20);  // too_large
  std::uint64_t max_payload_size = std::uint64_t{4} << 30;                             // too_large
  std::uint32_t max_manifest_size = 64u << 10;                // too_large
  std::uint32_t max_field_size = 16u << 10;                   // field_too_large
  std::uint32_t max_fields = 64;                              // too_many_fields
  std::uint32_t max_signatures = 16;                          // too_many_signatures
  std::uint32_t max_rollout_steps = 32;                       // field_too_large
  std::uint32_t max_recalls = 1024;                           // field_too_large
};

// A host software version, "major.minor.patch", compared numerically.
struct host_version {
  std::uint32_t major = 0;
  std::uint32_t minor = 0;
  std::uint32_t patch = 0;

  friend bool operator==(const host_version& a, const host_version& b) noexcept {
    return a.major == b.major && a.minor == b.minor && a.patch == b.patch;
  }
  friend bool operator!=(const host_version& a, const host_version& b) noexcept { return !(a == b); }
  friend bool operator<(const host_version& a, const host_version& b) noexcept {
    if (a.major != b.major) return a.major < b.major;
    if (a.minor != b.minor) return a.minor < b.minor;
    return a.patch < b.patch;
  }
  friend bool operator>(const host_version& a, const host_version& b) noexcept { return b < a; }
  friend bool operator<=(const host_version& a, const host_version& b) noexcept { return !(b < a); }
  friend bool operator>=(const host_version& a, const host_version& b) noexcept { return !(a < b); }
};

// One step of a rollout ramp: from `offset` seconds after the rollout's start
// (not_before when the manifest has it, otherwise created), devices whose
// bucket is below `percent` (0..100) are admitted.
struct rollout_step {
  std::uint64_t offset = 0;
  std::uint8_t percent = 0;
};

// A view of a parsed rollout ramp (empty when the manifest has none).
class rollout_view {
 public:
  static constexpr std::size_t step_size = 9;
  rollout_view() noexcept = default;
  // Requires raw.size() to be a multiple of step_size.
  explicit rollout_view(byte_view raw) noexcept : raw_(raw) {}
  std::size_t size() const noexcept { return raw_.size() / step_size; }
  bool empty() const noexcept { return raw_.empty(); }
  // Requires i < size().
  rollout_step operator[](std::size_t i) const noexcept {
    const std::uint8_t* p = raw_.data() + i * step_size;
    return rollout_step{detail::load_le64(p), p[8]};
  }
  // The percentage admitted `elapsed` seconds after the rollout's start: that
  // of the last step whose offset is <= elapsed, 0 before the first step, and
  // 100 when there is no ramp at all.
  std::uint8_t percent_at(std::uint64_t elapsed) const noexcept {
    if (empty()) return 100;
    std::uint8_t pct = 0;
    for (std::size_t i = 0; i < size(); ++i) {
      const rollout_step s = (*this)[i];
      if (s.offset > elapsed) break;
      pct = s.percent;
    }
    return pct;
  }
  byte_view raw() const noexcept { return raw_; }

 private:
  byte_view raw_;
};

// A view of a parsed, strictly increasing list of sequences (the recall
// list; empty when the manifest has none).
class sequence_list_view {
 public:
  sequence_list_view() noexcept = default;
  // Requires raw.size() to be a multiple of 8.
  explicit sequence_list_view(byte_view raw) noexcept : raw_(raw) {}
  std::size_t size() const noexcept { return raw_.size() / 8; }
  bool empty() const noexcept { return raw_.empty(); }
  // Requires i < size().
  std::uint64_t operator[](std::size_t i) const noexcept { return detail::load_le64(raw_.data() + i * 8); }
  // Binary search; the parser has checked the order.
  bool contains(std::uint64_t seq) const noexcept {
    std::size_t lo = 0, hi = size();
    while (lo < hi) {
      const std::size_t mid = lo + (hi - lo) / 2;
      const std::uint64_t v = (*this)[mid];
      if (v == seq) return true;
      if (v < seq)
        lo = mid + 1;
      else
        hi = mid;
    }
    return false;
  }
  byte_view raw() const noexcept { return raw_; }

 private:
  byte_view raw_;
};

// The parsed manifest. Strings view the caller's buffer.
struct bundle_manifest {
  std::string_view channel;
  std::uint64_t sequence = 0;
  std::string_view version;  // display only; empty when absent or empty
  bool has_version = false;  // the field is present (its value may be empty)
  std::string_view schema_id;
  std::uint32_t schema_version = 0;
  std::optional<host_version> host_min;  // absent: no lower bound
  std::optional<host_version> host_max;  // absent: no upper bound
  std::int64_t created = 0;              // seconds since the Unix epoch, UTC
  std::optional<std::int64_t> not_before;
  std::optional<std::int64_t> expires;
  std::uint64_t payload_size = 0;
  sha256_digest payload_sha256{};
  rollout_view rollout;         // empty when absent
  sequence_list_view recalls;   // empty when absent
  payload_kind kind = payload_kind::bytes;  // bytes when absent
  std::uint32_t field_count = 0;          // all fields, known or not
  std::uint32_t unknown_field_count = 0;  // skipped non-critical fields
};

struct signature_entry {
  key_id id{};
  ed25519_signature signature{};
};

// A parsed bundle: views into the caller's buffer, which must outlive it.
struct bundle_view {
  byte_view bytes;            // the whole bundle
  byte_view header;           // bundle_header_size bytes
  byte_view manifest_bytes;   // the encoded manifest
  byte_view payload;
  byte_view signature_block;  // count u32, then the entries
  std::uint16_t format_version = 0;
  bundle_manifest manifest;

  // 0 for a default-constructed view.
  std::size_t signature_count() const noexcept {
    return signature_block.size() < 4 ? 0 : (signature_block.size() - 4) / bundle_signature_entry_size;
  }
  // Requires i < signature_count().
  signature_entry signature(std::size_t i) const noexcept {
    signature_entry e;
    const std::uint8_t* p = signature_block.data() + 4 + i * bundle_signature_entry_size;
    // Byte by byte (80 bytes), which keeps <cstring> out of a reader's unit.
    for (std::size_t k = 0; k < e.id.size(); ++k) e.id[k] = p[k];
    for (std::size_t k = 0; k < e.signature.size(); ++k) e.signature[k] = p[e.id.size() + k];
    return e;
  }
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_BUNDLE_VIEW_HPP
