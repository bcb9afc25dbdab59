// SPDX-License-Identifier: Apache-2.0
#include <slotguard/snapshot.hpp>
#include <slotguard/detail/atomic_word.hpp>
#include <slotguard/detail/atomic_word_std.hpp>

#include "support.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

namespace sg = slotguard;

namespace {

std::atomic<int> g_live{0};

constexpr std::uint64_t live_magic = 0x5AFE5AFE5AFE5AFEull;

// A snapshot whose fields must agree with each other: a reader that saw a
// half-built, half-freed or torn snapshot would find them disagreeing.
struct content {
  explicit content(std::uint64_t v) : magic(live_magic), a(v), b(v * 3 + 1), data(16, v) {
    g_live.fetch_add(1);
  }
  content(const content&) = delete;
  content& operator=(const content&) = delete;
  ~content() {
    magic = 0;
    a = 1;
    b = 0;
    for (auto& d : data) d = ~d;
    g_live.fetch_sub(1);
  }
  bool whole() const {
    if (magic != live_magic || b != a * 3 + 1 || data.size() != 16) return false;
    for (auto d : data)
      if (d != a) return false;
    return true;
  }
  std::uint64_t magic;
  std::uint64_t a;
  std::uint64_t b;
  std::vector<std::uint64_t> data;
};

std::shared_ptr<const content> make(std::uint64_t v) { return std::make_shared<const content>(v); }

}  // namespace

TEST_CASE("a reader sees the initial snapshot, then each published one", "[snapshot.reader]") {
  sg::snapshot_cell<content> cell;
  auto r = cell.make_reader();
  CHECK(r.attached());
  CHECK(r.get() == nullptr);
  CHECK(cell.current() == nullptr);
  CHECK(cell.generation() == 0);

  CHECK(cell.publish(make(7)) == 1);
  const content* c = r.get();
  REQUIRE(c != nullptr);
  CHECK(c->a == 7);
  CHECK(r.generation() == 1);
  CHECK(r.get() == c);  // nothing changed: same object

  cell.publish(make(8));
  REQUIRE(r.get() != nullptr);
  CHECK(r.get()->a == 8);
  CHECK(r.generation() == 2);
  CHECK(cell.current()->a == 8);

  sg::snapshot_reader<content> detached;
  CHECK_FALSE(detached.attached());
  CHECK(detached.get() == nullptr);
}

TEST_CASE("an old snapshot lives while a reader holds it and is freed by the writer after",
          "[snapshot.lifetime]") {
  const int base = g_live.load();
  {
    sg::snapshot_cell<content> cell(make(1));
    auto r1 = cell.make_reader();
    auto r2 = cell.make_reader();
    REQUIRE(r1.get()->a == 1);
    REQUIRE(r2.get()->a == 1);

    cell.publish(make(2));
    // Both readers still cache snapshot 1: it must stay alive and whole.
    CHECK(g_live.load() == base + 2);
    CHECK(cell.reclaim() == 1);

    CHECK(r1.get()->a == 2);
    CHECK(cell.reclaim() == 1);  // r2 still holds 1
    CHECK(g_live.load() == base + 2);

    CHECK(r2.get()->a == 2);
    CHECK(cell.reclaim() == 0);
    CHECK(g_live.load() == base + 1);

    // A shared handle keeps its snapshot past the reader's next get().
    auto kept = r1.get_shared();
    cell.publish(make(3));
    CHECK(r1.get()->a == 3);
    CHECK(r2.get()->a == 3);
    CHECK(cell.reclaim() == 0);
    CHECK(kept->a == 2);
    CHECK(kept->whole());
    CHECK(g_live.load() == base + 2);
    kept.reset();
    CHECK(g_live.load() == base + 1);

    // A destroyed reader releases its pin.
    {
      auto r3 = cell.make_reader();
      CHECK(r3.get()->a == 3);
      cell.publish(make(4));
      CHECK(cell.reclaim() == 1);
    }
    (void)r1.get();
    (void)r2.get();
    CHECK(cell.reclaim() == 0);
    CHECK(g_live.load() == base + 1);
  }
  CHECK(g_live.load() == base);
}

