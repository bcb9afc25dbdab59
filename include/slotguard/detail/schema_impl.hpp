// SPDX-License-Identifier: Apache-2.0
// The bodies of schema.hpp's runtime parts: building a runtime schema from a
// declaration, printing it as text, and validate(), whose per-field loop is
// kept branch-light because it runs over every byte of every update.
// Included by slotguard/schema.hpp only (when it includes definitions:
// always when header-only, in the implementation unit when compiled
// separately).
#ifndef SLOTGUARD_DETAIL_SCHEMA_IMPL_HPP
#define SLOTGUARD_DETAIL_SCHEMA_IMPL_HPP

#include <slotguard/config.hpp>

#include <slotguard/schema.hpp>

#include <algorithm>
#include <atomic>
#include <iterator>
#include <limits>
#include <memory>
#include <type_traits>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

struct detail_schema_access {
  static void set(schema& s, std::shared_ptr<const detail::schema_rep> rep) { s.rep_ = std::move(rep); }
  static validated_payload& out(validated_payload& p) { return p; }
  static std::vector<std::uint32_t>& first(validated_payload& p) { return p.first_; }
  static std::vector<std::uint16_t>& slot(validated_payload& p) { return p.slot_; }
  static std::vector<std::uint32_t>& pos(validated_payload& p) { return p.pos_; }
  static std::vector<std::uint32_t>& by_type(validated_payload& p) { return p.by_type_; }
  static std::vector<std::uint32_t>& group_start(validated_payload& p) { return p.group_start_; }
  static void bind(validated_payload& p, byte_view bytes, const schema& s) {
    p.bytes_ = bytes;
    p.schema_ = s;
    p.has_index_ = true;
  }
};

namespace detail {

inline std::string issue_text(const schema_decl& d, const decl_issue& is) {
  std::string m = is.what ? is.what : "invalid declaration";
  if (is.record != decl_issue::npos && is.record < d.count) {
    const record_decl& r = d.records[is.record];
    m += " (record " + std::to_string(is.record) + " '" + std::string(r.name) + "'";
    if (is.field != decl_issue::npos && is.field < r.count)
      m += ", field " + std::to_string(is.field) + " '" + std::string(r.fields[is.field].name) + "'";
    if (is.value != decl_issue::npos) m += ", value " + std::to_string(is.value);
    m += ")";
  }
  return m;
}

inline field_spec build_field(const field_decl& f) {
  field_spec s;
  s.name = std::string(f.name);
  s.type = f.type;
  s.is_list = f.is_list;
  s.list_max = f.is_list ? f.list_max : 0;
  s.wildcard_ok = f.wildcard_ok;
  s.has_range = f.has_range;
  s.max_length = f.max_length;
  if (is_integer(f.type) || f.type == field_type::boolean || f.type == field_type::enumeration) {
    s.biased_min = f.has_range ? biased(f.type, f.min) : biased_min(f.type);
    s.biased_max = f.has_range ? biased(f.type, f.max) : biased_max(f.type);
  }
  if (is_integer(f.type) && f.allowed_count > 0) {
    for (std::size_t i = 0; i < f.allowed_count; ++i) {
      const int_literal v = f.allowed_signed ? to_literal(f.allowed_signed[i]) : to_literal(f.allowed_unsigned[i]);
      s.allowed.push_back(biased(f.type, v));
    }
  }
  if (f.type == field_type::string && f.allowed_count > 0) {
    for (std::size_t i = 0; i < f.allowed_count; ++i) s.allowed_strings.emplace_back(f.allowed_strings[i]);
  }
  if (f.type == field_type::enumeration) {
    for (std::size_t i = 0; i < f.enum_count; ++i) {
      s.enum_values.push_back(enum_entry{std::string(f.enum_values[i].name), f.enum_values[i].code});
      s.allowed.push_back(f.enum_values[i].code);
    }
  }
  std::sort(s.allowed.begin(), s.allowed.end());
  s.allowed.erase(std::unique(s.allowed.begin(), s.allowed.end()), s.allowed.end());
  std::sort(s.allowed_strings.begin(), s.allowed_strings.end());
  s.allowed_strings.erase(std::unique(s.allowed_strings.begin(), s.allowed_strings.end()),
                          s.allowed_strings.end());
  return s;
}

// Derives the compact checks and the type-id table once the specs are final
// (the checks point into the specs, which never move again).
inline void finish_rep(schema_rep& rep) {
  std::size_t max_id = 0;
  for (const auto& r : rep.records) max_id = std::max<std::size_t>(max_id, r.type_id);
  rep.slot_of_id.assign(max_id + 1, 0);
  rep.checks.clear();
  rep.checks.reserve(rep.records.size());
  for (std::size_t i = 0; i < rep.records.size(); ++i) {
    rep.slot_of_id[rep.records[i].type_id] = static_cast<std::uint16_t>(i + 1);
    std::vector<field_check> cs;
    cs.reserve(rep.records[i].fields.size());
    std::size_t lists = 0;
    for (auto& f : rep.records[i].fields)
      if (f.is_list) f.list_index = static_cast<std::uint16_t>(lists++);
    rep.records[i].list_count = lists;
    for (const auto& f : rep.records[i].fields) {
      field_check c;
      c.type = f.type;
      c.is_list = f.is_list;
      c.list_index = f.list_index;
      c.list_max = f.list_max;
      c.width = static_cast<std::uint8_t>(fixed_width(f.type));
      c.wildcard_ok = f.wildcard_ok;
      c.lo = f.biased_min;
      c.span = f.biased_max - f.biased_min;
      if (c.width != 0) {
        c.mask = c.width == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * c.width)) - 1;
        if (is_signed_integer(f.type)) {
          c.top = std::uint64_t{1} << (8 * c.width - 1);
          c.flip = sign_bit;
        }
      }
      c.max_length = f.max_length;
      if (!f.allowed.empty()) {
        c.allowed = f.allowed.data();
        c.allowed_count = static_cast<std::uint32_t>(f.allowed.size());
        c.member_check = true;
      }
      if (!f.allowed_strings.empty()) {
        c.allowed_strings = f.allowed_strings.data();
        c.allowed_count = static_cast<std::uint32_t>(f.allowed_strings.size());
      }
      if (f.type == field_type::enumeration && !f.allowed.empty() && f.allowed.back() < 64) {
        c.small_enum = true;
        for (std::uint64_t code : f.allowed) c.enum_mask |= std::uint64_t{1} << code;
      }
      cs.push_back(c);
    }
    rep.checks.push_back(std::move(cs));
  }
}

