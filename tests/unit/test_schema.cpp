// SPDX-License-Identifier: Apache-2.0
// Tests of schema.hpp: declarations (C++ and text), the payload encoding,
// validate() and its errors, the typed views, and content_check.
#include <slotguard/schema.hpp>

#include <catch2/catch.hpp>

#include "../edr_schema.hpp"
#include "support.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace sg = slotguard;

namespace {

// ---------------------------------------------------------------------------
// The test schema in C++ (tests/edr_schema.hpp): the same declaration as
// tests/data/schema/edr.schema.
// ---------------------------------------------------------------------------
using namespace edr_test;  // kActions ... kTemplateInput: tests/edr_schema.hpp
constexpr sg::record_decl kEdrRecords[] = {kProcessRule, kNetRule, kTemplateInput};
constexpr sg::schema_decl kEdrDecl{"edr.rules", 3, kEdrRecords};
// tests/data/schema/edr.schema is export_schema_text(kEdrDecl, kEdrNote): a
// test checks it. process_rule has every field type, each with a range or a
// length, some with wildcards; net_rule has allowed-value sets for integers
// and strings and an enum with large codes; template_input is an
// interpreter template with 20 inputs, the shape of the 2024 failure, where
// content carried a 21st field the sensor never supplied.
constexpr std::string_view kEdrNote =
    "The schema of the schema tests, the tool's tests, the fuzz targets and the benchmark:\n"
    "kEdrDecl in tests/unit/test_schema.cpp.";

// What the host's interpreter supplies: tied to the declaration at compile time.
constexpr std::size_t kInterpreterInputs = 20;
static_assert(kEdrDecl.record(2).field_count() == kInterpreterInputs, "template and interpreter disagree");
static_assert(sg::field_count_v<kTemplateInput> == kInterpreterInputs, "template and interpreter disagree");
static_assert(sg::check_decl(kEdrDecl).ok(), "the test declaration is valid");

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
std::string data_path(const char* name) { return std::string(SLOTGUARD_TEST_DATA_DIR) + "/schema/" + name; }

const sg::schema& decl_schema() {
  static const sg::schema s = [] {
    auto r = sg::schema::from_decl(kEdrDecl);
    REQUIRE(r.has_value());
    return *r;
  }();
  return s;
}
const sg::schema& text_schema() {
  static const sg::schema s = [] {
    auto r = sg::parse_schema_text(read_file(data_path("edr.schema")));
    if (!r) FAIL(r.error().line << ":" << r.error().column << " " << r.error().message);
    return *r;
  }();
  return s;
}

std::uint64_t to_bits(sg::detail::int_literal v) { return v.negative ? std::uint64_t{0} - v.magnitude : v.magnitude; }
std::string lit_text(sg::detail::int_literal v) { return sg::detail::literal_text(v); }
sg::detail::int_literal lit_from_biased(const sg::field_spec& f, std::uint64_t b) { return sg::detail::unbias(f.type, b); }

// The value a field is given when a test needs a real (non-wildcard) one:
// variant 0 picks the lowest (or first) valid value, variant 1 the highest
// (or last, or longest).
struct sample {
  sg::field_type type = sg::field_type::u8;
  std::uint64_t bits = 0;  // integers (two's complement), bool, enum code
  std::string data;        // string and bytes
};
sample valid_sample(const sg::field_spec& f, int variant) {
  sample s;
  s.type = f.type;
  switch (f.type) {
    case sg::field_type::boolean:
      s.bits = variant ? 1 : 0;
      break;
    case sg::field_type::enumeration:
      s.bits = variant ? f.enum_values.back().code : f.enum_values.front().code;
      break;
    case sg::field_type::string:
      if (!f.allowed_strings.empty())
        s.data = variant ? f.allowed_strings.back() : f.allowed_strings.front();
      else
        s.data = std::string(variant ? f.max_length : std::min<std::uint32_t>(f.max_length, 3u), 's');
      break;
    case sg::field_type::bytes:
      s.data = std::string(variant ? f.max_length : std::min<std::uint32_t>(f.max_length, 2u), '\xA5');
      break;
    default: {
      std::uint64_t b = variant ? f.biased_max : f.biased_min;
      if (!f.allowed.empty()) b = variant ? f.allowed.back() : f.allowed.front();
      s.bits = to_bits(lit_from_biased(f, b));
      break;
    }
  }
  return s;
}
void write_sample(sg::payload_writer& w, const sample& s) {
  if (s.type == sg::field_type::string || s.type == sg::field_type::bytes)
    w.add_blob(s.type, sg::byte_view(std::string_view(s.data)));
  else
    w.add(s.type, s.bits);
}
std::string hex_of(const std::string& d) {
  return sg::to_hex(sg::byte_view(std::string_view(d)));
}
std::string sample_text(const sg::field_spec& f, const sample& s) {
  switch (f.type) {
    case sg::field_type::boolean: return s.bits ? "true" : "false";
    case sg::field_type::enumeration: return std::string(f.enum_name(static_cast<std::uint32_t>(s.bits)));
    case sg::field_type::string: return sg::detail::quote_text(s.data);
    case sg::field_type::bytes: return "x\"" + hex_of(s.data) + "\"";
    default: {
      const bool neg = sg::is_signed_integer(f.type) && (s.bits >> 63) != 0;
      return neg ? "-" + std::to_string(std::uint64_t{0} - s.bits) : std::to_string(s.bits);
    }
  }
}

// A record of type r with every field valid (variant), except that field k
// (if k < count) is written by `special`.
template <class F>
void write_record(sg::payload_writer& w, const sg::record_spec& r, int variant, std::size_t k, F&& special) {
  w.begin_record(r.type_id);
  for (std::size_t i = 0; i < r.fields.size(); ++i) {
    if (i == k)
      special(w);
    else
      write_sample(w, valid_sample(r.fields[i], variant));
  }
  w.end_record();
}
void write_valid_record(sg::payload_writer& w, const sg::record_spec& r, int variant) {
  write_record(w, r, variant, static_cast<std::size_t>(-1), [](sg::payload_writer&) {});
}
// A records text line for r, with field k's text replaced by `special`.
// column_of_k receives the 1-based column where field k's text starts.
std::string record_line(const sg::record_spec& r, int variant, std::size_t k = static_cast<std::size_t>(-1),
                        const std::string& special = "", std::size_t* column_of_k = nullptr) {
  std::string line = r.name + ":";
  for (std::size_t i = 0; i < r.fields.size(); ++i) {
    line += i ? ", " : " ";
    if (i == k && column_of_k) *column_of_k = line.size() + 1;
    line += i == k ? special : sample_text(r.fields[i], valid_sample(r.fields[i], variant));
  }
  return line;
}

// Two valid records of the other types first, so that errors must name
// record index 2.
sg::payload_writer writer_with_prefix(const sg::schema& s, const sg::record_spec& r) {
  sg::payload_writer w(s.id(), s.version());
  for (std::size_t t = 0, n = 0; t < s.record_type_count() && n < 2; ++t) {
    if (s.record_type(t).type_id == r.type_id) continue;
    write_valid_record(w, s.record_type(t), 1);
    ++n;
  }
  return w;
}
std::string text_prefix(const sg::schema& s, const sg::record_spec& r) {
  std::string t = "# two valid records first\n";
  for (std::size_t i = 0, n = 0; i < s.record_type_count() && n < 2; ++i) {
    if (s.record_type(i).type_id == r.type_id) continue;
    t += record_line(s.record_type(i), 1) + "\n";
    ++n;
  }
  return t;  // the line under test is line 4
}

struct outcome {
  sg::errc code = sg::errc::ok;
  std::size_t record = sg::validation_error::npos;
  std::size_t field = sg::validation_error::npos;
  std::string message;
};
outcome check(const sg::schema& s, const std::vector<std::uint8_t>& bytes, const sg::validate_limits& lim = {}) {
  auto v = sg::validate(s, bytes, lim);
  outcome o;
  if (!v) {
    o.code = v.error().code;
    o.record = v.error().record;
    o.field = v.error().field;
    o.message = v.error().message;
  }
  return o;
}

// The records text compiled against s, or the error's code.
sg::errc compile_code(const sg::schema& s, const std::string& text) {
  auto r = sg::compile_records_text(s, text);
  return r ? sg::errc::ok : r.error().code;
}

}  // namespace

// ---------------------------------------------------------------------------
// The 21/20 case
// ---------------------------------------------------------------------------

TEST_CASE("a 20-field template rejects content with 21 or 19 fields", "[schema.field_count]") {
  for (const sg::schema* s : {&decl_schema(), &text_schema()}) {
    const sg::record_spec* t = s->find(291);
    REQUIRE(t != nullptr);
    REQUIRE(t->field_count() == 20);

    auto payload_with = [&](std::size_t fields, bool last_wildcard) {
      sg::payload_writer w(s->id(), s->version());
      write_valid_record(w, *t, 0);  // record 0 is fine
      w.begin_record(291);           // record 1 is not
      for (std::size_t i = 0; i < std::min<std::size_t>(fields, 20); ++i)
        write_sample(w, valid_sample(t->fields[i], 1));
      if (fields == 21) {
        if (last_wildcard)
          w.add_wildcard();
        else
          w.add_u32(7);
      }
      return w.finish();
    };

    {  // 21 fields, the 21st a wildcard
      const outcome o = check(*s, payload_with(21, true));
      CHECK(o.code == sg::errc::field_count_mismatch);
      CHECK(o.record == 1);
      CHECK(o.field == 20);
      CHECK(o.message.find("has 21 fields, its type declares 20") != std::string::npos);
    }
    {  // 21 fields, the 21st a real value
      const outcome o = check(*s, payload_with(21, false));
      CHECK(o.code == sg::errc::field_count_mismatch);
      CHECK(o.record == 1);
      CHECK(o.field == 20);
    }
    {  // 19 fields
      const outcome o = check(*s, payload_with(19, false));
      CHECK(o.code == sg::errc::field_count_mismatch);
      CHECK(o.record == 1);
      CHECK(o.field == 19);
      CHECK(o.message.find("field 19 (f19: u32) is missing") != std::string::npos);
    }
    {  // exactly 20 real values passes
      CHECK(check(*s, payload_with(20, false)).code == sg::errc::ok);
    }
  }
}

TEST_CASE("a record whose count says 20 but whose bytes hold a 21st field is rejected",
          "[schema.field_count]") {
  const sg::schema& s = decl_schema();
  const sg::record_spec& t = *s.find(291);
  // The 21st field's bytes inside the record's stated length, count 20.
  sg::payload_writer w(s.id(), s.version());
  w.begin_record(291);
  for (std::size_t i = 0; i < 20; ++i) write_sample(w, valid_sample(t.fields[i], 0));
  const std::uint8_t extra[] = {3, 7, 0, 0, 0};  // u32 7
  w.add_raw_field(sg::byte_view(extra, sizeof extra));
  w.end_record();
  std::vector<std::uint8_t> p = w.finish();
  // The writer counted 21; state 20 as a producer that miscounts would.
  const std::size_t rec = sg::payload_format::header_size + s.id().size();
  REQUIRE(sg::detail::load_le16(p.data() + rec + 2) == 21);
  sg::detail::store_le16(p.data() + rec + 2, 20);
  const outcome o = check(s, p);
  CHECK(o.code == sg::errc::trailing_bytes);
  CHECK(o.record == 0);
  CHECK(o.field == 20);
}

TEST_CASE("the records text names the line and column of a 21st or missing 20th value",
          "[schema.field_count][schema.records_text]") {
  const sg::schema& s = text_schema();
  const sg::record_spec& t = *s.find(291);
  std::string line20 = record_line(t, 0);
  auto r = sg::compile_records_text(s, "# header\n" + line20 + "\n");
  REQUIRE(r.has_value());

  const std::string line21 = line20 + ", *";
  auto e21 = sg::compile_records_text(s, "# header\n" + line21 + "\n");
  REQUIRE_FALSE(e21.has_value());
  CHECK(e21.error().code == sg::errc::field_count_mismatch);
  CHECK(e21.error().line == 2);
  CHECK(e21.error().column == line21.size());  // the '*'

  const std::string line21v = line20 + ", 5";
  auto e21v = sg::compile_records_text(s, line21v);
  REQUIRE_FALSE(e21v.has_value());
  CHECK(e21v.error().code == sg::errc::field_count_mismatch);
  CHECK(e21v.error().line == 1);
  CHECK(e21v.error().column == line21v.size());

  const std::string line19 = line20.substr(0, line20.rfind(','));
  auto e19 = sg::compile_records_text(s, line19 + "\n");
  REQUIRE_FALSE(e19.has_value());
  CHECK(e19.error().code == sg::errc::field_count_mismatch);
  CHECK(e19.error().line == 1);
  CHECK(e19.error().column == line19.size() + 1);  // the end of the line
  CHECK(e19.error().message.find("field 19 (f19) is missing") != std::string::npos);
}

// ---------------------------------------------------------------------------
// Real values in every field, and every constraint's boundaries
// ---------------------------------------------------------------------------

TEST_CASE("a real value in every field of every record type validates and reads back",
          "[schema.values]") {
  for (const sg::schema* s : {&decl_schema(), &text_schema()}) {
    for (std::size_t t = 0; t < s->record_type_count(); ++t) {
      const sg::record_spec& r = s->record_type(t);
      for (int variant = 0; variant < 2; ++variant) {
        INFO("record type " << r.name << " variant " << variant);
        sg::payload_writer w(s->id(), s->version());
        write_valid_record(w, r, variant);
        const std::vector<std::uint8_t> bin = w.finish();
        auto v = sg::validate(*s, bin);
        if (!v) FAIL(v.error().message);
        REQUIRE(v->record_count() == 1);
        const sg::record_view rec = v->record(0);
        REQUIRE(rec.type_id() == r.type_id);
        for (std::size_t k = 0; k < r.fields.size(); ++k) {
          INFO("field " << k);
          const sample want = valid_sample(r.fields[k], variant);
          auto f = rec.field(k);
          REQUIRE(f.has_value());
          CHECK_FALSE(f->wildcard);
          CHECK(f->type == r.fields[k].type);
          if (want.type == sg::field_type::string || want.type == sg::field_type::bytes)
            CHECK(std::string(f->data.as_chars()) == want.data);
          else
            CHECK(f->bits == want.bits);
        }
        // The same record through the text form compiles to the same bytes.
        auto text = sg::compile_records_text(*s, record_line(r, variant) + "\n");
        if (!text) FAIL(text.error().message);
        CHECK(*text == bin);
      }
    }
  }
}

