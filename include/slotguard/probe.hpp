// SPDX-License-Identifier: Apache-2.0
// The probe gate: before a candidate goes on trial, the host's own loader or
// interpreter is exercised on it. Either in process, through a callback, or
// isolated: a command the host names runs as a child process with the path
// of a file holding the candidate (in place of an argument `{}`, or appended
// as its last argument), under a time limit and resource limits, so a
// candidate that crashes, hangs or blows up the interpreter is turned away
// without ever touching the running sensor. The child is a resource with an
// owner: its own process group (POSIX) or job object (Windows), only its
// three standard descriptors and the environment the host lists, and
// nothing it started outlives it. docs/PROBE.md gives the threat model.
//
// Verdicts: exit status 0 accepts; another exit status is probe_failed;
// death by a signal (an unhandled exception on Windows) is probe_crashed;
// running past the time limit is probe_timeout; a resource limit reached is
// probe_limit_exceeded. A probe that could not be started says nothing about
// the candidate: probe_start_failed. probe_report says which of these
// happened and how (exit code, signal, which limit, the output's last bytes,
// which isolation was in force).
#ifndef SLOTGUARD_PROBE_HPP
#define SLOTGUARD_PROBE_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
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
#include <functional>
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

// What a probe looks at: the candidate's content (the bundle's payload) and,
// for isolated probes, the path of a file that holds exactly those bytes.
struct probe_input {
  byte_view content;
  std::string path;
  std::string channel;
  std::uint64_t sequence = 0;
};

// An in-process probe: returns success to accept the candidate. Any error it
// returns rejects the candidate as probe_failed.
using probe_fn = std::function<result<void>(const probe_input&)>;

namespace detail {
// Sanitizers reserve terabytes of address space: a probe built like its
// host would not start under an address-space limit.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif
#else
constexpr bool sanitized_build = false;
#endif
}  // namespace detail

// Resource limits of an isolated probe; 0 leaves a limit as the host has it.
struct probe_limits {
  // Address space (POSIX RLIMIT_AS) or committed memory of the whole job
  // (Windows). 2 GiB; left unset in sanitizer builds (see above).
  std::uint64_t memory = detail::sanitized_build ? 0 : (std::uint64_t{2} << 30);
  // CPU seconds of each process (POSIX RLIMIT_CPU; Windows: user time of
  // the job). 0: the time limit rounded up to whole seconds, plus one, times
  // the number of CPUs (all of a process's threads count): a backstop
  // behind the time limit that a busy multi-threaded interpreter within its
  // time never reaches.
  std::uint64_t cpu_seconds = 0;
  // Largest file it may write (POSIX RLIMIT_FSIZE; not on Windows).
  std::uint64_t file_size = std::uint64_t{256} << 20;
  // Open descriptors per process (POSIX RLIMIT_NOFILE; not on Windows).
  std::uint64_t open_files = 256;
  // Processes at once. POSIX: RLIMIT_NPROC, set only inside a user
  // namespace, where it counts the probe's own processes (outside one it
  // counts all of the account's processes, and root is exempt from it).
  // Windows: the job's active-process limit.
  std::uint64_t processes = 64;
};

// How an isolated probe runs.
struct probe_options {
  std::chrono::milliseconds time_limit{10000};
  // The probe's whole environment: these names take the host's values
  // (where the host has them), then the explicit values are added. Nothing
  // else reaches it. (Windows: SystemRoot always passes, without which
  // programs cannot load parts of the system.)
  std::vector<std::string> pass_env;
  std::vector<std::pair<std::string, std::string>> set_env;
  probe_limits limits;
  // Linux: new user, network, mount and pid namespaces where the kernel
  // allows them (detected at each start; without them the probe still runs,
  // and probe_report::isolation says what was in force).
  bool namespaces = true;
  // How much of the probe's output (stdout and stderr, interleaved) to keep:
  // the last bytes.
  std::size_t output_tail_bytes = 4096;
  // How long to wait for the probe to go after it is killed.
  std::chrono::milliseconds kill_wait{2000};
  // Where the system cannot wait on a process handle (POSIX without pidfd),
  // how often to look.
  std::chrono::milliseconds poll_interval{5};
};

