// SPDX-License-Identifier: Apache-2.0
// Defines what slotguard/trust.hpp declares: key ids and the trust set's
// lookups. Included by slotguard/trust.hpp only.
#ifndef SLOTGUARD_DETAIL_TRUST_IMPL_HPP
#define SLOTGUARD_DETAIL_TRUST_IMPL_HPP

#include <slotguard/trust.hpp>

#include <slotguard/hash.hpp>

#include <cstring>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL key_id key_id_of(const ed25519_public_key& key) noexcept {
  const sha256_digest d = sha256_of(byte_view(key));
  key_id id{};
  std::memcpy(id.data(), d.data(), id.size());
  return id;
}

SLOTGUARD_DECL result<void> trust_set::add(const ed25519_public_key& key) {
  const key_id id = key_id_of(key);
  const std::size_t at = find(id);
  if (at != npos) {
    if (keys_[at].key == key) return ok();
    return errc::already_exists;
  }
  keys_.push_back(entry{id, key});
  return ok();
}

SLOTGUARD_DECL std::size_t trust_set::find(const key_id& id) const noexcept {
  for (std::size_t i = 0; i < keys_.size(); ++i)
    if (keys_[i].id == id) return i;
  return npos;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_TRUST_IMPL_HPP
