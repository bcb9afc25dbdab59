// SPDX-License-Identifier: Apache-2.0
// A logging hook for the library's own decisions: what the guard did at
// open (recovery, a fallback), a revert or commit, an operator's request
// taken up and its outcome, a history record that could not be written.
// Silent by default: nothing is printed or allocated until the host installs
// a sink. One sink per process; set_log_sink() replaces it (an empty
// function removes it). The sink may be called from any thread that runs
// the guard (the watchdog's included), never with a guard lock held, and
// must not call set_log_sink() itself.
#ifndef SLOTGUARD_LOG_HPP
#define SLOTGUARD_LOG_HPP

#include <slotguard/config.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

enum class log_level { debug, info, warning, error };

constexpr const char* to_string(log_level l) noexcept {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "unknown";
}

using log_sink = std::function<void(log_level, std::string_view message)>;

namespace detail {

struct log_registry {
  std::mutex mu;
  std::shared_ptr<const log_sink> sink;
};

inline log_registry& log_state() {
  static log_registry r;
  return r;
}

}  // namespace detail

// Installs the process's sink (an empty function: silent again).
inline void set_log_sink(log_sink sink) {
  std::shared_ptr<const log_sink> s;
  if (sink) s = std::make_shared<const log_sink>(std::move(sink));
  detail::log_registry& r = detail::log_state();
  std::lock_guard<std::mutex> lock(r.mu);
  r.sink = std::move(s);
}

// Whether a sink is installed (callers skip building messages otherwise).
inline bool log_enabled() {
  detail::log_registry& r = detail::log_state();
  std::lock_guard<std::mutex> lock(r.mu);
  return static_cast<bool>(r.sink);
}

// Sends one message to the sink, if there is one (outside the registry's
// lock, so a slow sink holds up no other thread's logging).
inline void log_message(log_level level, std::string_view message) {
  std::shared_ptr<const log_sink> s;
  {
    detail::log_registry& r = detail::log_state();
    std::lock_guard<std::mutex> lock(r.mu);
    s = r.sink;
  }
  if (s) (*s)(level, message);
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_LOG_HPP
