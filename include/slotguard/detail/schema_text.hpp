// SPDX-License-Identifier: Apache-2.0
// The text forms of schema.hpp: a tokenizer shared by the schema text and
// the records text, parse_schema_text (which builds the same declaration
// tables a C++ host writes, so both forms go through one check), and
// compile_records_text (which checks each value as validate() would and
// names the line and column of the first problem). Grammar and examples:
// docs/SCHEMA.md. Included by slotguard/schema.hpp only.
#ifndef SLOTGUARD_DETAIL_SCHEMA_TEXT_HPP
#define SLOTGUARD_DETAIL_SCHEMA_TEXT_HPP

#include <slotguard/config.hpp>

#include <slotguard/schema.hpp>
#include <slotguard/detail/schema_impl.hpp>

#include <algorithm>
#include <limits>
#include <memory>
#include <type_traits>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Defined in schema_impl.hpp, which may not have been read yet when this
// header is reached through it.
inline std::string type_label(const field_spec& f);

struct text_pos {
  std::size_t line = 1;
  std::size_t column = 1;
};

struct token {
  enum kind_t : std::uint8_t { end, newline, ident, integer, string, hexstring, punct, bad };
  kind_t kind = end;
  text_pos pos{};
  std::string_view text{};  // the token as written
  int_literal num{};        // integer
  std::string str;          // string and hexstring, decoded
  char p = 0;               // punct: one of {}:,=()*<>[] and '.' for ".."
  const char* error = nullptr;  // bad: why
};

class text_lexer {
 public:
  text_lexer(std::string_view src, bool newlines) noexcept : s_(src), newlines_(newlines) {}

