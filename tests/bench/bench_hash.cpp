// SPDX-License-Identifier: Apache-2.0
// Throughput of slotguard's SHA-256 (every available path) and CRC-32C (every
// available path) over a 256 MiB file of random bytes, read in large chunks,
// and over the same bytes in memory; in the same run, `openssl dgst -sha256`
// and `sha256sum` on the same file, timed as whole commands. Prints the
// median of several runs of each and the ratios the design targets name.
//
//   bench_hash [runs] [MiB]      (defaults: 7 runs, 256 MiB)
#include <slotguard/crc.hpp>
#include <slotguard/ed25519.hpp>
#include <slotguard/hash.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <sys/resource.h>
#endif

using namespace slotguard;

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// CPU seconds (user + system) used so far by this process and by its waited-
// for children. On a shared machine wall time swings with other load; CPU
// time mostly does not, so both are reported.
struct cpu_times {
  double self = 0;
  double children = 0;
};

cpu_times cpu_now() {
  cpu_times t;
#if !defined(_WIN32)
  rusage u{};
  auto secs = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  if (getrusage(RUSAGE_SELF, &u) == 0) t.self = secs(u.ru_utime) + secs(u.ru_stime);
  if (getrusage(RUSAGE_CHILDREN, &u) == 0) t.children = secs(u.ru_utime) + secs(u.ru_stime);
#endif
  return t;
}

struct rate {
  double wall = -1;  // MB/s by wall clock (median)
  double cpu = -1;   // MB/s by CPU time (median); -1 where not measurable
};

// Runs f `runs` times; returns the median MB/s for `bytes` bytes per run.
// `child` says whether the work happens in a child process.
rate measure(int runs, std::size_t bytes, bool child, const std::function<bool()>& f) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const cpu_times c0 = cpu_now();
    const auto t0 = clock_type::now();
    if (!f()) return {};
    const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
    const cpu_times c1 = cpu_now();
    const double cs = child ? c1.children - c0.children : c1.self - c0.self;
    wall.push_back(static_cast<double>(bytes) / 1e6 / s);
    if (cs > 0) cpu.push_back(static_cast<double>(bytes) / 1e6 / cs);
  }
  rate r;
  r.wall = median(wall);
  if (cpu.size() == wall.size()) r.cpu = median(cpu);
  return r;
}

// One thing timed, in rounds with the others (see measure_interleaved).
struct contender {
  std::string name;
  bool child = false;  // the work happens in a child process
  std::function<bool()> f;
  std::vector<double> wall, cpu;
  bool failed = false;
};

// Runs every contender once per round for `runs` rounds, so that a slow
// spell of a shared machine falls on all of them alike rather than on
// whichever was being timed then; each gets the median of its rounds.
void measure_interleaved(int runs, std::size_t bytes, std::vector<contender>& cs) {
  for (int i = 0; i < runs; ++i) {
    for (contender& c : cs) {
      if (c.failed) continue;
      const cpu_times c0 = cpu_now();
      const auto t0 = clock_type::now();
      if (!c.f()) {
        c.failed = true;
        continue;
      }
      const double s = std::chrono::duration<double>(clock_type::now() - t0).count();
      const cpu_times c1 = cpu_now();
      const double cs_ = c.child ? c1.children - c0.children : c1.self - c0.self;
      c.wall.push_back(static_cast<double>(bytes) / 1e6 / s);
      if (cs_ > 0) c.cpu.push_back(static_cast<double>(bytes) / 1e6 / cs_);
    }
  }
}

rate result_of(const contender& c) {
  rate r;
  if (c.failed || c.wall.empty()) return r;
  r.wall = median(c.wall);
  if (c.cpu.size() == c.wall.size()) r.cpu = median(c.cpu);
  return r;
}

volatile std::uint32_t sink;  // keeps results alive

template <class Consume>
bool read_file(const std::filesystem::path& p, std::vector<std::uint8_t>& chunk, Consume consume) {
  std::FILE* f = std::fopen(p.string().c_str(), "rb");
  if (!f) return false;
  std::setvbuf(f, nullptr, _IONBF, 0);
  for (;;) {
    const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), f);
    if (n == 0) break;
    consume(byte_view(chunk.data(), n));
  }
  std::fclose(f);
  return true;
}

