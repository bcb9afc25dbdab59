// SPDX-License-Identifier: Apache-2.0
// Time, injectable. `time_source` is the interface every time-dependent part
// reads (a monotonic time for deadlines, a wall time for publication dates);
// `steady_clock_source` is the real one and `manual_clock` the one tests
// advance by hand, so no test has to sleep. Apart from the watchdog
// (slotguard/watchdog.hpp), so that guard_options costs a unit only this.
#ifndef SLOTGUARD_TIME_SOURCE_HPP
#define SLOTGUARD_TIME_SOURCE_HPP

#include <slotguard/config.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// The source of time. now() is monotonic (deadlines, probation); wall_now()
// is calendar time (a bundle's created/expires dates, rollout steps). Both
// must be safe to call from any thread.
class time_source {
 public:
  using duration = std::chrono::steady_clock::duration;
  using time_point = std::chrono::steady_clock::time_point;
  using wall_time_point = std::chrono::system_clock::time_point;

  virtual ~time_source() = default;
  virtual time_point now() const noexcept = 0;
  virtual wall_time_point wall_now() const noexcept = 0;

  // Calendar time as whole seconds since 1970-01-01 UTC (negative before).
  std::int64_t unix_seconds() const noexcept {
    return static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(wall_now().time_since_epoch()).count());
  }
};

// The operating system's clocks.
class steady_clock_source final : public time_source {
 public:
  time_point now() const noexcept override { return std::chrono::steady_clock::now(); }
  wall_time_point wall_now() const noexcept override { return std::chrono::system_clock::now(); }
};

// A process-wide real clock, for options that default to real time.
inline time_source& real_clock() noexcept {
  static steady_clock_source instance;
  return instance;
}

// A clock that moves only when told to. Both times advance together. Safe to
// read and advance from different threads.
class manual_clock final : public time_source {
 public:
  // Starts at a steady time of 1 hour (so that "now - timeout" stays positive)
  // and at the given calendar time in Unix seconds.
  explicit manual_clock(std::int64_t unix_start = 1700000000) noexcept
      : ticks_(std::chrono::duration_cast<duration>(std::chrono::hours(1)).count()),
        wall_ticks_(std::chrono::duration_cast<wall_duration>(std::chrono::seconds(unix_start)).count()) {}

  time_point now() const noexcept override {
    return time_point(duration(ticks_.load(std::memory_order_acquire)));
  }
  wall_time_point wall_now() const noexcept override {
    return wall_time_point(wall_duration(wall_ticks_.load(std::memory_order_acquire)));
  }

  // Moves both times forward by d (d >= 0).
  void advance(duration d) noexcept {
    SLOTGUARD_ASSERT(d.count() >= 0);
    ticks_.fetch_add(d.count(), std::memory_order_acq_rel);
    wall_ticks_.fetch_add(std::chrono::duration_cast<wall_duration>(d).count(),
                          std::memory_order_acq_rel);
  }
  // Sets the calendar time only (a wall clock may jump; the steady one never
  // goes back).
  void set_unix_seconds(std::int64_t s) noexcept {
    wall_ticks_.store(std::chrono::duration_cast<wall_duration>(std::chrono::seconds(s)).count(),
                      std::memory_order_release);
  }

 private:
  using wall_duration = wall_time_point::duration;
  std::atomic<duration::rep> ticks_;
  std::atomic<wall_duration::rep> wall_ticks_;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_TIME_SOURCE_HPP
