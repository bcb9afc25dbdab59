// SPDX-License-Identifier: Apache-2.0
#include <slotguard/watchdog.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace sg = slotguard;
using namespace std::chrono_literals;

TEST_CASE("manual_clock moves only when advanced, both times together", "[watchdog.clock]") {
  sg::manual_clock c(1700000000);
  const auto t0 = c.now();
  CHECK(c.unix_seconds() == 1700000000);
  CHECK(c.now() == t0);
  c.advance(90s);
  CHECK(c.now() - t0 == std::chrono::duration_cast<sg::time_source::duration>(90s));
  CHECK(c.unix_seconds() == 1700000090);
  c.set_unix_seconds(5);
  CHECK(c.unix_seconds() == 5);
  CHECK(c.now() - t0 == std::chrono::duration_cast<sg::time_source::duration>(90s));

  const sg::time_source& real = sg::real_clock();
  const auto a = real.now();
  CHECK(real.now() >= a);
  CHECK(real.unix_seconds() > 1600000000);
}

TEST_CASE("an armed watchdog expires once at its deadline when polled", "[watchdog.poll]") {
  sg::manual_clock c;
  std::vector<std::uint64_t> fired;
  sg::watchdog w(c, 10s, [&](std::uint64_t id) { fired.push_back(id); });

  CHECK_FALSE(w.armed());
  CHECK_FALSE(w.poll());  // disarmed: never fires
  c.advance(1h);
  CHECK_FALSE(w.poll());

  const auto id = w.arm();
  CHECK(id != 0);
  CHECK(w.armed());
  CHECK(w.deadline() == c.now() + std::chrono::duration_cast<sg::time_source::duration>(10s));
  c.advance(9s);
  CHECK_FALSE(w.poll());
  CHECK(fired.empty());
  c.advance(1s);  // exactly at the deadline
  CHECK(w.poll());
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == id);
  CHECK_FALSE(w.armed());
  c.advance(1h);
  CHECK_FALSE(w.poll());
  CHECK(fired.size() == 1);
}

TEST_CASE("feed pushes the deadline forward, disarm cancels it", "[watchdog.poll]") {
  sg::manual_clock c;
  int fired = 0;
  sg::watchdog w(c, 10s, [&](std::uint64_t) { ++fired; });
  CHECK_FALSE(w.feed());  // not armed
  (void)w.arm();
  for (int i = 0; i < 100; ++i) {
    c.advance(9s);
    CHECK(w.feed());
    CHECK_FALSE(w.poll());
  }
  CHECK(fired == 0);
  c.advance(10s);
  CHECK(w.poll());
  CHECK(fired == 1);

  (void)w.arm();
  w.disarm();
  c.advance(1h);
  CHECK_FALSE(w.poll());
  CHECK(fired == 1);

  // A new timeout applies from the next feed.
  (void)w.arm();
  w.set_timeout(2s);
  CHECK(w.timeout() == std::chrono::duration_cast<sg::time_source::duration>(2s));
  CHECK(w.feed());
  c.advance(2s);
  CHECK(w.poll());
  CHECK(fired == 2);
}

TEST_CASE("the callback may re-arm the watchdog", "[watchdog.poll]") {
  sg::manual_clock c;
  int fired = 0;
  sg::watchdog* self = nullptr;
  sg::watchdog w(c, 5s, [&](std::uint64_t) {
    ++fired;
    if (fired < 3) (void)self->arm();
  });
  self = &w;
  (void)w.arm();
  for (int i = 0; i < 10; ++i) {
    c.advance(5s);
    (void)w.poll();
  }
  CHECK(fired == 3);
}

TEST_CASE("the watchdog thread notices a manual deadline within a tick", "[watchdog.thread]") {
  sg::manual_clock c;
  std::mutex mu;
  std::condition_variable cv;
  int fired = 0;
  sg::watchdog w(c, 10s, [&](std::uint64_t) {
    std::lock_guard<std::mutex> lock(mu);
    ++fired;
    cv.notify_all();
  });
  REQUIRE(w.start(1ms));
  CHECK(w.running());
  CHECK(w.start(1ms).error() == sg::errc::already_exists);
  (void)w.arm();
  c.advance(10s);
  {
    std::unique_lock<std::mutex> lock(mu);
    CHECK(cv.wait_for(lock, 30s, [&] { return fired == 1; }));
  }
  w.stop();
  CHECK_FALSE(w.running());
  CHECK(fired == 1);
}

TEST_CASE("on the real clock, silence expires the watchdog after the timeout", "[watchdog.thread]") {
  const auto timeout = 150ms;
  const auto tick = 10ms;
  std::mutex mu;
  std::condition_variable cv;
  bool fired = false;
  std::chrono::steady_clock::time_point fired_at;
  sg::watchdog w(sg::real_clock(), timeout, [&](std::uint64_t) {
    std::lock_guard<std::mutex> lock(mu);
    fired = true;
    fired_at = std::chrono::steady_clock::now();
    cv.notify_all();
  });
  REQUIRE(w.start(tick));
  const auto start = std::chrono::steady_clock::now();
  (void)w.arm();
  std::unique_lock<std::mutex> lock(mu);
  REQUIRE(cv.wait_for(lock, 30s, [&] { return fired; }));
  // Never early; the upper bound (timeout + one tick) is a scheduling matter
  // on a loaded machine, so only a generous bound is asserted.
  CHECK(fired_at - start >= timeout);
  CHECK(fired_at - start < timeout + tick + 10s);
}