TEST_CASE("a reader may outlive its cell", "[snapshot.lifetime]") {
  const int base = g_live.load();
  sg::snapshot_reader<content> r;
  {
    sg::snapshot_cell<content> cell(make(5));
    r = cell.make_reader();
    CHECK(r.get()->a == 5);
  }
  REQUIRE(r.get() != nullptr);
  CHECK(r.get()->whole());
  CHECK(r.get()->a == 5);
  r = sg::snapshot_reader<content>();
  CHECK(g_live.load() == base);
}

TEST_CASE("hazard records are reused by later readers", "[snapshot.reader]") {
  sg::snapshot_cell<content> cell(make(1));
  for (int i = 0; i < 1000; ++i) {
    auto r = cell.make_reader();
    CHECK(r.get()->a == static_cast<std::uint64_t>(i + 1));
    cell.publish(make(static_cast<std::uint64_t>(i + 2)));
  }
  CHECK(cell.reclaim() == 0);
}

TEST_CASE("readers always see one whole, live snapshot while a writer swaps continuously",
          "[snapshot.threads]") {
  const bool quick = slotguard_test::quick_mode();
  const std::uint64_t swaps = quick ? 2000 : 50000;
  if (quick) WARN("quick mode: " << swaps << " swaps instead of 50000");
  const int base = g_live.load();
  {
    sg::snapshot_cell<content> cell(make(0));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::atomic<std::uint64_t> reads{0};

    std::atomic<int> ready{0};
    auto reader_loop = [&] {
      auto r = cell.make_reader();
      std::uint64_t last = 0;
      std::uint64_t n = 0;
      ready.fetch_add(1);
      while (!done.load(std::memory_order_acquire)) {
        const content* c = r.get();
        if (c == nullptr || !c->whole() || c->a < last) bad.fetch_add(1);
        if (c != nullptr) last = c->a;
        ++n;
      }
      reads.fetch_add(n);
    };
    auto handle_loop = [&] {
      std::uint64_t last = 0;
      ready.fetch_add(1);
      while (!done.load(std::memory_order_acquire)) {
        auto h = cell.current();
        if (!h || !h->whole() || h->a < last) bad.fetch_add(1);
        if (h) last = h->a;
      }
    };

    std::vector<std::thread> threads;
    threads.emplace_back(reader_loop);
    threads.emplace_back(reader_loop);
    threads.emplace_back(handle_loop);
    // The swaps start once every reader runs (on a loaded machine a thread
    // may otherwise start after the writer is done).
    while (ready.load() < 3) std::this_thread::yield();
    for (std::uint64_t i = 1; i <= swaps; ++i) cell.publish(make(i));
    done.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();

    CHECK(bad.load() == 0);
    CHECK(reads.load() > 0);
    CHECK(cell.reclaim() == 0);
    // Only the current snapshot is left.
    CHECK(g_live.load() == base + 1);
    CHECK(cell.current()->a == swaps);
  }
  CHECK(g_live.load() == base);
}

TEST_CASE("readers come and go while a writer swaps", "[snapshot.threads]") {
  const bool quick = slotguard_test::quick_mode();
  const int rounds = quick ? 200 : 3000;
  if (quick) WARN("quick mode: " << rounds << " reader lifetimes instead of 3000");
  const int base = g_live.load();
  {
    sg::snapshot_cell<content> cell(make(0));
    std::atomic<bool> done{false};
    std::atomic<int> bad{0};
    std::thread writer([&] {
      std::uint64_t i = 1;
      while (!done.load(std::memory_order_acquire)) cell.publish(make(i++));
    });
    auto churn = [&] {
      for (int k = 0; k < rounds; ++k) {
        auto r = cell.make_reader();
        for (int j = 0; j < 20; ++j) {
          const content* c = r.get();
          if (c == nullptr || !c->whole()) bad.fetch_add(1);
        }
      }
    };
    std::thread a(churn);
    std::thread b(churn);
    a.join();
    b.join();
    done.store(true, std::memory_order_release);
    writer.join();
    CHECK(bad.load() == 0);
    CHECK(cell.reclaim() == 0);
    CHECK(g_live.load() == base + 1);
  }
  CHECK(g_live.load() == base);
}

