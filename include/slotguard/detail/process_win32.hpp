// SPDX-License-Identifier: Apache-2.0
// Runs a probe's child process on Windows as a resource with an owner: a job
// object that kills every process in it when the job's handle closes, with
// memory, active-process and CPU-time limits; started suspended, put in the
// job, then resumed, so nothing it starts escapes; given an explicit
// application name (never looked up in the current directory; batch files
// refused, since cmd.exe would re-parse their arguments), only its standard
// handles (PROC_THREAD_ATTRIBUTE_HANDLE_LIST: stdin from NUL, stdout and
// stderr into one pipe the parent reads) and only the environment it is
// given. A crash is only an exit code that is an exception's status; an
// ordinary exit(-1) (0xFFFFFFFF) is an exit. Used by probe.hpp; not a public
// interface.
#ifndef SLOTGUARD_DETAIL_PROCESS_WIN32_HPP
#define SLOTGUARD_DETAIL_PROCESS_WIN32_HPP

#include <slotguard/config.hpp>
#include <slotguard/error.hpp>

// Compiles to nothing on the other family of systems, so that every header
// builds on its own everywhere.
#if SLOTGUARD_OS_WINDOWS

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cwchar>
#include <string>
#include <vector>

#include <slotguard/detail/windows.hpp>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

enum class child_outcome { exited, signaled, timed_out, not_started, lost };

// Resource limits; 0 leaves a limit unset. On Windows address_space is the
// job's committed memory, cpu_seconds the job's user time, processes the
// job's active processes; file_size and open_files have no counterpart.
struct child_limits {
  std::uint64_t address_space = 0;
  std::uint64_t cpu_seconds = 0;
  std::uint64_t file_size = 0;
  std::uint64_t open_files = 0;
  std::uint64_t processes = 0;
};

struct child_spec {
  std::vector<std::string> argv;  // UTF-8; argv[0]: a path, or a name looked up on search_path
  std::vector<std::string> env;   // "NAME=value" (SystemRoot is added when missing)
  std::string search_path;        // the PATH argv[0] is looked up on (the host's)
  child_limits limits;
  bool namespaces = true;         // no meaning here
  std::chrono::milliseconds time_limit{10000};
  std::chrono::milliseconds kill_wait{2000};
  std::chrono::milliseconds poll_interval{5};  // unused: the wait is on the process handle
  std::size_t tail_bytes = 4096;
};

enum : unsigned {
  isolation_job = 1u << 0,          // a job object, kill on close
  isolation_handles = 1u << 1,      // only the standard handles are inherited
  isolation_env = 1u << 2,          // only the listed environment
  isolation_app_name = 1u << 3,     // an explicit application name
  isolation_job_memory = 1u << 4,   // the job's memory limit
  isolation_job_processes = 1u << 5,
  isolation_job_time = 1u << 6,
  isolation_no_error_box = 1u << 7,  // crashes end at once with their exception code
};

inline std::string isolation_names(unsigned bits) {
  static const char* const names[] = {"job",       "handles",      "env",        "app_name",
                                      "job_memory", "job_processes", "job_time", "no_error_box"};
  std::string out;
  for (unsigned i = 0; i < sizeof names / sizeof names[0]; ++i) {
    if ((bits & (1u << i)) == 0) continue;
    if (!out.empty()) out += ',';
    out += names[i];
  }
  return out;
}

struct child_status {
  child_outcome outcome = child_outcome::exited;
  int code = 0;  // exit code, or the exception's NTSTATUS (as int)
  int start_errno = 0;  // GetLastError() when not_started
  const char* start_step = "";
  std::string output_tail;
  unsigned isolation = 0;
  std::uint64_t max_rss_bytes = 0;  // the job's peak committed memory
  std::chrono::microseconds cpu_time{0};
  std::size_t peak_group_processes = 0;
  std::size_t left_behind = 0;  // processes of the job still running when the probe ended
  bool memory_limit_hit = false;
  bool processes_limit_hit = false;
  bool cpu_limit_hit = false;
  std::chrono::nanoseconds elapsed{0};
};

