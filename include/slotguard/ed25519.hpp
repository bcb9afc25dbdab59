// SPDX-License-Identifier: Apache-2.0
// Ed25519 signatures (RFC 8032, pure Ed25519): public key from a 32-byte
// seed, signing, strict verification, and seeds from the OS's random source.
// Bundles are signed with it. Verification is cofactorless ([S]B = R + [k]A
// checked on encodings) and rejects S >= L, non-canonical or invalid point
// encodings and small-order keys; docs/CRYPTO.md says why each check is made.
// Signing runs in constant time and wipes its secret temporaries.
#ifndef SLOTGUARD_ED25519_HPP
#define SLOTGUARD_ED25519_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/detail/secure_wipe.hpp>
#include <slotguard/error.hpp>
#include <slotguard/sha512.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <new>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

using ed25519_seed = std::array<std::uint8_t, 32>;
using ed25519_public_key = std::array<std::uint8_t, 32>;
// ed25519_signature: bytes.hpp.

// Overwrites `n` bytes at `p` with zeros in a way the optimizer may not
// drop: for key material (a seed, a private key's PEM text read from a file)
// before its memory is released or reused.
inline void secure_wipe(void* p, std::size_t n) noexcept { detail::secure_wipe(p, n); }

// A heap buffer for key material. Its capacity is fixed when it is made, so
// it never grows and never leaves a copy behind in a block it gave back;
// its bytes are wiped before its memory is released (destruction, clear(),
// assignment). Move-only. A failed allocation leaves it with capacity 0,
// which callers check (out_of_memory), since the library does not throw.
class secret_buffer {
 public:
  secret_buffer() noexcept = default;
  explicit secret_buffer(std::size_t capacity) noexcept
      : data_(capacity == 0 ? nullptr : new (std::nothrow) std::uint8_t[capacity]()),
        capacity_(data_ == nullptr ? 0 : capacity) {}
  secret_buffer(secret_buffer&& o) noexcept
      : data_(o.data_), size_(o.size_), capacity_(o.capacity_) {
    o.data_ = nullptr;
    o.size_ = o.capacity_ = 0;
  }
  secret_buffer& operator=(secret_buffer&& o) noexcept {
    if (this != &o) {
      clear();
      data_ = o.data_;
      size_ = o.size_;
      capacity_ = o.capacity_;
      o.data_ = nullptr;
      o.size_ = o.capacity_ = 0;
    }
    return *this;
  }
  secret_buffer(const secret_buffer&) = delete;
  secret_buffer& operator=(const secret_buffer&) = delete;
  ~secret_buffer() { clear(); }

  std::uint8_t* data() noexcept { return data_; }
  const std::uint8_t* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  byte_view view() const noexcept { return byte_view(data_, size_); }
  operator byte_view() const noexcept { return view(); }

  // Appends one byte; false (and nothing written) when the buffer is full.
  bool push_back(std::uint8_t b) noexcept {
    if (size_ == capacity_) return false;
    data_[size_++] = b;
    return true;
  }
  // Wipes the whole capacity and releases it.
  void clear() noexcept {
    if (data_ != nullptr) {
      detail::secure_wipe(data_, capacity_);
      delete[] data_;
    }
    data_ = nullptr;
    size_ = capacity_ = 0;
  }

 private:
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

// The public key of `seed` (RFC 8032 5.1.5).
SLOTGUARD_DECL ed25519_public_key ed25519_public_key_from_seed(const ed25519_seed& seed) noexcept;

// Signs `message` with the key of `seed` (RFC 8032 5.1.6). Deterministic.
// Every secret temporary (the expanded key, the nonce and its hash, the
// points computed from them, SHA-512's state and message schedule) is wiped
// before it returns, and the stack its callees used is zeroed.
SLOTGUARD_DECL ed25519_signature ed25519_sign(const ed25519_seed& seed, byte_view message) noexcept;

// Verifies `sig` over `message` under `key` (RFC 8032 5.1.7, with the strict
// checks listed in docs/CRYPTO.md). Returns key_invalid when the key is not a
// canonical encoding of a curve point or has small order; signature_invalid
// for anything else (S >= L, R not a canonical point encoding or of small
// order, or the equation [S]B = R + [k]A fails).
SLOTGUARD_DECL result<void> ed25519_verify(const ed25519_public_key& key, byte_view message,
                                           const ed25519_signature& sig) noexcept;

// 32 bytes from the OS's cryptographic random source (getrandom, falling
// back to /dev/urandom; BCryptGenRandom on Windows). Returns io_error when
// the source fails.
SLOTGUARD_DECL result<ed25519_seed> ed25519_generate_seed() noexcept;

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/ed25519_impl.hpp>
#endif

#endif  // SLOTGUARD_ED25519_HPP
