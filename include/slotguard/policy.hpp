// SPDX-License-Identifier: Apache-2.0
// The policy gate: which eligible bundle may activate on this device, and
// when. A staged rollout ramp admits a device by a stable bucket (0..9999)
// derived from its id, the channel and the bundle's sequence; a ramp step
// {offset after the rollout's start, percent} admits the buckets below
// percent * 100 from its start time. A device may be pinned to one
// sequence; a bundle must soak a minimum time after publication; a
// quarantined sequence never activates. The bucket function is a format
// contract (fleets compute it off-device to predict who gets what):
//   bucket = le64(SHA-256(device_id || 0x00 || channel || 0x00 || le64(sequence))[0..8]) mod 10000
#ifndef SLOTGUARD_POLICY_HPP
#define SLOTGUARD_POLICY_HPP

#include <slotguard/config.hpp>

#include <slotguard/bundle_view.hpp>
#include <slotguard/error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// Buckets are counted in hundredths of a percent: 10000 is everyone, and a
// ramp step of p percent admits the buckets below p * 100.
constexpr std::uint32_t rollout_buckets = 10000;

// The device's bucket for a bundle, 0..9999. Stable across platforms and
// versions (see the formula above).
SLOTGUARD_DECL std::uint32_t rollout_bucket(std::string_view device_id, std::string_view channel,
                                            std::uint64_t sequence) noexcept;

// The number of buckets (0..10000) admitted at unix time `now` by a ramp
// that started at `start`: 100 times the percent of the step with the latest
// offset at or before now - start (0 before the first step). An empty ramp
// means no staged rollout: everyone. Steps are bundle_manifest's (whole
// percent, offsets in seconds); order does not matter.
SLOTGUARD_DECL std::uint32_t rollout_share(const std::vector<rollout_step>& ramp, std::int64_t start,
                                           std::int64_t now) noexcept;

// The device's local policy.
struct policy_options {
  // The device's stable identity for rollout bucketing.
  std::string device_id;
  // Accept only this sequence (other sequences get not_pinned).
  std::optional<std::uint64_t> pinned_sequence;
  // A bundle must have been published at least this long ago.
  std::chrono::seconds min_soak{0};
  // Ignore the rollout ramp (for operators installing by hand).
  bool ignore_rollout = false;
};

// What the policy looks at in a candidate.
struct policy_candidate {
  std::string_view channel;
  std::uint64_t sequence = 0;
  std::int64_t created = 0;        // unix seconds; the soak counts from here
  std::int64_t rollout_start = 0;  // unix seconds; the ramp's offsets count from here
  std::vector<rollout_step> ramp;  // empty: no staged rollout

  // From a parsed manifest. As docs/FORMAT.md says, the ramp starts at
  // not_before when the manifest has one, otherwise at created.
  static policy_candidate from_manifest(const bundle_manifest& m);
};

// Decides whether the candidate may activate at unix time `now`. Checks, in
// this order: quarantined (the sequence is in `quarantine`), not_pinned,
// soak_pending (now < created + min_soak), invalid_argument (a ramped
// candidate and no device id), not_in_rollout (the device's bucket is not
// below the current step's share).
SLOTGUARD_DECL result<void> check_policy(const policy_options& opts, const policy_candidate& c,
                                         std::int64_t now, const std::vector<std::uint64_t>& quarantine);

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/policy_impl.hpp>
#endif

#endif  // SLOTGUARD_POLICY_HPP