inline std::string system_error_text(int e) {
  char buf[512];
  const DWORD n = ::FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                                   static_cast<DWORD>(e), 0, buf, sizeof buf, nullptr);
  std::string s(buf, n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '.'))
    s.pop_back();
  if (s.empty()) s = "error " + std::to_string(static_cast<unsigned long>(e));
  return s;
}

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

inline result<std::string> narrow_utf8(const std::wstring& w) {
  if (w.empty()) return std::string();
  if (w.size() > 0x3fffffffu) return errc::invalid_argument;
  const int n = ::WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w.data(), static_cast<int>(w.size()),
                                      nullptr, 0, nullptr, nullptr);
  if (n <= 0) return errc::invalid_argument;
  std::string out(static_cast<std::size_t>(n), '\0');
  ::WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, w.data(), static_cast<int>(w.size()), &out[0], n,
                        nullptr, nullptr);
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

// Whether an exit code is the status of an exception that ended the
// process (a crash), as opposed to a value the program chose: the known
// exception codes only, never merely any code with its top bits set.
constexpr bool is_exception_exit_code(std::uint32_t code) noexcept {
  switch (code) {
    case 0x80000001u:  // STATUS_GUARD_PAGE_VIOLATION
    case 0x80000002u:  // STATUS_DATATYPE_MISALIGNMENT
    case 0x80000003u:  // STATUS_BREAKPOINT
    case 0x80000004u:  // STATUS_SINGLE_STEP
    case 0xC0000005u:  // STATUS_ACCESS_VIOLATION
    case 0xC0000006u:  // STATUS_IN_PAGE_ERROR
    case 0xC0000008u:  // STATUS_INVALID_HANDLE
    case 0xC000001Du:  // STATUS_ILLEGAL_INSTRUCTION
    case 0xC0000025u:  // STATUS_NONCONTINUABLE_EXCEPTION
    case 0xC0000026u:  // STATUS_INVALID_DISPOSITION
    case 0xC000008Cu:  // STATUS_ARRAY_BOUNDS_EXCEEDED
    case 0xC000008Du:  // STATUS_FLOAT_DENORMAL_OPERAND
    case 0xC000008Eu:  // STATUS_FLOAT_DIVIDE_BY_ZERO
    case 0xC000008Fu:  // STATUS_FLOAT_INEXACT_RESULT
    case 0xC0000090u:  // STATUS_FLOAT_INVALID_OPERATION
    case 0xC0000091u:  // STATUS_FLOAT_OVERFLOW
    case 0xC0000092u:  // STATUS_FLOAT_STACK_CHECK
    case 0xC0000093u:  // STATUS_FLOAT_UNDERFLOW
    case 0xC0000094u:  // STATUS_INTEGER_DIVIDE_BY_ZERO
    case 0xC0000095u:  // STATUS_INTEGER_OVERFLOW
    case 0xC0000096u:  // STATUS_PRIVILEGED_INSTRUCTION
    case 0xC00000FDu:  // STATUS_STACK_OVERFLOW
    case 0xC00002B4u:  // STATUS_FLOAT_MULTIPLE_FAULTS
    case 0xC00002B5u:  // STATUS_FLOAT_MULTIPLE_TRAPS
    case 0xC0000374u:  // STATUS_HEAP_CORRUPTION
    case 0xC0000409u:  // STATUS_STACK_BUFFER_OVERRUN (__fastfail)
    case 0xC0000417u:  // STATUS_INVALID_CRUNTIME_PARAMETER
    case 0xC0000420u:  // STATUS_ASSERTION_FAILURE
    case 0xE06D7363u:  // an unhandled C++ exception (MSVC)
      return true;
    default:
      return false;
  }
}