TEST_CASE("every constraint is checked on both sides of its boundaries", "[schema.bounds]") {
  const sg::schema& s = decl_schema();
  std::size_t cases = 0;
  for (std::size_t t = 0; t < s.record_type_count(); ++t) {
    const sg::record_spec& r = s.record_type(t);
    for (std::size_t k = 0; k < r.fields.size(); ++k) {
      const sg::field_spec& f = r.fields[k];
      INFO("record type " << r.name << " field " << k << " (" << f.name << ")");
      // Binary: field k of record 2 written by `put`; expect `want`.
      auto expect_bin = [&](sg::errc want, auto put) {
        sg::payload_writer w = writer_with_prefix(s, r);
        write_record(w, r, 0, k, put);
        const outcome o = check(s, w.finish());
        CHECK(o.code == want);
        if (want != sg::errc::ok) {
          CHECK(o.record == 2);
          CHECK(o.field == k);
        }
        ++cases;
      };
      // Text: field k of the record on line 4 spelled `value`.
      auto expect_text = [&](sg::errc want, const std::string& value) {
        const std::string prefix = text_prefix(s, r);
        std::size_t column = 0;
        const std::string line = record_line(r, 0, k, value, &column);
        auto c = sg::compile_records_text(s, prefix + line + "\n");
        INFO("line: " << line);
        CHECK((c ? sg::errc::ok : c.error().code) == want);
        if (!c) {
          CHECK(c.error().line == 4);
          CHECK(c.error().column == column);
        }
        ++cases;
      };
      auto put_bits = [&](sg::field_type ty, std::uint64_t b) {
        return [ty, b](sg::payload_writer& w) { w.add(ty, b); };
      };
      auto put_blob = [&](sg::field_type ty, const std::string& d) {
        return [ty, d](sg::payload_writer& w) { w.add_blob(ty, sg::byte_view(std::string_view(d))); };
      };

      // Wildcards: only where declared.
      const sg::errc wild = f.wildcard_ok ? sg::errc::ok : sg::errc::wildcard_not_allowed;
      expect_bin(wild, [](sg::payload_writer& w) { w.add_wildcard(); });
      expect_text(wild, "*");

      // A value encoded as another type, and a tag that is no type at all.
      const sg::field_type other = f.type == sg::field_type::u32 ? sg::field_type::u16 : sg::field_type::u32;
      expect_bin(sg::errc::field_type_mismatch, put_bits(other, 1));
      expect_bin(sg::errc::field_type_mismatch, [](sg::payload_writer& w) {
        const std::uint8_t raw[] = {13, 0, 0, 0, 0};
        w.add_raw_field(sg::byte_view(raw, sizeof raw));
      });

      if (sg::is_integer(f.type)) {
        const std::uint64_t tmin = sg::detail::biased_min(f.type), tmax = sg::detail::biased_max(f.type);
        std::set<std::uint64_t> allowed(f.allowed.begin(), f.allowed.end());
        auto is_allowed = [&](std::uint64_t b) { return allowed.empty() || allowed.count(b) != 0; };
        // Candidates around each bound and each allowed value.
        std::set<std::uint64_t> around = {f.biased_min, f.biased_max};
        for (std::uint64_t a : f.allowed) around.insert(a);
        for (std::uint64_t b : std::set<std::uint64_t>(around)) {
          if (b > 0) around.insert(b - 1);
          if (b < ~std::uint64_t{0}) around.insert(b + 1);
        }
        for (std::uint64_t b : around) {
          const sg::detail::int_literal lit = lit_from_biased(f, b);
          const bool in_type = b >= tmin && b <= tmax;
          sg::errc want = sg::errc::ok;
          if (b < f.biased_min || b > f.biased_max)
            want = sg::errc::field_out_of_range;
          else if (!is_allowed(b))
            want = sg::errc::value_not_allowed;
          // In the binary form only values the type's width can hold exist.
          if (in_type) expect_bin(want, put_bits(f.type, to_bits(lit)));
          // The text form also meets values beyond the type (min-1 of i8 is -129).
          sg::detail::int_literal text_lit = lit;
          if (!in_type) {
            // b is beyond the type in biased order; spell the integer one past the type's end.
            const bool below = b < tmin;
            const sg::detail::int_literal edge = lit_from_biased(f, below ? tmin : tmax);
            if (below) {
              text_lit = edge.negative ? sg::detail::int_literal{true, edge.magnitude + 1}
                                       : sg::detail::int_literal{true, 1};
            } else {
              if (edge.magnitude == ~std::uint64_t{0}) continue;  // 2^64 cannot be written
              text_lit = sg::detail::int_literal{false, edge.magnitude + 1};
            }
            want = sg::errc::field_out_of_range;
          }
          expect_text(want, lit_text(text_lit));
        }
      } else if (f.type == sg::field_type::boolean) {
        expect_bin(sg::errc::ok, put_bits(f.type, 0));
        expect_bin(sg::errc::ok, put_bits(f.type, 1));
        expect_bin(sg::errc::field_type_mismatch, put_bits(f.type, 2));
        expect_bin(sg::errc::field_type_mismatch, put_bits(f.type, 255));
        expect_text(sg::errc::ok, "true");
        expect_text(sg::errc::ok, "false");
        expect_text(sg::errc::field_type_mismatch, "1");
      } else if (f.type == sg::field_type::enumeration) {
        std::set<std::uint64_t> codes(f.allowed.begin(), f.allowed.end());
        for (const auto& e : f.enum_values) {
          expect_bin(sg::errc::ok, put_bits(f.type, e.code));
          expect_text(sg::errc::ok, e.name);
          expect_text(sg::errc::ok, std::to_string(e.code));
          for (std::uint64_t c : {std::uint64_t{e.code} - 1, std::uint64_t{e.code} + 1}) {
            if (codes.count(c) || c > 0xFFFFFFFFu) continue;
            expect_bin(sg::errc::value_not_allowed, put_bits(f.type, c));
            expect_text(sg::errc::value_not_allowed, std::to_string(c));
          }
        }
        expect_bin(sg::errc::value_not_allowed, put_bits(f.type, 0xFFFFFFFFu));
        expect_text(sg::errc::value_not_allowed, "no_such_value");
      } else {
        const bool str = f.type == sg::field_type::string;
        const char fill = str ? 'q' : '\x5A';
        if (!f.allowed_strings.empty()) {
          for (const auto& a : f.allowed_strings) {
            expect_bin(sg::errc::ok, put_blob(f.type, a));
            expect_text(sg::errc::ok, sg::detail::quote_text(a));
            expect_bin(sg::errc::value_not_allowed, put_blob(f.type, a.substr(1)));
            expect_text(sg::errc::value_not_allowed, sg::detail::quote_text(a.substr(1)));
          }
        } else {
          const std::string at_max(f.max_length, fill);
          const std::string empty;
          expect_bin(sg::errc::ok, put_blob(f.type, at_max));
          expect_bin(sg::errc::ok, put_blob(f.type, empty));
          expect_text(sg::errc::ok, str ? sg::detail::quote_text(at_max) : "x\"" + hex_of(at_max) + "\"");
          expect_text(sg::errc::ok, str ? "\"\"" : "x\"\"");
        }
        const std::string over(f.max_length + 1u, fill);
        expect_bin(sg::errc::field_too_long, put_blob(f.type, over));
        expect_text(sg::errc::field_too_long, str ? sg::detail::quote_text(over) : "x\"" + hex_of(over) + "\"");
        if (str) {
          expect_bin(sg::errc::invalid_utf8, put_blob(f.type, std::string("\xC3", 1)));
          expect_text(sg::errc::invalid_utf8, "\"\\xff\"");
          expect_text(sg::errc::field_type_mismatch, "x\"41\"");
        }
        expect_text(sg::errc::field_type_mismatch, "12");
      }
    }
  }
  CHECK(cases > 400);
}

TEST_CASE("hand-picked boundaries of the test schema", "[schema.bounds]") {
  // Not derived from the runtime schema, so a wrong build of the ranges
  // cannot hide behind the generic test above.
  const sg::schema& s = decl_schema();
  const sg::record_spec& pr = *s.find(1);
  const sg::record_spec& nr = *s.find(2);
  auto line = [&](const sg::record_spec& r, std::size_t k, const std::string& v) { return record_line(r, 0, k, v); };
  CHECK(compile_code(s, line(pr, 0, "0")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(pr, 0, "1")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 0, "5")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 0, "6")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(pr, 4, "-21")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(pr, 4, "-20")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 4, "19")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 4, "20")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(pr, 7, "-9223372036854775808")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 7, "-9223372036854775809")) == sg::errc::records_syntax);  // beyond 64 bits
  CHECK(compile_code(s, line(pr, 7, "9223372036854775807")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 7, "9223372036854775808")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(pr, 9, "\"0123456789abcdef\"")) == sg::errc::ok);
  CHECK(compile_code(s, line(pr, 9, "\"0123456789abcdefg\"")) == sg::errc::field_too_long);
  CHECK(compile_code(s, line(pr, 9, "\"\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\"")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 6, "18446744073709551599")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(nr, 6, "18446744073709551600")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 6, "0xFFFFFFFFFFFFFFFF")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 7, "-128")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 7, "-129")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(nr, 7, "127")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 7, "128")) == sg::errc::field_out_of_range);
  CHECK(compile_code(s, line(nr, 0, "7")) == sg::errc::value_not_allowed);
  CHECK(compile_code(s, line(nr, 2, "2")) == sg::errc::value_not_allowed);
  CHECK(compile_code(s, line(nr, 2, "-1")) == sg::errc::ok);
  CHECK(compile_code(s, line(nr, 3, "\"example.net\"")) == sg::errc::value_not_allowed);
  CHECK(compile_code(s, line(nr, 5, "150")) == sg::errc::value_not_allowed);
  CHECK(compile_code(s, line(nr, 5, "200")) == sg::errc::ok);
}

TEST_CASE("utf8_decode gives back every code point, and nothing else", "[schema.utf8]") {
  // Encodes by RFC 3629's table, independently of the decoder.
  auto encode = [](std::uint32_t cp, std::uint8_t* out) -> std::size_t {
    if (cp < 0x80) {
      out[0] = static_cast<std::uint8_t>(cp);
      return 1;
    }
    if (cp < 0x800) {
      out[0] = static_cast<std::uint8_t>(0xC0 | (cp >> 6));
      out[1] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
      return 2;
    }
    if (cp < 0x10000) {
      out[0] = static_cast<std::uint8_t>(0xE0 | (cp >> 12));
      out[1] = static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      out[2] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
      return 3;
    }
    out[0] = static_cast<std::uint8_t>(0xF0 | (cp >> 18));
    out[1] = static_cast<std::uint8_t>(0x80 | ((cp >> 12) & 0x3F));
    out[2] = static_cast<std::uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    out[3] = static_cast<std::uint8_t>(0x80 | (cp & 0x3F));
    return 4;
  };
  std::uint8_t buf[6] = {};
  std::size_t wrong = 0;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::size_t n = encode(cp, buf + 1);
    buf[0] = 'x';
    std::uint32_t got = 0xFFFFFFFF;
    std::size_t len = 0;
    const bool ok = sg::detail::utf8_decode(buf, n + 1, 1, got, len);
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    if (ok != !surrogate || (ok && (got != cp || len != n))) ++wrong;
    // Cut short by a byte, no sequence of more than one byte decodes.
    if (n > 1 && sg::detail::utf8_decode(buf, n, 1, got, len)) ++wrong;
  }
  CHECK(wrong == 0);
  // Overlong forms, a continuation byte first, past U+10FFFF, bad bytes.
  for (const auto& bad : std::vector<std::vector<std::uint8_t>>{{0xC0, 0x80},
                                                                {0xC1, 0xBF},
                                                                {0xE0, 0x80, 0x80},
                                                                {0xE0, 0x9F, 0xBF},
                                                                {0xF0, 0x8F, 0xBF, 0xBF},
                                                                {0x80},
                                                                {0xBF, 0x41},
                                                                {0xF4, 0x90, 0x80, 0x80},
                                                                {0xF5, 0x80, 0x80, 0x80},
                                                                {0xFF},
                                                                {0xE2, 0x28, 0xA1}}) {
    std::uint32_t cp = 0;
    std::size_t len = 0;
    CHECK_FALSE(sg::detail::utf8_decode(bad.data(), bad.size(), 0, cp, len));
  }
}

TEST_CASE("UTF-8 validation accepts exactly well-formed UTF-8", "[schema.utf8]") {
  // An independent decoder as the reference: decode, then reject overlong
  // forms, surrogates and code points above U+10FFFF.
  auto reference = [](const std::uint8_t* p, std::size_t n) {
    std::size_t i = 0;
    while (i < n) {
      const unsigned c = p[i];
      std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
      if (len == 0 || i + len > n) return false;
      std::uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
      for (std::size_t k = 1; k < len; ++k) {
        if ((p[i + k] >> 6) != 2) return false;
        cp = (cp << 6) | (p[i + k] & 0x3Fu);
      }
      const std::uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
      i += len;
    }
    return true;
  };
  std::uint8_t buf[12] = {};
  std::size_t checked = 0;
  auto same = [&](std::size_t n) {
    const bool want = reference(buf, n);
    const bool fast = sg::detail::utf8_valid(buf, n);
    const bool slow = sg::detail::utf8_valid_constexpr(std::string_view(reinterpret_cast<const char*>(buf), n));
    ++checked;
    return want == fast && want == slow;
  };
  // Every sequence of 1 and 2 bytes, and of 3 bytes (a sample of lead bytes
  // in quick mode); each also after 8 ASCII bytes, to cross the fast path.
  const bool quick = slotguard_test::quick_mode();
  std::size_t bad = 0;
  for (unsigned a = 0; a < 256; ++a) {
    buf[0] = static_cast<std::uint8_t>(a);
    if (!same(1)) ++bad;
    for (unsigned b = 0; b < 256; ++b) {
      buf[1] = static_cast<std::uint8_t>(b);
      if (!same(2)) ++bad;
      if (a < 0xC0 || (quick && a % 7 != 0)) continue;
      for (unsigned c = 0; c < 256; ++c) {
        buf[2] = static_cast<std::uint8_t>(c);
        if (!same(3)) ++bad;
        if (a >= 0xF0 && (b & 0xC0) == 0x80 && (c & 0xC0) == 0x80) {
          for (unsigned d : {0x00u, 0x7Fu, 0x80u, 0xBFu, 0xC0u}) {
            buf[3] = static_cast<std::uint8_t>(d);
            if (!same(4)) ++bad;
          }
        }
      }
    }
  }
  // Behind an ASCII run the fast path must hand over at the right byte.
  const std::uint8_t samples[][4] = {{0xC3, 0xA9, 0, 0}, {0xE2, 0x82, 0xAC, 0}, {0xF0, 0x9D, 0x84, 0x9E},
                                     {0xED, 0xA0, 0x80, 0}, {0xC0, 0x80, 0, 0}, {0xF4, 0x90, 0x80, 0x80}};
  for (const auto& smp : samples) {
    for (std::size_t pre = 0; pre <= 8; ++pre) {
      std::fill(buf, buf + pre, static_cast<std::uint8_t>('a'));
      std::copy(smp, smp + 4, buf + pre);
      for (std::size_t n = pre; n <= pre + 4; ++n)
        if (!same(n)) ++bad;
    }
  }
  if (quick) WARN("quick mode: 3-byte sequences sampled");
  CHECK(bad == 0);
  CHECK(checked > 65536);
}

// ---------------------------------------------------------------------------
// Payload header and structure
// ---------------------------------------------------------------------------