TEST_CASE("the cell's generation is read without touching a node a publish may free",
          "[snapshot.threads][regression]") {
  // generation() used to read the current node unpinned: a publish between
  // the load and the read freed it (AddressSanitizer reported a heap use
  // after free). It now reads a counter of its own.
  sg::snapshot_cell<int> cell(std::make_shared<const int>(0));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; i <= 20000; ++i) cell.publish(std::make_shared<const int>(i));
    stop.store(true);
  });
  std::uint64_t last = 0;
  bool monotonic = true;
  while (!stop.load()) {
    const std::uint64_t g = cell.generation();
    monotonic = monotonic && g >= last;
    last = g;
  }
  writer.join();
  CHECK(monotonic);
  CHECK(cell.generation() == 20000);
}

// The readers' atomics (detail/atomic_word.hpp): the operations the snapshot
// and a schema's verified declarations use, against what std::atomic does;
// on the builtins and on the std::atomic implementation other compilers get.
struct builtin_words {
  template <class T>
  using word = sg::detail::atomic_word<T>;
};
struct std_words {
  template <class T>
  using word = sg::detail::std_atomic_word<T>;
};

TEMPLATE_TEST_CASE("the readers' atomic word: its operations, its alignment and its read-modify-writes under contention",
                   "[snapshot.atomic]", builtin_words, std_words) {
  using sg::detail::order;
  using word64 = typename TestType::template word<std::uint64_t>;
  // Aligned as std::atomic aligns the same word: an 8-byte integer is only
  // 4-aligned inside a structure on i686, where a load that straddles a
  // cache line is not atomic.
  STATIC_REQUIRE(alignof(word64) == alignof(std::atomic<std::uint64_t>));
  STATIC_REQUIRE(sizeof(word64) == sizeof(std::uint64_t));
  struct packed {
    std::uint32_t pad;
    word64 word;
  };
  STATIC_REQUIRE(offsetof(packed, word) % 8 == 0);

  word64 w{5};
  CHECK(w.load(order::acquire) == 5);
  CHECK(w.exchange(9, order::acq_rel) == 5);
  std::uint64_t expected = 5;
  CHECK_FALSE(w.compare_exchange_strong(expected, 11, order::acq_rel, order::acquire));
  CHECK(expected == 9);  // a failed exchange reports what it found
  CHECK(w.compare_exchange_strong(expected, 11, order::acq_rel, order::acquire));
  CHECK(w.load() == 11);
  w.store(3, order::release);
  CHECK(w.load(order::relaxed) == 3);
  typename TestType::template word<const void*> p;  // value-initialised, as std::atomic<T*>{} is
  CHECK(p.load(order::relaxed) == nullptr);

  // Two threads add by compare-exchange loops (weak and strong): a
  // read-modify-write that was not one atomic step would lose increments.
  constexpr std::uint64_t per_thread = 200000;
  word64 counter{0};
  auto add = [&](bool weak) {
    for (std::uint64_t i = 0; i < per_thread; ++i) {
      std::uint64_t seen = counter.load(order::relaxed);
      if (weak) {
        while (!counter.compare_exchange_weak(seen, seen + 1, order::acq_rel, order::relaxed)) {
        }
      } else {
        while (!counter.compare_exchange_strong(seen, seen + 1, order::acq_rel, order::relaxed)) {
        }
      }
    }
  };
  std::thread t1(add, true);
  std::thread t2(add, false);
  t1.join();
  t2.join();
  CHECK(counter.load() == 2 * per_thread);

  // A message passed through a release store and an acquire load arrives
  // whole (under ThreadSanitizer, a missing order is a reported race).
  std::uint64_t message = 0;
  typename TestType::template word<bool> ready{false};
  std::thread producer([&] {
    message = 42;
    ready.store(true, order::release);
  });
  while (!ready.load(order::acquire)) std::this_thread::yield();
  CHECK(message == 42);
  producer.join();
}
