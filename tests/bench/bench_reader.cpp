// SPDX-License-Identifier: Apache-2.0
// Reader hot path: ns per call of snapshot_reader::get() with 1 and 2 reader
// threads while a writer publishes a new snapshot 1,000 times a second,
// beside two peers measured in the same run: a mutex-guarded shared_ptr copy
// and std::atomic_load of a shared_ptr. Prints the median of several runs per
// configuration and the ratios.
//
//   bench_reader [runs=7] [ms_per_run=300]
#include <slotguard/snapshot.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#if !defined(_WIN32)
#include <time.h>
#endif

namespace sg = slotguard;

namespace {

struct content {
  explicit content(std::uint64_t v) : value(v) {}
  std::uint64_t value;
  char pad[56] = {};
};

enum class method { reader, mutex_copy, atomic_load };

const char* name(method m) {
  switch (m) {
    case method::reader:
      return "snapshot_reader::get()";
    case method::mutex_copy:
      return "mutex + shared_ptr copy";
    case method::atomic_load:
      return "std::atomic_load(shared_ptr)";
  }
  return "?";
}

// CPU time of the calling thread, where the system offers it: on a machine
// shared with other work, wall time per call also counts the time a reader
// waited for a core, which says nothing about the method.
bool thread_cpu_ns(std::int64_t& ns) {
#if !defined(_WIN32) && defined(CLOCK_THREAD_CPUTIME_ID)
  timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return false;
  ns = static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
  return true;
#else
  (void)ns;
  return false;
#endif
}

struct sample {
  double wall_ns = 0;  // per call, wall time
  double cpu_ns = 0;   // per call, the reader thread's CPU time (0 if unknown)
};

template <method M, class Reader, class Guarded>
inline std::uint64_t one_call(Reader& r, std::mutex& mu, const Guarded& guarded, const Guarded& atomic_ptr) {
  if constexpr (M == method::reader) {
    (void)mu;
    (void)guarded;
    (void)atomic_ptr;
    return r.get()->value;
  } else if constexpr (M == method::mutex_copy) {
    (void)r;
    (void)atomic_ptr;
    Guarded p;
    {
      std::lock_guard<std::mutex> lock(mu);
      p = guarded;
    }
    return p->value;
  } else {
    (void)r;
    (void)mu;
    (void)guarded;
    Guarded p = std::atomic_load(&atomic_ptr);
    return p->value;
  }
}

// One run: `threads` readers call the method as fast as they can for `ms`
// milliseconds while a writer swaps every millisecond. Returns ns per call
// (the mean over the reader threads) and the writer's swap count.
sample run_once(method m, int threads, int ms, std::uint64_t& swaps_out) {
  sg::snapshot_cell<content> cell(std::make_shared<const content>(0));
  std::mutex mu;
  std::shared_ptr<const content> guarded = std::make_shared<const content>(0);
  std::shared_ptr<const content> atomic_ptr = std::make_shared<const content>(0);

  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  std::vector<sample> samples(static_cast<std::size_t>(threads));
  std::atomic<std::uint64_t> sink{0};

  auto reader_loop = [&](auto tag, int idx) {
    constexpr method M = decltype(tag)::value;
    auto r = cell.make_reader();
    ready.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) {
    }
    std::uint64_t calls = 0;
    std::uint64_t sum = 0;
    std::int64_t cpu0 = 0, cpu1 = 0;
    const bool have_cpu = thread_cpu_ns(cpu0);
    const auto t0 = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      for (int k = 0; k < 256; ++k) sum += one_call<M>(r, mu, guarded, atomic_ptr);
      calls += 256;
    }
    const auto t1 = std::chrono::steady_clock::now();
    const bool have_cpu1 = have_cpu && thread_cpu_ns(cpu1);
    sample& out = samples[static_cast<std::size_t>(idx)];
    out.wall_ns =
        static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) /
        static_cast<double>(calls);
    out.cpu_ns = have_cpu1 ? static_cast<double>(cpu1 - cpu0) / static_cast<double>(calls) : 0.0;
    sink.fetch_add(sum);
  };
  auto reader = [&](int idx) {
    switch (m) {
      case method::reader:
        reader_loop(std::integral_constant<method, method::reader>(), idx);
        break;
      case method::mutex_copy:
        reader_loop(std::integral_constant<method, method::mutex_copy>(), idx);
        break;
      case method::atomic_load:
        reader_loop(std::integral_constant<method, method::atomic_load>(), idx);
        break;
    }
  };

  std::vector<std::thread> ts;
  for (int i = 0; i < threads; ++i) ts.emplace_back(reader, i);
  while (ready.load() < threads) std::this_thread::yield();

  std::uint64_t swaps = 0;
  go.store(true, std::memory_order_release);
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::milliseconds(ms);
  auto next = start;
  while (std::chrono::steady_clock::now() < end) {
    next += std::chrono::milliseconds(1);
    std::this_thread::sleep_until(next);
    ++swaps;
    auto fresh = std::make_shared<const content>(swaps);
    switch (m) {
      case method::reader:
        cell.publish(std::move(fresh));
        break;
      case method::mutex_copy: {
        std::lock_guard<std::mutex> lock(mu);
        guarded = std::move(fresh);
        break;
      }
      case method::atomic_load:
        std::atomic_store(&atomic_ptr, std::move(fresh));
        break;
    }
  }
  stop.store(true);
  for (auto& t : ts) t.join();
  swaps_out = swaps;
  if (sink.load() == 42) std::puts("");  // keeps the reads alive
  sample mean;
  for (const sample& v : samples) {
    mean.wall_ns += v.wall_ns / threads;
    mean.cpu_ns += v.cpu_ns / threads;
  }
  return mean;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const int ms = argc > 2 ? std::max(10, std::atoi(argv[2])) : 300;
  std::printf("reader get() vs peers, writer swapping 1000/s; median of %d runs of %d ms\n", runs, ms);
  std::printf("hardware threads: %u\n", std::thread::hardware_concurrency());
  std::printf("ns/call: per reader thread; cpu = the thread's CPU time (0 when the system has no\n"
              "per-thread clock), wall = elapsed time, which also counts waiting for a core\n\n");
  std::printf("%-30s %8s %12s %12s %10s\n", "method", "threads", "cpu ns/call", "wall ns/call", "swaps/s");

  const method methods[] = {method::reader, method::mutex_copy, method::atomic_load};
  double cpu[3][2] = {};
  double wall[3][2] = {};
  for (int t = 1; t <= 2; ++t) {
    for (int mi = 0; mi < 3; ++mi) {
      std::vector<double> c, w, rates;
      for (int r = 0; r < runs; ++r) {
        std::uint64_t swaps = 0;
        const sample s = run_once(methods[mi], t, ms, swaps);
        c.push_back(s.cpu_ns);
        w.push_back(s.wall_ns);
        rates.push_back(static_cast<double>(swaps) * 1000.0 / ms);
      }
      cpu[mi][t - 1] = median(c);
      wall[mi][t - 1] = median(w);
      std::printf("%-30s %8d %12.2f %12.2f %10.0f\n", name(methods[mi]), t, cpu[mi][t - 1], wall[mi][t - 1],
                  median(rates));
    }
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::printf("\nratios (peer / get()), cpu and wall:\n");
  for (int t = 1; t <= 2; ++t) {
    std::printf("  %d thread(s): mutex copy %.1fx / %.1fx, atomic_load %.1fx / %.1fx\n", t,
                ratio(cpu[1][t - 1], cpu[0][t - 1]), ratio(wall[1][t - 1], wall[0][t - 1]),
                ratio(cpu[2][t - 1], cpu[0][t - 1]), ratio(wall[2][t - 1], wall[0][t - 1]));
  }
  std::printf("get() 2 threads / 1 thread: cpu %.2f, wall %.2f (1.00 = flat)\n", ratio(cpu[0][1], cpu[0][0]),
              ratio(wall[0][1], wall[0][0]));
  return 0;
}
