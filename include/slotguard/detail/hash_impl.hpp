// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/hash.hpp declares: CPU detection, the compression
// paths (portable, SHA-NI, ARMv8 SHA2) and the choice between them. The
// kernels and the detection are included from here only, so a unit that
// reads the declarations alone sees no intrinsics header and no CPUID code.
// Included by slotguard/hash.hpp only.
#ifndef SLOTGUARD_DETAIL_HASH_IMPL_HPP
#define SLOTGUARD_DETAIL_HASH_IMPL_HPP

#include <slotguard/hash.hpp>

#include <slotguard/detail/cpu.hpp>
#include <slotguard/detail/sha256_arm.hpp>
#include <slotguard/detail/sha256_common.hpp>
#include <slotguard/detail/sha256_portable.hpp>
#include <slotguard/detail/sha256_x86.hpp>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL bool is_available(sha256_impl impl) noexcept {
  switch (impl) {
    case sha256_impl::portable:
      return true;
    case sha256_impl::sha_ni:
      return SLOTGUARD_HAVE_SHA256_X86 && detail::cpu().sha_ni;
    case sha256_impl::armv8:
      return SLOTGUARD_HAVE_SHA256_ARM && detail::cpu().arm_sha2;
  }
  return false;
}

SLOTGUARD_DECL sha256_impl sha256_default_impl() noexcept {
  if (is_available(sha256_impl::sha_ni)) return sha256_impl::sha_ni;
  if (is_available(sha256_impl::armv8)) return sha256_impl::armv8;
  return sha256_impl::portable;
}

namespace detail {

SLOTGUARD_DECL sha256_compress_fn sha256_compress_for(sha256_impl impl) noexcept {
  switch (impl) {
    case sha256_impl::portable:
      break;
    case sha256_impl::sha_ni:
#if SLOTGUARD_HAVE_SHA256_X86
      return &sha256_compress_x86;
#else
      break;
#endif
    case sha256_impl::armv8:
#if SLOTGUARD_HAVE_SHA256_ARM
      return &sha256_compress_arm;
#else
      break;
#endif
  }
  return &sha256_compress_portable;
}

}  // namespace detail

SLOTGUARD_DECL sha256_digest sha256_of(byte_view data) noexcept {
  sha256 h;
  h.update(data);
  return h.finish();
}

SLOTGUARD_DECL sha256_digest sha256_of(sha256_impl impl, byte_view data) noexcept {
  sha256 h(impl);
  h.update(data);
  return h.finish();
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_HASH_IMPL_HPP
