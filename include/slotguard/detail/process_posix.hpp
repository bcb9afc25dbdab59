// SPDX-License-Identifier: Apache-2.0
// Runs a child process with a time limit on POSIX systems: posix_spawnp, then
// waitpid(WNOHANG) polled with short sleeps, SIGKILL and a reap on timeout.
// Used by probe.hpp; not a public interface.
#ifndef SLOTGUARD_DETAIL_PROCESS_POSIX_HPP
#define SLOTGUARD_DETAIL_PROCESS_POSIX_HPP

#include <slotguard/config.hpp>
#include <slotguard/error.hpp>

// Compiles to nothing on the other family of systems, so that every header
// builds on its own everywhere.
#if !SLOTGUARD_OS_WINDOWS

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace slotguard {
inline namespace v1 {
namespace detail {

// How a child ended.
enum class child_outcome { exited, signaled, timed_out };

struct child_status {
  child_outcome outcome = child_outcome::exited;
  int code = 0;  // exit status, or the signal number
};

// Spawns argv (argv[0] looked up on PATH), with stdin from /dev/null and
// stdout/stderr inherited, and waits at most `limit`. A child still running
// at the limit is killed with SIGKILL and reaped. Returns invalid_argument
// for an empty argv, not_found / permission_denied / io_error when the child
// cannot be started.
inline result<child_status> run_child(const std::vector<std::string>& argv,
                                      std::chrono::milliseconds limit,
                                      std::chrono::milliseconds poll_interval) {
  if (argv.empty() || argv[0].empty()) return errc::invalid_argument;
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  if (posix_spawn_file_actions_init(&actions) != 0) return errc::out_of_memory;
  (void)posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    if (rc == ENOENT || rc == ENOTDIR) return errc::not_found;
    if (rc == EACCES || rc == EPERM) return errc::permission_denied;
    return errc::io_error;
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  int status = 0;
  for (;;) {
    const pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      // Someone else reaped it (SIGCHLD ignored, or a host's reaper): the
      // outcome is unknown, which must not count as success.
      ::kill(pid, SIGKILL);
      return errc::io_error;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      return child_status{child_outcome::timed_out, 0};
    }
    std::this_thread::sleep_for(poll_interval);
  }
  if (WIFEXITED(status)) return child_status{child_outcome::exited, WEXITSTATUS(status)};
  if (WIFSIGNALED(status)) return child_status{child_outcome::signaled, WTERMSIG(status)};
  return errc::io_error;
}

}  // namespace detail
}  // namespace v1
}  // namespace slotguard

#endif  // !SLOTGUARD_OS_WINDOWS

#endif  // SLOTGUARD_DETAIL_PROCESS_POSIX_HPP
