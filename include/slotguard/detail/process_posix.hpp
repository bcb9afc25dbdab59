// SPDX-License-Identifier: Apache-2.0
// Runs a probe's child process on POSIX systems as a resource with an owner:
// its own session and process group, only the descriptors (stdin from
// /dev/null, stdout and stderr into one pipe the parent reads) and the
// environment it is given, signal mask and dispositions reset, resource
// limits, no_new_privs, and on Linux, where the kernel allows it (detected
// at run time), new user, network, mount and pid namespaces with a fresh
// /proc. It is waited on through a pidfd where the kernel offers one, never
// signalled by a pid that may no longer be ours, killed as a group at its
// time limit and after it ends, and the wait after a kill is bounded.
// Used by probe.hpp; not a public interface.
//
// Between the clone and the exec the child runs only async-signal-safe
// calls (raw system calls, no allocation, no locks): everything it needs
// (argv, envp, the program's path, the id maps' text) is prepared before.
#ifndef SLOTGUARD_DETAIL_PROCESS_POSIX_HPP
#define SLOTGUARD_DETAIL_PROCESS_POSIX_HPP

#include <slotguard/config.hpp>
#include <slotguard/detail/posix_lfs.hpp>
#include <slotguard/error.hpp>

// Compiles to nothing on the other family of systems, so that every header
// builds on its own everywhere.
#if !SLOTGUARD_OS_WINDOWS

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#endif

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {
namespace detail {

// How a child ended.
//   exited      it exited by itself (code: the exit status)
//   signaled    a signal ended it that the parent did not send (code: the signal)
//   timed_out   it ran past its limit and was killed
//   not_started it could not be started (start_errno, start_step say why)
//   lost        something else reaped it first: its end is unknown
enum class child_outcome { exited, signaled, timed_out, not_started, lost };

// Resource limits; 0 leaves a limit as the host has it.
struct child_limits {
  std::uint64_t address_space = 0;  // RLIMIT_AS, bytes
  std::uint64_t cpu_seconds = 0;    // RLIMIT_CPU (SIGXCPU, then SIGKILL a second later)
  std::uint64_t file_size = 0;      // RLIMIT_FSIZE, bytes
  std::uint64_t open_files = 0;     // RLIMIT_NOFILE
  // RLIMIT_NPROC counts every process of the account, and the kernel does
  // not apply it to root at all, except inside a user namespace, where it
  // counts the namespace's processes: so it is set only there.
  std::uint64_t processes = 0;
};

// What run_child starts and how.
struct child_spec {
  std::vector<std::string> argv;  // argv[0]: a path, or a name looked up on search_path
  std::vector<std::string> env;   // "NAME=value": the child's whole environment
  std::string search_path;        // the PATH argv[0] is looked up on (the host's)
  child_limits limits;
  bool namespaces = true;         // try user+net+mount+pid namespaces (Linux)
  std::chrono::milliseconds time_limit{10000};
  std::chrono::milliseconds kill_wait{2000};  // at most this long for a killed child to go
  std::chrono::milliseconds poll_interval{5};  // only where no pidfd exists
  std::size_t tail_bytes = 4096;  // how much of the child's output to keep (the last bytes)
};

// Which isolation was in force (bits of child_status::isolation).
enum : unsigned {
  isolation_session = 1u << 0,       // own session and process group
  isolation_fds = 1u << 1,           // only 0, 1, 2 reach it
  isolation_env = 1u << 2,           // only the listed environment
  isolation_signals = 1u << 3,       // signal mask and dispositions reset
  isolation_rlimits = 1u << 4,       // the resource limits were set
  isolation_no_new_privs = 1u << 5,  // PR_SET_NO_NEW_PRIVS
  isolation_pidfd = 1u << 6,         // waited on and signalled through a pidfd
  isolation_userns = 1u << 7,
  isolation_netns = 1u << 8,
  isolation_mntns = 1u << 9,
  isolation_pidns = 1u << 10,
  isolation_proc = 1u << 11,         // a /proc that shows only the probe's processes
  isolation_nproc = 1u << 12,        // the processes limit was set (inside a user namespace)
  isolation_pid_max = 1u << 13,      // the pid namespace's pid_max bounds its processes
};

// Names of the isolation bits, comma-separated, in bit order.
inline std::string isolation_names(unsigned bits) {
  static const char* const names[] = {"session", "fds",   "env",   "signals", "rlimits",
                                      "no_new_privs", "pidfd", "userns", "netns", "mntns",
                                      "pidns", "proc",  "nproc", "pid_max"};
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
  int code = 0;  // exit status, or the signal number
  int start_errno = 0;
  const char* start_step = "";  // which step failed when not_started
  std::string output_tail;      // the last tail_bytes of stdout and stderr
  unsigned isolation = 0;
  std::uint64_t max_rss_bytes = 0;  // the largest resident set of it or a process it reaped
  std::chrono::microseconds cpu_time{0};
  std::size_t peak_group_processes = 0;  // most processes seen in its group (Linux; sampled)
  std::size_t left_behind = 0;  // processes of it still alive when it ended (Linux)
  bool memory_limit_hit = false;  // the system said so (Windows job objects; never here)
  bool processes_limit_hit = false;  // the processes limit was reached (sampled from here)
  bool cpu_limit_hit = false;        // the system said so (Windows job objects; never here)
  std::chrono::nanoseconds elapsed{0};
};

// The system's words for an errno value.
inline std::string system_error_text(int e) { return std::generic_category().message(e); }

// Steps of the child, reported through the status pipe when one fails.
enum : std::int32_t {
  child_step_setup = 1,
  child_step_setsid,
  child_step_stdio,
  child_step_fds,
  child_step_idmap,
  child_step_clone,
  child_step_rlimit,
  child_step_exec,
};

inline const char* child_step_name(std::int32_t s) {
  switch (s) {
    case child_step_setup: return "setup";
    case child_step_setsid: return "setsid";
    case child_step_stdio: return "stdio";
    case child_step_fds: return "close descriptors";
    case child_step_idmap: return "user namespace id maps";
    case child_step_clone: return "clone";
    case child_step_rlimit: return "resource limits";
    case child_step_exec: return "exec";
    default: return "start";
  }
}

// One record through the status pipe (a CLOEXEC pipe: the exec closes it).
struct child_record {
  std::int32_t kind;   // 1 failed step, 2 the relayed status of the exec'd process, 3 isolation bits
  std::int32_t a;      // step / wait status / bits
  std::int32_t b;      // errno / processes left behind
  std::int32_t pad;
  std::int64_t max_rss_kib;
  std::int64_t cpu_us;
};

namespace posix_child {

// The status pipe's write end in the child, once descriptors are arranged.
constexpr int status_fd = 3;

#if defined(__linux__)
#if defined(SYS_clone3)
constexpr long sys_clone3 = SYS_clone3;
#else
constexpr long sys_clone3 = 435;
#endif
#if defined(SYS_pidfd_open)
constexpr long sys_pidfd_open = SYS_pidfd_open;
#else
constexpr long sys_pidfd_open = 434;
#endif
#if defined(SYS_pidfd_send_signal)
constexpr long sys_pidfd_send_signal = SYS_pidfd_send_signal;
#else
constexpr long sys_pidfd_send_signal = 424;
#endif
#if defined(SYS_close_range)
constexpr long sys_close_range = SYS_close_range;
#else
constexpr long sys_close_range = 436;
#endif
constexpr std::uint64_t clone_pidfd = 0x00001000u;
constexpr std::uint64_t clone_newns = 0x00020000u;
constexpr std::uint64_t clone_newuser = 0x10000000u;
constexpr std::uint64_t clone_newpid = 0x20000000u;
constexpr std::uint64_t clone_newnet = 0x40000000u;
constexpr int p_pidfd = 3;

// The kernel's struct clone_args, version 0.
struct clone_args {
  std::uint64_t flags;
  std::uint64_t pidfd;
  std::uint64_t child_tid;
  std::uint64_t parent_tid;
  std::uint64_t exit_signal;
  std::uint64_t stack;
  std::uint64_t stack_size;
  std::uint64_t tls;
};

// The kernel's struct rusage as waitid(2) fills it: longs throughout (a C
// library's own struct may differ on 32-bit systems with a 64-bit time_t).
struct kernel_rusage {
  long utime_sec, utime_usec, stime_sec, stime_usec;
  long maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv,
      nsignals, nvcsw, nivcsw;
};

// A fork-like clone3: returns the child's pid (0 in the child), -1 with errno.
inline long clone3_fork(std::uint64_t flags, int* pidfd) noexcept {
  clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = flags;
  args.pidfd = static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(pidfd));
  args.exit_signal = SIGCHLD;
  return ::syscall(sys_clone3, &args, sizeof args);
}
#endif

#if defined(__SANITIZE_THREAD__)
constexpr bool thread_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
constexpr bool thread_sanitizer = true;
#else
constexpr bool thread_sanitizer = false;
#endif
#else
constexpr bool thread_sanitizer = false;
#endif

// Everything the child needs, made before the fork.
struct plan {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int out_w = -1;
  int status_w = -1;
  child_limits limits;
  bool nproc = false;
  bool pid_namespace = false;  // this child is the namespace's init; the probe is its child
  bool user_namespace = false;
  // Made by fork() (no clone3, or ThreadSanitizer): this child tries to
  // unshare the namespaces itself, and its own child becomes their init.
  bool unshare_namespaces = false;
  bool use_fork = false;
  char uid_map[64] = {0};
  char gid_map[64] = {0};
  char pid_max[24] = {0};
};

inline void write_all(int fd, const void* data, std::size_t n) noexcept {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

inline void send_record(std::int32_t kind, std::int32_t a, std::int32_t b, std::int64_t rss = 0,
                        std::int64_t cpu = 0) noexcept {
  child_record r;
  std::memset(&r, 0, sizeof r);
  r.kind = kind;
  r.a = a;
  r.b = b;
  r.max_rss_kib = rss;
  r.cpu_us = cpu;
  write_all(status_fd, &r, sizeof r);
}

[[noreturn]] inline void fail(std::int32_t step) noexcept {
  send_record(1, step, errno);
  ::_exit(127);
}

// Closes every descriptor from `from` up.
inline bool close_from(int from) noexcept {
#if defined(__linux__)
  if (::syscall(sys_close_range, static_cast<unsigned>(from), ~0u, 0u) == 0) return true;
  // Older kernels: the directory of open descriptors, read with getdents64
  // into a buffer on the stack (opendir would allocate).
  const int d = ::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d >= 0) {
    alignas(8) char buf[4096];
    for (;;) {
      const long n = ::syscall(SYS_getdents64, d, buf, sizeof buf);
      if (n <= 0) break;
      for (long off = 0; off < n;) {
        const char* ent = buf + off;
        unsigned short reclen;
        std::memcpy(&reclen, ent + 16, sizeof reclen);
        const char* name = ent + 19;
        int fd = 0;
        bool digits = *name != '\0';
        for (const char* c = name; *c; ++c) {
          if (*c < '0' || *c > '9') {
            digits = false;
            break;
          }
          fd = fd * 10 + (*c - '0');
        }
        if (digits && fd >= from && fd != d) ::close(fd);
        off += reclen;
      }
    }
    ::close(d);
    return true;
  }
#endif
  struct rlimit rl;
  long top = 65536;
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
      rl.rlim_cur < static_cast<rlim_t>(top))
    top = static_cast<long>(rl.rlim_cur);
  for (long fd = from; fd < top; ++fd) ::close(static_cast<int>(fd));
  return true;
}

// stdin from /dev/null, stdout and stderr into the output pipe, the status
// pipe on status_fd (close-on-exec), nothing else.
inline void arrange_descriptors(const plan& p) noexcept {
  const int out = ::fcntl(p.out_w, F_DUPFD_CLOEXEC, 4);
  const int st = ::fcntl(p.status_w, F_DUPFD_CLOEXEC, 4);
  if (out < 0 || st < 0) ::_exit(127);
  if (::dup3(st, status_fd, O_CLOEXEC) < 0) ::_exit(127);
  const int nul = ::open("/dev/null", O_RDONLY);
  if (nul < 0) fail(child_step_stdio);
  if (nul != 0 && ::dup2(nul, 0) < 0) fail(child_step_stdio);
  if (::dup2(out, 1) < 0 || ::dup2(out, 2) < 0) fail(child_step_stdio);
  if (!close_from(status_fd + 1)) fail(child_step_fds);
}

inline bool set_limit(int resource, std::uint64_t value) noexcept {
  if (value == 0) return true;
  struct rlimit cur;
  if (::getrlimit(resource, &cur) != 0) return false;
  rlim_t v = static_cast<rlim_t>(value);
  if (static_cast<std::uint64_t>(v) != value) v = RLIM_INFINITY;
  struct rlimit rl;
  rl.rlim_cur = v;
  rl.rlim_max = v;
#if defined(RLIMIT_CPU)
  // SIGXCPU at the soft limit, SIGKILL one second later.
  if (resource == RLIMIT_CPU && v != RLIM_INFINITY) rl.rlim_max = v + 1;
#endif
  // Never above the hard limit we already have (lowering needs no privilege).
  if (cur.rlim_max != RLIM_INFINITY) {
    if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > cur.rlim_max) rl.rlim_max = cur.rlim_max;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > rl.rlim_max) rl.rlim_cur = rl.rlim_max;
  }
  return ::setrlimit(resource, &rl) == 0;
}

