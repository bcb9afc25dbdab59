// SPDX-License-Identifier: Apache-2.0
// The bundle: the unit in which content travels from a publisher to every
// sensor, and the public contract between them (docs/FORMAT.md specifies it
// byte by byte). A fixed little-endian header, a manifest of typed,
// length-prefixed fields, the payload, and a block of Ed25519 signatures. The
// parser here is zero-copy and checks every length before it uses it against
// configurable limits; for bundles too big to hold, read_bundle_head reads
// the header, manifest and signature block through a caller's read function
// (same checks, same order) and stream_payload hashes the payload in chunks.
// Verification then binds the payload (size, SHA-256), checks signatures
// against a trust set, and checks that the bundle is meant for this device
// now (channel, sequence floor, validity window, host version). A builder
// (build, or build_parts around a payload the caller streams) and
// add_signature produce bundles; all are deterministic, so equal inputs give
// byte-identical bundles.
#ifndef SLOTGUARD_BUNDLE_HPP
#define SLOTGUARD_BUNDLE_HPP

#include <slotguard/config.hpp>

#include <slotguard/bundle_view.hpp>
#include <slotguard/bytes.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/error.hpp>
#include <slotguard/io_fn.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

class trust_set;  // slotguard/trust.hpp

// Parses "major.minor.patch": three decimal numbers of at most 10 digits,
// each <= 4294967295, without signs, spaces or leading zeros. Returns
// invalid_argument otherwise.
SLOTGUARD_DECL result<host_version> parse_host_version(std::string_view text) noexcept;

// "major.minor.patch".
SLOTGUARD_DECL std::string to_string(const host_version& v);

// Parses a bundle without copying it. Checks, in this order: magic
// (bad_magic; truncated if the input ends inside it), format version
// (unsupported_format_version), header length (truncated), header CRC32C
// (checksum_mismatch), header fields (bad_header), limits (too_large,
// too_many_signatures), that the parts add up to the input's size (truncated
// or trailing_bytes), the signature block (bad_header), then the manifest
// (truncated, too_many_fields, field_too_large, malformed_field, invalid_utf8,
// duplicate_field, unknown_critical_field, missing_field). Does not check the
// payload's hash or any signature: see verify_bundle.
SLOTGUARD_DECL result<bundle_view> parse_bundle(byte_view bytes, const bundle_limits& limits = {}) noexcept;

// What a device requires of a bundle beyond its signatures.
struct verify_options {
  std::string_view channel;                     // empty: any channel
  std::optional<std::uint64_t> sequence_floor;  // the bundle's sequence must be greater
  std::optional<std::int64_t> now;              // seconds since the epoch; absent: the system clock
  std::optional<host_version> host;             // absent: the host range is not checked
};

// The payload's size and SHA-256 against the manifest's: payload_size_mismatch
// or payload_hash_mismatch. Hashes the payload once.
SLOTGUARD_DECL result<void> verify_payload(const bundle_view& b) noexcept;

// Signatures against the trust set: unknown_key when no signature is by a
// trusted key, signature_invalid when one by a trusted key fails (key_invalid
// when the trusted key itself is malformed), below_threshold when fewer
// distinct trusted keys signed than trust.threshold(). Signatures by unknown
// keys are ignored otherwise.
SLOTGUARD_DECL result<void> verify_signatures(const bundle_view& b, const trust_set& trust);

// Channel (channel_mismatch), sequence floor (sequence_rollback), expiry
// (expired when now >= expires), not_before (not_yet_valid when now <
// not_before) and host version range (host_version_out_of_range), in that
// order.
SLOTGUARD_DECL result<void> check_eligibility(const bundle_manifest& m, const verify_options& options) noexcept;

// The whole check, in this order: verify_payload, verify_signatures,
// check_eligibility. Costs one SHA-256 pass over the payload plus one
// signature check per signature by a trusted key.
SLOTGUARD_DECL result<void> verify_bundle(const bundle_view& b, const trust_set& trust,
                                          const verify_options& options = {});

