// SPDX-License-Identifier: Apache-2.0
// The bodies of what slotguard/probe.hpp declares: running an isolated
// probe (the POSIX and Win32 process code, detail/process_posix.hpp and
// detail/process_win32.hpp, is included here only), judging how it ended,
// the probe class and probe workspaces. Included by slotguard/probe.hpp
// only.
#ifndef SLOTGUARD_DETAIL_PROBE_IMPL_HPP
#define SLOTGUARD_DETAIL_PROBE_IMPL_HPP

#include <slotguard/config.hpp>

#include <slotguard/probe.hpp>
#include <slotguard/detail/posix_lfs.hpp>

#if SLOTGUARD_OS_WINDOWS
#include <slotguard/detail/process_win32.hpp>
#else
#include <slotguard/detail/process_posix.hpp>
#endif

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if !SLOTGUARD_OS_WINDOWS
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

SLOTGUARD_DECL std::string probe_report::summary() const {
  switch (how) {
    case ending::accepted:
      return code == errc::ok ? "accepted" : std::string("rejected: ") + to_string(code);
    case ending::exited:
      return "exited " + std::to_string(exit_code);
    case ending::signaled:
#if SLOTGUARD_OS_WINDOWS
    {
      char buf[32];
      std::snprintf(buf, sizeof buf, "0x%08X", static_cast<unsigned>(signal));
      return std::string("ended by exception ") + buf;
    }
#else
      return "killed by signal " + std::to_string(signal);
#endif
    case ending::timed_out:
      return "timed out after " + std::to_string(elapsed.count()) + " ms";
    case ending::limit:
      return "exceeded its " + limit + " limit";
    case ending::not_started:
      return "could not start: " + start_error;
    case ending::lost:
      return "its end is unknown (reaped elsewhere)";
  }
  return "unknown";
}