  token next() {
    skip_space();
    token t;
    t.pos = {line_, i_ - line_start_ + 1};
    if (i_ >= s_.size()) {
      t.kind = token::end;
      return t;
    }
    const std::size_t start = i_;
    const char c = s_[i_];
    if (c == '\n') {
      ++i_;
      ++line_;
      line_start_ = i_;
      t.kind = token::newline;
      t.text = s_.substr(start, 1);
      return t;
    }
    if (c == 'x' && i_ + 1 < s_.size() && s_[i_ + 1] == '"') {
      ++i_;
      lex_string(t, true);
    } else if (is_ident_start(c)) {
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      t.kind = token::ident;
    } else if ((c >= '0' && c <= '9') || (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9')) {
      lex_number(t);
    } else if (c == '"') {
      lex_string(t, false);
    } else if (c == '.' && i_ + 1 < s_.size() && s_[i_ + 1] == '.') {
      i_ += 2;
      t.kind = token::punct;
      t.p = '.';
    } else if (c == '{' || c == '}' || c == ':' || c == ',' || c == '=' || c == '(' || c == ')' || c == '*' ||
               c == '<' || c == '>' || c == '[' || c == ']') {
      ++i_;
      t.kind = token::punct;
      t.p = c;
    } else {
      ++i_;
      t.kind = token::bad;
      t.error = static_cast<unsigned char>(c) >= 0x80 ? "non-ASCII character outside a string"
                                                      : "unexpected character";
    }
    t.text = s_.substr(start, i_ - start);
    return t;
  }

 private:
  void skip_space() noexcept {
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (c == ' ' || c == '\t' || c == '\r') {
        ++i_;
      } else if (c == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      } else if (c == '\n' && !newlines_) {
        ++i_;
        ++line_;
        line_start_ = i_;
      } else {
        break;
      }
    }
  }
  static int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  void lex_number(token& t) noexcept {
    t.kind = token::integer;
    if (s_[i_] == '-') {
      t.num.negative = true;
      ++i_;
    }
    std::uint64_t base = 10;
    // Only a lower-case "0x" starts a hex number (docs/SCHEMA.md's grammar);
    // "0X1F" is a malformed number below.
    if (s_[i_] == '0' && i_ + 1 < s_.size() && s_[i_ + 1] == 'x') {
      base = 16;
      i_ += 2;
    }
    std::size_t digits = 0;
    std::uint64_t v = 0;
    bool overflow = false;
    while (i_ < s_.size()) {
      const int d = hex_digit(s_[i_]);
      if (d < 0 || static_cast<std::uint64_t>(d) >= base) break;
      const std::uint64_t ud = static_cast<std::uint64_t>(d);
      if (v > (~std::uint64_t{0} - ud) / base) overflow = true;
      v = v * base + ud;
      ++digits;
      ++i_;
    }
    // A number glued to letters ("12ab", "0x") is a typo, not two tokens.
    if (digits == 0 || (i_ < s_.size() && is_ident_char(s_[i_]))) {
      while (i_ < s_.size() && is_ident_char(s_[i_])) ++i_;
      t.kind = token::bad;
      t.error = "malformed number";
      return;
    }
    if (overflow || (t.num.negative && v > sign_bit)) {
      t.kind = token::bad;
      t.error = "number is outside the 64-bit range";
      return;
    }
    t.num.magnitude = v;
    if (v == 0) t.num.negative = false;
  }
  void lex_string(token& t, bool hex) {
    ++i_;  // opening quote
    t.kind = hex ? token::hexstring : token::string;
    std::string raw;
    while (true) {
      if (i_ >= s_.size() || s_[i_] == '\n') {
        t.kind = token::bad;
        t.error = "string is not closed on its line";
        return;
      }
      const char c = s_[i_];
      if (c == '"') {
        ++i_;
        break;
      }
      if (c == '\r') {
        // Outside strings a carriage return is white space (CRLF text reads
        // as LF text); inside one it would silently become part of a value.
        t.kind = token::bad;
        t.error = "a carriage return inside a string (write \\r)";
        return;
      }
      if (hex) {
        if (c == ' ' || c == '_') {
          ++i_;
          continue;
        }
        raw.push_back(c);
        ++i_;
        continue;
      }
      if (c != '\\') {
        t.str.push_back(c);
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) {
        t.kind = token::bad;
        t.error = "string is not closed on its line";
        return;
      }
      const char e = s_[i_ + 1];
      i_ += 2;
      switch (e) {
        case '"': t.str.push_back('"'); break;
        case '\\': t.str.push_back('\\'); break;
        case 'n': t.str.push_back('\n'); break;
        case 't': t.str.push_back('\t'); break;
        case 'r': t.str.push_back('\r'); break;
        case '0': t.str.push_back('\0'); break;
        case 'x': {
          const int hi = i_ < s_.size() ? hex_digit(s_[i_]) : -1;
          const int lo = i_ + 1 < s_.size() ? hex_digit(s_[i_ + 1]) : -1;
          if (hi < 0 || lo < 0) {
            t.kind = token::bad;
            t.error = "\\x needs two hex digits";
            return;
          }
          t.str.push_back(static_cast<char>((hi << 4) | lo));
          i_ += 2;
          break;
        }
        default:
          t.kind = token::bad;
          t.error = "unknown escape (use \\\" \\\\ \\n \\t \\r \\0 \\xHH)";
          return;
      }
    }
    if (hex) {
      if (raw.size() % 2 != 0) {
        t.kind = token::bad;
        t.error = "hex bytes need an even number of digits";
        return;
      }
      for (std::size_t k = 0; k < raw.size(); k += 2) {
        const int hi = hex_digit(raw[k]);
        const int lo = hex_digit(raw[k + 1]);
        if (hi < 0 || lo < 0) {
          t.kind = token::bad;
          t.error = "x\"...\" holds a character that is not a hex digit";
          return;
        }
        t.str.push_back(static_cast<char>((hi << 4) | lo));
      }
    }
  }

  std::string_view s_;
  bool newlines_;
  std::size_t i_ = 0;
  std::size_t line_ = 1;
  std::size_t line_start_ = 0;
};

inline std::string token_desc(const token& t) {
  switch (t.kind) {
    case token::end: return "the end of the text";
    case token::newline: return "the end of the line";
    case token::string: return "a string";
    case token::hexstring: return "hex bytes";
    default: break;
  }
  std::string s(t.text.substr(0, 32));
  return "'" + s + "'";
}

