// SPDX-License-Identifier: Apache-2.0
// Trust: the set of Ed25519 public keys whose signatures a device accepts on
// bundles, each named by a short key id derived from the key itself, and the
// threshold of distinct trusted signers a bundle needs. A threshold above one
// lets a publisher require two independent people (or machines) to sign
// before content reaches the fleet.
#ifndef SLOTGUARD_TRUST_HPP
#define SLOTGUARD_TRUST_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/error.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// key_id (the first 8 bytes of the SHA-256 of a public key): bytes.hpp.

// The key id of a public key.
SLOTGUARD_DECL key_id key_id_of(const ed25519_public_key& key) noexcept;

// Public keys and a threshold (default 1). Copyable value type.
class trust_set {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  trust_set() = default;

  // Adds a key; adding a key that is already present does nothing. Returns
  // already_exists when a different key with the same key id is present
  // (the ids would be ambiguous), changing nothing.
  result<void> add(const ed25519_public_key& key);

  // Requires k >= 1; returns invalid_argument otherwise, changing nothing.
  // A threshold above size() makes every bundle fail with below_threshold.
  result<void> set_threshold(std::size_t k) noexcept {
    if (k == 0) return errc::invalid_argument;
    threshold_ = k;
    return ok();
  }

  std::size_t threshold() const noexcept { return threshold_; }
  std::size_t size() const noexcept { return keys_.size(); }
  bool empty() const noexcept { return keys_.empty(); }

  // The index of the key with this id, or npos.
  std::size_t find(const key_id& id) const noexcept;
  // Requires i < size().
  const ed25519_public_key& key(std::size_t i) const noexcept { return keys_[i].key; }
  const key_id& id(std::size_t i) const noexcept { return keys_[i].id; }

 private:
  struct entry {
    key_id id;
    ed25519_public_key key;
  };
  std::vector<entry> keys_;
  std::size_t threshold_ = 1;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/trust_impl.hpp>
#endif

#endif  // SLOTGUARD_TRUST_HPP
