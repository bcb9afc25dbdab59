// SPDX-License-Identifier: Apache-2.0
// Built with the default configuration (hardware acceleration allowed).
#include <slotguard/hash.hpp>

#include <string>

#define ODR_STR2(x) #x
#define ODR_STR(x) ODR_STR2(x)

// Only plain types cross between the units: each has its own slotguard.
int accelerated_tu_impl() { return static_cast<int>(slotguard::sha256().impl()); }
std::string accelerated_tu_namespace() { return ODR_STR(SLOTGUARD_ABI_NAMESPACE); }
std::string accelerated_tu_hash(const std::string& s) {
  const auto d = slotguard::sha256_of(slotguard::byte_view(s));
  return std::string(d.begin(), d.end());
}