// ---------------------------------------------------------------------------
// Streaming: bundles of any size read through a caller's read function, with
// memory bounded by the limits on the manifest and the signature block (no
// OS call here; the caller reads a file, a mapping or a socket's buffer).

// read_at_fn and chunk_fn are io_fn.hpp's.

// Header, manifest and signature block of a bundle of file_size bytes, read
// with `read` and checked exactly as parse_bundle checks them (same errc, same
// order, for the same bytes). The header is read first and its sizes are
// checked against the limits and file_size before anything else is read, so
// memory stays within max_manifest_size + the signature block's limit
// whatever file_size says. The payload is not read. A read that fails returns
// its error; one that comes back short (the input shrank) returns truncated.
// The object owns its bytes and `view` points into them: it can be moved, not
// copied.
struct bundle_head {
  std::vector<std::uint8_t> header_and_manifest;  // the first 40 + manifest_size bytes
  std::vector<std::uint8_t> signature_block;
  // header, manifest_bytes, signature_block and manifest filled; payload and
  // bytes empty.
  bundle_view view;
  std::uint64_t payload_offset = 0;  // 40 + manifest_size
  std::uint64_t payload_size = 0;    // the header's
  std::uint64_t file_size = 0;

  bundle_head() = default;
  bundle_head(const bundle_head&) = delete;
  bundle_head& operator=(const bundle_head&) = delete;
  // A vector's move keeps its buffer, so the views stay valid.
  bundle_head(bundle_head&&) noexcept = default;
  bundle_head& operator=(bundle_head&&) noexcept = default;
};
SLOTGUARD_DECL result<bundle_head> read_bundle_head(const read_at_fn& read, std::uint64_t file_size,
                                                    const bundle_limits& limits = {});

// verify_signatures over a head (the signed message is header and manifest).
SLOTGUARD_DECL result<void> verify_signatures(const bundle_head& h, const trust_set& trust);

// Streams the payload in chunks of at most `chunk` bytes (invalid_argument
// for 0): checks first that the manifest's payload_size equals the header's
// (payload_size_mismatch, as verify_payload), then reads, hashes and gives
// each chunk to `sink` (may be empty; its error stops the stream), and at the
// end compares the SHA-256 with the manifest's (payload_hash_mismatch). The
// chunks are unverified until this returns success: a sink must not act on
// them before. A short read is truncated. Memory: one chunk.
SLOTGUARD_DECL result<void> stream_payload(const read_at_fn& read, const bundle_head& h, const chunk_fn& sink,
                                           std::size_t chunk = std::size_t{1} << 20);

// The message a bundle's signatures sign: bundle_signature_context, header
// bytes [0, 32), then the manifest.
SLOTGUARD_DECL std::vector<std::uint8_t> bundle_signed_message(const bundle_view& b);

// Adds a signature by `seed` to a bundle and returns the new bundle. The
// input is parsed first (its errors are returned); already_exists when the
// key has signed it already, too_many_signatures when the limit would be
// exceeded.
SLOTGUARD_DECL result<std::vector<std::uint8_t>> add_signature(byte_view bundle, const ed25519_seed& seed,
                                                               const bundle_limits& limits = {});

// Adds a signature by `seed` to a head read by read_bundle_head, in place:
// the signature block gains the entry, the header its new size and CRC, and
// file_size grows by 72 bytes; the payload is not needed (the bundle is the
// head's header and manifest, the payload unchanged, then the new signature
// block). already_exists when the key has signed already,
// too_many_signatures when the limit would be exceeded; the head is
// unchanged on failure.
SLOTGUARD_DECL result<void> add_signature(bundle_head& h, const ed25519_seed& seed,
                                          const bundle_limits& limits = {});