TEST_CASE("the payload encoding matches its golden file", "[schema.encoding]") {
  const sg::schema& s = text_schema();
  auto bin = sg::compile_records_text(s, read_file(data_path("edr_records.txt")));
  if (!bin) FAIL(bin.error().line << ":" << bin.error().column << " " << bin.error().message);
  const std::string golden = read_file(data_path("edr_records.bin"));
  CHECK(std::string(bin->begin(), bin->end()) == golden);
  // The header, field by field (docs/SCHEMA.md, "Payload records").
  const std::vector<std::uint8_t>& b = *bin;
  REQUIRE(b.size() > 33);
  CHECK(std::string(b.begin(), b.begin() + 4) == "SGPL");
  CHECK(sg::detail::load_le16(&b[4]) == 1);
  CHECK(sg::detail::load_le16(&b[6]) == 9);
  CHECK(sg::detail::load_le32(&b[8]) == 3);
  CHECK(sg::detail::load_le32(&b[12]) == 6);
  CHECK(sg::detail::load_le64(&b[16]) == b.size() - 33);
  CHECK(std::string(b.begin() + 24, b.begin() + 33) == "edr.rules");
  // First record: type 1, 12 fields, first field u8 1, second u16 443.
  CHECK(sg::detail::load_le16(&b[33]) == 1);
  CHECK(sg::detail::load_le16(&b[35]) == 12);
  CHECK(b[41] == 1);
  CHECK(b[42] == 1);
  CHECK(b[43] == 2);
  CHECK(sg::detail::load_le16(&b[44]) == 443);
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  CHECK(v->record_count() == 6);
}

TEST_CASE("header problems each have their errc", "[schema.header]") {
  const sg::schema& s = decl_schema();
  sg::payload_writer w(s.id(), s.version());
  write_valid_record(w, *s.find(1), 0);
  write_valid_record(w, *s.find(2), 1);
  const std::vector<std::uint8_t> good = w.finish();
  REQUIRE(check(s, good).code == sg::errc::ok);

  auto with = [&](std::size_t at, std::uint8_t v) {
    auto p = good;
    p[at] = v;
    return p;
  };
  CHECK(check(s, with(0, 'X')).code == sg::errc::bad_magic);
  CHECK(check(s, with(4, 2)).code == sg::errc::unsupported_format_version);
  CHECK(check(s, with(8, 4)).code == sg::errc::schema_mismatch);   // version 4
  CHECK(check(s, with(24, 'E')).code == sg::errc::schema_mismatch);  // "Edr.rules"
  {
    sg::payload_writer other("edr.rule", 3);
    CHECK(check(s, other.finish()).code == sg::errc::schema_mismatch);
  }
  {
    auto p = good;
    sg::detail::store_le16(&p[6], 0);
    CHECK(check(s, p).code == sg::errc::bad_header);
  }
  SECTION("every strict prefix is truncated") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      const std::vector<std::uint8_t> p(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
      const outcome o = check(s, p);
      INFO("prefix of " << n << " bytes: " << o.message);
      CHECK(o.code == sg::errc::truncated);
    }
  }
  SECTION("bytes after the records") {
    auto p = good;
    p.push_back(0);
    CHECK(check(s, p).code == sg::errc::trailing_bytes);
    sg::detail::store_le64(&p[16], sg::detail::load_le64(&p[16]) + 1);  // counted in the length, not a record
    const outcome o = check(s, p);
    CHECK(o.code == sg::errc::trailing_bytes);
    CHECK(o.record == sg::validation_error::npos);
  }
  SECTION("a record count that disagrees with the records") {
    auto p = good;
    sg::detail::store_le32(&p[12], 3);
    const outcome more = check(s, p);
    CHECK(more.code == sg::errc::truncated);
    CHECK(more.record == 2);
    sg::detail::store_le32(&p[12], 1);
    CHECK(check(s, p).code == sg::errc::trailing_bytes);
    sg::detail::store_le32(&p[12], 0xFFFFFFFFu);
    CHECK(check(s, p).code == sg::errc::too_many_records);
    sg::validate_limits lim;
    lim.max_records = std::numeric_limits<std::size_t>::max();
    CHECK(check(s, p, lim).code == sg::errc::truncated);  // cannot hold them: nothing is reserved
  }
  SECTION("limits") {
    sg::validate_limits lim;
    lim.max_records = 1;
    CHECK(check(s, good, lim).code == sg::errc::too_many_records);
    lim.max_records = 2;
    CHECK(check(s, good, lim).code == sg::errc::ok);
    lim.max_bytes = good.size() - 1;
    CHECK(check(s, good, lim).code == sg::errc::too_large);
    lim.max_bytes = good.size();
    CHECK(check(s, good, lim).code == sg::errc::ok);
  }
  SECTION("an unknown record type") {
    auto p = good;
    const std::size_t second = sg::payload_format::header_size + 9 + 8 + sg::detail::load_le32(&p[33 + 4]);
    REQUIRE(sg::detail::load_le16(&p[second]) == 2);
    sg::detail::store_le16(&p[second], 3);
    const outcome o = check(s, p);
    CHECK(o.code == sg::errc::unknown_record_type);
    CHECK(o.record == 1);
    sg::detail::store_le16(&p[second], 0xFFFF);
    CHECK(check(s, p).code == sg::errc::unknown_record_type);
  }
  SECTION("a record length beyond the payload, or short of its fields") {
    auto p = good;
    sg::detail::store_le32(&p[37], 0xFFFFFFF0u);
    const outcome o = check(s, p);
    CHECK(o.code == sg::errc::truncated);
    CHECK(o.record == 0);
    p = good;
    sg::detail::store_le32(&p[37], sg::detail::load_le32(&p[37]) - 1);
    const outcome o2 = check(s, p);
    CHECK(o2.code == sg::errc::truncated);
    CHECK(o2.record == 0);
    CHECK(o2.field == 11);
  }
}

TEST_CASE("any single-byte change of a valid payload is rejected or reads back safely",
          "[schema.robustness]") {
  const sg::schema& s = decl_schema();
  sg::payload_writer w(s.id(), s.version());
  for (std::size_t t = 0; t < s.record_type_count(); ++t) write_valid_record(w, s.record_type(t), 1);
  const std::vector<std::uint8_t> good = w.finish();
  const bool quick = slotguard_test::quick_mode();
  std::size_t accepted = 0, rejected = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (unsigned v = 0; v < 256; v += quick ? 51 : 1) {
      if (good[i] == v) continue;
      auto p = good;
      p[i] = static_cast<std::uint8_t>(v);
      auto r = sg::validate(s, p);
      if (!r) {
        ++rejected;
        CHECK(r.error().code != sg::errc::ok);
        CHECK_FALSE(r.error().message.empty());
        continue;
      }
      ++accepted;
      for (std::size_t k = 0; k < r->record_count(); ++k)
        for (std::size_t f = 0; f < r->record(k).field_count(); ++f) CHECK(r->record(k).field(f).has_value());
    }
  }
  if (quick) WARN("quick mode: 6 byte values per position instead of 256");
  CHECK(rejected > 0);
  CHECK(accepted > 0);  // changes inside values that stay valid
}

// ---------------------------------------------------------------------------
// The C++ declaration and the text form agree
// ---------------------------------------------------------------------------

TEST_CASE("the C++ declaration and the text schema validate every payload alike", "[schema.equivalence]") {
  const sg::schema& d = decl_schema();
  const sg::schema& t = text_schema();
  CHECK(d.id() == t.id());
  CHECK(d.version() == t.version());
  CHECK(d.to_text() == t.to_text());
  auto round = sg::parse_schema_text(d.to_text());
  REQUIRE(round.has_value());
  CHECK(round->to_text() == d.to_text());

  std::vector<std::vector<std::uint8_t>> payloads;
  {
    auto bin = sg::compile_records_text(t, read_file(data_path("edr_records.txt")));
    REQUIRE(bin.has_value());
    payloads.push_back(*bin);
  }
  for (std::size_t r = 0; r < d.record_type_count(); ++r) {
    const sg::record_spec& rs = d.record_type(r);
    for (std::size_t k = 0; k < rs.fields.size(); ++k) {
      for (int variant = 0; variant < 2; ++variant) {
        // Each field one past its upper bound or given a wildcard.
        sg::payload_writer w(d.id(), d.version());
        write_record(w, rs, variant, k, [&](sg::payload_writer& pw) {
          const sg::field_spec& f = rs.fields[k];
          if (variant == 0) {
            pw.add_wildcard();
          } else if (sg::fixed_width(f.type) != 0) {
            pw.add(f.type, to_bits(lit_from_biased(f, f.biased_max)) + 1);
          } else {
            pw.add_blob(f.type, sg::byte_view(std::string_view(std::string(f.max_length + 1u, 'z'))));
          }
        });
        payloads.push_back(w.finish());
      }
    }
  }
  // And every single-byte change of the golden payload.
  const std::vector<std::uint8_t> base = payloads.front();
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (std::uint8_t v : {std::uint8_t{0}, std::uint8_t{1}, std::uint8_t{0x7F}, std::uint8_t{0xFF}}) {
      auto p = base;
      p[i] = v;
      payloads.push_back(p);
    }
  }
  std::size_t rejected = 0;
  for (const auto& p : payloads) {
    const outcome a = check(d, p);
    const outcome b = check(t, p);
    CHECK(a.code == b.code);
    CHECK(a.record == b.record);
    CHECK(a.field == b.field);
    CHECK(a.message == b.message);
    if (a.code != sg::errc::ok) ++rejected;
  }
  CHECK(rejected > payloads.size() / 2);
}

// ---------------------------------------------------------------------------
// Schema text errors
// ---------------------------------------------------------------------------

TEST_CASE("schema text errors name the line and column", "[schema.text]") {
  struct bad_case {
    const char* text;
    std::size_t line, column;
    const char* says;
  };
  const bad_case cases[] = {
      {"", 1, 1, "expected 'schema'"},
      {"schema x version 1", 1, 8, "the schema id"},
      {"schema \"a\" version -1", 1, 20, "schema version"},
      {"schema \"a\" version 4294967296", 1, 20, "out of range"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u9\n}\n", 3, 12, "unknown field type 'u9'"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8 range 1..300\n}\n", 3, 24, "outside the values of u8"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8 range 5..1\n}\n", 3, 9, "minimum exceeds"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8\n", 4, 1, "expected 'field' or '}'"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8\n  field a: u16\n}\n", 4, 9, "field name repeats"},
      {"schema \"a\" version 1\nrecord r = 1 { }\nrecord s = 1 { }\n", 3, 8, "type id repeats"},
      {"schema \"a\" version 1\nrecord r = 1 { }\nrecord r = 2 { }\n", 3, 8, "record name repeats"},
      {"schema \"a\" version 1\nrecord r = 70000 { }\n", 2, 12, "type id"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field s: string(4) in { \"ab\", \"abcde\" }\n}\n", 3, 33,
       "longer than the field's maximum"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field e: enum { a = 1, b = 1 }\n}\n", 3, 26, "code repeats"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field e: enum { }\n}\n", 3, 19, "an enum value name"},
      {"schema \"bad id!\" version 1\nrecord r = 1 { }\n", 1, 8, "schema id"},
      {"schema \"a\" version 1\n# nothing\n", 3, 1, "no record types"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field s: string(4) wildcard wildcard\n}\n", 3, 31, "repeats"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field b: bool range 0..1\n}\n", 3, 17, "only to integer"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field b: bytes(4) in { \"a\" }\n}\n", 3, 21, "integer and string"},
      {"schema \"a\" version 12ab\n", 1, 20, "malformed number"},
      {"schema \"a\" version 1\nrecord r\xC3\xA9 = 1 { }\n", 2, 9, "non-ASCII"},
      {"schema \"a\nversion 1\n", 1, 8, "not closed"},
      {"schema \"a\" version 1\n\n# comment\n\trecord r = 1 {\n\t\tfield a: u8 range 0..256\n}\n", 5, 24, "outside"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field s: string(16777217)\n}\n", 3, 19, "at most 16777216"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8 in { 1, }\n}\n", 3, 23, "an integer"},
      {"schema \"a\" version 1\nrecord r = 1 {\n  field a: u8 frobnicate\n}\n", 3, 15, "'range', 'in', 'wildcard'"},
      {"schema \"a\" version 1\nrecord 9r = 1 { }\n", 2, 8, "malformed number"},
      {"schema \"a\" version 1\nrecord = 1 { }\n", 2, 8, "a record name"},
  };
  for (const auto& c : cases) {
    INFO("text: " << c.text);
    auto r = sg::parse_schema_text(c.text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sg::errc::schema_invalid);
    CHECK(r.error().line == c.line);
    CHECK(r.error().column == c.column);
    INFO("message: " << r.error().message);
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
  SECTION("a text over the size limit") {
    const std::string big = "schema \"a\" version 1\n" + std::string(sg::schema_limits::max_text_size, '#');
    auto r = sg::parse_schema_text(big);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sg::errc::too_large);
  }
  SECTION("more than 1024 fields") {
    std::string t = "schema \"a\" version 1\nrecord r = 1 {\n";
    for (int i = 0; i <= 1024; ++i) t += "field f" + std::to_string(i) + ": u8\n";
    t += "}\n";
    auto r = sg::parse_schema_text(t);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().line == 3 + 1024);
    CHECK(r.error().message.find("more than 1024 fields") != std::string::npos);
  }
}

TEST_CASE("declarations are checked like text", "[schema.decl]") {
  static constexpr sg::field_decl dup_fields[] = {sg::fields::u8("a"), sg::fields::u16("a")};
  static constexpr sg::record_decl dup_rec[] = {{1, "r", dup_fields}};
  constexpr sg::schema_decl dup{"x", 1, dup_rec};
  static_assert(!sg::check_decl(dup).ok(), "a repeated field name is caught at compile time");
  auto r = sg::schema::from_decl(dup);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == sg::errc::schema_invalid);
  CHECK(r.error().message.find("field name repeats") != std::string::npos);
  CHECK(r.error().message.find("field 1 'a'") != std::string::npos);

  static constexpr sg::field_decl bad_range[] = {sg::fields::i8("n").range(-200, 0)};
  static constexpr sg::record_decl bad_range_rec[] = {{1, "r", bad_range}};
  static_assert(!sg::check_decl(sg::schema_decl{"x", 1, bad_range_rec}).ok(), "range beyond i8");
  static constexpr sg::field_decl bool_allowed[] = {sg::fields::boolean("b").allowed(kWeights)};
  static constexpr sg::record_decl bool_allowed_rec[] = {{1, "r", bool_allowed}};
  static_assert(!sg::check_decl(sg::schema_decl{"x", 1, bool_allowed_rec}).ok(), "allowed on bool");
  static_assert(!sg::check_decl(sg::schema_decl{"", 1, kEdrRecords}).ok(), "empty id");
  static constexpr sg::enum_value bad_utf8_enum[] = {{"a", 1}};
  static constexpr std::string_view bad_strings[] = {"\xFF"};
  static constexpr sg::field_decl bad_str[] = {sg::fields::string("s", 4).allowed(bad_strings),
                                               sg::fields::enumeration("e", bad_utf8_enum)};
  static constexpr sg::record_decl bad_str_rec[] = {{1, "r", bad_str}};
  constexpr sg::decl_issue is = sg::check_decl(sg::schema_decl{"x", 1, bad_str_rec});
  static_assert(!is.ok() && is.field == 0 && is.value == 0, "allowed string that is not UTF-8");
}

