// SPDX-License-Identifier: Apache-2.0
// Fuzzes parse_schema_text: any text must parse or fail with a position
// inside the text, never crash or read out of bounds; a schema that parses
// must print (to_text) to text that parses back to the same schema.
#include <slotguard/schema.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

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
  return 0;
}
