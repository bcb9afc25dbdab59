// SPDX-License-Identifier: Apache-2.0
// The slot store: every transition, its rejections, the quarantine bound, the
// lock, corrupt slots and journals, and the journal's byte format. Each case
// runs on the simulator and on the platform's real backend in a temporary
// directory.
#include <slotguard/sim_storage.hpp>
#include <slotguard/slot_store.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#if !SLOTGUARD_OS_WINDOWS
#include <sys/wait.h>
#include <unistd.h>
#endif

namespace sg = slotguard;
using sg::errc;
using sg::slot_id;

namespace {

std::vector<std::uint8_t> content(std::uint64_t seq, std::size_t size = 1000) {
  return slotguard_test::pseudo_random_bytes(seq, size);
}

// The simulator, with test-side file access.
struct sim_env {
  sg::sim_storage fs;
  std::string dir = "/chan";
  sg::storage& storage() { return fs; }
  std::vector<std::uint8_t> read(const std::string& p) { return fs.peek(p).value_or(std::vector<std::uint8_t>{}); }
  void put(const std::string& p, const std::vector<std::uint8_t>& b) { fs.poke(p, sg::byte_view(b)); }
  void erase(const std::string& p) { fs.erase(p); }
  std::set<std::string> names() {
    std::set<std::string> out;
    for (const auto& f : fs.files()) out.insert(f.substr(f.find_last_of('/') + 1));
    return out;
  }
};

// The platform's backend in a fresh temporary directory.
struct native_env {
  slotguard_test::temp_dir tmp{"store"};
  sg::native_storage fs;
  std::string dir = slotguard_test::utf8_path(tmp.path() / "chan");
  sg::storage& storage() { return fs; }
  std::vector<std::uint8_t> read(const std::string& p) {
    std::ifstream in(std::filesystem::u8path(p), std::ios::binary);
    return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  void put(const std::string& p, const std::vector<std::uint8_t>& b) {
    std::ofstream out(std::filesystem::u8path(p), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  void erase(const std::string& p) { std::filesystem::remove(std::filesystem::u8path(p)); }
  std::set<std::string> names() {
    std::set<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(std::filesystem::u8path(dir)))
      out.insert(slotguard_test::utf8_path(e.path().filename()));
    return out;
  }
};

sg::slot_store open_ok(sg::storage& fs, const std::string& dir) {
  auto s = sg::slot_store::open(fs, dir);
  REQUIRE(s.has_value());
  return std::move(*s);
}

// The content each slot file holds, for "nothing changed" checks.
template <class Env>
std::vector<std::vector<std::uint8_t>> snapshot_files(Env& env) {
  std::vector<std::vector<std::uint8_t>> out;
  for (const auto& n : env.names())
    if (n != "lock") out.push_back(env.read(sg::detail::join_path(env.dir, n)));
  return out;
}

}  // namespace

TEMPLATE_TEST_CASE("a new store is empty and persists nothing until used", "[store.open]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  CHECK(s.state() == sg::store_state{});
  CHECK(s.state().generation == 0);
  auto l = s.load_active();
  REQUIRE_FALSE(l);
  CHECK(l.error() == errc::no_content);
  CHECK(s.load(slot_id::a).error() == errc::no_content);
  CHECK_FALSE(env.names().count("journal.0"));
}

TEMPLATE_TEST_CASE("every transition persists and survives reopening", "[store.transitions]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  auto reopen = [&] {
    s = sg::slot_store(std::move(s));  // moving keeps the lock
    const sg::store_state before = s.state();
    { auto drop = std::move(s); }
    s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == before);
  };

  // First content: staged into A, tried, committed.
  REQUIRE(s.stage(sg::byte_view(content(10)), 10));
  CHECK(s.state().staged == slot_id::a);
  CHECK_FALSE(s.state().active);
  reopen();
  REQUIRE(s.begin_trial(2));
  CHECK(s.state().active == slot_id::a);
  CHECK_FALSE(s.state().fallback);
  CHECK(s.state().trial);
  CHECK(s.state().start_budget == 2);
  reopen();
  auto spent = s.count_start();
  REQUIRE(spent);
  CHECK_FALSE(*spent);
  CHECK(s.state().starts_used == 1);
  reopen();
  REQUIRE(s.commit());
  CHECK_FALSE(s.state().trial);
  CHECK(s.state().floor == 10);
  reopen();
  auto l = s.load_active();
  REQUIRE(l);
  CHECK(l->sequence == 10);
  CHECK(l->bytes == content(10));
  CHECK_FALSE(l->from_fallback);

  // Second: staged into B, tried, reverted: A runs again, 20 quarantined.
  REQUIRE(s.stage(sg::byte_view(content(20)), 20));
  CHECK(s.state().staged == slot_id::b);
  REQUIRE(s.begin_trial(1));
  CHECK(s.state().active == slot_id::b);
  CHECK(s.state().fallback == slot_id::a);
  CHECK(s.state().last_known_good() == slot_id::a);
  reopen();
  REQUIRE(s.load_active()->bytes == content(20));
  REQUIRE(s.revert());
  CHECK(s.state().active == slot_id::a);
  CHECK_FALSE(s.state().fallback);
  CHECK_FALSE(s.state().trial);
  CHECK(s.is_quarantined(20));
  CHECK_FALSE(s.state().slot(slot_id::b).present);
  CHECK(s.state().floor == 10);
  reopen();
  CHECK(s.is_quarantined(20));
  CHECK(s.load_active()->bytes == content(10));

  // Third: B again, committed: A becomes the fallback.
  REQUIRE(s.stage(sg::byte_view(content(30)), 30));
  REQUIRE(s.begin_trial(3));
  REQUIRE(s.commit());
  CHECK(s.state().active == slot_id::b);
  CHECK(s.state().fallback == slot_id::a);
  CHECK(s.state().floor == 30);
  reopen();

  // Operator rollback: A again, floor lowered; B kept as fallback.
  REQUIRE(s.rollback());
  CHECK(s.state().active == slot_id::a);
  CHECK(s.state().fallback == slot_id::b);
  CHECK(s.state().floor == 10);
  reopen();
  CHECK(s.load_active()->bytes == content(10));

  // Staging replaces the fallback, never the active slot.
  REQUIRE(s.stage(sg::byte_view(content(40)), 40));
  CHECK(s.state().staged == slot_id::b);
  CHECK_FALSE(s.state().fallback);
  CHECK(s.load(slot_id::b).value() == content(40));
  CHECK(s.load(slot_id::a).value() == content(10));
  reopen();