// ----- schema text -----

struct owned_field {
  std::string name;
  text_pos pos{};
  field_type type = field_type::u8;
  bool is_list = false;
  std::uint32_t list_max = 0;
  bool wildcard = false;
  bool has_range = false;
  int_literal min{}, max{};
  std::uint32_t max_length = 0;
  std::vector<std::int64_t> allowed_s;
  std::vector<std::uint64_t> allowed_u;
  std::vector<std::string> allowed_str;
  std::vector<std::string_view> allowed_str_views;
  std::vector<text_pos> value_pos;  // allowed values or enum values
  std::vector<std::string> enum_names;
  std::vector<enum_value> enums;
};
struct owned_record {
  std::string name;
  text_pos pos{};
  std::uint16_t type_id = 0;
  std::vector<owned_field> fields;
  std::vector<field_decl> decls;
};

class schema_text_parser {
 public:
  explicit schema_text_parser(std::string_view text) : lex_(text, false) { advance(); }

  result<schema, schema_error> parse() {
    if (!expect_word("schema")) return err_;
    if (tok_.kind != token::string) return fail("the schema id, a quoted string");
    id_ = tok_.str;
    id_pos_ = tok_.pos;
    advance();
    if (!expect_word("version")) return err_;
    std::uint64_t v = 0;
    if (!unsigned_number(0xFFFFFFFFu, "the schema version (0 to 4294967295)", v)) return err_;
    version_ = static_cast<std::uint32_t>(v);
    while (tok_.kind != token::end) {
      if (records_.size() >= schema_limits::max_record_types) return fail_here("more than 1024 record types");
      if (!record()) return err_;
    }
    return finish();
  }

