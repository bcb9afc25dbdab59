// SPDX-License-Identifier: Apache-2.0
// Content schemas: the one declaration of what the host's interpreter reads,
// used both to validate a payload's records (exact field counts, types,
// ranges, lengths, UTF-8, allowed values, wildcards) and to hand the
// interpreter typed, bounds-checked views of the records that passed, so the
// validator and the reader cannot disagree. A schema is declared as constexpr
// tables in C++ (so a host can static_assert its input count against it) or
// in a text form (docs/SCHEMA.md) that is checked against the C++ form
// (schema::check_against, from_text_checked) and generated from it
// (export_schema_text); typed views of a record type are handed out only
// for a schema that declares it exactly. Payloads use the binary record encoding
// specified in docs/SCHEMA.md, which compile_records_text produces from the
// records text form. A product with its own content format plugs in a
// validator_fn instead; content_check holds either.
#ifndef SLOTGUARD_SCHEMA_HPP
#define SLOTGUARD_SCHEMA_HPP


#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/schema_view.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <slotguard/detail/schema_utf8.hpp>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// Parses the text form of a schema (docs/SCHEMA.md). On failure the error
// names the line and column (1-based) and says what is wrong; code is
// schema_invalid, or too_large for text over schema_limits::max_text_size.
SLOTGUARD_DECL result<schema, schema_error> parse_schema_text(std::string_view text);

// The canonical schema text of a compiled declaration: the text that
// publishers and the tool (--schema-file) use, generated from the one
// declaration the host compiles, so the two cannot drift apart: a comment
// line that says so, note's lines as comments (where to find the
// declaration, say), then schema::from_decl(d)->to_text(). Returns
// from_decl's schema_invalid for an invalid declaration.
SLOTGUARD_DECL result<std::string, schema_error> export_schema_text(const schema_decl& d, std::string_view note = {});

// Compiles records text (one record a line, docs/SCHEMA.md) into the binary
// payload encoding for schema s, checking every value against the schema as
// validate() would. On failure the error names the line and column.
// Limits: text of at most limits.max_bytes bytes and limits.max_records records.
SLOTGUARD_DECL result<std::vector<std::uint8_t>, records_error> compile_records_text(
    const schema& s, std::string_view text, const validate_limits& limits = {});

// ---------------------------------------------------------------------------
// Writing payloads
// ---------------------------------------------------------------------------

// Builds a payload in the binary record encoding, value by value, without
// consulting a schema: what a content publisher's tool (and a test that
// needs malformed content) uses. validate() is the check; this only encodes.
// A record's fields are added in declaration order with the add_*() call of
// each field's type; a list field is begin_list(), its elements (add_*()
// calls of the element type), end_list():
//   payload_writer w(decl.id, decl.version);
//   w.begin_record(rule.type_id);
//   w.add_string("mimikatz");                  // field 0: string(64)
//   w.begin_list();                            // field 1: list<string(32)> max 16
//   w.add_string("lsass"); w.add_string("sekurlsa");
//   w.end_list();
//   std::vector<std::uint8_t> payload = w.finish();
// Misuse (a value with no open record, end_list() with no open list, more
// than 65535 fields) is a programmer error (SLOTGUARD_ASSERT); nothing the
// values hold can make it fail.
class payload_writer {
 public:
  // Requires a schema id of 1 to 65535 bytes.
  payload_writer(std::string_view schema_id, std::uint32_t schema_version) {
    SLOTGUARD_ASSERT(!schema_id.empty() && schema_id.size() <= 0xFFFFu);
    // Sized once and filled in place: one allocation, and no growth path
    // through vector::insert for the optimiser to reason about.
    out_.resize(payload_format::header_size + schema_id.size());
    std::memcpy(out_.data(), payload_format::magic, 4);
    detail::store_le16(out_.data() + 4, payload_format::version);
    detail::store_le16(out_.data() + 6, static_cast<std::uint16_t>(schema_id.size()));
    detail::store_le32(out_.data() + 8, schema_version);
    std::memcpy(out_.data() + payload_format::header_size, schema_id.data(), schema_id.size());
    body_start_ = out_.size();
  }

