// SPDX-License-Identifier: Apache-2.0
// The readers' side of schemas (slotguard/schema_view.hpp): the field types
// and their C++ reading types, the constexpr declarations (record_decl,
// schema_decl, field_count_v, field_cpp_t), the runtime schema a payload was
// validated against, and the typed, bounds-checked views of validated
// records (record_view, typed_record, list_view, field_value,
// validated_payload). A worker's translation unit (slotguard/reader.hpp)
// includes this alone; slotguard/schema_view.hpp includes it and adds what
// the validator and the text forms share (check_decl, the per-field checks,
// the text helpers), and slotguard/schema.hpp adds the validator
// (validate, content_check), the text forms and payload_writer. schema's
// members that build, print or compare schemas (from_decl, to_text,
// check_against, from_text_checked) are defined in schema.hpp, rep() in
// schema_view.hpp.
#ifndef SLOTGUARD_SCHEMA_READER_HPP
#define SLOTGUARD_SCHEMA_READER_HPP

#include <slotguard/byte_view.hpp>
#include <slotguard/config.hpp>
#include <slotguard/result.hpp>
#include <slotguard/detail/atomic_word.hpp>
#include <slotguard/detail/shared_ptr.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

// The iterator tags of the views' iterators. <iterator> declares them, with
// every stream and insert iterator (and <streambuf>); libstdc++ declares them
// in a header of their own, which its <string> includes anyway.
#if defined(__GLIBCXX__)
#include <bits/stl_iterator_base_types.h>
#else
#include <iterator>
#endif


namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// ---------------------------------------------------------------------------
// Field types and their C++ reading types
// ---------------------------------------------------------------------------

// The value kinds a field can declare. The numeric values are the tags of the
// binary record encoding (0 is the wildcard tag): never renumber.
enum class field_type : std::uint8_t {
  u8 = 1,
  u16 = 2,
  u32 = 3,
  u64 = 4,
  i8 = 5,
  i16 = 6,
  i32 = 7,
  i64 = 8,
  boolean = 9,
  string = 10,
  bytes = 11,
  enumeration = 12,
};

// The tag byte of a wildcard field in the binary encoding.
inline constexpr std::uint8_t wildcard_tag = 0;
// The tag byte of a list field in the binary encoding: a u32 count, then
// that many elements, each encoded as a field of the element type (its tag,
// then its value). Not a field_type: a list's field_type is its elements'.
inline constexpr std::uint8_t list_tag = 13;

// The name of a field type as the text form spells it ("u32", "string", ...).
constexpr const char* to_string(field_type t) noexcept {
  switch (t) {
    case field_type::u8: return "u8";
    case field_type::u16: return "u16";
    case field_type::u32: return "u32";
    case field_type::u64: return "u64";
    case field_type::i8: return "i8";
    case field_type::i16: return "i16";
    case field_type::i32: return "i32";
    case field_type::i64: return "i64";
    case field_type::boolean: return "bool";
    case field_type::string: return "string";
    case field_type::bytes: return "bytes";
    case field_type::enumeration: return "enum";
  }
  return "unknown";
}

constexpr bool is_valid_field_type(std::uint8_t t) noexcept { return t >= 1 && t <= 12; }
constexpr bool is_integer(field_type t) noexcept {
  return t >= field_type::u8 && t <= field_type::i64;
}
constexpr bool is_signed_integer(field_type t) noexcept {
  return t >= field_type::i8 && t <= field_type::i64;
}
// Bytes of a fixed-size value (0 for string and bytes, which carry a u32
// length prefix).
constexpr std::size_t fixed_width(field_type t) noexcept {
  switch (t) {
    case field_type::u8: case field_type::i8: case field_type::boolean: return 1;
    case field_type::u16: case field_type::i16: return 2;
    case field_type::u32: case field_type::i32: case field_type::enumeration: return 4;
    case field_type::u64: case field_type::i64: return 8;
    case field_type::string: case field_type::bytes: return 0;
  }
  return 0;
}

// The code of an enum field, kept apart from u32 so that reading an enum as
// an integer (or the reverse) is a type error.
struct enum_code {
  std::uint32_t code = 0;
  friend constexpr bool operator==(enum_code a, enum_code b) noexcept { return a.code == b.code; }
  friend constexpr bool operator!=(enum_code a, enum_code b) noexcept { return a.code != b.code; }
};

template <class T>
class list_view;

