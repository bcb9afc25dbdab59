// SPDX-License-Identifier: Apache-2.0
// Runs a child process with a time limit on Windows: CreateProcessW with a
// command line quoted so the child's C runtime splits it back into the same
// arguments, WaitForSingleObject with the limit, TerminateProcess on timeout.
// Used by probe.hpp; not a public interface.
#ifndef SLOTGUARD_DETAIL_PROCESS_WIN32_HPP
#define SLOTGUARD_DETAIL_PROCESS_WIN32_HPP

#include <slotguard/config.hpp>
#include <slotguard/error.hpp>

// Compiles to nothing on the other family of systems, so that every header
// builds on its own everywhere.
#if SLOTGUARD_OS_WINDOWS

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

namespace slotguard {
inline namespace v1 {
namespace detail {

enum class child_outcome { exited, signaled, timed_out };

struct child_status {
  child_outcome outcome = child_outcome::exited;
  int code = 0;  // exit code, or the NTSTATUS of the crash (as int)
};

inline result<std::wstring> widen_utf8(const std::string& s) {
  if (s.empty()) return std::wstring();
  if (s.size() > 0x7fffffffu) return errc::invalid_argument;
  const int n = ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(),
                                      static_cast<int>(s.size()), nullptr, 0);
  if (n <= 0) return errc::invalid_argument;
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  ::MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s.data(), static_cast<int>(s.size()), &out[0], n);
  return out;
}

// Appends one argument quoted by the rules CommandLineToArgvW and the MSVC
// runtime use: backslashes are literal except before a quote, where each
// must be doubled; a quote itself is escaped with a backslash.
inline void append_quoted_arg(std::wstring& cmd, const std::wstring& arg) {
  if (!cmd.empty()) cmd.push_back(L' ');
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    cmd += arg;
    return;
  }
  cmd.push_back(L'"');
  std::size_t backslashes = 0;
  for (wchar_t ch : arg) {
    if (ch == L'\\') {
      ++backslashes;
      continue;
    }
    if (ch == L'"') {
      cmd.append(backslashes * 2 + 1, L'\\');
    } else {
      cmd.append(backslashes, L'\\');
    }
    backslashes = 0;
    cmd.push_back(ch);
  }
  cmd.append(backslashes * 2, L'\\');  // before the closing quote
  cmd.push_back(L'"');
}

inline result<child_status> run_child(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds limit,
                                      std::chrono::milliseconds /*poll_interval*/) {
  if (argv.empty() || argv[0].empty()) return errc::invalid_argument;
  std::wstring cmd;
  for (const auto& a : argv) {
    auto w = widen_utf8(a);
    if (!w) return w.error();
    append_quoted_arg(cmd, *w);
  }
  STARTUPINFOW si;
  ::ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  PROCESS_INFORMATION pi;
  ::ZeroMemory(&pi, sizeof pi);
  std::vector<wchar_t> buf(cmd.begin(), cmd.end());
  buf.push_back(L'\0');
  if (!::CreateProcessW(nullptr, buf.data(), nullptr, nullptr, FALSE, CREATE_NO_WINDOW, nullptr,
                        nullptr, &si, &pi)) {
    const DWORD e = ::GetLastError();
    if (e == ERROR_FILE_NOT_FOUND || e == ERROR_PATH_NOT_FOUND) return errc::not_found;
    if (e == ERROR_ACCESS_DENIED) return errc::permission_denied;
    return errc::io_error;
  }
  ::CloseHandle(pi.hThread);
  const auto ms = limit.count() < 0 ? 0 : limit.count();
  const DWORD wait_ms = ms >= static_cast<long long>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(ms);
  const DWORD w = ::WaitForSingleObject(pi.hProcess, wait_ms);
  if (w == WAIT_TIMEOUT) {
    ::TerminateProcess(pi.hProcess, 1);
    ::WaitForSingleObject(pi.hProcess, INFINITE);
    ::CloseHandle(pi.hProcess);
    return child_status{child_outcome::timed_out, 0};
  }
  DWORD code = 0;
  const BOOL got = ::GetExitCodeProcess(pi.hProcess, &code);
  ::CloseHandle(pi.hProcess);
  if (w != WAIT_OBJECT_0 || !got) return errc::io_error;
  // Unhandled exceptions end a process with their NTSTATUS, whose top two
  // bits are 11 (error severity): that is a crash, not an answer.
  if ((code & 0xC0000000u) == 0xC0000000u)
    return child_status{child_outcome::signaled, static_cast<int>(code & 0x7fffffffu)};
  return child_status{child_outcome::exited, static_cast<int>(code)};
}

}  // namespace detail
}  // namespace v1
}  // namespace slotguard

#endif  // SLOTGUARD_OS_WINDOWS

#endif  // SLOTGUARD_DETAIL_PROCESS_WIN32_HPP