  // Starts a list field in the open record: the values added next are its
  // elements, until end_list(). Requires an open record and no open list.
  void begin_list() {
    SLOTGUARD_ASSERT(open_ && !in_list_);
    out_.push_back(list_tag);
    list_at_ = out_.size();
    detail::append_le32(out_, 0);
    list_count_ = 0;
    in_list_ = true;
  }
  // Ends the open list, fixing its element count; it counts as one field.
  // Requires an open list.
  void end_list() {
    SLOTGUARD_ASSERT(in_list_);
    SLOTGUARD_ASSERT(list_count_ <= 0xFFFFFFFFu);
    detail::store_le32(out_.data() + list_at_, static_cast<std::uint32_t>(list_count_));
    in_list_ = false;
    ++fields_;
  }
  bool in_list() const noexcept { return in_list_; }

  // Starts a record; the previous one, if open, ends first.
  void begin_record(std::uint16_t type_id) {
    end_record();
    rec_start_ = out_.size();
    open_ = true;
    fields_ = 0;
    detail::append_le16(out_, type_id);
    detail::append_le16(out_, 0);
    detail::append_le32(out_, 0);
  }
  // A fixed-size value of type t (an integer, bool or enum), its low
  // fixed_width(t) bytes taken from bits. Requires an open record.
  void add(field_type t, std::uint64_t bits) {
    const std::size_t w = fixed_width(t);
    SLOTGUARD_ASSERT(open_ && w != 0);
    out_.push_back(static_cast<std::uint8_t>(t));
    for (std::size_t i = 0; i < w; ++i) out_.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
    count_value();
  }
  void add_u8(std::uint8_t v) { add(field_type::u8, v); }
  void add_u16(std::uint16_t v) { add(field_type::u16, v); }
  void add_u32(std::uint32_t v) { add(field_type::u32, v); }
  void add_u64(std::uint64_t v) { add(field_type::u64, v); }
  void add_i8(std::int8_t v) { add(field_type::i8, static_cast<std::uint64_t>(static_cast<std::int64_t>(v))); }
  void add_i16(std::int16_t v) { add(field_type::i16, static_cast<std::uint64_t>(static_cast<std::int64_t>(v))); }
  void add_i32(std::int32_t v) { add(field_type::i32, static_cast<std::uint64_t>(static_cast<std::int64_t>(v))); }
  void add_i64(std::int64_t v) { add(field_type::i64, static_cast<std::uint64_t>(v)); }
  void add_bool(bool v) { add(field_type::boolean, v ? 1u : 0u); }
  void add_enum(std::uint32_t code) { add(field_type::enumeration, code); }
  // A string (t == string) or bytes (t == bytes) value. Requires an open
  // record and at most 2^32-1 bytes.
  void add_blob(field_type t, byte_view v) {
    SLOTGUARD_ASSERT(open_ && (t == field_type::string || t == field_type::bytes));
    SLOTGUARD_ASSERT(v.size() <= 0xFFFFFFFFu);
    out_.push_back(static_cast<std::uint8_t>(t));
    detail::append_le32(out_, static_cast<std::uint32_t>(v.size()));
    out_.insert(out_.end(), v.begin(), v.end());
    count_value();
  }
  void add_string(std::string_view v) { add_blob(field_type::string, byte_view(v)); }
  void add_bytes(byte_view v) { add_blob(field_type::bytes, v); }
  void add_wildcard() {
    SLOTGUARD_ASSERT(open_);
    out_.push_back(wildcard_tag);
    count_value();
  }
  // Raw bytes inside the open record, counted as one field (or, in an open
  // list, one element), for tests of malformed encodings.
  void add_raw_field(byte_view raw) {
    SLOTGUARD_ASSERT(open_);
    out_.insert(out_.end(), raw.begin(), raw.end());
    count_value();
  }
  // Ends the open record (if any, and its open list), fixing its field
  // count and length.
  void end_record() {
    if (!open_) return;
    if (in_list_) end_list();
    SLOTGUARD_ASSERT(fields_ <= 0xFFFFu);
    const std::size_t len = out_.size() - rec_start_ - payload_format::record_header_size;
    SLOTGUARD_ASSERT(len <= 0xFFFFFFFFu);
    detail::store_le16(out_.data() + rec_start_ + 2, static_cast<std::uint16_t>(fields_));
    detail::store_le32(out_.data() + rec_start_ + 4, static_cast<std::uint32_t>(len));
    open_ = false;
    ++records_;
  }
  std::size_t record_count() const noexcept { return records_ + (open_ ? 1 : 0); }
  std::size_t size() const noexcept { return out_.size(); }