namespace detail {
// What a field index that a record type does not declare "has" as its type.
struct no_field {};
// A list field's type code in the traits below: its element type's with
// this bit set.
inline constexpr std::uint8_t list_code_bit = 0x80;
template <field_type T> struct cpp_type_of { using type = no_field; };
template <> struct cpp_type_of<field_type::u8> { using type = std::uint8_t; };
template <> struct cpp_type_of<field_type::u16> { using type = std::uint16_t; };
template <> struct cpp_type_of<field_type::u32> { using type = std::uint32_t; };
template <> struct cpp_type_of<field_type::u64> { using type = std::uint64_t; };
template <> struct cpp_type_of<field_type::i8> { using type = std::int8_t; };
template <> struct cpp_type_of<field_type::i16> { using type = std::int16_t; };
template <> struct cpp_type_of<field_type::i32> { using type = std::int32_t; };
template <> struct cpp_type_of<field_type::i64> { using type = std::int64_t; };
template <> struct cpp_type_of<field_type::boolean> { using type = bool; };
template <> struct cpp_type_of<field_type::string> { using type = std::string_view; };
template <> struct cpp_type_of<field_type::bytes> { using type = byte_view; };
template <> struct cpp_type_of<field_type::enumeration> { using type = enum_code; };

template <class T> struct field_type_of { static constexpr std::uint8_t value = 0; };
template <> struct field_type_of<std::uint8_t> { static constexpr std::uint8_t value = 1; };
template <> struct field_type_of<std::uint16_t> { static constexpr std::uint8_t value = 2; };
template <> struct field_type_of<std::uint32_t> { static constexpr std::uint8_t value = 3; };
template <> struct field_type_of<std::uint64_t> { static constexpr std::uint8_t value = 4; };
template <> struct field_type_of<std::int8_t> { static constexpr std::uint8_t value = 5; };
template <> struct field_type_of<std::int16_t> { static constexpr std::uint8_t value = 6; };
template <> struct field_type_of<std::int32_t> { static constexpr std::uint8_t value = 7; };
template <> struct field_type_of<std::int64_t> { static constexpr std::uint8_t value = 8; };
template <> struct field_type_of<bool> { static constexpr std::uint8_t value = 9; };
template <> struct field_type_of<std::string_view> { static constexpr std::uint8_t value = 10; };
template <> struct field_type_of<byte_view> { static constexpr std::uint8_t value = 11; };
template <> struct field_type_of<enum_code> { static constexpr std::uint8_t value = 12; };
template <class T> struct field_type_of<list_view<T>> {
  static constexpr std::uint8_t value =
      field_type_of<T>::value == 0 ? 0 : static_cast<std::uint8_t>(list_code_bit | field_type_of<T>::value);
};
template <class T> struct is_list_view : std::false_type {};
template <class T> struct is_list_view<list_view<T>> : std::true_type {};

// An integer literal as sign and magnitude, so that every i64 and every u64
// value has one representation.
struct int_literal {
  bool negative = false;
  std::uint64_t magnitude = 0;
};
template <class T>
constexpr int_literal to_literal(T v) noexcept {
  static_assert(std::is_integral<T>::value && !std::is_same<T, bool>::value,
                "ranges and allowed values are integers");
  if constexpr (std::is_signed<T>::value) {
    if (v < 0) return {true, std::uint64_t{0} - static_cast<std::uint64_t>(static_cast<std::int64_t>(v))};
    return {false, static_cast<std::uint64_t>(v)};
  } else {
    return {false, static_cast<std::uint64_t>(v)};
  }
}
constexpr std::uint64_t sign_bit = std::uint64_t{1} << 63;
// The largest magnitude of a positive and of a negative value of type t.
constexpr std::uint64_t type_max_magnitude(field_type t) noexcept {
  switch (t) {
    case field_type::u8: return 0xFFu;
    case field_type::u16: return 0xFFFFu;
    case field_type::u32: case field_type::enumeration: return 0xFFFFFFFFu;
    case field_type::u64: return ~std::uint64_t{0};
    case field_type::i8: return 0x7Fu;
    case field_type::i16: return 0x7FFFu;
    case field_type::i32: return 0x7FFFFFFFu;
    case field_type::i64: return sign_bit - 1;
    case field_type::boolean: return 1;
    default: return 0;
  }
}
constexpr std::uint64_t type_min_magnitude(field_type t) noexcept {
  return is_signed_integer(t) ? type_max_magnitude(t) + 1 : 0;
}
constexpr bool literal_fits(field_type t, int_literal v) noexcept {
  return v.negative ? v.magnitude <= type_min_magnitude(t) : v.magnitude <= type_max_magnitude(t);
}
// Values of a signed type are compared as unsigned after flipping the sign
// bit; that keeps every range check of every width one unsigned comparison.
constexpr std::uint64_t biased(field_type t, int_literal v) noexcept {
  const std::uint64_t bits = v.negative ? std::uint64_t{0} - v.magnitude : v.magnitude;
  return is_signed_integer(t) ? bits ^ sign_bit : bits;
}
constexpr std::uint64_t biased_min(field_type t) noexcept {
  return is_signed_integer(t) ? biased(t, {true, type_min_magnitude(t)}) : 0;
}
constexpr std::uint64_t biased_max(field_type t) noexcept {
  return biased(t, {false, type_max_magnitude(t)});
}
constexpr int_literal unbias(field_type t, std::uint64_t b) noexcept {
  if (!is_signed_integer(t)) return {false, b};
  const std::uint64_t bits = b ^ sign_bit;
  if (bits & sign_bit) return {true, std::uint64_t{0} - bits};
  return {false, bits};
}

}  // namespace detail

// Sizes a schema may not exceed, whichever form declares it.
struct schema_limits {
  static constexpr std::size_t max_id_length = 64;
  static constexpr std::size_t max_name_length = 64;
  static constexpr std::size_t max_record_types = 1024;
  static constexpr std::size_t max_fields = 1024;
  static constexpr std::size_t max_values = 1024;  // enum values, allowed values
  static constexpr std::uint32_t max_length = 16u * 1024u * 1024u;  // string/bytes
  static constexpr std::uint32_t max_list_count = 65535;  // elements of a list field
  static constexpr std::size_t max_text_size = 1024u * 1024u;  // schema text
};

// ---------------------------------------------------------------------------
// Compile-time declaration
// ---------------------------------------------------------------------------

// One named value of an enum field.
struct enum_value {
  std::string_view name;
  std::uint32_t code = 0;
};

// One field of a record type: its name, type and constraints. Build with the
// functions in slotguard::fields and chain the constraints:
//   fields::u16("port").range(1, 65535).wildcard()
// Arrays handed to allowed() or fields::enumeration() must outlive the
// declaration (make them static constexpr). A list field is a scalar field
// made a list: fields::string("tokens", 32).list(16) holds 0 to 16 strings
// of at most 32 bytes; its type, range, allowed set, maximum length and
// enum values are its elements', and wildcard() lets the whole list be a
// wildcard (an element never is one).
struct field_decl {
  std::string_view name{};
  field_type type = field_type::u8;
  bool is_list = false;
  std::uint32_t list_max = 0;  // a list's most elements, 1 to schema_limits::max_list_count
  bool wildcard_ok = false;
  bool has_range = false;
  detail::int_literal min{};
  detail::int_literal max{};
  std::uint32_t max_length = 0;
  const std::int64_t* allowed_signed = nullptr;
  const std::uint64_t* allowed_unsigned = nullptr;
  const std::string_view* allowed_strings = nullptr;
  std::size_t allowed_count = 0;
  const enum_value* enum_values = nullptr;
  std::size_t enum_count = 0;

  // The field is a list of 0 to max_count values of its type.
  constexpr field_decl list(std::uint32_t max_count) const noexcept {
    field_decl c = *this;
    c.is_list = true;
    c.list_max = max_count;
    return c;
  }
  // The field may hold a wildcard ("matches anything") instead of a value.
  constexpr field_decl wildcard() const noexcept {
    field_decl c = *this;
    c.wildcard_ok = true;
    return c;
  }
  // An integer field's inclusive range.
  template <class A, class B>
  constexpr field_decl range(A lo, B hi) const noexcept {
    field_decl c = *this;
    c.has_range = true;
    c.min = detail::to_literal(lo);
    c.max = detail::to_literal(hi);
    return c;
  }
  // The only values an integer field may hold.
  template <std::size_t N>
  constexpr field_decl allowed(const std::int64_t (&values)[N]) const noexcept {
    field_decl c = *this;
    c.allowed_signed = values;
    c.allowed_unsigned = nullptr;
    c.allowed_strings = nullptr;
    c.allowed_count = N;
    return c;
  }
  template <std::size_t N>
  constexpr field_decl allowed(const std::uint64_t (&values)[N]) const noexcept {
    field_decl c = *this;
    c.allowed_signed = nullptr;
    c.allowed_unsigned = values;
    c.allowed_strings = nullptr;
    c.allowed_count = N;
    return c;
  }
  // The only values a string field may hold.
  template <std::size_t N>
  constexpr field_decl allowed(const std::string_view (&values)[N]) const noexcept {
    field_decl c = *this;
    c.allowed_signed = nullptr;
    c.allowed_unsigned = nullptr;
    c.allowed_strings = values;
    c.allowed_count = N;
    return c;
  }
};

