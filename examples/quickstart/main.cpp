// SPDX-License-Identifier: Apache-2.0
// slotguard's error model at a glance: every fallible call returns a result
// that holds a value or an errc naming the reason.
#include <slotguard/slotguard.hpp>

#include <cstdio>

namespace sg = slotguard;

static sg::result<unsigned> field_count(unsigned declared, unsigned supplied) {
  if (declared != supplied) return sg::errc::field_count_mismatch;
  return supplied;
}

int main() {
  std::printf("slotguard %d.%d.%d\n", SLOTGUARD_VERSION_MAJOR, SLOTGUARD_VERSION_MINOR,
              SLOTGUARD_VERSION_PATCH);
  auto good = field_count(20, 20);
  auto bad = field_count(21, 20);
  std::printf("20 declared, 20 supplied: %s\n", good ? "accepted" : sg::to_string(good.error()));
  std::printf("21 declared, 20 supplied: %s (%s)\n", bad ? "accepted" : sg::to_string(bad.error()),
              bad ? "" : sg::describe(bad.error()));
  return good && !bad ? 0 : 1;
}
