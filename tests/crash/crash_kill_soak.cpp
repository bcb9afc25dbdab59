// SPDX-License-Identifier: Apache-2.0
// Kill soak on the POSIX backend: a child process stages, tries, counts
// starts, gives some back, commits and reverts in a loop while the parent
// SIGKILLs it at random moments. After each kill the store must open at once (the lock died
// with the child), every slot it names must load with the bytes staged under
// its sequence (invariant 1), and no operation the child saw complete may be
// lost: the floor is at least the last one the child reported. The number of
// kills comes from SLOTGUARD_KILL_SOAK (default 1000; 100 in quick mode).
#include <slotguard/slot_store.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/storage.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#if !SLOTGUARD_OS_WINDOWS
#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

namespace sg = slotguard;

#if SLOTGUARD_OS_WINDOWS

TEST_CASE("kill soak (POSIX only: skipped on Windows)", "[store.kill]") {
  WARN("the kill soak needs fork and SIGKILL: skipped on Windows");
}

#else

namespace {

std::vector<std::uint8_t> content(std::uint64_t seq) {
  const auto size = 1024 + static_cast<std::size_t>((seq * 7919) % (64 * 1024));
  return slotguard_test::pseudo_random_bytes(seq, size, 3);
}

// Even sequences come as a tree payload unpacked into the slot's directory
// (a directory and two files, one of them the content), received into the
// store first as a streamed bundle is; the others have no directory.
struct tree_of_seq {
  std::vector<std::uint8_t> payload;
  sg::tree_index index;
};
tree_of_seq tree_for(std::uint64_t seq) {
  const auto big = content(seq);
  const std::string small = "sequence " + std::to_string(seq);
  std::vector<sg::tree_entry> e(3);
  e[0].path = "rules";
  e[0].kind = sg::tree_kind::directory;
  e[1].path = "rules/main";
  e[1].size = big.size();
  e[1].sha256 = sg::sha256_of(sg::byte_view(big));
  e[2].path = "rules/note";
  e[2].size = small.size();
  e[2].sha256 = sg::sha256_of(sg::byte_view(small));
  tree_of_seq t;
  t.index = sg::build_tree_index(std::move(e)).value();
  t.payload = sg::encode_tree_table(t.index).value();
  t.payload.insert(t.payload.end(), big.begin(), big.end());
  t.payload.insert(t.payload.end(), small.begin(), small.end());
  return t;
}

// The child: records its start, applies (in one record or three), counts,
// gives a start back now and then, commits or reverts, marks healthy runs,
// takes the crash-streak breaker's and a recall's steps, forever, reporting the
// floor after each operation that returned success (8-byte writes to a pipe
// are atomic).
[[noreturn]] void child_loop(const std::string& dir, int report_fd) {
  sg::posix_storage fs;
  auto opened = sg::slot_store::open(fs, dir);
  if (!opened) ::_exit(10);
  sg::slot_store s = std::move(*opened);
  auto report = [&] {
    const std::uint64_t f = s.state().floor;
    if (::write(report_fd, &f, sizeof f) != static_cast<ssize_t>(sizeof f)) ::_exit(11);
  };
  // A process start, as the guard's open() records it.
  if (!s.begin_run()) ::_exit(20);
  report();
  if (s.state().trial) {
    if (s.revert()) report();
  }
  std::uint64_t seq = s.state().floor + 1;
  for (;;) {
    while (s.is_quarantined(seq)) ++seq;
    const auto c = content(seq);
    if (seq % 2 == 0) {
      // As the guard's apply of a streamed tree bundle does: received, then
      // one record, its tree unpacked before it.
      const tree_of_seq t = tree_for(seq);
      auto r = s.receive(c.size(), [&c](const std::function<sg::result<void>(sg::byte_view)>& write) -> sg::result<void> {
        for (std::size_t at = 0; at < c.size(); at += 4096)
          SLOTGUARD_TRY(write(sg::byte_view(c.data() + at, std::min<std::size_t>(4096, c.size() - at))));
        return sg::ok();
      });
      if (!r) ::_exit(26);
      const sg::stage_hook hook = [&](const std::string&, const std::string& d) -> sg::result<void> {
        return sg::unpack_tree(fs, d, t.index, sg::read_at_memory(sg::byte_view(t.payload)));
      };
      if (!s.stage_trial(std::move(*r), seq, 1, 1, &hook)) ::_exit(17);
      report();
    } else {
      if (!s.stage(sg::byte_view(c), seq)) ::_exit(12);
      report();
      if (!s.begin_trial(1)) ::_exit(13);
      report();
      if (!s.count_start()) ::_exit(14);
      report();
    }
    if (seq % 5 == 0) {
      // A clean restart: the start given back, then counted again.
      if (!s.release_start()) ::_exit(18);
      report();
      if (!s.count_start()) ::_exit(19);
      report();
    }
    if (seq % 3 == 0) {
      if (!s.revert()) ::_exit(15);
    } else {
      if (!s.commit()) ::_exit(16);
    }
    report();
    if (seq % 4 == 0) {
      // The run was healthy, and then the breaker's and a recall's records:
      // each one durable write of its own.
      const auto& st = s.state();
      if (!s.mark_healthy(st.active && !st.trial ? st.slot(*st.active).sequence : 0)) ::_exit(21);
      report();
      if (!s.begin_run()) ::_exit(22);
      report();
      if (seq % 8 == 0 && s.state().active && !s.state().trial) {
        if (!s.enter_safe_mode(s.state().slot(*s.state().active).sequence)) ::_exit(23);
        report();
        if (!s.set_mode(sg::breaker_mode::normal)) ::_exit(24);
        report();
      } else if (seq % 12 == 0) {
        if (!s.recall({seq - 1})) ::_exit(25);
        report();
      }
    }
    ++seq;
  }
}

}  // namespace