namespace detail {

// The host's value of an environment variable (the system's, on Windows,
// where the C runtime's copy can lag behind it); false when unset.
inline bool host_env(const std::string& name, std::string& value) {
#if SLOTGUARD_OS_WINDOWS
  auto w = widen_utf8(name);
  if (!w || w->empty()) return false;
  std::vector<wchar_t> buf(256);
  for (;;) {
    ::SetLastError(ERROR_SUCCESS);
    const DWORD n = ::GetEnvironmentVariableW(w->c_str(), buf.data(), static_cast<DWORD>(buf.size()));
    if (n == 0) {
      if (::GetLastError() == ERROR_ENVVAR_NOT_FOUND) return false;
      value.clear();
      return true;
    }
    if (n < buf.size()) {
      auto s = narrow_utf8(std::wstring(buf.data(), n));
      if (!s) return false;
      value = std::move(*s);
      return true;
    }
    buf.resize(n);
  }
#else
  const char* v = std::getenv(name.c_str());
  if (!v) return false;
  value = v;
  return true;
#endif
}

// Makes a report from a child's end.
inline probe_report judge_child(const child_status& st, const probe_options& o,
                                std::uint64_t cpu_limit_s) {
  probe_report r;
  r.output_tail = st.output_tail;
  r.isolation = isolation_names(st.isolation);
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(st.elapsed);
  r.max_rss_bytes = st.max_rss_bytes;
  r.peak_processes = st.peak_group_processes;
  r.left_behind = st.left_behind;
  auto limit = [&](const char* which) {
    r.how = probe_report::ending::limit;
    r.limit = which;
    r.code = errc::probe_limit_exceeded;
    return r;
  };
  const bool cpu_spent =
      st.cpu_limit_hit ||
      (cpu_limit_s != 0 &&
      st.cpu_time >= std::chrono::seconds(static_cast<std::chrono::seconds::rep>(cpu_limit_s)));
  // Allocation failure cannot be seen from outside: a probe that failed
  // with a resident set of at least half its address-space limit is taken
  // to have run out of it.
  const bool memory_spent = o.limits.memory != 0 && st.max_rss_bytes >= o.limits.memory / 2;
  // The processes limit reached: watched from outside (sampled), or as
  // many processes as the limit allows left running when the probe ended
  // (a fork bomb's children outlive the shell that started them).
  const bool processes_spent =
      st.processes_limit_hit ||
      (o.limits.processes != 0 && st.left_behind + 2 >= o.limits.processes);
  switch (st.outcome) {
    case child_outcome::not_started:
      r.how = probe_report::ending::not_started;
      r.code = errc::probe_start_failed;
      r.start_error = std::string(st.start_step) + ": " + system_error_text(st.start_errno);
      return r;
    case child_outcome::lost:
      r.how = probe_report::ending::lost;
      r.code = errc::io_error;
      return r;
    case child_outcome::timed_out:
      r.how = probe_report::ending::timed_out;
      if (st.memory_limit_hit) return limit("memory");
      if (processes_spent) return limit("processes");
      if (st.cpu_limit_hit) return limit("cpu");
      r.code = errc::probe_timeout;
      return r;
    case child_outcome::exited:
      r.how = probe_report::ending::exited;
      r.exit_code = st.code;
      if (processes_spent) return limit("processes");
      if (st.code == 0) {
        r.code = errc::ok;
        return r;
      }
      if (st.memory_limit_hit) return limit("memory");
      // 126 and 127 are what a shell returns when the command it was to run
      // cannot be run or was not found: not a verdict.
      if (st.code == 126 || st.code == 127) {
        r.how = probe_report::ending::not_started;
        r.code = errc::probe_start_failed;
        r.start_error = "the probe exited " + std::to_string(st.code) +
                        " (a shell's code for a command it could not run)";
        return r;
      }
      if (st.cpu_limit_hit) return limit("cpu");
#if !SLOTGUARD_OS_WINDOWS
      // A shell reports a command a signal ended as 128 + the signal.
      if (st.code == 128 + SIGXCPU) return limit("cpu");
      if (st.code == 128 + SIGXFSZ) return limit("file_size");
#else
      // The job's time limit ends its processes without a message.
      if (cpu_spent) return limit("cpu");
#endif
      if (memory_spent) return limit("memory");
      r.code = errc::probe_failed;
      return r;
    case child_outcome::signaled:
      r.how = probe_report::ending::signaled;
      r.signal = st.code;
      if (st.memory_limit_hit) return limit("memory");
      if (st.cpu_limit_hit) return limit("cpu");
#if !SLOTGUARD_OS_WINDOWS
      if (st.code == SIGXCPU) return limit("cpu");
      if (st.code == SIGXFSZ) return limit("file_size");
      // SIGKILL that we did not send: the kernel's, at RLIMIT_CPU's hard
      // limit or out of memory.
      if (st.code == SIGKILL && memory_spent) return limit("memory");
      if (st.code == SIGKILL && cpu_spent) return limit("cpu");
#else
      (void)cpu_spent;
#endif
      if (processes_spent) return limit("processes");
      if (memory_spent) return limit("memory");
      r.code = errc::probe_crashed;
      return r;
  }
  r.code = errc::internal;
  return r;
}

}  // namespace detail

