// SPDX-License-Identifier: Apache-2.0
// What the guard tells the host's telemetry: one event per transition of the
// activation pipeline (staged, probe_failed, trial_started, committed,
// reverted with its reason, rejected with its errc), each naming the channel
// and the candidate and active sequences, delivered to every on_event
// subscriber. Events are delivered synchronously, on the thread that caused
// the transition, after the transition is durable and outside the guard's
// locks, so a handler may call back into the guard (status(), current()).
#ifndef SLOTGUARD_EVENTS_HPP
#define SLOTGUARD_EVENTS_HPP

#include <slotguard/config.hpp>

#include <slotguard/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

enum class event_kind {
  staged,         // the candidate passed every gate and was written to the inactive slot
  probe_failed,   // the probe rejected the candidate (followed by rejected)
  trial_started,  // the candidate is active on probation
  committed,      // the trial became the last known-good content
  reverted,       // the trial was taken back; see revert_reason
  rejected,       // a gate said no; see error
  load_failed,    // stored content is not served (error says why: damage, trust, channel, host)
  read_only,      // the store could only be opened for reading: nothing will be written
  crash_loop,     // the crash-streak breaker took a step; see mode and streak
  released,       // an operator lifted a quarantine or ended a breaker mode
};

// What the crash-streak breaker is doing (docs/GUARD.md, "Crash loops").
enum class breaker_mode : std::uint8_t {
  normal = 0,       // the active content is served
  safe = 1,         // starts kept crashing: the last known-safe content is served
  no_content = 2,   // they kept crashing on that too: nothing is served
  not_content = 3,  // they kept crashing without content: content is served, escalation stopped
};

constexpr const char* to_string(breaker_mode m) noexcept {
  switch (m) {
    case breaker_mode::normal:
      return "normal";
    case breaker_mode::safe:
      return "safe";
    case breaker_mode::no_content:
      return "no_content";
    case breaker_mode::not_content:
      return "not_content";
  }
  return "unknown";
}



enum class revert_reason {
  none,
  watchdog_timeout,    // no heartbeat for the watchdog timeout
  unhealthy,           // the host called report_unhealthy()
  start_budget_spent,  // the process started too often during the trial (a crash during it)
  recall,              // a signed recall named the active sequence
  operator_request,    // revert() or rollback()
  crash_loop,          // the crash-streak breaker quarantined the content starts crash on
};

constexpr const char* to_string(event_kind k) noexcept {
  switch (k) {
    case event_kind::staged:
      return "staged";
    case event_kind::probe_failed:
      return "probe_failed";
    case event_kind::trial_started:
      return "trial_started";
    case event_kind::committed:
      return "committed";
    case event_kind::reverted:
      return "reverted";
    case event_kind::rejected:
      return "rejected";
    case event_kind::load_failed:
      return "load_failed";
    case event_kind::read_only:
      return "read_only";
    case event_kind::crash_loop:
      return "crash_loop";
    case event_kind::released:
      return "released";
  }
  return "unknown";
}

constexpr const char* to_string(revert_reason r) noexcept {
  switch (r) {
    case revert_reason::none:
      return "none";
    case revert_reason::watchdog_timeout:
      return "watchdog_timeout";
    case revert_reason::unhealthy:
      return "unhealthy";
    case revert_reason::start_budget_spent:
      return "start_budget_spent";
    case revert_reason::recall:
      return "recall";
    case revert_reason::operator_request:
      return "operator";
    case revert_reason::crash_loop:
      return "crash_loop";
  }
  return "unknown";
}

struct event {
  event_kind kind = event_kind::rejected;
  std::string channel;
  std::uint64_t candidate_sequence = 0;  // the bundle the event is about; 0 if none
  std::uint64_t active_sequence = 0;     // the active content after the event; 0 if none
  revert_reason reason = revert_reason::none;  // for reverted
  errc error = errc::ok;                       // for rejected, probe_failed and load_failed
  std::string detail;                          // free text (the unhealthy reason, ...)
  // Per guard, from 1, in the order the transitions happened; handlers see
  // events in this order.
  std::uint64_t serial = 0;
  std::int64_t unix_ms = 0;  // wall-clock time of the transition, ms since 1970 (the guard's clock)
  // For crash_loop (and in every event): the breaker's mode after the event
  // and the crash streak it acted on.
  breaker_mode mode = breaker_mode::normal;
  std::uint32_t streak = 0;
};

using event_handler = std::function<void(const event&)>;

// How many of a store's delivered events its history keeps by default
// (guard_options::history_capacity; slotguard/history.hpp).
inline constexpr std::size_t history_default_capacity = 256;

// A list of subscribers. Thread-safe; handlers run outside its lock, so a
// handler may subscribe or unsubscribe (the change applies to later events).
class event_bus {
 public:
  // Returns an id for unsubscribe (never 0).
  std::uint64_t subscribe(event_handler h) {
    std::lock_guard<std::mutex> lock(mu_);
    const std::uint64_t id = ++next_id_;
    subs_.push_back({id, std::make_shared<event_handler>(std::move(h))});
    return id;
  }
  // Returns false if no subscription has that id.
  bool unsubscribe(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(subs_.begin(), subs_.end(), [&](const sub& s) { return s.id == id; });
    if (it == subs_.end()) return false;
    subs_.erase(it);
    return true;
  }
  void emit(const event& e) const {
    std::vector<std::shared_ptr<event_handler>> handlers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handlers.reserve(subs_.size());
      for (const auto& s : subs_) handlers.push_back(s.fn);
    }
    for (const auto& h : handlers)
      if (*h) (*h)(e);
  }

 private:
  struct sub {
    std::uint64_t id;
    std::shared_ptr<event_handler> fn;
  };
  mutable std::mutex mu_;
  std::uint64_t next_id_ = 0;
  std::vector<sub> subs_;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_EVENTS_HPP
