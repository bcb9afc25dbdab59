// SPDX-License-Identifier: Apache-2.0
// The trial (part of slotguard/guard.hpp): heartbeats, the watchdog's
// deadline, the probation that commits, and the reverts (watchdog silence,
// report_unhealthy()). The watchdog's tick and poll() also mark a run healthy
// for the crash-streak breaker and try again what a storage error left due.
// Invariants kept here:
//  - A trial not confirmed within its watchdog time is reverted and its
//    sequence quarantined (design invariant 5; the store's revert() writes
//    both in one record).
//  - Heartbeats never wait for storage, and a passed watchdog deadline
//    always reverts (invariant 10): heartbeat() takes no guard lock while the
//    trial is in good standing, a late heartbeat never forgives silence, and
//    a revert that could not be written stays due.
//  - The commit is the watchdog's work (its tick, or poll()), never a
//    heartbeat's, and only of a trial whose stored content still checks out.
//    The watchdog's thread never waits for io_mu_ to commit or mark a run
//    healthy, only to revert a passed deadline.
// Defines members of the guard's core (detail/guard_core.hpp). Included at
// the end of slotguard/guard.hpp; it includes guard_core.hpp, so it also
// compiles on its own.
#ifndef SLOTGUARD_DETAIL_GUARD_TRIAL_HPP
#define SLOTGUARD_DETAIL_GUARD_TRIAL_HPP

#include <slotguard/detail/guard_core.hpp>

#include <string>
#include <string_view>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

inline void detail::guard_core::heartbeat() SLOTGUARD_EXCLUDES(io_mu_) {
  last_heartbeat_.store(opts_.time->now().time_since_epoch().count(), std::memory_order_release);
  if (!trial_live_.load(std::memory_order_acquire)) return;
  if (wd_.feed()) return;
  // Not fed: disarmed (the trial just ended) or the deadline has passed,
  // which reverts, never forgiven.
  if (wd_.expired()) (void)wd_.poll();
}

inline result<void> detail::guard_core::report_unhealthy(std::string_view reason) {
  return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
    SLOTGUARD_TRY(writable_locked());
    if (!trial_running_locked()) return errc::no_trial;
    return revert_locked(revert_reason::unhealthy, std::string(reason));
  });
}

inline void detail::guard_core::poll() SLOTGUARD_EXCLUDES(io_mu_) {
  (void)wd_.poll();
  maintain(true);
  serve_operator_requests();
}

inline void detail::guard_core::start_trial_clock_locked() SLOTGUARD_REQUIRES(io_mu_) {
  const auto now = opts_.time->now();
  {
    detail::scoped_lock lock(mu_);
    trial_start_ = now;
  }
  last_heartbeat_.store(now.time_since_epoch().count(), std::memory_order_release);
  if (!opts_.operator_mode && !read_only_) arm_id_ = wd_.arm();
}

// The watchdog's tick and poll(): commits a trial whose probation is over
// while heartbeats flow, and marks this start healthy once heartbeats have
// flowed for healthy_uptime. From the watchdog's thread (blocking false)
// it never waits for io_mu_: a busy guard is tried again next tick.
inline void detail::guard_core::maintain(bool blocking) SLOTGUARD_EXCLUDES(io_mu_) {
  if (opts_.operator_mode || read_only_) return;
  const bool trial = trial_live_.load(std::memory_order_acquire);
  const bool need_mark = !healthy_.load(std::memory_order_acquire) && opts_.safe_streak != 0;
  const bool due = revert_due_.load(std::memory_order_acquire) || reload_due_.load(std::memory_order_acquire) ||
                   sweep_due_->load(order::acquire);
  if (!trial && !need_mark && !due) return;
  if (blocking) {
    io_mu_.lock();
  } else if (!io_mu_.try_lock()) {
    return;
  }
  maintain_locked();
  io_mu_.unlock();
  deliver();
}