 private:
  void advance() { tok_ = lex_.next(); }
  schema_error make(text_pos at, std::string msg) {
    schema_error e;
    e.code = errc::schema_invalid;
    e.line = at.line;
    e.column = at.column;
    e.message = std::move(msg);
    return e;
  }
  schema_error fail(const char* wanted) {
    if (tok_.kind == token::bad) return err_ = make(tok_.pos, tok_.error);
    return err_ = make(tok_.pos, std::string("expected ") + wanted + ", found " + token_desc(tok_));
  }
  schema_error fail_here(std::string msg) { return err_ = make(tok_.pos, std::move(msg)); }
  bool is_word(const char* w) const { return tok_.kind == token::ident && tok_.text == w; }
  bool expect_word(const char* w) {
    if (!is_word(w)) {
      fail((std::string("'") + w + "'").c_str());
      return false;
    }
    advance();
    return true;
  }
  bool expect_punct(char c, const char* wanted) {
    if (tok_.kind != token::punct || tok_.p != c) {
      fail(wanted);
      return false;
    }
    advance();
    return true;
  }
  bool unsigned_number(std::uint64_t max, const char* wanted, std::uint64_t& out) {
    if (tok_.kind != token::integer) {
      fail(wanted);
      return false;
    }
    if (tok_.num.negative || tok_.num.magnitude > max) {
      fail_here(std::string("expected ") + wanted + ", the value is out of range");
      return false;
    }
    out = tok_.num.magnitude;
    advance();
    return true;
  }
  bool name(const char* wanted, std::string& out, text_pos& at) {
    if (tok_.kind != token::ident) {
      fail(wanted);
      return false;
    }
    if (tok_.text.size() > schema_limits::max_name_length) {
      fail_here("a name is longer than 64 characters");
      return false;
    }
    out = std::string(tok_.text);
    at = tok_.pos;
    advance();
    return true;
  }
  bool record() {
    if (!expect_word("record")) return false;
    owned_record r;
    if (!name("a record name", r.name, r.pos)) return false;
    if (!expect_punct('=', "'=' and the record's type id")) return false;
    std::uint64_t id = 0;
    if (!unsigned_number(0xFFFFu, "the record type id (0 to 65535)", id)) return false;
    r.type_id = static_cast<std::uint16_t>(id);
    if (!expect_punct('{', "'{'")) return false;
    while (!(tok_.kind == token::punct && tok_.p == '}')) {
      if (r.fields.size() >= schema_limits::max_fields) {
        fail_here("more than 1024 fields in a record");
        return false;
      }
      if (!is_word("field")) {
        fail("'field' or '}'");
        return false;
      }
      advance();
      owned_field f;
      if (!field(f)) return false;
      r.fields.push_back(std::move(f));
    }
    advance();
    records_.push_back(std::move(r));
    return true;
  }
  bool field(owned_field& f) {
    if (!name("a field name", f.name, f.pos)) return false;
    if (!expect_punct(':', "':' and the field's type")) return false;
    if (tok_.kind != token::ident) {
      fail("a field type");
      return false;
    }
    if (is_word("list")) {
      // list<TYPE> max N: the element type, then the most elements.
      advance();
      if (!expect_punct('<', "'<' and the list's element type")) return false;
      if (is_word("list")) return fail_here("a list's elements are of a scalar type, not a list"), false;
      if (!scalar_type(f)) return false;
      if (!expect_punct('>', "'>' after the list's element type")) return false;
      if (!expect_word("max")) return false;
      if (tok_.kind == token::integer && !tok_.num.negative && tok_.num.magnitude == 0)
        return fail_here("a list's maximum count is not 1 to 65535"), false;
      std::uint64_t n = 0;
      if (!unsigned_number(schema_limits::max_list_count, "the list's maximum count (1 to 65535)", n)) return false;
      f.is_list = true;
      f.list_max = static_cast<std::uint32_t>(n);
    } else if (!scalar_type(f)) {
      return false;
    }
    return constraints(f);
  }
  // A scalar type: a name, string(N), bytes(N) or enum { ... }.
  bool scalar_type(owned_field& f) {
    if (tok_.kind != token::ident) {
      fail("a field type");
      return false;
    }
    const std::string_view tn = tok_.text;
    static constexpr field_type all[] = {field_type::u8,  field_type::u16,     field_type::u32,    field_type::u64,
                                         field_type::i8,  field_type::i16,     field_type::i32,    field_type::i64,
                                         field_type::boolean, field_type::string, field_type::bytes,
                                         field_type::enumeration};
    bool known = false;
    for (field_type t : all)
      if (tn == to_string(t)) {
        f.type = t;
        known = true;
      }
    if (!known) {
      fail_here("unknown field type '" + std::string(tn.substr(0, 32)) +
                "' (u8 u16 u32 u64 i8 i16 i32 i64 bool string(N) bytes(N) enum {...} list<T> max N)");
      return false;
    }
    advance();
    if (f.type == field_type::string || f.type == field_type::bytes) {
      if (!expect_punct('(', "'(' and the maximum length")) return false;
      std::uint64_t n = 0;
      if (!unsigned_number(schema_limits::max_length, "the maximum length in bytes (at most 16777216)", n)) return false;
      f.max_length = static_cast<std::uint32_t>(n);
      if (!expect_punct(')', "')'")) return false;
    } else if (f.type == field_type::enumeration) {
      if (!expect_punct('{', "'{' and the enum's values")) return false;
      while (true) {
        if (f.enums.size() >= schema_limits::max_values) {
          fail_here("more than 1024 enum values");
          return false;
        }
        std::string n;
        text_pos at;
        if (!name("an enum value name", n, at)) return false;
        if (!expect_punct('=', "'=' and the value's code")) return false;
        std::uint64_t code = 0;
        if (!unsigned_number(0xFFFFFFFFu, "the enum code (0 to 4294967295)", code)) return false;
        f.enum_names.push_back(std::move(n));
        f.enums.push_back(enum_value{{}, static_cast<std::uint32_t>(code)});
        f.value_pos.push_back(at);
        if (tok_.kind == token::punct && tok_.p == ',') {
          advance();
          continue;
        }
        if (!expect_punct('}', "',' or '}'")) return false;
        break;
      }
    }
    return true;
  }
  bool constraints(owned_field& f) {
    // Constraints, in any order, until the next field or the record's end.
    while (tok_.kind == token::ident && !is_word("field")) {
      if (is_word("wildcard")) {
        if (f.wildcard) return fail_here("'wildcard' repeats"), false;
        f.wildcard = true;
        advance();
      } else if (is_word("range")) {
        if (!is_integer(f.type)) return fail_here("a range applies only to integer fields"), false;
        if (f.has_range) return fail_here("'range' repeats"), false;
        advance();
        if (!int_value(f, f.min)) return false;
        if (!expect_punct('.', "'..' between the range's bounds")) return false;
        if (!int_value(f, f.max)) return false;
        f.has_range = true;
      } else if (is_word("in")) {
        if (!(is_integer(f.type) || f.type == field_type::string))
          return fail_here("allowed values apply only to integer and string fields"), false;
        if (!f.value_pos.empty()) return fail_here("'in' repeats"), false;
        advance();
        if (!expect_punct('{', "'{' and the allowed values")) return false;
        while (true) {
          if (f.value_pos.size() >= schema_limits::max_values) return fail_here("more than 1024 allowed values"), false;
          f.value_pos.push_back(tok_.pos);
          if (f.type == field_type::string) {
            if (tok_.kind != token::string) return fail("a quoted string"), false;
            if (tok_.str.size() > f.max_length)
              return fail_here("the allowed value is longer than the field's maximum length"), false;
            if (!utf8_valid_constexpr(tok_.str)) return fail_here("the allowed value is not UTF-8"), false;
            f.allowed_str.push_back(tok_.str);
            advance();
          } else {
            int_literal v;
            if (!int_value(f, v)) return false;
            if (is_signed_integer(f.type))
              f.allowed_s.push_back(v.negative ? static_cast<std::int64_t>(std::uint64_t{0} - v.magnitude)
                                               : static_cast<std::int64_t>(v.magnitude));
            else
              f.allowed_u.push_back(v.magnitude);
          }
          if (tok_.kind == token::punct && tok_.p == ',') {
            advance();
            continue;
          }
          if (!expect_punct('}', "',' or '}'")) return false;
          break;
        }
      } else {
        fail("'range', 'in', 'wildcard', 'field' or '}'");
        return false;
      }
    }
    return true;
  }
  bool int_value(const owned_field& f, int_literal& out) {
    if (tok_.kind != token::integer) {
      fail("an integer");
      return false;
    }
    if (!literal_fits(f.type, tok_.num)) {
      fail_here("the value is outside the values of " + std::string(to_string(f.type)));
      return false;
    }
    out = tok_.num;
    advance();
    return true;
  }

