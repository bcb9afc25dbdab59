// SPDX-License-Identifier: Apache-2.0
#include <slotguard/slotguard.hpp>

#include <cstdio>
#include <string_view>

int main() {
  slotguard::result<int> r = slotguard::errc::busy;
  if (r || r.error() != slotguard::errc::busy) return 1;
  // Code that a separately compiled program gets from its implementation
  // unit: SHA-256 of "abc" (FIPS 180-2, appendix B.1) starts ba 78, ends ad.
  const slotguard::sha256_digest d = slotguard::sha256_of(slotguard::byte_view(std::string_view("abc")));
  if (d[0] != 0xba || d[1] != 0x78 || d[31] != 0xad) return 1;
  std::printf("consumer built against slotguard %d.%d.%d (%s)\n", SLOTGUARD_VERSION_MAJOR,
              SLOTGUARD_VERSION_MINOR, SLOTGUARD_VERSION_PATCH,
              SLOTGUARD_CONFIG_SEPARATE_COMPILATION ? "compiled separately" : "header-only");
  return 0;
}
