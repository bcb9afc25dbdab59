// SPDX-License-Identifier: Apache-2.0
// The store's history (history.hpp): bounded, oldest dropped first, and
// crash-safe: a power cut at every storage call of a run of appends, with
// every way the simulator lets unsynced operations survive (none, all,
// random subsets, torn writes), leaves a whole list that holds every append
// that returned success and nothing torn; a failed call changes nothing.
#include <slotguard/history.hpp>
#include <slotguard/sim_storage.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace sg = slotguard;

namespace {

const std::string dir = "/var/chan";

sg::history_record rec(std::uint64_t i) {
  sg::history_record r;
  r.unix_ms = static_cast<std::int64_t>(1700000000000 + i);
  r.sequence = i;
  r.active = i;
  r.event = "committed";
  r.reason = "none";
  r.error = "ok";
  r.detail = "decision " + std::to_string(i) + std::string(static_cast<std::size_t>(i * 7 % 50), 'x');
  return r;
}

// The list read back is whole: consecutive numbers ending at `last`, at most
// capacity of them, each the record appended with that number.
void check_whole(const std::vector<sg::history_record>& got, std::uint64_t last, std::size_t capacity,
                 const std::string& where) {
  INFO(where);
  REQUIRE(got.size() == std::min<std::uint64_t>(last, capacity));
  for (std::size_t k = 0; k < got.size(); ++k) {
    const std::uint64_t n = last - got.size() + 1 + k;
    sg::history_record want = rec(n);
    want.number = n;
    CHECK(got[k] == want);
  }
}

}  // namespace

TEST_CASE("history keeps the newest records, oldest first, across reopenings", "[history]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir(dir));
  {
    auto empty = sg::read_history(fs, dir);
    REQUIRE(empty);
    CHECK(empty->empty());
  }
  {
    sg::history_log h(fs, dir, 4);
    for (std::uint64_t i = 1; i <= 6; ++i) REQUIRE(h.append(rec(i)));
    auto r = h.records();
    REQUIRE(r);
    check_whole(*r, 6, 4, "in memory");
  }
  auto r = sg::read_history(fs, dir);
  REQUIRE(r);
  check_whole(*r, 6, 4, "read back");
  // A new writer (the next process) continues the numbering.
  sg::history_log h2(fs, dir, 4);
  REQUIRE(h2.append(rec(7)));
  r = sg::read_history(fs, dir);
  REQUIRE(r);
  check_whole(*r, 7, 4, "after reopening");
  // The default capacity keeps at least the last 256.
  sg::history_log h3(fs, dir);
  for (std::uint64_t i = 8; i <= 300; ++i) REQUIRE(h3.append(rec(i)));
  r = sg::read_history(fs, dir);
  REQUIRE(r);
  check_whole(*r, 300, 256, "default capacity");
}

TEST_CASE("a damaged history file is passed over for the other one", "[history]") {
  sg::sim_storage fs;
  REQUIRE(fs.mkdir(dir));
  sg::history_log h(fs, dir, 8);
  REQUIRE(h.append(rec(1)));
  REQUIRE(h.append(rec(2)));  // history.0 holds [1], history.1 holds [1, 2]
  auto bytes = fs.read_file(dir + "/history.1", 1 << 20);
  REQUIRE(bytes);
  (*bytes)[bytes->size() / 2] ^= 0x40;
  fs.poke(dir + "/history.1", sg::byte_view(*bytes));
  auto r = sg::read_history(fs, dir);
  REQUIRE(r);
  check_whole(*r, 1, 8, "the older, intact list");
}

TEST_CASE("history survives a power cut at every storage call", "[history][crash]") {
  const std::size_t capacity = 3;
  const int appends = 5;
  std::size_t cuts = 0, reboots = 0;
  for (std::uint64_t n = 1;; ++n) {
    sg::sim_storage fs;
    REQUIRE(fs.mkdir(dir));
    {
      sg::history_log warm(fs, dir, capacity);
      REQUIRE(warm.append(rec(1)));  // a list exists before the cut
    }
    sg::history_log h(fs, dir, capacity);
    fs.cut_power_after(n);
    std::uint64_t acked = 1;
    for (int i = 2; i <= appends + 1 && fs.powered(); ++i)
      if (h.append(rec(static_cast<std::uint64_t>(i)))) acked = static_cast<std::uint64_t>(i);
    const bool cut_happened = !fs.powered();
    if (!cut_happened) break;  // n is past the last call: every cut point was tried
    ++cuts;
    const auto pending = fs.unsynced();
    std::vector<sg::sim_power_cut> ways;
    ways.emplace_back();  // durable only
    sg::sim_power_cut all;
    all.keep = sg::sim_power_cut::keep_mode::everything;
    ways.push_back(all);
    for (std::uint64_t seed = 1; seed <= 4; ++seed) {
      sg::sim_power_cut c;
      c.keep = sg::sim_power_cut::keep_mode::random;
      c.seed = seed;
      ways.push_back(c);
    }
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].kind != sg::sim_call::write) continue;
      for (std::size_t at : {std::size_t{0}, std::size_t{1}, pending[i].size / 2, pending[i].size - 1}) {
        if (at >= pending[i].size) continue;
        sg::sim_power_cut c;
        c.keep = sg::sim_power_cut::keep_mode::everything;
        c.tear_op = i;
        c.tear_bytes = at;
        ways.push_back(c);
      }
    }
    for (const sg::sim_power_cut& way : ways) {
      sg::sim_storage after = fs;
      after.reboot(way);
      ++reboots;
      auto r = sg::read_history(after, dir);
      REQUIRE(r);
      const std::string where = "cut after call " + std::to_string(n);
      // Every acknowledged append is there; the one in flight may be.
      REQUIRE(!r->empty());
      const std::uint64_t last = r->back().number;
      INFO(where << ", acked " << acked << ", found " << last);
      CHECK(last >= acked);
      CHECK(last <= acked + 1);
      check_whole(*r, last, capacity, where);
      // The next process appends after it.
      sg::history_log next(after, dir, capacity);
      REQUIRE(next.append(rec(last + 1)));
      auto again = sg::read_history(after, dir);
      REQUIRE(again);
      check_whole(*again, last + 1, capacity, where + ", then one more");
    }
  }
  CHECK(cuts > 20);
  CHECK(reboots > cuts);
}

TEST_CASE("a failed storage call in an append changes nothing", "[history]") {
  for (std::uint64_t n = 1; n <= 12; ++n) {
    INFO("failing call " << n);
    sg::sim_storage fs;
    REQUIRE(fs.mkdir(dir));
    sg::history_log h(fs, dir, 4);
    REQUIRE(h.append(rec(1)));
    fs.fail_nth_call(n);
    const bool ok = static_cast<bool>(h.append(rec(2)));
    fs.fail_nth_call(0);
    auto mem = h.records();
    REQUIRE(mem);
    auto disk = sg::read_history(fs, dir);
    REQUIRE(disk);
    check_whole(*mem, ok ? 2 : 1, 4, "in memory");
    check_whole(*disk, ok ? 2 : 1, 4, "on disk");
    // The next append goes through.
    REQUIRE(h.append(rec(ok ? 3 : 2)));
    auto after = sg::read_history(fs, dir);
    REQUIRE(after);
    check_whole(*after, ok ? 3 : 2, 4, "after the failure");
  }
}
