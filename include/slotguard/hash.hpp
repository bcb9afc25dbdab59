// SPDX-License-Identifier: Apache-2.0
// SHA-256 (FIPS 180-4), incremental and one-shot. Three compression paths
// share one front end: portable C++, x86-64 SHA-NI and ARMv8 SHA2. The fastest
// the CPU offers is picked at run time (CPUID or the OS's hardware
// capabilities), never from build flags, so one binary is both portable and
// fast; tests and benchmarks can force a path.
#ifndef SLOTGUARD_HASH_HPP
#define SLOTGUARD_HASH_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/detail/sha256_common.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// sha256_digest: bytes.hpp.

// The compression paths. Only `portable` exists everywhere.
enum class sha256_impl { portable, sha_ni, armv8 };

// Whether this build and this CPU can run `impl`. Hardware paths are never
// available when SLOTGUARD_CONFIG_NO_HW_ACCEL is set.
SLOTGUARD_DECL bool is_available(sha256_impl impl) noexcept;

// The fastest available path; `portable` when SLOTGUARD_CONFIG_NO_HW_ACCEL.
SLOTGUARD_DECL sha256_impl sha256_default_impl() noexcept;

// The name of a path, for logs and benchmark output.
constexpr const char* to_string(sha256_impl impl) noexcept {
  switch (impl) {
    case sha256_impl::portable:
      return "portable";
    case sha256_impl::sha_ni:
      return "sha_ni";
    case sha256_impl::armv8:
      return "armv8";
  }
  return "unknown";
}

namespace detail {

// The compression function of a path; the portable one for a path this
// build lacks.
SLOTGUARD_DECL sha256_compress_fn sha256_compress_for(sha256_impl impl) noexcept;

}  // namespace detail

// Incremental SHA-256. Feed bytes with update() in any split; finish() returns
// the digest of everything fed since construction or the last reset/finish.
class sha256 {
 public:
  // Uses sha256_default_impl().
  sha256() noexcept : sha256(sha256_default_impl()) {}
  // Requires is_available(impl).
  explicit sha256(sha256_impl impl) noexcept
      : compress_(detail::sha256_compress_for(impl)), impl_(impl) {
    SLOTGUARD_ASSERT(is_available(impl));
    reset();
  }

  sha256_impl impl() const noexcept { return impl_; }

  void update(byte_view data) noexcept { update(data.data(), data.size()); }
  void update(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    if (size == 0) return;
    total_ += size;
    if (buffered_ != 0) {
      const std::size_t take = size < 64 - buffered_ ? size : 64 - buffered_;
      std::memcpy(buf_ + buffered_, p, take);
      buffered_ += take;
      p += take;
      size -= take;
      if (buffered_ < 64) return;
      compress_(state_, buf_, 1);
      buffered_ = 0;
    }
    if (size >= 64) {
      const std::size_t blocks = size / 64;
      compress_(state_, p, blocks);
      p += blocks * 64;
      size -= blocks * 64;
    }
    if (size != 0) {
      std::memcpy(buf_, p, size);
      buffered_ = size;
    }
  }

  // Returns the digest and resets the object for reuse.
  sha256_digest finish() noexcept {
    const std::uint64_t bits = total_ * 8;
    buf_[buffered_++] = 0x80;
    if (buffered_ > 56) {
      std::memset(buf_ + buffered_, 0, 64 - buffered_);
      compress_(state_, buf_, 1);
      buffered_ = 0;
    }
    std::memset(buf_ + buffered_, 0, 56 - buffered_);
    detail::store_be64(buf_ + 56, bits);
    compress_(state_, buf_, 1);
    sha256_digest out;
    for (int i = 0; i < 8; ++i) detail::store_be32(out.data() + 4 * i, state_[i]);
    reset();
    return out;
  }

  void reset() noexcept {
    for (int i = 0; i < 8; ++i) state_[i] = detail::sha256_h0[i];
    std::memset(buf_, 0, sizeof buf_);
    buffered_ = 0;
    total_ = 0;
  }

 private:
  std::uint32_t state_[8];
  std::uint8_t buf_[64];
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
  detail::sha256_compress_fn compress_;
  sha256_impl impl_;
};

// SHA-256 of `data` with the default path.
SLOTGUARD_DECL sha256_digest sha256_of(byte_view data) noexcept;

// SHA-256 of `data` with a given path; requires is_available(impl).
SLOTGUARD_DECL sha256_digest sha256_of(sha256_impl impl, byte_view data) noexcept;

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/hash_impl.hpp>
#endif

#endif  // SLOTGUARD_HASH_HPP