inline bool in_sorted(const std::uint64_t* a, std::uint32_t n, std::uint64_t v) noexcept {
  return std::binary_search(a, a + n, v);
}
inline bool in_sorted(const std::string* a, std::uint32_t n, std::string_view v) noexcept {
  const std::string* e = a + n;
  const std::string* it =
      std::lower_bound(a, e, v, [](const std::string& x, std::string_view y) { return std::string_view(x) < y; });
  return it != e && std::string_view(*it) == v;
}

// What went wrong in a record, kept small so the hot loop stays lean; the
// message is written afterwards, off the hot path.
struct field_fault {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  errc code = errc::ok;
  std::size_t field = 0;
  std::uint64_t value = 0;  // the raw value, length or list count at fault
  std::uint8_t tag = 0;
  std::size_t element = npos;  // in a list field: the element at fault
  bool list_count = false;     // value is a list's count
};

#if defined(__GNUC__) || defined(__clang__)
#define SLOTGUARD_FORCEINLINE_ __attribute__((always_inline))
#else
#define SLOTGUARD_FORCEINLINE_
#endif

// Checks one value of field k (or of one element of list field k) whose
// tag, already read and matched against c, is `tag`; q points after the
// tag and is moved past the value. The value must end by qend; the
// payload's bytes end at limit (>= qend), which lets fixed-size values load
// as 8 bytes wherever 8 bytes remain. Returns false with the fault.
SLOTGUARD_FORCEINLINE_ inline bool check_value(const field_check& c, bool wild, std::uint8_t tag,
                                               const std::uint8_t*& q, const std::uint8_t* qend,
                                               const std::uint8_t* limit, std::size_t k,
                                               field_fault& fault) noexcept {
  const std::size_t room = static_cast<std::size_t>(qend - q);
  if (c.width != 0) {
    const std::size_t w = wild ? 0 : c.width;
    if (SLOTGUARD_UNLIKELY(room < w)) {
      fault = {errc::truncated, k, 0, tag};
      return false;
    }
    std::uint64_t v = 0;
    if (SLOTGUARD_LIKELY(limit - q >= 8)) {
      v = load_le64(q) & c.mask;
    } else {
      for (std::size_t b = 0; b < w; ++b) v |= static_cast<std::uint64_t>(q[b]) << (8 * b);
    }
    q += w;
    v = ((v ^ c.top) - c.top) ^ c.flip;
    if (SLOTGUARD_UNLIKELY((v - c.lo > c.span) & !wild)) {
      // A bool's range is 0..1; anything else is not a bool at all.
      fault = {c.type == field_type::boolean ? errc::field_type_mismatch : errc::field_out_of_range, k, v, tag};
      return false;
    }
    if (SLOTGUARD_UNLIKELY(c.member_check) && !wild) {
      const bool known = c.small_enum ? (v < 64 && ((c.enum_mask >> v) & 1u) != 0)
                                      : in_sorted(c.allowed, c.allowed_count, v);
      if (!known) {
        fault = {errc::value_not_allowed, k, v, tag};
        return false;
      }
    }
    return true;
  }
  if (wild) return true;
  // string or bytes: u32 length, then the bytes.
  if (SLOTGUARD_UNLIKELY(room < 4)) {
    fault = {errc::truncated, k, 0, tag};
    return false;
  }
  const std::uint32_t len = load_le32(q);
  q += 4;
  if (SLOTGUARD_UNLIKELY(len > c.max_length)) {
    fault = {errc::field_too_long, k, len, tag};
    return false;
  }
  if (SLOTGUARD_UNLIKELY(len > room - 4)) {
    fault = {errc::truncated, k, 0, tag};
    return false;
  }
  if (c.type == field_type::string) {
    if (SLOTGUARD_UNLIKELY(!utf8_valid(q, len))) {
      fault = {errc::invalid_utf8, k, len, tag};
      return false;
    }
    if (SLOTGUARD_UNLIKELY(c.allowed_strings != nullptr) &&
        !in_sorted(c.allowed_strings, c.allowed_count, std::string_view(reinterpret_cast<const char*>(q), len))) {
      fault = {errc::value_not_allowed, k, len, tag};
      return false;
    }
  }
  q += len;
  return true;
}

