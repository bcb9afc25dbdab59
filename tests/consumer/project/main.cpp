// SPDX-License-Identifier: Apache-2.0
#include <slotguard/slotguard.hpp>

#include <cstdio>

int main() {
  slotguard::result<int> r = slotguard::errc::busy;
  if (r || r.error() != slotguard::errc::busy) return 1;
  std::printf("consumer built against slotguard %d.%d.%d\n", SLOTGUARD_VERSION_MAJOR,
              SLOTGUARD_VERSION_MINOR, SLOTGUARD_VERSION_PATCH);
  return 0;
}
