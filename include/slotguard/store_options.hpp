// SPDX-License-Identifier: Apache-2.0
// The slot store's options (slotguard/slot_store.hpp), apart from the store
// itself: guard_options carries them, and a unit that only configures a
// guard need not read the store's code.
#ifndef SLOTGUARD_STORE_OPTIONS_HPP
#define SLOTGUARD_STORE_OPTIONS_HPP

#include <slotguard/config.hpp>

#include <cstdint>
#include <string>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

struct store_options {
  // The largest content stage() and receive() accept and load() reads;
  // bounds every allocation the store makes from what it finds on disk. The
  // guard sets it to its bundle limit (bundle_limits::max_bundle_size), so
  // that a bundle too big for the store is refused before any gate runs.
  std::uint64_t max_slot_size = (std::uint64_t{4} << 30) + (std::uint64_t{1} << 20);
  // stage() hashes content of at least this size on a helper thread while
  // the bytes go to disk, so that the hash costs no extra time (a flush is
  // mostly waiting). Only when exceptions are enabled, since std::thread
  // reports failure by throwing (then the hash is computed inline); set to
  // UINT64_MAX for hosts that must not start threads.
  std::uint64_t parallel_hash_min_size = std::uint64_t{1} << 20;
  // The channel the store serves. When set, open() refuses a store that
  // records another channel (channel_mismatch), and the first write records
  // it. Empty: no check (the recorded channel is kept as it is).
  std::string channel;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_STORE_OPTIONS_HPP