// Builds bundles. Set the fields, the payload and the signers, then build().
class bundle_builder {
 public:
  bundle_builder& channel(std::string_view c) {
    channel_ = std::string(c);
    return *this;
  }
  bundle_builder& sequence(std::uint64_t s) noexcept {
    sequence_ = s;
    return *this;
  }
  // Written when set, even empty (an empty version is not an absent one).
  bundle_builder& version(std::string_view v) {
    version_ = std::string(v);
    return *this;
  }
  bundle_builder& schema(std::string_view id, std::uint32_t version) {
    schema_id_ = std::string(id);
    schema_version_ = version;
    return *this;
  }
  bundle_builder& host_min(const host_version& v) noexcept {
    host_min_ = v;
    return *this;
  }
  bundle_builder& host_max(const host_version& v) noexcept {
    host_max_ = v;
    return *this;
  }
  bundle_builder& created(std::int64_t t) noexcept {
    created_ = t;
    return *this;
  }
  bundle_builder& not_before(std::int64_t t) noexcept {
    not_before_ = t;
    return *this;
  }
  bundle_builder& expires(std::int64_t t) noexcept {
    expires_ = t;
    return *this;
  }
  bundle_builder& rollout(std::vector<rollout_step> steps) {
    rollout_ = std::move(steps);
    return *this;
  }
  // Sorted and deduplicated on build.
  bundle_builder& recalls(std::vector<std::uint64_t> sequences) {
    recalls_ = std::move(sequences);
    return *this;
  }
  // Copies the bytes.
  bundle_builder& payload(byte_view p) {
    payload_ = p.to_vector();
    payload_digest_.reset();
    return *this;
  }
  bundle_builder& payload(std::vector<std::uint8_t>&& p) noexcept {
    payload_ = std::move(p);
    payload_digest_.reset();
    return *this;
  }
  // For a payload the caller writes itself (build_parts): its size and
  // SHA-256 instead of its bytes. Replaces any payload set before.
  bundle_builder& payload_digest(std::uint64_t size, const sha256_digest& sha256) {
    payload_.clear();
    payload_digest_ = std::make_pair(size, sha256);
    return *this;
  }
  // Manifest field 15; bytes (the default) is not written.
  bundle_builder& set_payload_kind(payload_kind k) noexcept {
    kind_ = k;
    return *this;
  }
  // A field this library does not interpret, written after the known ones in
  // the order added (for extensions, and for tests of unknown fields).
  bundle_builder& extra_field(std::uint16_t id, std::uint8_t type, bool critical, byte_view value) {
    extra_.push_back(extra{id, type, critical, value.to_vector()});
    return *this;
  }
  bundle_builder& sign_with(const ed25519_seed& seed) {
    seeds_.push_back(seed);
    return *this;
  }

  // The encoded manifest alone: known fields in id order (each marked
  // critical except `version`), then extra fields. Returns missing_field when
  // channel, sequence, schema or created is unset.
  result<std::vector<std::uint8_t>> manifest() const;

  // Encodes, signs with each seed in the order added and checks the result
  // with parse_bundle(limits), whose error it returns if the bundle would not
  // parse (malformed_field for a bad channel, too_large, ...). Returns
  // missing_field as manifest() does, already_exists when a key is given
  // twice.
  result<std::vector<std::uint8_t>> build(const bundle_limits& limits = {}) const;

  // A bundle without its payload's bytes, for a payload given by
  // payload_digest and streamed by the caller: the bundle is head, then the
  // payload, then tail. head is the header and the manifest, tail the signed
  // signature block. Checked as build() checks (read_bundle_head over the
  // parts, whose error it returns). invalid_argument without payload_digest;
  // otherwise the errors of build().
  struct parts {
    std::vector<std::uint8_t> head;
    std::vector<std::uint8_t> tail;
  };
  result<parts> build_parts(const bundle_limits& limits = {}) const;

