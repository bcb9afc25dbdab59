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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

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
  std::string summary() const;
};

// Whether a probe's error says the candidate is bad (as opposed to the probe
// not being able to run at all).
constexpr bool is_probe_verdict(errc e) noexcept {
  return e == errc::probe_failed || e == errc::probe_crashed || e == errc::probe_timeout ||
         e == errc::probe_limit_exceeded;
}

// Runs command as a child process, with each argument that is exactly "{}"
// replaced by candidate_path (or, when none is, the path appended as its
// last argument), under the options' limits, and says what happened. The
// report's code is ok when the probe exited 0; a verdict (probe_failed,
// probe_crashed, probe_timeout, probe_limit_exceeded); probe_start_failed
// when it could not be started (the candidate's fault is then unknown);
// invalid_argument for an empty command or path; io_error when its end could
// not be known (another part of the host reaped it).
SLOTGUARD_DECL probe_report run_isolated_probe_report(const std::vector<std::string>& command,
                                                      const std::string& candidate_path,
                                                      const probe_options& options);

// The same, as a verdict only.
SLOTGUARD_DECL result<void> run_isolated_probe(const std::vector<std::string>& command,
                                               const std::string& candidate_path,
                                               const probe_options& options);

// The same with default options but for the time limit (and, where the
// system cannot wait on a process handle, how often to look).
SLOTGUARD_DECL result<void> run_isolated_probe(const std::vector<std::string>& command,
                                               const std::string& candidate_path,
                                               std::chrono::milliseconds time_limit,
                                               std::chrono::milliseconds poll_interval =
                                                   std::chrono::milliseconds(5));

// A probe: none (accepts everything), in process, or isolated.
class probe {
 public:
  enum class kind { none, in_process, isolated };

  probe() = default;

  static probe in_process(probe_fn fn);
  // Requires a non-empty command (argv[0] is looked up on the host's PATH
  // on POSIX). Default options but for the time limit.
  static probe isolated(std::vector<std::string> command, std::chrono::milliseconds time_limit,
                        std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5));
  static probe isolated(std::vector<std::string> command, probe_options options);

  kind type() const noexcept { return kind_; }
  bool empty() const noexcept { return kind_ == kind::none; }
  bool needs_file() const noexcept { return kind_ == kind::isolated; }
  const std::vector<std::string>& command() const noexcept { return command_; }
  const probe_options& options() const noexcept { return options_; }

  // Runs the probe on the candidate and says what happened. An in-process
  // probe's failure is probe_failed; see run_isolated_probe_report for an
  // isolated probe.
  probe_report run_with_report(const probe_input& in) const;

  // Runs the probe on in.content. For an isolated probe the content is
  // first written to a fresh workspace under parent_dir (empty: the
  // temporary directory; see make_probe_workspace), in.path names its file,
  // and the workspace is removed when the probe is done. A workspace that
  // cannot be made is the report's code (io_error, no_space, not_found,
  // permission_denied: not a verdict).
  probe_report run_with_workspace(probe_input in, const std::string& parent_dir) const;

  // The verdict only.
  result<void> run(const probe_input& in) const;

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
  probe_workspace(probe_workspace&& o) noexcept;
  probe_workspace& operator=(probe_workspace&& o) noexcept;
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

// Makes a workspace under parent_dir (empty: the system's temporary
// directory) holding `payload` in its file. Returns not_found when
// parent_dir does not exist, permission_denied, no_space or io_error when
// the system refuses.
SLOTGUARD_DECL result<probe_workspace> make_probe_workspace(const std::string& parent_dir,
                                                            byte_view payload);

// Removes workspaces a host that died left in parent_dir (empty: the
// system's temporary directory): directories named probe_workspace_prefix +
// pid + "-..." whose process is gone and (POSIX) that belong to this
// account and are not links. Returns how many it removed.
SLOTGUARD_DECL std::size_t remove_stale_probe_workspaces(const std::string& parent_dir);

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/probe_impl.hpp>
#endif

#endif  // SLOTGUARD_PROBE_HPP