// Whether an exit code says the program could not be loaded at all.
constexpr bool is_loader_failure(std::uint32_t code) noexcept {
  return code == 0xC0000135u     // STATUS_DLL_NOT_FOUND
         || code == 0xC0000138u  // STATUS_ORDINAL_NOT_FOUND
         || code == 0xC0000139u  // STATUS_ENTRYPOINT_NOT_FOUND
         || code == 0xC0000142u  // STATUS_DLL_INIT_FAILED
         || code == 0xC000007Bu; // STATUS_INVALID_IMAGE_FORMAT
}

namespace win32_child {

inline bool ends_with_ci(const std::wstring& s, const wchar_t* suffix) {
  const std::size_t n = std::wcslen(suffix);
  if (s.size() < n) return false;
  for (std::size_t i = 0; i < n; ++i) {
    wchar_t a = s[s.size() - n + i];
    if (a >= L'A' && a <= L'Z') a = static_cast<wchar_t>(a - L'A' + L'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

// The application's full path: argv[0] as a path when it names a folder,
// else looked up on `path` only (never the current folder), as name or
// name.exe. Empty when not found.
inline std::wstring resolve(const std::wstring& name, const std::wstring& path) {
  std::vector<wchar_t> buf(32768);
  if (name.find_first_of(L"\\/:") != std::wstring::npos) {
    const DWORD n = ::GetFullPathNameW(name.c_str(), static_cast<DWORD>(buf.size()), buf.data(), nullptr);
    if (n == 0 || n >= buf.size()) return std::wstring();
    return std::wstring(buf.data(), n);
  }
  if (path.empty()) return std::wstring();
  const DWORD n = ::SearchPathW(path.c_str(), name.c_str(), L".exe", static_cast<DWORD>(buf.size()),
                                buf.data(), nullptr);
  if (n == 0 || n >= buf.size()) return std::wstring();
  return std::wstring(buf.data(), n);
}

struct handle {
  HANDLE h = nullptr;
  handle() = default;
  explicit handle(HANDLE v) : h(v == INVALID_HANDLE_VALUE ? nullptr : v) {}
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  ~handle() { reset(); }
  void reset(HANDLE v = nullptr) {
    if (h) ::CloseHandle(h);
    h = v == INVALID_HANDLE_VALUE ? nullptr : v;
  }
  explicit operator bool() const { return h != nullptr; }
};

// The output pipe's reader, on its own thread: keeps the last bytes.
struct reader {
  HANDLE pipe = nullptr;
  std::size_t cap = 4096;
  std::string data;
  static DWORD WINAPI run(void* arg) {
    auto* self = static_cast<reader*>(arg);
    char buf[16384];
    for (;;) {
      DWORD got = 0;
      if (!::ReadFile(self->pipe, buf, sizeof buf, &got, nullptr) || got == 0) break;
      if (self->cap == 0) continue;
      self->data.append(buf, got);
      if (self->data.size() > 2 * self->cap + 65536)
        self->data.erase(0, self->data.size() - self->cap);
    }
    return 0;
  }
};

}  // namespace win32_child

inline result<child_status> run_child(const child_spec& spec) {
  namespace wc = win32_child;
  if (spec.argv.empty() || spec.argv[0].empty()) return errc::invalid_argument;
  const auto started = std::chrono::steady_clock::now();
  child_status out;
  auto not_started = [&](const char* step, DWORD e) {
    out.outcome = child_outcome::not_started;
    out.start_step = step;
    out.start_errno = static_cast<int>(e);
    out.elapsed = std::chrono::steady_clock::now() - started;
    return out;
  };

  std::wstring cmd;
  std::vector<std::wstring> wargs;
  for (const auto& a : spec.argv) {
    auto w = widen_utf8(a);
    if (!w) return w.error();
    append_quoted_arg(cmd, *w);
    wargs.push_back(std::move(*w));
  }
  auto wpath = widen_utf8(spec.search_path);
  if (!wpath) return wpath.error();
  const std::wstring app = wc::resolve(wargs[0], *wpath);
  if (app.empty()) return not_started("look up the program", ERROR_FILE_NOT_FOUND);
  // cmd.exe runs batch files and parses their arguments by its own rules,
  // which no quoting makes safe for arbitrary arguments.
  if (wc::ends_with_ci(app, L".bat") || wc::ends_with_ci(app, L".cmd"))
    return not_started("batch files are refused as probes", ERROR_BAD_EXE_FORMAT);
  unsigned isolation = isolation_app_name | isolation_env;

  // The environment block: exactly what is listed, plus SystemRoot.
  std::wstring envblock;
  bool has_root = false;
  for (const auto& e : spec.env) {
    auto w = widen_utf8(e);
    if (!w) return w.error();
    if (_wcsnicmp(w->c_str(), L"SystemRoot=", 11) == 0) has_root = true;
    envblock += *w;
    envblock.push_back(L'\0');
  }
  if (!has_root) {
    wchar_t root[MAX_PATH + 1];
    const DWORD n = ::GetEnvironmentVariableW(L"SystemRoot", root, MAX_PATH + 1);
    if (n > 0 && n <= MAX_PATH) {
      envblock += L"SystemRoot=";
      envblock.append(root, n);
      envblock.push_back(L'\0');
    }
  }
  if (envblock.empty()) envblock.push_back(L'\0');
  envblock.push_back(L'\0');

  // The job.
  wc::handle job(::CreateJobObjectW(nullptr, nullptr));
  if (!job) return not_started("create a job object", ::GetLastError());
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION lim;
  ::ZeroMemory(&lim, sizeof lim);
  lim.BasicLimitInformation.LimitFlags =
      JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  isolation |= isolation_job | isolation_no_error_box;
  if (spec.limits.address_space != 0) {
    lim.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_MEMORY;
    lim.JobMemoryLimit = static_cast<SIZE_T>(
        std::min<std::uint64_t>(spec.limits.address_space, static_cast<SIZE_T>(-1)));
    isolation |= isolation_job_memory;
  }
  if (spec.limits.processes != 0) {
    lim.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_ACTIVE_PROCESS;
    lim.BasicLimitInformation.ActiveProcessLimit =
        static_cast<DWORD>(std::min<std::uint64_t>(spec.limits.processes, 0xffffffffu));
    isolation |= isolation_job_processes;
  }
  if (spec.limits.cpu_seconds != 0) {
    lim.BasicLimitInformation.LimitFlags |= JOB_OBJECT_LIMIT_JOB_TIME;
    lim.BasicLimitInformation.PerJobUserTimeLimit.QuadPart =
        static_cast<LONGLONG>(std::min<std::uint64_t>(spec.limits.cpu_seconds, 1ull << 32) * 10000000ull);
    isolation |= isolation_job_time;
  }
  if (!::SetInformationJobObject(job.h, JobObjectExtendedLimitInformation, &lim, sizeof lim))
    return not_started("set the job's limits", ::GetLastError());
  // Limits reached are reported through a completion port.
  wc::handle port(::CreateIoCompletionPort(INVALID_HANDLE_VALUE, nullptr, 0, 1));
  if (port) {
    JOBOBJECT_ASSOCIATE_COMPLETION_PORT acp;
    acp.CompletionKey = job.h;
    acp.CompletionPort = port.h;
    if (!::SetInformationJobObject(job.h, JobObjectAssociateCompletionPortInformation, &acp, sizeof acp))
      port.reset();
  }

  // Standard handles: NUL in, one pipe out; nothing else inherited.
  SECURITY_ATTRIBUTES sa;
  sa.nLength = sizeof sa;
  sa.lpSecurityDescriptor = nullptr;
  sa.bInheritHandle = TRUE;
  wc::handle nul(::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &sa,
                               OPEN_EXISTING, 0, nullptr));
  if (!nul) return not_started("open NUL", ::GetLastError());
  HANDLE rd = nullptr, wr = nullptr;
  if (!::CreatePipe(&rd, &wr, &sa, 0)) return not_started("create a pipe", ::GetLastError());
  wc::handle out_r(rd), out_w(wr);
  ::SetHandleInformation(out_r.h, HANDLE_FLAG_INHERIT, 0);

  SIZE_T attr_size = 0;
  ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attr_size);
  std::vector<unsigned char> attr_buf(attr_size);
  auto* attrs = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attr_buf.data());
  if (!::InitializeProcThreadAttributeList(attrs, 1, 0, &attr_size))
    return not_started("prepare the handle list", ::GetLastError());
  HANDLE inherit[2] = {nul.h, out_w.h};
  if (!::UpdateProcThreadAttribute(attrs, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherit, sizeof inherit,
                                   nullptr, nullptr)) {
    const DWORD e = ::GetLastError();
    ::DeleteProcThreadAttributeList(attrs);
    return not_started("prepare the handle list", e);
  }
  isolation |= isolation_handles;
  STARTUPINFOEXW si;
  ::ZeroMemory(&si, sizeof si);
  si.StartupInfo.cb = sizeof si;
  si.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
  si.StartupInfo.hStdInput = nul.h;
  si.StartupInfo.hStdOutput = out_w.h;
  si.StartupInfo.hStdError = out_w.h;
  si.lpAttributeList = attrs;
  PROCESS_INFORMATION pi;
  ::ZeroMemory(&pi, sizeof pi);
  std::vector<wchar_t> cmdbuf(cmd.begin(), cmd.end());
  cmdbuf.push_back(L'\0');
  const BOOL created = ::CreateProcessW(
      app.c_str(), cmdbuf.data(), nullptr, nullptr, TRUE,
      CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT | EXTENDED_STARTUPINFO_PRESENT,
      &envblock[0], nullptr, &si.StartupInfo, &pi);
  const DWORD create_error = ::GetLastError();
  ::DeleteProcThreadAttributeList(attrs);
  out_w.reset();
  nul.reset();
  if (!created) return not_started("CreateProcess", create_error);
  wc::handle process(pi.hProcess), thread(pi.hThread);
  // In the job before it runs a single instruction.
  if (!::AssignProcessToJobObject(job.h, process.h)) {
    const DWORD e = ::GetLastError();
    ::TerminateProcess(process.h, 1);
    ::WaitForSingleObject(process.h, 5000);
    return not_started("put the probe in its job", e);
  }