 private:
  struct extra {
    std::uint16_t id;
    std::uint8_t type;
    bool critical;
    std::vector<std::uint8_t> value;
  };
  std::string channel_;
  std::optional<std::uint64_t> sequence_;
  std::optional<std::string> version_;
  std::optional<std::string> schema_id_;
  std::uint32_t schema_version_ = 0;
  std::optional<host_version> host_min_, host_max_;
  std::optional<std::int64_t> created_, not_before_, expires_;
  std::vector<rollout_step> rollout_;
  std::vector<std::uint64_t> recalls_;
  std::vector<std::uint8_t> payload_;
  std::optional<std::pair<std::uint64_t, sha256_digest>> payload_digest_;
  payload_kind kind_ = payload_kind::bytes;
  std::vector<extra> extra_;
  std::vector<ed25519_seed> seeds_;
};

namespace detail {

// Valid UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF) and
// no U+0000, which C-string consumers would silently cut at.
SLOTGUARD_DECL bool bundle_valid_utf8(byte_view s) noexcept;

// Channel names become directory names in the slot store, so they are kept
// to a portable file-name alphabet: 1..64 of [A-Za-z0-9._-], starting with a
// letter or digit (which also rules out "." and ".."). Windows adds two
// rules: a name must not end with a dot (Win32 drops it, so "beta." would be
// the store of "beta"), and its part before the first dot must not be a
// device name (CON, PRN, AUX, NUL, COM0..COM9, LPT0..LPT9 in any case:
// "nul.x" opens the null device, not a directory).
SLOTGUARD_DECL bool bundle_valid_channel(std::string_view c) noexcept;

// Header, manifest, payload and an empty signature block. Returns too_large
// when a part does not fit its size field.
SLOTGUARD_DECL result<std::vector<std::uint8_t>> bundle_assemble(byte_view manifest, byte_view payload);

// Appends a signature entry by `seed` to a bundle whose header sizes add up
// (bad_header or truncated otherwise), without looking at the manifest: the
// builder, add_signature and tests that sign deliberately malformed
// manifests share it.
SLOTGUARD_DECL result<void> bundle_append_signature(std::vector<std::uint8_t>& b, const ed25519_seed& seed);

// Encodes manifest fields.
class manifest_writer {
 public:
  void field(std::uint16_t id, std::uint8_t flags, std::uint8_t type, byte_view value) {
    append_le16(out_, id);
    out_.push_back(flags);
    out_.push_back(type);
    append_le32(out_, static_cast<std::uint32_t>(value.size()));
    out_.insert(out_.end(), value.begin(), value.end());
  }
  void field(manifest_field_id id, bool critical, manifest_field_type type, byte_view value) {
    field(static_cast<std::uint16_t>(id), critical ? manifest_flag_critical : std::uint8_t{0},
          static_cast<std::uint8_t>(type), value);
  }
  void u32(manifest_field_id id, bool critical, std::uint32_t v) {
    std::uint8_t b[4];
    store_le32(b, v);
    field(id, critical, manifest_field_type::u32, byte_view(b, 4));
  }
  void u64(manifest_field_id id, bool critical, std::uint64_t v) {
    std::uint8_t b[8];
    store_le64(b, v);
    field(id, critical, manifest_field_type::u64, byte_view(b, 8));
  }
  void i64(manifest_field_id id, bool critical, std::int64_t v) {
    std::uint8_t b[8];
    store_le64(b, static_cast<std::uint64_t>(v));
    field(id, critical, manifest_field_type::i64, byte_view(b, 8));
  }
  void string(manifest_field_id id, bool critical, std::string_view s) {
    field(id, critical, manifest_field_type::string, byte_view(s));
  }
  const std::vector<std::uint8_t>& bytes() const& noexcept { return out_; }
  std::vector<std::uint8_t>&& bytes() && noexcept { return std::move(out_); }

 private:
  std::vector<std::uint8_t> out_;
};

}  // namespace detail

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/bundle_impl.hpp>
#endif

#endif  // SLOTGUARD_BUNDLE_HPP
