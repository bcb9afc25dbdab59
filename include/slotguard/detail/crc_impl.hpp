// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/crc.hpp declares: CPU detection, the portable
// slicing-by-8 loop and the SSE4.2 path, and the choice between them. The
// tables, the kernels and the detection are included from here only.
// Included by slotguard/crc.hpp only.
#ifndef SLOTGUARD_DETAIL_CRC_IMPL_HPP
#define SLOTGUARD_DETAIL_CRC_IMPL_HPP

#include <slotguard/crc.hpp>

#include <slotguard/detail/cpu.hpp>
#include <slotguard/detail/crc32c_tables.hpp>
#include <slotguard/detail/crc32c_x86.hpp>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL bool is_available(crc32c_impl impl) noexcept {
  switch (impl) {
    case crc32c_impl::portable:
      return true;
    case crc32c_impl::sse42:
      return SLOTGUARD_HAVE_CRC32C_X86 && detail::cpu().sse42;
  }
  return false;
}

SLOTGUARD_DECL crc32c_impl crc32c_default_impl() noexcept {
  return is_available(crc32c_impl::sse42) ? crc32c_impl::sse42 : crc32c_impl::portable;
}

SLOTGUARD_DECL std::uint32_t crc32c(crc32c_impl impl, byte_view data, std::uint32_t crc) noexcept {
  SLOTGUARD_ASSERT(is_available(impl));
  std::uint32_t raw = ~crc;
  if (data.empty()) return crc;
#if SLOTGUARD_HAVE_CRC32C_X86
  if (impl == crc32c_impl::sse42) return ~detail::crc32c_raw_sse42(raw, data.data(), data.size());
#endif
  raw = detail::crc32c_raw_portable(raw, data.data(), data.size());
  return ~raw;
}

SLOTGUARD_DECL std::uint32_t crc32c(byte_view data, std::uint32_t crc) noexcept {
  return crc32c(crc32c_default_impl(), data, crc);
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_CRC_IMPL_HPP
