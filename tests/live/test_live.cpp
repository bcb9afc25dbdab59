// SPDX-License-Identifier: Apache-2.0
// The operator's tool against a live sensor (tests/live/sensor_main.cpp),
// as an operator works on a running machine: status (read-only, also for
// an account that may only read the store), apply, confirm, revert,
// rollback, release and history, carried out by the sensor's guard through
// requests; a request nobody takes up times out and is withdrawn; the same
// commands act directly when no sensor runs; --json errors are one object.
#include "support.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace fs = std::filesystem;

namespace {

using outcome = slotguard_test::command_outcome;
std::string q(const fs::path& p) { return slotguard_test::quoted(p); }

outcome tool(const fs::path& dir, const std::string& args) {
  return slotguard_test::run_tool(SLOTGUARD_CLI_PATH, dir, args);
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  REQUIRE(out);
  out << s;
}

std::string json_value(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\":";
  const std::size_t at = json.find(needle);
  if (at == std::string::npos) return "<absent>";
  std::size_t i = at + needle.size();
  int depth = 0;
  const std::size_t start = i;
  bool in_str = false;
  for (; i < json.size(); ++i) {
    const char c = json[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    if (c == '{' || c == '[') ++depth;
    if (c == '}' || c == ']') {
      if (depth == 0) break;
      --depth;
    }
    if (c == ',' && depth == 0) break;
  }
  return json.substr(start, i - start);
}

// One JSON object on one line: starts with '{', ends with "}\n", balanced.
bool one_json_object(const std::string& s) {
  if (s.size() < 3 || s.front() != '{' || s.substr(s.size() - 2) != "}\n") return false;
  int depth = 0;
  bool in_str = false;
  for (std::size_t i = 0; i + 1 < s.size(); ++i) {
    const char c = s[i];
    if (in_str) {
      if (c == '\\') ++i;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '{' || c == '[') ++depth;
    else if (c == '}' || c == ']') {
      if (--depth < 0) return false;
      if (depth == 0 && i + 2 != s.size()) return false;
    }
  }
  return depth == 0 && !in_str;
}

// A running live_sensor, stopped cleanly (its stop file) when destroyed.
class sensor {
 public:
  // prefix: a command the sensor runs under (setpriv to run it as another account).
  sensor(const fs::path& dir, const fs::path& store, const fs::path& key_pub, std::vector<std::string> extra = {},
         const std::vector<std::string>& prefix = {})
      : ready_(dir / "sensor.ready"), stop_(dir / "sensor.stop"), log_(dir / "sensor.log") {
    fs::remove(ready_);
    fs::remove(stop_);
    std::vector<std::string> args = prefix;
    for (const std::string& a : {std::string(SLOTGUARD_LIVE_SENSOR_PATH), std::string("--store"), store.string(),
                                 std::string("--channel"), std::string("rules"), std::string("--trust"),
                                 key_pub.string(), std::string("--ready"), ready_.string(), std::string("--stop"),
                                 stop_.string(), std::string("--log"), log_.string(), std::string("--tick-ms"),
                                 std::string("10")})
      args.push_back(a);
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(::posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    for (int i = 0; i < 1000 && !fs::exists(ready_); ++i) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        FAIL("the sensor exited before it was ready");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(fs::exists(ready_));
  }
  sensor(const sensor&) = delete;
  sensor& operator=(const sensor&) = delete;
  // Stops it; its exit status (0: a clean shutdown()).
  int stop() {
    if (pid_ < 0) return -1;
    write_text(stop_, "stop");
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  ~sensor() {
    if (pid_ > 0) {
      std::ofstream(stop_) << "stop";
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  std::string log() const { return slotguard_test::read_text(log_); }

 private:
  fs::path ready_, stop_, log_;
  pid_t pid_ = -1;
};

struct setup {
  slotguard_test::temp_dir tmp{"live"};
  fs::path dir = tmp.path();
  fs::path store = dir / "store";
  fs::path key = dir / "publisher";
  fs::path pub = dir / "publisher.pub";

  setup() { REQUIRE(tool(dir, "keygen --out " + q(key)).status == 0); }

  fs::path pack(std::uint64_t seq, const std::string& extra = "", const fs::path& with_key = {}) {
    const fs::path payload = dir / ("payload-" + std::to_string(seq));
    write_text(payload, "content " + std::to_string(seq));
    const fs::path out = dir / ("b" + std::to_string(seq) + "-" + std::to_string(extra.size()) + ".sgb");
    const auto o = tool(dir, "pack --channel rules --sequence " + std::to_string(seq) + " --schema test@1 --version v" +
                                 std::to_string(seq) + " --payload " + q(payload) + " -o " + q(out) + " --key " +
                                 q(with_key.empty() ? key : with_key) + " " + extra);
    INFO(o.err);
    REQUIRE(o.status == 0);
    return out;
  }
  outcome run(const std::string& sub, const std::string& extra = "") {
    return tool(dir, sub + " --store " + q(store) + " " + extra);
  }
  outcome apply(const fs::path& b, const std::string& extra = "") {
    return run("apply", "--channel rules " + q(b) + " --trust " + q(pub) + " --wait 10 " + extra);
  }
  std::string status() {
    const auto o = run("status", "--json --trust " + q(pub));
    INFO(o.err);
    REQUIRE(o.status == 0);
    return o.out;
  }
};

std::vector<std::string> leftovers(const fs::path& store) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(store / "requests", ec)) out.push_back(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("an operator's session against a live sensor", "[live]") {
  setup t;
  sensor s(t.dir, t.store, t.pub);

  // status reads while the sensor holds the lock.
  std::string st = t.status();
  CHECK(json_value(st, "state") == "\"empty\"");

  auto o = t.apply(t.pack(1));
  INFO(o.out << o.err);
  REQUIRE(o.status == 0);
  CHECK(o.out.find("trial: sequence 1") != std::string::npos);
  CHECK(o.out.find("the sensor runs it now") != std::string::npos);
  st = t.status();
  CHECK(json_value(st, "state") == "\"trial\"");
  CHECK(json_value(st, "served") == "1");
  CHECK(json_value(st, "trial_starts") == "1");  // the sensor's own start: it runs the trial

  o = t.run("confirm", "--wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("committed: sequence 1") != std::string::npos);
  st = t.status();
  CHECK(json_value(st, "state") == "\"committed\"");
  CHECK(json_value(st, "floor") == "1");

  // A bundle the sensor's gates refuse: its error, by the sensor.
  const fs::path other = t.dir / "other";
  REQUIRE(tool(t.dir, "keygen --out " + q(other)).status == 0);
  o = t.apply(t.pack(9, "", other));
  CHECK(o.status == 1);
  CHECK(o.err.find("unknown_key") != std::string::npos);
  CHECK(o.err.find("by the sensor") != std::string::npos);

  REQUIRE(t.apply(t.pack(2)).status == 0);
  o = t.run("revert", "--wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("reverted; active: sequence 1") != std::string::npos);
  st = t.status();
  CHECK(json_value(st, "quarantine") == "[2]");
  CHECK(json_value(st, "served") == "1");

  o = t.run("release", "2 --wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("quarantine lifted: sequence 2 may be applied again") != std::string::npos);
  CHECK(json_value(t.status(), "quarantine") == "[]");
  // Again: nothing to lift, and the tool says so.
  o = t.run("release", "2 --wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("sequence 2 was not quarantined: nothing changed") != std::string::npos);

  REQUIRE(t.apply(t.pack(2)).status == 0);
  REQUIRE(t.run("confirm", "--wait 10").status == 0);
  o = t.run("rollback", "--wait 10 --json");
  INFO(o.out);
  REQUIRE(o.status == 0);
  CHECK(one_json_object(o.out));
  CHECK(json_value(o.out, "via") == "\"request\"");
  CHECK(json_value(o.out, "served") == "1");
  st = t.status();
  CHECK(json_value(json_value(st, "active"), "sequence") == "1");
  CHECK(json_value(st, "floor") == "1");

  // An error the sensor reports, as JSON.
  o = t.run("revert", "--json --wait 10");
  CHECK(o.status == 1);
  CHECK(one_json_object(o.out));
  CHECK(json_value(o.out, "errc") == "\"no_trial\"");

  // --no-wait leaves the request; the sensor carries it out anyway.
  o = t.run("release", "5 --no-wait");
  CHECK(o.status == 0);
  CHECK(o.out.find("left for the sensor") != std::string::npos);

  // History, read while the sensor runs.
  o = t.run("history", "--json");
  REQUIRE(o.status == 0);
  CHECK(one_json_object(o.out));
  for (const char* ev : {"\"trial_started\"", "\"committed\"", "\"reverted\"", "\"released\""})
    CHECK(o.out.find(ev) != std::string::npos);
  o = t.run("history");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("committed  sequence 1") != std::string::npos);
  CHECK(o.out.find("reason operator") != std::string::npos);

  // status --json to a full device fails.
  CHECK(slotguard_test::run_command_line("\"" + std::string(SLOTGUARD_CLI_PATH) + "\" status --json --store " +
                                         q(t.store) + " >/dev/full 2>/dev/null") == 1);

  // The sensor carries out the --no-wait request at a tick of its own: wait
  // for its outcome (a loaded machine may not have run that tick yet).
  auto only_outcomes = [&t] {
    const std::vector<std::string> names = leftovers(t.store);
    for (const std::string& name : names)
      if (name.size() <= 4 || name.substr(name.size() - 4) != ".out") return false;
    return !names.empty();
  };
  for (int i = 0; i < 1000 && !only_outcomes(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.stop() == 0);
  const std::string log = s.log();
  CHECK(log.find("taken up") != std::string::npos);
  CHECK(log.find("committed") != std::string::npos);
  // Nothing left behind but the uncollected --no-wait outcome.
  for (const std::string& name : leftovers(t.store)) CHECK(name.size() > 4);
  for (const std::string& name : leftovers(t.store)) CHECK(name.substr(name.size() - 4) == ".out");
}

TEST_CASE("a sensor that polls takes requests up in poll()", "[live]") {
  setup t;
  sensor s(t.dir, t.store, t.pub, {"--poll"});
  REQUIRE(t.apply(t.pack(1)).status == 0);
  auto o = t.run("confirm", "--wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("committed: sequence 1") != std::string::npos);
  CHECK(s.stop() == 0);
}

TEST_CASE("a request nobody takes up times out and is withdrawn", "[live]") {
  setup t;
  sensor s(t.dir, t.store, t.pub, {"--no-requests"});
  const auto start = std::chrono::steady_clock::now();
  auto o = t.run("confirm", "--wait 1");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(8));
  CHECK(o.status == 1);
  CHECK(o.err.find("timeout") != std::string::npos);
  CHECK(o.err.find("withdrawn") != std::string::npos);
  CHECK(leftovers(t.store).empty());
  CHECK(s.stop() == 0);
  // Once the sensor is gone, the same command acts directly.
  REQUIRE(tool(t.dir, "apply --store " + q(t.store) + " --channel rules " + q(t.pack(1)) + " --trust " + q(t.pub)).status == 0);
  o = t.run("confirm");
  CHECK(o.status == 0);
}

TEST_CASE("the same commands act directly with no sensor running", "[live]") {
  setup t;
  auto o = t.apply(t.pack(1), "--json");
  INFO(o.out << o.err);
  REQUIRE(o.status == 0);
  CHECK(json_value(o.out, "via") == "\"direct\"");
  CHECK(t.run("confirm").status == 0);
  REQUIRE(t.apply(t.pack(2)).status == 0);
  o = t.run("revert");
  REQUIRE(o.status == 0);
  CHECK(json_value(t.status(), "quarantine") == "[2]");
  REQUIRE(t.run("release", "2").status == 0);
  REQUIRE(t.apply(t.pack(2)).status == 0);
  REQUIRE(t.run("confirm").status == 0);
  o = t.run("rollback", "--trust " + q(t.pub));
  INFO(o.err);
  REQUIRE(o.status == 0);
  CHECK(json_value(json_value(t.status(), "active"), "sequence") == "1");
  o = t.run("history", "--json");
  REQUIRE(o.status == 0);
  for (const char* ev : {"\"trial_started\"", "\"committed\"", "\"reverted\"", "\"released\""})
    CHECK(o.out.find(ev) != std::string::npos);
}

TEST_CASE("status and history on a missing path create nothing", "[live]") {
  setup t;
  const fs::path missing = t.dir / "no" / "such" / "store";
  for (const char* sub : {"status", "history", "confirm", "revert", "rollback"}) {
    INFO(sub);
    auto o = tool(t.dir, std::string(sub) + " --store " + q(missing));
    CHECK(o.status == 1);
    CHECK(o.err.find("not_found") != std::string::npos);
    CHECK(o.err.find(missing.string()) != std::string::npos);
    o = tool(t.dir, std::string(sub) + " --json --store " + q(missing));
    CHECK(o.status == 1);
    CHECK(one_json_object(o.out));
    CHECK(json_value(o.out, "errc") == "\"not_found\"");
  }
  CHECK_FALSE(fs::exists(t.dir / "no"));
  // A file where the store should be is no store; the OS's words say why.
  const fs::path file = t.dir / "a-file";
  write_text(file, "x");
  for (const char* sub : {"status", "history"}) {
    INFO(sub);
    const auto o = tool(t.dir, std::string(sub) + " --store " + q(file));
    CHECK(o.status == 1);
    CHECK(o.err.find(file.string()) != std::string::npos);
    CHECK(o.err.find("(os: ") != std::string::npos);
  }
  // A bundle that is a directory: named, and said to be no regular file.
  const auto o = tool(t.dir, "apply --store " + q(t.store) + " --channel rules " + q(t.dir) + " --trust " + q(t.pub));
  CHECK(o.status == 1);
  CHECK(o.err.find("not_regular_file") != std::string::npos);
  CHECK(o.err.find("bundle " + t.dir.string()) != std::string::npos);
  CHECK(o.err.find("is not a regular file") != std::string::npos);
  CHECK_FALSE(fs::exists(t.store));
}

TEST_CASE("an account that may only read the store gets status and history", "[live][root]") {
  if (::geteuid() != 0 || std::system("command -v setpriv >/dev/null 2>&1") != 0) {
    WARN("skipped: needs root and setpriv to run the tool as another account");
    return;
  }
  setup t;
  sensor s(t.dir, t.store, t.pub);
  REQUIRE(t.apply(t.pack(1)).status == 0);
  REQUIRE(t.run("confirm", "--wait 10").status == 0);
  // Readable (not writable) by others, in this test only.
  ::chmod(t.dir.c_str(), 0755);
  REQUIRE(std::system(("chmod -R o+rX " + q(t.store)).c_str()) == 0);
  const std::string as_nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
  auto o = slotguard_test::run_capturing(
      t.dir, as_nobody + "\"" + std::string(SLOTGUARD_CLI_PATH) + "\" status --json --store " + q(t.store));
  INFO(o.err);
  CHECK(o.status == 0);
  CHECK(json_value(o.out, "state") == "\"committed\"");
  CHECK(json_value(json_value(o.out, "active"), "sequence") == "1");
  o = slotguard_test::run_capturing(
      t.dir, as_nobody + "\"" + std::string(SLOTGUARD_CLI_PATH) + "\" history --store " + q(t.store));
  CHECK(o.status == 0);
  CHECK(o.out.find("committed") != std::string::npos);
  // It cannot change anything: its request cannot even be left.
  o = slotguard_test::run_capturing(
      t.dir, as_nobody + "\"" + std::string(SLOTGUARD_CLI_PATH) + "\" revert --wait 1 --store " + q(t.store));
  CHECK(o.status == 1);
  CHECK(s.stop() == 0);
}

TEST_CASE("every subcommand's --json error is one JSON object", "[live][json]") {
  setup t;
  for (const char* sub : {"keygen", "pack", "sign", "inspect", "verify", "schema", "apply", "status", "confirm",
                          "revert", "rollback", "release", "history"}) {
    INFO(sub);
    // A usage error: exit 2, one object.
    auto o = tool(t.dir, std::string(sub) + " --json --no-such-option");
    CHECK(o.status == 2);
    CHECK(one_json_object(o.out));
    CHECK(json_value(o.out, "errc") == "\"invalid_argument\"");
    CHECK(o.out.find("no-such-option") != std::string::npos);
  }
  // Failures: exit 1, one object naming what failed.
  auto o = tool(t.dir, "inspect --json " + q(t.dir / "missing.sgb"));
  CHECK(o.status == 1);
  CHECK(one_json_object(o.out));
  CHECK(json_value(o.out, "errc") == "\"not_found\"");
  o = tool(t.dir, "apply --json --store " + q(t.store) + " --channel rules " + q(t.dir / "missing.sgb") +
                      " --trust " + q(t.pub));
  CHECK(o.status == 1);
  CHECK(one_json_object(o.out));
  CHECK(json_value(o.out, "context").find("bundle ") != std::string::npos);
  o = tool(t.dir, "nonsense --json");
  CHECK(o.status == 2);
  CHECK(one_json_object(o.out));
}

TEST_CASE("root operates a sensor that runs as its own account", "[live][root]") {
  if (::geteuid() != 0 || std::system("command -v setpriv >/dev/null 2>&1") != 0) {
    WARN("skipped: needs root and setpriv to run the sensor as another account");
    return;
  }
  // The tool takes the store owner's identity (seteuid) for what it writes;
  // LeakSanitizer cannot run in such a process (it stops with a fatal error
  // at exit), so a sanitizer build checks this one without it.
  {
    const char* asan = std::getenv("ASAN_OPTIONS");
    const std::string opts = std::string(asan != nullptr ? asan : "") + (asan != nullptr && *asan ? ":" : "") +
                             "detect_leaks=0";
    ::setenv("ASAN_OPTIONS", opts.c_str(), 1);
  }
  setup t;
  // The sensor's own account owns its store and its files; the operator is root.
  ::chmod(t.dir.c_str(), 0755);
  ::chmod(t.pub.c_str(), 0644);
  const fs::path home = t.dir / "sensor-home";
  fs::create_directory(home);
  fs::create_directory(t.store);
  REQUIRE(::chown(home.c_str(), 65534, 65534) == 0);
  REQUIRE(::chown(t.store.c_str(), 65534, 65534) == 0);
  ::chmod(t.store.c_str(), 0700);
  sensor s(home, t.store, t.pub, {}, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  auto o = t.apply(t.pack(1));
  INFO(o.out << o.err << s.log());
  REQUIRE(o.status == 0);
  o = t.run("confirm", "--wait 10");
  REQUIRE(o.status == 0);
  CHECK(o.out.find("committed: sequence 1") != std::string::npos);
  struct stat st {};
  REQUIRE(::stat((t.store / "requests").c_str(), &st) == 0);
  CHECK(st.st_uid == 65534);  // left as the store's owner, with the store's permissions
  CHECK((st.st_mode & 077) == 0);
  CHECK(s.stop() == 0);
  // With the sensor stopped, root acts directly, as the store's owner: the
  // sensor's next start can read and replace what root wrote.
  REQUIRE(t.apply(t.pack(2)).status == 0);
  REQUIRE(t.run("confirm").status == 0);
  for (const auto& e : fs::directory_iterator(t.store)) {
    INFO(e.path());
    REQUIRE(::lstat(e.path().c_str(), &st) == 0);
    CHECK(st.st_uid == 65534);
  }
  sensor again(home, t.store, t.pub, {}, {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  o = t.run("history", "--json");
  REQUIRE(o.status == 0);
  CHECK(again.stop() == 0);
  CHECK(again.log().find("could not record") == std::string::npos);
}

TEST_CASE("apply of a recall says so, also while a trial runs", "[live]") {
  setup t;
  REQUIRE(t.apply(t.pack(1)).status == 0);
  REQUIRE(t.run("confirm").status == 0);
  REQUIRE(t.apply(t.pack(2)).status == 0);  // on trial
  // A recall of a sequence that runs nowhere: the trial goes on, and the
  // tool does not call the recall a trial.
  auto o = t.apply(t.pack(10, "--recall 7"));
  INFO(o.out << o.err);
  REQUIRE(o.status == 0);
  CHECK(o.out.find("recall applied") != std::string::npos);
  CHECK(o.out.find("trial:") == std::string::npos);
  CHECK(json_value(t.status(), "quarantine") == "[7]");
  // The same against a live sensor.
  sensor s(t.dir, t.store, t.pub);
  o = t.apply(t.pack(11, "--recall 8"));
  REQUIRE(o.status == 0);
  CHECK(o.out.find("recall applied") != std::string::npos);
  CHECK(json_value(t.status(), "quarantine") == "[7,8]");
  CHECK(s.stop() == 0);
}
