// SPDX-License-Identifier: Apache-2.0
#include <slotguard/probe.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#if !SLOTGUARD_OS_WINDOWS
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#else
// is_exception_exit_code, and <windows.h> for the tests' own calls (with
// separate compilation probe.hpp includes neither).
#include <slotguard/detail/process_win32.hpp>
#endif

namespace sg = slotguard;
using namespace std::chrono_literals;

namespace {

std::string write_candidate(const slotguard_test::temp_dir& dir, const std::string& text) {
  const auto p = dir.path() / "candidate.bin";
  std::ofstream(p, std::ios::binary) << text;
  return p.string();
}

}  // namespace

TEST_CASE("an in-process probe sees the candidate and its verdict decides", "[probe.in_process]") {
  const std::string content = "rule 1";
  sg::probe_input in;
  in.content = sg::byte_view(content);
  in.channel = "rules";
  in.sequence = 9;

  std::string seen;
  auto accept = sg::probe::in_process([&](const sg::probe_input& i) -> sg::result<void> {
    seen = std::string(i.content.as_chars()) + "@" + i.channel + "#" + std::to_string(i.sequence);
    return sg::ok();
  });
  CHECK(accept.type() == sg::probe::kind::in_process);
  CHECK(accept.run(in));
  CHECK(seen == "rule 1@rules#9");

  auto reject = sg::probe::in_process(
      [](const sg::probe_input&) -> sg::result<void> { return sg::errc::field_count_mismatch; });
  auto r = reject.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_failed);

  sg::probe none;
  CHECK(none.empty());
  CHECK(none.run(in));
}

TEST_CASE("an isolated probe gets the candidate's path as its last argument", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  const auto path = write_candidate(dir, "good");
  // Accepts only if the last argument names a file that holds "good".
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("expect", "good"), 30s);
  sg::probe_input in;
  in.path = path;
  CHECK(p.run(in));

  const auto bad = write_candidate(dir, "bad");
  in.path = bad;
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_failed);
}

TEST_CASE("an isolated probe that crashes is rejected as probe_crashed", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("crash"), 30s);
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_crashed);

#if !SLOTGUARD_OS_WINDOWS
  // abort() is a crash by signal on POSIX (on Windows it is exit code 3).
  auto abrt = sg::run_isolated_probe({"/bin/sh", "-c", "kill -ABRT $$", "probe"}, in.path, 30s);
  REQUIRE_FALSE(abrt);
  CHECK(abrt.error() == sg::errc::probe_crashed);
#endif
}

TEST_CASE("an isolated probe that hangs is killed at its limit as probe_timeout", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
  const auto start = std::chrono::steady_clock::now();
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("hang"), 200ms);
  auto r = p.run(in);
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_timeout);
  // Killed rather than waited for: well under the child's own 30 s.
  CHECK(took < 25s);
}

TEST_CASE("a probe that cannot start is not a verdict on the candidate", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  sg::probe_input in;
  in.path = write_candidate(dir, "x");
#if SLOTGUARD_OS_WINDOWS
  auto p = sg::probe::isolated({"C:\\nonexistent\\slotguard-probe.exe"}, 5s);
#else
  auto p = sg::probe::isolated({"/nonexistent/slotguard-probe"}, 5s);
#endif
  auto r = p.run(in);
  REQUIRE_FALSE(r);
  CHECK(r.error() == sg::errc::probe_start_failed);
  CHECK_FALSE(sg::is_probe_verdict(r.error()));
  const auto rep = p.run_with_report(in);
  CHECK(rep.how == sg::probe_report::ending::not_started);
  CHECK_FALSE(rep.start_error.empty());

  auto empty = sg::run_isolated_probe({}, in.path, 5s);
  REQUIRE_FALSE(empty);
  CHECK(empty.error() == sg::errc::invalid_argument);
  auto nopath = sg::run_isolated_probe({"true"}, "", 5s);
  REQUIRE_FALSE(nopath);
  CHECK(nopath.error() == sg::errc::invalid_argument);
}

TEST_CASE("probe verdicts: a limit is a verdict, a failed start is not", "[probe.verdict]") {
  CHECK(sg::is_probe_verdict(sg::errc::probe_failed));
  CHECK(sg::is_probe_verdict(sg::errc::probe_crashed));
  CHECK(sg::is_probe_verdict(sg::errc::probe_timeout));
  CHECK(sg::is_probe_verdict(sg::errc::probe_limit_exceeded));
  CHECK_FALSE(sg::is_probe_verdict(sg::errc::probe_start_failed));
  CHECK_FALSE(sg::is_probe_verdict(sg::errc::io_error));
  CHECK_FALSE(sg::is_probe_verdict(sg::errc::invalid_argument));
}

namespace {

// A UTF-8 path as a path, in C++17 and C++20 alike.
std::filesystem::path from_utf8(const std::string& s) {
#if defined(__cpp_char8_t)
  return std::filesystem::path(std::u8string(s.begin(), s.end()));
#else
  return std::filesystem::u8path(s);
#endif
}

}  // namespace