  // Only the files the state names remain.
  std::set<std::string> expect{"lock", "journal.0", "journal.1", sg::detail::slot_file_name(slot_id::a, s.state().slot(slot_id::a).file_number),
                               sg::detail::slot_file_name(slot_id::b, s.state().slot(slot_id::b).file_number)};
  auto names = env.names();
  names.erase("lock");  // the simulator keeps locks outside its files
  expect.erase("lock");
  CHECK(names == expect);
}

TEMPLATE_TEST_CASE("the start budget is spent after budget + 1 counted starts", "[store.budget]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage(sg::byte_view(content(5)), 5));
  REQUIRE(s.begin_trial(2));
  CHECK_FALSE(s.count_start().value());
  CHECK_FALSE(s.count_start().value());
  CHECK(s.count_start().value());
  CHECK(s.state().starts_used == 3);
  REQUIRE(s.revert());
  CHECK_FALSE(s.state().active);
  CHECK(s.is_quarantined(5));
  CHECK(s.load_active().error() == errc::no_content);
}

TEMPLATE_TEST_CASE("a trial may begin with starts already used, recorded in the same write",
                   "[store.budget]", sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  CHECK(s.stage_trial(sg::byte_view(content(5)), 5, 1, 2).error() == errc::invalid_argument);  // more used than the budget
  CHECK_FALSE(s.state().trial);
  REQUIRE(s.stage_trial(sg::byte_view(content(5)), 5, 1, 1));
  CHECK(s.state().starts_used == 1);
  // Reopened: the count is durable, and the next start spends the budget.
  { auto drop = std::move(s); }
  s = open_ok(env.storage(), env.dir);
  CHECK(s.state().trial);
  CHECK(s.state().starts_used == 1);
  CHECK(s.count_start().value());
}

TEMPLATE_TEST_CASE("release_start gives back one counted start, durably", "[store.budget]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage_trial(sg::byte_view(content(5)), 5, 1, 1));
  const auto generation = s.state().generation;
  REQUIRE(s.release_start());
  CHECK(s.state().starts_used == 0);
  CHECK(s.state().generation == generation + 1);
  REQUIRE(s.release_start());  // none counted: nothing written
  CHECK(s.state().generation == generation + 1);
  { auto drop = std::move(s); }
  s = open_ok(env.storage(), env.dir);
  CHECK(s.state().trial);
  CHECK(s.state().starts_used == 0);
  CHECK_FALSE(s.count_start().value());  // the budget is whole again
  CHECK(s.count_start().value());
}

TEMPLATE_TEST_CASE("stage_trial stages and begins the trial in one record", "[store.transitions]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage(sg::byte_view(content(1)), 1));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  const auto lkg = s.state().active;

  CHECK(s.stage_trial(sg::byte_view(content(2)), 2, 0).error() == errc::invalid_argument);
  CHECK(s.stage_trial(sg::byte_view(content(2)), 2, 1, 2).error() == errc::invalid_argument);
  CHECK(s.stage_trial(sg::byte_view(content(1)), 1, 1).error() == errc::sequence_rollback);
  CHECK_FALSE(s.state().trial);

  REQUIRE(s.stage_trial(sg::byte_view(content(2)), 2, 2, 1));
  CHECK(s.state().trial);
  CHECK(s.state().fallback == lkg);
  CHECK(s.state().active != lkg);
  CHECK_FALSE(s.state().staged);
  CHECK(s.state().starts_used == 1);
  CHECK(s.state().start_budget == 2);
  auto a = s.load_active();
  REQUIRE(a);
  CHECK(a->sequence == 2);
  CHECK(a->bytes == content(2));

  // During a trial it replaces the trial, in the trial's slot.
  const auto trial_slot = s.state().active;
  REQUIRE(s.stage_trial(sg::byte_view(content(3)), 3, 1, 1));
  CHECK(s.state().active == trial_slot);
  CHECK(s.state().fallback == lkg);
  { auto drop = std::move(s); }
  s = open_ok(env.storage(), env.dir);
  CHECK(s.state().trial);
  CHECK(s.load_active()->sequence == 3);
  REQUIRE(s.revert());
  CHECK(s.load_active()->sequence == 1);
}

TEMPLATE_TEST_CASE("staging during a trial replaces the trial, never the last known-good",
                   "[store.transitions]", sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage(sg::byte_view(content(1)), 1));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  REQUIRE(s.stage(sg::byte_view(content(2)), 2));
  REQUIRE(s.begin_trial(1));
  const std::string good = s.slot_path(slot_id::a);
  const auto good_bytes = env.read(good);
  REQUIRE(s.stage(sg::byte_view(content(3)), 3));
  CHECK(s.state().active == slot_id::a);
  CHECK(s.state().staged == slot_id::b);
  CHECK_FALSE(s.state().trial);
  CHECK_FALSE(s.is_quarantined(2));
  CHECK(s.slot_path(slot_id::a) == good);
  CHECK(env.read(good) == good_bytes);
  CHECK(s.load(slot_id::b).value() == content(3));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  CHECK(s.state().floor == 3);
}

TEMPLATE_TEST_CASE("rejected calls change nothing", "[store.reject]", sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  CHECK(s.begin_trial(1).error() == errc::no_content);
  CHECK(s.commit().error() == errc::no_trial);
  CHECK(s.revert().error() == errc::no_trial);
  CHECK(s.count_start().error() == errc::no_trial);
  CHECK(s.release_start().error() == errc::no_trial);
  CHECK(s.rollback().error() == errc::no_fallback);
  REQUIRE(s.stage(sg::byte_view(content(7)), 7));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  REQUIRE(s.quarantine(9));
  REQUIRE(s.stage(sg::byte_view(content(8)), 8));
  REQUIRE(s.begin_trial(1));

  const sg::store_state before = s.state();
  const auto files = snapshot_files(env);
  CHECK(s.stage(sg::byte_view(content(1)), 0).error() == errc::invalid_argument);
  CHECK(s.stage(sg::byte_view(content(1)), 7).error() == errc::sequence_rollback);
  CHECK(s.stage(sg::byte_view(content(1)), 3).error() == errc::sequence_rollback);
  CHECK(s.stage(sg::byte_view(content(1)), 9).error() == errc::quarantined);
  CHECK(s.begin_trial(1).error() == errc::trial_active);
  CHECK(s.rollback().error() == errc::trial_active);
  CHECK(s.state() == before);
  CHECK(snapshot_files(env) == files);
  {
    auto again = sg::slot_store::open(env.storage(), env.dir);
    REQUIRE_FALSE(again);
  }
  REQUIRE(s.revert());
  const sg::store_state after_revert = s.state();
  CHECK(s.begin_trial(0).error() == errc::no_content);
  REQUIRE(s.stage(sg::byte_view(content(11)), 11));
  CHECK(s.begin_trial(0).error() == errc::invalid_argument);
  REQUIRE(s.quarantine(11));
  CHECK(s.begin_trial(1).error() == errc::quarantined);
  CHECK(s.state().staged == slot_id::b);
  (void)after_revert;
}

