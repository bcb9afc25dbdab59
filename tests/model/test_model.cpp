// SPDX-License-Identifier: Apache-2.0
// The guard against its reference model (tests/model/model.hpp): seeded
// random operation sequences (SLOTGUARD_MODEL_OPS operations in all, 50,000
// by default, from SLOTGUARD_MODEL_SEED) and every sequence up to
// SLOTGUARD_MODEL_DEPTH operations (4 by default, in both watchdog modes)
// (SLOTGUARD_MODEL_WITHOUT leaves parts of the random mix out: see
// generation_filter)
// over a reduced alphabet, each compared step by step; a divergence is
// shrunk and printed. model_check runs the same for longer.
#include "driver.hpp"
#include "../support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <optional>
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

TEST_CASE("random operation sequences: the guard agrees with the model", "[model]") {
  sm::campaign_options co;
  // Under an emulator (quick mode) a tenth, and one step less deep below.
  const bool quick = slotguard_test::quick_mode();
  if (quick) WARN("quick mode: 5,000 random operations and exhaustive depth 3");
  co.ops = sm::env_u64("SLOTGUARD_MODEL_OPS", quick ? 5000 : 50000);
  co.seed = sm::env_u64("SLOTGUARD_MODEL_SEED", 1);
  co.length = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_LEN", 100));
  if (const char* w = std::getenv("SLOTGUARD_MODEL_WITHOUT")) co.filter = sm::generation_filter::parse(w);
  std::ostringstream log;
  const sm::campaign_result r = sm::run_campaign(co, log);
  std::cout << "model checker: " << r.ops << " operations in " << r.sequences << " sequences (seed " << co.seed
            << ", both watchdog modes) in " << r.seconds << " s, " << static_cast<std::uint64_t>(static_cast<double>(r.ops) / r.seconds)
            << " operations/s, " << r.divergences.size() << " divergences\n";
  INFO(log.str());
  CHECK(r.divergences.empty());
}

TEST_CASE("every sequence up to the bound: the guard agrees with the model", "[model]") {
  const auto depth = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_DEPTH", slotguard_test::quick_mode() ? 3 : 4));
  const sm::exhaustive_result r = sm::run_exhaustive(depth, 3, sm::config{});
  std::cout << "model checker, exhaustive: " << r.sequences << " sequences of 1 to " << depth << " operations over "
            << sm::exhaustive_alphabet().size() << " in both watchdog modes (" << r.ops << " operations) in "
            << r.seconds << " s\n";
  INFO(r.divergence);
  CHECK(r.divergence.empty());
}

TEST_CASE("every sequence up to the bound, with a breaker that acts within it", "[model]") {
  // safe_streak 1 and null_streak 2: one crashed restart enters safe mode,
  // two no-content mode, three not-content mode (all within the bound).
  const auto depth =
      static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_DEPTH_BREAKER", slotguard_test::quick_mode() ? 3 : 4));
  sm::config cfg;
  cfg.safe_streak = 1;
  cfg.null_streak = 2;
  const sm::exhaustive_result r = sm::run_exhaustive(depth, 3, cfg);
  std::cout << "model checker, exhaustive (safe streak 1, null streak 2): " << r.sequences << " sequences of 1 to "
            << depth << " operations over " << sm::exhaustive_alphabet().size() << " in both watchdog modes ("
            << r.ops << " operations) in " << r.seconds << " s\n";
  INFO(r.divergence);
  CHECK(r.divergence.empty());
}