// Checks list field k after its tag (q points at its u32 count): the count
// is at most the declared maximum, and each element is a value of the
// element type (its tag, never a wildcard, then its value, checked as a
// field's). Writes the list's table to pos[used]: the count, then each
// element's tag offset from base; used moves past it. The caller sized pos
// for one entry per two bytes of the body (an element takes two at least).
inline bool check_list(const field_check& c, const std::uint8_t*& q, const std::uint8_t* qend,
                       const std::uint8_t* limit, const std::uint8_t* base, std::size_t k, std::uint32_t* pos,
                       std::size_t& used, field_fault& fault) noexcept {
  if (SLOTGUARD_UNLIKELY(qend - q < 4)) {
    fault = {errc::truncated, k, 0, list_tag};
    return false;
  }
  const std::uint32_t n = load_le32(q);
  q += 4;
  if (SLOTGUARD_UNLIKELY(n > c.list_max)) {
    fault = {errc::field_too_long, k, n, list_tag};
    fault.list_count = true;
    return false;
  }
  // Each element takes two bytes at least: a count beyond that cannot fit.
  if (SLOTGUARD_UNLIKELY(n > static_cast<std::size_t>(qend - q) / 2)) {
    fault = {errc::truncated, k, 0, list_tag};
    return false;
  }
  std::uint32_t* table = pos + used;
  table[0] = n;
  used += 1 + std::size_t{n};
  const std::uint8_t want = static_cast<std::uint8_t>(c.type);
  for (std::uint32_t j = 0; j < n; ++j) {
    table[1 + j] = static_cast<std::uint32_t>(q - base);
    if (SLOTGUARD_UNLIKELY(q == qend)) {
      fault = {errc::truncated, k, 0, 0};
      fault.element = j;
      return false;
    }
    const std::uint8_t tag = *q++;
    if (SLOTGUARD_UNLIKELY(tag != want)) {
      fault = {tag == wildcard_tag ? errc::wildcard_not_allowed : errc::field_type_mismatch, k, 0, tag};
      fault.element = j;
      return false;
    }
    if (SLOTGUARD_UNLIKELY(!check_value(c, false, tag, q, qend, limit, k, fault))) {
      fault.element = j;
      return false;
    }
  }
  return true;
}