  result<schema, schema_error> finish() {
    // Declaration tables over the parsed text, so the text form goes through
    // the same check and the same build as a C++ declaration.
    std::vector<record_decl> recs;
    recs.reserve(records_.size());
    for (auto& r : records_) {
      r.decls.reserve(r.fields.size());
      for (auto& f : r.fields) {
        field_decl d{};
        d.name = f.name;
        d.type = f.type;
        d.is_list = f.is_list;
        d.list_max = f.list_max;
        d.wildcard_ok = f.wildcard;
        d.has_range = f.has_range;
        d.min = f.min;
        d.max = f.max;
        d.max_length = f.max_length;
        if (!f.allowed_s.empty()) {
          d.allowed_signed = f.allowed_s.data();
          d.allowed_count = f.allowed_s.size();
        } else if (!f.allowed_u.empty()) {
          d.allowed_unsigned = f.allowed_u.data();
          d.allowed_count = f.allowed_u.size();
        } else if (!f.allowed_str.empty()) {
          f.allowed_str_views.assign(f.allowed_str.begin(), f.allowed_str.end());
          d.allowed_strings = f.allowed_str_views.data();
          d.allowed_count = f.allowed_str_views.size();
        }
        if (!f.enums.empty()) {
          for (std::size_t i = 0; i < f.enums.size(); ++i) f.enums[i].name = f.enum_names[i];
          d.enum_values = f.enums.data();
          d.enum_count = f.enums.size();
        }
        r.decls.push_back(d);
      }
      recs.emplace_back(r.type_id, std::string_view(r.name), r.decls.data(), r.decls.size());
    }
    const schema_decl decl(id_, version_, recs.data(), recs.size());
    const decl_issue is = check_decl(decl);
    if (!is.ok()) {
      text_pos at = id_pos_;
      if (is.record < records_.size()) {
        const owned_record& r = records_[is.record];
        at = r.pos;
        if (is.field < r.fields.size()) {
          const owned_field& f = r.fields[is.field];
          at = f.pos;
          if (is.value < f.value_pos.size()) at = f.value_pos[is.value];
        }
      } else if (records_.empty()) {
        at = tok_.pos;
      }
      return make(at, is.what);
    }
    return schema::from_decl(decl);
  }

