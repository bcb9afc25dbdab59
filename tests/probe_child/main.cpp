// SPDX-License-Identifier: Apache-2.0
// A product's probe program, as the isolated-probe tests need one on Windows
// (elsewhere they use /bin/sh). The first argument says how it behaves; the
// last is the candidate's path, which slotguard appends.
//   expect TEXT FILE   exit 0 when FILE holds exactly TEXT, else exit 1
//   by-content FILE    FILE holding "segv" crashes, "hang" hangs, else exit 0
//   crash FILE         an access violation
//   hang FILE          sleeps until killed
#include <cstdlib>
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

}  // namespace

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
  if (mode == "crash") crash();
  if (mode == "hang") hang();
  return 2;
}