// Checks the nf fields of one record body [q, qend); the payload's bytes end
// at limit (>= qend). Writes each field's tag offset from base (the
// payload's start) to pos[k], and the body's end to pos[nf]: the index the
// views read through. A record type with lists has, after pos[nf], one
// entry per list (where its table starts, from pos) and then the tables
// (see check_list); `used` returns the entries written. Returns false with
// the first fault.
inline bool check_record(const field_check* checks, std::size_t nf, std::size_t nlists, const std::uint8_t* q,
                         const std::uint8_t* qend, const std::uint8_t* limit, const std::uint8_t* base,
                         std::uint32_t* pos, std::size_t& used, field_fault& fault) noexcept {
  used = nf + 1 + nlists;
  for (std::size_t k = 0; k < nf; ++k) {
    const field_check& c = checks[k];
    pos[k] = static_cast<std::uint32_t>(q - base);
    if (SLOTGUARD_UNLIKELY(q == qend)) {
      fault = {errc::truncated, k, 0, 0};
      return false;
    }
    const std::uint8_t tag = *q++;
    // Whether content puts a wildcard in a field is unpredictable, so for
    // fixed-size fields it steers data (a width of 0), not branches.
    const bool wild = tag == wildcard_tag;
    if (SLOTGUARD_UNLIKELY(c.is_list)) {
      if (SLOTGUARD_UNLIKELY(tag != list_tag && !(wild && c.wildcard_ok))) {
        fault = {wild ? errc::wildcard_not_allowed : errc::field_type_mismatch, k, 0, tag};
        return false;
      }
      pos[nf + 1 + c.list_index] = static_cast<std::uint32_t>(used);
      if (wild) {
        pos[used++] = 0;  // an empty table: the view sees the wildcard by its extent
        continue;
      }
      if (!check_list(c, q, qend, limit, base, k, pos, used, fault)) return false;
      continue;
    }
    if (SLOTGUARD_UNLIKELY(tag != static_cast<std::uint8_t>(c.type) && !(wild && c.wildcard_ok))) {
      fault = {wild ? errc::wildcard_not_allowed : errc::field_type_mismatch, k, 0, tag};
      return false;
    }
    if (SLOTGUARD_UNLIKELY(!check_value(c, wild, tag, q, qend, limit, k, fault))) return false;
  }
  if (SLOTGUARD_UNLIKELY(q != qend)) {
    fault = {errc::trailing_bytes, nf, static_cast<std::uint64_t>(qend - q), 0};
    return false;
  }
  pos[nf] = static_cast<std::uint32_t>(q - base);
  return true;
}

inline std::string record_label(const record_spec& r, std::size_t index) {
  return "record " + std::to_string(index) + " (" + r.name + ", type " + std::to_string(r.type_id) + ")";
}
// "u8", "string", or "list<string>" for a list.
inline std::string type_label(const field_spec& f) {
  return f.is_list ? std::string("list<") + to_string(f.type) + ">" : std::string(to_string(f.type));
}
inline std::string field_label(const record_spec& r, std::size_t k) {
  if (k >= r.fields.size()) return "field " + std::to_string(k);
  return "field " + std::to_string(k) + " (" + r.fields[k].name + ": " + type_label(r.fields[k]) + ")";
}

inline std::string fault_text(const record_spec& r, std::size_t index, const field_fault& f) {
  std::string where = record_label(r, index) + " " + field_label(r, f.field);
  const field_spec* fs = f.field < r.fields.size() ? &r.fields[f.field] : nullptr;
  if (f.list_count && f.code == errc::field_too_long)
    return where + ": the list holds " + std::to_string(f.value) + " elements, more than its maximum of " +
           std::to_string(fs ? fs->list_max : 0);
  if (f.element != field_fault::npos) where += " element " + std::to_string(f.element);
  if (fs && fs->is_list && f.element == field_fault::npos && f.code == errc::field_type_mismatch)
    return where + ": encoded with tag " + std::to_string(f.tag) + ", a list's tag is " + std::to_string(list_tag);
  switch (f.code) {
    case errc::truncated:
      return where + (f.element != field_fault::npos || (fs && fs->is_list)
                          ? std::string(": the record ends inside this list")
                          : std::string(": the record ends inside this field"));
    case errc::trailing_bytes:
      return record_label(r, index) + ": " + std::to_string(f.value) +
             " bytes follow its last field within its stated length";
    case errc::wildcard_not_allowed:
      if (f.element != field_fault::npos) return where + ": holds a wildcard, which a list element never is";
      return where + ": holds a wildcard, which this field does not allow";
    case errc::field_type_mismatch:
      if (fs && f.tag == static_cast<std::uint8_t>(fs->type))
        return where + ": a bool must be 0 or 1, not " + std::to_string(f.value);
      return where + ": encoded with tag " + std::to_string(f.tag) +
             (is_valid_field_type(f.tag) ? std::string(" (") + to_string(static_cast<field_type>(f.tag)) + ")"
                                         : std::string(" (no such type)")) +
             ", declared " + (fs ? to_string(fs->type) : "?");
    case errc::field_out_of_range:
      if (!fs) break;
      return where + ": value " + literal_text(unbias(fs->type, f.value)) + " is outside " +
             literal_text(fs->min_value()) + ".." + literal_text(fs->max_value());
    case errc::field_too_long:
      return where + ": length " + std::to_string(f.value) + " exceeds the maximum of " +
             std::to_string(fs ? fs->max_length : 0);
    case errc::invalid_utf8:
      return where + ": the string is not valid UTF-8";
    case errc::value_not_allowed:
      if (fs && fs->type == field_type::enumeration)
        return where + ": " + std::to_string(f.value) + " is not a code of the enum";
      if (fs && fs->type == field_type::string) return where + ": the string is not among the allowed values";
      if (fs) return where + ": value " + literal_text(unbias(fs->type, f.value)) + " is not among the allowed values";
      break;
    default:
      break;
  }
  return where + ": " + describe(f.code);
}