  text_lexer lex_;
  token tok_;
  schema_error err_;
  std::string id_;
  text_pos id_pos_{};
  std::uint32_t version_ = 0;
  std::vector<owned_record> records_;
};

// ----- records text -----

class records_compiler {
 public:
  records_compiler(const schema& s, std::string_view text, const validate_limits& limits)
      : s_(s), lex_(text, true), limits_(limits), w_(s.id().empty() ? std::string_view("-") : s.id(), s.version()) {
    advance();
  }

  result<std::vector<std::uint8_t>, records_error> run(std::size_t text_size) {
    if (!s_.rep() || s_.record_type_count() == 0) return make(errc::schema_mismatch, {1, 1}, "the schema is empty");
    if (static_cast<std::uint64_t>(text_size) > limits_.max_bytes)
      return make(errc::too_large, {1, 1},
                  "the text's " + std::to_string(text_size) + " bytes exceed the limit of " +
                      std::to_string(limits_.max_bytes));
    while (tok_.kind != token::end) {
      if (tok_.kind == token::newline) {
        advance();
        continue;
      }
      if (!line()) return err_;
    }
    std::vector<std::uint8_t> out = w_.finish();
    // The compiled bytes must pass the validator the content will meet.
    auto v = validate(s_, out, limits_);
    if (!v) return make(v.error().code, {0, 0}, "compiled records fail validation: " + v.error().message);
    return out;
  }

 private:
  void advance() { tok_ = lex_.next(); }
  records_error make(errc code, text_pos at, std::string msg) {
    records_error e;
    e.code = code;
    e.line = at.line;
    e.column = at.column;
    e.message = std::move(msg);
    return e;
  }
  bool fail(errc code, std::string msg) {
    err_ = make(code, tok_.pos, std::move(msg));
    return false;
  }
  bool syntax(const char* wanted) {
    if (tok_.kind == token::bad) return fail(errc::records_syntax, tok_.error);
    return fail(errc::records_syntax, std::string("expected ") + wanted + ", found " + token_desc(tok_));
  }
  bool at_line_end() const { return tok_.kind == token::newline || tok_.kind == token::end; }
  bool starts_value() const {
    switch (tok_.kind) {
      case token::integer:
      case token::ident:
      case token::string:
      case token::hexstring:
        return true;
      case token::punct:
        return tok_.p == '*' || tok_.p == '[';
      default:
        return false;
    }
  }

