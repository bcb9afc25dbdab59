// SPDX-License-Identifier: Apache-2.0
// Fuzzes parse_schema_text: any text must parse or fail with a position
// inside the text, never crash or read out of bounds; a schema that parses
// must print (to_text) to text that parses back to the same schema, and,
// rebuilt as a C++ declaration, must be that declaration exactly
// (check_against), export as its own text, and load checked against it.
#include <slotguard/schema.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {
namespace sg = slotguard;

// Declaration tables over a runtime schema, owning what they point at.
struct owned_decl {
  std::vector<std::vector<sg::field_decl>> fields;
  std::vector<std::vector<std::int64_t>> signed_values;
  std::vector<std::vector<std::uint64_t>> unsigned_values;
  std::vector<std::vector<std::string_view>> strings;
  std::vector<std::vector<sg::enum_value>> enums;
  std::vector<sg::record_decl> records;
  sg::schema_decl decl;

  explicit owned_decl(const sg::schema& s) {
    const std::size_t n = s.record_type_count();
    fields.resize(n);
    std::size_t total = 0;
    for (std::size_t r = 0; r < n; ++r) total += s.record_type(r).fields.size();
    // Reserved up front: the tables point into these vectors.
    signed_values.reserve(total);
    unsigned_values.reserve(total);
    strings.reserve(total);
    enums.reserve(total);
    for (std::size_t r = 0; r < n; ++r) {
      const sg::record_spec& rs = s.record_type(r);
      for (const sg::field_spec& f : rs.fields) {
        sg::field_decl d{};
        d.name = f.name;
        d.type = f.type;
        d.is_list = f.is_list;
        d.list_max = f.list_max;
        d.wildcard_ok = f.wildcard_ok;
        d.has_range = f.has_range;
        d.min = f.min_value();
        d.max = f.max_value();
        d.max_length = f.max_length;
        if (sg::is_integer(f.type) && !f.allowed.empty()) {
          if (sg::is_signed_integer(f.type)) {
            signed_values.emplace_back();
            for (std::uint64_t b : f.allowed) {
              const auto v = sg::detail::unbias(f.type, b);
              signed_values.back().push_back(v.negative ? static_cast<std::int64_t>(std::uint64_t{0} - v.magnitude)
                                                        : static_cast<std::int64_t>(v.magnitude));
            }
            d.allowed_signed = signed_values.back().data();
          } else {
            unsigned_values.emplace_back(f.allowed);
            d.allowed_unsigned = unsigned_values.back().data();
          }
          d.allowed_count = f.allowed.size();
        }
        if (!f.allowed_strings.empty()) {
          strings.emplace_back(f.allowed_strings.begin(), f.allowed_strings.end());
          d.allowed_strings = strings.back().data();
          d.allowed_count = f.allowed_strings.size();
        }
        if (f.type == sg::field_type::enumeration) {
          enums.emplace_back();
          for (const auto& e : f.enum_values) enums.back().push_back(sg::enum_value{e.name, e.code});
          d.enum_values = enums.back().data();
          d.enum_count = enums.back().size();
        }
        fields[r].push_back(d);
      }
      records.emplace_back(rs.type_id, std::string_view(rs.name), fields[r].data(), fields[r].size());
    }
    decl = sg::schema_decl(s.id(), s.version(), records.data(), records.size());
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto s = slotguard::parse_schema_text(text);
  if (!s) {
    const auto& e = s.error();
    if (e.code != slotguard::errc::schema_invalid && e.code != slotguard::errc::too_large) std::abort();
    if (e.line == 0 || e.column == 0 || e.message.empty()) std::abort();
    return 0;
  }
  const std::string printed = s->to_text();
  auto again = slotguard::parse_schema_text(printed);
  if (!again || again->to_text() != printed) std::abort();
  if (again->id() != s->id() || again->version() != s->version()) std::abort();

  const owned_decl d(*s);
  if (!sg::check_decl(d.decl).ok()) std::abort();
  if (!s->check_against(d.decl)) std::abort();
  for (const auto& r : d.records)
    if (!s->declares_exactly(r)) std::abort();
  auto exported = sg::export_schema_text(d.decl);
  if (!exported || exported->size() < printed.size() ||
      exported->compare(exported->size() - printed.size(), printed.size(), printed) != 0)
    std::abort();
  if (!sg::schema::from_text_checked(*exported, d.decl)) std::abort();
  if (!sg::schema::from_text_checked(text, d.decl)) std::abort();
  return 0;
}
