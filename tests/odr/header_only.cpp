// SPDX-License-Identifier: Apache-2.0
// Built only into a separately compiled program (SLOTGUARD_SEPARATE_COMPILATION
// in CMake): this unit is header-only nonetheless, as a unit of a library
// that knows nothing of the program's setting would be. It must link beside
// the separately compiled units as a copy of its own (its own inline
// namespace), not leave references to code that only they define.
#undef SLOTGUARD_CONFIG_SEPARATE_COMPILATION
#define SLOTGUARD_CONFIG_SEPARATE_COMPILATION 0
#include <slotguard/hash.hpp>

#include <string>

#define ODR_STR2(x) #x
#define ODR_STR(x) ODR_STR2(x)

std::string header_only_tu_namespace() { return ODR_STR(SLOTGUARD_ABI_NAMESPACE); }
std::string header_only_tu_hash(const std::string& s) {
  const auto d = slotguard::sha256_of(slotguard::byte_view(s));
  return std::string(d.begin(), d.end());
}