  bool line() {
    if (tok_.kind != token::ident) return syntax("a record type name");
    if (w_.record_count() >= limits_.max_records)
      return fail(errc::too_many_records, "more than " + std::to_string(limits_.max_records) + " records");
    const record_spec* r = s_.find(tok_.text);
    if (!r)
      return fail(errc::unknown_record_type,
                  "the schema declares no record type '" + std::string(tok_.text.substr(0, 64)) + "'");
    advance();
    if (tok_.kind != token::punct || tok_.p != ':') return syntax("':' after the record type");
    advance();
    w_.begin_record(r->type_id);
    std::size_t k = 0;
    if (!at_line_end()) {
      while (true) {
        // "r: 1,, 2", "r: 1, 2,", "r: , 1" and "r: (1)" are malformed text,
        // whatever the record type declares.
        if (!starts_value()) return syntax("a value");
        if (k >= r->fields.size())
          return fail(errc::field_count_mismatch,
                      "record type " + r->name + " declares " + std::to_string(r->fields.size()) +
                          " fields; field " + std::to_string(k) + " is one too many");
        if (!value(r->fields[k])) return false;
        ++k;
        if (at_line_end()) break;
        if (tok_.kind != token::punct || tok_.p != ',') return syntax("',' or the end of the line");
        advance();
      }
    }
    if (k < r->fields.size())
      return fail(errc::field_count_mismatch,
                  "record type " + r->name + " declares " + std::to_string(r->fields.size()) + " fields, the line has " +
                      std::to_string(k) + "; field " + std::to_string(k) + " (" + r->fields[k].name + ") is missing");
    if (w_.size() > payload_format::max_payload) return fail(errc::too_large, "the compiled payload exceeds 4 GiB");
    w_.end_record();
    return true;
  }

  bool value(const field_spec& f) {
    const std::string fname = "field " + f.name + " (" + type_label(f) + ")";
    if (tok_.kind == token::punct && tok_.p == '*') {
      if (!f.wildcard_ok) return fail(errc::wildcard_not_allowed, fname + " does not allow a wildcard");
      w_.add_wildcard();
      advance();
      return true;
    }
    if (tok_.kind == token::bad) return syntax("a value");
    if (f.is_list) return list(f, fname);
    if (tok_.kind == token::punct && tok_.p == '[')
      return fail(errc::field_type_mismatch, fname + " is not a list, found '['");
    return scalar(f, fname);
  }

  // [ value, value, ... ] on one line: 0 to list_max elements of the
  // element type, none a wildcard.
  bool list(const field_spec& f, const std::string& fname) {
    if (tok_.kind != token::punct || tok_.p != '[')
      return fail(errc::field_type_mismatch, fname + " takes a list [ ... ], found " + token_desc(tok_));
    advance();
    w_.begin_list();
    std::size_t n = 0;
    if (tok_.kind == token::punct && tok_.p == ']') {
      advance();
      w_.end_list();
      return true;
    }
    while (true) {
      if (tok_.kind == token::punct && tok_.p == '*')
        return fail(errc::wildcard_not_allowed, fname + ": a list element is never a wildcard");
      if (!starts_value() || (tok_.kind == token::punct && tok_.p == '[')) return syntax("a list element");
      if (n >= f.list_max)
        return fail(errc::field_too_long,
                    fname + ": more than its maximum of " + std::to_string(f.list_max) + " elements");
      if (!scalar(f, fname + " element " + std::to_string(n))) return false;
      ++n;
      if (tok_.kind == token::punct && tok_.p == ']') {
        advance();
        break;
      }
      if (tok_.kind != token::punct || tok_.p != ',') return syntax("',' or ']'");
      advance();
    }
    w_.end_list();
    return true;
  }

