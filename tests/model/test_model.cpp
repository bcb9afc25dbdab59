// SPDX-License-Identifier: Apache-2.0
// The guard against its reference model (tests/model/model.hpp): seeded
// random operation sequences (SLOTGUARD_MODEL_OPS operations in all, 50,000
// by default, from SLOTGUARD_MODEL_SEED) and every sequence up to
// SLOTGUARD_MODEL_DEPTH operations (4 by default, in both watchdog modes)
// over a reduced alphabet, each compared step by step; a divergence is
// shrunk and printed. model_check runs the same for longer.
#include "driver.hpp"

#include <catch2/catch.hpp>

#include <iostream>
#include <sstream>

namespace sm = slotguard_model;

TEST_CASE("the checker finds a wrong model and shrinks the sequence to the step that shows it", "[model]") {
  sm::run_options ro;
  ro.cfg.mutant_invalid_not_quarantined = true;
  // A sequence with one step that the wrong model gets wrong, among steps
  // it gets right.
  std::vector<sm::op> ops;
  sm::op o;
  o.k = sm::action::kind::apply;
  ops.push_back(o);
  o.k = sm::action::kind::heartbeat;
  ops.push_back(o);
  o.k = sm::action::kind::confirm;
  ops.push_back(o);
  o.k = sm::action::kind::apply;
  o.v = sm::variant::invalid;
  ops.push_back(o);
  o = sm::op{};
  o.k = sm::action::kind::poll;
  ops.push_back(o);
  const sm::run_report r = sm::run_sequence(ops, ro, true);
  REQUIRE(r.diverged);
  CHECK(r.at == 3);
  CHECK(r.text.find("quarantine") != std::string::npos);
  const std::vector<sm::op> small = sm::shrink(ops, ro);
  REQUIRE(small.size() == 1);
  CHECK(small[0].v == sm::variant::invalid);
  // The right model agrees with the guard on the same sequence.
  sm::run_options right;
  CHECK_FALSE(sm::run_sequence(ops, right, false).diverged);
}

TEST_CASE("random operation sequences: the guard agrees with the model", "[model][!mayfail]") {
  sm::campaign_options co;
  co.ops = sm::env_u64("SLOTGUARD_MODEL_OPS", 50000);
  co.seed = sm::env_u64("SLOTGUARD_MODEL_SEED", 1);
  co.length = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_LEN", 100));
  std::ostringstream log;
  const sm::campaign_result r = sm::run_campaign(co, log);
  std::cout << "model checker: " << r.ops << " operations in " << r.sequences << " sequences (seed " << co.seed
            << ", both watchdog modes) in " << r.seconds << " s, " << static_cast<std::uint64_t>(static_cast<double>(r.ops) / r.seconds)
            << " operations/s, " << r.divergences.size() << " divergences\n";
  INFO(log.str());
  CHECK(r.divergences.empty());
}

TEST_CASE("every sequence up to the bound: the guard agrees with the model", "[model][!mayfail]") {
  const auto depth = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_DEPTH", 4));
  const sm::exhaustive_result r = sm::run_exhaustive(depth, 3, sm::config{});
  std::cout << "model checker, exhaustive: " << r.sequences << " sequences of 1 to " << depth << " operations over "
            << sm::exhaustive_alphabet().size() << " in both watchdog modes (" << r.ops << " operations) in "
            << r.seconds << " s\n";
  INFO(r.divergence);
  CHECK(r.divergence.empty());
}