namespace fields {
namespace detail_ {
constexpr field_decl make(std::string_view name, field_type t, std::uint32_t max_length = 0) noexcept {
  field_decl f{};
  f.name = name;
  f.type = t;
  f.max_length = max_length;
  return f;
}
}  // namespace detail_
constexpr field_decl u8(std::string_view name) noexcept { return detail_::make(name, field_type::u8); }
constexpr field_decl u16(std::string_view name) noexcept { return detail_::make(name, field_type::u16); }
constexpr field_decl u32(std::string_view name) noexcept { return detail_::make(name, field_type::u32); }
constexpr field_decl u64(std::string_view name) noexcept { return detail_::make(name, field_type::u64); }
constexpr field_decl i8(std::string_view name) noexcept { return detail_::make(name, field_type::i8); }
constexpr field_decl i16(std::string_view name) noexcept { return detail_::make(name, field_type::i16); }
constexpr field_decl i32(std::string_view name) noexcept { return detail_::make(name, field_type::i32); }
constexpr field_decl i64(std::string_view name) noexcept { return detail_::make(name, field_type::i64); }
constexpr field_decl boolean(std::string_view name) noexcept {
  return detail_::make(name, field_type::boolean);
}
// A UTF-8 string of at most max_length bytes.
constexpr field_decl string(std::string_view name, std::uint32_t max_length) noexcept {
  return detail_::make(name, field_type::string, max_length);
}
// Raw bytes, at most max_length of them.
constexpr field_decl bytes(std::string_view name, std::uint32_t max_length) noexcept {
  return detail_::make(name, field_type::bytes, max_length);
}
// One of the named values (encoded as its u32 code).
template <std::size_t N>
constexpr field_decl enumeration(std::string_view name, const enum_value (&values)[N]) noexcept {
  field_decl f = detail_::make(name, field_type::enumeration);
  f.enum_values = values;
  f.enum_count = N;
  return f;
}
}  // namespace fields

// A record type: its numeric type id (what the encoding carries), its name
// (what the records text uses) and its exact, ordered fields.
struct record_decl {
  std::uint16_t type_id = 0;
  std::string_view name{};
  const field_decl* fields = nullptr;
  std::size_t count = 0;

  constexpr record_decl() noexcept = default;
  constexpr record_decl(std::uint16_t id, std::string_view nm, const field_decl* f, std::size_t n) noexcept
      : type_id(id), name(nm), fields(f), count(n) {}
  template <std::size_t N>
  constexpr record_decl(std::uint16_t id, std::string_view nm, const field_decl (&f)[N]) noexcept
      : type_id(id), name(nm), fields(f), count(N) {}

  constexpr std::size_t field_count() const noexcept { return count; }
  // Requires i < field_count() (a compile error in a constant expression).
  constexpr const field_decl& field(std::size_t i) const noexcept { return fields[i]; }
};

// A schema: an id and a version (matched against the payload's header and
// the bundle manifest) and its record types.
struct schema_decl {
  std::string_view id{};
  std::uint32_t version = 0;
  const record_decl* records = nullptr;
  std::size_t count = 0;

  constexpr schema_decl() noexcept = default;
  constexpr schema_decl(std::string_view i, std::uint32_t v, const record_decl* r, std::size_t n) noexcept
      : id(i), version(v), records(r), count(n) {}
  template <std::size_t N>
  constexpr schema_decl(std::string_view i, std::uint32_t v, const record_decl (&r)[N]) noexcept
      : id(i), version(v), records(r), count(N) {}

  constexpr std::size_t record_count() const noexcept { return count; }
  // Requires i < record_count().
  constexpr const record_decl& record(std::size_t i) const noexcept { return records[i]; }
};

// The number of fields a constexpr record type declares.
template <const record_decl& R>
inline constexpr std::size_t field_count_v = R.field_count();

namespace detail {
template <const record_decl& R, std::size_t K>
constexpr std::uint8_t decl_type_at() noexcept {
  if constexpr (K < R.field_count()) {
    return static_cast<std::uint8_t>(static_cast<std::uint8_t>(R.fields[K].type) |
                                     (R.fields[K].is_list ? list_code_bit : 0));
  } else {
    return 0;
  }
}
template <std::uint8_t T, bool List = (T & list_code_bit) != 0>
struct cpp_type_of_code {
  using type = typename cpp_type_of<static_cast<field_type>(T)>::type;
};
template <std::uint8_t T>
struct cpp_type_of_code<T, true> {
  using type = list_view<typename cpp_type_of<static_cast<field_type>(T & 0x7F)>::type>;
};
template <>
struct cpp_type_of_code<0> {
  using type = no_field;
};
}  // namespace detail

// The C++ type field K of R reads as (detail::no_field when R has no field K;
// list_view<E> for a list of E).
template <const record_decl& R, std::size_t K>
using field_cpp_t = typename detail::cpp_type_of_code<detail::decl_type_at<R, K>()>::type;

// True when field K of R exists and reads as T: the condition under which
// typed_record<R>::get<K, T>() compiles.
template <const record_decl& R, std::size_t K, class T>
inline constexpr bool can_read_v =
    (K < R.field_count()) && std::is_same<field_cpp_t<R, K>, T>::value;

// ---------------------------------------------------------------------------
// Errors and limits
// ---------------------------------------------------------------------------

// Where a schema (text or declaration) is wrong. line and column are 1-based
// positions in the text (0 for a C++ declaration); code is schema_invalid,
// or too_large for a text over schema_limits::max_text_size.
struct schema_error {
  errc code = errc::schema_invalid;
  std::size_t line = 0;
  std::size_t column = 0;
  std::string message;
};

// Where a records text is wrong: records_syntax for malformed text, or the
// validation errc of the value at that position (unknown_record_type,
// field_count_mismatch, field_out_of_range, ...).
struct records_error {
  errc code = errc::records_syntax;
  std::size_t line = 0;
  std::size_t column = 0;
  std::string message;
};

// Why a payload was rejected: the errc, the 0-based record index and field
// index it concerns (npos where it concerns no record or field), and a
// sentence.
struct validation_error {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  errc code = errc::validator_rejected;
  std::size_t record = npos;
  std::size_t field = npos;
  std::string message;
};

// Limits validate() enforces on a payload; each breach has its own errc.
struct validate_limits {
  std::size_t max_records = std::size_t{1} << 24;         // too_many_records
  std::uint64_t max_bytes = std::uint64_t{1} << 30;       // too_large
};

// The payload encoding's constants (docs/SCHEMA.md, "Payload records").
struct payload_format {
  static constexpr std::uint8_t magic[4] = {'S', 'G', 'P', 'L'};
  static constexpr std::uint16_t version = 1;
  static constexpr std::size_t header_size = 24;   // before the schema id
  static constexpr std::size_t record_header_size = 8;
  // Record offsets are kept as 32 bits in the index.
  static constexpr std::uint64_t max_payload = 0xFFFFFFFFu;
};

// ---------------------------------------------------------------------------
// Runtime schema
// ---------------------------------------------------------------------------

// One named value of an enum field of a runtime schema.
struct enum_entry {
  std::string name;
  std::uint32_t code = 0;
};