TEST_CASE("stage refuses content beyond max_slot_size", "[store.reject]") {
  sg::sim_storage fs;
  sg::store_options opts;
  opts.max_slot_size = 100;
  auto s = sg::slot_store::open(fs, "/c", opts);
  REQUIRE(s);
  CHECK(s->stage(sg::byte_view(content(1, 101)), 1).error() == errc::too_large);
  CHECK(s->stage(sg::byte_view(content(1, 100)), 1));
}

TEMPLATE_TEST_CASE("the quarantine holds the last sequences and persists", "[store.quarantine]",
                   sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  const std::size_t cap = sg::slot_store::quarantine_capacity;
  CHECK(cap >= 4 * 1024);  // four times the largest recall list a bundle may carry
  // One recall fills the quarantine at once (one record, not one per entry).
  std::vector<std::uint64_t> many;
  for (std::uint64_t q = 1; q <= cap; ++q) many.push_back(q * 3 + 1000);
  const auto gen0 = s.state().generation;
  REQUIRE(s.recall(many));
  CHECK(s.state().generation == gen0 + 1);
  CHECK(s.state().quarantine.size() == cap);
  for (std::uint64_t q = 1; q <= 6; ++q) REQUIRE(s.quarantine(q * 3));
  CHECK(s.state().quarantine.size() == cap);
  // Above the floor nothing is inert: the oldest entries went.
  for (std::uint64_t q = 1; q <= 6; ++q) CHECK_FALSE(s.is_quarantined(q * 3 + 1000));
  for (std::uint64_t q = 1; q <= 6; ++q) CHECK(s.is_quarantined(q * 3));
  CHECK(s.state().quarantine.back() == 18);
  const auto gen = s.state().generation;
  REQUIRE(s.quarantine(18));
  CHECK(s.state().generation == gen);  // already held: nothing written
  { auto drop = std::move(s); }
  auto t = open_ok(env.storage(), env.dir);
  CHECK(t.state().quarantine.size() == cap);
  CHECK(t.is_quarantined(18));
  CHECK_FALSE(t.is_quarantined(1003));
  // A quarantined sequence is refused by stage.
  CHECK(t.stage(sg::byte_view(content(1)), 18).error() == errc::quarantined);
}

TEMPLATE_TEST_CASE("a full quarantine gives up entries at or below the floor first",
                   "[store.quarantine]", sim_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage_trial(sg::byte_view(content(50)), 50, 1));
  REQUIRE(s.commit());
  std::vector<std::uint64_t> many;
  many.push_back(7);  // at or below the floor: inert while the floor stands
  for (std::uint64_t q = 1; q < sg::slot_store::quarantine_capacity; ++q) many.push_back(100 + q);
  REQUIRE(s.recall(many));
  REQUIRE(s.quarantine(99));
  CHECK_FALSE(s.is_quarantined(7));
  CHECK(s.is_quarantined(101));  // the oldest entry above the floor stays
  CHECK(s.is_quarantined(99));
  CHECK(s.state().active == slot_id::a);
}

TEMPLATE_TEST_CASE("a second opener gets busy until the first lets go", "[store.lock]", sim_env,
                   native_env) {
  TestType env;
  {
    auto s = open_ok(env.storage(), env.dir);
    REQUIRE(s.stage(sg::byte_view(content(4)), 4));
    auto t = sg::slot_store::open(env.storage(), env.dir);
    REQUIRE_FALSE(t);
    CHECK(t.error() == errc::busy);
    // A moved-from store holds nothing; the lock moves with the store.
    auto moved = std::move(s);
    CHECK(sg::slot_store::open(env.storage(), env.dir).error() == errc::busy);
    CHECK(moved.state().staged == slot_id::a);
  }
  auto u = sg::slot_store::open(env.storage(), env.dir);
  REQUIRE(u);
  CHECK(u->state().staged == slot_id::a);
}

#if !SLOTGUARD_OS_WINDOWS
TEST_CASE("a second process opening a locked store gets busy", "[store.lock]") {
  slotguard_test::temp_dir tmp("store-lock");
  const std::string dir = slotguard_test::utf8_path(tmp.path() / "chan");
  sg::posix_storage fs;
  auto s = sg::slot_store::open(fs, dir);
  REQUIRE(s);
  REQUIRE(s->stage(sg::byte_view(content(6)), 6));
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    sg::posix_storage child_fs;
    auto c = sg::slot_store::open(child_fs, dir);
    // 0: busy as expected; 1: opened; 2: another error.
    ::_exit(!c ? (c.error() == errc::busy ? 0 : 2) : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The refused opener damaged nothing.
  CHECK(s->load(slot_id::a).value() == content(6));
  const auto st = s->state();
  s = sg::result<sg::slot_store>(errc::internal);  // release the lock
  const pid_t pid2 = ::fork();
  REQUIRE(pid2 >= 0);
  if (pid2 == 0) {
    sg::posix_storage child_fs;
    auto c = sg::slot_store::open(child_fs, dir);
    ::_exit(c && c->state() == st ? 0 : 1);
  }
  REQUIRE(::waitpid(pid2, &status, 0) == pid2);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
#endif

TEMPLATE_TEST_CASE("a corrupt active slot falls back to the good one", "[store.corrupt]", sim_env,
                   native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage(sg::byte_view(content(1)), 1));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  REQUIRE(s.stage(sg::byte_view(content(2)), 2));
  REQUIRE(s.begin_trial(1));
  const std::string trial_file = s.slot_path(slot_id::b);

  SECTION("one flipped bit") {
    auto bytes = env.read(trial_file);
    bytes[bytes.size() / 2] ^= 0x10;
    env.put(trial_file, bytes);
  }
  SECTION("truncated") {
    auto bytes = env.read(trial_file);
    bytes.resize(bytes.size() - 1);
    env.put(trial_file, bytes);
  }
  SECTION("grown") {
    auto bytes = env.read(trial_file);
    bytes.push_back(0);
    env.put(trial_file, bytes);
  }
  SECTION("missing") { env.erase(trial_file); }

  CHECK(s.load(slot_id::b).error() == errc::slot_corrupt);
  auto l = s.load_active();
  REQUIRE(l);
  CHECK(l->from_fallback);
  CHECK(l->slot == slot_id::a);
  CHECK(l->sequence == 1);
  CHECK(l->bytes == content(1));
  // The caller reverts; the good content is active again.
  REQUIRE(s.revert());
  CHECK(s.load_active()->bytes == content(1));
}

TEMPLATE_TEST_CASE("rollback refuses a corrupt fallback, both corrupt is slot_corrupt", "[store.corrupt]",
                   sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage(sg::byte_view(content(1)), 1));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  REQUIRE(s.stage(sg::byte_view(content(2)), 2));
  REQUIRE(s.begin_trial(1));
  REQUIRE(s.commit());
  const std::string fb = s.slot_path(slot_id::a);
  auto bytes = env.read(fb);
  bytes[0] ^= 1;
  env.put(fb, bytes);
  const auto before = s.state();
  CHECK(s.rollback().error() == errc::slot_corrupt);
  CHECK(s.state() == before);
  CHECK(s.load_active()->bytes == content(2));
  const std::string act = s.slot_path(slot_id::b);
  auto b2 = env.read(act);
  b2[3] ^= 1;
  env.put(act, b2);
  CHECK(s.load_active().error() == errc::slot_corrupt);
}