SLOTGUARD_DECL probe_report run_isolated_probe_report(const std::vector<std::string>& command,
                                                      const std::string& candidate_path,
                                                      const probe_options& options) {
  probe_report bad;
  if (command.empty() || command[0].empty() || candidate_path.empty()) {
    bad.how = probe_report::ending::not_started;
    bad.code = errc::invalid_argument;
    bad.start_error = "an empty command or candidate path";
    return bad;
  }
  detail::child_spec spec;
  bool placed = false;
  spec.argv.reserve(command.size() + 1);
  for (const auto& a : command) {
    if (a == "{}" && &a != &command[0]) {
      spec.argv.push_back(candidate_path);
      placed = true;
    } else {
      spec.argv.push_back(a);
    }
  }
  if (!placed) spec.argv.push_back(candidate_path);
  for (const auto& name : options.pass_env) {
    if (name.empty() || name.find('=') != std::string::npos) continue;
    std::string v;
    if (detail::host_env(name, v)) spec.env.push_back(name + "=" + v);
  }
  for (const auto& kv : options.set_env) {
    if (kv.first.empty() || kv.first.find('=') != std::string::npos) continue;
    spec.env.push_back(kv.first + "=" + kv.second);
  }
  (void)detail::host_env("PATH", spec.search_path);
  const auto ms = options.time_limit.count() < 0 ? 0 : options.time_limit.count();
  const unsigned cpus = std::thread::hardware_concurrency();
  const std::uint64_t cpu = options.limits.cpu_seconds != 0
                                ? options.limits.cpu_seconds
                                : (static_cast<std::uint64_t>(ms + 999) / 1000 + 1) * (cpus ? cpus : 1);
  spec.limits.address_space = options.limits.memory;
  spec.limits.cpu_seconds = cpu;
  spec.limits.file_size = options.limits.file_size;
  spec.limits.open_files = options.limits.open_files;
  spec.limits.processes = options.limits.processes;
  spec.namespaces = options.namespaces;
  spec.time_limit = std::chrono::milliseconds(ms);
  spec.kill_wait = options.kill_wait;
  spec.poll_interval =
      options.poll_interval.count() <= 0 ? std::chrono::milliseconds(1) : options.poll_interval;
  spec.tail_bytes = options.output_tail_bytes;
  auto st = detail::run_child(spec);
  if (!st) {
    bad.how = probe_report::ending::not_started;
    bad.code = st.error() == errc::invalid_argument ? errc::invalid_argument
                                                     : errc::probe_start_failed;
    bad.start_error = to_string(st.error());
    return bad;
  }
  return detail::judge_child(*st, options, cpu);
}

SLOTGUARD_DECL result<void> run_isolated_probe(const std::vector<std::string>& command,
                                               const std::string& candidate_path,
                                               const probe_options& options) {
  const probe_report r = run_isolated_probe_report(command, candidate_path, options);
  if (r.code == errc::ok) return ok();
  return r.code;
}

SLOTGUARD_DECL result<void> run_isolated_probe(const std::vector<std::string>& command,
                                               const std::string& candidate_path,
                                               std::chrono::milliseconds time_limit,
                                               std::chrono::milliseconds poll_interval) {
  probe_options o;
  o.time_limit = time_limit;
  o.poll_interval = poll_interval;
  return run_isolated_probe(command, candidate_path, o);
}

SLOTGUARD_DECL probe probe::in_process(probe_fn fn) {
  probe p;
  p.kind_ = kind::in_process;
  p.fn_ = std::move(fn);
  return p;
}

SLOTGUARD_DECL probe probe::isolated(std::vector<std::string> command, std::chrono::milliseconds time_limit,
                                     std::chrono::milliseconds poll_interval) {
  probe_options o;
  o.time_limit = time_limit;
  o.poll_interval = poll_interval;
  return isolated(std::move(command), std::move(o));
}

SLOTGUARD_DECL probe probe::isolated(std::vector<std::string> command, probe_options options) {
  probe p;
  p.kind_ = kind::isolated;
  p.command_ = std::move(command);
  p.options_ = std::move(options);
  return p;
}

SLOTGUARD_DECL probe_report probe::run_with_report(const probe_input& in) const {
  probe_report r;
  switch (kind_) {
    case kind::none:
      return r;
    case kind::in_process: {
      if (!fn_) return r;
      const auto t0 = std::chrono::steady_clock::now();
      auto v = fn_(in);
      r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - t0);
      if (!v) r.code = errc::probe_failed;
      r.isolation = "in_process";
      return r;
    }
    case kind::isolated:
      return run_isolated_probe_report(command_, in.path, options_);
  }
  r.code = errc::internal;
  return r;
}

SLOTGUARD_DECL result<void> probe::run(const probe_input& in) const {
  const probe_report r = run_with_report(in);
  if (r.code == errc::ok) return ok();
  return r.code;
}