// ---------------------------------------------------------------------------
// Records text errors
// ---------------------------------------------------------------------------

TEST_CASE("records text errors name the line and column", "[schema.records_text]") {
  const sg::schema& s = text_schema();
  const std::string good_pr = record_line(*s.find(1), 0);
  struct bad_case {
    std::string text;
    sg::errc code;
    std::size_t line, column;
  };
  const bad_case cases[] = {
      {"no_such_rule: 1", sg::errc::unknown_record_type, 1, 1},
      {"process_rule 1", sg::errc::records_syntax, 1, 14},
      {"\n# comment\n\n  process_rule: \"x\"", sg::errc::field_type_mismatch, 4, 17},
      {"process_rule: 1 2", sg::errc::records_syntax, 1, 17},
      {"process_rule: 1, \"open", sg::errc::records_syntax, 1, 18},
      {"process_rule: 1, @", sg::errc::records_syntax, 1, 18},
      {"process_rule: 1, 2, 3, 4, 5, 6, 7, 8, true, \"a\", x\"0\", allow", sg::errc::records_syntax, 1, 50},
      {good_pr + "\n" + good_pr + ", 1", sg::errc::field_count_mismatch, 2, good_pr.size() + 3},
      {"process_rule: *", sg::errc::wildcard_not_allowed, 1, 15},
      {"net_rule: 6, 22, 0, \"example.org\", x\"\", pass, 18446744073709551615, -129", sg::errc::field_out_of_range,
       1, 69},
  };
  for (const auto& c : cases) {
    INFO("text: " << c.text);
    auto r = sg::compile_records_text(s, c.text);
    REQUIRE_FALSE(r.has_value());
    INFO("message: " << r.error().message);
    CHECK(r.error().code == c.code);
    CHECK(r.error().line == c.line);
    CHECK(r.error().column == c.column);
  }
  SECTION("limits") {
    sg::validate_limits lim;
    lim.max_records = 2;
    auto r = sg::compile_records_text(s, good_pr + "\n" + good_pr + "\n\n" + good_pr + "\n", lim);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sg::errc::too_many_records);
    CHECK(r.error().line == 4);
    lim.max_bytes = 10;
    CHECK(sg::compile_records_text(s, good_pr, lim).error().code == sg::errc::too_large);
  }
  SECTION("empty text compiles to a payload with no records") {
    auto r = sg::compile_records_text(s, "# nothing\n\n");
    REQUIRE(r.has_value());
    auto v = sg::validate(s, *r);
    REQUIRE(v.has_value());
    CHECK(v->record_count() == 0);
  }
  SECTION("escapes and enum codes") {
    const sg::record_spec& pr = *s.find(1);
    auto r = sg::compile_records_text(s, record_line(pr, 0, 9, "\"a\\\"b\\\\c\\n\\t\\x41\"") + "\n");
    if (!r) FAIL(r.error().message);
    auto v = sg::validate(s, *r);
    REQUIRE(v.has_value());
    CHECK(v->record(0).get<std::string_view>(9)->value() == "a\"b\\c\n\tA");
  }
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

TEST_CASE("typed views read each field as its declared type", "[schema.views]") {
  // Reading a field the type does not declare, or as the wrong type, does
  // not compile: get<K, T>() static_asserts can_read_v<R, K, T>.
  STATIC_REQUIRE(sg::can_read_v<kTemplateInput, 19, std::uint32_t>);
  STATIC_REQUIRE_FALSE(sg::can_read_v<kTemplateInput, 20, std::uint32_t>);  // the 21st input
  STATIC_REQUIRE_FALSE(sg::can_read_v<kTemplateInput, 0, std::uint64_t>);
  STATIC_REQUIRE_FALSE(sg::can_read_v<kTemplateInput, 0, std::int32_t>);
  STATIC_REQUIRE_FALSE(sg::can_read_v<kProcessRule, 11, std::uint32_t>);  // an enum is not a u32
  STATIC_REQUIRE(sg::can_read_v<kProcessRule, 11, sg::enum_code>);
  STATIC_REQUIRE(sg::can_read_v<kProcessRule, 9, std::string_view>);
  STATIC_REQUIRE(sg::can_read_v<kProcessRule, 10, sg::byte_view>);
  STATIC_REQUIRE(std::is_same<sg::field_cpp_t<kProcessRule, 4>, std::int8_t>::value);
  STATIC_REQUIRE(std::is_same<sg::field_cpp_t<kTemplateInput, 20>, sg::detail::no_field>::value);
  STATIC_REQUIRE(std::is_same<decltype(std::declval<sg::typed_record<kNetRule>>().get<6>()),
                              sg::field_value<std::uint64_t>>::value);

  const sg::schema& s = text_schema();
  const std::string text = read_file(data_path("edr_records.txt"));
  auto bin = sg::compile_records_text(s, text);
  REQUIRE(bin.has_value());
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  REQUIRE(v->has_index());
  CHECK(v->record_count() == 6);
  CHECK(v->records_of(1).size() == 2);
  CHECK(v->records_of(2).size() == 2);
  CHECK(v->records_of(291).size() == 2);
  CHECK(v->records_of(5).empty());

  auto procs = v->records_of<kProcessRule>();
  REQUIRE(procs.has_value());
  REQUIRE(procs->size() == 2);
  const auto p0 = (*procs)[0];
  CHECK(p0.index() == 0);
  CHECK(p0.get<0>().value() == 1);
  CHECK(p0.get<1>().value() == 443);
  CHECK(p0.get<3>().value() == 1099511627776ull);
  CHECK(p0.get<4>().value() == -20);
  CHECK(p0.get<5>().value() == -1000);
  CHECK(p0.get<6>().value() == -65536);
  CHECK(p0.get<7>().value() == std::numeric_limits<std::int64_t>::min());
  CHECK(p0.get<8>().value() == true);
  CHECK(p0.get<9>().value() == "cmd.exe");
  CHECK(p0.get<10>().value().size() == 16);
  CHECK(p0.get<10>().value()[15] == 0xFF);
  CHECK(p0.get<11>().value() == sg::enum_code{2});
  CHECK(p0.get_as<2, std::uint32_t>().value() == 4242);
  const auto p1 = (*procs)[1];
  CHECK(p1.get<1>().is_wildcard());
  CHECK_FALSE(p1.get<1>().has_value());
  CHECK(p1.get<1>().matches(12345));
  CHECK(p1.get<9>().is_wildcard());
  CHECK(p1.get<7>().value() == std::numeric_limits<std::int64_t>::max());
  CHECK(p1.get<10>().value().empty());

  std::size_t n = 0;
  auto templates = v->records_of<kTemplateInput>();
  REQUIRE(templates.has_value());
  for (auto rec : *templates) {
    if (n == 0) {
      CHECK(rec.get<2>().value() == "C:\\Windows\\System32\\*.dll");
      CHECK(rec.get<3>().value() == "caf\xC3\xA9 \xC3\xA9");
      CHECK(rec.get<9>().value() == ~std::uint64_t{0});
      CHECK(rec.get<10>().value() == -1);
      CHECK(rec.get<11>().value().code == 4);
      CHECK(rec.get<16>().value() == -42);
      CHECK(rec.get<19>().value() == 100);
    } else {
      CHECK(rec.get<0>().is_wildcard());
      CHECK(rec.get<19>().is_wildcard());
    }
    ++n;
  }
  CHECK(n == 2);

  SECTION("runtime indices and types return errors") {
    const sg::record_view r = v->record(4);
    CHECK(r.type_id() == 291);
    CHECK(r.get<std::uint32_t>(19)->value() == 100);
    CHECK(r.get<std::uint32_t>(20).error() == sg::errc::invalid_argument);
    CHECK(r.get<std::uint64_t>(0).error() == sg::errc::field_type_mismatch);
    CHECK(r.get<std::uint32_t>(11).error() == sg::errc::field_type_mismatch);
    CHECK(r.get<sg::enum_code>(11)->value().code == 4);
    CHECK(r.field(20).error() == sg::errc::invalid_argument);
    CHECK(r.field(7)->as_string() == "a");
    CHECK(v->at(6).error() == sg::errc::invalid_argument);
    CHECK(v->at(5)->type_id() == 291);
  }
  SECTION("a typed view of a record type the payload's schema declares differently") {
    static constexpr sg::field_decl other_fields[] = {sg::fields::u64("level")};
    static constexpr sg::record_decl other{1, "process_rule", other_fields};
    CHECK(v->records_of<other>().error() == sg::errc::schema_mismatch);
    static constexpr sg::record_decl absent{77, "absent", other_fields};
    CHECK(v->records_of<absent>().error() == sg::errc::schema_mismatch);
  }
}

TEST_CASE("the record index groups records by type in payload order", "[schema.views]") {
  const sg::schema& s = decl_schema();
  sg::payload_writer w(s.id(), s.version());
  const std::uint16_t order[] = {2, 1, 291, 1, 2, 2, 291, 1};
  for (std::uint16_t id : order) write_valid_record(w, *s.find(id), 0);
  const auto bin = w.finish();
  auto v = sg::validate(s, bin);
  REQUIRE(v.has_value());
  REQUIRE(v->record_count() == 8);
  for (std::size_t i = 0; i < 8; ++i) CHECK(v->record(i).type_id() == order[i]);
  std::vector<std::size_t> idx;
  for (auto r : v->records_of(2)) idx.push_back(r.index());
  CHECK(idx == std::vector<std::size_t>{0, 4, 5});
  idx.clear();
  for (auto r : v->records_of(1)) idx.push_back(r.index());
  CHECK(idx == std::vector<std::size_t>{1, 3, 7});
  CHECK(v->bytes() == sg::byte_view(bin));
  // Ranges and views stay valid when the validated payload moves (into a
  // snapshot, say): they point at the bytes and the index, not at it.
  const sg::record_range nets = v->records_of(2);
  const sg::record_view last = v->record(7);
  sg::validated_payload moved = std::move(*v);
  *v = sg::validated_payload();
  REQUIRE(nets.size() == 3);
  CHECK(nets[2].index() == 5);
  for (auto r : nets) CHECK(r.type_id() == 2);
  CHECK(last.field(0).has_value());
  CHECK(moved.records_of(2).size() == 3);
}

// ---------------------------------------------------------------------------
// content_check
// ---------------------------------------------------------------------------

TEST_CASE("content_check runs a schema or a host's validator", "[schema.content_check]") {
  const std::vector<std::uint8_t> some = {1, 2, 3};
  SECTION("a schema") {
    sg::content_check c(decl_schema());
    CHECK(c.has_schema());
    REQUIRE(c.get_schema() != nullptr);
    CHECK(c.get_schema()->id() == "edr.rules");
    auto bad = c.run(some);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().code == sg::errc::truncated);
    sg::payload_writer w("edr.rules", 3);
    write_valid_record(w, *decl_schema().find(1), 0);
    const auto good = w.finish();
    auto ok = c.run(good);
    REQUIRE(ok.has_value());
    CHECK(ok->has_index());
    CHECK(ok->record_count() == 1);
  }
  SECTION("schema limits travel with the check") {
    sg::validate_limits lim;
    lim.max_bytes = 2;
    sg::content_check c(decl_schema(), lim);
    CHECK(c.run(some).error().code == sg::errc::too_large);
  }
  SECTION("a validator function") {
    std::size_t calls = 0;
    sg::content_check c(sg::validator_fn([&calls](sg::byte_view p) -> sg::result<void, sg::validation_error> {
      ++calls;
      if (p.size() == 3) return {};
      sg::validation_error e;
      e.code = p.empty() ? sg::errc::ok : sg::errc::field_out_of_range;
      e.record = 4;
      e.field = 2;
      e.message = "host says no";
      return e;
    }));
    CHECK_FALSE(c.has_schema());
    CHECK(c.has_validator());
    CHECK(c.get_schema() == nullptr);
    auto ok = c.run(some);
    REQUIRE(ok.has_value());
    CHECK_FALSE(ok->has_index());
    CHECK(ok->record_count() == 0);
    CHECK(ok->bytes() == sg::byte_view(some));
    const std::vector<std::uint8_t> four = {1, 2, 3, 4};
    auto no = c.run(four);
    REQUIRE_FALSE(no.has_value());
    CHECK(no.error().code == sg::errc::field_out_of_range);
    CHECK(no.error().record == 4);
    CHECK(no.error().field == 2);
    CHECK(no.error().message == "host says no");
    auto odd = c.run(sg::byte_view());
    REQUIRE_FALSE(odd.has_value());
    CHECK(odd.error().code == sg::errc::validator_rejected);  // an error must carry a reason
    CHECK(calls == 3);
  }
  SECTION("nothing configured") {
    sg::content_check c;
    CHECK(c.run(some).error().code == sg::errc::invalid_argument);
  }
}

TEST_CASE("a default schema accepts nothing", "[schema.content_check]") {
  sg::schema empty;
  CHECK(empty.id().empty());
  CHECK(empty.record_type_count() == 0);
  CHECK(empty.find(1) == nullptr);
  sg::payload_writer w("edr.rules", 3);
  CHECK(sg::validate(empty, w.finish()).error().code == sg::errc::schema_mismatch);
  CHECK(sg::compile_records_text(empty, "").error().code == sg::errc::schema_mismatch);
}

TEST_CASE("the checked-in 21/20 payloads are judged as their names say", "[schema.field_count]") {
  // Binary payloads as a producer with a mismatched template would emit
  // them (tests/data/schema/template_*.bin); record 1 is the bad one.
  const sg::schema& s = text_schema();
  struct file_case {
    const char* name;
    sg::errc code;
    std::size_t field;
  };
  const file_case files[] = {{"template_20.bin", sg::errc::ok, 0},
                             {"template_21_wildcard.bin", sg::errc::field_count_mismatch, 20},
                             {"template_21_value.bin", sg::errc::field_count_mismatch, 20},
                             {"template_19.bin", sg::errc::field_count_mismatch, 19}};
  for (const auto& f : files) {
    INFO(f.name);
    const std::string bytes = read_file(data_path(f.name));
    const outcome o = check(s, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    CHECK(o.code == f.code);
    if (f.code != sg::errc::ok) {
      CHECK(o.record == 1);
      CHECK(o.field == f.field);
    }
  }
  const char* texts[] = {"template_21_wildcard.txt", "template_21_value.txt", "template_19.txt"};
  for (const char* t : texts) {
    INFO(t);
    auto r = sg::compile_records_text(s, read_file(data_path(t)));
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sg::errc::field_count_mismatch);
    CHECK(r.error().line == 3);
  }
}