inline void detail::guard_core::maintain_locked() SLOTGUARD_REQUIRES(io_mu_) {
  sweep_locked();
  if (reload_due_.load(std::memory_order_acquire)) {
    // A read failed while what readers are served changed: try again.
    reload_active_locked();
  }
  if (revert_due_.load(std::memory_order_acquire)) {
    // Only the trial whose deadline passed; one that replaced it since has
    // its own watchdog.
    if (!trial_running_locked() || active_sequence_locked() != revert_due_seq_ ||
        revert_locked(revert_reason::watchdog_timeout, "no heartbeat within the watchdog timeout"))
      revert_due_.store(false, std::memory_order_release);
    else
      return;
  }
  const auto now = opts_.time->now();
  const auto beat = time_source::time_point(duration(last_heartbeat_.load(std::memory_order_acquire)));
  const bool beating = now - beat < opts_.watchdog_timeout;
  if (trial_running_locked() && !stopped_) {
    time_source::time_point started;
    {
      detail::scoped_lock lock(mu_);
      started = trial_start_;
    }
    // A passed deadline reverts (through the watchdog), never commits.
    if (beating && now - started >= opts_.probation && wd_.armed() && !wd_.expired()) {
      auto intact = check_trial_slot_locked();
      if (intact) {
        (void)commit_locked();
      } else if (!is_storage_error(intact.error())) {
        (void)revert_locked(revert_reason::unhealthy, "the trial's stored content is damaged");
      }
      // (a storage error says nothing of the content: tried again next time)
    }
  }
  if (!healthy_.load(std::memory_order_acquire) && opts_.safe_streak != 0 && !stopped_ && beating &&
      now - opened_at_ >= opts_.healthy_uptime) {
    if (store_->mark_healthy(served_committed_locked())) {
      healthy_.store(true, std::memory_order_release);
      refresh_view_locked();
    }
  }
}

// The trial's slot still holds what was staged (size and SHA-256).
inline result<void> detail::guard_core::check_trial_slot_locked() SLOTGUARD_REQUIRES(io_mu_) {
  const store_state& s = store_->state();
  if (!s.trial || !s.active) return errc::no_trial;
  auto bytes = store_->map(*s.active);
  if (!bytes) return bytes.error();
  return ok();
}

inline result<void> detail::guard_core::commit_locked() SLOTGUARD_REQUIRES(io_mu_) {
  const std::uint64_t seq = active_sequence_locked();
  SLOTGUARD_TRY(store_->commit());
  wd_.disarm();
  refresh_view_locked();
  post_locked(make_event_locked(event_kind::committed, seq, errc::ok));
  return ok();
}

inline result<void> detail::guard_core::revert_locked(revert_reason why, std::string detail) SLOTGUARD_REQUIRES(io_mu_) {
  const std::uint64_t seq = active_sequence_locked();
  SLOTGUARD_TRY(store_->revert());
  wd_.disarm();
  reload_active_locked();
  event e = make_event_locked(event_kind::reverted, seq, errc::ok, std::move(detail));
  e.reason = why;
  post_locked(std::move(e));
  return ok();
}

inline void detail::guard_core::on_expire(std::uint64_t id) SLOTGUARD_EXCLUDES(io_mu_) {
  {
    detail::scoped_lock lock(io_mu_);
    // A stale expiry (the trial it armed for has ended or was replaced).
    if (id != arm_id_ || !trial_running_locked()) return;
    // The revert could not be written (a storage error): it stays due,
    // and every poll() and watchdog tick tries it again; the trial is
    // never committed meanwhile (the watchdog is disarmed).
    if (!revert_locked(revert_reason::watchdog_timeout, "no heartbeat within the watchdog timeout")) {
      revert_due_seq_ = active_sequence_locked();
      revert_due_.store(true, std::memory_order_release);
    }
  }
  deliver();
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_TRIAL_HPP
