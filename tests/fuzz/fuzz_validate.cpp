// SPDX-License-Identifier: Apache-2.0
// Fuzzes validate() and the views over a fixed schema (the one in
// tests/data/schema/edr.schema, and a record type of list fields): any
// bytes must be rejected with an errc or
// accepted, never crash or read out of bounds; every field of every accepted
// record must read back, through the runtime and the typed views.
#include <slotguard/schema.hpp>

#include "../edr_schema.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
namespace sg = slotguard;

using namespace edr_test;  // the schema of the schema tests: tests/edr_schema.hpp
// Lists: a bounded count of elements, each checked as a field.
constexpr sg::field_decl kListFields[] = {
    sg::fields::string("tokens", 8).list(4),
    sg::fields::u16("ports").allowed(kRemotePorts).list(3).wildcard(),
    sg::fields::enumeration("actions", kActions).list(2),
    sg::fields::i8("weights").range(-5, 5).list(3),
    sg::fields::u8("tail"),
};
constexpr sg::record_decl kList{3, "list_rule", kListFields};
constexpr sg::record_decl kRecords[] = {kProcessRule, kNetRule, kList};
constexpr sg::schema_decl kDecl{"edr.rules", 3, kRecords};

const sg::schema& fixed_schema() {
  static const sg::schema s = [] {
    auto r = sg::schema::from_decl(kDecl);
    if (!r) std::abort();
    return *r;
  }();
  return s;
}

// Touches every byte a view hands out, so a sanitizer sees any bad span.
std::uint64_t consume(sg::byte_view b) {
  std::uint64_t h = 0;
  for (std::uint8_t c : b) h = h * 31 + c;
  return h;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sg::schema& s = fixed_schema();
  sg::validate_limits limits;
  limits.max_records = 1u << 16;
  limits.max_bytes = 1u << 22;
  auto v = sg::validate(s, sg::byte_view(data, size), limits);
  if (!v) {
    if (v.error().code == sg::errc::ok || v.error().message.empty()) std::abort();
    return 0;
  }
  volatile std::uint64_t sink = 0;
  for (std::size_t i = 0; i < v->record_count(); ++i) {
    const auto rec = v->record(i);
    for (std::size_t k = 0; k < rec.field_count(); ++k) {
      auto f = rec.field(k);
      if (!f) std::abort();
      sink = sink + f->bits + consume(f->data);
      if (f->list) {
        for (std::size_t j = 0; j < f->count; ++j) {
          auto e = rec.element(k, j);
          if (!e || e->wildcard || e->list) std::abort();
          sink = sink + e->bits + consume(e->data);
        }
        if (rec.element(k, f->count)) std::abort();
      }
    }
  }
  auto procs = v->records_of<kProcessRule>();
  auto nets = v->records_of<kNetRule>();
  auto lists = v->records_of<kList>();
  if (!procs || !nets || !lists) std::abort();
  if (procs->size() + nets->size() + lists->size() != v->record_count()) std::abort();
  for (auto r : *lists) {
    const sg::list_view<std::string_view> tokens = r.value<0>();
    if (tokens.count() > 4) std::abort();
    std::size_t n = 0;
    for (std::string_view t : tokens) {
      if (t.size() > 8 || t != *tokens.at(n)) std::abort();
      ++n;
    }
    if (n != tokens.count() || tokens.at(n)) std::abort();
    const auto ports = r.get<1>();
    if (ports.is_wildcard() == ports.has_value()) std::abort();
    if (ports.is_wildcard() && !ports.value().empty()) std::abort();
    for (std::uint16_t p : ports.value())
      if (p != 22 && p != 80 && p != 443) std::abort();
    if (ports.value().count() > 3) std::abort();
    for (sg::enum_code a : r.value<2>())
      if (a.code != 0 && a.code != 1 && a.code != 2 && a.code != 9) std::abort();
    for (std::int8_t w : r.value<3>())
      if (w < -5 || w > 5) std::abort();
    if (r.value<2>().count() > 2 || r.value<3>().count() > 3) std::abort();
    sink = sink + r.value<4>();
  }
  for (auto r : *procs) {
    const auto level = r.get<0>();
    if (!level.has_value() || level.value() < 1 || level.value() > 5) std::abort();
    // A field declared without a wildcard reads as its value.
    if (r.value<0>() != level.value() || r.value<11>() != r.get<11>().value()) std::abort();
    if (r.value<10>().size() != r.get<10>().value().size() || r.value<10>().size() > 32) std::abort();
    const auto image = r.get<9>();
    if (image.has_value()) sink = sink + image.value().size();
    if (!r.get<11>().has_value()) std::abort();
  }
  for (auto r : *nets) {
    const auto big = r.get<6>();
    if (!big.has_value() || big.value() < 18446744073709551600ull) std::abort();
    const auto host = r.get<3>();
    if (host.has_value() && host.value() != "example.com" && host.value() != "example.org") std::abort();
    if (host.is_wildcard() != !host.as_optional().has_value() || !host.is_wildcard() != host.has_value()) std::abort();
    if (r.value<6>() != big.value() || (r.value<0>() != 6 && r.value<0>() != 17)) std::abort();
  }
  (void)sink;
  return 0;
}