// One field of a runtime schema.
struct field_spec {
  std::string name;
  field_type type = field_type::u8;  // a list's: its elements' type
  bool is_list = false;
  std::uint32_t list_max = 0;        // a list's most elements
  std::uint16_t list_index = 0;      // a list: its position among the record type's lists
  bool wildcard_ok = false;
  bool has_range = false;
  // Inclusive range in biased form (sign bit flipped for signed types); the
  // type's full range when the field declares none.
  std::uint64_t biased_min = 0;
  std::uint64_t biased_max = 0;
  std::uint32_t max_length = 0;
  std::vector<std::uint64_t> allowed;        // integers: biased, sorted; enum: codes, sorted
  std::vector<std::string> allowed_strings;  // sorted
  std::vector<enum_entry> enum_values;       // in declaration order

  // The declared range's bounds as sign and magnitude.
  detail::int_literal min_value() const noexcept { return detail::unbias(type, biased_min); }
  detail::int_literal max_value() const noexcept { return detail::unbias(type, biased_max); }
  // The enum value's name for a code, or an empty view.
  std::string_view enum_name(std::uint32_t code) const noexcept {
    for (const auto& e : enum_values)
      if (e.code == code) return e.name;
    return {};
  }
};

// One record type of a runtime schema.
struct record_spec {
  std::uint16_t type_id = 0;
  std::string name;
  std::vector<field_spec> fields;
  std::size_t list_count = 0;  // fields that are lists
  std::size_t field_count() const noexcept { return fields.size(); }
};

namespace detail {
// The constexpr record declarations found to be declared exactly by a
// schema (schema::declares_exactly_static), by address: a typed view's check runs
// once per declaration, then costs a few atomic loads.
class verified_decls {
 public:
  static constexpr std::size_t capacity = 16;
  verified_decls() noexcept = default;
  verified_decls(const verified_decls&) = delete;
  verified_decls& operator=(const verified_decls&) = delete;
  bool contains(const void* d) const noexcept {
    for (const auto& e : seen_) {
      const void* x = e.load(order::acquire);
      if (x == d) return true;
      if (x == nullptr) return false;
    }
    return false;
  }
  // Remembers d when there is room (without room every check runs again).
  void add(const void* d) const noexcept {
    for (auto& e : seen_) {
      const void* expected = nullptr;
      if (e.compare_exchange_strong(expected, d, order::acq_rel, order::acquire) || expected == d) return;
    }
  }

 private:
  mutable atomic_word<const void*> seen_[capacity];
};
// What a schema holds that its readers use. schema_rep (slotguard/
// schema_view.hpp) adds what validation uses.
struct schema_rep_core {
  std::string id;
  std::uint32_t version = 0;
  std::vector<record_spec> records;
  std::vector<std::uint16_t> slot_of_id;         // type id -> slot + 1 (0: unknown)
  verified_decls verified;                       // see schema::declares_exactly_static
};
struct schema_rep;
}  // namespace detail

// A schema ready to validate and read payloads. Cheap to copy (shares one
// immutable representation). A default-constructed schema has no id and no
// record types and accepts no payload.
class schema {
 public:
  schema() = default;

  // Builds a runtime schema from a constexpr declaration. Returns
  // schema_invalid (line 0, column 0) if check_decl() finds a problem.
  SLOTGUARD_DECL static result<schema, schema_error> from_decl(const schema_decl& decl);

  std::string_view id() const noexcept { return rep_ ? std::string_view(rep_->id) : std::string_view(); }
  std::uint32_t version() const noexcept { return rep_ ? rep_->version : 0; }
  // True when a payload or manifest names this schema: the same id and the
  // same version. It compares the names only, not the record types; that a
  // schema is the host's declaration is check_against's question.
  bool matches(std::string_view schema_id, std::uint32_t schema_version) const noexcept {
    return rep_ && schema_id == rep_->id && schema_version == rep_->version;
  }
  std::size_t record_type_count() const noexcept { return rep_ ? rep_->records.size() : 0; }
  // Requires i < record_type_count().
  const record_spec& record_type(std::size_t i) const noexcept { return rep_->records[i]; }
  // The record type with this id or name, or nullptr.
  const record_spec* find(std::uint16_t type_id) const noexcept {
    const std::size_t s = slot(type_id);
    return s == npos ? nullptr : &rep_->records[s];
  }
  const record_spec* find(std::string_view name) const noexcept {
    if (!rep_) return nullptr;
    for (const auto& r : rep_->records)
      if (r.name == name) return &r;
    return nullptr;
  }

  // The text form of this schema (parse_schema_text reads it back to an
  // equivalent schema): the canonical form, one field a line, allowed values
  // in ascending order, enum values in declaration order.
  SLOTGUARD_DECL std::string to_text() const;

  // Whether this schema is the host's compiled declaration d in every
  // respect that can change a value a reader sees: the same id and version,
  // the same record types, and each record type as check_against(record)
  // compares it. Returns schema_mismatch (line 0, column 0) with a message
  // naming the first difference (record, field, what differs).
  SLOTGUARD_DECL result<void, schema_error> check_against(const schema_decl& d) const;
  // Whether this schema declares record type r exactly: a record type with
  // r's type id and name, r's field count, and for every field in order the
  // same name, type, wildcard permission, effective range, maximum length,
  // allowed set (as a set) and enum names and codes (as a set of pairs).
  // Returns schema_mismatch with a message naming the first difference.
  SLOTGUARD_DECL result<void, schema_error> check_against(const record_decl& r) const;
  // check_against(r) as a yes or no, without allocating.
  inline bool declares_exactly(const record_decl& r) const noexcept;

  // Parses a schema text for a host that has compiled declaration d, and
  // checks it against d once, here: parse_schema_text's errors, or
  // check_against(d)'s schema_mismatch.
  SLOTGUARD_DECL static result<schema, schema_error> from_text_checked(std::string_view text, const schema_decl& d);

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::size_t slot(std::uint16_t type_id) const noexcept {
    if (!rep_ || type_id >= rep_->slot_of_id.size()) return npos;
    const std::uint16_t s = rep_->slot_of_id[type_id];
    return s == 0 ? npos : static_cast<std::size_t>(s - 1);
  }
  // Defined in slotguard/schema_view.hpp (validation's part of the
  // representation is declared there).
  inline const detail::schema_rep* rep() const noexcept;

 private:
  friend struct detail_schema_access;
  friend class validated_payload;
  // declares_exactly(r) for an r of static storage (a records_of<R>()
  // template argument): remembers a yes for r's address, so that the
  // comparison runs once per schema and R.
  inline bool declares_exactly_static(const record_decl& r) const noexcept;
  std::shared_ptr<const detail::schema_rep_core> rep_;
};

// ---------------------------------------------------------------------------
// Views over validated payloads
// ---------------------------------------------------------------------------

