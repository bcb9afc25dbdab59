// SPDX-License-Identifier: Apache-2.0
// Wiping secrets: memory overwritten so that the optimizer may not drop the
// stores. Used by SHA-512 (its state and buffer), key buffers, PEM and
// Ed25519 signing; small and free of any OS header, so it stays inline in
// every mode.
#ifndef SLOTGUARD_DETAIL_SECURE_WIPE_HPP
#define SLOTGUARD_DETAIL_SECURE_WIPE_HPP

#include <slotguard/config.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// Overwrites memory in a way the optimizer may not drop, for secrets: every
// store goes through a volatile pointer, and on gcc and clang an empty asm
// that claims to read the memory keeps the stores even when the object dies
// right after. Portable C++ only, so no OS header (memset_s,
// explicit_bzero, SecureZeroMemory) reaches the user's code.
inline void secure_wipe(void* p, std::size_t n) noexcept {
  if (p == nullptr || n == 0) return;
  volatile std::uint8_t* b = static_cast<volatile std::uint8_t*>(p);
  for (std::size_t i = 0; i < n; ++i) b[i] = 0;
#if defined(__GNUC__) || defined(__clang__)
  __asm__ __volatile__("" : : "r"(p) : "memory");
#endif
}

// Wipes an object of the stack when the scope ends, on every return path.
class scoped_wipe {
 public:
  scoped_wipe(void* p, std::size_t n) noexcept : p_(p), n_(n) {}
  ~scoped_wipe() { secure_wipe(p_, n_); }
  scoped_wipe(const scoped_wipe&) = delete;
  scoped_wipe& operator=(const scoped_wipe&) = delete;

 private:
  void* p_;
  std::size_t n_;
};

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_SECURE_WIPE_HPP