// The process that execs the probe: signals, limits, no_new_privs, exec.
[[noreturn]] inline void exec_probe(const plan& p) noexcept {
  unsigned bits = isolation_signals;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    (void)::sigaction(s, &sa, nullptr);  // fails for the C library's own signals: fine
  }
  bool limits = set_limit(RLIMIT_AS, p.limits.address_space) &&
                set_limit(RLIMIT_CPU, p.limits.cpu_seconds) &&
                set_limit(RLIMIT_FSIZE, p.limits.file_size) &&
                set_limit(RLIMIT_NOFILE, p.limits.open_files);
  if (!limits) fail(child_step_rlimit);
  struct rlimit no_core;
  no_core.rlim_cur = 0;
  no_core.rlim_max = 0;
  (void)::setrlimit(RLIMIT_CORE, &no_core);  // a crash leaves no core file behind
  bits |= isolation_rlimits;
#if defined(RLIMIT_NPROC)
  if (p.nproc && p.limits.processes != 0) {
    if (!set_limit(RLIMIT_NPROC, p.limits.processes)) fail(child_step_rlimit);
    bits |= isolation_nproc;
  }
#endif
#if defined(__linux__)
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0) bits |= isolation_no_new_privs;
#endif
  send_record(3, static_cast<std::int32_t>(bits), 0);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(p.path, p.argv, p.envp);
  fail(child_step_exec);
}