namespace {

using K = sm::action::kind;

// Operation sequences written by hand, each the shortest way to one
// finding of the guard's review, checked against the model like any other.
struct scenario {
  std::string name;
  std::vector<sm::op> ops;
};

class builder {
 public:
  explicit builder(std::string name) { s_.name = std::move(name); }
  builder& then(K k) {
    sm::op o;
    o.k = k;
    s_.ops.push_back(o);
    return *this;
  }
  builder& apply(sm::variant v = sm::variant::good, sm::pick p = sm::pick::fresh, int key = 0) {
    then(K::apply);
    s_.ops.back().v = v;
    s_.ops.back().seq = p;
    s_.ops.back().key = key;
    return *this;
  }
  builder& commit(int key = 0) { return apply(sm::variant::good, sm::pick::fresh, key).then(K::confirm); }
  // bit 0 the active, 1 the fallback, 3 a fresh sequence; fillers more
  builder& recall(std::uint8_t mask, std::uint16_t fillers = 0) {
    then(K::recall);
    s_.ops.back().recall_mask = mask;
    s_.ops.back().fillers = fillers;
    return *this;
  }
  builder& wait(std::int64_t seconds) {
    then(K::advance);
    s_.ops.back().seconds = seconds;
    return *this;
  }
  builder& crash(bool key1 = false, bool host = false, sm::role damage = sm::role::none, bool read_only = false) {
    then(K::crash);
    s_.ops.back().toggle_key1 = key1;
    s_.ops.back().toggle_host = host;
    s_.ops.back().damage = damage;
    s_.ops.back().toggle_read_only = read_only;
    return *this;
  }
  // The last operation's n-th storage call fails / the power fails after it.
  builder& fault(std::uint32_t n) {
    s_.ops.back().fault_n = n;
    return *this;
  }
  builder& cut(std::uint32_t n, std::uint64_t seed) {
    s_.ops.back().cut_n = n;
    s_.ops.back().cut_seed = seed;
    return *this;
  }
  builder& crashes(int n) {
    for (int i = 0; i < n; ++i) crash();
    return *this;
  }
  // Heartbeats every 10 s for longer than healthy_uptime, then poll.
  builder& healthy() {
    wait(sm::healthy_run_seconds);
    s_.ops.back().beat_every = 10;
    return then(K::poll);
  }
  builder& index(std::uint32_t i) {
    s_.ops.back().index = i;
    return *this;
  }
  scenario done() const { return s_; }

 private:
  scenario s_;
};

// Runs a scenario in poll mode (checked against the model); returns what
// the guard showed at its end.
sm::observation run_checked(const scenario& s) {
  sm::run_options ro;
  const sm::run_report r = sm::run_sequence(s.ops, ro, true);
  INFO(s.name << "\n" << r.text);
  CHECK_FALSE(r.diverged);
  return r.last;
}

void check_all(const std::vector<scenario>& all) {
  for (const scenario& s : all) {
    for (auto mode : {slotguard::watchdog_mode::poll, slotguard::watchdog_mode::thread}) {
      sm::run_options ro;
      ro.mode = mode;
      const sm::run_report r = sm::run_sequence(s.ops, ro, true);
      INFO(s.name << "\n" << r.text);
      CHECK_FALSE(r.diverged);
    }
  }
}

}  // namespace

TEST_CASE("the review's findings, as operation sequences, agree with the model", "[model]") {
  using sm::role;
  using sm::variant;
  std::vector<scenario> all;
  all.push_back(builder("1a: fallback recalled during a trial, then the trial reported unhealthy")
                    .commit().apply().recall(2).then(K::report_unhealthy).done());
  all.push_back(builder("1b: trial and fallback recalled together").commit().apply().recall(3).done());
  all.push_back(builder("1c: after a recall's rollback the active slot is damaged at the next start")
                    .commit().commit().recall(1).crash(false, false, role::active).done());
  all.push_back(builder("1d: recall of content served from the fallback")
                    .commit().commit().crash(false, false, role::active).recall(2).done());
  all.push_back(builder("1e: rollback after a recall").commit().commit().recall(1).then(K::rollback).done());
  all.push_back(builder("1f: recall of the only committed content").commit().recall(1).done());
  all.push_back(builder("2: 300 s of silence, then a heartbeat").apply().wait(300).then(K::heartbeat).done());
  all.push_back(builder("2b: silence past the deadline, a heartbeat, then poll after probation")
                    .apply().wait(31).then(K::heartbeat).wait(300).then(K::poll).done());
  all.push_back(builder("3a: content of a key removed from the trust set").commit(1).crash(true).done());
  all.push_back(builder("3b: content whose host range excludes the upgraded host")
                    .apply(variant::host_capped).then(K::confirm).crash(false, true).done());
  all.push_back(builder("3c: the trial's content no longer trusted at the next start").apply(variant::good, sm::pick::fresh, 1).crash(true).done());
  all.push_back(builder("6: a recall of 100 sequences keeps what was quarantined")
                    .apply(variant::invalid).recall(8, 100).apply(variant::good, sm::pick::quarantined).done());
  all.push_back(builder("6b: a recall of 1,024 sequences").apply(variant::invalid).recall(8, 1024).done());
  {
    // Past the quarantine's capacity: what goes first is what is at or
    // below the floor, then the oldest.
    builder b("6c: five recalls of 1,024 sequences each");
    b.apply(variant::invalid).commit().commit().apply(variant::invalid).apply().then(K::report_unhealthy);
    for (std::uint32_t i = 0; i < 5; ++i) b.recall(0, 1024).index(i);
    b.apply(variant::good, sm::pick::quarantined).apply().then(K::revert);
    all.push_back(b.done());
  }
  all.push_back(builder("8: a read-only store serves its committed content")
                    .commit().apply().crash(false, false, role::none, true).then(K::confirm).then(K::heartbeat).done());
  all.push_back(builder("15a: confirm of a trial whose slot file is damaged").apply().then(K::damage_live).then(K::confirm).done());
  all.push_back(builder("15b: apply with the active slot damaged and the fallback served, then revert")
                    .commit().commit().crash(false, false, role::active).apply().then(K::revert).done());
  // 14: a recall during a trial, the power cut after each of its storage calls.
  for (std::uint32_t n = 1; n <= 24; ++n)
    all.push_back(builder("14: power cut after call " + std::to_string(n) + " of a recall of the trial")
                      .commit().apply().recall(1 | 8).cut(n, n * 7919u).done());
  check_all(all);
}