SLOTGUARD_DECL probe_workspace::probe_workspace(probe_workspace&& o) noexcept
    : dir_(std::move(o.dir_)), file_(std::move(o.file_)) {
  o.dir_.clear();
  o.file_.clear();
}

SLOTGUARD_DECL probe_workspace& probe_workspace::operator=(probe_workspace&& o) noexcept {
  if (this != &o) {
    remove();
    dir_ = std::move(o.dir_);
    file_ = std::move(o.file_);
    o.dir_.clear();
    o.file_.clear();
  }
  return *this;
}

namespace detail {

inline std::string probe_temp_dir() {
#if SLOTGUARD_OS_WINDOWS
  wchar_t buf[MAX_PATH + 2];
  const DWORD n = ::GetTempPathW(MAX_PATH + 1, buf);
  if (n == 0 || n > MAX_PATH + 1) return std::string();
  auto s = narrow_utf8(std::wstring(buf, n));
  if (!s) return std::string();
  while (s->size() > 3 && (s->back() == '\\' || s->back() == '/')) s->pop_back();
  return *s;
#else
  const char* t = std::getenv("TMPDIR");
  if (t && t[0] == '/') return t;
  return "/tmp";
#endif
}

#if SLOTGUARD_OS_WINDOWS
// Removes what is in directory `dir` (a link or junction in it is removed
// itself, never followed), then nothing else; depth-bounded.
inline void remove_tree_in(const std::wstring& dir, int depth) noexcept {
  if (depth > 16) return;
  WIN32_FIND_DATAW fd;
  const std::wstring pattern = dir + L"\\*";
  HANDLE h = ::FindFirstFileW(pattern.c_str(), &fd);
  if (h == INVALID_HANDLE_VALUE) return;
  do {
    const std::wstring name = fd.cFileName;
    if (name == L"." || name == L"..") continue;
    const std::wstring path = dir + L"\\" + name;
    if ((fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
      if ((fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) == 0) remove_tree_in(path, depth + 1);
      (void)::RemoveDirectoryW(path.c_str());
    } else {
      if ((fd.dwFileAttributes & FILE_ATTRIBUTE_READONLY) != 0)
        (void)::SetFileAttributesW(path.c_str(), FILE_ATTRIBUTE_NORMAL);
      (void)::DeleteFileW(path.c_str());
    }
  } while (::FindNextFileW(h, &fd));
  ::FindClose(h);
}
#else
// Removes what is in directory fd `dir` (not following links), then nothing
// else; depth-bounded.
inline void remove_tree_at(int dir, int depth) noexcept {
  if (depth > 16) return;
  const int fd = ::dup(dir);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  while (const dirent_t* e = sys_readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    stat_buf sb;
    if (sys_fstatat(dir, e->d_name, &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode)) {
      const int sub = ::openat(dir, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        remove_tree_at(sub, depth + 1);
        ::close(sub);
      }
      (void)::unlinkat(dir, e->d_name, AT_REMOVEDIR);
    } else {
      (void)::unlinkat(dir, e->d_name, 0);
    }
  }
  ::closedir(d);
}
#endif

// Whether process `pid` is alive (or might be: when in doubt, yes).
inline bool process_alive(unsigned long pid) noexcept {
#if SLOTGUARD_OS_WINDOWS
  HANDLE h = ::OpenProcess(SYNCHRONIZE, FALSE, static_cast<DWORD>(pid));
  if (!h) return ::GetLastError() != ERROR_INVALID_PARAMETER;
  const DWORD w = ::WaitForSingleObject(h, 0);
  ::CloseHandle(h);
  return w != WAIT_OBJECT_0;
#else
  if (pid == 0 || pid > 0x7fffffffUL) return true;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH;
#endif
}

}  // namespace detail

SLOTGUARD_DECL void probe_workspace::remove() noexcept {
  if (dir_.empty()) return;
#if SLOTGUARD_OS_WINDOWS
  // Whatever the probe left in its directory goes with it.
  auto wd = detail::widen_utf8(dir_);
  if (wd) {
    detail::remove_tree_in(*wd, 0);
    ::RemoveDirectoryW(wd->c_str());
  }
#else
  // Whatever the probe left in its directory goes with it.
  const int d = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d >= 0) {
    detail::remove_tree_at(d, 0);
    ::close(d);
  }
  (void)::rmdir(dir_.c_str());
#endif
  dir_.clear();
  file_.clear();
}