#if defined(__linux__)
inline bool write_file(const char* path, const char* text) noexcept {
  const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const std::size_t n = std::strlen(text);
  const ssize_t w = ::write(fd, text, n);
  ::close(fd);
  return w == static_cast<ssize_t>(n);
}

// The pid namespace's init: maps the ids, mounts a /proc of its own, starts
// the probe as its child, reaps whatever ends up its child, and relays the
// probe's wait status and resource use through the status pipe. When it
// exits, the kernel kills every process left in the namespace.
[[noreturn]] inline void namespace_init(const plan& p) noexcept {
  unsigned bits = 0;
  // A host that ignores SIGCHLD would have the probe reap itself, and its
  // end would be lost: this init waits for it.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  (void)::sigaction(SIGCHLD, &dfl, nullptr);
  if (p.user_namespace) {
    if (!write_file("/proc/self/setgroups", "deny") || !write_file("/proc/self/uid_map", p.uid_map) ||
        !write_file("/proc/self/gid_map", p.gid_map))
      fail(child_step_idmap);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
      ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0)
    bits |= isolation_proc;
  // RLIMIT_NPROC does not bind root (the kernel exempts its account even
  // inside a user namespace): the pid namespace's own pid_max (Linux 6.14
  // on, at least 301) bounds the number of processes for every account.
  if ((bits & isolation_proc) && p.pid_max[0] != '\0' &&
      write_file("/proc/sys/kernel/pid_max", p.pid_max))
    bits |= isolation_pid_max;
  send_record(3, static_cast<std::int32_t>(bits), 0);
  // The namespace's /proc, held open: what the probe does to its mounts
  // cannot make the count at its end read another /proc.
  const int proc_dir =
      (bits & isolation_proc) ? ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  const long child = p.use_fork ? static_cast<long>(::fork()) : clone3_fork(0, nullptr);
  if (child < 0) fail(child_step_clone);
  if (child == 0) exec_probe(p);
  for (;;) {
    int st = 0;
    struct rusage ru;
    std::memset(&ru, 0, sizeof ru);
    const pid_t w = ::wait4(-1, &st, 0, &ru);
    if (w < 0) {
      if (errno == EINTR) continue;
      ::_exit(126);
    }
    if (w == static_cast<pid_t>(child)) {
      // What the probe left running in the namespace (its /proc, read
      // without allocating): all but this init.
      std::int32_t left = 0;
      if (proc_dir >= 0) {
        const int d = proc_dir;
        if (::lseek(d, 0, SEEK_SET) == 0) {
          alignas(8) char buf[4096];
          long n;
          while ((n = ::syscall(SYS_getdents64, d, buf, sizeof buf)) > 0) {
            for (long off = 0; off < n;) {
              unsigned short reclen;
              std::memcpy(&reclen, buf + off + 16, sizeof reclen);
              const char* name = buf + off + 19;
              if (name[0] >= '1' && name[0] <= '9' && !(name[0] == '1' && name[1] == '\0')) ++left;
              off += reclen;
            }
          }
        }
      }
      const std::int64_t cpu =
          static_cast<std::int64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
          static_cast<std::int64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
      send_record(2, st, left, static_cast<std::int64_t>(ru.ru_maxrss), cpu);
      ::_exit(0);
    }
  }
}
#endif