  // One value of f's (element) type.
  bool scalar(const field_spec& f, const std::string& fname) {
    if (tok_.kind == token::bad) return syntax("a value");
    switch (f.type) {
      case field_type::boolean:
        if (tok_.kind == token::ident && (tok_.text == "true" || tok_.text == "false")) {
          w_.add_bool(tok_.text == "true");
          advance();
          return true;
        }
        return fail(errc::field_type_mismatch, fname + " takes true or false, found " + token_desc(tok_));
      case field_type::enumeration: {
        if (tok_.kind == token::ident) {
          for (const auto& e : f.enum_values)
            if (e.name == tok_.text) {
              w_.add_enum(e.code);
              advance();
              return true;
            }
          return fail(errc::value_not_allowed, fname + " has no value named " + token_desc(tok_));
        }
        if (tok_.kind == token::integer) {
          if (tok_.num.negative || tok_.num.magnitude > 0xFFFFFFFFu ||
              !std::binary_search(f.allowed.begin(), f.allowed.end(), tok_.num.magnitude))
            return fail(errc::value_not_allowed, fname + ": " + token_desc(tok_) + " is not a code of the enum");
          w_.add_enum(static_cast<std::uint32_t>(tok_.num.magnitude));
          advance();
          return true;
        }
        return fail(errc::field_type_mismatch, fname + " takes a value name, found " + token_desc(tok_));
      }
      case field_type::string:
      case field_type::bytes: {
        const bool ok_kind = tok_.kind == token::string || (f.type == field_type::bytes && tok_.kind == token::hexstring);
        if (!ok_kind)
          return fail(errc::field_type_mismatch,
                      fname + (f.type == field_type::string ? " takes a quoted string" : " takes x\"hex\" or a quoted string") +
                          ", found " + token_desc(tok_));
        if (tok_.str.size() > f.max_length)
          return fail(errc::field_too_long, fname + ": " + std::to_string(tok_.str.size()) +
                                                " bytes exceed the maximum of " + std::to_string(f.max_length));
        if (f.type == field_type::string) {
          if (!utf8_valid(reinterpret_cast<const std::uint8_t*>(tok_.str.data()), tok_.str.size()))
            return fail(errc::invalid_utf8, fname + ": the string is not valid UTF-8");
          if (!f.allowed_strings.empty() &&
              !std::binary_search(f.allowed_strings.begin(), f.allowed_strings.end(), tok_.str))
            return fail(errc::value_not_allowed, fname + ": the string is not among the allowed values");
        }
        w_.add_blob(f.type, byte_view(std::string_view(tok_.str)));
        advance();
        return true;
      }
      default: {
        if (tok_.kind != token::integer)
          return fail(errc::field_type_mismatch, fname + " takes an integer, found " + token_desc(tok_));
        const int_literal v = tok_.num;
        const std::uint64_t b = biased(f.type, v);
        if (!literal_fits(f.type, v) || b < f.biased_min || b > f.biased_max)
          return fail(errc::field_out_of_range, fname + ": " + literal_text(v) + " is outside " +
                                                    literal_text(f.min_value()) + ".." + literal_text(f.max_value()));
        if (!f.allowed.empty() && !std::binary_search(f.allowed.begin(), f.allowed.end(), b))
          return fail(errc::value_not_allowed, fname + ": " + literal_text(v) + " is not among the allowed values");
        w_.add(f.type, v.negative ? std::uint64_t{0} - v.magnitude : v.magnitude);
        advance();
        return true;
      }
    }
  }

  const schema& s_;
  text_lexer lex_;
  validate_limits limits_;
  payload_writer w_;
  token tok_;
  records_error err_;
};

}  // namespace detail

SLOTGUARD_DECL result<schema, schema_error> parse_schema_text(std::string_view text) {
  if (text.size() > schema_limits::max_text_size) {
    schema_error e;
    e.code = errc::too_large;
    e.line = 1;
    e.column = 1;
    e.message = "the schema text's " + std::to_string(text.size()) + " bytes exceed the limit of 1 MiB";
    return e;
  }
  detail::schema_text_parser p(text);
  return p.parse();
}

SLOTGUARD_DECL result<schema, schema_error> schema::from_text_checked(std::string_view text, const schema_decl& d) {
  auto s = parse_schema_text(text);
  if (!s) return s.error();
  auto c = s->check_against(d);
  if (!c) return c.error();
  return s;
}

SLOTGUARD_DECL result<std::vector<std::uint8_t>, records_error> compile_records_text(const schema& s, std::string_view text,
                                                                             const validate_limits& limits) {
  if (static_cast<std::uint64_t>(text.size()) > limits.max_bytes) {
    records_error e;
    e.code = errc::too_large;
    e.line = 1;
    e.column = 1;
    e.message = "the records text's " + std::to_string(text.size()) + " bytes exceed the limit of " +
                std::to_string(limits.max_bytes);
    return e;
  }
  detail::records_compiler c(s, text, limits);
  return c.run(text.size());
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_SCHEMA_TEXT_HPP