// ---------------------------------------------------------------------------
// One declaration: typed views only for the record type the reader declares
// ---------------------------------------------------------------------------

namespace {
// The interpreter's declaration in these tests, and its schema text.
constexpr sg::enum_value kRuleActions[] = {{"allow", 0}, {"block", 1}, {"kill", 9}};
constexpr std::int64_t kRulePorts[] = {22, 80, 443};
constexpr std::string_view kRuleUsers[] = {"root", "admin"};
constexpr sg::field_decl kRuleFields[] = {
    sg::fields::u8("level").range(1, 5),
    sg::fields::u32("pid").wildcard(),
    sg::fields::u16("port").allowed(kRulePorts),
    sg::fields::string("user", 8).allowed(kRuleUsers).wildcard(),
    sg::fields::string("image", 8),
    sg::fields::bytes("digest", 4),
    sg::fields::enumeration("action", kRuleActions),
};
constexpr sg::record_decl kRule{7, "rule", kRuleFields};
constexpr sg::field_decl kNoteFields[] = {sg::fields::string("text", 16)};
constexpr sg::record_decl kNote{8, "note", kNoteFields};
constexpr sg::record_decl kRuleRecords[] = {kRule, kNote};
constexpr sg::schema_decl kRuleDecl{"rules", 2, kRuleRecords};
static_assert(sg::check_decl(kRuleDecl).ok(), "the rule declaration is valid");

const std::string kRuleText =
    "schema \"rules\" version 2\n"
    "record rule = 7 {\n"
    "  field level: u8 range 1..5\n"
    "  field pid: u32 wildcard\n"
    "  field port: u16 in { 22, 80, 443 }\n"
    "  field user: string(8) in { \"root\", \"admin\" } wildcard\n"
    "  field image: string(8)\n"
    "  field digest: bytes(4)\n"
    "  field action: enum { allow = 0, block = 1, kill = 9 }\n"
    "}\n"
    "record note = 8 {\n"
    "  field text: string(16)\n"
    "}\n";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const std::size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}
sg::schema parsed(const std::string& text) {
  auto s = sg::parse_schema_text(text);
  if (!s) FAIL(s.error().line << ":" << s.error().column << " " << s.error().message << "\n" << text);
  return *s;
}
}  // namespace

TEST_CASE("records_of<R>() refuses a schema whose record type differs from R in any respect",
          "[schema.one_declaration]") {
  struct diff_case {
    const char* what;
    std::string from, to;
    const char* says;  // in check_against's message
  };
  const diff_case cases[] = {
      {"a wider range", "level: u8 range 1..5", "level: u8 range 1..200", "field 0 'level': range differs: schema 1..200, declaration 1..5"},
      {"no range", "level: u8 range 1..5", "level: u8", "range differs: schema 0..255, declaration 1..5"},
      {"a wildcard R forbids", "level: u8 range 1..5", "level: u8 range 1..5 wildcard",
       "field 0 'level': the schema allows a wildcard, the declaration does not"},
      {"no wildcard where R allows one", "pid: u32 wildcard", "pid: u32", "the declaration allows a wildcard"},
      {"another allowed set", "in { 22, 80, 443 }", "in { 22, 80, 8080 }", "field 2 'port': allowed values differ"},
      {"a smaller allowed set", "in { 22, 80, 443 }", "in { 22, 80 }", "allowed values differ"},
      {"no allowed set", "port: u16 in { 22, 80, 443 }", "port: u16", "allowed values differ"},
      {"another string set", "in { \"root\", \"admin\" }", "in { \"root\", \"guest\" }", "field 3 'user': allowed values differ"},
      {"a longer string", "image: string(8)", "image: string(4096)",
       "field 4 'image': maximum length differs: schema 4096, declaration 8"},
      {"longer bytes", "digest: bytes(4)", "digest: bytes(5)", "field 5 'digest': maximum length differs"},
      {"swapped enum codes", "allow = 0, block = 1", "allow = 1, block = 0", "field 6 'action': enum values differ"},
      {"another enum name", "kill = 9", "terminate = 9", "enum values differ"},
      {"another enum code", "kill = 9", "kill = 10", "enum values differ"},
      {"an extra enum value", "kill = 9", "kill = 9, log = 3", "enum values differ"},
      {"fields in another order", "  field image: string(8)\n  field digest: bytes(4)\n",
       "  field digest: bytes(4)\n  field image: string(8)\n", "field 4 'image': the schema names field 4 'digest'"},
      {"a renamed field", "field pid:", "field process:", "field 1 'pid': the schema names field 1 'process'"},
      {"another field type", "pid: u32 wildcard", "pid: u64 wildcard", "field 1 'pid': type differs: schema u64, declaration u32"},
      {"a 21st field", "  field action: enum { allow = 0, block = 1, kill = 9 }\n",
       "  field action: enum { allow = 0, block = 1, kill = 9 }\n  field extra: u8\n",
       "the schema declares 8 fields, the declaration 7"},
      {"a missing field", "  field action: enum { allow = 0, block = 1, kill = 9 }\n", "",
       "the schema declares 6 fields, the declaration 7"},
      {"another record name", "record rule = 7", "record rules = 7", "record type 7 'rule': the schema names it 'rules'"},
      {"another type id", "record rule = 7", "record rule = 9", "record type 7 'rule': the schema declares no record type with this id"},
  };
  const sg::schema same = parsed(kRuleText);
  REQUIRE(same.check_against(kRuleDecl).has_value());
  REQUIRE(same.check_against(kRule).has_value());
  for (const auto& c : cases) {
    INFO(c.what);
    const sg::schema s = parsed(replaced(kRuleText, c.from, c.to));
    CHECK_FALSE(s.declares_exactly(kRule));
    auto why = s.check_against(kRule);
    REQUIRE_FALSE(why.has_value());
    CHECK(why.error().code == sg::errc::schema_mismatch);
    INFO("message: " << why.error().message);
    CHECK(why.error().message.find(c.says) != std::string::npos);
    auto whole = s.check_against(kRuleDecl);
    REQUIRE_FALSE(whole.has_value());
    CHECK(whole.error().message == why.error().message);
    // And so no typed view, over a payload this schema validated.
    auto bin = sg::compile_records_text(s, "note: \"hello\"\n");
    REQUIRE(bin.has_value());
    auto v = sg::validate(s, *bin);
    REQUIRE(v.has_value());
    CHECK(v->records_of<kRule>().error() == sg::errc::schema_mismatch);
    CHECK(v->records_of<kNote>().has_value());  // the note type is the same
  }

  SECTION("differences that change no value a reader sees are not differences") {
    // Allowed values and enum values as sets, a range that is the type's whole range.
    const std::string text = replaced(replaced(replaced(kRuleText, "in { 22, 80, 443 }", "in { 443, 22, 80 }"),
                                               "allow = 0, block = 1, kill = 9", "kill = 9, allow = 0, block = 1"),
                                      "pid: u32 wildcard", "pid: u32 range 0..0xffffffff wildcard");
    const sg::schema s = parsed(text);
    CHECK(s.check_against(kRule).has_value());
    CHECK(s.declares_exactly(kRule));
  }
}

TEST_CASE("what content reached an interpreter through a schema text that disagreed with it",
          "[schema.one_declaration]") {
  // The schema the publisher's tool used said level 1..200, a wildcard on
  // level, codes allow=1 block=0, and string(4096); the interpreter's R says
  // otherwise. Content valid for the text must not reach R's typed views.
  std::string text = replaced(kRuleText, "level: u8 range 1..5", "level: u8 range 1..200 wildcard");
  text = replaced(text, "allow = 0, block = 1", "allow = 1, block = 0");
  text = replaced(text, "image: string(8)", "image: string(4096)");
  const sg::schema loose = parsed(text);
  auto bin = sg::compile_records_text(
      loose, "rule: 200, *, 22, *, \"" + std::string(4096, 'a') + "\", x\"00\", block\nrule: *, 1, 80, \"root\", \"a\", x\"\", allow\n");
  REQUIRE(bin.has_value());
  auto v = sg::validate(loose, *bin);
  REQUIRE(v.has_value());
  CHECK(v->records_of<kRule>().error() == sg::errc::schema_mismatch);
  CHECK(v->records_of(7).size() == 2);  // the runtime view still reads it, by the validated schema
  // The typed record made by hand from a runtime view is empty, not a reinterpretation.
  const sg::typed_record<kRule> by_hand(v->record(0));
  CHECK_FALSE(by_hand.valid());
  CHECK_FALSE(by_hand.get<0>().has_value());
  CHECK_FALSE(by_hand.get<0>().is_wildcard());
  CHECK(by_hand.value<0>() == 0);  // no abort
  // The verdict is the schema's, remembered per schema: the exact schema's
  // payloads still get their typed views, before and after, and this one never.
  const sg::schema exact = *sg::schema::from_decl(kRuleDecl);
  auto exact_bin = sg::compile_records_text(exact, "rule: 1, *, 22, *, \"a\", x\"\", allow\n");
  REQUIRE(exact_bin.has_value());
  auto exact_v = sg::validate(exact, *exact_bin);
  REQUIRE(exact_v.has_value());
  for (int round = 0; round < 3; ++round) {
    CHECK(exact_v->records_of<kRule>().has_value());
    CHECK(v->records_of<kRule>().error() == sg::errc::schema_mismatch);
  }
  // Loaded for the host with from_text_checked, it never gets that far.
  auto checked = sg::schema::from_text_checked(text, kRuleDecl);
  REQUIRE_FALSE(checked.has_value());
  CHECK(checked.error().code == sg::errc::schema_mismatch);
  CHECK(checked.error().message.find("field 0 'level': the schema allows a wildcard") != std::string::npos);
}

TEST_CASE("from_text_checked checks a schema text against the host's declaration once, at load",
          "[schema.one_declaration]") {
  auto good = sg::schema::from_text_checked(kRuleText, kRuleDecl);
  REQUIRE(good.has_value());
  CHECK(good->declares_exactly(kRule));
  CHECK(good->declares_exactly(kNote));
  struct bad_case {
    std::string text;
    sg::errc code;
    const char* says;
  };
  const bad_case cases[] = {
      {replaced(kRuleText, "\"rules\"", "\"rulez\""), sg::errc::schema_mismatch,
       "schema id differs: schema \"rulez\", declaration \"rules\""},
      {replaced(kRuleText, "version 2", "version 3"), sg::errc::schema_mismatch,
       "schema version differs: schema 3, declaration 2"},
      {kRuleText + "record extra = 9 { }\n", sg::errc::schema_mismatch,
       "record type 9 'extra': the schema declares it, the declaration does not"},
      {replaced(kRuleText, "record note = 8 {\n  field text: string(16)\n}\n", ""), sg::errc::schema_mismatch,
       "record type 8 'note': the schema declares no record type with this id"},
      {replaced(kRuleText, "field text: string(16)", "field text: string(17)"), sg::errc::schema_mismatch,
       "record type 8 'note', field 0 'text': maximum length differs: schema 17, declaration 16"},
      {replaced(kRuleText, "u8 range 1..5", "u8 range 5..1"), sg::errc::schema_invalid, "minimum exceeds"},
  };
  for (const auto& c : cases) {
    auto r = sg::schema::from_text_checked(c.text, kRuleDecl);
    REQUIRE_FALSE(r.has_value());
    INFO("message: " << r.error().message);
    CHECK(r.error().code == c.code);
    CHECK(r.error().message.find(c.says) != std::string::npos);
  }
}

TEST_CASE("schema text files are the export of the declaration they belong to", "[schema.export]") {
  // tests/data/schema/edr.schema is what the tool's tests and the golden
  // payload use; kEdrDecl is the host's declaration of it.
  auto exported = sg::export_schema_text(kEdrDecl, kEdrNote);
  REQUIRE(exported.has_value());
  CHECK(read_file(data_path("edr.schema")) == *exported);
  // The export reads back as the declaration, checked.
  auto back = sg::schema::from_text_checked(*exported, kEdrDecl);
  REQUIRE(back.has_value());
  CHECK(back->to_text() == decl_schema().to_text());
  auto rules = sg::export_schema_text(kRuleDecl);
  REQUIRE(rules.has_value());
  CHECK(sg::schema::from_text_checked(*rules, kRuleDecl).has_value());
  CHECK(parsed(*rules).to_text() == parsed(kRuleText).to_text());
  // An invalid declaration has no export.
  static constexpr sg::field_decl dup_fields[] = {sg::fields::u8("a"), sg::fields::u8("a")};
  static constexpr sg::record_decl dup_rec[] = {{1, "r", dup_fields}};
  CHECK(sg::export_schema_text(sg::schema_decl{"x", 1, dup_rec}).error().code == sg::errc::schema_invalid);
}

TEST_CASE("a wildcard never aborts a reader", "[schema.views]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  auto bin = sg::compile_records_text(s, "rule: 3, *, 443, *, \"cmd\", x\"01\", kill\n");
  REQUIRE(bin.has_value());
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  auto rules = v->records_of<kRule>();
  REQUIRE(rules.has_value());
  const auto r = (*rules)[0];
  // A field that cannot be a wildcard reads as its value.
  CHECK(r.value<0>() == 3);
  CHECK(r.value<2>() == 443);
  CHECK(r.value<4>() == "cmd");
  CHECK(r.value<6>() == sg::enum_code{9});
  // A field that can makes the reader say what a wildcard means.
  const sg::field_value<std::uint32_t> pid = r.get<1>();
  CHECK(pid.is_wildcard());
  CHECK_FALSE(pid.as_optional().has_value());
  CHECK(pid.value() == 0);  // no abort: T{}
  CHECK(pid.value_or(7) == 7);
  CHECK(pid.matches(12345));
  CHECK(r.get<3>().value().empty());
  CHECK(r.get<3>().matches("root"));
  const sg::field_value<std::uint8_t> level = r.get<0>();
  REQUIRE(level.as_optional().has_value());
  CHECK(*level.as_optional() == 3);
  CHECK(level.matches(3));
  CHECK_FALSE(level.matches(4));
  const sg::field_value<std::uint8_t> nothing;
  CHECK_FALSE(nothing.matches(0));
  CHECK(nothing.value() == 0);
}

namespace {
constexpr sg::field_decl pid_with_enum_values() {
  sg::field_decl f = sg::fields::u32("pid").wildcard();
  f.enum_values = kRuleActions;
  f.enum_count = 3;
  return f;
}
constexpr std::string_view kDigestValues[] = {"abcd"};
constexpr sg::field_decl kOddPid[] = {
    kRuleFields[0], pid_with_enum_values(), kRuleFields[2], kRuleFields[3], kRuleFields[4], kRuleFields[5], kRuleFields[6],
};
constexpr sg::field_decl kOddDigest[] = {
    kRuleFields[0], kRuleFields[1], kRuleFields[2], kRuleFields[3], kRuleFields[4],
    sg::fields::bytes("digest", 4).allowed(kDigestValues), kRuleFields[6],
};
constexpr sg::record_decl kOddPidRule{7, "rule", kOddPid};
constexpr sg::record_decl kOddDigestRule{7, "rule", kOddDigest};
}  // namespace