SLOTGUARD_DECL result<probe_workspace> make_probe_workspace(const std::string& parent_dir,
                                                            byte_view payload) {
  const std::string parent = parent_dir.empty() ? detail::probe_temp_dir() : parent_dir;
  if (parent.empty()) return errc::io_error;
  probe_workspace ws;
#if SLOTGUARD_OS_WINDOWS
  auto wparent = detail::widen_utf8(parent);
  if (!wparent) return wparent.error();
  static std::atomic<std::uint32_t> counter{0};
  for (int attempt = 0;; ++attempt) {
    if (attempt == 100) return errc::already_exists;
    LARGE_INTEGER t;
    ::QueryPerformanceCounter(&t);
    char rnd[32];
    std::snprintf(rnd, sizeof rnd, "%08lx%04x",
                  static_cast<unsigned long>(static_cast<std::uint64_t>(t.QuadPart) * 2654435761u),
                  static_cast<unsigned>((counter.fetch_add(1) + 1) & 0xffff));
    const std::string name = std::string(probe_workspace_prefix) +
                             std::to_string(::GetCurrentProcessId()) + "-" + rnd;
    const std::string dir = parent + "\\" + name;
    auto wdir = detail::widen_utf8(dir);
    if (!wdir) return wdir.error();
    if (::CreateDirectoryW(wdir->c_str(), nullptr)) {
      ws.dir_ = dir;
      break;
    }
    const DWORD e = ::GetLastError();
    if (e == ERROR_ALREADY_EXISTS) continue;
    if (e == ERROR_PATH_NOT_FOUND || e == ERROR_FILE_NOT_FOUND) return errc::not_found;
    if (e == ERROR_ACCESS_DENIED) return errc::permission_denied;
    return errc::io_error;
  }
  ws.file_ = ws.dir_ + "\\candidate";
  auto wfile = detail::widen_utf8(ws.file_);
  if (!wfile) return wfile.error();
  HANDLE h = ::CreateFileW(wfile->c_str(), GENERIC_WRITE, FILE_SHARE_READ, nullptr, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) return errc::io_error;
  const std::uint8_t* p = payload.data();
  std::size_t left = payload.size();
  while (left > 0) {
    const DWORD chunk = left > 0x40000000u ? 0x40000000u : static_cast<DWORD>(left);
    DWORD wrote = 0;
    if (!::WriteFile(h, p, chunk, &wrote, nullptr) || wrote == 0) {
      const DWORD e = ::GetLastError();
      ::CloseHandle(h);
      return e == ERROR_DISK_FULL ? errc::no_space : errc::io_error;
    }
    p += wrote;
    left -= wrote;
  }
  if (!::CloseHandle(h)) return errc::io_error;
#else
  std::string tmpl = parent;
  if (tmpl.back() != '/') tmpl += '/';
  tmpl += probe_workspace_prefix;
  tmpl += std::to_string(static_cast<unsigned long>(::getpid()));
  tmpl += "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) {
    if (errno == ENOENT || errno == ENOTDIR) return errc::not_found;
    if (errno == EACCES || errno == EPERM || errno == EROFS) return errc::permission_denied;
    if (errno == ENOSPC || errno == EDQUOT) return errc::no_space;
    return errc::io_error;
  }
  ws.dir_ = buf.data();
  // mkdtemp's 0700 is narrowed by the umask, never widened: make it exact.
  if (::chmod(ws.dir_.c_str(), 0700) != 0) return errc::io_error;
  ws.file_ = ws.dir_ + "/candidate";
  const int fd = ::open(ws.file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return errno == ENOSPC ? errc::no_space : errc::io_error;
  const std::uint8_t* p = payload.data();
  std::size_t left = payload.size();
  while (left > 0) {
    const ssize_t w = ::write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const int e = errno;
      ::close(fd);
      return e == ENOSPC || e == EDQUOT ? errc::no_space : errc::io_error;
    }
    p += w;
    left -= static_cast<std::size_t>(w);
  }
  if (::fchmod(fd, 0600) != 0 || ::close(fd) != 0) return errc::io_error;