  wc::reader rdr;
  rdr.pipe = out_r.h;
  rdr.cap = spec.tail_bytes;
  wc::handle reader_thread(::CreateThread(nullptr, 0, &wc::reader::run, &rdr, 0, nullptr));
  if (::ResumeThread(thread.h) == static_cast<DWORD>(-1)) {
    const DWORD e = ::GetLastError();
    ::TerminateJobObject(job.h, 1);
    if (reader_thread) ::WaitForSingleObject(reader_thread.h, INFINITE);
    return not_started("resume the probe", e);
  }
  thread.reset();

  const auto ms = spec.time_limit.count() < 0 ? 0 : spec.time_limit.count();
  const DWORD wait_ms = ms >= static_cast<long long>(INFINITE) ? INFINITE - 1 : static_cast<DWORD>(ms);
  DWORD w = ::WaitForSingleObject(process.h, wait_ms);
  bool timed_out = false;
  if (w == WAIT_TIMEOUT) {
    // Ended right at the limit? Then it is judged on its exit.
    w = ::WaitForSingleObject(process.h, 0);
    timed_out = w == WAIT_TIMEOUT;
  }
  // What is left of the job, then the job's end: every process in it.
  JOBOBJECT_BASIC_AND_IO_ACCOUNTING_INFORMATION acct;
  ::ZeroMemory(&acct, sizeof acct);
  if (::QueryInformationJobObject(job.h, JobObjectBasicAndIoAccountingInformation, &acct, sizeof acct,
                                  nullptr)) {
    const DWORD active = acct.BasicInfo.ActiveProcesses;
    out.left_behind = timed_out ? 0 : active;
    out.peak_group_processes = active;
  }
  ::TerminateJobObject(job.h, static_cast<UINT>(ERROR_TIMEOUT));
  const auto kill_ms = spec.kill_wait.count() < 0 ? 0 : spec.kill_wait.count();
  ::WaitForSingleObject(process.h, static_cast<DWORD>(std::min<long long>(kill_ms, INFINITE - 1)));
  DWORD code = 0;
  const BOOL got = ::GetExitCodeProcess(process.h, &code);