TEMPLATE_TEST_CASE("recovery picks the newest valid journal record", "[store.recovery]", sim_env,
                   native_env) {
  TestType env;
  sg::store_state older, newer;
  {
    auto s = open_ok(env.storage(), env.dir);
    REQUIRE(s.stage(sg::byte_view(content(1)), 1));
    REQUIRE(s.begin_trial(1));
    REQUIRE(s.commit());
    REQUIRE(s.quarantine(77));
    older = s.state();
    REQUIRE(s.quarantine(78));
    newer = s.state();
  }
  const std::string j0 = sg::detail::join_path(env.dir, "journal.0");
  const std::string j1 = sg::detail::join_path(env.dir, "journal.1");
  // The newest record is in whichever file decodes to the higher generation.
  auto g0 = sg::detail::decode_journal(sg::byte_view(env.read(j0)));
  auto g1 = sg::detail::decode_journal(sg::byte_view(env.read(j1)));
  REQUIRE(g0);
  REQUIRE(g1);
  const std::string newest = g0->generation > g1->generation ? j0 : j1;
  const std::string other = newest == j0 ? j1 : j0;
  {
    auto s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == newer);
  }
  auto rec = sg::detail::decode_journal(sg::byte_view(env.read(newest)));
  REQUIRE(rec);
  CHECK(rec->generation == newer.generation);

  SECTION("a flipped bit in the newest record") {
    auto b = env.read(newest);
    b[40] ^= 4;
    env.put(newest, b);
    auto s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == older);
    // The next record goes to the damaged file and wins again.
    REQUIRE(s.quarantine(79));
    auto d = sg::detail::decode_journal(sg::byte_view(env.read(newest)));
    REQUIRE(d);
    CHECK(d->quarantine.back() == 79);
  }
  SECTION("the newest record truncated") {
    auto b = env.read(newest);
    b.resize(b.size() - 3);
    env.put(newest, b);
    auto s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == older);
  }
  SECTION("the newest record missing") {
    env.erase(newest);
    auto s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == older);
  }
  SECTION("the older record damaged changes nothing") {
    auto b = env.read(other);
    b[0] = 'X';
    env.put(other, b);
    auto s = open_ok(env.storage(), env.dir);
    CHECK(s.state() == newer);
  }
  SECTION("both damaged: journal_corrupt, and nothing is touched") {
    for (const auto& p : {j0, j1}) {
      auto b = env.read(p);
      b[b.size() - 1] ^= 0xFF;
      env.put(p, b);
    }
    const auto files = snapshot_files(env);
    auto s = sg::slot_store::open(env.storage(), env.dir);
    REQUIRE_FALSE(s);
    CHECK(s.error() == errc::journal_corrupt);
    CHECK(snapshot_files(env) == files);
  }
}

TEMPLATE_TEST_CASE("open removes leftovers of interrupted operations only", "[store.recovery]", sim_env,
                   native_env) {
  TestType env;
  {
    auto s = open_ok(env.storage(), env.dir);
    REQUIRE(s.stage(sg::byte_view(content(1)), 1));
  }
  env.put(sg::detail::join_path(env.dir, "slot-b.99"), content(3));
  env.put(sg::detail::join_path(env.dir, "journal.1.new"), content(4, 10));
  env.put(sg::detail::join_path(env.dir, "host-notes.txt"), content(5, 10));
  auto s = open_ok(env.storage(), env.dir);
  const auto names = env.names();
  CHECK_FALSE(names.count("slot-b.99"));
  CHECK_FALSE(names.count("journal.1.new"));
  CHECK(names.count("host-notes.txt"));
  CHECK(names.count(sg::detail::slot_file_name(slot_id::a, s.state().slot(slot_id::a).file_number)));
  // File numbers never reuse a leftover's.
  REQUIRE(s.stage(sg::byte_view(content(2)), 2));
  CHECK(s.state().slot(slot_id::a).file_number > 99);
}

TEST_CASE("the last known-good file is never written, and no named file is rewritten",
          "[store.invariant3]") {
  sg::sim_storage fs;
  sg::slot_store* watched = nullptr;
  std::size_t writes = 0, bad = 0;
  fs.on_write([&](const std::string& path, sg::byte_view) {
    ++writes;
    if (watched == nullptr) return;
    for (slot_id id : {slot_id::a, slot_id::b})
      if (path == watched->slot_path(id)) ++bad;  // a file the state names
  });
  auto s = open_ok(fs, "/c");
  watched = &s;
  std::uint64_t seq = 1;
  for (int round = 0; round < 20; ++round) {
    REQUIRE(s.stage(sg::byte_view(content(seq, 300)), seq));
    REQUIRE(s.begin_trial(2));
    if (round % 3 == 1) {
      // Stage over the running trial.
      ++seq;
      REQUIRE(s.stage(sg::byte_view(content(seq, 300)), seq));
      REQUIRE(s.begin_trial(1));
    }
    REQUIRE(s.count_start());
    if (round % 2 == 0) REQUIRE(s.commit());
    else REQUIRE(s.revert());
    if (round % 5 == 4 && s.state().fallback) REQUIRE(s.rollback());
    ++seq;
  }
  CHECK(writes > 40);
  CHECK(bad == 0);
}