inline validation_error vfail(errc code, std::size_t record, std::size_t field, std::string message) {
  validation_error e;
  e.code = code;
  e.record = record;
  e.field = field;
  e.message = std::move(message);
  return e;
}

}  // namespace detail

SLOTGUARD_DECL result<schema, schema_error> schema::from_decl(const schema_decl& d) {
  const decl_issue is = check_decl(d);
  if (!is.ok()) {
    schema_error e;
    e.code = errc::schema_invalid;
    e.message = detail::issue_text(d, is);
    return e;
  }
  auto rep = std::make_shared<detail::schema_rep>();
  rep->id = std::string(d.id);
  rep->version = d.version;
  rep->records.reserve(d.count);
  for (std::size_t r = 0; r < d.count; ++r) {
    record_spec rs;
    rs.type_id = d.records[r].type_id;
    rs.name = std::string(d.records[r].name);
    rs.fields.reserve(d.records[r].count);
    for (std::size_t k = 0; k < d.records[r].count; ++k) rs.fields.push_back(detail::build_field(d.records[r].fields[k]));
    rep->records.push_back(std::move(rs));
  }
  detail::finish_rep(*rep);
  schema s;
  detail_schema_access::set(s, std::move(rep));
  return s;
}

SLOTGUARD_DECL std::string schema::to_text() const {
  std::string out;
  if (!rep_) return out;
  out += "schema " + detail::quote_text(rep_->id) + " version " + std::to_string(rep_->version) + "\n";
  for (const auto& r : rep_->records) {
    out += "\nrecord " + r.name + " = " + std::to_string(r.type_id) + " {\n";
    for (const auto& f : r.fields) {
      out += "  field " + f.name + ": ";
      if (f.is_list) out += "list<";
      switch (f.type) {
        case field_type::string:
        case field_type::bytes:
          out += std::string(to_string(f.type)) + "(" + std::to_string(f.max_length) + ")";
          break;
        case field_type::enumeration: {
          out += "enum {";
          bool first = true;
          for (const auto& e : f.enum_values) {
            out += first ? " " : ", ";
            first = false;
            out += e.name + " = " + std::to_string(e.code);
          }
          out += " }";
          break;
        }
        default:
          out += to_string(f.type);
          break;
      }
      if (f.is_list) out += "> max " + std::to_string(f.list_max);
      if (f.has_range) out += " range " + detail::literal_text(f.min_value()) + ".." + detail::literal_text(f.max_value());
      if (is_integer(f.type) && !f.allowed.empty()) {
        out += " in {";
        for (std::size_t i = 0; i < f.allowed.size(); ++i)
          out += (i ? ", " : " ") + detail::literal_text(detail::unbias(f.type, f.allowed[i]));
        out += " }";
      }
      if (!f.allowed_strings.empty()) {
        out += " in {";
        for (std::size_t i = 0; i < f.allowed_strings.size(); ++i)
          out += (i ? ", " : " ") + detail::quote_text(f.allowed_strings[i]);
        out += " }";
      }
      if (f.wildcard_ok) out += " wildcard";
      out += "\n";
    }
    out += "}\n";
  }
  return out;
}