// A field's value as read through a view: a value of T or a wildcard.
//
// Over a validated payload a field whose declaration does not allow a
// wildcard always holds a value (typed_record<R>::value<K>() reads it as T
// directly); a field that allows one may hold either, and the reader decides
// what a wildcard means: is_wildcard(), as_optional(), value_or(), matches().
// No accessor aborts, whatever the content: value() on a wildcard returns T{}
// (it cannot tell a wildcard from T{}, so read wildcard fields with the
// others). A default-constructed field_value holds neither (what a view
// that has no record reads).
template <class T>
class field_value {
 public:
  constexpr field_value() noexcept = default;
  static constexpr field_value wildcard() noexcept {
    field_value f;
    f.state_ = state::wildcard;
    return f;
  }
  static constexpr field_value of(T v) noexcept {
    field_value f;
    f.state_ = state::value;
    f.v_ = v;
    return f;
  }
  constexpr bool is_wildcard() const noexcept { return state_ == state::wildcard; }
  constexpr bool has_value() const noexcept { return state_ == state::value; }
  // The value; T{} when the field holds no value (a wildcard). Never aborts.
  constexpr T value() const noexcept { return has_value() ? v_ : T{}; }
  constexpr T value_or(T fallback) const noexcept { return has_value() ? v_ : fallback; }
  // The value, or nullopt for a wildcard (or nothing).
  constexpr std::optional<T> as_optional() const noexcept {
    return has_value() ? std::optional<T>(v_) : std::optional<T>();
  }
  // A field as a criterion: a wildcard matches every v, a value matches only
  // an equal v, and a field_value that holds neither matches nothing.
  constexpr bool matches(const T& v) const noexcept { return is_wildcard() || (has_value() && v_ == v); }

 private:
  enum class state : std::uint8_t { none, wildcard, value };
  state state_ = state::none;
  T v_{};
};

// A field read without knowing its type in advance (what a generic tool
// prints): its declared type, whether it is a wildcard, and its value.
struct any_field {
  field_type type = field_type::u8;  // a list's: its elements' type
  bool wildcard = false;
  bool list = false;       // a list field: count elements (record_view::element reads them)
  std::size_t count = 0;
  std::uint64_t bits = 0;  // integers (two's complement for signed), bool, enum code
  byte_view data{};        // string and bytes; a list: its encoded elements
  std::int64_t as_signed() const noexcept { return static_cast<std::int64_t>(bits); }
  std::uint64_t as_unsigned() const noexcept { return bits; }
  std::string_view as_string() const noexcept { return data.as_chars(); }
};

namespace detail {
// Reads field k of a record from what validation established: pos[k] is the
// offset of the field's tag from the payload's start p, pos[k + 1] the end
// of its value, and t its declared type. A field of one byte is a wildcard
// (a tag alone); a string or bytes value starts after its tag and 4-byte
// length, and its length is its extent less those 5 bytes. Neither the tag
// nor the length is read from the bytes again, so bytes changed after
// validation change at most the values read, never how much is read.
inline any_field read_indexed(const std::uint8_t* p, const std::uint32_t* pos, std::size_t k, field_type t) noexcept {
  any_field out;
  out.type = t;
  const std::size_t at = pos[k];
  const std::size_t extent = static_cast<std::size_t>(pos[k + 1]) - at;
  if (extent == 1) {
    out.wildcard = true;
    return out;
  }
  const std::size_t w = fixed_width(t);
  if (w == 0) {
    out.data = byte_view(p + at + 5, extent - 5);
    return out;
  }
  const std::uint8_t* q = p + at + 1;
  std::uint64_t v = 0;
  switch (w) {
    case 1: v = q[0]; break;
    case 2: v = load_le16(q); break;
    case 4: v = load_le32(q); break;
    default: v = load_le64(q); break;
  }
  if (is_signed_integer(t) && w < 8) {
    // Sign-extend to 64 bits.
    const std::uint64_t top = std::uint64_t{1} << (8 * w - 1);
    v = (v ^ top) - top;
  }
  out.bits = v;
  return out;
}
template <class T>
inline field_value<T> to_typed(const any_field& f) noexcept {
  if (f.wildcard) return field_value<T>::wildcard();
  if constexpr (std::is_same<T, std::string_view>::value) {
    return field_value<T>::of(f.data.as_chars());
  } else if constexpr (std::is_same<T, byte_view>::value) {
    return field_value<T>::of(f.data);
  } else if constexpr (std::is_same<T, bool>::value) {
    return field_value<T>::of(f.bits != 0);
  } else if constexpr (std::is_same<T, enum_code>::value) {
    return field_value<T>::of(enum_code{static_cast<std::uint32_t>(f.bits)});
  } else {
    return field_value<T>::of(static_cast<T>(f.bits));
  }
}

// A field's type code as the traits spell it (list_code_bit for a list).
inline std::uint8_t type_code(const field_spec& f) noexcept {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(f.type) | (f.is_list ? list_code_bit : 0));
}

// Where validation's index keeps list field k of a record whose field
// offsets are pos[0..nf]: pos[nf + 1 + list_index] is the offset, from pos,
// of the list's table: its element count, then each element's tag offset.
// The last element ends where the field does (pos[k + 1]).
inline const std::uint32_t* list_table(const std::uint32_t* pos, const record_spec& r, std::size_t k) noexcept {
  return pos + pos[r.fields.size() + 1 + r.fields[k].list_index];
}
}  // namespace detail

// The elements of a list field, in order, each read as T (a field type's
// C++ reading type: std::uint32_t, std::string_view, enum_code, ...). The
// count and each element's offset and extent come from validation's index,
// never from the bytes again, and no read aborts: at(i) past the end is
// invalid_argument, value_or(i, x) is x. Valid while the payload's bytes and
// the validated_payload's index live. A default-constructed list_view is
// empty.
template <class T>
class list_view {
  static_assert(detail::field_type_of<T>::value != 0 && !detail::is_list_view<T>::value,
                "a list's elements read as a scalar field type");

 public:
  using value_type = T;
  class iterator {
   public:
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = T;  // elements are read by value
    using iterator_category = std::input_iterator_tag;
    // Holds a copy of the view (four words), so it stays valid when the
    // list_view it came from was a temporary.
    iterator(const list_view& l, std::size_t i) noexcept : l_(l), i_(i) {}
    T operator*() const noexcept { return l_.read(i_); }
    iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    iterator operator++(int) noexcept {
      iterator t = *this;
      ++i_;
      return t;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.i_ == b.i_; }
    friend bool operator!=(const iterator& a, const iterator& b) noexcept { return a.i_ != b.i_; }

   private:
    list_view l_;
    std::size_t i_;
  };

  constexpr list_view() noexcept = default;
  list_view(const std::uint8_t* bytes, const std::uint32_t* elems, std::size_t count, std::uint32_t end) noexcept
      : bytes_(bytes), elems_(elems), n_(count), end_(end) {}

  std::size_t count() const noexcept { return n_; }
  std::size_t size() const noexcept { return n_; }
  bool empty() const noexcept { return n_ == 0; }
  // Element i, or invalid_argument if there is no element i.
  result<T> at(std::size_t i) const noexcept {
    if (i >= n_) return errc::invalid_argument;
    return read(i);
  }
  // Element i, or fallback if there is no element i.
  T value_or(std::size_t i, T fallback) const noexcept { return i < n_ ? read(i) : fallback; }
  // Whether some element equals v.
  bool contains(const T& v) const noexcept {
    for (std::size_t i = 0; i < n_; ++i)
      if (read(i) == v) return true;
    return false;
  }
  iterator begin() const noexcept { return iterator(*this, 0); }
  iterator end() const noexcept { return iterator(*this, n_); }

