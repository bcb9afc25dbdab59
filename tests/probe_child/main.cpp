// SPDX-License-Identifier: Apache-2.0
// A product's probe program, as the isolated-probe tests need one on Windows
// (elsewhere they use /bin/sh). The first argument says how it behaves; the
// last is the candidate's path, which slotguard appends.
//   expect TEXT FILE   exit 0 when FILE holds exactly TEXT, else exit 1
//   by-content FILE    FILE holding "segv" crashes, "hang" hangs, else exit 0
//   crash FILE         an access violation
//   hang FILE          sleeps until killed
//   exit-minus-one FILE        exit(-1): exit code 0xFFFFFFFF, an ordinary exit
//   env FILE                   prints its environment, one NAME=value a line
//   grandchild PIDFILE FILE    starts itself hanging, writes that process's id
//                              to PIDFILE, then hangs
//   alloc FILE                 commits memory 16 MiB at a time, up to 1 GiB:
//                              exit 4 when an allocation fails, else 0
//   spawn FILE                 starts 16 hanging copies of itself: exit 5 when
//                              one cannot be started, else 0
//   handle VALUE FILE          exit 1 when VALUE (decimal) is a handle of a pipe
//                              that holds "slotguard-secret" (inherited), else 0
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#endif
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <csignal>
#include <unistd.h>
#endif

namespace {

std::string contents(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

#if defined(_WIN32)
// Windows ends a process that set SEM_NOGPFAULTERRORBOX and crashes with the
// exception's code as its exit status. Wine ignores that error mode and
// starts its debugger first, which under load can take longer than a
// probe's time limit. A top-level filter that ends the process with the
// exception's code gives the same exit status on both, at once.
LONG WINAPI end_with_exception_code(EXCEPTION_POINTERS* e) {
  ::TerminateProcess(::GetCurrentProcess(), static_cast<UINT>(e->ExceptionRecord->ExceptionCode));
  return EXCEPTION_EXECUTE_HANDLER;
}
#endif

[[noreturn]] void crash() {
#if defined(_WIN32)
  ::SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX);
  ::SetUnhandledExceptionFilter(end_with_exception_code);
  ::RaiseException(EXCEPTION_ACCESS_VIOLATION, EXCEPTION_NONCONTINUABLE, 0, nullptr);
  // Windows ends the process in RaiseException. Where an emulation returns
  // from it instead, end it with the status an unhandled access violation
  // gives.
  ::TerminateProcess(::GetCurrentProcess(), static_cast<UINT>(EXCEPTION_ACCESS_VIOLATION));
#else
  std::raise(SIGSEGV);
#endif
  std::abort();
}

[[noreturn]] void hang() {
  for (;;) {
#if defined(_WIN32)
    ::Sleep(1000);
#else
    ::sleep(1);
#endif
  }
}

#if defined(_WIN32)
// Starts this program again as "hang FILE" and returns the new process's id
// (0 on failure).
unsigned long start_hanging_copy(const char* file) {
  wchar_t self[32768];
  const DWORD n = ::GetModuleFileNameW(nullptr, self, 32768);
  if (n == 0 || n >= 32768) return 0;
  std::wstring cmd = L"\"" + std::wstring(self, n) + L"\" hang x";
  (void)file;
  STARTUPINFOW si;
  ::ZeroMemory(&si, sizeof si);
  si.cb = sizeof si;
  PROCESS_INFORMATION pi;
  ::ZeroMemory(&pi, sizeof pi);
  std::wstring buf = cmd;
  if (!::CreateProcessW(self, &buf[0], nullptr, nullptr, FALSE, CREATE_NO_WINDOW, nullptr, nullptr,
                        &si, &pi))
    return 0;
  ::CloseHandle(pi.hThread);
  ::CloseHandle(pi.hProcess);
  return pi.dwProcessId;
}
#endif

}  // namespace

#if defined(_WIN32)
extern "C" {
extern char** _environ;
}
#else
extern char** environ;
#endif

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const std::string mode = argv[1];
  const char* file = argv[argc - 1];
  if (mode == "expect" && argc == 4) return contents(file) == argv[2] ? 0 : 1;
  if (mode == "by-content") {
    const std::string c = contents(file);
    if (c == "segv") crash();
    if (c == "hang") hang();
    return 0;
  }
  if (mode == "exit-minus-one") std::exit(-1);
  if (mode == "env") {
#if defined(_WIN32)
    char** env = _environ;
#else
    char** env = environ;
#endif
    for (char** e = env; e && *e; ++e) std::printf("%s\n", *e);
    return 0;
  }
#if defined(_WIN32)
  if (mode == "alloc") {
    for (int i = 0; i < 64; ++i) {
      void* p = ::VirtualAlloc(nullptr, 16u << 20, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
      if (!p) return 4;
      std::memset(p, 1, 16u << 20);
    }
    return 0;
  }
  if (mode == "handle" && argc == 4) {
    const auto value = static_cast<std::uintptr_t>(std::strtoull(argv[2], nullptr, 10));
    char buf[16];
    DWORD got = 0;
    if (!::PeekNamedPipe(reinterpret_cast<HANDLE>(value), buf, sizeof buf, &got, nullptr, nullptr))
      return 0;
    return got == sizeof buf && std::memcmp(buf, "slotguard-secret", sizeof buf) == 0 ? 1 : 0;
  }
  if (mode == "spawn") {
    for (int i = 0; i < 16; ++i)
      if (start_hanging_copy(file) == 0) return 5;
    return 0;
  }
  if (mode == "grandchild" && argc == 4) {
    const unsigned long pid = start_hanging_copy(file);
    if (pid == 0) return 3;
    std::ofstream(argv[2]) << pid;
    hang();
  }
#endif
  if (mode == "crash") crash();
  if (mode == "hang") hang();
  return 2;
}