TEST_CASE("a declaration that check_decl refuses never equals a schema's record type", "[schema.one_declaration]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  auto pid = s.check_against(kOddPidRule);
  REQUIRE_FALSE(pid.has_value());
  CHECK(pid.error().message.find("field 1 'pid': enum values differ") != std::string::npos);
  auto digest = s.check_against(kOddDigestRule);
  REQUIRE_FALSE(digest.has_value());
  CHECK(digest.error().message.find("field 5 'digest': allowed values differ") != std::string::npos);
  auto v = sg::validate(s, *sg::compile_records_text(s, ""));
  REQUIRE(v.has_value());
  CHECK(v->records_of<kOddPidRule>().error() == sg::errc::schema_mismatch);
  CHECK(v->records_of<kOddDigestRule>().error() == sg::errc::schema_mismatch);
  CHECK(v->records_of<kRule>().has_value());
}

TEST_CASE("a typed record made by hand is checked like records_of<R>()", "[schema.one_declaration]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  auto bin = sg::compile_records_text(s, "note: \"hello\"\nrule: 3, *, 443, *, \"cmd\", x\"01\", kill\n");
  REQUIRE(bin.has_value());
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  // A note's view taken for a rule: an empty rule, not a note's bytes read as a rule's.
  const sg::typed_record<kRule> wrong(v->record(0));
  CHECK_FALSE(wrong.valid());
  CHECK_FALSE(wrong.get<4>().has_value());
  CHECK(wrong.value<4>().empty());
  const sg::typed_record<kNote> note(v->record(0));
  REQUIRE(note.valid());
  CHECK(note.value<0>() == "hello");
  const sg::typed_record<kRule> rule(v->record(1));
  REQUIRE(rule.valid());
  CHECK(rule.value<6>() == sg::enum_code{9});
  const sg::typed_record<kRule> empty{sg::record_view()};
  CHECK_FALSE(empty.valid());
  CHECK_FALSE(empty.get<1>().is_wildcard());
  const sg::typed_record<kRule> defaulted;
  CHECK_FALSE(defaulted.valid());
}

// ---------------------------------------------------------------------------
// Views trust only what was validated
// ---------------------------------------------------------------------------

TEST_CASE("views read types and lengths from validation, not from bytes changed after it",
          "[schema.views][schema.robustness]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  auto compiled = sg::compile_records_text(s, "rule: 3, 42, 443, \"root\", \"cmd\", x\"0102\", kill\nrule: 1, *, 22, *, \"\", x\"\", allow\nnote: \"hello\"\n");
  REQUIRE(compiled.has_value());
  std::vector<std::uint8_t> bytes = *compiled;  // the buffer the views point into
  auto v = sg::validate(s, bytes);
  REQUIRE(v.has_value());

  struct seen {
    std::uint16_t type;
    std::size_t count, body;
    std::vector<bool> wild;
    std::vector<std::size_t> lengths;
  };
  auto look = [&] {
    std::vector<seen> out;
    for (std::size_t i = 0; i < v->record_count(); ++i) {
      const sg::record_view r = v->record(i);
      seen x{r.type_id(), r.field_count(), r.body().size(), {}, {}};
      for (std::size_t k = 0; k < r.field_count(); ++k) {
        auto f = r.field(k);
        REQUIRE(f.has_value());
        x.wild.push_back(f->wildcard);
        x.lengths.push_back(f->data.size());
      }
      out.push_back(x);
    }
    return out;
  };
  const std::vector<seen> before = look();
  REQUIRE(before.size() == 3);
  CHECK(before[0].lengths[3] == 4);

  // Now every header and tag changes: type ids, field counts, body lengths,
  // string lengths (100000 over a few bytes), and tags (wildcards and
  // values swapped, types out of range).
  const std::size_t hdr = sg::payload_format::header_size + s.id().size();
  std::size_t at = hdr;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::size_t len = sg::detail::load_le32(&bytes[at + 4]);
    sg::detail::store_le16(&bytes[at], 0xFFFF);
    sg::detail::store_le16(&bytes[at + 2], 0xFFFF);
    sg::detail::store_le32(&bytes[at + 4], 0xFFFFFFFFu);
    at += 8 + len;
  }
  // Every string's length prefix and every tag, through the index of the
  // first record (the bytes are the test's to change).
  {
    const sg::record_view r = v->record(0);
    const std::size_t body = static_cast<std::size_t>(r.body().data() - bytes.data());
    std::size_t q = body;
    for (std::size_t k = 0; k < r.field_count(); ++k) {
      const sg::field_type t = r.type().fields[k].type;
      bytes[q] = static_cast<std::uint8_t>(k % 2 ? 0 : 200);  // a wildcard tag, or no type at all
      const std::size_t w = sg::fixed_width(t);
      if (w == 0) {
        const std::size_t n = sg::detail::load_le32(&bytes[q + 1]);
        sg::detail::store_le32(&bytes[q + 1], 100000);
        q += 5 + n;
      } else {
        q += 1 + w;
      }
    }
  }
  const std::vector<seen> after = look();
  REQUIRE(after.size() == before.size());
  for (std::size_t i = 0; i < before.size(); ++i) {
    INFO("record " << i);
    CHECK(after[i].type == before[i].type);
    CHECK(after[i].count == before[i].count);
    CHECK(after[i].body == before[i].body);
    CHECK(after[i].wild == before[i].wild);
    CHECK(after[i].lengths == before[i].lengths);
  }
  auto rules = v->records_of<kRule>();
  REQUIRE(rules.has_value());
  REQUIRE(rules->size() == 2);
  CHECK((*rules)[0].value<4>() == "cmd");
  CHECK((*rules)[0].get<3>().value() == "root");
  CHECK((*rules)[0].value<5>().size() == 2);
  CHECK((*rules)[1].get<1>().is_wildcard());
  CHECK((*rules)[1].get<3>().is_wildcard());
  CHECK(v->records_of(8).size() == 1);
  CHECK(v->record(2).get<std::string_view>(0)->value() == "hello");
}

TEST_CASE("runtime views count fields by the validated declaration, not by the content",
          "[schema.views]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  auto compiled = sg::compile_records_text(s, "note: \"a\"\n");
  REQUIRE(compiled.has_value());
  std::vector<std::uint8_t> bytes = *compiled;
  auto v = sg::validate(s, bytes);
  REQUIRE(v.has_value());
  const std::size_t hdr = sg::payload_format::header_size + s.id().size();
  sg::detail::store_le16(&bytes[hdr + 2], 21);  // the record now "states" 21 fields
  const sg::record_view r = v->record(0);
  CHECK(r.field_count() == 1);
  CHECK(r.field(0)->as_string() == "a");
  CHECK(r.field(1).error() == sg::errc::invalid_argument);
  CHECK(r.field(20).error() == sg::errc::invalid_argument);
  // The unchecked-looking typed read checks index and type too.
  CHECK(r.read_typed<std::string_view>(0).value() == "a");
  CHECK_FALSE(r.read_typed<std::uint64_t>(0).has_value());     // a string is not a u64
  CHECK_FALSE(r.read_typed<std::uint64_t>(0).is_wildcard());
  CHECK_FALSE(r.read_typed<std::string_view>(1).has_value());  // no field 1
  const sg::record_view none;
  CHECK(none.field_count() == 0);
  CHECK(none.field(0).error() == sg::errc::invalid_argument);
  CHECK(none.body().empty());
  CHECK_FALSE(none.read_typed<std::uint8_t>(0).has_value());
}

// ---------------------------------------------------------------------------
// docs/SCHEMA.md and the code agree
// ---------------------------------------------------------------------------

TEST_CASE("the payload header is checked in the documented order", "[schema.doc]") {
  const sg::schema& s = decl_schema();
  sg::payload_writer w(s.id(), s.version());
  write_valid_record(w, *s.find(1), 0);
  const std::vector<std::uint8_t> good = w.finish();
  auto id_beyond_end = [&](std::vector<std::uint8_t> p) {
    sg::detail::store_le16(&p[6], 0xFFFF);
    return p;
  };
  // Magic and encoding version come before the schema id's bounds.
  auto p = id_beyond_end(good);
  CHECK(check(s, p).code == sg::errc::truncated);
  p[0] = 'X';
  CHECK(check(s, p).code == sg::errc::bad_magic);
  p = id_beyond_end(good);
  p[4] = 2;
  CHECK(check(s, p).code == sg::errc::unsupported_format_version);
  // A 24-byte header alone with a bad magic: truncated only below 24 bytes.
  std::vector<std::uint8_t> h(good.begin(), good.begin() + 24);
  h[0] = 'X';
  CHECK(check(s, h).code == sg::errc::bad_magic);
  h.pop_back();
  CHECK(check(s, h).code == sg::errc::truncated);
}

TEST_CASE("a string field's checks run in the documented order", "[schema.doc]") {
  // net_rule field 3: host: string(64) in { "example.com", "example.org" }.
  const sg::schema& s = decl_schema();
  const sg::record_spec& net = *s.find(2);
  auto with_host = [&](const std::function<void(sg::payload_writer&)>& host) {
    sg::payload_writer w(s.id(), s.version());
    write_record(w, net, 0, 3, host);
    return w.finish();
  };
  // Too long and not in the set: field_too_long (length before the set).
  CHECK(check(s, with_host([](sg::payload_writer& w) { w.add_string(std::string(65, 'x')); })).code ==
        sg::errc::field_too_long);
  // Not UTF-8 and not in the set: invalid_utf8 (UTF-8 before the set).
  CHECK(check(s, with_host([](sg::payload_writer& w) { w.add_string("\xFF"); })).code == sg::errc::invalid_utf8);
  CHECK(check(s, with_host([](sg::payload_writer& w) { w.add_string("example.net"); })).code ==
        sg::errc::value_not_allowed);
  // A stated length above the maximum, in a body that ends before it:
  // field_too_long (the length before the body's end).
  const std::uint8_t huge[] = {10, 0xFF, 0xFF, 0xFF, 0xFF};
  CHECK(check(s, with_host([&](sg::payload_writer& w) { w.add_raw_field(sg::byte_view(huge, 5)); })).code ==
        sg::errc::field_too_long);
  // Within the maximum but beyond the body: truncated.
  const std::uint8_t short_body[] = {10, 60, 0, 0, 0, 'a'};
  const outcome o = check(s, with_host([&](sg::payload_writer& w) { w.add_raw_field(sg::byte_view(short_body, 6)); }));
  CHECK(o.code == sg::errc::truncated);
  CHECK(o.field == 3);
}

TEST_CASE("malformed records text is a syntax error whatever the record type declares", "[schema.doc]") {
  const sg::schema s = *sg::schema::from_decl(kRuleDecl);
  struct bad_case {
    const char* text;
    std::size_t column;
  };
  const bad_case cases[] = {
      {"note: \"a\",, \"b\"", 11},  // an empty value
      {"note: \"a\",", 11},         // a trailing comma (note has one field)
      {"note: , \"a\"", 7},         // a leading comma
      {"note: (\"a\")", 7},         // parentheses
      {"rule: 1,, 2", 9},
      {"rule: 1, 2,", 12},
      {"rule: , 1, 2", 7},
      {"rule: (1), 2", 7},
      {"rule: 1, 2, {", 13},
      {"rule: 1, ..", 10},
  };
  for (const auto& c : cases) {
    INFO("text: " << c.text);
    auto r = sg::compile_records_text(s, c.text);
    REQUIRE_FALSE(r.has_value());
    INFO("message: " << r.error().message);
    CHECK(r.error().code == sg::errc::records_syntax);
    CHECK(r.error().line == 1);
    CHECK(r.error().column == c.column);
  }
  // Well-formed lines keep their validation errcs.
  CHECK(compile_code(s, "note: \"a\", \"b\"") == sg::errc::field_count_mismatch);
  CHECK(compile_code(s, "note: 1") == sg::errc::field_type_mismatch);
}

TEST_CASE("a hex number starts with a lower-case 0x only", "[schema.doc]") {
  const std::string text = "schema \"h\" version 1\nrecord r = 1 {\n  field a: u16 range 0x10..0xFF\n}\n";
  const sg::schema s = parsed(text);
  CHECK(s.find(1)->fields[0].min_value().magnitude == 16);
  auto upper = sg::parse_schema_text(replaced(text, "0x10", "0X10"));
  REQUIRE_FALSE(upper.has_value());
  CHECK(upper.error().line == 3);
  CHECK(upper.error().column == 22);
  CHECK(upper.error().message.find("malformed number") != std::string::npos);
  CHECK(compile_code(s, "r: 0x20") == sg::errc::ok);
  CHECK(compile_code(s, "r: 0X20") == sg::errc::records_syntax);
  CHECK(compile_code(s, "r: 0xab") == sg::errc::ok);  // digits in either case
  CHECK(compile_code(s, "r: 0xAB") == sg::errc::ok);
}

TEST_CASE("NUL is a character like any other in strings and allowed sets", "[schema.doc]") {
  const std::string text =
      "schema \"n\" version 1\nrecord r = 1 {\n  field s: string(8) in { \"a\\0b\", \"a\" }\n  field t: string(8)\n}\n";
  const sg::schema s = parsed(text);
  const std::string nul_b("a\0b", 3);
  REQUIRE(s.find(1)->fields[0].allowed_strings.size() == 2);
  CHECK(s.find(1)->fields[0].allowed_strings[1] == nul_b);
  // Printed with an escape, read back the same.
  CHECK(s.to_text().find("\"a\\x00b\"") != std::string::npos);
  CHECK(parsed(s.to_text()).to_text() == s.to_text());
  // In a payload: compared byte for byte, never as a terminated C string.
  auto payload = [&](const std::string& v, const std::string& t) {
    sg::payload_writer w(s.id(), s.version());
    w.begin_record(1);
    w.add_string(v);
    w.add_string(t);
    return w.finish();
  };
  CHECK(check(s, payload(nul_b, std::string("\0\0", 2))).code == sg::errc::ok);
  CHECK(check(s, payload("a", "x")).code == sg::errc::ok);
  CHECK(check(s, payload(std::string("a\0", 2), "x")).code == sg::errc::value_not_allowed);
  CHECK(check(s, payload(std::string("a\0c", 3), "x")).code == sg::errc::value_not_allowed);
  auto bin = sg::compile_records_text(s, "r: \"a\\0b\", \"\\x00\"\n");
  REQUIRE(bin.has_value());
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  CHECK(v->record(0).get<std::string_view>(0)->value() == nul_b);
  CHECK(v->record(0).get<std::string_view>(1)->value().size() == 1);
}