TEST_CASE("a record of the length of the one it replaces is written in place, others by a rename",
          "[store.journal]") {
  sg::sim_storage fs;
  std::vector<std::string> written;
  fs.on_write([&](const std::string& path, sg::byte_view) { written.push_back(path); });
  auto s = open_ok(fs, "/c");
  REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 2, 0));  // journal.0, new
  REQUIRE(s.count_start());                                     // journal.1, new
  written.clear();
  REQUIRE(s.count_start());  // the same length: journal.0 in place
  REQUIRE(s.commit());       // and journal.1
  CHECK(written == std::vector<std::string>{"/c/journal.0", "/c/journal.1"});
  CHECK(fs.unsynced().empty());
  written.clear();
  REQUIRE(s.quarantine(7));  // eight bytes longer: a new file, renamed into place
  CHECK(written == std::vector<std::string>{"/c/journal.0.new"});
  // Whatever the path, reopening finds the state.
  const sg::store_state st = s.state();
  s = open_ok(fs, "/other");
  fs.reboot();
  CHECK(open_ok(fs, "/c").state() == st);
}

TEST_CASE("a journal file planted with another length or kind is replaced, never written through",
          "[store.journal]") {
  sg::sim_storage fs;
  {
    auto s = open_ok(fs, "/c");
    REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 2, 0));
    REQUIRE(s.count_start());
  }
  // The file the next record goes to grows by a byte behind the store's back.
  auto j = fs.peek("/c/journal.0").value();
  j.push_back(0);
  fs.poke("/c/journal.0", sg::byte_view(j));
  auto s = open_ok(fs, "/c");
  REQUIRE(s.count_start());
  s = open_ok(fs, "/other");
  fs.reboot();
  auto again = open_ok(fs, "/c");
  CHECK(again.state().starts_used == 2);
}

TEST_CASE("a journal file planted as a hard link is replaced, the file it shares is never written",
          "[store.journal][storage.nonregular]") {
  native_env env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 2, 0));  // journal.0
  REQUIRE(s.count_start());                                     // journal.1: the next record goes to journal.0
  slotguard_test::temp_dir outside("store-outside");
  const auto victim = outside.path() / "victim";
  const std::string j0 = sg::detail::join_path(env.dir, "journal.0");
  const auto planted = env.read(j0);  // the same length as the next record
  {
    std::ofstream out(victim, std::ios::binary);
    out.write(reinterpret_cast<const char*>(planted.data()), static_cast<std::streamsize>(planted.size()));
  }
  env.erase(j0);
  std::filesystem::create_hard_link(victim, std::filesystem::u8path(j0));
  REQUIRE(s.count_start());
  std::ifstream in(victim, std::ios::binary);
  const std::vector<std::uint8_t> after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(after == planted);
  CHECK(env.read(j0) != planted);
  s = open_ok(env.storage(), env.dir + "-other");
  CHECK(open_ok(env.storage(), env.dir).state().starts_used == 2);
}

TEST_CASE("an I/O error at any call of an operation changes nothing", "[store.io_error]") {
  // Each operation from a committed-with-trial state, with the k-th storage
  // call failing; the crash test covers every operation of long sequences.
  for (int op = 0; op < 6; ++op) {
    for (std::uint64_t k = 1;; ++k) {
      sg::sim_storage fs;
      auto s = open_ok(fs, "/c");
      REQUIRE(s.stage(sg::byte_view(content(1)), 1));
      REQUIRE(s.begin_trial(1));
      REQUIRE(s.commit());
      REQUIRE(s.stage(sg::byte_view(content(2)), 2));
      if (op >= 2) REQUIRE(s.begin_trial(2));
      const auto before = s.state();
      const auto calls = fs.call_count();
      fs.fail_nth_call(k);
      sg::result<void> r;
      switch (op) {
        case 0: r = s.stage(sg::byte_view(content(3)), 3); break;
        case 1: r = s.begin_trial(1); break;
        case 2: {
          auto c = s.count_start();
          r = c ? sg::ok() : sg::result<void>(c.error());
          break;
        }
        case 3: r = s.commit(); break;
        case 4: r = s.revert(); break;
        default: r = s.quarantine(50); break;
      }
      const bool injected = fs.call_count() - calls >= k;
      fs.fail_nth_call(0);
      if (!injected) {
        REQUIRE(r);  // k is past the operation's last call
        break;
      }
      INFO("op " << op << " failing call " << k);
      if (r) {
        // Only a failed clean-up after the commit point may go unreported.
        CHECK(s.state() != before);
      } else {
        CHECK(s.state() == before);
        { auto drop = std::move(s); }
        auto t = open_ok(fs, "/c");
        CHECK(t.state() == before);
        fs.reboot();  // and after a power cut right then
        auto u = open_ok(fs, "/c");
        CHECK(u.state() == before);
      }
    }
  }
}

TEST_CASE("journal records round-trip and match the golden bytes", "[store.journal]") {
  sg::store_state st;
  st.generation = 0x0102030405060708ull;
  st.floor = 41;
  st.active = slot_id::b;
  st.fallback = slot_id::a;
  st.trial = true;
  st.starts_used = 2;
  st.start_budget = 3;
  st.slots[0].present = true;
  st.slots[0].file_number = 5;
  st.slots[0].sequence = 41;
  st.slots[0].size = 1000;
  for (std::size_t i = 0; i < 32; ++i) st.slots[0].sha256[i] = static_cast<std::uint8_t>(i);
  st.slots[1].present = true;
  st.slots[1].file_number = 9;
  st.slots[1].sequence = 42;
  st.slots[1].size = 7;
  for (std::size_t i = 0; i < 32; ++i) st.slots[1].sha256[i] = static_cast<std::uint8_t>(0xA0 + i);
  st.quarantine = {17, 19};
  st.channel = "rules";
  st.streak = 2;
  st.safe_sequence = 40;
  st.mode = sg::breaker_mode::safe;
  const auto bytes = sg::detail::encode_journal(st);
  REQUIRE(bytes.size() == 191);
  // The format is part of the on-disk contract (docs/STORE.md): a change
  // must show up here. These bytes were built field by field from the
  // table in docs/STORE.md by an independent script, CRC32C (8127d1bc)
  // with a bitwise implementation.
  const std::string golden =
      "53474a32bf000000080706050403020129000000000000000100ff07020000000300000005000000000000002900"
      "000000000000e803000000000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
      "09000000000000002a000000000000000700000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5"
      "b6b7b8b9babbbcbdbebf020000002800000000000000010572756c65730200000011000000000000001300000000"
      "000000bcd12781";
  CHECK(sg::to_hex(sg::byte_view(bytes)) == golden);
  CHECK(sg::detail::load_le32(bytes.data() + 187) == sg::crc32c(sg::byte_view(bytes.data(), 187)));

  SECTION("a version 1 record (no channel, no streak) is still read") {
    const std::string v1 =
        "53474a31ac000000080706050403020129000000000000000100ff07020000000300000005000000000000002900"
        "000000000000e803000000000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
        "09000000000000002a000000000000000700000000000000a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5"
        "b6b7b8b9babbbcbdbebf0200000011000000000000001300000000000000df47f488";
    auto raw = sg::from_hex(v1);
    REQUIRE(raw);
    auto old = sg::detail::decode_journal(sg::byte_view(*raw));
    REQUIRE(old);
    sg::store_state expect = st;
    expect.channel.clear();
    expect.streak = 0;
    expect.safe_sequence = 0;
    expect.mode = sg::breaker_mode::normal;
    CHECK(*old == expect);
  }
  auto back = sg::detail::decode_journal(sg::byte_view(bytes));
  REQUIRE(back);
  CHECK(*back == st);

  // Every single-bit flip is refused.
  for (std::size_t i = 0; i < bytes.size() * 8; ++i) {
    auto b = bytes;
    b[i / 8] ^= static_cast<std::uint8_t>(1u << (i % 8));
    CHECK_FALSE(sg::detail::decode_journal(sg::byte_view(b)));
  }
  // Every truncation is refused.
  for (std::size_t n = 0; n < bytes.size(); ++n)
    CHECK_FALSE(sg::detail::decode_journal(sg::byte_view(bytes.data(), n)));
}

