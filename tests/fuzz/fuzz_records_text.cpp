// SPDX-License-Identifier: Apache-2.0
// Fuzzes compile_records_text against a fixed schema (the one in
// tests/data/schema/edr.schema, and a record type of list fields): any text
// must compile or fail with a
// position, and whatever compiles must validate and read back through the
// views without error.
#include <slotguard/schema.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {
constexpr std::string_view kSchemaText = R"(schema "edr.rules" version 3
record process_rule = 1 {
  field level: u8 range 1..5
  field port: u16 range 1..65535 wildcard
  field pid: u32 range 1..4194304 wildcard
  field size: u64 range 0..1099511627776
  field nice: i8 range -20..19
  field delta: i16 range -1000..1000
  field offset: i32 range -65536..65535
  field stamp: i64
  field elevated: bool wildcard
  field image: string(16) wildcard
  field digest: bytes(32)
  field action: enum { allow = 0, alert = 1, block = 2, kill = 9 }
}
record net_rule = 2 {
  field proto: u8 in { 6, 17 }
  field remote_port: u16 in { 22, 80, 443 } wildcard
  field weight: i64 in { -1, 0, 1 }
  field host: string(64) in { "example.com", "example.org" } wildcard
  field payload: bytes(8) wildcard
  field verdict: enum { pass = 100, drop = 200 } wildcard
  field big: u64 range 18446744073709551600..18446744073709551615
  field tiny: i8
}
record pair = 3 {
  field a: u32 wildcard
  field b: string(8) wildcard
}
record list_rule = 4 {
  field tokens: list<string(8)> max 4
  field ports: list<u16> max 3 in { 22, 80, 443 } wildcard
  field actions: list<enum { allow = 0, block = 2 }> max 2
  field tail: u8
}
)";

const slotguard::schema& fixed_schema() {
  static const slotguard::schema s = [] {
    auto r = slotguard::parse_schema_text(kSchemaText);
    if (!r) std::abort();
    return *r;
  }();
  return s;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const slotguard::schema& s = fixed_schema();
  slotguard::validate_limits limits;
  limits.max_records = 4096;
  limits.max_bytes = 1u << 20;
  auto bin = slotguard::compile_records_text(s, std::string_view(reinterpret_cast<const char*>(data), size), limits);
  if (!bin) {
    if (bin.error().message.empty() || bin.error().code == slotguard::errc::internal) std::abort();
    return 0;
  }
  auto v = slotguard::validate(s, *bin, limits);
  if (!v) std::abort();
  for (std::size_t i = 0; i < v->record_count(); ++i) {
    const auto rec = v->record(i);
    for (std::size_t k = 0; k < rec.field_count(); ++k) {
      auto f = rec.field(k);
      if (!f) std::abort();
      if (f->list) {
        for (std::size_t j = 0; j < f->count; ++j)
          if (!rec.element(k, j)) std::abort();
        if (rec.element(k, f->count)) std::abort();
      }
    }
    if (rec.field(rec.field_count())) std::abort();
  }
  return 0;
}