  // Ends the open record and returns the payload; the writer is then empty.
  std::vector<std::uint8_t> finish() {
    end_record();
    SLOTGUARD_ASSERT(records_ <= 0xFFFFFFFFu);
    detail::store_le32(out_.data() + 12, static_cast<std::uint32_t>(records_));
    detail::store_le64(out_.data() + 16, static_cast<std::uint64_t>(out_.size() - body_start_));
    std::vector<std::uint8_t> r;
    r.swap(out_);
    return r;
  }

 private:
  void count_value() noexcept {
    if (in_list_)
      ++list_count_;
    else
      ++fields_;
  }
  std::vector<std::uint8_t> out_;
  std::size_t body_start_ = 0;
  std::size_t rec_start_ = 0;
  std::size_t fields_ = 0;
  std::size_t records_ = 0;
  std::size_t list_at_ = 0;     // the open list's count
  std::size_t list_count_ = 0;
  bool open_ = false;
  bool in_list_ = false;
};



// Validates every record of a payload against schema s (see docs/SCHEMA.md
// for the encoding and the checks). Returns the payload with its record
// index, or the first problem found with its errc, record and field index.
SLOTGUARD_DECL result<validated_payload, validation_error> validate(const schema& s, byte_view payload,
                                                     const validate_limits& limits = {});

// A product's own content check, used in place of a schema.
using validator_fn = std::function<result<void, validation_error>(byte_view payload)>;

// What the guard runs as its validate gate: a schema (with limits) or a
// host's validator_fn.
class content_check {
 public:
  content_check() = default;
  content_check(schema s, validate_limits limits = {}) : schema_(std::move(s)), limits_(limits), has_schema_(true) {}
  content_check(validator_fn fn) : fn_(std::move(fn)) {}

  bool has_schema() const noexcept { return has_schema_; }
  bool has_validator() const noexcept { return static_cast<bool>(fn_); }
  // The schema, or nullptr when this check is a validator_fn (or empty).
  const schema* get_schema() const noexcept { return has_schema_ ? &schema_ : nullptr; }

  // Runs the check. An empty content_check rejects with invalid_argument; a
  // validator_fn's error is passed on (an error carrying errc::ok becomes
  // validator_rejected), and its success yields a payload without an index.
  result<validated_payload, validation_error> run(byte_view payload) const {
    if (has_schema_) return validate(schema_, payload, limits_);
    if (!fn_) {
      validation_error e;
      e.code = errc::invalid_argument;
      e.message = "no schema or validator is configured";
      return e;
    }
    result<void, validation_error> r = fn_(payload);
    if (!r) {
      validation_error e = r.error();
      if (e.code == errc::ok) e.code = errc::validator_rejected;
      return e;
    }
    validated_payload p;
    p.bytes_ = payload;
    return p;
  }

 private:
  schema schema_{};
  validator_fn fn_{};
  validate_limits limits_{};
  bool has_schema_ = false;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/schema_impl.hpp>
#include <slotguard/detail/schema_text.hpp>
#endif

#endif  // SLOTGUARD_SCHEMA_HPP