// The child's side, right after the fork or clone.
[[noreturn]] inline void start(const plan& p) noexcept {
  arrange_descriptors(p);
  if (::setsid() < 0) fail(child_step_setsid);
#if defined(__linux__)
  if (p.pid_namespace) namespace_init(p);
  if (p.unshare_namespaces) {
    plan q = p;
    q.unshare_namespaces = false;
    q.nproc = false;
    if (::unshare(static_cast<int>(clone_newuser | clone_newnet | clone_newns | clone_newpid)) == 0) {
      // This process stays outside the new pid namespace; its child is the
      // namespace's init (and relays the probe's end); this one only waits.
      send_record(3, static_cast<std::int32_t>(isolation_userns | isolation_netns | isolation_mntns |
                                               isolation_pidns),
                  0);
      q.pid_namespace = true;
      q.user_namespace = true;
      q.nproc = true;
      struct sigaction dfl;
      std::memset(&dfl, 0, sizeof dfl);
      dfl.sa_handler = SIG_DFL;
      (void)::sigaction(SIGCHLD, &dfl, nullptr);
      const pid_t init = ::fork();
      if (init < 0) fail(child_step_clone);
      if (init == 0) namespace_init(q);
      int st = 0;
      while (::waitpid(init, &st, 0) < 0 && errno == EINTR) {
      }
      ::_exit(0);
    }
    exec_probe(q);  // the kernel refused them: without
  }
#endif
  exec_probe(p);
}

