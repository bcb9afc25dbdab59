// SPDX-License-Identifier: Apache-2.0
// supervisor: keeps a sensor running. It starts a command, and when the
// command dies abnormally (a crash, or a non-zero exit status) starts it
// again after a short back-off, up to a restart limit. With slotguard inside
// the sensor, that restart is what turns a crash during a content trial into
// a revert: the restarted process counts a start against the trial, finds
// its start budget spent, and goes back to the last known-good content.
//
//   supervisor [--max-restarts N] [--backoff-ms MS] -- COMMAND ARGS...
//   supervisor --selftest     (runs itself as a command that fails twice)
//
// Exit status: 0 when the command finally ended normally, 1 when the
// supervisor gave up, 2 for a usage error.
#include "supervise.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: supervisor [--max-restarts N] [--backoff-ms MS] -- COMMAND ARGS...\n"
               "       supervisor --selftest\n");
  return 2;
}

bool parse_count(const char* s, unsigned long max, unsigned long& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || *end != '\0' || v > max || s[0] == '-') return false;
  out = v;
  return true;
}

// --flaky STATE FAILS: a stand-in for a sensor that fails FAILS times and
// then runs fine. It counts its runs in the file STATE. The first failure is
// a non-zero exit status, the later ones real crashes.
int flaky(const std::string& state, unsigned long fails) {
  unsigned long runs = 0;
  {
    std::ifstream in(state);
    if (in) in >> runs;
  }
  ++runs;
  {
    std::ofstream out(state, std::ios::trunc);
    out << runs << '\n';
  }
  if (runs > fails) {
    std::printf("  flaky: run %lu, working as it should\n", runs);
    return 0;
  }
  if (runs == 1) {
    std::printf("  flaky: run %lu, exiting with status 3\n", runs);
    return 3;
  }
  std::printf("  flaky: run %lu, crashing\n", runs);
  supervisor::crash_now();
}

std::string temp_file(const char* tag) {
  std::error_code ec;
  auto dir = std::filesystem::temp_directory_path(ec);
  if (ec) dir = ".";
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  auto p = dir / ("slotguard-supervisor-" + std::string(tag) + "-" + std::to_string(stamp));
  std::filesystem::remove(p, ec);
  return p.string();
}

// The command to run: this program's own, then args.
std::vector<std::string> command(const std::vector<std::string>& self, std::vector<std::string> args) {
  std::vector<std::string> cmd = self;
  cmd.insert(cmd.end(), args.begin(), args.end());
  return cmd;
}

int selftest(const std::vector<std::string>& self) {
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
    if (!ok) ++failures;
  };
  using kind = supervisor::exit_status::kind;
  supervisor::options opt;
  opt.backoff = std::chrono::milliseconds(50);
  opt.max_restarts = 3;

  // A command that fails twice (an exit status, then a crash) and then works.
  {
    const std::string state = temp_file("a");
    const auto rep = supervisor::supervise(command(self, {"--flaky", state, "2"}), opt);
    check(rep.runs.size() == 3, "fails twice, then works: three runs");
    check(rep.restarts() == 2 && !rep.gave_up && rep.ended_normally(), "two restarts, ends normally");
    check(rep.runs.size() >= 2 && rep.runs[0].how == kind::exited && rep.runs[0].code == 3,
          "the first run's exit status 3 is seen");
    check(rep.runs.size() >= 2 && rep.runs[1].how == kind::crashed, "the second run's crash is seen");
    std::error_code ec;
    std::filesystem::remove(state, ec);
  }
  // A command that keeps failing: the limit holds.
  {
    const std::string state = temp_file("b");
    opt.max_restarts = 2;
    const auto rep = supervisor::supervise(command(self, {"--flaky", state, "100"}), opt);
    check(rep.runs.size() == 3 && rep.gave_up && !rep.ended_normally(),
          "always failing with a limit of 2: three runs, then it gives up");
    std::error_code ec;
    std::filesystem::remove(state, ec);
  }
  // A command that does not exist is not retried.
  {
    const auto rep = supervisor::supervise({"slotguard-no-such-command-5f1c"}, opt);
    // Where the spawn itself succeeds and the exec fails (some libcs), the
    // child exits with 127: one restart cycle then ends at the limit.
    const bool not_started = rep.runs.size() == 1 && rep.runs[0].how == kind::not_started;
    const bool exec_failed = !rep.runs.empty() && rep.runs[0].how == kind::exited && rep.runs[0].code == 127;
    check(rep.gave_up && (not_started || exec_failed), "a missing command: reported, supervisor gives up");
  }
  std::printf("%s\n", failures == 0 ? "selftest passed" : "selftest FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc == 2 && std::strcmp(argv[1], "--selftest") == 0)
    return selftest(supervisor::self_command(argc > 0 ? argv[0] : nullptr));
  if (argc == 4 && std::strcmp(argv[1], "--flaky") == 0) {
    unsigned long fails = 0;
    if (!parse_count(argv[3], 1000000, fails)) return usage();
    return flaky(argv[2], fails);
  }

  supervisor::options opt;
  int i = 1;
  for (; i < argc; ++i) {
    unsigned long v = 0;
    if (std::strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    } else if (std::strcmp(argv[i], "--max-restarts") == 0 && i + 1 < argc) {
      if (!parse_count(argv[++i], 1000000, v)) return usage();
      opt.max_restarts = static_cast<unsigned>(v);
    } else if (std::strcmp(argv[i], "--backoff-ms") == 0 && i + 1 < argc) {
      if (!parse_count(argv[++i], 3600000, v)) return usage();
      opt.backoff = std::chrono::milliseconds(static_cast<long long>(v));
    } else {
      return usage();
    }
  }
  if (i >= argc) return usage();
  const std::vector<std::string> command(argv + i, argv + argc);
  const auto rep = supervisor::supervise(command, opt);
  return rep.ended_normally() ? 0 : 1;
}