namespace detail {
inline std::string decl_range_text(const field_decl& g) {
  if (g.has_range) return literal_text(g.min) + ".." + literal_text(g.max);
  return literal_text(unbias(g.type, biased_min(g.type))) + ".." + literal_text(unbias(g.type, biased_max(g.type)));
}
inline std::string spec_allowed_text(const field_spec& f) {
  std::string out = "{";
  if (is_integer(f.type))
    for (std::size_t i = 0; i < f.allowed.size(); ++i)
      out += (i ? ", " : " ") + literal_text(unbias(f.type, f.allowed[i]));
  for (std::size_t i = 0; i < f.allowed_strings.size(); ++i) out += (i ? ", " : " ") + quote_text(f.allowed_strings[i]);
  return out + " }";
}
inline std::string decl_allowed_text(const field_decl& g) {
  std::string out = "{";
  for (std::size_t i = 0; i < g.allowed_count; ++i) {
    out += i ? ", " : " ";
    if (g.allowed_strings)
      out += quote_text(g.allowed_strings[i]);
    else if (g.allowed_signed)
      out += literal_text(to_literal(g.allowed_signed[i]));
    else if (g.allowed_unsigned)
      out += literal_text(to_literal(g.allowed_unsigned[i]));
  }
  return out + " }";
}
inline std::string spec_enum_text(const field_spec& f) {
  std::string out = "{";
  for (std::size_t i = 0; i < f.enum_values.size(); ++i)
    out += (i ? ", " : " ") + f.enum_values[i].name + " = " + std::to_string(f.enum_values[i].code);
  return out + " }";
}
inline std::string decl_enum_text(const field_decl& g) {
  std::string out = "{";
  for (std::size_t i = 0; g.enum_values && i < g.enum_count; ++i)
    out += (i ? ", " : " ") + std::string(g.enum_values[i].name) + " = " + std::to_string(g.enum_values[i].code);
  return out + " }";
}
// The sentence for a difference compare_record found: the record type, the
// field, what differs, and both sides ("schema ..., declaration ...").
inline std::string difference_text(const record_spec* s, const record_decl& d, const record_difference& r) {
  std::string m = "record type " + std::to_string(d.type_id) + " '" + std::string(d.name) + "'";
  const bool has_field = s && r.field != record_difference::npos && r.field < s->fields.size() && d.fields &&
                         r.field < d.count;
  if (has_field) m += ", field " + std::to_string(r.field) + " '" + std::string(d.fields[r.field].name) + "'";
  m += ": ";
  const field_spec* f = has_field ? &s->fields[r.field] : nullptr;
  const field_decl* g = has_field ? &d.fields[r.field] : nullptr;
  switch (r.kind) {
    case record_difference::none: return m + "no difference";
    case record_difference::absent: return m + "the schema declares no record type with this id";
    case record_difference::record_name: return m + "the schema names it '" + (s ? s->name : std::string()) + "'";
    case record_difference::field_count:
      return m + "the schema declares " + std::to_string(s ? s->fields.size() : 0) + " fields, the declaration " +
             std::to_string(d.fields ? d.count : 0);
    default: break;
  }
  if (!f || !g) return m + "differs";
  switch (r.kind) {
    case record_difference::field_name: return m + "the schema names field " + std::to_string(r.field) + " '" + f->name + "'";
    case record_difference::field_type_:
      return m + "type differs: schema " + to_string(f->type) + ", declaration " + to_string(g->type);
    case record_difference::list:
      return m + "list differs: schema " +
             (f->is_list ? "a list of at most " + std::to_string(f->list_max) : std::string("no list")) +
             ", declaration " +
             (g->is_list ? "a list of at most " + std::to_string(g->list_max) : std::string("no list"));
    case record_difference::wildcard:
      return m + (f->wildcard_ok ? "the schema allows a wildcard, the declaration does not"
                                 : "the declaration allows a wildcard, the schema does not");
    case record_difference::range:
      return m + "range differs: schema " + literal_text(f->min_value()) + ".." + literal_text(f->max_value()) +
             ", declaration " + decl_range_text(*g);
    case record_difference::max_length:
      return m + "maximum length differs: schema " + std::to_string(f->max_length) + ", declaration " +
             std::to_string(g->max_length);
    case record_difference::allowed:
      return m + "allowed values differ: schema " + spec_allowed_text(*f) + ", declaration " + decl_allowed_text(*g);
    case record_difference::enum_values:
      return m + "enum values differ: schema " + spec_enum_text(*f) + ", declaration " + decl_enum_text(*g);
    default: break;
  }
  return m + "differs";
}
inline schema_error mismatch(std::string message) {
  schema_error e;
  e.code = errc::schema_mismatch;
  e.message = std::move(message);
  return e;
}
}  // namespace detail

SLOTGUARD_DECL result<void, schema_error> schema::check_against(const record_decl& r) const {
  const record_spec* spec = find(r.type_id);
  if (!spec)
    return detail::mismatch(detail::difference_text(nullptr, r, {detail::record_difference::absent, detail::record_difference::npos}));
  const detail::record_difference d = detail::compare_record(*spec, r);
  if (!d.ok()) return detail::mismatch(detail::difference_text(spec, r, d));
  return {};
}

SLOTGUARD_DECL result<void, schema_error> schema::check_against(const schema_decl& d) const {
  if (!rep_) return detail::mismatch("the schema is empty");
  if (id() != d.id)
    return detail::mismatch("schema id differs: schema " + detail::quote_text(rep_->id) + ", declaration " +
                            detail::quote_text(d.id));
  if (version() != d.version)
    return detail::mismatch("schema version differs: schema " + std::to_string(rep_->version) + ", declaration " +
                            std::to_string(d.version));
  const std::size_t n = d.records ? d.count : 0;
  for (std::size_t i = 0; i < n; ++i) {
    auto r = check_against(d.records[i]);
    if (!r) return r.error();
  }
  for (const record_spec& r : rep_->records) {
    bool declared = false;
    for (std::size_t i = 0; i < n && !declared; ++i) declared = d.records[i].type_id == r.type_id;
    if (!declared)
      return detail::mismatch("record type " + std::to_string(r.type_id) + " '" + r.name +
                              "': the schema declares it, the declaration does not");
  }
  return {};
}