TEST_CASE("a probe workspace is private, exclusive, and gone afterwards", "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const std::string payload = "candidate bytes\n";
  std::string file, wdir;
  {
    auto ws = sg::make_probe_workspace(slotguard_test::utf8_path(dir.path()), sg::byte_view(payload));
    REQUIRE(ws);
    file = ws->file();
    wdir = ws->dir();
    CHECK(slotguard_test::read_text(from_utf8(file)) == payload);
    CHECK(from_utf8(wdir).parent_path() == dir.path());
    CHECK(from_utf8(wdir).filename().string().rfind(sg::probe_workspace_prefix, 0) == 0);
#if !SLOTGUARD_OS_WINDOWS
    struct stat sd, sf;
    REQUIRE(::lstat(wdir.c_str(), &sd) == 0);
    REQUIRE(::lstat(file.c_str(), &sf) == 0);
    CHECK(S_ISDIR(sd.st_mode));
    CHECK((sd.st_mode & 07777) == 0700);
    CHECK(S_ISREG(sf.st_mode));
    CHECK((sf.st_mode & 07777) == 0600);
    CHECK(sd.st_uid == ::geteuid());
    CHECK(sf.st_uid == ::geteuid());
#endif
    // A second one is another directory.
    auto ws2 = sg::make_probe_workspace(slotguard_test::utf8_path(dir.path()), sg::byte_view(payload));
    REQUIRE(ws2);
    CHECK(ws2->dir() != wdir);
    // Moving hands the removal over.
    sg::probe_workspace moved = std::move(*ws2);
    CHECK(std::filesystem::exists(from_utf8(moved.file())));
  }
  CHECK_FALSE(std::filesystem::exists(from_utf8(file)));
  CHECK_FALSE(std::filesystem::exists(from_utf8(wdir)));
  CHECK(std::filesystem::is_empty(dir.path()));

  auto missing = sg::make_probe_workspace(slotguard_test::utf8_path(dir.path() / "no" / "such"),
                                          sg::byte_view(payload));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == sg::errc::not_found);
}

TEST_CASE("a probe workspace goes with whatever was left in it, subdirectories included",
          "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  std::string wdir;
  {
    auto ws = sg::make_probe_workspace(slotguard_test::utf8_path(dir.path()), sg::byte_view("x", 1));
    REQUIRE(ws);
    wdir = ws->dir();
    // What a probe of a tree payload may leave: nested directories and files,
    // one of them read-only.
    const auto root = from_utf8(wdir);
    std::filesystem::create_directories(root / "tree" / "rules" / "deep");
    std::ofstream(root / "tree" / "rules" / "a.yar") << "rule a { condition: true }";
    std::ofstream(root / "tree" / "rules" / "deep" / "b.yar") << "rule b { condition: false }";
    std::filesystem::permissions(root / "tree" / "rules" / "a.yar", std::filesystem::perms::owner_read);
    std::ofstream(root / "scratch") << "tmp";
  }
  CHECK_FALSE(std::filesystem::exists(from_utf8(wdir)));
  CHECK(std::filesystem::is_empty(dir.path()));
}

TEST_CASE("a probe run with a workspace sees the content in a private file that goes afterwards",
          "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const std::string content = "good";
  sg::probe_input in;
  in.content = sg::byte_view(content);
  auto p = sg::probe::isolated(slotguard_test::probe_child_command("expect", "good"), std::chrono::seconds(30));
  auto r = p.run_with_workspace(in, slotguard_test::utf8_path(dir.path()));
  CAPTURE(r.summary());
  CHECK(r.code == sg::errc::ok);
  CHECK(std::filesystem::is_empty(dir.path()));
  const std::string bad = "bad";
  in.content = sg::byte_view(bad);
  CHECK(p.run_with_workspace(in, slotguard_test::utf8_path(dir.path())).code == sg::errc::probe_failed);
  CHECK(std::filesystem::is_empty(dir.path()));
  // No place for the file: not a verdict.
  auto nowhere = p.run_with_workspace(in, slotguard_test::utf8_path(dir.path() / "missing"));
  CHECK(nowhere.code == sg::errc::not_found);
  CHECK_FALSE(sg::is_probe_verdict(nowhere.code));
  // An in-process probe needs no file.
  auto inproc = sg::probe::in_process([](const sg::probe_input& i) -> sg::result<void> {
    if (i.path.empty() && i.content.size() == 3) return sg::ok();
    return sg::errc::invalid_argument;
  });
  CHECK(inproc.run_with_workspace(in, slotguard_test::utf8_path(dir.path() / "missing")).code ==
        sg::errc::ok);
}

#if !SLOTGUARD_OS_WINDOWS
TEST_CASE("the probe's file is owner-only in an owner-only directory", "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const std::string content = "x";
  sg::probe_input in;
  in.content = sg::byte_view(content);
  for (const bool ns : {false, true}) {
    sg::probe_options o;
    o.time_limit = std::chrono::seconds(30);
    o.namespaces = ns;
    // stat as the probe sees it: modes of its file and of the file's folder.
    auto p = sg::probe::isolated(
        {"/bin/sh", "-c", "stat -c %a \"$1\" \"$(dirname \"$1\")\"", "probe"}, o);
    auto r = p.run_with_workspace(in, slotguard_test::utf8_path(dir.path()));
    CAPTURE(ns, r.summary());
    CHECK(r.code == sg::errc::ok);
    CHECK(r.output_tail == "600\n700\n");
    CHECK(std::filesystem::is_empty(dir.path()));
  }
}

