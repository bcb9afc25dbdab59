// SPDX-License-Identifier: Apache-2.0
// Process supervision for the examples: start a program, wait for it to end,
// say how it ended, and start it again when it died abnormally (killed by a
// signal or an unhandled exception, or a non-zero exit status), up to a
// restart limit and after a short back-off that doubles each time. The
// `supervisor` program is a thin command line around it, and sensor_demo runs
// its sensor under the same logic, so that a crash during a trial happens for
// real in another process and the restart that follows is a real one. POSIX
// (posix_spawnp, waitpid) and Windows (CreateProcessW, WaitForSingleObject).
#ifndef SLOTGUARD_EXAMPLES_SUPERVISE_HPP
#define SLOTGUARD_EXAMPLES_SUPERVISE_HPP

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <slotguard/detail/process_win32.hpp>
#else
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
extern char** environ;
#endif

namespace supervisor {

// How one run of a program ended.
struct exit_status {
  enum class kind {
    exited,       // it returned from main or called exit(): code is its status
    crashed,      // a signal (POSIX) or an unhandled exception (Windows): code says which
    not_started,  // it could not be started or waited for: code is the OS error
  };
  kind how = kind::not_started;
  int code = 0;

  bool normal() const noexcept { return how == kind::exited && code == 0; }
  bool crashed() const noexcept { return how == kind::crashed; }
};

inline std::string describe(const exit_status& s) {
  switch (s.how) {
    case exit_status::kind::exited:
      return "exited with status " + std::to_string(s.code);
    case exit_status::kind::crashed: {
#if defined(_WIN32)
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%08lX", static_cast<unsigned long>(static_cast<unsigned>(s.code)));
      return std::string("crashed with exception ") + buf +
             (static_cast<unsigned>(s.code) == 0xC0000005u ? " (access violation)" : "");
#else
      std::string name;
      switch (s.code) {
        case SIGSEGV: name = " (SIGSEGV)"; break;
        case SIGABRT: name = " (SIGABRT)"; break;
        case SIGBUS: name = " (SIGBUS)"; break;
        case SIGILL: name = " (SIGILL)"; break;
        case SIGFPE: name = " (SIGFPE)"; break;
        case SIGKILL: name = " (SIGKILL)"; break;
        case SIGTERM: name = " (SIGTERM)"; break;
        default: break;
      }
      return "died by signal " + std::to_string(s.code) + name;
#endif
    }
    case exit_status::kind::not_started:
      return "could not be started (" + std::system_category().message(s.code) + ")";
  }
  return "ended in an unknown way";
}


// Starts argv (argv[0] is looked up on PATH when it has no directory part)
// with the caller's standard input, output and error, and waits until it
// ends. Requires a non-empty argv.
inline exit_status run(const std::vector<std::string>& argv) {
  exit_status st;
  if (argv.empty() || argv[0].empty()) {
    st.code = EINVAL;
    return st;
  }
  std::fflush(nullptr);  // so that our buffered lines come before the child's
#if defined(_WIN32)
  std::wstring cmd;
  // The library's own quoting (CommandLineToArgvW's rules), as its
  // isolated probes use it.
  for (const auto& a : argv) {
    auto wide = slotguard::detail::widen_utf8(a);
    if (!wide) {
      st.code = ERROR_INVALID_PARAMETER;
      return st;
    }
    slotguard::detail::append_quoted_arg(cmd, *wide);
  }
  std::vector<wchar_t> buf(cmd.begin(), cmd.end());
  buf.push_back(L'\0');
  STARTUPINFOW si;
  ::ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  // Hand the child our standard handles explicitly: when they are pipes (a
  // test runner capturing output) they are not passed on otherwise.
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = ::GetStdHandle(STD_INPUT_HANDLE);
  si.hStdOutput = ::GetStdHandle(STD_OUTPUT_HANDLE);
  si.hStdError = ::GetStdHandle(STD_ERROR_HANDLE);
  for (HANDLE h : {si.hStdInput, si.hStdOutput, si.hStdError})
    if (h != nullptr && h != INVALID_HANDLE_VALUE)
      ::SetHandleInformation(h, HANDLE_FLAG_INHERIT, HANDLE_FLAG_INHERIT);
  PROCESS_INFORMATION pi;
  ::ZeroMemory(&pi, sizeof pi);
  if (!::CreateProcessW(nullptr, buf.data(), nullptr, nullptr, TRUE, 0, nullptr, nullptr, &si, &pi)) {
    st.code = static_cast<int>(::GetLastError());
    return st;
  }
  ::CloseHandle(pi.hThread);
  DWORD code = 0;
  const bool waited = ::WaitForSingleObject(pi.hProcess, INFINITE) == WAIT_OBJECT_0 &&
                      ::GetExitCodeProcess(pi.hProcess, &code);
  ::CloseHandle(pi.hProcess);
  if (!waited) {
    st.code = static_cast<int>(::GetLastError());
    return st;
  }
  // A process killed by an unhandled exception ends with its NTSTATUS, whose
  // two top bits are set (error severity); no program exits that way itself.
  if ((code & 0xC0000000u) == 0xC0000000u) {
    st.how = exit_status::kind::crashed;
    st.code = static_cast<int>(code);
  } else {
    st.how = exit_status::kind::exited;
    st.code = static_cast<int>(code);
  }
  return st;
#else
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    st.code = rc;
    return st;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      st.code = errno;
      return st;
    }
  }
  if (WIFSIGNALED(status)) {
    st.how = exit_status::kind::crashed;
    st.code = WTERMSIG(status);
  } else {
    st.how = exit_status::kind::exited;
    st.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return st;
#endif
}

