// SPDX-License-Identifier: Apache-2.0
// The probe gate: before a candidate goes on trial, the host's own loader or
// interpreter is exercised on it. Either in process, through a callback, or
// isolated: a command the host names runs as a child process with the path
// of a file holding the candidate appended as its last argument, under a time
// limit, so a candidate that crashes or hangs the interpreter is turned away
// without ever touching the running sensor. Exit status 0 accepts; any other
// exit is probe_failed; death by a signal (an unhandled exception on
// Windows) is probe_crashed; running past the limit is probe_timeout (the
// child is killed and reaped).
#ifndef SLOTGUARD_PROBE_HPP
#define SLOTGUARD_PROBE_HPP

#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>

#if SLOTGUARD_OS_WINDOWS
#include <slotguard/detail/process_win32.hpp>
#else
#include <slotguard/detail/process_posix.hpp>
#endif

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace v1 {

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

// Runs command + [candidate_path] as a child process and waits at most
// time_limit (checking every poll_interval on POSIX). Returns success on exit
// status 0; not_found on exit status 127 (command not found); probe_failed on
// another exit status; probe_crashed if the child
// died by a signal or an unhandled exception; probe_timeout if it ran past the
// limit (it is then killed and reaped). Returns invalid_argument for an empty
// command or path, and not_found / permission_denied / io_error if the child
// could not be started (the candidate's fault is then unknown).
inline result<void> run_isolated_probe(const std::vector<std::string>& command,
                                       const std::string& candidate_path,
                                       std::chrono::milliseconds time_limit,
                                       std::chrono::milliseconds poll_interval =
                                           std::chrono::milliseconds(5)) {
  if (command.empty() || candidate_path.empty()) return errc::invalid_argument;
  std::vector<std::string> argv = command;
  argv.push_back(candidate_path);
  if (poll_interval.count() <= 0) poll_interval = std::chrono::milliseconds(1);
  auto st = detail::run_child(argv, time_limit, poll_interval);
  if (!st) return st.error();
  switch (st->outcome) {
    case detail::child_outcome::exited:
      if (st->code == 0) return ok();
      // 127 is what a shell, and a posix_spawn that can only report a
      // failed exec through the child's status (some libcs, emulators),
      // return when the command was not found: not a verdict.
      if (st->code == 127) return errc::not_found;
      return errc::probe_failed;
    case detail::child_outcome::signaled:
      return errc::probe_crashed;
    case detail::child_outcome::timed_out:
      return errc::probe_timeout;
  }
  return errc::internal;
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
  // Requires a non-empty command (argv[0] is looked up on PATH on POSIX).
  static probe isolated(std::vector<std::string> command, std::chrono::milliseconds time_limit,
                        std::chrono::milliseconds poll_interval = std::chrono::milliseconds(5)) {
    probe p;
    p.kind_ = kind::isolated;
    p.command_ = std::move(command);
    p.limit_ = time_limit;
    p.poll_ = poll_interval;
    return p;
  }

  kind type() const noexcept { return kind_; }
  bool empty() const noexcept { return kind_ == kind::none; }
  bool needs_file() const noexcept { return kind_ == kind::isolated; }

  // Runs the probe on the candidate. See run_isolated_probe for the errors of
  // an isolated probe; an in-process probe's failure is probe_failed.
  result<void> run(const probe_input& in) const {
    switch (kind_) {
      case kind::none:
        return ok();
      case kind::in_process: {
        if (!fn_) return ok();
        auto r = fn_(in);
        if (!r) return errc::probe_failed;
        return ok();
      }
      case kind::isolated:
        return run_isolated_probe(command_, in.path, limit_, poll_);
    }
    return errc::internal;
  }

 private:
  kind kind_ = kind::none;
  probe_fn fn_;
  std::vector<std::string> command_;
  std::chrono::milliseconds limit_{10000};
  std::chrono::milliseconds poll_{5};
};

// Whether a probe's error says the candidate is bad (as opposed to the probe
// not being able to run at all).
constexpr bool is_probe_verdict(errc e) noexcept {
  return e == errc::probe_failed || e == errc::probe_crashed || e == errc::probe_timeout;
}

}  // namespace v1
}  // namespace slotguard

#endif  // SLOTGUARD_PROBE_HPP
