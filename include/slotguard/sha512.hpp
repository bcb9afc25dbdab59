// SPDX-License-Identifier: Apache-2.0
// SHA-512 (FIPS 180-4), incremental and one-shot. Ed25519 is defined over it;
// it is portable C++ only, since signatures hash short inputs.
#ifndef SLOTGUARD_SHA512_HPP
#define SLOTGUARD_SHA512_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/detail/secure_wipe.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

using sha512_digest = std::array<std::uint8_t, 64>;

namespace detail {

inline constexpr std::uint64_t sha512_h0[8] = {
    0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
    0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179};

// The message schedule holds the input (an Ed25519 seed or nonce prefix) and
// words derived from it, so it is wiped before returning.
SLOTGUARD_DECL void sha512_compress(std::uint64_t* state, const std::uint8_t* data,
                                    std::size_t blocks) noexcept;

}  // namespace detail

// Incremental SHA-512; finish() returns the digest and resets for reuse.
// Its state and buffered input are wiped on reset and on destruction, since
// Ed25519 hashes secrets with it.
class sha512 {
 public:
  sha512() noexcept { reset(); }
  sha512(const sha512&) = default;
  sha512& operator=(const sha512&) = default;
  ~sha512() {
    detail::secure_wipe(state_, sizeof state_);
    detail::secure_wipe(buf_, sizeof buf_);
  }

  void update(byte_view data) noexcept { update(data.data(), data.size()); }
  void update(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const std::uint8_t*>(data);
    if (size == 0) return;
    total_ += size;
    if (buffered_ != 0) {
      const std::size_t take = size < 128 - buffered_ ? size : 128 - buffered_;
      std::memcpy(buf_ + buffered_, p, take);
      buffered_ += take;
      p += take;
      size -= take;
      if (buffered_ < 128) return;
      detail::sha512_compress(state_, buf_, 1);
      buffered_ = 0;
    }
    if (size >= 128) {
      const std::size_t blocks = size / 128;
      detail::sha512_compress(state_, p, blocks);
      p += blocks * 128;
      size -= blocks * 128;
    }
    if (size != 0) {
      std::memcpy(buf_, p, size);
      buffered_ = size;
    }
  }

  sha512_digest finish() noexcept;

  // Also clears the buffered input, which may be secret (Ed25519 nonces).
  void reset() noexcept {
    detail::secure_wipe(state_, sizeof state_);
    for (int i = 0; i < 8; ++i) state_[i] = detail::sha512_h0[i];
    detail::secure_wipe(buf_, sizeof buf_);
    buffered_ = 0;
    total_ = 0;
  }

 private:
  std::uint64_t state_[8];
  std::uint8_t buf_[128];
  std::size_t buffered_ = 0;
  std::uint64_t total_ = 0;
};

SLOTGUARD_DECL sha512_digest sha512_of(byte_view data) noexcept;

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/sha512_impl.hpp>
#endif

#endif  // SLOTGUARD_SHA512_HPP