// The command as one line for a log: the program's file name and its
// arguments.
inline std::string command_text(const std::vector<std::string>& argv) {
  std::string out;
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i != 0) out += ' ';
    out += i == 0 ? std::filesystem::path(argv[0]).filename().string() : argv[i];
  }
  return out;
}

struct options {
  // Restarts after abnormal ends; the run after the last one is final.
  unsigned max_restarts = 3;
  // Wait before the first restart; each further restart waits twice as
  // long, up to max_backoff, so a program that dies at once does not spin.
  std::chrono::milliseconds backoff{200};
  std::chrono::milliseconds max_backoff{5000};
  // Printed at the start of each line this supervisor writes.
  std::string prefix = "[supervisor] ";
};

// What supervise() saw: every run's end, in order.
struct report {
  std::vector<exit_status> runs;
  bool gave_up = false;  // the last run ended abnormally and no restart was left

  std::size_t restarts() const noexcept { return runs.empty() ? 0 : runs.size() - 1; }
  bool ended_normally() const noexcept { return !runs.empty() && runs.back().normal(); }
};

// Runs argv, and runs it again after each abnormal end (a crash or a
// non-zero status) until it ends normally or max_restarts restarts are
// spent. A program that cannot be started is not retried. Prints one line
// per run and decision to standard output.
inline report supervise(const std::vector<std::string>& argv, const options& opt) {
  report rep;
  std::chrono::milliseconds wait = opt.backoff;
  for (;;) {
    const std::size_t n = rep.runs.size() + 1;
    std::printf("%srun %zu: starting %s\n", opt.prefix.c_str(), n, command_text(argv).c_str());
    const exit_status st = run(argv);
    rep.runs.push_back(st);
    if (st.normal()) {
      std::printf("%srun %zu %s: done\n", opt.prefix.c_str(), n, describe(st).c_str());
      break;
    }
    if (st.how == exit_status::kind::not_started) {
      std::printf("%srun %zu %s: giving up\n", opt.prefix.c_str(), n, describe(st).c_str());
      rep.gave_up = true;
      break;
    }
    if (rep.restarts() >= opt.max_restarts) {
      std::printf("%srun %zu %s: restart limit (%u) reached, giving up\n", opt.prefix.c_str(), n,
                  describe(st).c_str(), opt.max_restarts);
      rep.gave_up = true;
      break;
    }
    std::printf("%srun %zu %s: restart %zu of %u in %lld ms\n", opt.prefix.c_str(), n,
                describe(st).c_str(), rep.restarts() + 1, opt.max_restarts,
                static_cast<long long>(wait.count()));
    std::fflush(stdout);
    std::this_thread::sleep_for(wait);
    wait = std::min(wait * 2, opt.max_backoff);
  }
  std::fflush(stdout);
  return rep;
}

