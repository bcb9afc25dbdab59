// SPDX-License-Identifier: Apache-2.0
// Feeds arbitrary text to both PEM key parsers. Neither may crash, read out
// of bounds or return anything but a key, pem_invalid or key_invalid; a key
// that parses must survive a round trip through the writer unchanged.
#include <slotguard/pem.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace slotguard;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  const auto seed = parse_private_key_pem(text);
  if (seed.has_value()) {
    const auto again = parse_private_key_pem(private_key_pem(*seed));
    if (!again.has_value() || *again != *seed) std::abort();
  } else if (seed.error() != errc::pem_invalid && seed.error() != errc::key_invalid) {
    std::abort();
  }

  const auto key = parse_public_key_pem(text);
  if (key.has_value()) {
    const auto again = parse_public_key_pem(public_key_pem(*key));
    if (!again.has_value() || *again != *key) std::abort();
  } else if (key.error() != errc::pem_invalid && key.error() != errc::key_invalid) {
    std::abort();
  }
  return 0;
}