TEST_CASE("journal records with a valid CRC but an impossible state are refused", "[store.journal]") {
  auto reseal = [](std::vector<std::uint8_t> b) {
    sg::detail::store_le32(b.data() + b.size() - 4, sg::crc32c(sg::byte_view(b.data(), b.size() - 4)));
    return b;
  };
  sg::store_state st;
  st.generation = 3;
  st.active = slot_id::a;
  st.slots[0].present = true;
  st.slots[0].file_number = 2;
  st.slots[0].sequence = 1;
  const auto good = sg::detail::encode_journal(st);
  REQUIRE(sg::detail::decode_journal(sg::byte_view(good)));
  auto with = [&](std::size_t off, std::uint8_t v) {
    auto b = good;
    b[off] = v;
    return sg::detail::decode_journal(sg::byte_view(reseal(b)));
  };
  CHECK(with(24, 2).error() == errc::journal_corrupt);     // active slot 2
  CHECK(with(24, 1).error() == errc::journal_corrupt);     // active names an empty slot
  CHECK(with(25, 0).error() == errc::journal_corrupt);     // fallback == active
  CHECK(with(27, 0x08).error() == errc::journal_corrupt);  // unknown flag
  CHECK(with(27, 0x01 | 0x02).error() == errc::journal_corrupt);  // trial with budget 0
  CHECK(with(28, 1).error() == errc::journal_corrupt);     // starts without a trial
  CHECK(with(8, 0).error() == errc::journal_corrupt);      // generation 0
  CHECK(with(4, 157).error() == errc::journal_corrupt);    // length field
  CHECK(with(162, 1).error() == errc::journal_corrupt);    // quarantine count beyond the record
  CHECK(with(160, 4).error() == errc::journal_corrupt);    // unknown breaker mode
  CHECK(with(161, 65).error() == errc::journal_corrupt);   // channel longer than a channel may be
  CHECK(with(92, 1).error() == errc::journal_corrupt);     // absent slot B with a file number
  std::vector<std::uint8_t> big(sg::detail::journal_max_size + 1, 0);
  CHECK(sg::detail::decode_journal(sg::byte_view(big)).error() == errc::too_large);
}

TEMPLATE_TEST_CASE("a planted slot file at the top of the counter neither wraps nor stops the store",
                   "[store.recovery][regression]", sim_env, native_env) {
  TestType env;
  {
    auto s = open_ok(env.storage(), env.dir);
    REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 1));
    REQUIRE(s.commit());
  }
  const std::string planted = sg::detail::join_path(env.dir, "slot-a.18446744073709551615");
  env.put(planted, content(99));
  auto s = open_ok(env.storage(), env.dir);
  CHECK_FALSE(env.names().count("slot-a.18446744073709551615"));  // removed like any leftover
  const auto fallback_file = s.slot_path(*s.state().active);
  REQUIRE(s.stage_trial(sg::byte_view(content(2)), 2, 1));
  REQUIRE(s.commit());
  CHECK(s.state().generation < UINT64_MAX / 2);
  CHECK_FALSE(env.names().count("slot-a.0"));
  CHECK_FALSE(env.names().count("slot-b.0"));
  // The fallback's file is still there and loads.
  REQUIRE(s.state().fallback);
  CHECK(s.slot_path(*s.state().fallback) == fallback_file);
  CHECK(s.load(*s.state().fallback));
  { auto drop = std::move(s); }
  auto t = open_ok(env.storage(), env.dir);
  CHECK(t.state().floor == 2);
}

TEST_CASE("a journal record at the top of the counter makes writes fail, never silently succeed",
          "[store.journal][regression]") {
  sim_env env;
  sg::store_state st;
  st.generation = UINT64_MAX;
  REQUIRE(env.fs.mkdir(env.dir));
  env.put(sg::detail::join_path(env.dir, "journal.0"), sg::detail::encode_journal(st));
  auto s = open_ok(env.storage(), env.dir);
  CHECK(s.state().generation == UINT64_MAX);
  auto r = s.stage_trial(sg::byte_view(content(1)), 1, 1);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::counter_exhausted);
  CHECK(s.quarantine(5).error() == sg::errc::counter_exhausted);
  CHECK(s.state().generation == UINT64_MAX);
  CHECK_FALSE(s.state().active);
  // Nothing was left behind.
  for (const auto& n : env.names()) CHECK((n == "journal.0" || n == "lock"));
}

TEMPLATE_TEST_CASE("a recall is one record: a crash can never leave a recalled sequence active",
                   "[store.recall][regression]", sim_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 1));
  REQUIRE(s.commit());
  REQUIRE(s.stage_trial(sg::byte_view(content(2)), 2, 1));
  REQUIRE(s.commit());
  const auto calls = env.fs.call_count();
  const auto gen = s.state().generation;
  REQUIRE(s.recall({2, 7}));
  CHECK(s.state().generation == gen + 1);
  CHECK(s.state().slot(*s.state().active).sequence == 1);
  CHECK_FALSE(s.state().fallback);
  CHECK(s.state().floor == 2);
  CHECK(s.is_quarantined(2));
  CHECK(s.is_quarantined(7));
  CHECK(env.fs.call_count() - calls < 12);
  // Read-only: nothing can be written.
  { auto drop = std::move(s); }
  env.fs.set_read_only(true);
  auto w = sg::slot_store::open(env.fs, env.dir);
  REQUIRE_FALSE(w);
  CHECK(w.error() == sg::errc::read_only_store);
  auto ro = sg::slot_store::open_read_only(env.fs, env.dir);
  REQUIRE(ro);
  CHECK(ro->read_only());
  CHECK(ro->state().slot(*ro->state().active).sequence == 1);
  CHECK(ro->quarantine(9).error() == sg::errc::read_only_store);
  CHECK(ro->begin_run().error() == sg::errc::read_only_store);
  CHECK(sg::slot_store::open_read_only(env.fs, "/nowhere").error() == sg::errc::not_found);
}