TEST_CASE("a probe workspace stays private under a permissive umask", "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const mode_t old = ::umask(0);
  auto ws = sg::make_probe_workspace(slotguard_test::utf8_path(dir.path()), sg::byte_view("x", 1));
  ::umask(old);
  REQUIRE(ws);
  struct stat sd, sf;
  REQUIRE(::lstat(ws->dir().c_str(), &sd) == 0);
  REQUIRE(::lstat(ws->file().c_str(), &sf) == 0);
  CHECK((sd.st_mode & 07777) == 0700);
  CHECK((sf.st_mode & 07777) == 0600);
}

namespace {

// A pid that was ours and is gone (reaped).
pid_t dead_pid() {
  const pid_t p = ::fork();
  if (p == 0) ::_exit(0);
  int st = 0;
  ::waitpid(p, &st, 0);
  return p;
}

}  // namespace

TEST_CASE("stale probe workspaces of a dead host are removed, nothing else", "[probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const auto root = dir.path();
  const std::string dead = std::to_string(dead_pid());
  const std::string prefix = sg::probe_workspace_prefix;
  // A dead host's workspace, with what its probe left in it.
  std::filesystem::create_directories(root / (prefix + dead + "-abc123") / "sub");
  std::ofstream(root / (prefix + dead + "-abc123") / "candidate") << "old";
  std::ofstream(root / (prefix + dead + "-abc123") / "sub" / "f") << "old";
  // A live host's (this process) workspace, another program's file, a link
  // that looks stale and points at a directory that must survive.
  auto live = sg::make_probe_workspace(root.string(), sg::byte_view("live", 4));
  REQUIRE(live);
  std::filesystem::create_directories(root / "target");
  std::ofstream(root / "target" / "keep") << "keep";
  std::filesystem::create_directory_symlink(root / "target", root / (prefix + dead + "-link"));
  std::ofstream(root / (prefix + dead + "-file")) << "not a directory";
  std::ofstream(root / "unrelated") << "x";

  CHECK(sg::remove_stale_probe_workspaces(root.string()) == 1);
  CHECK_FALSE(std::filesystem::exists(root / (prefix + dead + "-abc123")));
  CHECK(std::filesystem::exists(live->file()));
  CHECK(std::filesystem::exists(root / "target" / "keep"));
  CHECK(std::filesystem::is_symlink(root / (prefix + dead + "-link")));
  CHECK(std::filesystem::exists(root / (prefix + dead + "-file")));
  CHECK(std::filesystem::exists(root / "unrelated"));
}

namespace {

sg::probe_options options_with(std::chrono::milliseconds limit, bool namespaces) {
  sg::probe_options o;
  o.time_limit = limit;
  o.namespaces = namespaces;
  return o;
}

std::vector<std::string> sh(const std::string& script) { return {"/bin/sh", "-c", script, "probe"}; }

// A word no other process has in its command line.
std::string marker() {
  std::random_device rd;
  return "3" + std::to_string(rd() % 1000) + "." + std::to_string(rd() % 100000);
}

// A /proc file's text; empty when the process went away meanwhile (reading
// the file of a process that exits fails with ESRCH, which std::ifstream
// reports by throwing).
std::string read_proc(const std::string& path) {
  std::string out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

// Processes (zombies aside) whose command line holds `word`, other than this one.
int processes_with(const std::string& word) {
  int n = 0;
  DIR* d = ::opendir("/proc");
  if (!d) return -1;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    const std::string base = std::string("/proc/") + e->d_name;
    std::string stat = read_proc(base + "/stat");
    const auto rp = stat.rfind(')');
    if (rp == std::string::npos || rp + 2 >= stat.size() || stat[rp + 2] == 'Z') continue;
    std::string cmd = read_proc(base + "/cmdline");
    for (char& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(word) != std::string::npos && std::atoi(e->d_name) != ::getpid()) ++n;
  }
  ::closedir(d);
  return n;
}

// Kills, by the pids it finds, the processes whose command line holds `word`.
void kill_processes_with(const std::string& word) {
  DIR* d = ::opendir("/proc");
  if (!d) return;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    std::string cmd = read_proc(std::string("/proc/") + e->d_name + "/cmdline");
    for (char& c : cmd)
      if (c == '\0') c = ' ';
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (cmd.find(word) != std::string::npos && pid != ::getpid()) ::kill(pid, SIGKILL);
  }
  ::closedir(d);
}

bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) return false;
  const std::string stat = read_proc("/proc/" + std::to_string(pid) + "/stat");
  const auto rp = stat.rfind(')');
  return rp == std::string::npos || rp + 2 >= stat.size() || stat[rp + 2] != 'Z';
}