TEST_CASE("storage errors on every call of a transition, and stale trust, agree with the model",
          "[model]") {
  using sm::role;
  std::vector<scenario> all;
  for (std::uint32_t n = 1; n <= 24; ++n) {
    all.push_back(builder("a read error after a recall: call " + std::to_string(n)).apply().recall(8).fault(n).done());
    all.push_back(builder("a storage error in a revert: call " + std::to_string(n)).commit().apply().then(K::revert).fault(n).done());
    all.push_back(builder("a storage error while a trial's start opens: call " + std::to_string(n)).apply().crash().fault(n).done());
    all.push_back(builder("a passed deadline whose revert met a storage error, polled again: call " + std::to_string(n))
                      .apply().wait(30).then(K::poll).fault(n).then(K::poll).done());
    all.push_back(builder("a storage error in an apply over a damaged active slot: call " + std::to_string(n))
                      .commit().commit().crash(false, false, role::active).apply().fault(n).done());
  }
  all.push_back(builder("rollback to a fallback signed by a removed key").commit(1).commit().crash(true).then(K::rollback).done());
  all.push_back(builder("a recall going back to a quarantined fallback")
                    .commit().commit().then(K::rollback).apply(sm::variant::invalid, sm::pick::fallback).recall(1).done());
  check_all(all);
}

