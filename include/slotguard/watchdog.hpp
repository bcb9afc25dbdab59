// SPDX-License-Identifier: Apache-2.0
// The watchdog that takes a trial back when the host stops reporting, on the
// injectable time of slotguard/time_source.hpp. The watchdog holds a deadline
// that feed() pushes forward and calls back once when it passes: checked by a
// thread of its own that wakes every tick, or, for hosts that allow no
// threads, whenever the host calls poll().
#ifndef SLOTGUARD_WATCHDOG_HPP
#define SLOTGUARD_WATCHDOG_HPP

#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/time_source.hpp>
#include <slotguard/detail/thread_annotations.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// time_source, steady_clock_source, real_clock(), manual_clock:
// slotguard/time_source.hpp.

// A deadline that expires unless fed. While armed, the deadline is the last
// arm()/feed() time plus the timeout; the first check at or after it disarms
// the watchdog and calls the expiry callback once, with the arm id of the
// arming that expired (so the callback can ignore an arming it has since
// replaced). A deadline that has passed is never pushed back: feed() refuses
// it, so expiry cannot be forgiven by a late feed, whoever checks first.
// The callback runs on the thread that checked (the watchdog's thread, or
// the host's poll()), never under the watchdog's lock, so it may call arm(),
// feed(), disarm() or stop(); it must not destroy the watchdog. An optional
// tick callback runs on the watchdog's thread after every check.
class watchdog {
 public:
  using duration = time_source::duration;
  using time_point = time_source::time_point;
  using callback = std::function<void(std::uint64_t arm_id)>;
  using tick_callback = std::function<void()>;

  // Requires timeout > 0. c must outlive the watchdog.
  watchdog(const time_source& c, duration timeout, callback on_expire, tick_callback on_tick = {})
      : clock_(&c), timeout_(timeout), on_expire_(std::move(on_expire)), on_tick_(std::move(on_tick)) {
    SLOTGUARD_ASSERT(timeout.count() > 0);
  }
  watchdog(const watchdog&) = delete;
  watchdog& operator=(const watchdog&) = delete;
  ~watchdog() { stop(); }

  // Starts a deadline of now + timeout; returns the new arm id (never 0).
  std::uint64_t arm() {
    detail::scoped_lock lock(mu_);
    armed_ = true;
    deadline_ = clock_->now() + timeout_;
    return ++arm_id_;
  }
  // Changes the timeout for later arm()/feed() calls. Requires timeout > 0.
  void set_timeout(duration timeout) {
    SLOTGUARD_ASSERT(timeout.count() > 0);
    detail::scoped_lock lock(mu_);
    timeout_ = timeout;
  }
  // Pushes the deadline to now + timeout. Returns false, changing nothing,
  // when not armed or when the deadline has already passed (the expiry is
  // then due: the next poll() reports it).
  bool feed() {
    detail::scoped_lock lock(mu_);
    if (!armed_) return false;
    const time_point now = clock_->now();
    if (now >= deadline_) return false;
    deadline_ = now + timeout_;
    return true;
  }
  void disarm() {
    detail::scoped_lock lock(mu_);
    armed_ = false;
  }
  bool armed() const {
    detail::scoped_lock lock(mu_);
    return armed_;
  }
  // Armed and the deadline has passed: the next poll() fires.
  bool expired() const {
    detail::scoped_lock lock(mu_);
    return armed_ && clock_->now() >= deadline_;
  }
  // Requires armed().
  time_point deadline() const {
    detail::scoped_lock lock(mu_);
    return deadline_;
  }
  duration timeout() const {
    detail::scoped_lock lock(mu_);
    return timeout_;
  }

  // Checks the deadline now. If armed and now >= deadline: disarms, calls the
  // callback and returns true. Otherwise returns false.
  bool poll() {
    std::uint64_t id = 0;
    {
      detail::scoped_lock lock(mu_);
      if (!armed_ || clock_->now() < deadline_) return false;
      armed_ = false;
      id = arm_id_;
    }
    if (on_expire_) on_expire_(id);
    return true;
  }

  // Runs poll() (then the tick callback) on a thread of its own every tick
  // (real time), so expiry is noticed within one tick of the deadline.
  // Requires tick > 0. Returns already_exists if the thread runs, and
  // out_of_memory when the thread cannot be created (never throws).
  result<void> start(duration tick) {
    SLOTGUARD_ASSERT(tick.count() > 0);
    detail::scoped_lock lock(thread_mu_);
    if (thread_.joinable()) return errc::already_exists;
    {
      std::lock_guard<std::mutex> l(wake_mu_);
      stop_ = false;
    }
#if SLOTGUARD_CONFIG_NO_EXCEPTIONS
    thread_ = std::thread([this, tick] { run(tick); });
#else
    try {
      thread_ = std::thread([this, tick] { run(tick); });
    } catch (...) {
      return errc::out_of_memory;
    }
#endif
    return ok();
  }
  // Stops the thread, if any, and joins it. Called from the watchdog's own
  // thread (from a callback), it only asks the thread to stop after the
  // callback returns; a later stop() or the destructor joins it.
  void stop() {
    detail::scoped_lock lock(thread_mu_);
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> l(wake_mu_);
      stop_ = true;
    }
    wake_.notify_all();
    if (thread_.get_id() == std::this_thread::get_id()) return;
    thread_.join();
  }
  bool running() const {
    detail::scoped_lock lock(thread_mu_);
    return thread_.joinable();
  }
  // The calling thread is the watchdog's own.
  bool on_own_thread() const {
    detail::scoped_lock lock(thread_mu_);
    return thread_.joinable() && thread_.get_id() == std::this_thread::get_id();
  }

 private:
  void run(duration tick) {
    std::unique_lock<std::mutex> lock(wake_mu_);
    while (!stop_) {
      wake_.wait_for(lock, tick, [this] { return stop_; });
      if (stop_) break;
      lock.unlock();
      (void)poll();
      if (on_tick_) on_tick_();
      lock.lock();
    }
  }

  const time_source* clock_;
  mutable detail::annotated_mutex mu_;
  duration timeout_ SLOTGUARD_GUARDED_BY(mu_);
  time_point deadline_ SLOTGUARD_GUARDED_BY(mu_){};
  bool armed_ SLOTGUARD_GUARDED_BY(mu_) = false;
  std::uint64_t arm_id_ SLOTGUARD_GUARDED_BY(mu_) = 0;
  callback on_expire_;
  tick_callback on_tick_;

  mutable detail::annotated_mutex thread_mu_;
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // guarded by wake_mu_ (a std::mutex: the condition variable needs one)
  std::thread thread_ SLOTGUARD_GUARDED_BY(thread_mu_);
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_WATCHDOG_HPP