bool namespaces_in_force(const sg::probe_report& r) {
  return r.isolation.find("userns") != std::string::npos &&
         r.isolation.find("netns") != std::string::npos &&
         r.isolation.find("pidns") != std::string::npos;
}

}  // namespace

TEST_CASE("a grandchild that sleeps is gone when the probe returns after a timeout",
          "[probe.tree]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    const std::string word = marker();
    const std::string pidfile = (dir.path() / "grandchild.pid").string();
    // The grandchild writes its pid (as the host sees it when there is no
    // pid namespace); the probe itself then hangs.
    auto r = sg::run_isolated_probe_report(
        sh("sleep " + word + " & echo $! > '" + pidfile + "'; exec sleep " + word), candidate,
        options_with(std::chrono::milliseconds(400), ns));
    CHECK(r.code == sg::errc::probe_timeout);
    CHECK(r.how == sg::probe_report::ending::timed_out);
    CHECK(processes_with("sleep " + word) == 0);
    if (!ns) {
      const pid_t gc = static_cast<pid_t>(std::atoi(slotguard_test::read_text(pidfile).c_str()));
      REQUIRE(gc > 0);
      CHECK_FALSE(alive(gc));
    }
  }
}

TEST_CASE("what a probe started in the background is gone when the probe exits",
          "[probe.tree]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    const std::string word = marker();
    auto r = sg::run_isolated_probe_report(sh("sleep " + word + " & exit 0"), candidate,
                                           options_with(std::chrono::seconds(20), ns));
    CHECK(r.code == sg::errc::ok);
    CHECK(r.how == sg::probe_report::ending::exited);
    CHECK(processes_with("sleep " + word) == 0);
  }
  // In a pid namespace even a process that left the probe's session goes.
  const std::string word = marker();
  auto r = sg::run_isolated_probe_report(
      sh("setsid sleep " + word + " & sleep 0.2; exit 0"), candidate,
      options_with(std::chrono::seconds(20), true));
  CHECK(r.code == sg::errc::ok);
  if (namespaces_in_force(r)) {
    CHECK(processes_with("sleep " + word) == 0);
  } else {
    WARN("no pid namespace here (" << r.isolation << "): a process that leaves the probe's session survives it");
    kill_processes_with("sleep " + word);
  }
}

TEST_CASE("a process that escaped the probe's group and holds its output does not hold up the probe",
          "[probe.tree]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  const std::string word = marker();
  // Without namespaces the escaped process survives (docs/PROBE.md), but
  // the probe's end is not its pipe's end of file.
  auto r = sg::run_isolated_probe_report(sh("setsid sleep " + word + " & exit 5"), candidate,
                                         options_with(std::chrono::seconds(20), false));
  CHECK(r.code == sg::errc::probe_failed);
  CHECK(r.exit_code == 5);
  CHECK(r.elapsed < std::chrono::seconds(10));
  kill_processes_with("sleep " + word);
}

TEST_CASE("a host that ignores SIGCHLD gets verdicts, never a false timeout", "[probe.reap]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  struct sigaction ign, old;
  std::memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGCHLD, &ign, &old) == 0);
  std::vector<sg::probe_report> with_ns, without_ns;
  for (int i = 0; i < 5; ++i) {
    with_ns.push_back(sg::run_isolated_probe_report(sh("exit 3"), candidate,
                                                    options_with(std::chrono::seconds(20), true)));
    without_ns.push_back(sg::run_isolated_probe_report(
        sh("exit 3"), candidate, options_with(std::chrono::seconds(20), false)));
  }
  ::sigaction(SIGCHLD, &old, nullptr);
  for (const auto& r : with_ns) {
    CAPTURE(r.summary(), r.isolation);
    // The namespace's init relays the probe's end through its pipe, which
    // no reaping can take away.
    if (namespaces_in_force(r)) {
      CHECK(r.code == sg::errc::probe_failed);
      CHECK(r.exit_code == 3);
    } else {
      CHECK((r.code == sg::errc::probe_failed || r.code == sg::errc::io_error));
    }
  }
  for (const auto& r : without_ns) {
    CAPTURE(r.summary());
    // The child reaped itself: its end is unknown, which is not a verdict.
    CHECK((r.code == sg::errc::probe_failed || r.code == sg::errc::io_error));
    CHECK(r.how != sg::probe_report::ending::timed_out);
  }
}

TEST_CASE("a probe sees only its three standard descriptors", "[probe.fds]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  // A descriptor of the host without close-on-exec, at a number of its own.
  const int leak = ::open("/dev/null", O_RDONLY);
  REQUIRE(leak >= 0);
  REQUIRE(::dup2(leak, 57) == 57);
  REQUIRE((::fcntl(57, F_GETFD) & FD_CLOEXEC) == 0);
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    // ls lists the descriptors of its own process: 0, 1, 2 and the one it
    // reads the listing through.
    auto r = sg::run_isolated_probe_report(sh("exec ls -l /proc/self/fd"), candidate,
                                           options_with(std::chrono::seconds(20), ns));
    REQUIRE(r.code == sg::errc::ok);
    CAPTURE(r.output_tail);
    std::istringstream lines(r.output_tail);
    std::string line;
    std::vector<std::string> fds;
    while (std::getline(lines, line)) {
      const auto arrow = line.find(" -> ");
      if (arrow == std::string::npos) continue;
      const auto sp = line.rfind(' ', arrow - 1);
      const std::string fd = line.substr(sp + 1, arrow - sp - 1);
      const std::string target = line.substr(arrow + 4);
      if (fd == "0") {
        CHECK(target == "/dev/null");
      } else if (fd == "1" || fd == "2") {
        CHECK(target.rfind("pipe:", 0) == 0);
      } else {
        // Only ls's own directory handle.
        CHECK(target.find("/fd") != std::string::npos);
      }
      fds.push_back(fd);
    }
    CHECK(fds.size() == 4);
    CHECK(r.isolation.find("fds") != std::string::npos);
  }
  ::close(57);
  ::close(leak);
}