TEST_CASE("an allowed value may appear once", "[schema.doc]") {
  auto ints = sg::parse_schema_text("schema \"d\" version 1\nrecord r = 1 {\n  field a: u8 in { 6, 17, 6 }\n}\n");
  REQUIRE_FALSE(ints.has_value());
  CHECK(ints.error().line == 3);
  CHECK(ints.error().column == 27);
  CHECK(ints.error().message.find("allowed value repeats") != std::string::npos);
  // 0x11 is 17 written another way: still a repeat.
  CHECK_FALSE(sg::parse_schema_text("schema \"d\" version 1\nrecord r = 1 {\n  field a: i8 in { 17, 0x11 }\n}\n"));
  auto strs = sg::parse_schema_text(
      "schema \"d\" version 1\nrecord r = 1 {\n  field s: string(4) in { \"a\", \"b\", \"\\x61\" }\n}\n");
  REQUIRE_FALSE(strs.has_value());
  CHECK(strs.error().column == 37);
  static constexpr std::int64_t twice[] = {1, 2, 1};
  static constexpr sg::field_decl twice_fields[] = {sg::fields::u8("a").allowed(twice)};
  static constexpr sg::record_decl twice_rec[] = {{1, "r", twice_fields}};
  constexpr sg::decl_issue is = sg::check_decl(sg::schema_decl{"d", 1, twice_rec});
  static_assert(!is.ok() && is.field == 0 && is.value == 2, "a repeated allowed value");
  static constexpr std::string_view twice_s[] = {"x", "x"};
  static constexpr sg::field_decl twice_s_fields[] = {sg::fields::string("s", 2).allowed(twice_s)};
  static constexpr sg::record_decl twice_s_rec[] = {{1, "r", twice_s_fields}};
  static_assert(!sg::check_decl(sg::schema_decl{"d", 1, twice_s_rec}).ok(), "a repeated allowed string");
}

TEST_CASE("keywords are not reserved: any identifier names a record, field or enum value", "[schema.doc]") {
  const std::string text =
      "schema \"k\" version 1\n"
      "record record = 1 {\n"
      "  field field: u8\n"
      "  field wildcard: u16 wildcard\n"
      "  field range: u8 range 1..2\n"
      "  field in: enum { true = 1, false = 0, schema = 2, version = 3 }\n"
      "  field u8: string(4) in { \"in\" }\n"
      "}\n"
      "record schema = 2 {\n"
      "  field version: bool\n"
      "}\n";
  const sg::schema s = parsed(text);
  const sg::record_spec& r = *s.find("record");
  REQUIRE(r.fields.size() == 5);
  CHECK(r.fields[0].name == "field");
  CHECK(r.fields[1].wildcard_ok);
  CHECK(r.fields[2].name == "range");
  CHECK(r.fields[2].has_range);
  CHECK(r.fields[3].enum_name(2) == "schema");
  CHECK(parsed(s.to_text()).to_text() == s.to_text());
  // In the records text, the field's type decides what a word means.
  auto bin = sg::compile_records_text(s, "record: 7, *, 2, true, \"in\"\nschema: true\nrecord: 1, 1, 1, false, \"in\"\n");
  if (!bin) FAIL(bin.error().message);
  auto v = sg::validate(s, *bin);
  REQUIRE(v.has_value());
  CHECK(v->record(0).get<sg::enum_code>(3)->value().code == 1);
  CHECK(v->record(1).get<bool>(0)->value());
  CHECK(v->record(2).get<sg::enum_code>(3)->value().code == 0);
  CHECK(compile_code(s, "schema: schema") == sg::errc::field_type_mismatch);  // a bool takes true or false
}

TEST_CASE("comments may hold any bytes, the last line needs no newline, CRLF reads as LF", "[schema.doc]") {
  const std::string lf = "# caf\xC3\xA9 \xFF\xFE bytes that are not UTF-8\n"
                         "schema \"c\" version 1   # \xE2\x82\xAC\n"
                         "record r = 1 {\n"
                         "  field a: u8 range 1..9 # \x80\n"
                         "  field s: string(8)\n"
                         "}";  // no newline after the last line
  const sg::schema s = parsed(lf);
  std::string crlf;
  for (char c : lf + "\n") {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  CHECK(parsed(crlf).to_text() == s.to_text());
  CHECK(parsed(lf + "\n").to_text() == s.to_text());

  const std::string records = "# \xC3\xA9t\xC3\xA9 \xFF\nr: 1, \"x\"  # \xFF\xFE\nr: 2, \"y\"";
  auto a = sg::compile_records_text(s, records);
  REQUIRE(a.has_value());
  auto b = sg::compile_records_text(s, records + "\n");
  REQUIRE(b.has_value());
  CHECK(*a == *b);
  auto c = sg::compile_records_text(s, records + "   # a comment at the very end");
  REQUIRE(c.has_value());
  CHECK(*a == *c);
  std::string records_crlf;
  for (char ch : records + "\n") {
    if (ch == '\n') records_crlf += '\r';
    records_crlf += ch;
  }
  auto d = sg::compile_records_text(s, records_crlf);
  if (!d) FAIL(d.error().message);
  CHECK(*a == *d);
  auto v = sg::validate(s, *d);
  REQUIRE(v.has_value());
  CHECK(v->record(1).get<std::string_view>(1)->value() == "y");  // no CR in the value

  // A raw CR inside a string is an error (write \r), in both forms.
  auto raw = sg::compile_records_text(s, "r: 1, \"x\r\"\n");
  REQUIRE_FALSE(raw.has_value());
  CHECK(raw.error().code == sg::errc::records_syntax);
  CHECK(raw.error().column == 7);
  auto raw_schema = sg::parse_schema_text("schema \"c\r\" version 1\nrecord r = 1 { }\n");
  REQUIRE_FALSE(raw_schema.has_value());
  CHECK(raw_schema.error().message.find("carriage return") != std::string::npos);
  auto escaped = sg::compile_records_text(s, "r: 1, \"x\\r\"\n");
  REQUIRE(escaped.has_value());
}

// ---------------------------------------------------------------------------
// List fields
// ---------------------------------------------------------------------------

namespace {
constexpr sg::enum_value kModes[] = {{"audit", 1}, {"enforce", 2}};
constexpr std::int64_t kTokenPorts[] = {22, 80, 443};
constexpr sg::field_decl kTokenRuleFields[] = {
    sg::fields::string("pattern", 64),
    sg::fields::string("tokens", 8).list(4),
    sg::fields::u16("ports").allowed(kTokenPorts).list(3).wildcard(),
    sg::fields::enumeration("modes", kModes).list(2),
    sg::fields::i8("weights").range(-5, 5).list(2),
    sg::fields::boolean("flags").list(2),
    sg::fields::u8("tail"),
};
constexpr sg::record_decl kTokenRule{5, "token_rule", kTokenRuleFields};
constexpr sg::record_decl kTokenRecords[] = {kTokenRule};
constexpr sg::schema_decl kTokenDecl{"lists", 1, kTokenRecords};
static_assert(sg::check_decl(kTokenDecl).ok(), "the list declaration is valid");
static_assert(std::is_same<sg::field_cpp_t<kTokenRule, 1>, sg::list_view<std::string_view>>::value,
              "a list of strings reads as list_view<string_view>");
static_assert(std::is_same<sg::field_cpp_t<kTokenRule, 3>, sg::list_view<sg::enum_code>>::value,
              "a list of enum values reads as list_view<enum_code>");
static_assert(sg::can_read_v<kTokenRule, 2, sg::list_view<std::uint16_t>>, "");
static_assert(!sg::can_read_v<kTokenRule, 2, std::uint16_t>, "a list is not its element");
static_assert(!sg::can_read_v<kTokenRule, 6, sg::list_view<std::uint8_t>>, "a scalar is not a list");

const char* const kTokenText =
    "schema \"lists\" version 1\n"
    "\n"
    "record token_rule = 5 {\n"
    "  field pattern: string(64)\n"
    "  field tokens: list<string(8)> max 4\n"
    "  field ports: list<u16> max 3 in { 22, 80, 443 } wildcard\n"
    "  field modes: list<enum { audit = 1, enforce = 2 }> max 2\n"
    "  field weights: list<i8> max 2 range -5..5\n"
    "  field flags: list<bool> max 2\n"
    "  field tail: u8\n"
    "}\n";

const sg::schema& token_schema() {
  static const sg::schema s = *sg::schema::from_decl(kTokenDecl);
  return s;
}

struct token_rule_values {
  std::string pattern = "mimikatz";
  std::vector<std::string> tokens = {"lsass", "sekurlsa"};
  bool ports_wildcard = false;
  std::vector<std::uint16_t> ports = {80, 443};
  std::vector<std::uint32_t> modes = {2};
  std::vector<std::int8_t> weights = {-5, 5};
  std::vector<bool> flags = {true, false};
  std::uint8_t tail = 7;
};

void write_token_rule(sg::payload_writer& w, const token_rule_values& v) {
  w.begin_record(kTokenRule.type_id);
  w.add_string(v.pattern);
  w.begin_list();
  for (const auto& t : v.tokens) w.add_string(t);
  w.end_list();
  if (v.ports_wildcard) {
    w.add_wildcard();
  } else {
    w.begin_list();
    for (auto p : v.ports) w.add_u16(p);
    w.end_list();
  }
  w.begin_list();
  for (auto m : v.modes) w.add_enum(m);
  w.end_list();
  w.begin_list();
  for (auto x : v.weights) w.add_i8(x);
  w.end_list();
  w.begin_list();
  for (bool f : v.flags) w.add_bool(f);
  w.end_list();
  w.add_u8(v.tail);
}

std::vector<std::uint8_t> token_payload(const std::vector<token_rule_values>& rules) {
  sg::payload_writer w(kTokenDecl.id, kTokenDecl.version);
  for (const auto& r : rules) write_token_rule(w, r);
  return w.finish();
}

// Validates one record built by `build` (after a valid "pattern" field) and
// returns the outcome.
outcome token_outcome(const std::function<void(sg::payload_writer&)>& build) {
  sg::payload_writer w(kTokenDecl.id, kTokenDecl.version);
  w.begin_record(kTokenRule.type_id);
  build(w);
  return check(token_schema(), w.finish());
}

// The fields after `upto` written valid, for error cases that break one field.
void rest_from(sg::payload_writer& w, std::size_t k) {
  const token_rule_values v;
  if (k <= 0) w.add_string(v.pattern);
  if (k <= 1) {
    w.begin_list();
    w.add_string("a");
    w.end_list();
  }
  if (k <= 2) w.add_wildcard();
  if (k <= 3) {
    w.begin_list();
    w.end_list();
  }
  if (k <= 4) {
    w.begin_list();
    w.end_list();
  }
  if (k <= 5) {
    w.begin_list();
    w.end_list();
  }
  if (k <= 6) w.add_u8(1);
}
}  // namespace

TEST_CASE("list fields are written, validated and read through typed views", "[schema.list]") {
  token_rule_values a;
  token_rule_values b;
  b.pattern = "second";
  b.tokens = {};
  b.ports_wildcard = true;
  b.modes = {1, 2};
  b.weights = {0};
  b.flags = {};
  b.tail = 255;
  const std::vector<std::uint8_t> bytes = token_payload({a, b});
  auto v = sg::validate(token_schema(), bytes);
  REQUIRE(v.has_value());
  auto rules = v->records_of<kTokenRule>();
  REQUIRE(rules.has_value());
  REQUIRE(rules->size() == 2);

  const auto r0 = (*rules)[0];
  CHECK(r0.value<0>() == "mimikatz");
  const sg::list_view<std::string_view> tokens = r0.value<1>();
  REQUIRE(tokens.count() == 2);
  CHECK(tokens.size() == 2);
  CHECK_FALSE(tokens.empty());
  std::vector<std::string> read(tokens.begin(), tokens.end());
  CHECK(read == std::vector<std::string>{"lsass", "sekurlsa"});
  CHECK(*tokens.at(1) == "sekurlsa");
  CHECK(tokens.at(2).error() == sg::errc::invalid_argument);  // past the end: an error, no abort
  CHECK(tokens.value_or(9, "none") == "none");
  CHECK(tokens.contains("lsass"));
  CHECK_FALSE(tokens.contains("lsas"));
  // An iterator outlives the temporary list_view it came from.
  const auto it = r0.value<1>().begin();
  CHECK(*it == "lsass");
  const sg::field_value<sg::list_view<std::uint16_t>> ports = r0.get<2>();
  REQUIRE(ports.has_value());
  CHECK(ports.value().count() == 2);
  CHECK(*ports.value().at(0) == 80);
  CHECK(*ports.value().at(1) == 443);
  const auto modes = r0.value<3>();
  REQUIRE(modes.count() == 1);
  CHECK(*modes.at(0) == sg::enum_code{2});
  const auto weights = r0.value<4>();
  REQUIRE(weights.count() == 2);
  CHECK(*weights.at(0) == -5);
  CHECK(*weights.at(1) == 5);
  const auto flags = r0.value<5>();
  REQUIRE(flags.count() == 2);
  CHECK(*flags.at(0));
  CHECK_FALSE(*flags.at(1));
  CHECK(r0.value<6>() == 7);  // the field after the lists is where the index says

  const auto r1 = (*rules)[1];
  CHECK(r1.value<0>() == "second");
  CHECK(r1.value<1>().empty());
  CHECK(r1.value<1>().begin() == r1.value<1>().end());
  CHECK(r1.get<2>().is_wildcard());           // the whole list is a wildcard
  CHECK(r1.get<2>().value().count() == 0);    // and reads as an empty list, without aborting
  CHECK(r1.value<3>().count() == 2);
  CHECK(r1.value<3>().contains(sg::enum_code{1}));
  CHECK(r1.value<4>().value_or(0, 9) == 0);
  CHECK(r1.value<5>().empty());
  CHECK(r1.value<6>() == 255);

  // The runtime views: the type checked at run time, elements one by one.
  const sg::record_view u = v->record(0);
  auto as_list = u.get<sg::list_view<std::string_view>>(1);
  REQUIRE(as_list.has_value());
  CHECK(as_list->value().count() == 2);
  CHECK(u.get<std::string_view>(1).error() == sg::errc::field_type_mismatch);
  CHECK(u.get<sg::list_view<std::string_view>>(0).error() == sg::errc::field_type_mismatch);
  CHECK(u.get<sg::list_view<std::uint32_t>>(2).error() == sg::errc::field_type_mismatch);
  CHECK(u.read_typed<sg::list_view<std::uint16_t>>(2).value().count() == 2);
  auto any = u.field(1);
  REQUIRE(any.has_value());
  CHECK(any->list);
  CHECK(any->type == sg::field_type::string);
  CHECK(any->count == 2);
  auto e1 = u.element(1, 1);
  REQUIRE(e1.has_value());
  CHECK(e1->as_string() == "sekurlsa");
  CHECK(u.element(2, 1)->as_unsigned() == 443);
  CHECK(u.element(4, 0)->as_signed() == -5);
  CHECK(u.element(1, 2).error() == sg::errc::invalid_argument);
  CHECK(u.element(0, 0).error() == sg::errc::invalid_argument);  // not a list
  CHECK(u.element(99, 0).error() == sg::errc::invalid_argument);
  CHECK(v->record(1).field(2)->wildcard);
  CHECK(v->record(1).element(2, 0).error() == sg::errc::invalid_argument);  // a wildcard has no elements
  CHECK(u.field(6)->as_unsigned() == 7);
}

TEST_CASE("list fields: the count and each element's constraints are validated", "[schema.list]") {
  using W = sg::payload_writer;
  struct bad_case {
    const char* what;
    std::function<void(W&)> build;
    sg::errc code;
    std::size_t field;
  };
  const std::vector<bad_case> cases = {
      {"five tokens, max 4",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         for (int i = 0; i < 5; ++i) w.add_string("t");
         w.end_list();
         rest_from(w, 2);
       },
       sg::errc::field_too_long, 1},
      {"a token over 8 bytes",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.add_string("ok");
         w.add_string("ninebytes");
         w.end_list();
         rest_from(w, 2);
       },
       sg::errc::field_too_long, 1},
      {"a token not UTF-8",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.add_string("\xC0\xAF");
         w.end_list();
         rest_from(w, 2);
       },
       sg::errc::invalid_utf8, 1},
      {"a valid record (what the other cases break one field of)",
       [](W& w) {
         rest_from(w, 0);
       },
       sg::errc::ok, sg::validation_error::npos},
      {"a port outside the allowed set",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.end_list();
         w.begin_list();
         w.add_u16(22);
         w.add_u16(23);
         w.end_list();
         rest_from(w, 3);
       },
       sg::errc::value_not_allowed, 2},
      {"a mode code the enum does not declare",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.end_list();
         w.add_wildcard();
         w.begin_list();
         w.add_enum(3);
         w.end_list();
         rest_from(w, 4);
       },
       sg::errc::value_not_allowed, 3},
      {"a weight outside -5..5",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.end_list();
         w.add_wildcard();
         w.begin_list();
         w.end_list();
         w.begin_list();
         w.add_i8(-6);
         w.end_list();
         rest_from(w, 5);
       },
       sg::errc::field_out_of_range, 4},
      {"a wildcard element",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.add_wildcard();
         w.end_list();
         rest_from(w, 2);
       },
       sg::errc::wildcard_not_allowed, 1},
      {"an element of another type",
       [](W& w) {
         w.add_string("p");
         w.begin_list();
         w.add_bytes(sg::byte_view(std::string_view("b")));
         w.end_list();
         rest_from(w, 2);
       },
       sg::errc::field_type_mismatch, 1},
      {"a scalar where the list belongs",
       [](W& w) {
         w.add_string("p");
         w.add_string("t");
         rest_from(w, 2);
       },
       sg::errc::field_type_mismatch, 1},
      {"a wildcard list where the field allows none",
       [](W& w) {
         w.add_string("p");
         w.add_wildcard();
         rest_from(w, 2);
       },
       sg::errc::wildcard_not_allowed, 1},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const outcome o = token_outcome(c.build);
    CHECK(o.code == c.code);
    CHECK(o.field == c.field);
    if (c.code != sg::errc::ok) CHECK(o.record == 0);
  }
  // Messages name the element (the example of docs/SCHEMA.md).
  CHECK(token_outcome(cases[1].build).message ==
        "record 0 (token_rule, type 5) field 1 (tokens: list<string>) element 1: length 9 exceeds the maximum of 8");
  CHECK(token_outcome(cases[0].build).message ==
        "record 0 (token_rule, type 5) field 1 (tokens: list<string>): the list holds 5 elements, more than its "
        "maximum of 4");

  // A bool element that is neither 0 nor 1, a list tag on a scalar field,
  // and counts the bytes cannot hold: written raw.
  {
    const outcome o = token_outcome([](W& w) {
      w.add_string("p");
      w.begin_list();
      w.end_list();
      w.add_wildcard();
      w.begin_list();
      w.end_list();
      w.begin_list();
      w.end_list();
      w.begin_list();
      const std::uint8_t two[] = {9, 2};
      w.add_raw_field(sg::byte_view(two, 2));
      w.end_list();
      w.add_u8(1);
    });
    CHECK(o.code == sg::errc::field_type_mismatch);
    CHECK(o.field == 5);
    CHECK(o.message.find("element 0") != std::string::npos);
  }
  {
    // A list where the scalar tail belongs.
    const outcome t = token_outcome([](W& w) {
      w.add_string("p");
      w.begin_list();
      w.end_list();
      w.add_wildcard();
      for (int i = 0; i < 3; ++i) {
        w.begin_list();
        w.end_list();
      }
      w.begin_list();
      w.add_u8(1);
      w.end_list();
    });
    CHECK(t.code == sg::errc::field_type_mismatch);
    CHECK(t.field == 6);
  }
  for (const std::uint32_t stated : {2u, 3u, 4u, 0xFFFFFFFFu}) {
    INFO("a list stating " << stated << " elements, holding 1");
    const outcome o = token_outcome([stated](W& w) {
      w.add_string("p");
      std::uint8_t raw[7] = {sg::list_tag, 0, 0, 0, 0, 10, 0};
      sg::detail::store_le32(raw + 1, stated);
      // One element: a string tag and the first byte of its length.
      w.add_raw_field(sg::byte_view(raw, sizeof raw));
      for (int k = 2; k < 7; ++k) w.add_raw_field(sg::byte_view());  // the count says 7 fields
    });
    CHECK(o.code == (stated > 4 ? sg::errc::field_too_long : sg::errc::truncated));
    CHECK(o.field == 1);
  }
  // The body ends inside an element.
  const outcome cut = token_outcome([](W& w) {
    w.add_string("p");
    const std::uint8_t raw[] = {sg::list_tag, 1, 0, 0, 0, 10, 5, 0, 0, 0, 'a', 'b'};
    w.add_raw_field(sg::byte_view(raw, sizeof raw));
    for (int k = 2; k < 7; ++k) w.add_raw_field(sg::byte_view());
  });
  CHECK(cut.code == sg::errc::truncated);
  CHECK(cut.field == 1);
}