TEST_CASE("SIGKILL at random moments never damages the store or keeps its lock", "[store.kill]") {
  std::uint64_t kills = slotguard_test::quick_mode() ? 100 : 1000;
  if (const char* env = std::getenv("SLOTGUARD_KILL_SOAK")) kills = std::strtoull(env, nullptr, 10);
  slotguard_test::temp_dir tmp("kill-soak");
  const std::string dir = slotguard_test::utf8_path(tmp.path() / "chan");
  std::mt19937_64 rng(12345);
  // Delays spread evenly on a log scale from 50 us to SLOTGUARD_KILL_SOAK_MAX_US
  // (default 300 ms): many kills land inside the first operations, and
  // enough are late that whole apply-commit cycles complete between kills.
  double max_us = 300000;
  if (const char* env = std::getenv("SLOTGUARD_KILL_SOAK_MAX_US")) max_us = std::atof(env);
  if (max_us < 100) max_us = 100;
  std::uniform_real_distribution<double> log_delay(std::log(50.0), std::log(max_us));
  auto delay_us = [&](std::mt19937_64& g) { return static_cast<long>(std::exp(log_delay(g))); };
  std::uint64_t ops_reported = 0;

  std::uint64_t reported_floor = 0, max_floor = 0, commits_seen = 0, failures = 0;
  for (std::uint64_t k = 0; k < kills; ++k) {
    int pipefd[2];
    REQUIRE(::pipe(pipefd) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(pipefd[0]);
      child_loop(dir, pipefd[1]);
    }
    ::close(pipefd[1]);
    const long us = delay_us(rng);
    timespec ts{static_cast<time_t>(us / 1000000), (us % 1000000) * 1000};
    ::nanosleep(&ts, nullptr);
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      ++failures;
      FAIL_CHECK("child ended by itself, status " << status << " at kill " << k);
    }
    std::uint64_t f = 0;
    while (::read(pipefd[0], &f, sizeof f) == static_cast<ssize_t>(sizeof f)) {
      reported_floor = f;
      ++ops_reported;
    }
    ::close(pipefd[0]);

    sg::posix_storage fs;
    auto s = sg::slot_store::open(fs, dir);
    if (!s) {
      ++failures;
      FAIL_CHECK("open after kill " << k << " failed: " << sg::to_string(s.error()));
      continue;
    }
    const auto& st = s->state();
    std::string why;
    for (const auto& role : {st.active, st.fallback, st.staged}) {
      if (!role) continue;
      auto b = s->load(*role);
      if (!b) why = std::string("slot does not load: ") + sg::to_string(b.error());
      else if (*b != content(st.slot(*role).sequence)) why = "slot content differs";
    }
    if (st.active) {
      auto l = s->load_active();
      if (!l || l->from_fallback) why = "active content does not load";
    }
    for (const auto& role : {st.active, st.fallback, st.staged})
      if (role && s->is_quarantined(st.slot(*role).sequence)) why = "a quarantined sequence holds a role";
    // A slot's tree is whole exactly when it was given one; nothing else
    // (a received file, an orphan tree) survives the open.
    for (const sg::slot_id id : {sg::slot_id::a, sg::slot_id::b}) {
      if (!st.slot(id).present) continue;
      const std::uint64_t seq = st.slot(id).sequence;
      if (seq % 2 == 0) {
        std::string at;
        auto v = sg::verify_unpacked_tree(fs, s->slot_dir(id), tree_for(seq).index, &at);
        if (!v) why = "slot tree not whole: " + std::string(sg::to_string(v.error())) + " at " + at;
      } else if (fs.exists(s->slot_dir(id)).value_or(true)) {
        why = "a slot has a tree it was never given";
      }
    }
    if (auto names = fs.list(dir)) {
      for (const std::string& name : *names) {
        const std::string p = dir + "/" + name;
        bool named = name == "lock" || name == "journal.0" || name == "journal.1";
        for (const sg::slot_id id : {sg::slot_id::a, sg::slot_id::b})
          if (st.slot(id).present && (p == s->slot_path(id) || p == s->slot_dir(id))) named = true;
        if (!named) why = "a leftover survived the open: " + name;
      }
    }
    if (st.floor < reported_floor) why = "a commit the child saw complete was lost";
    if (st.floor < max_floor) why = "the floor went down";
    if (!why.empty()) {
      ++failures;
      FAIL_CHECK("after kill " << k << ": " << why);
    }
    if (st.floor > max_floor) ++commits_seen;
    max_floor = std::max(max_floor, st.floor);
    reported_floor = max_floor;
  }
  std::printf("crash_kill_soak: %llu kills survived, %llu operations completed between them, final floor %llu "
              "(%llu kills saw a new commit)\n",
              static_cast<unsigned long long>(kills), static_cast<unsigned long long>(ops_reported),
              static_cast<unsigned long long>(max_floor), static_cast<unsigned long long>(commits_seen));
  CHECK(failures == 0);
  CHECK(max_floor > 0);
}

#endif
