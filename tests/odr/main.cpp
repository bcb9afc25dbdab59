// SPDX-License-Identifier: Apache-2.0
// A program whose translation units disagree on SLOTGUARD_CONFIG_NO_HW_ACCEL:
// the portable one must hash with the portable code whatever the other
// selected, and both must agree on the digest. Without a namespace per
// configuration the linker keeps one copy of sha256's inline functions for
// both units and one of them silently runs the other's code. Compiled
// separately, the program also holds a header-only unit (header_only.cpp).
#include <slotguard/hash.hpp>

#include <cstdio>
#include <string>

// Only plain types cross between the units: each has its own slotguard.
int portable_tu_impl();
std::string portable_tu_namespace();
std::string portable_tu_hash(const std::string& s);
int accelerated_tu_impl();
std::string accelerated_tu_namespace();
std::string accelerated_tu_hash(const std::string& s);
#if SLOTGUARD_CONFIG_SEPARATE_COMPILATION
std::string header_only_tu_namespace();
std::string header_only_tu_hash(const std::string& s);
#endif

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok" : "FAILED", what);
    if (!ok) ++failures;
  };
  const std::string p = portable_tu_namespace(), a = accelerated_tu_namespace();
  std::printf("namespaces: portable unit %s, default unit %s\n", p.c_str(), a.c_str());
  check(p != a, "the two configurations live in different inline namespaces");
  check(portable_tu_impl() == static_cast<int>(slotguard::sha256_impl::portable),
        "the portable unit hashes with the portable code");
  check(accelerated_tu_impl() == static_cast<int>(slotguard::sha256_default_impl()),
        "the default unit hashes with what the CPU offers");
  check(portable_tu_hash("abc") == accelerated_tu_hash("abc"), "both give the same digest");
#if SLOTGUARD_CONFIG_SEPARATE_COMPILATION
  // A header-only unit in a separately compiled program.
  const std::string h = header_only_tu_namespace();
  std::printf("namespace of the header-only unit: %s\n", h.c_str());
  check(h != a && h != p, "a header-only unit lives in an inline namespace of its own");
  check(header_only_tu_hash("abc") == accelerated_tu_hash("abc"), "the header-only unit gives the same digest");
#endif
  return failures == 0 ? 0 : 1;
}
