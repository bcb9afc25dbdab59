// SPDX-License-Identifier: Apache-2.0
// What readers and the validator share of schemas: slotguard/
// schema_reader.hpp (the field types and their C++ reading types, the
// constexpr declarations, the runtime schema a payload was validated against
// and the typed views of validated records), which this includes and which a
// worker's unit (slotguard/reader.hpp) includes alone, and what the
// validator and the text forms add to it: check_decl, the text helpers, the
// per-field checks and the whole representation (detail::schema_rep). It
// includes no OS header and nothing of the validator; slotguard/schema.hpp
// includes it and adds the validator (validate, content_check), the text
// forms and payload_writer. schema's members that build, print or compare
// schemas (from_decl, to_text, check_against, from_text_checked) are defined
// in schema.hpp.
#ifndef SLOTGUARD_SCHEMA_VIEW_HPP
#define SLOTGUARD_SCHEMA_VIEW_HPP

#include <slotguard/config.hpp>
#include <slotguard/schema_reader.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <slotguard/detail/schema_utf8.hpp>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Text forms for messages and for schema::to_text().
inline std::string literal_text(int_literal v) {
  std::string s = std::to_string(v.magnitude);
  return v.negative ? "-" + s : s;
}

inline std::string quote_text(std::string_view s) {
  static constexpr char hexd[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      out += "\\x";
      out.push_back(hexd[c >> 4]);
      out.push_back(hexd[c & 15]);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

constexpr bool is_ident_start(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
constexpr bool is_ident_char(char c) noexcept {
  return is_ident_start(c) || (c >= '0' && c <= '9');
}
}  // namespace detail

// A problem found in a declaration: what, and where (npos where it concerns
// no record or field). what == nullptr means the declaration is valid.
struct decl_issue {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  const char* what = nullptr;
  std::size_t record = npos;
  std::size_t field = npos;
  std::size_t value = npos;  // index of an enum or allowed value
  constexpr bool ok() const noexcept { return what == nullptr; }
};

namespace detail {
constexpr bool valid_name(std::string_view s) noexcept {
  if (s.empty() || s.size() > schema_limits::max_name_length || !is_ident_start(s[0])) return false;
  for (char c : s)
    if (!is_ident_char(c)) return false;
  return true;
}
constexpr bool valid_schema_id(std::string_view s) noexcept {
  if (s.empty() || s.size() > schema_limits::max_id_length) return false;
  for (char c : s)
    if (!(is_ident_char(c) || c == '.' || c == '-')) return false;
  return true;
}
constexpr decl_issue issue(const char* what, std::size_t r, std::size_t f = decl_issue::npos,
                           std::size_t v = decl_issue::npos) noexcept {
  decl_issue i{};
  i.what = what;
  i.record = r;
  i.field = f;
  i.value = v;
  return i;
}
constexpr decl_issue check_field(const field_decl& f, std::size_t r, std::size_t k) noexcept {
  if (!valid_name(f.name)) return issue("field name is not an identifier of 1 to 64 characters", r, k);
  if (!is_valid_field_type(static_cast<std::uint8_t>(f.type))) return issue("unknown field type", r, k);
  const field_type t = f.type;
  const bool ints = is_integer(t);
  if (f.has_range) {
    if (!ints) return issue("a range applies only to integer fields", r, k);
    if (!literal_fits(t, f.min) || !literal_fits(t, f.max))
      return issue("range bound is outside the field type's values", r, k);
    if (biased(t, f.min) > biased(t, f.max)) return issue("range minimum exceeds its maximum", r, k);
  }
  if ((t == field_type::string || t == field_type::bytes)) {
    if (f.max_length > schema_limits::max_length) return issue("maximum length exceeds 16 MiB", r, k);
  } else if (f.max_length != 0) {
    return issue("a maximum length applies only to string and bytes fields", r, k);
  }
  if (f.is_list) {
    if (f.list_max == 0 || f.list_max > schema_limits::max_list_count)
      return issue("a list's maximum count is not 1 to 65535", r, k);
  } else if (f.list_max != 0) {
    return issue("a maximum count applies only to list fields", r, k);
  }
  if (f.allowed_count > schema_limits::max_values) return issue("more than 1024 allowed values", r, k);
  if (f.allowed_count > 0 || f.allowed_signed || f.allowed_unsigned || f.allowed_strings) {
    if (f.allowed_count == 0) return issue("an allowed-value set is empty", r, k);
    if (ints) {
      if (f.allowed_strings) return issue("allowed values of an integer field must be integers", r, k);
      if (!f.allowed_signed && !f.allowed_unsigned) return issue("allowed values are missing", r, k);
      for (std::size_t i = 0; i < f.allowed_count; ++i) {
        const int_literal v = f.allowed_signed ? to_literal(f.allowed_signed[i]) : to_literal(f.allowed_unsigned[i]);
        if (!literal_fits(t, v)) return issue("allowed value is outside the field type's values", r, k, i);
        if (f.has_range && (biased(t, v) < biased(t, f.min) || biased(t, v) > biased(t, f.max)))
          return issue("allowed value is outside the field's range", r, k, i);
        for (std::size_t j = 0; j < i; ++j) {
          const int_literal u = f.allowed_signed ? to_literal(f.allowed_signed[j]) : to_literal(f.allowed_unsigned[j]);
          if (u.negative == v.negative && u.magnitude == v.magnitude) return issue("allowed value repeats", r, k, i);
        }
      }
    } else if (t == field_type::string) {
      if (!f.allowed_strings) return issue("allowed values of a string field must be strings", r, k);
      for (std::size_t i = 0; i < f.allowed_count; ++i) {
        if (f.allowed_strings[i].size() > f.max_length)
          return issue("allowed value is longer than the field's maximum length", r, k, i);
        if (!utf8_valid_constexpr(f.allowed_strings[i])) return issue("allowed value is not UTF-8", r, k, i);
        for (std::size_t j = 0; j < i; ++j)
          if (f.allowed_strings[j] == f.allowed_strings[i]) return issue("allowed value repeats", r, k, i);
      }
    } else {
      return issue("allowed values apply only to integer and string fields", r, k);
    }
  }
  if (t == field_type::enumeration) {
    if (f.enum_count == 0 || !f.enum_values) return issue("an enum declares no values", r, k);
    if (f.enum_count > schema_limits::max_values) return issue("more than 1024 enum values", r, k);
    for (std::size_t i = 0; i < f.enum_count; ++i) {
      if (!valid_name(f.enum_values[i].name)) return issue("enum value name is not an identifier", r, k, i);
      for (std::size_t j = 0; j < i; ++j) {
        if (f.enum_values[j].name == f.enum_values[i].name) return issue("enum value name repeats", r, k, i);
        if (f.enum_values[j].code == f.enum_values[i].code) return issue("enum value code repeats", r, k, i);
      }
    }
  } else if (f.enum_count != 0 || f.enum_values) {
    return issue("enum values apply only to enum fields", r, k);
  }
  return decl_issue{};
}
}  // namespace detail

// Checks a declaration against the rules of docs/SCHEMA.md (names, unique
// type ids and names, constraints that fit their types, limits). Usable in
// a static_assert: static_assert(check_decl(my_schema).ok());
constexpr decl_issue check_decl(const schema_decl& s) noexcept {
  using detail::issue;
  constexpr std::size_t npos = decl_issue::npos;
  if (!detail::valid_schema_id(s.id))
    return issue("schema id is not 1 to 64 characters of letters, digits, '.', '-', '_'", npos);
  if (s.count == 0 || !s.records) return issue("the schema declares no record types", npos);
  if (s.count > schema_limits::max_record_types) return issue("more than 1024 record types", npos);
  for (std::size_t r = 0; r < s.count; ++r) {
    const record_decl& rec = s.records[r];
    if (!detail::valid_name(rec.name)) return issue("record name is not an identifier of 1 to 64 characters", r);
    if (rec.count > schema_limits::max_fields) return issue("more than 1024 fields", r);
    if (rec.count > 0 && !rec.fields) return issue("record fields are missing", r);
    for (std::size_t q = 0; q < r; ++q) {
      if (s.records[q].type_id == rec.type_id) return issue("record type id repeats", r);
      if (s.records[q].name == rec.name) return issue("record name repeats", r);
    }
    for (std::size_t k = 0; k < rec.count; ++k) {
      const decl_issue fi = detail::check_field(rec.fields[k], r, k);
      if (!fi.ok()) return fi;
      for (std::size_t j = 0; j < k; ++j)
        if (rec.fields[j].name == rec.fields[k].name) return issue("field name repeats", r, k);
    }
  }
  return decl_issue{};
}

namespace detail {
// The per-field check validate() runs, compact so a record's checks sit in
// a few cache lines.
struct field_check {
  std::uint64_t lo = 0;    // biased
  std::uint64_t span = 0;  // biased hi - lo: one unsigned compare checks the range
  // A fixed-size value is read as 8 bytes & mask, then sign-extended with
  // top ((v ^ top) - top) and biased with flip, without branching on its type.
  std::uint64_t mask = 0;
  std::uint64_t top = 0;
  std::uint64_t flip = 0;
  const std::uint64_t* allowed = nullptr;
  const std::string* allowed_strings = nullptr;
  std::uint32_t allowed_count = 0;
  std::uint32_t max_length = 0;
  std::uint64_t enum_mask = 0;  // enum codes < 64 as a bit set, when small_enum
  field_type type = field_type::u8;
  std::uint8_t width = 0;       // fixed_width(type); 0 for string and bytes
  bool wildcard_ok = false;
  bool small_enum = false;
  bool member_check = false;    // enum or allowed set: look the value up
  bool is_list = false;         // the checks above apply to each element
  std::uint16_t list_index = 0;
  std::uint32_t list_max = 0;
};
// The whole representation: the readers' part and the checks.
struct schema_rep : schema_rep_core {
  std::vector<std::vector<field_check>> checks;  // per record slot
};
}  // namespace detail

inline const detail::schema_rep* schema::rep() const noexcept {
  // Every representation is made as a schema_rep (schema.hpp).
  return static_cast<const detail::schema_rep*>(rep_.get());
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SCHEMA_VIEW_HPP