void row(const char* name, rate r) {
  if (r.wall < 0) {
    std::printf("  %-40s %14s\n", name, "failed");
    return;
  }
  if (r.cpu > 0)
    std::printf("  %-40s %9.0f MB/s wall %9.0f MB/s cpu\n", name, r.wall, r.cpu);
  else
    std::printf("  %-40s %9.0f MB/s wall\n", name, r.wall);
}

void ratio(const char* name, rate a, rate b, const char* target) {
  if (a.wall < 0 || b.wall < 0) {
    std::printf("  %-34s not measured (path or tool missing)\n", name);
    return;
  }
  std::printf("  %-34s %.2fx wall", name, a.wall / b.wall);
  if (a.cpu > 0 && b.cpu > 0) std::printf(", %.2fx cpu", a.cpu / b.cpu);
  std::printf("  (target %s)\n", target);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 7;
  const std::size_t mib = argc > 2 ? static_cast<std::size_t>(std::max(1, std::atoi(argv[2]))) : 256;
  const std::size_t size = mib << 20;

  std::error_code ec;
  const auto dir = std::filesystem::temp_directory_path() /
                   ("slotguard-bench-hash-" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir, ec);
  const auto file = dir / "random.bin";

  std::vector<std::uint8_t> data(size);
  std::uint64_t x = 0x9E3779B97F4A7C15ull ^ std::random_device{}();
  for (std::size_t i = 0; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    detail::store_le64(data.data() + i, x);
  }
  {
    std::FILE* f = std::fopen(file.string().c_str(), "wb");
    if (!f || std::fwrite(data.data(), 1, size, f) != size || std::fclose(f) != 0) {
      std::fprintf(stderr, "cannot write %s\n", file.string().c_str());
      return 1;
    }
  }

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("slotguard bench_hash: %zu MiB of random bytes, median of %d runs\n", mib, runs);
  std::printf("wall = elapsed time; cpu = user+system CPU time of the work (of the child for commands)\n");
  std::printf("file: %s\n\n", file.string().c_str());
  // 64 KiB reads: large enough that system calls cost little, small enough
  // that each chunk is still in cache when it is hashed (1 MiB reads measured
  // about 25% slower here).
  std::vector<std::uint8_t> chunk(64 << 10);

  std::printf("SHA-256 (every path and both peers timed in turn, round after round)\n");
  std::vector<contender> sha;
  for (sha256_impl impl : {sha256_impl::portable, sha256_impl::sha_ni, sha256_impl::armv8}) {
    if (!is_available(impl)) continue;
    contender from_file;
    from_file.name = std::string("slotguard ") + to_string(impl) + " (file, 64 KiB reads)";
    from_file.f = [&, impl] {
      sha256 h(impl);
      const bool ok = read_file(file, chunk, [&](byte_view b) { h.update(b); });
      sink = h.finish()[0];
      return ok;
    };
    contender in_mem;
    in_mem.name = std::string("slotguard ") + to_string(impl) + " (memory)";
    in_mem.f = [&, impl] {
      sink = sha256_of(impl, data)[0];
      return true;
    };
    sha.push_back(std::move(from_file));
    sha.push_back(std::move(in_mem));
  }
  const std::string quoted = "'" + file.string() + "'";
  bool have_openssl = false, have_sha256sum = false;
  if (std::system("command -v openssl >/dev/null 2>&1") == 0) {
    have_openssl = true;
    sha.push_back({"openssl dgst -sha256 FILE", true, [&] {
                     return std::system(("openssl dgst -sha256 " + quoted + " >/dev/null").c_str()) == 0;
                   }, {}, {}, false});
  }
  if (std::system("command -v sha256sum >/dev/null 2>&1") == 0) {
    have_sha256sum = true;
    sha.push_back({"sha256sum FILE", true, [&] {
                     return std::system(("sha256sum " + quoted + " >/dev/null").c_str()) == 0;
                   }, {}, {}, false});
  }
  measure_interleaved(runs, size, sha);
  auto find = [&](const std::string& name) {
    for (const contender& c : sha)
      if (c.name == name) return result_of(c);
    return rate{};
  };
  for (sha256_impl impl : {sha256_impl::portable, sha256_impl::sha_ni, sha256_impl::armv8})
    if (!is_available(impl)) std::printf("  %-40s %14s\n", (std::string("slotguard ") + to_string(impl)).c_str(), "n/a");
  for (const contender& c : sha) row(c.name.c_str(), result_of(c));
  const rate portable_file = find("slotguard portable (file, 64 KiB reads)");
  const rate portable_mem = find("slotguard portable (memory)");
  const rate shani_file = find("slotguard sha_ni (file, 64 KiB reads)");
  const rate shani_mem = find("slotguard sha_ni (memory)");
  const rate openssl = have_openssl ? find("openssl dgst -sha256 FILE") : rate{};
  const rate sha256sum = have_sha256sum ? find("sha256sum FILE") : rate{};

  std::printf("\nCRC-32C\n");
  rate sse42_mem;
  for (crc32c_impl impl : {crc32c_impl::portable, crc32c_impl::sse42}) {
    if (!is_available(impl)) {
      std::printf("  %-40s %14s\n", (std::string("slotguard ") + to_string(impl)).c_str(), "n/a");
      continue;
    }
    const rate from_file = measure(runs, size, false, [&] {
      std::uint32_t c = 0;
      const bool ok = read_file(file, chunk, [&](byte_view b) { c = crc32c(impl, b, c); });
      sink = c;
      return ok;
    });
    const rate in_mem = measure(runs, size, false, [&] {
      sink = crc32c(impl, data);
      return true;
    });
    row((std::string("slotguard ") + to_string(impl) + " (file, 64 KiB reads)").c_str(), from_file);
    row((std::string("slotguard ") + to_string(impl) + " (memory)").c_str(), in_mem);
    if (impl == crc32c_impl::sse42) sse42_mem = in_mem;
  }

  // Signatures, for scale: a bundle check is one verification.
  {
    ed25519_seed seed{};
    seed[0] = 1;
    const auto pk = ed25519_public_key_from_seed(seed);
    const byte_view msg(data.data(), 64);
    ed25519_signature sig{};
    const int n = 200;
    std::vector<double> sign_us, verify_us, sign_cpu, verify_cpu;
    for (int r = 0; r < runs; ++r) {
      cpu_times c0 = cpu_now();
      auto t0 = clock_type::now();
      for (int i = 0; i < n; ++i) sig = ed25519_sign(seed, msg);
      sign_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n);
      sign_cpu.push_back((cpu_now().self - c0.self) * 1e6 / n);
      c0 = cpu_now();
      t0 = clock_type::now();
      for (int i = 0; i < n; ++i) sink = ed25519_verify(pk, msg, sig).has_value() ? 1u : 0u;
      verify_us.push_back(std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / n);
      verify_cpu.push_back((cpu_now().self - c0.self) * 1e6 / n);
    }
    std::printf("\nEd25519 (64-byte message)\n");
    std::printf("  %-40s %9.1f us wall %9.1f us cpu\n", "sign", median(sign_us), median(sign_cpu));
    std::printf("  %-40s %9.1f us wall %9.1f us cpu\n", "verify", median(verify_us), median(verify_cpu));
  }

  std::printf("\nRatios (targets in brackets)\n");
  ratio("SHA-NI (file) / openssl dgst", shani_file, openssl, ">= 0.90x");
  ratio("SHA-NI (memory) / openssl dgst", shani_mem, openssl, ">= 0.90x");
  ratio("portable (file) / sha256sum", portable_file, sha256sum, ">= 1.00x");
  ratio("portable (memory) / sha256sum", portable_mem, sha256sum, ">= 1.00x");
  if (sse42_mem.wall > 0) {
    std::printf("  %-34s %.1f GB/s wall", "CRC-32C SSE4.2 (memory)", sse42_mem.wall / 1000);
    if (sse42_mem.cpu > 0) std::printf(", %.1f GB/s cpu", sse42_mem.cpu / 1000);
    std::printf("  (target >= 8 GB/s)\n");
  } else {
    std::printf("  CRC-32C SSE4.2: not available\n");
  }

  std::filesystem::remove_all(dir, ec);
  return 0;
}