// Looks a command name up on `path` as execvp would, in the parent.
inline std::string resolve(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    const std::string dir = path.substr(i, j - i);
    i = j + 1;
    if (dir.empty()) continue;  // never the current directory
    std::string candidate = dir + "/" + name;
    stat_buf sb;
    if (sys_stat(candidate.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::string();
}

inline void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Keeps the last `cap` bytes of what it is given.
struct tail_buffer {
  std::string data;
  std::size_t cap = 4096;
  void add(const char* p, std::size_t n) {
    if (cap == 0) return;
    data.append(p, n);
    if (data.size() > 2 * cap + 65536) data.erase(0, data.size() - cap);
  }
  std::string take() {
    if (data.size() > cap) data.erase(0, data.size() - cap);
    return std::move(data);
  }
};

// Reads what is there; closes `fd` at end of file.
inline void drain(int& fd, tail_buffer& tail) {
  if (fd < 0) return;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      tail.add(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) close_fd(fd);
    return;  // EAGAIN: nothing more now
  }
}

// How many processes are in process group `pgid` (Linux, from /proc):
// all (zombies hold their slot too) and those alive; stops at `cap`.
struct group_count {
  std::size_t all = 0;
  std::size_t live = 0;
};
inline group_count count_group(pid_t pgid, std::size_t cap) {
  group_count c;
#if defined(__linux__)
  DIR* d = ::opendir("/proc");
  if (!d) return c;
  while (const dirent_t* e = sys_readdir(d)) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    if (std::strlen(e->d_name) > 20) continue;
    char path[300];
    std::snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) continue;
    buf[n] = '\0';
    const char* rp = std::strrchr(buf, ')');
    if (!rp) continue;
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (std::sscanf(rp + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3 || pgrp != pgid) continue;
    ++c.all;
    if (state != 'Z' && state != 'X') ++c.live;
    if (c.all >= cap) break;
  }
  ::closedir(d);
#else
  (void)pgid;
  (void)cap;
#endif
  return c;
}

// Reaps a child that would not die in time, so it leaves no zombie behind.
inline void* reap_later(void* arg) {
  const int pidfd = static_cast<int>(reinterpret_cast<std::intptr_t>(arg));
#if defined(__linux__)
  siginfo_t si;
  while (::syscall(SYS_waitid, p_pidfd, pidfd, &si, WEXITED, nullptr) < 0 && errno == EINTR) {
  }
#endif
  ::close(pidfd);
  return nullptr;
}

}  // namespace posix_child

inline result<child_status> run_child_once(const child_spec& spec, bool namespaces);

// Starts spec.argv and waits for it, at most spec.time_limit. Returns
// invalid_argument for an empty argv, io_error when the parent's own
// resources fail; every other way a start can fail is a child_status with
// outcome not_started. Namespaces the kernel grants but that cannot be set
// up (their id maps) are given up for this start, not the probe.
inline result<child_status> run_child(const child_spec& spec) {
  auto r = run_child_once(spec, spec.namespaces);
  if (spec.namespaces && r && r->outcome == child_outcome::not_started &&
      std::strcmp(r->start_step, child_step_name(child_step_idmap)) == 0)
    return run_child_once(spec, false);
  return r;
}