TEST_CASE("a probe gets only the listed environment, and signals reset", "[probe.env]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  ::setenv("SLOTGUARD_PROBE_SECRET", "s3cret", 1);
  ::setenv("SLOTGUARD_PROBE_PASS", "yes", 1);
  ::unsetenv("SLOTGUARD_PROBE_ABSENT");
  // The host blocks one signal and ignores another.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
  struct sigaction ign, old_usr2;
  std::memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  REQUIRE(::sigaction(SIGUSR2, &ign, &old_usr2) == 0);

  sg::probe_options o = options_with(std::chrono::seconds(20), true);
  o.pass_env = {"SLOTGUARD_PROBE_PASS", "SLOTGUARD_PROBE_ABSENT"};
  o.set_env = {{"PROBE_EXTRA", "a b=c"}};
  auto r = sg::run_isolated_probe_report(
      {"/usr/bin/env", "/bin/sh", "-c", "env; grep -E '^Sig(Blk|Ign)' /proc/self/status", "probe"},
      candidate, o);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::sigaction(SIGUSR2, &old_usr2, nullptr);
  ::unsetenv("SLOTGUARD_PROBE_SECRET");
  ::unsetenv("SLOTGUARD_PROBE_PASS");
  REQUIRE(r.code == sg::errc::ok);
  CAPTURE(r.output_tail);
  std::istringstream lines(r.output_tail);
  std::string line;
  std::vector<std::string> env;
  while (std::getline(lines, line)) {
    if (line.rfind("Sig", 0) == 0) {
      CHECK(line.substr(line.find(':') + 1).find_first_not_of("\t 0") == std::string::npos);
      continue;
    }
    // The shell adds PWD itself.
    if (line.rfind("PWD=", 0) == 0) continue;
    env.push_back(line);
  }
  std::sort(env.begin(), env.end());
  CHECK(env == std::vector<std::string>{"PROBE_EXTRA=a b=c", "SLOTGUARD_PROBE_PASS=yes"});
  CHECK(r.output_tail.find("s3cret") == std::string::npos);
  CHECK(r.output_tail.find("SigBlk") != std::string::npos);
}

// Whether an address-space limit this process sets holds for what it runs:
// qemu-user ignores RLIMIT_AS (it would break qemu itself), so under it the
// memory limit cannot be shown and the test says so.
bool address_limit_enforced() {
  const pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = std::uint64_t{64} << 20;
    if (::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(2);
    void* p = ::mmap(nullptr, std::size_t{256} << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ::_exit(p == MAP_FAILED ? 0 : 1);
  }
  int st = 0;
  if (::waitpid(pid, &st, 0) != pid) return false;
  return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

TEST_CASE("a memory bomb is contained and reported as a memory limit", "[probe.limits]") {
  if (!address_limit_enforced()) {
    WARN("SKIPPED: an address-space limit does not hold here (qemu-user ignores RLIMIT_AS)");
    return;
  }
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    sg::probe_options o = options_with(std::chrono::seconds(20), ns);
    o.limits.memory = std::uint64_t{256} << 20;
    auto r = sg::run_isolated_probe_report(sh("x=0123456789abcdef; while :; do x=$x$x; done"),
                                           candidate, o);
    CAPTURE(r.summary(), r.max_rss_bytes, r.output_tail);
    CHECK(r.code == sg::errc::probe_limit_exceeded);
    CHECK(r.how == sg::probe_report::ending::limit);
    CHECK(r.limit == "memory");
    CHECK(r.elapsed < o.time_limit);
  }
}

TEST_CASE("a fork bomb is contained and reported as a processes limit", "[probe.limits]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    sg::probe_options o = options_with(std::chrono::seconds(20), ns);
    o.limits.processes = 32;
    const std::string word = marker();
    // Forks until a fork fails, and then its children live on.
    auto r = sg::run_isolated_probe_report(sh("while :; do sleep " + word + " & done"), candidate, o);
    CAPTURE(r.summary(), r.peak_processes, r.left_behind, r.isolation);
    CHECK(r.code == sg::errc::probe_limit_exceeded);
    CHECK(r.limit == "processes");
    CHECK(r.elapsed < o.time_limit);
    CHECK(processes_with("sleep " + word) == 0);
  }
}