TEST_CASE("the crash-streak breaker: crashed restarts, healthy runs, failed bookkeeping writes", "[model][breaker]") {
  using slotguard::breaker_mode;
  // safe_streak 3, null_streak 6, healthy_uptime 120 s (sm::config's).
  auto two_committed = [](const std::string& name) { return builder(name).commit().commit(); };
  {
    const sm::observation o = run_checked(two_committed("3 crashed restarts").crashes(3).done());
    CHECK(o.mode == breaker_mode::safe);
    CHECK(o.served == std::optional<std::uint64_t>(1));  // 2 quarantined, back to 1
    CHECK(std::find(o.quarantine.begin(), o.quarantine.end(), 2u) != o.quarantine.end());
    CHECK(o.streak == 4);
  }
  {
    const sm::observation o = run_checked(two_committed("6 crashed restarts").crashes(6).done());
    CHECK(o.mode == breaker_mode::no_content);
    CHECK_FALSE(o.served);
  }
  {
    const sm::observation o = run_checked(two_committed("9 crashed restarts").crashes(9).done());
    CHECK(o.mode == breaker_mode::not_content);
    CHECK(o.served == std::optional<std::uint64_t>(1));
  }
  {
    const sm::observation o =
        run_checked(two_committed("2 crashes, a healthy run, 3 crashes").crashes(2).healthy().crashes(3).done());
    CHECK(o.mode == breaker_mode::normal);
    CHECK(o.served == std::optional<std::uint64_t>(2));
    CHECK(o.safe_sequence == 2);
    CHECK(o.streak == 3);
  }
  {
    const sm::observation o = run_checked(two_committed("2 crashes, a healthy run").crashes(2).healthy().done());
    CHECK(o.healthy);
    CHECK(o.streak == 0);
  }
  {
    const sm::observation o =
        run_checked(two_committed("3 crashes, a healthy run ends safe mode").crashes(3).healthy().done());
    CHECK(o.mode == breaker_mode::normal);
    CHECK(o.safe_sequence == 1);
  }
  {
    const sm::observation o =
        run_checked(two_committed("2 crashes, a clean shutdown, 2 crashes").crashes(2).then(K::shutdown).crashes(2).done());
    CHECK(o.mode == breaker_mode::normal);
    CHECK(o.streak == 3);
  }
  {
    const sm::observation o = run_checked(two_committed("6 crashes, confirm ends no-content mode").crashes(6).then(K::confirm).done());
    CHECK(o.mode == breaker_mode::normal);
    CHECK(o.streak == 0);
    CHECK(o.served == std::optional<std::uint64_t>(1));
  }
  {
    const sm::observation o = run_checked(two_committed("6 crashes, a trial is served in no-content mode, committed")
                                              .crashes(6).apply().then(K::confirm).done());
    CHECK(o.mode == breaker_mode::normal);
    CHECK(o.served == std::optional<std::uint64_t>(3));
  }
  // A storage error on every call, and a power cut after every call, of
  // each bookkeeping write: begin_run and enter_safe_mode at open, set_mode
  // at open, mark_healthy in poll and in shutdown, set_mode in confirm.
  std::vector<scenario> all;
  for (std::uint32_t n = 1; n <= 16; ++n) {
    const std::string c = ": call " + std::to_string(n);
    all.push_back(two_committed("the 3rd crashed open, storage error" + c).crashes(3).fault(n).crashes(1).done());
    all.push_back(two_committed("the 3rd crashed open, power cut" + c).crashes(3).cut(n, n * 7919u).crashes(1).done());
    all.push_back(two_committed("the 6th crashed open, storage error" + c).crashes(6).fault(n).crashes(1).done());
    all.push_back(two_committed("the 6th crashed open, power cut" + c).crashes(6).cut(n, n * 104729u).done());
    all.push_back(two_committed("the 9th crashed open, storage error" + c).crashes(9).fault(n).done());
    all.push_back(two_committed("the healthy mark in poll, storage error" + c).crashes(3).healthy().fault(n).then(K::poll).crashes(1).done());
    all.push_back(two_committed("the healthy mark in poll, power cut" + c).crashes(3).healthy().cut(n, n * 31u).crashes(1).done());
    all.push_back(two_committed("shutdown's mark, storage error" + c).crashes(2).then(K::shutdown).fault(n).crashes(1).done());
    all.push_back(two_committed("shutdown's mark, power cut" + c).crashes(2).then(K::shutdown).cut(n, n * 17u).crashes(1).done());
    all.push_back(two_committed("confirm ending safe mode, storage error" + c).crashes(3).then(K::confirm).fault(n).crashes(1).done());
    all.push_back(builder("a trial's crashed opens, storage error" + c).commit().apply().crashes(2).fault(n).crashes(1).done());
  }
  check_all(all);
}

// Found by the checker: a storage error while a read-only store's content
// was read at open did not fail open(); the guard opened serving nothing and
// never read again, where a writable store's open() fails with the error
// (and the host opens again).
TEST_CASE("a read error at a read-only open: open fails as on a writable store", "[model][regression]") {
  sm::run_options ro;
  const std::vector<sm::op> ops = builder("read-only open, read error")
                                      .commit()
                                      .crash(false, false, sm::role::none, true)
                                      .then(K::reopen)
                                      .fault(5)
                                      .done()
                                      .ops;
  const sm::run_report r = sm::run_sequence(ops, ro, true);
  INFO(r.text);
  CHECK_FALSE(r.diverged);
}