inline result<child_status> run_child_once(const child_spec& spec, bool namespaces) {
  namespace pc = posix_child;
  if (spec.argv.empty() || spec.argv[0].empty()) return errc::invalid_argument;
  const auto started = std::chrono::steady_clock::now();
  child_status out;

  // Everything the child needs, before the fork.
  const std::string path = pc::resolve(spec.argv[0], spec.search_path);
  if (path.empty()) {
    out.outcome = child_outcome::not_started;
    out.start_errno = ENOENT;
    out.start_step = "look up on PATH";
    return out;
  }
  std::vector<char*> args;
  args.reserve(spec.argv.size() + 1);
  for (const auto& a : spec.argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> envs;
  envs.reserve(spec.env.size() + 1);
  for (const auto& e : spec.env) envs.push_back(const_cast<char*>(e.c_str()));
  envs.push_back(nullptr);

  int out_pipe[2] = {-1, -1};
  int st_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) return errc::io_error;
  if (::pipe2(st_pipe, O_CLOEXEC) != 0) {
    pc::close_fd(out_pipe[0]);
    pc::close_fd(out_pipe[1]);
    return errc::io_error;
  }
  (void)::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  (void)::fcntl(st_pipe[0], F_SETFL, O_NONBLOCK);

  pc::plan p;
  p.path = path.c_str();
  p.argv = args.data();
  p.envp = envs.data();
  p.out_w = out_pipe[1];
  p.status_w = st_pipe[1];
  p.limits = spec.limits;
  // Inside its namespace the probe keeps its account's id, except root's,
  // which it sees as 65534 (nobody): not root there, it keeps no
  // capability across its exec, so it cannot undo its own mounts. (Its
  // files' owner checks are still the host account's.)
  const unsigned long euid = static_cast<unsigned long>(::geteuid());
  const unsigned long egid = static_cast<unsigned long>(::getegid());
  std::snprintf(p.uid_map, sizeof p.uid_map, "%lu %lu 1", euid == 0 ? 65534ul : euid, euid);
  if (spec.limits.processes != 0)
    std::snprintf(p.pid_max, sizeof p.pid_max, "%llu",
                  static_cast<unsigned long long>(std::max<std::uint64_t>(spec.limits.processes + 1, 301)));
  std::snprintf(p.gid_map, sizeof p.gid_map, "%lu %lu 1", euid == 0 ? 65534ul : egid, egid);

  // No host signal handler may run in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);

  unsigned isolation = isolation_session | isolation_fds | isolation_env;
  int pidfd = -1;
  pid_t pid = -1;
  int start_errno = 0;
#if defined(__linux__)
  // ThreadSanitizer keeps its own state across fork() only: under it, the
  // child is made by fork() (and unshares the namespaces itself).
  bool have_clone3 = !pc::thread_sanitizer;
  if (namespaces && have_clone3) {
    p.pid_namespace = true;
    p.user_namespace = true;
    p.nproc = true;
    const long r = pc::clone3_fork(pc::clone_pidfd | pc::clone_newuser | pc::clone_newnet |
                                       pc::clone_newns | pc::clone_newpid,
                                   &pidfd);
    if (r == 0) pc::start(p);
    if (r > 0) {
      pid = static_cast<pid_t>(r);
      isolation |= isolation_pidfd | isolation_userns | isolation_netns | isolation_mntns |
                   isolation_pidns;
    } else if (errno == ENOSYS) {
      have_clone3 = false;
    }
    p.pid_namespace = false;
    p.user_namespace = false;
    p.nproc = false;
  }
  if (pid < 0 && have_clone3) {
    pidfd = -1;
    const long r = pc::clone3_fork(pc::clone_pidfd, &pidfd);
    if (r == 0) pc::start(p);
    if (r > 0) {
      pid = static_cast<pid_t>(r);
      isolation |= isolation_pidfd;
    } else if (errno == ENOSYS) {
      have_clone3 = false;
    } else {
      start_errno = errno;
    }
  }
  if (pid < 0 && !have_clone3)
#endif
  {
#if defined(__linux__)
    p.unshare_namespaces = namespaces;
    p.use_fork = true;
#endif
    pid = ::fork();
    if (pid == 0) pc::start(p);
    if (pid < 0) {
      start_errno = errno;
    }
#if defined(__linux__)
    else {
      pidfd = static_cast<int>(::syscall(pc::sys_pidfd_open, pid, 0));
      if (pidfd >= 0) isolation |= isolation_pidfd;
    }
#endif
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  pc::close_fd(out_pipe[1]);
  pc::close_fd(st_pipe[1]);
  int out_r = out_pipe[0];
  int st_r = st_pipe[0];
  pc::tail_buffer tail;
  tail.cap = spec.tail_bytes;

  if (pid < 0) {
    pc::close_fd(out_r);
    pc::close_fd(st_r);
    out.outcome = child_outcome::not_started;
    out.start_errno = start_errno;
    out.start_step = "fork";
    out.isolation = 0;
    return out;
  }

  // Whether the child has ended (not reaped: its pid and group id stay
  // ours until we reap it). -1: reaped by someone else.
  bool pidfd_wait = true;
  auto ended = [&]() -> int {
#if defined(__linux__)
    if (pidfd >= 0) {
      struct pollfd pf;
      pf.fd = pidfd;
      pf.events = POLLIN;
      pf.revents = 0;
      if (::poll(&pf, 1, 0) <= 0) return 0;
    }
#endif
    siginfo_t si;
    std::memset(&si, 0, sizeof si);
    int r = -1;
#if defined(__linux__)
    if (pidfd >= 0 && pidfd_wait) {
      r = static_cast<int>(::syscall(SYS_waitid, pc::p_pidfd, pidfd, &si, WEXITED | WNOHANG | WNOWAIT,
                                     nullptr));
      // Linux 5.3 has pidfds but waits on them only from 5.4: by pid then
      // (ours until reaped).
      if (r < 0 && errno == EINVAL) pidfd_wait = false;
    }
#endif
    if (pidfd < 0 || !pidfd_wait)
      r = ::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT);
    if (r < 0) return errno == ECHILD ? -1 : 0;
    return si.si_pid != 0 ? 1 : 0;
  };

  const auto deadline = started + spec.time_limit;
  auto next_sample = started + std::chrono::milliseconds(20);
  bool timed_out = false;
  bool lost = false;
  // The processes limit is also watched from here (sampled), so a probe
  // over it is stopped at once rather than at its time limit.
  const std::size_t process_cap =
      spec.limits.processes != 0 ? static_cast<std::size_t>(std::min<std::uint64_t>(spec.limits.processes, 1u << 20))
                                 : 1024;
  std::size_t live_in_group = 0;
  auto sample = [&]() {
    const pc::group_count c = pc::count_group(pid, process_cap + 16);
    out.peak_group_processes = std::max(out.peak_group_processes, c.all);
    live_in_group = c.live;
    if (spec.limits.processes != 0 && out.peak_group_processes + 2 >= process_cap)
      out.processes_limit_hit = true;
  };
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_sample) {
      sample();
      next_sample = now + std::chrono::milliseconds(50);
      if (out.processes_limit_hit) {
        timed_out = true;  // stopped by us, like at the time limit
        break;
      }
    }
    const int e = ended();
    if (e != 0) {
      lost = e < 0;
      break;
    }
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    auto wait = std::min(deadline - now, next_sample - now);
    if (pidfd < 0) wait = std::min<std::chrono::steady_clock::duration>(wait, spec.poll_interval);
    struct pollfd fds[2];
    nfds_t n = 0;
    if (pidfd >= 0) fds[n++] = pollfd{pidfd, POLLIN, 0};
    if (out_r >= 0) fds[n++] = pollfd{out_r, POLLIN, 0};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wait).count() + 1;
    if (n > 0) {
      (void)::poll(fds, n, static_cast<int>(ms));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
    pc::drain(out_r, tail);
  }

  if (!lost) {
    // Ours until reaped: its group id cannot name another group yet.
    if (timed_out || !(isolation & isolation_pidns)) {
      sample();
      // What it left running besides itself (a zombie now, unless timed out).
      if (!timed_out) out.left_behind = live_in_group;
    }
#if defined(__linux__)
    if (pidfd >= 0) (void)::syscall(pc::sys_pidfd_send_signal, pidfd, SIGKILL, nullptr, 0);
#endif
    if (ended() >= 0) {
      (void)::kill(-pid, SIGKILL);
      (void)::kill(-pid, SIGKILL);
    }
  }
  // The bounded wait for the killed child.
  int status = 0;
  bool reaped = false;
  std::uint64_t rss_kib = 0;
  std::int64_t cpu_us = 0;
  if (!lost) {
    const auto kill_deadline = std::chrono::steady_clock::now() + spec.kill_wait;
    for (;;) {
      const int e = ended();
      if (e < 0) {
        lost = true;
        break;
      }
      if (e > 0) break;
      if (std::chrono::steady_clock::now() >= kill_deadline) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    // The rest of its group, which may still be dying (or forking): until
    // none is left alive, while the leader's zombie keeps the group id ours.
    // (In a pid namespace the init's end already means all of them went.)
    if (!lost && !(isolation & isolation_pidns) && live_in_group > 0 && ended() > 0) {
      while (pc::count_group(pid, 1u << 20).live > 0 &&
             std::chrono::steady_clock::now() < kill_deadline) {
        (void)::kill(-pid, SIGKILL);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
    if (!lost && ended() > 0) {
#if defined(__linux__)
      if (pidfd >= 0 && pidfd_wait) {
        siginfo_t si;
        std::memset(&si, 0, sizeof si);
        pc::kernel_rusage ru;
        std::memset(&ru, 0, sizeof ru);
        long r;
        while ((r = ::syscall(SYS_waitid, pc::p_pidfd, pidfd, &si, WEXITED, &ru)) < 0 &&
               errno == EINTR) {
        }
        if (r == 0) {
          reaped = true;
          status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : (si.si_status & 0x7f);
          rss_kib = static_cast<std::uint64_t>(ru.maxrss);
          cpu_us = static_cast<std::int64_t>(ru.utime_sec + ru.stime_sec) * 1000000 +
                   static_cast<std::int64_t>(ru.utime_usec + ru.stime_usec);
        } else if (errno == ECHILD) {
          lost = true;
        } else if (errno == EINVAL) {
          pidfd_wait = false;
        }
      }
#endif
      if (!reaped && !lost && (pidfd < 0 || !pidfd_wait)) {
        struct rusage ru;
        std::memset(&ru, 0, sizeof ru);
        pid_t w;
        while ((w = ::wait4(pid, &status, 0, &ru)) < 0 && errno == EINTR) {
        }
        if (w == pid) {
          reaped = true;
          rss_kib = static_cast<std::uint64_t>(ru.ru_maxrss);
          cpu_us = static_cast<std::int64_t>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
                   static_cast<std::int64_t>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        } else {
          lost = true;
        }
      }
    }
  }
  pc::drain(out_r, tail);
  pc::close_fd(out_r);

  // What the child and its init said.
  bool relayed = false;
  int relayed_status = 0;
  bool failed_step = false;
  for (;;) {
    child_record rec;
    const ssize_t n = ::read(st_r, &rec, sizeof rec);
    if (n < 0 && errno == EINTR) continue;
    if (n != static_cast<ssize_t>(sizeof rec)) break;
    if (rec.kind == 1 && !failed_step) {
      failed_step = true;
      out.start_errno = rec.b;
      out.start_step = child_step_name(rec.a);
    } else if (rec.kind == 2) {
      relayed = true;
      relayed_status = rec.a;
      out.left_behind = static_cast<std::size_t>(rec.b < 0 ? 0 : rec.b);
      rss_kib = std::max<std::uint64_t>(rss_kib, static_cast<std::uint64_t>(rec.max_rss_kib));
      cpu_us = std::max<std::int64_t>(cpu_us, rec.cpu_us);
    } else if (rec.kind == 3) {
      isolation |= static_cast<unsigned>(rec.a);
    }
  }
  pc::close_fd(st_r);

  if (!reaped && !lost) {
    // It did not go within kill_wait (stuck in the kernel): a thread reaps
    // it whenever it goes, so it leaves no zombie.
    if (pidfd >= 0) {
      pthread_t t;
      if (::pthread_create(&t, nullptr, pc::reap_later,
                           reinterpret_cast<void*>(static_cast<std::intptr_t>(pidfd))) == 0) {
        ::pthread_detach(t);
        pidfd = -1;
      }
    }
  }
  pc::close_fd(pidfd);

  out.isolation = isolation;
  out.output_tail = tail.take();
  out.max_rss_bytes = rss_kib * 1024;
  out.cpu_time = std::chrono::microseconds(cpu_us);
  out.elapsed = std::chrono::steady_clock::now() - started;
  if (failed_step) {
    out.outcome = child_outcome::not_started;
    return out;
  }
  // The probe's own wait status: relayed by the namespace's init, or the
  // direct child's. An init that died without relaying one was killed.
  bool have = false;
  if (relayed) {
    status = relayed_status;
    have = true;
  } else if (reaped && !(isolation & isolation_pidns)) {
    have = true;
  }
  if (!have) {
    out.outcome = timed_out ? child_outcome::timed_out : child_outcome::lost;
    return out;
  }
  if (WIFEXITED(status)) {
    // Judged on its own end, even when that came at the limit.
    out.outcome = child_outcome::exited;
    out.code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    out.code = WTERMSIG(status);
    // Our kill at the time limit is a timeout, not a crash.
    out.outcome = timed_out && out.code == SIGKILL ? child_outcome::timed_out
                                                   : child_outcome::signaled;
  } else {
    out.outcome = child_outcome::lost;
  }
  return out;
}

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // !SLOTGUARD_OS_WINDOWS

#endif  // SLOTGUARD_DETAIL_PROCESS_POSIX_HPP