  // Equal element by element.
  friend bool operator==(const list_view& a, const list_view& b) noexcept {
    if (a.n_ != b.n_) return false;
    for (std::size_t i = 0; i < a.n_; ++i)
      if (!(a.read(i) == b.read(i))) return false;
    return true;
  }
  friend bool operator!=(const list_view& a, const list_view& b) noexcept { return !(a == b); }

 private:
  T read(std::size_t i) const noexcept {
    const std::uint32_t extent[2] = {elems_[i], i + 1 < n_ ? elems_[i + 1] : end_};
    return detail::to_typed<T>(
               detail::read_indexed(bytes_, extent, 0, static_cast<field_type>(detail::field_type_of<T>::value)))
        .value();
  }
  const std::uint8_t* bytes_ = nullptr;
  const std::uint32_t* elems_ = nullptr;
  std::size_t n_ = 0;
  std::uint32_t end_ = 0;
};

namespace detail {
// What differs between a runtime record type and a declaration, found
// without allocating (records_of<R>() runs it on the reader's path).
struct record_difference {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  enum kind_t : std::uint8_t {
    none,
    absent,        // no record type with the declaration's id
    record_name,
    field_count,
    field_name,
    field_type_,
    wildcard,
    range,
    max_length,
    allowed,
    enum_values,
    list,          // list or not, or the list's maximum count
  };
  kind_t kind = none;
  std::size_t field = npos;
  bool ok() const noexcept { return kind == none; }
};

// Whether sorted a holds v: std::binary_search by hand, as <algorithm> is
// for the validator, not for every reader's translation unit.
template <class V, class T>
inline bool sorted_has(const std::vector<V>& a, const T& v) noexcept {
  std::size_t lo = 0, hi = a.size();
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    if (a[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < a.size() && !(v < a[lo]);
}

inline bool decl_allowed_has(const field_decl& d, std::uint64_t biased_value) noexcept {
  for (std::size_t i = 0; i < d.allowed_count; ++i) {
    const int_literal v = d.allowed_signed ? to_literal(d.allowed_signed[i]) : to_literal(d.allowed_unsigned[i]);
    if (literal_fits(d.type, v) && biased(d.type, v) == biased_value) return true;
  }
  return false;
}
inline bool same_allowed(const field_spec& s, const field_decl& d) noexcept {
  const bool any = d.allowed_count != 0 || d.allowed_signed || d.allowed_unsigned || d.allowed_strings;
  if (is_integer(d.type)) {
    if (d.allowed_strings) return false;
    const bool decl_has = d.allowed_count != 0 && (d.allowed_signed || d.allowed_unsigned);
    if (!decl_has) return s.allowed.empty();
    if (s.allowed.empty()) return false;
    // Equal as sets: every declared value is allowed, every allowed value is declared.
    for (std::size_t i = 0; i < d.allowed_count; ++i) {
      const int_literal v = d.allowed_signed ? to_literal(d.allowed_signed[i]) : to_literal(d.allowed_unsigned[i]);
      if (!literal_fits(d.type, v) || !sorted_has(s.allowed, biased(d.type, v)))
        return false;
    }
    for (std::uint64_t b : s.allowed)
      if (!decl_allowed_has(d, b)) return false;
    return true;
  }
  if (d.type == field_type::string) {
    if (d.allowed_signed || d.allowed_unsigned) return false;
    const bool decl_has = d.allowed_count != 0 && d.allowed_strings;
    if (!decl_has) return s.allowed_strings.empty();
    if (s.allowed_strings.empty()) return false;
    for (std::size_t i = 0; i < d.allowed_count; ++i) {
      const std::string_view v = d.allowed_strings[i];
      if (!sorted_has(s.allowed_strings, v)) return false;
    }
    for (const std::string& a : s.allowed_strings) {
      bool found = false;
      for (std::size_t i = 0; i < d.allowed_count && !found; ++i) found = d.allowed_strings[i] == a;
      if (!found) return false;
    }
    return true;
  }
  return !any;  // no other type has an allowed set (an enum's codes: same_enum)
}
inline bool same_enum(const field_spec& s, const field_decl& d) noexcept {
  const std::size_t n = d.enum_values ? d.enum_count : 0;
  // Equal as sets of (name, code) pairs: the order of declaration changes no value.
  for (std::size_t i = 0; i < n; ++i) {
    bool found = false;
    for (const auto& e : s.enum_values)
      if (e.name == d.enum_values[i].name && e.code == d.enum_values[i].code) found = true;
    if (!found) return false;
  }
  for (const auto& e : s.enum_values) {
    bool found = false;
    for (std::size_t i = 0; i < n && !found; ++i)
      found = e.name == d.enum_values[i].name && e.code == d.enum_values[i].code;
    if (!found) return false;
  }
  return true;
}
// The first respect in which record type s differs from declaration d that
// can change what a reader sees: its name, its field count, and for each
// field in order its name, type, wildcard permission, effective range,
// maximum length, allowed set, and enum names and codes.
inline record_difference compare_record(const record_spec& s, const record_decl& d) noexcept {
  record_difference r;
  if (s.name != d.name) return {record_difference::record_name, record_difference::npos};
  const std::size_t n = d.fields ? d.count : 0;
  if (s.fields.size() != n) return {record_difference::field_count, (s.fields.size() < n ? s.fields.size() : n)};
  for (std::size_t k = 0; k < n; ++k) {
    const field_spec& f = s.fields[k];
    const field_decl& g = d.fields[k];
    if (f.name != g.name) return {record_difference::field_name, k};
    if (f.type != g.type) return {record_difference::field_type_, k};
    if (f.is_list != g.is_list || f.list_max != (g.is_list ? g.list_max : 0))
      return {record_difference::list, k};
    if (f.wildcard_ok != g.wildcard_ok) return {record_difference::wildcard, k};
    if (is_integer(f.type) || f.type == field_type::boolean || f.type == field_type::enumeration) {
      const bool ranged = g.has_range && is_integer(g.type) && literal_fits(g.type, g.min) && literal_fits(g.type, g.max);
      const std::uint64_t lo = ranged ? biased(g.type, g.min) : biased_min(g.type);
      const std::uint64_t hi = ranged ? biased(g.type, g.max) : biased_max(g.type);
      if (g.has_range != ranged || f.biased_min != lo || f.biased_max != hi) return {record_difference::range, k};
    }
    if (f.max_length != g.max_length) return {record_difference::max_length, k};
    if (!same_allowed(f, g)) return {record_difference::allowed, k};
    if (f.type == field_type::enumeration ? !same_enum(f, g) : (g.enum_count != 0 || g.enum_values != nullptr))
      return {record_difference::enum_values, k};
  }
  return r;
}
}  // namespace detail

// One record of a validated payload. Valid while the payload's bytes and
// the validated_payload it came from live. Everything that says how to
// read the record (its type, each field's offset, extent and wildcard
// flag) comes from the validation's index, never from the bytes again.
class record_view {
 public:
  record_view() = default;
  // bytes: the payload's start; pos: the record's field_count() + 1 field
  // offsets from validation (see detail::read_indexed).
  record_view(const std::uint8_t* bytes, const std::uint32_t* pos, const record_spec* type, std::size_t index) noexcept
      : bytes_(bytes), pos_(pos), type_(type), index_(index) {}

  // False for a default-constructed view.
  bool valid() const noexcept { return type_ != nullptr; }
  // Position of the record in the payload (0-based).
  std::size_t index() const noexcept { return index_; }
  // Requires valid().
  std::uint16_t type_id() const noexcept { return type_->type_id; }
  const record_spec& type() const noexcept { return *type_; }
  // The validated schema's field count for this record type (0 for an
  // invalid view): never a count the content states.
  std::size_t field_count() const noexcept { return type_ ? type_->fields.size() : 0; }
  // The record's encoded fields (after its 8-byte header), as validated.
  byte_view body() const noexcept {
    if (!type_) return byte_view();
    return byte_view(bytes_ + pos_[0], static_cast<std::size_t>(pos_[type_->fields.size()]) - pos_[0]);
  }

  // Field k read as T (list_view<E> for a list of E). Returns
  // invalid_argument when the record type has no field k,
  // field_type_mismatch when field k is not of a type that reads as T (see
  // field_cpp_t).
  template <class T>
  result<field_value<T>> get(std::size_t k) const noexcept {
    if (k >= field_count()) return errc::invalid_argument;
    if (detail::field_type_of<T>::value != detail::type_code(type_->fields[k])) return errc::field_type_mismatch;
    return read_proven<T>(k);
  }
  // Field k whatever its type. Returns invalid_argument when the record type
  // has no field k. A list reads as its element count (element() reads the
  // elements).
  result<any_field> field(std::size_t k) const noexcept {
    if (k >= field_count()) return errc::invalid_argument;
    const field_spec& f = type_->fields[k];
    if (!f.is_list) return detail::read_indexed(bytes_, pos_, k, f.type);
    any_field out;
    out.type = f.type;
    out.list = true;
    const std::size_t at = pos_[k];
    const std::size_t extent = static_cast<std::size_t>(pos_[k + 1]) - at;
    if (extent == 1) {
      out.wildcard = true;
      return out;
    }
    out.count = detail::list_table(pos_, *type_, k)[0];
    out.data = byte_view(bytes_ + at + 5, extent - 5);
    return out;
  }
  // Element j of list field k whatever its type. Returns invalid_argument
  // when there is no field k, field k is no list (or a wildcard), or the
  // list has no element j.
  result<any_field> element(std::size_t k, std::size_t j) const noexcept {
    if (k >= field_count() || !type_->fields[k].is_list) return errc::invalid_argument;
    if (pos_[k + 1] - pos_[k] == 1) return errc::invalid_argument;
    const std::uint32_t* table = detail::list_table(pos_, *type_, k);
    if (j >= table[0]) return errc::invalid_argument;
    const std::uint32_t extent[2] = {table[1 + j], j + 1 < table[0] ? table[2 + j] : pos_[k + 1]};
    return detail::read_indexed(bytes_, extent, 0, type_->fields[k].type);
  }

  // Field k read as T, or a default field_value (neither value nor
  // wildcard) when the view is invalid, the record type has no field k, or
  // field k does not read as T.
  template <class T>
  field_value<T> read_typed(std::size_t k) const noexcept {
    if (k >= field_count() || detail::field_type_of<T>::value != detail::type_code(type_->fields[k]))
      return field_value<T>();
    return read_proven<T>(k);
  }

 private:
  template <const record_decl& R>
  friend class typed_record;
  // For typed_record<R>, whose record type was compared with R (and for the
  // checked reads above): field k exists and reads as T. Reads nothing from
  // an invalid view.
  template <class T>
  field_value<T> read_proven(std::size_t k) const noexcept {
    if (!type_) return field_value<T>();
    if constexpr (detail::is_list_view<T>::value) {
      if (pos_[k + 1] - pos_[k] == 1) return field_value<T>::wildcard();
      const std::uint32_t* table = detail::list_table(pos_, *type_, k);
      return field_value<T>::of(T(bytes_, table + 1, table[0], pos_[k + 1]));
    } else {
      return detail::to_typed<T>(
          detail::read_indexed(bytes_, pos_, k, static_cast<field_type>(detail::field_type_of<T>::value)));
    }
  }

  const std::uint8_t* bytes_ = nullptr;
  const std::uint32_t* pos_ = nullptr;
  const record_spec* type_ = nullptr;
  std::size_t index_ = 0;
};

template <const record_decl& R>
class typed_record_range;

// A record of a constexpr-declared type R: field K reads as its declared
// type, and an index R does not declare, or a wrong type, does not compile.
// Obtained from validated_payload::records_of<R>(), which hands it out only
// when the validated schema declares R exactly (see schema::check_against).
template <const record_decl& R>
class typed_record {
 public:
  typed_record() = default;
  // A view of v as R when v's record type is exactly R (compared field by
  // field: detail::compare_record); otherwise an empty view whose reads hold
  // neither value nor wildcard (valid() is false).
  explicit typed_record(record_view v) noexcept {
    if (v.valid() && detail::compare_record(v.type(), R).ok() && v.type_id() == R.type_id) v_ = v;
  }

  static constexpr std::size_t field_count() noexcept { return R.field_count(); }
  bool valid() const noexcept { return v_.valid(); }
  const record_view& untyped() const noexcept { return v_; }
  std::size_t index() const noexcept { return v_.index(); }

  template <std::size_t K>
  field_value<field_cpp_t<R, K>> get() const noexcept {
    static_assert(K < R.field_count(), "the record type declares no field with this index");
    return v_.template read_proven<field_cpp_t<R, K>>(K);
  }
  template <std::size_t K, class T>
  field_value<T> get_as() const noexcept {
    static_assert(can_read_v<R, K, T>, "field K of this record type does not read as T");
    return v_.template read_proven<T>(K);
  }
  // Field K's value, for a field R declares without a wildcard: validation
  // guarantees a value there, so it reads as T itself.
  template <std::size_t K>
  field_cpp_t<R, K> value() const noexcept {
    static_assert(K < R.field_count(), "the record type declares no field with this index");
    static_assert(!R.fields[K].wildcard_ok,
                  "field K may hold a wildcard: read it with get<K>() and handle the wildcard");
    return get<K>().value();
  }

 private:
  friend class typed_record_range<R>;
  struct checked {};
  typed_record(record_view v, checked) noexcept : v_(v) {}
  record_view v_;
};

class validated_payload;

namespace detail {
// What a view needs to find record i: the payload's bytes, the index built
// by validation and the schema's representation, all of which stay put when
// the validated_payload that owns the index is moved.
struct record_source {
  const std::uint8_t* bytes = nullptr;
  const std::uint32_t* first = nullptr;  // record i: its first entry in pos
  const std::uint16_t* slot = nullptr;   // record i: its type's slot in the schema
  const std::uint32_t* pos = nullptr;    // field offsets, field_count + 1 per record
  const schema_rep_core* rep = nullptr;
  record_view make(std::size_t i) const noexcept {
    return record_view(bytes, pos + first[i], &rep->records[slot[i]], i);
  }
};
}  // namespace detail

// The records of one type, in payload order. Valid while the payload's
// bytes and the validated_payload's index live (moving the
// validated_payload keeps it valid).
class record_range {
 public:
  class iterator {
   public:
    using value_type = record_view;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    iterator(detail::record_source src, const std::uint32_t* at) noexcept : src_(src), at_(at) {}
    record_view operator*() const noexcept { return src_.make(*at_); }
    iterator& operator++() noexcept {
      ++at_;
      return *this;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.at_ == b.at_; }
    friend bool operator!=(const iterator& a, const iterator& b) noexcept { return a.at_ != b.at_; }

   private:
    detail::record_source src_;
    const std::uint32_t* at_;
  };
  record_range() = default;
  record_range(detail::record_source src, const std::uint32_t* b, const std::uint32_t* e) noexcept
      : src_(src), b_(b), e_(e) {}
  iterator begin() const noexcept { return iterator(src_, b_); }
  iterator end() const noexcept { return iterator(src_, e_); }
  std::size_t size() const noexcept { return static_cast<std::size_t>(e_ - b_); }
  bool empty() const noexcept { return b_ == e_; }
  // Requires i < size().
  record_view operator[](std::size_t i) const noexcept { return src_.make(b_[i]); }

 private:
  detail::record_source src_{};
  const std::uint32_t* b_ = nullptr;
  const std::uint32_t* e_ = nullptr;
};

// The records of constexpr-declared type R, in payload order: what
// validated_payload::records_of<R>() returns once it has checked that the
// validated schema declares R exactly.
template <const record_decl& R>
class typed_record_range {
 public:
  class iterator {
   public:
    using value_type = typed_record<R>;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::forward_iterator_tag;
    explicit iterator(record_range::iterator it) noexcept : it_(it) {}
    typed_record<R> operator*() const noexcept { return typed_record<R>(*it_, typename typed_record<R>::checked{}); }
    iterator& operator++() noexcept {
      ++it_;
      return *this;
    }
    friend bool operator==(const iterator& a, const iterator& b) noexcept { return a.it_ == b.it_; }
    friend bool operator!=(const iterator& a, const iterator& b) noexcept { return a.it_ != b.it_; }

   private:
    record_range::iterator it_;
  };
  typed_record_range() = default;
  iterator begin() const noexcept { return iterator(r_.begin()); }
  iterator end() const noexcept { return iterator(r_.end()); }
  std::size_t size() const noexcept { return r_.size(); }
  bool empty() const noexcept { return r_.empty(); }
  // Requires i < size().
  typed_record<R> operator[](std::size_t i) const noexcept {
    return typed_record<R>(r_[i], typename typed_record<R>::checked{});
  }

 private:
  friend class validated_payload;
  explicit typed_record_range(record_range r) noexcept : r_(r) {}
  record_range r_;
};

// The result of validation: the payload's bytes (not owned: the caller keeps
// them alive), the schema they passed, and an index of what validation
// established (each record's type, and each field's offset and extent, so a
// wildcard and a length too) so that views reach any record in O(1) and
// never take a type, count or length from the bytes again. Should the bytes
// change after validation, views still read only inside each validated
// field (the values read are then whatever the bytes hold). From a
// validator_fn it holds the bytes only (has_index() is false).
class validated_payload {
 public:
  validated_payload() = default;

  byte_view bytes() const noexcept { return bytes_; }
  bool has_index() const noexcept { return has_index_; }
  const schema& get_schema() const noexcept { return schema_; }
  std::size_t record_count() const noexcept { return first_.size(); }

  // Record i in payload order. Requires i < record_count().
  record_view record(std::size_t i) const noexcept {
    SLOTGUARD_ASSERT(i < first_.size());
    return source().make(i);
  }
  // Record i, or invalid_argument if there is no record i.
  result<record_view> at(std::size_t i) const noexcept {
    if (i >= first_.size()) return errc::invalid_argument;
    return record(i);
  }
  // The records of one type id (empty for an id the schema does not declare).
  record_range records_of(std::uint16_t type_id) const noexcept {
    const std::size_t s = schema_.slot(type_id);
    if (s == schema::npos || s + 1 >= group_start_.size()) return record_range();
    const std::uint32_t* base = by_type_.data();
    return record_range(source(), base + group_start_[s], base + group_start_[s + 1]);
  }
  // The records of constexpr-declared type R. Returns schema_mismatch unless
  // the payload's schema declares R exactly: the same type id, record name,
  // field count, and for every field in order the same name, type, wildcard
  // permission, range, maximum length, allowed set and enum names and codes
  // (get_schema().check_against(R) names the first difference). The check
  // runs once per schema and R; later calls find its verdict in O(1).
  // Keep the result in a variable before iterating: `for (auto r :
  // *p.records_of<R>())` would iterate a range inside a destroyed temporary.
  template <const record_decl& R>
  result<typed_record_range<R>> records_of() const noexcept {
    if (!schema_.declares_exactly_static(R)) return errc::schema_mismatch;
    return typed_record_range<R>(records_of(R.type_id));
  }

 private:
  friend struct detail_schema_access;
  friend class content_check;
  detail::record_source source() const noexcept {
    return {bytes_.data(), first_.data(), slot_.data(), pos_.data(), schema_.rep_.get()};
  }
  byte_view bytes_{};
  schema schema_{};
  bool has_index_ = false;
  std::vector<std::uint32_t> first_;        // record i: its first entry in pos_
  std::vector<std::uint16_t> slot_;         // record i: its type's slot in the schema
  std::vector<std::uint32_t> pos_;          // per record: each field's tag offset, then the body's end
  std::vector<std::uint32_t> by_type_;      // record indices grouped by type slot
  std::vector<std::uint32_t> group_start_;  // slot s: by_type_[group_start_[s], group_start_[s+1])
};

// Defined here rather than with schema's other members (schema.hpp): a
// typed view (validated_payload::records_of<R>) calls them.
inline bool schema::declares_exactly(const record_decl& r) const noexcept {
  const record_spec* spec = find(r.type_id);
  return spec && detail::compare_record(*spec, r).ok();
}

inline bool schema::declares_exactly_static(const record_decl& r) const noexcept {
  const record_spec* spec = find(r.type_id);
  if (!spec) return false;
  if (rep_->verified.contains(&r)) return true;
  if (!detail::compare_record(*spec, r).ok()) return false;
  rep_->verified.add(&r);
  return true;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SCHEMA_READER_HPP
