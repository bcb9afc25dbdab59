// SPDX-License-Identifier: Apache-2.0
// CRC-32C (Castagnoli), the checksum the store's journal and slot records
// carry to detect torn or rotted writes. Portable slicing-by-8 everywhere and
// the SSE4.2 crc32 instruction on x86-64, picked at run time from CPUID.
// Values chain: crc32c(b, crc32c(a)) == crc32c(a || b).
#ifndef SLOTGUARD_CRC_HPP
#define SLOTGUARD_CRC_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>

#include <cstddef>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

enum class crc32c_impl { portable, sse42 };

// Whether this build and this CPU can run `impl`; hardware paths are never
// available when SLOTGUARD_CONFIG_NO_HW_ACCEL is set.
SLOTGUARD_DECL bool is_available(crc32c_impl impl) noexcept;

// The fastest available path.
SLOTGUARD_DECL crc32c_impl crc32c_default_impl() noexcept;

constexpr const char* to_string(crc32c_impl impl) noexcept {
  return impl == crc32c_impl::sse42 ? "sse42" : "portable";
}

// CRC-32C of `data`, continuing from `crc` (the value returned for the bytes
// before it; 0 to start). Requires is_available(impl).
SLOTGUARD_DECL std::uint32_t crc32c(crc32c_impl impl, byte_view data, std::uint32_t crc = 0) noexcept;

// CRC-32C of `data` with the fastest path, continuing from `crc`.
SLOTGUARD_DECL std::uint32_t crc32c(byte_view data, std::uint32_t crc = 0) noexcept;

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/crc_impl.hpp>
#endif

#endif  // SLOTGUARD_CRC_HPP