TEST_CASE("CPU time and file size limits are reported as such", "[probe.limits]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  sg::probe_options o = options_with(std::chrono::seconds(30), true);
  o.limits.cpu_seconds = 1;
  auto cpu = sg::run_isolated_probe_report(sh("while :; do :; done"), candidate, o);
  CAPTURE(cpu.summary());
  CHECK(cpu.code == sg::errc::probe_limit_exceeded);
  CHECK(cpu.limit == "cpu");
  CHECK(cpu.elapsed < o.time_limit);

  o.limits.file_size = 1 << 20;
  const std::string out = (dir.path() / "big").string();
  auto fsz = sg::run_isolated_probe_report(sh("exec head -c 3000000 /dev/zero > '" + out + "'"),
                                           candidate, o);
  CAPTURE(fsz.summary());
  CHECK(fsz.code == sg::errc::probe_limit_exceeded);
  CHECK(fsz.limit == "file_size");
  CHECK(std::filesystem::file_size(out) <= (1u << 20));
}

TEST_CASE("a probe that exits before its limit is never a timeout, even with a reaper in the host",
          "[probe.reap]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  // An unrelated child of the host that must never be signalled.
  const pid_t victim = ::fork();
  if (victim == 0) {
    ::execl("/bin/sleep", "sleep", "60", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(victim > 0);
  for (const bool ns : {false, true}) {
    CAPTURE(ns);
    // Another part of the host that reaps any child it can, as a host with
    // its own child handling might.
    std::atomic<bool> stop{false};
    std::atomic<int> stolen{0};
    std::thread reaper([&] {
      while (!stop.load()) {
        int st = 0;
        siginfo_t si;
        std::memset(&si, 0, sizeof si);
        // Reap anything but the victim (which we check on below).
        if (::waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0 &&
            si.si_pid != victim && ::waitpid(si.si_pid, &st, WNOHANG) > 0)
          ++stolen;
        std::this_thread::yield();
      }
    });
    int ok = 0, lost = 0;
    for (int i = 0; i < 40; ++i) {
      auto r = sg::run_isolated_probe_report(sh(i % 2 ? "exit 3" : "exit 0"), candidate,
                                             options_with(std::chrono::seconds(20), ns));
      CAPTURE(i, r.summary());
      CHECK(r.code != sg::errc::probe_timeout);
      CHECK(r.how != sg::probe_report::ending::timed_out);
      if (r.code == sg::errc::io_error) {
        ++lost;
      } else {
        CHECK(r.code == (i % 2 ? sg::errc::probe_failed : sg::errc::ok));
        ++ok;
      }
    }
    stop = true;
    reaper.join();
    INFO("stolen " << stolen.load() << ", judged " << ok << ", unknown " << lost);
    CHECK(alive(victim));
  }
  // And without a reaper, at a short limit, a quick probe is judged on its exit.
  for (int i = 0; i < 20; ++i) {
    auto r = sg::run_isolated_probe_report(sh("exit 0"), candidate,
                                           options_with(std::chrono::milliseconds(300), true));
    CHECK(r.code == sg::errc::ok);
  }
  ::kill(victim, SIGKILL);
  int st = 0;
  ::waitpid(victim, &st, 0);
}

TEST_CASE("with namespaces the probe has no network and sees no host process",
          "[probe.namespaces]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  const int srv = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(srv >= 0);
  sockaddr_in a;
  std::memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(srv, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(srv, 4) == 0);
  socklen_t len = sizeof a;
  REQUIRE(::getsockname(srv, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  const std::string port = std::to_string(ntohs(a.sin_port));
  if (::access("/bin/bash", X_OK) != 0) {
    WARN("no /bin/bash to connect with: the network check is skipped");
    ::close(srv);
    return;
  }
  const std::vector<std::string> connect = {
      "/bin/bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/" + port + " && echo connected", "probe"};
  // Without namespaces it connects: the check can tell.
  auto open = sg::run_isolated_probe_report(connect, candidate,
                                            options_with(std::chrono::seconds(20), false));
  CAPTURE(open.output_tail);
  REQUIRE(open.code == sg::errc::ok);
  auto closed = sg::run_isolated_probe_report(connect, candidate,
                                              options_with(std::chrono::seconds(20), true));
  ::close(srv);
  if (!namespaces_in_force(closed)) {
    WARN("user, network and pid namespaces are not available here (" << closed.isolation
                                                                       << "): skipped");
    return;
  }
  CAPTURE(closed.output_tail);
  CHECK(closed.code == sg::errc::probe_failed);
  CHECK(closed.output_tail.find("connected") == std::string::npos);

  // Its /proc shows its own processes only, and it cannot take that /proc
  // away (it holds no capability, even when the host is root).
  auto caps = sg::run_isolated_probe_report(sh("grep CapEff /proc/self/status"), candidate,
                                            options_with(std::chrono::seconds(20), true));
  REQUIRE(caps.code == sg::errc::ok);
  CHECK(caps.output_tail.find("0000000000000000") != std::string::npos);
  auto ps = sg::run_isolated_probe_report(sh("umount /proc 2>/dev/null; umount -l /proc 2>/dev/null; exec ls /proc"),
                                          candidate, options_with(std::chrono::seconds(20), true));
  REQUIRE(ps.code == sg::errc::ok);
  CHECK(ps.isolation.find("proc") != std::string::npos);
  std::istringstream lines(ps.output_tail);
  std::string line;
  int pids = 0;
  while (std::getline(lines, line))
    if (!line.empty() && line.find_first_not_of("0123456789") == std::string::npos) ++pids;
  CHECK(pids >= 1);
  CHECK(pids <= 3);
}

TEST_CASE("a probe's report says how it ended and keeps the end of its output", "[probe.report]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  sg::probe_options o = options_with(std::chrono::seconds(20), true);
  o.output_tail_bytes = 1000;
  auto r = sg::run_isolated_probe_report(
      sh("i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done; echo END >&2; exit 7"),
      candidate, o);
  CHECK(r.code == sg::errc::probe_failed);
  CHECK(r.how == sg::probe_report::ending::exited);
  CHECK(r.exit_code == 7);
  CHECK(r.summary() == "exited 7");
  CHECK(r.output_tail.size() <= 1000);
  CHECK(r.output_tail.size() > 900);
  CHECK(r.output_tail.substr(r.output_tail.size() - 4) == "END\n");
  CHECK_FALSE(r.isolation.empty());

  auto s = sg::run_isolated_probe_report(sh("kill -SEGV $$"), candidate, o);
  CHECK(s.code == sg::errc::probe_crashed);
  CHECK(s.how == sg::probe_report::ending::signaled);
  CHECK(s.signal == SIGSEGV);
}

TEST_CASE("an argument {} stands for the candidate's path", "[probe.isolated]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "good");
  // The path goes where {} is, and is not appended as well.
  auto r = sg::run_isolated_probe(
      {"/bin/sh", "-c", "test $# = 2 && test \"$(cat \"$1\")\" = good && test \"$2\" = after", "probe",
       "{}", "after"},
      candidate, std::chrono::seconds(20));
  CHECK(r);
}
#endif

#if SLOTGUARD_OS_WINDOWS
TEST_CASE("Windows: stale probe workspaces of a dead host are removed whole, nothing else",
          "[probe.windows][probe.workspace]") {
  slotguard_test::temp_dir dir("probe");
  const auto root = dir.path();
  const std::string prefix = sg::probe_workspace_prefix;
  // No process has this id (Windows ids are multiples of four).
  const std::string dead = "4000000001";
  const auto stale = root / (prefix + dead + "-abc123");
  std::filesystem::create_directories(stale / "tree" / "sub");
  std::ofstream(stale / "candidate") << "old";
  std::ofstream(stale / "tree" / "sub" / "f") << "old";
  auto live = sg::make_probe_workspace(slotguard_test::utf8_path(root), sg::byte_view("live", 4));
  REQUIRE(live);
  std::ofstream(root / (prefix + dead + "-file")) << "not a directory";
  std::ofstream(root / "unrelated") << "x";
  CHECK(sg::remove_stale_probe_workspaces(slotguard_test::utf8_path(root)) == 1);
  CHECK_FALSE(std::filesystem::exists(stale));
  CHECK(std::filesystem::exists(from_utf8(live->file())));
  CHECK(std::filesystem::exists(root / (prefix + dead + "-file")));
  CHECK(std::filesystem::exists(root / "unrelated"));
}

TEST_CASE("Windows: only exception codes are crashes, exit(-1) is an exit", "[probe.windows]") {
  CHECK(sg::detail::is_exception_exit_code(0xC0000005u));
  CHECK(sg::detail::is_exception_exit_code(0xC00000FDu));
  CHECK(sg::detail::is_exception_exit_code(0xC0000409u));
  CHECK_FALSE(sg::detail::is_exception_exit_code(0xFFFFFFFFu));
  CHECK_FALSE(sg::detail::is_exception_exit_code(0xC0000001u));
  CHECK_FALSE(sg::detail::is_exception_exit_code(1u));

  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(30);
  auto r = sg::run_isolated_probe_report(slotguard_test::probe_child_command("exit-minus-one"),
                                         candidate, o);
  CHECK(r.code == sg::errc::probe_failed);
  CHECK(r.how == sg::probe_report::ending::exited);
  CHECK(r.exit_code == -1);
  auto c = sg::run_isolated_probe_report(slotguard_test::probe_child_command("crash"), candidate, o);
  CHECK(c.code == sg::errc::probe_crashed);
  CHECK(static_cast<std::uint32_t>(c.signal) == 0xC0000005u);
}

TEST_CASE("Windows: a probe's grandchild is gone when the probe times out", "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  const std::string pidfile = slotguard_test::utf8_path(dir.path() / "grandchild.pid");
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(5);
  auto r = sg::run_isolated_probe_report(slotguard_test::probe_child_command("grandchild", pidfile),
                                         candidate, o);
  CAPTURE(r.summary(), r.isolation);
  CHECK(r.code == sg::errc::probe_timeout);
  CHECK(r.isolation.find("job") != std::string::npos);
  const unsigned long pid = std::strtoul(slotguard_test::read_text(dir.path() / "grandchild.pid").c_str(),
                                         nullptr, 10);
  REQUIRE(pid != 0);
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (h) {
    CHECK(::WaitForSingleObject(h, 5000) == WAIT_OBJECT_0);
    ::CloseHandle(h);
  }
}

TEST_CASE("Windows: a probe gets only the listed environment", "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  ::SetEnvironmentVariableA("SLOTGUARD_PROBE_SECRET", "s3cret");
  ::SetEnvironmentVariableA("SLOTGUARD_PROBE_PASS", "yes");
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(30);
  o.pass_env = {"SLOTGUARD_PROBE_PASS"};
  o.set_env = {{"PROBE_EXTRA", "1"}};
  auto r = sg::run_isolated_probe_report(slotguard_test::probe_child_command("env"), candidate, o);
  ::SetEnvironmentVariableA("SLOTGUARD_PROBE_SECRET", nullptr);
  ::SetEnvironmentVariableA("SLOTGUARD_PROBE_PASS", nullptr);
  REQUIRE(r.code == sg::errc::ok);
  CAPTURE(r.output_tail);
  CHECK(r.output_tail.find("SLOTGUARD_PROBE_PASS=yes") != std::string::npos);
  CHECK(r.output_tail.find("PROBE_EXTRA=1") != std::string::npos);
  CHECK(r.output_tail.find("s3cret") == std::string::npos);
}

TEST_CASE("Windows: the job's memory and process limits are reported as limits", "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(30);
  o.limits.memory = std::uint64_t{128} << 20;
  o.limits.processes = 4;
  auto mem = sg::run_isolated_probe_report(slotguard_test::probe_child_command("alloc"), candidate, o);
  auto procs = sg::run_isolated_probe_report(slotguard_test::probe_child_command("spawn"), candidate, o);
  CAPTURE(mem.summary(), mem.max_rss_bytes, procs.summary(), procs.isolation);
  // Wine accepts the limits but enforces them only in part: where one is
  // not enforced the probe completes its work and exits 0.
  if (mem.code == sg::errc::ok) {
    WARN("the job's memory limit is not enforced here (wine?)");
  } else {
    CHECK(mem.code == sg::errc::probe_limit_exceeded);
    CHECK(mem.limit == "memory");
  }
  if (procs.code == sg::errc::ok) {
    WARN("the job's active-process limit is not enforced here (wine?)");
  } else {
    CHECK(procs.code == sg::errc::probe_limit_exceeded);
    CHECK(procs.limit == "processes");
  }
}

TEST_CASE("Windows: a probe inherits none of the host's inheritable handles", "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  SECURITY_ATTRIBUTES sa;
  sa.nLength = sizeof sa;
  sa.lpSecurityDescriptor = nullptr;
  sa.bInheritHandle = TRUE;
  // A pipe that holds a secret: only the inherited handle could read it
  // (another handle of the same number in the child cannot).
  HANDLE rd = nullptr, wr = nullptr;
  REQUIRE(::CreatePipe(&rd, &wr, &sa, 0));
  DWORD wrote = 0;
  REQUIRE(::WriteFile(wr, "slotguard-secret", 16, &wrote, nullptr));
  const std::string value = std::to_string(reinterpret_cast<std::uintptr_t>(rd));
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(30);
  auto r = sg::run_isolated_probe_report(slotguard_test::probe_child_command("handle", value), candidate, o);
  CAPTURE(r.summary(), r.isolation);
  CHECK(r.code == sg::errc::ok);
  CHECK(r.isolation.find("handles") != std::string::npos);
  ::CloseHandle(rd);
  ::CloseHandle(wr);
}

TEST_CASE("Windows: a probe's program is never looked up in the current directory",
          "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  // A program of that name in the current directory only.
  const auto child = slotguard_test::probe_child_command("exit-minus-one");
  std::filesystem::copy_file(from_utf8(child[0]), dir.path() / "sg-cwd-probe.exe");
  const auto before = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  sg::probe_options o;
  o.time_limit = std::chrono::seconds(30);
  auto r = sg::run_isolated_probe_report({"sg-cwd-probe.exe", "exit-minus-one"}, candidate, o);
  // Named with its folder it runs.
  auto named = sg::run_isolated_probe_report({".\\sg-cwd-probe.exe", "exit-minus-one"}, candidate, o);
  std::filesystem::current_path(before);
  CAPTURE(r.summary(), named.summary());
  CHECK(r.code == sg::errc::probe_start_failed);
  CHECK(named.code == sg::errc::probe_failed);
}

TEST_CASE("Windows: batch files are refused as probes", "[probe.windows]") {
  slotguard_test::temp_dir dir("probe");
  const std::string candidate = write_candidate(dir, "x");
  const auto bat = dir.path() / "probe.BAT";
  std::ofstream(bat) << "@exit 0\r\n";
  auto r = sg::run_isolated_probe_report({slotguard_test::utf8_path(bat)}, candidate, sg::probe_options{});
  CHECK(r.code == sg::errc::probe_start_failed);
  CHECK(r.start_error.find("batch") != std::string::npos);
}
#endif