TEST_CASE("list fields in the schema text: parse, print, export and compare", "[schema.list]") {
  auto parsed_text = sg::parse_schema_text(kTokenText);
  REQUIRE(parsed_text.has_value());
  CHECK(parsed_text->to_text() == kTokenText);
  CHECK(sg::schema::from_text_checked(kTokenText, kTokenDecl).has_value());
  CHECK(token_schema().to_text() == kTokenText);
  auto exported = sg::export_schema_text(kTokenDecl);
  REQUIRE(exported.has_value());
  CHECK(exported->find("  field tokens: list<string(8)> max 4\n") != std::string::npos);
  CHECK(sg::parse_schema_text(*exported)->to_text() == kTokenText);

  // Differences from the declaration are found and named.
  const std::string text(kTokenText);
  struct diff {
    std::string from, to, says;
  };
  for (const diff& d : {diff{"list<string(8)> max 4", "list<string(8)> max 5", "list differs"},
                        diff{"list<string(8)> max 4", "string(8)", "list differs"},
                        diff{"field tail: u8", "field tail: list<u8> max 1", "list differs"},
                        diff{"list<i8> max 2 range -5..5", "list<i8> max 2 range -5..4", "range differs"},
                        diff{"list<u16> max 3", "list<u32> max 3", "type differs"}}) {
    INFO(d.to);
    const std::string changed = replaced(text, d.from, d.to);
    auto c = sg::schema::from_text_checked(changed, kTokenDecl);
    REQUIRE_FALSE(c.has_value());
    CHECK(c.error().code == sg::errc::schema_mismatch);
    CHECK(c.error().message.find(d.says) != std::string::npos);
  }

  // Errors in the text, with their positions.
  struct bad {
    const char* field;
    std::size_t column;
    const char* says;
  };
  for (const bad& b : {bad{"field t: list<u8>", 0, "expected 'max'"},
                       bad{"field t: list<u8> max 0", 25, "maximum count"},
                       bad{"field t: list<u8> max 65536", 25, "out of range"},
                       bad{"field t: list<list<u8> max 2> max 2", 17, "not a list"},
                       bad{"field t: list u8 max 2", 17, "expected '<'"},
                       bad{"field t: list<u9> max 2", 17, "unknown field type"},
                       bad{"field t: list<u8 max 2", 20, "expected '>'"},
                       bad{"field t: list<u8> max 2 range 1..300", 36, "outside the values of u8"},
                       bad{"field t: list<string(2)> max 2 in { \"abc\" }", 39, "longer than"}}) {
    INFO(b.field);
    const std::string t = std::string("schema \"x\" version 1\nrecord r = 1 {\n  ") + b.field + "\n}\n";
    auto r = sg::parse_schema_text(t);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == sg::errc::schema_invalid);
    CHECK(r.error().line == (b.column == 0 ? 4u : 3u));
    if (b.column != 0) CHECK(r.error().column == b.column);
    CHECK(r.error().message.find(b.says) != std::string::npos);
  }
}

TEST_CASE("list declarations are checked", "[schema.list]") {
  static constexpr sg::field_decl zero[] = {sg::fields::u8("a").list(0)};
  static constexpr sg::field_decl huge[] = {sg::fields::u8("a").list(65536)};
  static constexpr sg::field_decl ok[] = {sg::fields::u8("a").list(65535)};
  static constexpr sg::record_decl rz[] = {sg::record_decl{1, "r", zero}};
  static constexpr sg::record_decl rh[] = {sg::record_decl{1, "r", huge}};
  static constexpr sg::record_decl ro[] = {sg::record_decl{1, "r", ok}};
  static_assert(!sg::check_decl(sg::schema_decl{"x", 1, rz}).ok(), "max 0 is refused");
  static_assert(!sg::check_decl(sg::schema_decl{"x", 1, rh}).ok(), "max 65536 is refused");
  static_assert(sg::check_decl(sg::schema_decl{"x", 1, ro}).ok(), "max 65535 is accepted");
  CHECK(std::string(sg::check_decl(sg::schema_decl{"x", 1, rz}).what) == "a list's maximum count is not 1 to 65535");
  sg::field_decl stray = sg::fields::u8("a");
  stray.list_max = 3;  // a count on a field that is no list
  const sg::record_decl rs[] = {sg::record_decl{1, "r", &stray, 1}};
  CHECK(std::string(sg::check_decl(sg::schema_decl{"x", 1, rs, 1}).what) ==
        "a maximum count applies only to list fields");
}

TEST_CASE("list fields in the records text", "[schema.list]") {
  const sg::schema& s = token_schema();
  const std::string good =
      "token_rule: \"mimikatz\", [\"lsass\", \"sekurlsa\"], [80, 443], [enforce], [-5, 5], [true, false], 7\n"
      "token_rule: \"second\", [], *, [audit, 2], [0], [], 255\n";
  auto bin = sg::compile_records_text(s, good);
  REQUIRE(bin.has_value());
  token_rule_values a;
  token_rule_values b;
  b.pattern = "second";
  b.tokens = {};
  b.ports_wildcard = true;
  b.modes = {1, 2};
  b.weights = {0};
  b.flags = {};
  b.tail = 255;
  CHECK(*bin == token_payload({a, b}));  // the same bytes as the writer's

  struct bad {
    const char* line;
    sg::errc code;
    std::size_t column;
  };
  for (const bad& c : {
           bad{"token_rule: \"p\", [\"a\", \"b\", \"c\", \"d\", \"e\"], *, [], [], [], 1", sg::errc::field_too_long, 39},
           bad{"token_rule: \"p\", [\"toolongtoken\"], *, [], [], [], 1", sg::errc::field_too_long, 19},
           bad{"token_rule: \"p\", [*], *, [], [], [], 1", sg::errc::wildcard_not_allowed, 19},
           bad{"token_rule: \"p\", *, *, [], [], [], 1", sg::errc::wildcard_not_allowed, 18},
           bad{"token_rule: \"p\", \"a\", *, [], [], [], 1", sg::errc::field_type_mismatch, 18},
           bad{"token_rule: \"p\", [\"a\"], [21], [], [], [], 1", sg::errc::value_not_allowed, 26},
           bad{"token_rule: \"p\", [\"a\"], *, [stop], [], [], 1", sg::errc::value_not_allowed, 29},
           bad{"token_rule: \"p\", [\"a\"], *, [], [6], [], 1", sg::errc::field_out_of_range, 33},
           bad{"token_rule: \"p\", [\"a\"], *, [], [], [1], 1", sg::errc::field_type_mismatch, 37},
           bad{"token_rule: \"p\", [\"a\"], *, [], [], [], [1]", sg::errc::field_type_mismatch, 40},
           bad{"token_rule: \"p\", [\"a\" \"b\"], *, [], [], [], 1", sg::errc::records_syntax, 23},
           bad{"token_rule: \"p\", [\"a\",], *, [], [], [], 1", sg::errc::records_syntax, 23},
           bad{"token_rule: \"p\", [[\"a\"]], *, [], [], [], 1", sg::errc::records_syntax, 19},
           bad{"token_rule: \"p\", [\"a\"", sg::errc::records_syntax, 22},
       }) {
    INFO(c.line);
    auto r = sg::compile_records_text(s, c.line);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == c.code);
    CHECK(r.error().line == 1);
    CHECK(r.error().column == c.column);
  }
}

TEST_CASE("list views read only inside what validation established, whatever the bytes become",
          "[schema.list]") {
  token_rule_values a;
  token_rule_values b;
  b.ports_wildcard = true;
  b.tokens = {"x", "yy", "zzz", "w"};
  const std::vector<std::uint8_t> original = token_payload({a, b});
  REQUIRE(check(token_schema(), original).code == sg::errc::ok);
  // Validated once, then each byte changed in turn: reads stay inside the
  // payload (AddressSanitizer builds check that) and counts stay the
  // validated ones.
  std::vector<std::uint8_t> bytes = original;
  auto v = sg::validate(token_schema(), bytes);
  REQUIRE(v.has_value());
  auto rules = v->records_of<kTokenRule>();
  REQUIRE(rules.has_value());
  std::size_t checked = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (std::uint8_t x : {std::uint8_t{0x00}, std::uint8_t{0xFF}, std::uint8_t{0x7F}}) {
      bytes[i] = x;
      std::size_t total = 0;
      for (auto r : *rules) {
        for (std::string_view t : r.value<1>()) total += t.size();
        for (std::uint16_t p : r.get<2>().value()) total += p & 1u;
        for (sg::enum_code m : r.value<3>()) total += m.code & 1u;
        total += r.value<4>().count() + r.value<5>().count();
      }
      CHECK((*rules)[0].value<1>().count() == 2);
      CHECK((*rules)[1].value<1>().count() == 4);
      CHECK((*rules)[1].value<1>().at(3)->size() == 1);
      ++checked;
      (void)total;
      bytes[i] = original[i];
    }
  }
  CHECK(checked == original.size() * 3);
  // And every single-byte change validated afresh is rejected or reads back.
  for (std::size_t i = 0; i < original.size(); ++i) {
    std::vector<std::uint8_t> changed = original;
    changed[i] ^= 0x41;
    auto w = sg::validate(token_schema(), changed);
    if (!w) continue;
    auto rs = w->records_of<kTokenRule>();
    REQUIRE(rs.has_value());
    for (auto r : *rs) {
      CHECK(r.value<1>().count() <= 4);
      CHECK(r.value<3>().count() <= 2);
      for (std::string_view t : r.value<1>()) CHECK(t.size() <= 8);
    }
  }
}