// ---------------------------------------------------------------------------
// Content too big for memory: received files, stage hooks, held slots.

namespace {

sg::content_writer writer_of(const std::vector<std::uint8_t>& bytes, std::size_t chunk = 4096) {
  return [&bytes, chunk](const std::function<sg::result<void>(sg::byte_view)>& write) -> sg::result<void> {
    for (std::size_t at = 0; at < bytes.size(); at += chunk)
      SLOTGUARD_TRY(write(sg::byte_view(bytes.data() + at, std::min(chunk, bytes.size() - at))));
    return sg::ok();
  };
}

// A hook that puts one file in the slot's directory, durably.
sg::stage_hook file_hook(sg::storage& fs, std::vector<std::string>* made = nullptr) {
  return [&fs, made](const std::string&, const std::string& dir) -> sg::result<void> {
    SLOTGUARD_TRY(fs.mkdir(dir));
    auto f = fs.create(sg::detail::join_path(dir, "rules.txt"));
    if (!f) return f.error();
    SLOTGUARD_TRY(fs.write(*f, sg::byte_view(std::string_view("rule"))));
    SLOTGUARD_TRY(fs.flush(*f));
    SLOTGUARD_TRY(fs.close(*f));
    SLOTGUARD_TRY(fs.sync_dir(dir));
    if (made) made->push_back(dir);
    return sg::ok();
  };
}

bool there(sg::storage& fs, const std::string& p) { return fs.exists(p).value_or(false); }

}  // namespace

TEMPLATE_TEST_CASE("a received file is adopted by a stage without a copy, and maps back checked",
                   "[store.receive]", sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  const auto bytes = content(7, 300000);
  auto r = s.receive(bytes.size(), writer_of(bytes, 65536));
  REQUIRE(r);
  CHECK(r->size == bytes.size());
  CHECK(r->sha256 == sg::sha256_of(sg::byte_view(bytes)));
  const std::string received = r->path;
  CHECK(there(env.storage(), received));
  // A sweep while the file waits for its stage leaves it alone.
  REQUIRE(s.sweep());
  CHECK(there(env.storage(), received));
  REQUIRE(s.stage_trial(std::move(*r), 7, 1, 1));
  CHECK_FALSE(there(env.storage(), received));
  {
    // (Released before the file is damaged below: Windows refuses to write
    // a file while a map of it is open.)
    const auto m = s.map(*s.state().active);
    REQUIRE(m);
    CHECK(std::equal(bytes.begin(), bytes.end(), (*m)->bytes().begin(), (*m)->bytes().end()));
  }
  CHECK(s.load(*s.state().active).value() == bytes);
  // Damage is found through the map too.
  auto damaged = bytes;
  damaged[1234] ^= 1;
  env.put(s.slot_path(*s.state().active), damaged);
  auto again = s.map(*s.state().active);
  CHECK_FALSE(again);
  if (!again) CHECK(again.error() == errc::slot_corrupt);
}

TEMPLATE_TEST_CASE("receive refuses what the store cannot hold before reading, and leaves nothing",
                   "[store.receive]", sim_env, native_env) {
  TestType env;
  sg::store_options o;
  o.max_slot_size = 1000;
  auto opened = sg::slot_store::open(env.storage(), env.dir, o);
  REQUIRE(opened);
  auto& s = *opened;
  const auto before = env.names();
  bool called = false;
  auto big = s.receive(1001, [&](const std::function<sg::result<void>(sg::byte_view)>&) -> sg::result<void> {
    called = true;
    return sg::ok();
  });
  CHECK(big.error() == errc::too_large);
  CHECK_FALSE(called);
  // A producer that gives fewer or more bytes than announced.
  const auto bytes = content(1, 500);
  CHECK(s.receive(501, writer_of(bytes)).error() == errc::invalid_argument);
  CHECK(s.receive(499, writer_of(bytes)).error() == errc::invalid_argument);
  // A producer that fails: its error, nothing left.
  CHECK(s.receive(500, [](const std::function<sg::result<void>(sg::byte_view)>&) -> sg::result<void> {
          return errc::payload_hash_mismatch;
        }).error() == errc::payload_hash_mismatch);
  CHECK(env.names() == before);
  // A stage that refuses a received file removes it.
  auto r = s.receive(bytes.size(), writer_of(bytes));
  REQUIRE(r);
  const std::string p = r->path;
  CHECK(s.stage_trial(std::move(*r), 0, 1).error() == errc::invalid_argument);
  CHECK_FALSE(there(env.storage(), p));
  CHECK(env.names() == before);
}

