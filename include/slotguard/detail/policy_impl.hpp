// SPDX-License-Identifier: Apache-2.0
// The bodies of what slotguard/policy.hpp declares: the rollout bucket and
// share, a candidate from a manifest, and the policy check. Included by
// slotguard/policy.hpp only.
#ifndef SLOTGUARD_DETAIL_POLICY_IMPL_HPP
#define SLOTGUARD_DETAIL_POLICY_IMPL_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/policy.hpp>

#include <algorithm>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL std::uint32_t rollout_bucket(std::string_view device_id, std::string_view channel,
                                            std::uint64_t sequence) noexcept {
  const std::uint8_t zero = 0;
  std::uint8_t seq[8];
  detail::store_le64(seq, sequence);
  sha256 h;
  h.update(device_id.data(), device_id.size());
  h.update(&zero, 1);
  h.update(channel.data(), channel.size());
  h.update(&zero, 1);
  h.update(seq, sizeof seq);
  const sha256_digest d = h.finish();
  return static_cast<std::uint32_t>(detail::load_le64(d.data()) % rollout_buckets);
}

SLOTGUARD_DECL std::uint32_t rollout_share(const std::vector<rollout_step>& ramp, std::int64_t start,
                                           std::int64_t now) noexcept {
  if (ramp.empty()) return rollout_buckets;
  if (now < start) return 0;
  // Unsigned 64-bit arithmetic: no offset or time difference can overflow.
  const auto elapsed = static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(start);
  std::uint32_t share = 0;
  bool any = false;
  std::uint64_t best_offset = 0;
  for (const auto& s : ramp) {
    if (s.offset > elapsed) continue;
    if (!any || s.offset >= best_offset) {
      best_offset = s.offset;
      share = s.percent >= 100 ? rollout_buckets : static_cast<std::uint32_t>(s.percent) * 100u;
      any = true;
    }
  }
  return share;
}

SLOTGUARD_DECL policy_candidate policy_candidate::from_manifest(const bundle_manifest& m) {
  policy_candidate c;
  c.channel = m.channel;
  c.sequence = m.sequence;
  c.created = m.created;
  c.rollout_start = m.not_before ? *m.not_before : m.created;
  c.ramp.reserve(m.rollout.size());
  for (std::size_t i = 0; i < m.rollout.size(); ++i) c.ramp.push_back(m.rollout[i]);
  return c;
}

SLOTGUARD_DECL result<void> check_policy(const policy_options& opts, const policy_candidate& c,
                                         std::int64_t now, const std::vector<std::uint64_t>& quarantine) {
  if (std::find(quarantine.begin(), quarantine.end(), c.sequence) != quarantine.end())
    return errc::quarantined;
  if (opts.pinned_sequence && *opts.pinned_sequence != c.sequence) return errc::not_pinned;
  if (opts.min_soak.count() > 0) {
    const auto soak = static_cast<std::uint64_t>(opts.min_soak.count());
    if (now < c.created ||
        static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(c.created) < soak)
      return errc::soak_pending;
  }
  if (!opts.ignore_rollout && !c.ramp.empty()) {
    // Without a device id every device would fall in one bucket and a ramp
    // would become all-or-nothing across the fleet.
    if (opts.device_id.empty()) return errc::invalid_argument;
    const std::uint32_t share = rollout_share(c.ramp, c.rollout_start, now);
    if (rollout_bucket(opts.device_id, c.channel, c.sequence) >= share) return errc::not_in_rollout;
  }
  return ok();
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_POLICY_IMPL_HPP