// What happened to a probe, in words and numbers.
struct probe_report {
  enum class ending {
    accepted,     // in process, or no probe: the callback's answer
    exited,       // exited by itself: exit_code
    signaled,     // ended by a signal or an unhandled exception: signal
    timed_out,    // killed at the time limit
    limit,        // a resource limit was reached: limit
    not_started,  // could not be started: start_error
    lost,         // something else reaped it: unknown
  };
  errc code = errc::ok;  // ok, a verdict (is_probe_verdict), or why it could not run
  ending how = ending::accepted;
  int exit_code = -1;
  int signal = 0;           // POSIX signal number, or Windows exception code
  std::string limit;        // "memory", "cpu", "file_size", "processes"
  std::string start_error;  // which step failed, and the system's words
  std::string output_tail;  // the last bytes of the probe's stdout and stderr
  std::string isolation;    // what was in force, e.g. "session,fds,env,...,userns,netns"
  std::chrono::milliseconds elapsed{0};
  std::uint64_t max_rss_bytes = 0;
  std::size_t peak_processes = 0;  // most processes seen at once in its group (sampled)
  std::size_t left_behind = 0;     // its processes still running when it ended (then killed)

  explicit operator bool() const noexcept { return code == errc::ok; }

  // One line: "exited 3", "killed by signal 11", "timed out after 200 ms",
  // "exceeded its memory limit", "could not start: exec: No such file ...".
  std::string summary() const {
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
};

// Whether a probe's error says the candidate is bad (as opposed to the probe
// not being able to run at all).
constexpr bool is_probe_verdict(errc e) noexcept {
  return e == errc::probe_failed || e == errc::probe_crashed || e == errc::probe_timeout ||
         e == errc::probe_limit_exceeded;
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

// Runs command as a child process, with each argument that is exactly "{}"
// replaced by candidate_path (or, when none is, the path appended as its
// last argument), under the options' limits, and says what happened. The
// report's code is ok when the probe exited 0; a verdict (probe_failed,
// probe_crashed, probe_timeout, probe_limit_exceeded); probe_start_failed
// when it could not be started (the candidate's fault is then unknown);
// invalid_argument for an empty command or path; io_error when its end could
// not be known (another part of the host reaped it).
inline probe_report run_isolated_probe_report(const std::vector<std::string>& command,
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

// The same, as a verdict only.
inline result<void> run_isolated_probe(const std::vector<std::string>& command,
                                       const std::string& candidate_path,
                                       const probe_options& options) {
  const probe_report r = run_isolated_probe_report(command, candidate_path, options);
  if (r.code == errc::ok) return ok();
  return r.code;
}

// The same with default options but for the time limit (and, where the
// system cannot wait on a process handle, how often to look).
inline result<void> run_isolated_probe(const std::vector<std::string>& command,
                                       const std::string& candidate_path,
                                       std::chrono::milliseconds time_limit,
                                       std::chrono::milliseconds poll_interval =
                                           std::chrono::milliseconds(5)) {
  probe_options o;
  o.time_limit = time_limit;
  o.poll_interval = poll_interval;
  return run_isolated_probe(command, candidate_path, o);
}

// A probe: none (accepts everything), in process, or isolated.
class probe {
 public:
  enum class kind { none, in_process, isolated };

  probe() = default;

  static probe in_process(probe_fn fn) {
    probe p;
    p.kind_ = kind::in_process;
    p.fn_ = std::move(fn);
    return p;
  }
  // Requires a non-empty command (argv[0] is looked up on the host's PATH
  // on POSIX). Default options but for the time limit.
  static probe isolated(std::vector<std::string> command, std::chrono::milliseconds time_limit,
                        std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5)) {
    probe_options o;
    o.time_limit = time_limit;
    o.poll_interval = poll_interval;
    return isolated(std::move(command), std::move(o));
  }
  static probe isolated(std::vector<std::string> command, probe_options options) {
    probe p;
    p.kind_ = kind::isolated;
    p.command_ = std::move(command);
    p.options_ = std::move(options);
    return p;
  }

  kind type() const noexcept { return kind_; }
  bool empty() const noexcept { return kind_ == kind::none; }
  bool needs_file() const noexcept { return kind_ == kind::isolated; }
  const std::vector<std::string>& command() const noexcept { return command_; }
  const probe_options& options() const noexcept { return options_; }

  // Runs the probe on the candidate and says what happened. An in-process
  // probe's failure is probe_failed; see run_isolated_probe_report for an
  // isolated probe.
  probe_report run_with_report(const probe_input& in) const {
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

  // Runs the probe on in.content. For an isolated probe the content is
  // first written to a fresh workspace under parent_dir (empty: the
  // temporary directory; see make_probe_workspace), in.path names its file,
  // and the workspace is removed when the probe is done. A workspace that
  // cannot be made is the report's code (io_error, no_space, not_found,
  // permission_denied: not a verdict).
  probe_report run_with_workspace(probe_input in, const std::string& parent_dir) const;

  // The verdict only.
  result<void> run(const probe_input& in) const {
    const probe_report r = run_with_report(in);
    if (r.code == errc::ok) return ok();
    return r.code;
  }

 private:
  kind kind_ = kind::none;
  probe_fn fn_;
  std::vector<std::string> command_;
  probe_options options_;
};

// A private place for an isolated probe's candidate file: a directory made
// exclusively (mkdtemp; owner-only), holding one file made exclusively
// without following links (owner read/write), both removed when the
// workspace is destroyed. Move-only.
class probe_workspace {
 public:
  probe_workspace() = default;
  probe_workspace(const probe_workspace&) = delete;
  probe_workspace& operator=(const probe_workspace&) = delete;
  probe_workspace(probe_workspace&& o) noexcept : dir_(std::move(o.dir_)), file_(std::move(o.file_)) {
    o.dir_.clear();
    o.file_.clear();
  }
  probe_workspace& operator=(probe_workspace&& o) noexcept {
    if (this != &o) {
      remove();
      dir_ = std::move(o.dir_);
      file_ = std::move(o.file_);
      o.dir_.clear();
      o.file_.clear();
    }
    return *this;
  }
  ~probe_workspace() { remove(); }

  // The directory and the candidate file in it (UTF-8 on Windows).
  const std::string& dir() const noexcept { return dir_; }
  const std::string& file() const noexcept { return file_; }

  // Removes the file and the directory now (the destructor does it too).
  void remove() noexcept;

 private:
  friend result<probe_workspace> make_probe_workspace(const std::string&, byte_view);
  std::string dir_;
  std::string file_;
};

// Workspace directories are named this, then the host's process id, '-',
// and a random part; the candidate file in one is named "candidate".
constexpr const char* probe_workspace_prefix = "slotguard-probe-";

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

inline void probe_workspace::remove() noexcept {
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

// Makes a workspace under parent_dir (empty: the system's temporary
// directory) holding `payload` in its file. Returns not_found when
// parent_dir does not exist, permission_denied, no_space or io_error when
// the system refuses.
inline result<probe_workspace> make_probe_workspace(const std::string& parent_dir,
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

inline probe_report probe::run_with_workspace(probe_input in, const std::string& parent_dir) const {
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

// Removes workspaces a host that died left in parent_dir (empty: the
// system's temporary directory): directories named probe_workspace_prefix +
// pid + "-..." whose process is gone and (POSIX) that belong to this
// account and are not links. Returns how many it removed.
inline std::size_t remove_stale_probe_workspaces(const std::string& parent_dir) {
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

#endif  // SLOTGUARD_PROBE_HPP
