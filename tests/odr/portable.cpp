// SPDX-License-Identifier: Apache-2.0
// Built with SLOTGUARD_CONFIG_NO_HW_ACCEL=1 (see CMakeLists.txt).
#include <slotguard/hash.hpp>

#include <string>

#if !SLOTGUARD_CONFIG_NO_HW_ACCEL
#error "this file must be built with SLOTGUARD_CONFIG_NO_HW_ACCEL=1"
#endif

#define ODR_STR2(x) #x
#define ODR_STR(x) ODR_STR2(x)

// Only plain types cross between the units: each has its own slotguard.
int portable_tu_impl() { return static_cast<int>(slotguard::sha256().impl()); }
std::string portable_tu_namespace() { return ODR_STR(SLOTGUARD_ABI_NAMESPACE); }
std::string portable_tu_hash(const std::string& s) {
  const auto d = slotguard::sha256_of(slotguard::byte_view(s));
  return std::string(d.begin(), d.end());
}