  // Limits reached, and the job's totals.
  if (port) {
    DWORD msg = 0;
    ULONG_PTR key = 0;
    LPOVERLAPPED ov = nullptr;
    while (::GetQueuedCompletionStatus(port.h, &msg, &key, &ov, 0)) {
      if (key != reinterpret_cast<ULONG_PTR>(job.h)) continue;
      if (msg == JOB_OBJECT_MSG_JOB_MEMORY_LIMIT || msg == JOB_OBJECT_MSG_PROCESS_MEMORY_LIMIT)
        out.memory_limit_hit = true;
      if (msg == JOB_OBJECT_MSG_ACTIVE_PROCESS_LIMIT) out.processes_limit_hit = true;
      if (msg == JOB_OBJECT_MSG_END_OF_JOB_TIME) out.cpu_limit_hit = true;
    }
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION used;
  ::ZeroMemory(&used, sizeof used);
  if (::QueryInformationJobObject(job.h, JobObjectExtendedLimitInformation, &used, sizeof used, nullptr))
    out.max_rss_bytes = used.PeakJobMemoryUsed;
  if (::QueryInformationJobObject(job.h, JobObjectBasicAndIoAccountingInformation, &acct, sizeof acct,
                                  nullptr)) {
    const auto t = acct.BasicInfo.TotalUserTime.QuadPart + acct.BasicInfo.TotalKernelTime.QuadPart;
    out.cpu_time = std::chrono::microseconds(t / 10);
  }
  // Closing the job kills anything still in it (kill on close).
  job.reset();
  if (reader_thread) {
    if (::WaitForSingleObject(reader_thread.h, static_cast<DWORD>(std::min<long long>(kill_ms, INFINITE - 1))) ==
        WAIT_TIMEOUT) {
      ::CancelSynchronousIo(reader_thread.h);
      ::WaitForSingleObject(reader_thread.h, INFINITE);
    }
  }
  out_r.reset();
  out.output_tail = std::move(rdr.data);
  if (out.output_tail.size() > rdr.cap) out.output_tail.erase(0, out.output_tail.size() - rdr.cap);
  out.isolation = isolation;
  out.elapsed = std::chrono::steady_clock::now() - started;

  if (timed_out) {
    out.outcome = child_outcome::timed_out;
    return out;
  }
  if (w != WAIT_OBJECT_0 || !got || code == STILL_ACTIVE) {
    out.outcome = child_outcome::lost;
    return out;
  }
  if (is_loader_failure(code)) {
    out.outcome = child_outcome::not_started;
    out.start_step = "load the program";
    out.start_errno = static_cast<int>(code);
    return out;
  }
  if (is_exception_exit_code(code)) {
    out.outcome = child_outcome::signaled;
    out.code = static_cast<int>(code);
    return out;
  }
  out.outcome = child_outcome::exited;
  out.code = static_cast<int>(code);
  return out;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_OS_WINDOWS

#endif  // SLOTGUARD_DETAIL_PROCESS_WIN32_HPP
