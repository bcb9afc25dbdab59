// SPDX-License-Identifier: Apache-2.0
#include <slotguard/policy.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace sg = slotguard;

TEST_CASE("the rollout bucket is a stable format contract", "[policy.bucket]") {
  // Fixed expected values: the bucket formula is part of the format (fleets
  // compute it off-device), so these were computed once, independently of
  // this code (Python's hashlib over the documented byte string), and any
  // change to them is a format break.
  CHECK(sg::rollout_bucket("device-0001", "rules", 1) == 2413);
  CHECK(sg::rollout_bucket("device-0001", "rules", 2) == 1863);
  CHECK(sg::rollout_bucket("sensor-42", "config", 1000) == 3966);
  CHECK(sg::rollout_bucket("", "", 0) == 497);
  CHECK(sg::rollout_bucket("host.example.com", "rules", 18446744073709551615ull) == 3296);
  // The separator keeps (device, channel) pairs apart.
  CHECK(sg::rollout_bucket("ab", "c", 1) == sg::rollout_bucket("ab", "c", 1));
}

namespace {
sg::rollout_step step(std::uint64_t offset, std::uint8_t percent) {
  sg::rollout_step s;
  s.offset = offset;
  s.percent = percent;
  return s;
}
}  // namespace

TEST_CASE("the ramp's share is that of the latest step that has started", "[policy.ramp]") {
  const std::int64_t start = 1000000;
  const std::vector<sg::rollout_step> ramp = {step(0, 1), step(3600, 10), step(7200, 55),
                                              step(86400, 100)};
  CHECK(sg::rollout_share(ramp, start, start - 1) == 0);
  CHECK(sg::rollout_share(ramp, start, start) == 100);
  CHECK(sg::rollout_share(ramp, start, start + 3599) == 100);
  CHECK(sg::rollout_share(ramp, start, start + 3600) == 1000);
  CHECK(sg::rollout_share(ramp, start, start + 7200) == 5500);
  CHECK(sg::rollout_share(ramp, start, start + 86400) == 10000);
  CHECK(sg::rollout_share({}, start, 0) == 10000);
  const std::vector<sg::rollout_step> late = {step(60, 50)};
  CHECK(sg::rollout_share(late, start, start + 59) == 0);
  CHECK(sg::rollout_share(late, start, start + 60) == 5000);
  // Offsets near the top of the range do not overflow.
  const std::vector<sg::rollout_step> distant = {step(UINT64_MAX, 100)};
  CHECK(sg::rollout_share(distant, 0, INT64_MAX) == 0);
  CHECK(sg::rollout_share(distant, INT64_MIN, INT64_MAX) == 10000);
}

TEST_CASE("over 100,000 devices each step admits its share within one point", "[policy.ramp]") {
  const std::int64_t created = 1700000000;
  const std::vector<sg::rollout_step> ramp = {step(0, 1),      step(3600, 5),   step(7200, 25),
                                              step(14400, 50), step(28800, 90), step(86400, 100)};
  // Under an emulator 600,000 hashes take minutes; 20,000 devices still put
  // one point at about three standard deviations.
  const int devices = slotguard_test::quick_mode() ? 20000 : 100000;
  if (slotguard_test::quick_mode()) WARN("quick mode: 20,000 device ids instead of 100,000");
  sg::policy_options opts;
  sg::policy_candidate c;
  c.channel = "rules";
  c.sequence = 42;
  c.created = created;
  c.rollout_start = created;
  c.ramp = ramp;
  for (const auto& st : ramp) {
    const std::int64_t now = created + static_cast<std::int64_t>(st.offset);
    int admitted = 0;
    int wrong_error = 0;
    for (int i = 0; i < devices; ++i) {
      opts.device_id = "device-" + std::to_string(i);
      auto r = sg::check_policy(opts, c, now, {});
      if (r)
        ++admitted;
      else if (r.error() != sg::errc::not_in_rollout)
        ++wrong_error;
    }
    CHECK(wrong_error == 0);
    const double got = 100.0 * admitted / devices;
    const double want = st.percent;
    INFO("step at +" << st.offset << " s: want " << want << " %, got " << got << " %");
    CHECK(got >= want - 1.0);
    CHECK(got <= want + 1.0);
  }
  // Before the first step nobody is admitted.
  opts.device_id = "device-1";
  CHECK(sg::check_policy(opts, c, created - 1, {}).error() == sg::errc::not_in_rollout);
  // An operator may bypass the ramp.
  opts.ignore_rollout = true;
  CHECK(sg::check_policy(opts, c, created - 1, {}));
}

TEST_CASE("a device admitted at one step stays admitted at later steps", "[policy.ramp]") {
  const std::vector<sg::rollout_step> ramp = {step(0, 10), step(100, 60)};
  sg::policy_candidate c;
  c.channel = "rules";
  c.sequence = 7;
  c.created = 0;
  c.ramp = ramp;
  sg::policy_options opts;
  for (int i = 0; i < 2000; ++i) {
    opts.device_id = "d" + std::to_string(i);
    if (sg::check_policy(opts, c, 0, {})) CHECK(sg::check_policy(opts, c, 100, {}));
  }
}

TEST_CASE("pin, soak and quarantine gate a candidate in that order", "[policy.gates]") {
  sg::policy_options opts;
  opts.device_id = "device-1";
  sg::policy_candidate c;
  c.channel = "rules";
  c.sequence = 5;
  c.created = 1000;
  const std::int64_t now = 1000;
  CHECK(sg::check_policy(opts, c, now, {}));

  CHECK(sg::check_policy(opts, c, now, {4, 5}).error() == sg::errc::quarantined);
  CHECK(sg::check_policy(opts, c, now, {4, 6}));

  opts.pinned_sequence = 4;
  CHECK(sg::check_policy(opts, c, now, {}).error() == sg::errc::not_pinned);
  CHECK(sg::check_policy(opts, c, now, {5}).error() == sg::errc::quarantined);
  opts.pinned_sequence = 5;
  CHECK(sg::check_policy(opts, c, now, {}));

  opts.min_soak = std::chrono::seconds(3600);
  CHECK(sg::check_policy(opts, c, now, {}).error() == sg::errc::soak_pending);
  CHECK(sg::check_policy(opts, c, now + 3599, {}).error() == sg::errc::soak_pending);
  CHECK(sg::check_policy(opts, c, now + 3600, {}));
  // A clock behind the bundle's creation time has not soaked either.
  CHECK(sg::check_policy(opts, c, now - 10, {}).error() == sg::errc::soak_pending);
}