SLOTGUARD_DECL result<std::string, schema_error> export_schema_text(const schema_decl& d, std::string_view note) {
  auto s = schema::from_decl(d);
  if (!s) return s.error();
  std::string out = "# Generated from the C++ declaration by slotguard::export_schema_text: edit the declaration.\n";
  while (!note.empty()) {
    const std::size_t nl = note.find('\n');
    const std::string_view line = note.substr(0, nl);
    out += line.empty() ? "#\n" : "# " + std::string(line) + "\n";
    note = nl == std::string_view::npos ? std::string_view() : note.substr(nl + 1);
  }
  return out + s->to_text();
}

SLOTGUARD_DECL result<validated_payload, validation_error> validate(const schema& s, byte_view payload,
                                                            const validate_limits& limits) {
  using detail::vfail;
  constexpr std::size_t npos = validation_error::npos;
  const detail::schema_rep* rep = s.rep();
  if (!rep || rep->records.empty()) return vfail(errc::schema_mismatch, npos, npos, "the schema is empty");
  const std::size_t size = payload.size();
  if (static_cast<std::uint64_t>(size) > limits.max_bytes || static_cast<std::uint64_t>(size) > payload_format::max_payload)
    return vfail(errc::too_large, npos, npos,
                 "the payload's " + std::to_string(size) + " bytes exceed the limit of " +
                     std::to_string(std::min<std::uint64_t>(limits.max_bytes, payload_format::max_payload)));
  const std::uint8_t* p = payload.data();
  if (size < payload_format::header_size)
    return vfail(errc::truncated, npos, npos, "the payload is shorter than its 24-byte header");
  if (std::memcmp(p, payload_format::magic, 4) != 0)
    return vfail(errc::bad_magic, npos, npos, "the payload does not start with the magic \"SGPL\"");
  const std::uint16_t ver = detail::load_le16(p + 4);
  if (ver != payload_format::version)
    return vfail(errc::unsupported_format_version, npos, npos,
                 "the payload's encoding version " + std::to_string(ver) + " is not supported (1 is)");
  const std::size_t id_len = detail::load_le16(p + 6);
  const std::uint32_t schema_version = detail::load_le32(p + 8);
  const std::uint32_t count = detail::load_le32(p + 12);
  const std::uint64_t body_len = detail::load_le64(p + 16);
  if (id_len == 0) return vfail(errc::bad_header, npos, npos, "the payload names an empty schema id");
  if (id_len > size - payload_format::header_size)
    return vfail(errc::truncated, npos, npos, "the payload ends inside its schema id");
  const std::string_view id(reinterpret_cast<const char*>(p + payload_format::header_size), id_len);
  if (id != rep->id || schema_version != rep->version) {
    std::string shown(id.substr(0, 64));
    return vfail(errc::schema_mismatch, npos, npos,
                 "the payload is for schema " + detail::quote_text(shown) + " version " +
                     std::to_string(schema_version) + ", not " + detail::quote_text(rep->id) + " version " +
                     std::to_string(rep->version));
  }
  const std::size_t body_start = payload_format::header_size + id_len;
  const std::size_t avail = size - body_start;
  if (body_len > avail)
    return vfail(errc::truncated, npos, npos,
                 "the header states " + std::to_string(body_len) + " bytes of records, " + std::to_string(avail) +
                     " follow it");
  if (body_len < avail)
    return vfail(errc::trailing_bytes, npos, npos,
                 std::to_string(avail - static_cast<std::size_t>(body_len)) + " bytes follow the stated " +
                     std::to_string(body_len) + " bytes of records");
  if (count > limits.max_records)
    return vfail(errc::too_many_records, npos, npos,
                 "the payload states " + std::to_string(count) + " records, the limit is " +
                     std::to_string(limits.max_records));
  if (count > avail / payload_format::record_header_size)
    return vfail(errc::truncated, npos, npos,
                 "the payload states " + std::to_string(count) + " records, its " + std::to_string(avail) +
                     " bytes cannot hold them");

  validated_payload out;
  auto& first = detail_schema_access::first(out);
  auto& slots = detail_schema_access::slot(out);
  auto& fpos = detail_schema_access::pos(out);
  const std::size_t nslots = rep->records.size();
  // Bounded by the payload's size (count <= avail / 8, checked above).
  first.reserve(count);
  slots.reserve(count);
  // One entry per field and one per record. Reserved once for the most
  // fields a record type declares (so the index is not copied as it grows),
  // but not beyond one entry per two bytes: a denser payload grows it field
  // by field, as its fields pass, so memory stays in proportion to the
  // payload's actual size (a field takes a byte at least).
  std::size_t most_fields = 0;
  for (const auto& c : rep->checks) most_fields = std::max(most_fields, c.size());
  const std::uint64_t by_types = std::uint64_t{count} * (most_fields + 1);
  const std::uint64_t by_size = static_cast<std::uint64_t>(avail) / 2 + count;
  fpos.reserve(static_cast<std::size_t>(std::min(by_types, by_size)));
  std::vector<std::uint32_t> per_slot(nslots + 1, 0);

  const std::uint16_t* slot_of = rep->slot_of_id.data();
  const std::size_t slot_n = rep->slot_of_id.size();
  std::size_t pos = body_start;
  for (std::size_t i = 0; i < count; ++i) {
    if (SLOTGUARD_UNLIKELY(size - pos < payload_format::record_header_size))
      return vfail(errc::truncated, i, npos, "record " + std::to_string(i) + ": the payload ends inside its header");
    const std::uint8_t* rh = p + pos;
    const std::uint16_t type_id = detail::load_le16(rh);
    const std::size_t fc = detail::load_le16(rh + 2);
    const std::size_t len = detail::load_le32(rh + 4);
    const std::size_t slot1 = type_id < slot_n ? slot_of[type_id] : 0;
    if (SLOTGUARD_UNLIKELY(slot1 == 0))
      return vfail(errc::unknown_record_type, i, npos,
                   "record " + std::to_string(i) + ": type id " + std::to_string(type_id) +
                       " is not declared by the schema");
    const std::size_t slot = slot1 - 1;
    const record_spec& rs = rep->records[slot];
    const auto& checks = rep->checks[slot];
    const std::size_t nf = checks.size();
    if (SLOTGUARD_UNLIKELY(fc != nf)) {
      const std::size_t at = std::min(fc, nf);
      std::string m = detail::record_label(rs, i) + ": has " + std::to_string(fc) + " fields, its type declares " +
                      std::to_string(nf) + "; ";
      m += fc < nf ? detail::field_label(rs, at) + " is missing"
                   : "field " + std::to_string(at) + " is beyond the last declared field";
      return vfail(errc::field_count_mismatch, i, at, std::move(m));
    }
    const std::size_t room = size - pos - payload_format::record_header_size;
    if (SLOTGUARD_UNLIKELY(len > room))
      return vfail(errc::truncated, i, npos,
                   detail::record_label(rs, i) + ": states " + std::to_string(len) + " bytes, " +
                       std::to_string(room) + " remain");
    const std::uint8_t* q = rh + payload_format::record_header_size;
    detail::field_fault fault;
    const std::size_t fpos_at = fpos.size();
    // nf <= 1024 entries ahead of the fields that fill them: a record whose
    // fields do not fit fails below before the next grows the index again.
    // A record type with lists needs two entries per list (where its table
    // is, and its count) and one per element, and an element takes two
    // bytes at least: at most len / 2 more, so the index stays in proportion
    // to the payload's size whatever counts it states.
    const std::size_t nlists = rs.list_count;
    fpos.resize(fpos_at + nf + 1 + (nlists == 0 ? 0 : 2 * nlists + len / 2));
    std::size_t used = 0;
    if (SLOTGUARD_UNLIKELY(!detail::check_record(checks.data(), nf, nlists, q, q + len, p + size, p,
                                                 fpos.data() + fpos_at, used, fault)))
      return vfail(fault.code, i, fault.field, detail::fault_text(rs, i, fault));
    if (nlists != 0) fpos.resize(fpos_at + used);
    first.push_back(static_cast<std::uint32_t>(fpos_at));
    slots.push_back(static_cast<std::uint16_t>(slot));
    ++per_slot[slot + 1];
    pos += payload_format::record_header_size + len;
  }
  if (pos != size)
    return vfail(errc::trailing_bytes, npos, npos,
                 std::to_string(size - pos) + " bytes follow the last of the stated " + std::to_string(count) +
                     " records");

  // Group record indices by type (a counting sort), so records_of(type) is a
  // slice.
  auto& group = detail_schema_access::group_start(out);
  group.assign(nslots + 1, 0);
  for (std::size_t k = 1; k <= nslots; ++k) group[k] = group[k - 1] + per_slot[k];
  auto& by_type = detail_schema_access::by_type(out);
  by_type.resize(count);
  std::vector<std::uint32_t> cursor(group.begin(), group.end() - 1);
  for (std::size_t i = 0; i < count; ++i) by_type[cursor[slots[i]]++] = static_cast<std::uint32_t>(i);
  detail_schema_access::bind(out, payload, s);
  return out;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#undef SLOTGUARD_FORCEINLINE_

#endif  // SLOTGUARD_DETAIL_SCHEMA_IMPL_HPP