// A slot's directory is removed whole whatever a hook put in it: 80 levels
// (deeper than any fixed recursion limit), a file and an empty directory at
// each. On Windows each directory is removed as one, never first tried as a
// file (that is refused only after the retries meant for files held open,
// about 0.4 s a directory).
TEMPLATE_TEST_CASE("a slot's directory goes whole at any depth: with a failed stage, with its slot, as a leftover",
                   "[store.receive]", sim_env, native_env) {
  TestType env;
  sg::storage& fs = env.storage();
  constexpr int levels = 80;
  const sg::stage_hook deep = [&](const std::string&, const std::string& d) -> sg::result<void> {
    std::string p = d;
    for (int i = 0; i < levels; ++i) {
      SLOTGUARD_TRY(fs.mkdir(p));
      auto f = fs.create(sg::detail::join_path(p, "f"));
      if (!f) return f.error();
      SLOTGUARD_TRY(fs.close(*f));
      SLOTGUARD_TRY(fs.mkdir(sg::detail::join_path(p, "empty")));
      p = sg::detail::join_path(p, "n");
    }
    return sg::ok();
  };
  const auto deepest = [&](const std::string& d) {
    std::string p = d;
    for (int i = 1; i < levels; ++i) p = sg::detail::join_path(p, "n");
    return sg::detail::join_path(p, "f");
  };
  {
    auto s = open_ok(fs, env.dir);
    const auto names_before = env.names();

    // A stage whose hook fails after filling the directory: nothing left.
    const sg::stage_hook failing = [&](const std::string& f, const std::string& d) -> sg::result<void> {
      SLOTGUARD_TRY(deep(f, d));
      REQUIRE(there(fs, deepest(d)));
      return errc::io_error;
    };
    CHECK(s.stage_trial(sg::byte_view(content(1)), 1, 1, 1, &failing).error() == errc::io_error);
    CHECK(env.names() == names_before);

    // A committed slot's directory goes with its slot when a stage replaces it.
    REQUIRE(s.stage_trial(sg::byte_view(content(2)), 2, 1, 1, &deep));
    const std::string d2 = s.slot_dir(*s.state().active);
    REQUIRE(there(fs, deepest(d2)));
    REQUIRE(s.commit());
    REQUIRE(s.stage_trial(sg::byte_view(content(3)), 3, 1, 1, &deep));
    REQUIRE(s.commit());
    REQUIRE(s.stage_trial(sg::byte_view(content(4)), 4, 1, 1, &deep));  // over slot 2's slot
    CHECK_FALSE(there(fs, d2));

    // Held by a reader while replaced: the sweep that finds it unheld removes it.
    const std::string d4 = s.slot_dir(*s.state().active);
    REQUIRE(s.commit());
    bool held = true;
    s.set_hold([&](const std::string& file) { return held && file + ".d" == d4; });
    REQUIRE(s.stage_trial(sg::byte_view(content(5)), 5, 1, 1, &deep));
    REQUIRE(s.commit());
    REQUIRE(s.stage_trial(sg::byte_view(content(6)), 6, 1, 1, &deep));  // over slot 4's slot
    CHECK(there(fs, deepest(d4)));
    held = false;
    REQUIRE(s.sweep());
    CHECK_FALSE(there(fs, d4));
  }

  // A leftover at open (a crash after the stage filled it, before its
  // record): the open removes it.
  const std::string leftover = sg::detail::join_path(env.dir, "slot-a.999.d");
  REQUIRE(deep("", leftover));
  auto again = open_ok(fs, env.dir);
  CHECK_FALSE(there(fs, leftover));
  CHECK(there(fs, again.slot_dir(*again.state().active)));
}

TEMPLATE_TEST_CASE("a stage hook fills the slot's directory before the record, it goes with its slot",
                   "[store.receive]", sim_env, native_env) {
  TestType env;
  auto s = open_ok(env.storage(), env.dir);
  auto listing = [&] {
    auto n = env.storage().list(env.dir);
    REQUIRE(n);
    return std::set<std::string>(n->begin(), n->end());
  };
  const sg::stage_hook hook = file_hook(env.storage());
  REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 1, 1, &hook));
  const std::string f1 = s.slot_path(*s.state().active);
  const std::string d1 = s.slot_dir(*s.state().active);
  CHECK(d1 == f1 + ".d");
  CHECK(there(env.storage(), sg::detail::join_path(d1, "rules.txt")));
  REQUIRE(s.commit());

  // A failing hook: nothing recorded, its file and directory gone.
  const auto before = s.state();
  const auto names_before = listing();
  const sg::stage_hook failing = [&](const std::string& f, const std::string& d) -> sg::result<void> {
    SLOTGUARD_TRY(hook(f, d));
    return errc::io_error;
  };
  CHECK(s.stage_trial(sg::byte_view(content(2)), 2, 1, 1, &failing).error() == errc::io_error);
  CHECK(s.state() == before);
  CHECK(listing() == names_before);

  // Held by a reader: the slot's file and directory stay when the slot moves
  // on, and a sweep removes them once nobody holds them.
  bool held = true;
  s.set_hold([&](const std::string& file) { return held && file == f1; });
  REQUIRE(s.stage_trial(sg::byte_view(content(3)), 3, 1, 1, &hook));
  REQUIRE(s.commit());
  REQUIRE(s.stage_trial(sg::byte_view(content(4)), 4, 1, 1, &hook));  // goes over slot 1's slot
  CHECK(there(env.storage(), f1));
  CHECK(there(env.storage(), sg::detail::join_path(d1, "rules.txt")));
  REQUIRE(s.sweep());
  CHECK(there(env.storage(), d1));
  held = false;
  REQUIRE(s.sweep());
  CHECK_FALSE(there(env.storage(), f1));
  CHECK_FALSE(there(env.storage(), d1));
  // What the records name is never swept.
  CHECK(there(env.storage(), s.slot_dir(*s.state().active)));
  CHECK(there(env.storage(), s.slot_dir(*s.state().fallback)));
}

TEST_CASE("a crash at any point of a received, hooked stage leaves the old state or the new, and no leftovers",
          "[store.receive][store.crash]") {
  const auto bytes = content(9, 20000);
  for (std::uint64_t cut = 1;; ++cut) {
    sg::sim_storage fs;
    {
      auto s = open_ok(fs, "/chan");
      REQUIRE(s.stage_trial(sg::byte_view(content(1)), 1, 1, 1));
      REQUIRE(s.commit());
    }
    auto s = open_ok(fs, "/chan");
    const sg::stage_hook hook = file_hook(fs);
    fs.cut_power_after(cut);
    auto r = s.receive(bytes.size(), writer_of(bytes));
    bool done = false;
    if (r) done = static_cast<bool>(s.stage_trial(std::move(*r), 9, 1, 1, &hook));
    const bool finished = fs.powered();
    fs.reboot();
    auto again = open_ok(fs, "/chan");
    const auto& st = again.state();
    REQUIRE(st.active);
    const std::uint64_t seq = st.slot(*st.active).sequence;
    CHECK((seq == 1 || seq == 9));
    if (done && finished) CHECK(seq == 9);
    if (seq == 9) {
      CHECK(again.load(*st.active).value() == bytes);
      CHECK(there(fs, sg::detail::join_path(again.slot_dir(*st.active), "rules.txt")));
    }
    // Nothing but the lock, the journals, the slots and their directories.
    const auto listed = fs.list("/chan");
    REQUIRE(listed);
    for (const std::string& name : *listed) {
      const std::string p = "/chan/" + name;
      const bool named = name == "lock" || name.rfind("journal.", 0) == 0 ||
                         (st.active && (p == again.slot_path(*st.active) || p == again.slot_dir(*st.active))) ||
                         (st.fallback && (p == again.slot_path(*st.fallback) || p == again.slot_dir(*st.fallback)));
      INFO("cut " << cut << ": " << name);
      CHECK(named);
    }
    if (finished) break;
  }
}