#endif
  return ws;
}

SLOTGUARD_DECL probe_report probe::run_with_workspace(probe_input in, const std::string& parent_dir) const {
  if (!needs_file()) return run_with_report(in);
  auto ws = make_probe_workspace(parent_dir, in.content);
  if (!ws) {
    probe_report r;
    r.how = probe_report::ending::not_started;
    r.code = ws.error();
    r.start_error = std::string("the candidate's file: ") + describe(ws.error());
    return r;
  }
  in.path = ws->file();
  return run_with_report(in);  // the workspace goes when ws does
}

SLOTGUARD_DECL std::size_t remove_stale_probe_workspaces(const std::string& parent_dir) {
  const std::string parent = parent_dir.empty() ? detail::probe_temp_dir() : parent_dir;
  if (parent.empty()) return 0;
  const std::string prefix = probe_workspace_prefix;
  std::size_t removed = 0;
  auto stale_pid = [&](const std::string& name, unsigned long& pid) {
    if (name.compare(0, prefix.size(), prefix) != 0) return false;
    const char* s = name.c_str() + prefix.size();
    char* end = nullptr;
    pid = std::strtoul(s, &end, 10);
    if (end == s || *end != '-') return false;
    return !detail::process_alive(pid);
  };
#if SLOTGUARD_OS_WINDOWS
  auto wpat = detail::widen_utf8(parent + "\\" + prefix + "*");
  if (!wpat) return 0;
  WIN32_FIND_DATAW fd;
  HANDLE h = ::FindFirstFileW(wpat->c_str(), &fd);
  if (h == INVALID_HANDLE_VALUE) return 0;
  do {
    if (!(fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) ||
        (fd.dwFileAttributes & FILE_ATTRIBUTE_REPARSE_POINT))
      continue;
    auto name = detail::narrow_utf8(fd.cFileName);
    unsigned long pid = 0;
    if (!name || !stale_pid(*name, pid)) continue;
    auto wd = detail::widen_utf8(parent + "\\" + *name);
    if (!wd) continue;
    detail::remove_tree_in(*wd, 0);
    if (::RemoveDirectoryW(wd->c_str())) ++removed;
  } while (::FindNextFileW(h, &fd));
  ::FindClose(h);
#else
  const int pd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (pd < 0) return 0;
  const int pd2 = ::dup(pd);
  DIR* d = pd2 >= 0 ? ::fdopendir(pd2) : nullptr;
  if (!d) {
    if (pd2 >= 0) ::close(pd2);
    ::close(pd);
    return 0;
  }
  std::vector<std::string> names;
  while (const detail::dirent_t* e = detail::sys_readdir(d)) names.emplace_back(e->d_name);
  ::closedir(d);
  for (const auto& name : names) {
    unsigned long pid = 0;
    if (!stale_pid(name, pid)) continue;
    detail::stat_buf sb;
    if (detail::sys_fstatat(pd, name.c_str(), &sb) != 0) continue;
    if (!S_ISDIR(sb.st_mode) || sb.st_uid != ::geteuid()) continue;
    const int sub = ::openat(pd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) continue;
    detail::remove_tree_at(sub, 0);
    ::close(sub);
    if (::unlinkat(pd, name.c_str(), AT_REMOVEDIR) == 0) ++removed;
  }
  ::close(pd);
#endif
  return removed;
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_PROBE_IMPL_HPP
