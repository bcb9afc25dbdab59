// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the tests: temporary directories that clean up after
// themselves, and the scale of heavy loops.
#ifndef SLOTGUARD_TESTS_SUPPORT_HPP
#define SLOTGUARD_TESTS_SUPPORT_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <sys/wait.h>
#endif

namespace slotguard_test {

// SLOTGUARD_TEST_QUICK=1 shrinks exhaustive loops (for runs under an
// emulator, where a full run would take hours). Tests that scale down say so
// in their output; normal runs never set it.
inline bool quick_mode() {
  const char* v = std::getenv("SLOTGUARD_TEST_QUICK");
  return v != nullptr && *v != '\0' && *v != '0';
}

// size bytes of xorshift64 output seeded from seq and salt: content that
// differs for every sequence number and is the same on every run.
inline std::vector<std::uint8_t> pseudo_random_bytes(std::uint64_t seq, std::size_t size,
                                                     std::uint64_t salt = 1) {
  std::vector<std::uint8_t> v(size);
  std::uint64_t x = seq * 0x9E3779B97F4A7C15ull + salt;
  for (auto& b : v) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<std::uint8_t>(x);
  }
  return v;
}

// A fresh directory under the system's temporary folder, removed with its
// contents when the object goes out of scope.
class temp_dir {
 public:
  explicit temp_dir(const std::string& tag = "t") {
    static std::atomic<unsigned> counter{0};
    std::random_device rd;
    const auto base = std::filesystem::temp_directory_path();
    for (;;) {
      path_ = base / ("slotguard-" + tag + "-" + std::to_string(rd()) + "-" +
                      std::to_string(counter++));
      std::error_code ec;
      if (std::filesystem::create_directory(path_, ec)) break;
    }
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A path as UTF-8 in a std::string, as C++17 and C++20 both allow
// (C++20's u8string() is a std::u8string).
inline std::string utf8_path(const std::filesystem::path& p) {
  const auto u = p.u8string();
  return std::string(u.begin(), u.end());
}

// The command line of a probe program for the isolated-probe tests, which
// slotguard completes with the candidate's path. mode is one of:
//   "expect" (arg: a word): exits 0 when the candidate holds exactly arg, else 1
//   "by-content": crashes on a candidate "segv", hangs on "hang", else exits 0
//   "crash": crashes (SIGSEGV; an access violation on Windows)
//   "hang": never exits on its own
// POSIX: /bin/sh does it. Windows: tests/probe_child, built beside the tests.
inline std::vector<std::string> probe_child_command(const std::string& mode, const std::string& arg = {}) {
#if defined(_WIN32)
  std::vector<wchar_t> buf(32768);
  const DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
  const std::filesystem::path self(std::wstring(buf.data(), n < buf.size() ? n : 0));
  std::vector<std::string> cmd{utf8_path(self.parent_path() / "slotguard_probe_child.exe"), mode};
  if (!arg.empty()) cmd.push_back(arg);
  return cmd;
#else
  std::string script;
  if (mode == "expect") {
    script = "test \"$(cat \"$1\")\" = '" + arg + "'";
  } else if (mode == "by-content") {
    script =
        "c=$(cat \"$1\"); if [ \"$c\" = segv ]; then kill -SEGV $$; fi; "
        "if [ \"$c\" = hang ]; then exec sleep 30; fi; exit 0";
  } else if (mode == "crash") {
    script = "kill -SEGV $$";
  } else {
    script = "exec sleep 30";
  }
  return {"/bin/sh", "-c", script, "probe"};
#endif
}

// Runs a command line through the system's shell and returns the program's
// exit status (-1 when it did not exit normally).
inline int run_command_line(const std::string& cmdline) {
#if defined(_WIN32)
  // cmd /c drops the first and the last quote of a line that starts with
  // one: one more pair around the whole line keeps the line's own quotes.
  // Status 9009 is cmd.exe's "not recognized as a command": under wine on
  // a loaded machine it comes now and then for a program that is there
  // (seen once in a full CI run). The tool never exits with it, so a
  // retry cannot hide one of its answers.
  int rc = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    rc = std::system(("\"" + cmdline + "\"").c_str());
    if (rc != 9009) break;
  }
  return rc;
#else
  const int rc = std::system(cmdline.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
#endif
}

// A program's path as the shell wants it. On Windows, backslashes; and a
// path that starts with '/' comes from a cross build on Linux run under
// wine, which shows the Linux file system as drive Z:.
inline std::string shell_program_path(std::string p) {
#if defined(_WIN32)
  if (!p.empty() && p[0] == '/') p = "Z:" + p;
  for (char& c : p)
    if (c == '/') c = '\\';
#endif
  return p;
}

// A whole file as text ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A path quoted for the shell.
inline std::string quoted(const std::filesystem::path& p) { return "\"" + p.string() + "\""; }

// How a command line ended, with what it wrote.
struct command_outcome {
  int status = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line with its standard output and error sent to
// files in dir, and returns its status and both texts.
inline command_outcome run_capturing(const std::filesystem::path& dir, const std::string& cmdline) {
  const std::filesystem::path out = dir / "stdout.txt";
  const std::filesystem::path err = dir / "stderr.txt";
  command_outcome o;
  o.status = run_command_line(cmdline + " >" + quoted(out) + " 2>" + quoted(err));
  o.out = read_text(out);
  o.err = read_text(err);
  return o;
}

// What a cross build runs the target's programs through (the emulator, as
// quoted shell words; tests/CMakeLists.txt), or nothing.
#ifndef SLOTGUARD_TEST_TOOL_LAUNCHER
#define SLOTGUARD_TEST_TOOL_LAUNCHER ""
#endif

// Runs the slotguard tool at tool_path with the given arguments.
inline command_outcome run_tool(const std::string& tool_path, const std::filesystem::path& dir,
                                const std::string& args) {
  return run_capturing(dir, std::string(SLOTGUARD_TEST_TOOL_LAUNCHER) + "\"" +
                                shell_program_path(tool_path) + "\" " + args);
}

}  // namespace slotguard_test

#endif  // SLOTGUARD_TESTS_SUPPORT_HPP