// The running program's own path, for starting itself as a child in
// another mode (argv0 is the fallback where the OS cannot say).
inline std::string self_path(const char* argv0) {
#if defined(_WIN32)
  std::vector<wchar_t> buf(32768);
  const DWORD n = ::GetModuleFileNameW(nullptr, buf.data(), static_cast<DWORD>(buf.size()));
  if (n > 0 && n < buf.size()) {
    const int len = ::WideCharToMultiByte(CP_UTF8, 0, buf.data(), static_cast<int>(n), nullptr, 0,
                                          nullptr, nullptr);
    if (len > 0) {
      std::string out(static_cast<std::size_t>(len), '\0');
      ::WideCharToMultiByte(CP_UTF8, 0, buf.data(), static_cast<int>(n), &out[0], len, nullptr, nullptr);
      return out;
    }
  }
#else
  std::error_code ec;
#if defined(__linux__)
  const auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec && !p.empty()) return p.string();
#endif
  const std::string a = argv0 != nullptr ? argv0 : "";
  if (a.find('/') != std::string::npos) {
    const auto abs = std::filesystem::absolute(a, ec);
    if (!ec) return abs.string();
  }
#endif
  return argv0 != nullptr ? argv0 : "";
}

// The command that starts this program again: its own path, after the
// words of the environment variable SLOTGUARD_EXAMPLES_LAUNCHER when that is
// set (split at spaces). A test runner sets it to the emulator when the
// examples are cross-built and run under qemu-user, so that a child of an
// emulated program runs emulated too.
inline std::vector<std::string> self_command(const char* argv0) {
  std::vector<std::string> cmd;
  if (const char* launcher = std::getenv("SLOTGUARD_EXAMPLES_LAUNCHER")) {
    std::string word;
    for (const char* c = launcher;; ++c) {
      if (*c == ' ' || *c == '\0') {
        if (!word.empty()) cmd.push_back(word);
        word.clear();
        if (*c == '\0') break;
      } else {
        word.push_back(*c);
      }
    }
  }
  cmd.push_back(self_path(argv0));
  return cmd;
}

// Ends this process with a real crash: SIGSEGV on POSIX, an access
// violation exception on Windows. What the demo's interpreter does where
// unchecked code would read out of bounds, without invoking undefined
// behaviour to get there.
[[noreturn]] inline void crash_now() {
  std::fflush(nullptr);
#if defined(_WIN32)
  // No error-reporting dialog: a supervisor is waiting.
  ::SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
  ::RaiseException(EXCEPTION_ACCESS_VIOLATION, EXCEPTION_NONCONTINUABLE, 0, nullptr);
  // Windows ends the process in RaiseException. Where an emulation returns
  // from it instead, end with the status an unhandled access violation gives.
  ::TerminateProcess(::GetCurrentProcess(), static_cast<UINT>(EXCEPTION_ACCESS_VIOLATION));
#else
#if defined(__linux__)
  // A demonstration crash is not worth a core file.
  (void)::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
  std::signal(SIGSEGV, SIG_DFL);
  std::raise(SIGSEGV);
#endif
  std::abort();
}

}  // namespace supervisor

#endif  // SLOTGUARD_EXAMPLES_SUPERVISE_HPP
