// SPDX-License-Identifier: Apache-2.0
// Verifying a bundle against hashing its payload alone. A 256 MiB payload is
// packed and signed once; then, alternating in the same run, each round
// times (a) parse_bundle + verify_bundle (size, SHA-256, one Ed25519
// signature, channel, floor, window) and (b) sha256_of over the same payload
// bytes. Prints the median of each and the ratio; the target is <= 1.2.
//
// usage: bench_bundle [MiB] [runs]   (defaults 256 and 7)
#include <slotguard/bundle.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/trust.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace sg = slotguard;
using clock_type = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

template <class F>
double seconds(F&& f) {
  const auto t0 = clock_type::now();
  f();
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t mib = argc > 1 ? static_cast<std::size_t>(std::strtoul(argv[1], nullptr, 10)) : 256;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 7;
  if (mib == 0 || runs < 1) {
    std::fprintf(stderr, "usage: bench_bundle [MiB] [runs]\n");
    return 2;
  }
  const std::size_t size = mib << 20;

  sg::ed25519_seed seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(i * 31 + 7);
  std::vector<std::uint8_t> payload(size);
  std::uint64_t x = 0x9E3779B97F4A7C15ull;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    for (std::size_t k = 0; k < 8 && i + k < size; ++k) payload[i + k] = static_cast<std::uint8_t>(x >> (8 * k));
  }
  sg::bundle_builder builder;
  builder.channel("bench").sequence(42).schema("bench.schema", 1).created(1790000000).expires(4102444800);
  builder.payload(std::move(payload)).sign_with(seed);
  const auto bundle = builder.build();
  if (!bundle) {
    std::fprintf(stderr, "build failed: %s\n", sg::to_string(bundle.error()));
    return 1;
  }
  builder = sg::bundle_builder{};  // frees the builder's copy of the payload

  sg::trust_set trust;
  (void)trust.add(sg::ed25519_public_key_from_seed(seed));
  sg::verify_options opts;
  opts.channel = "bench";
  opts.sequence_floor = 41;
  opts.now = 1790003600;

  // The payload as it sits inside the bundle: both sides read the same bytes.
  const auto located = sg::parse_bundle(*bundle);
  if (!located) return 1;
  const sg::byte_view payload_view = located->payload;

  std::printf("bundle: %zu MiB payload, %zu bytes total, sha256 implementation %s, %d runs\n", mib,
              bundle->size(), sg::to_string(sg::sha256_default_impl()), runs);
  std::vector<double> t_verify, t_hash;
  unsigned sink = 0;
  bool all_ok = true;
  // One untimed round of each to fault in pages and warm caches.
  sink += sg::sha256_of(payload_view)[0];
  for (int r = 0; r < runs; ++r) {
    t_verify.push_back(seconds([&] {
      const auto p = sg::parse_bundle(*bundle);
      all_ok = all_ok && p && sg::verify_bundle(*p, trust, opts);
    }));
    t_hash.push_back(seconds([&] { sink += sg::sha256_of(payload_view)[0]; }));
    std::printf("run %d: verify %.1f ms, sha256_of %.1f ms\n", r + 1, t_verify.back() * 1e3, t_hash.back() * 1e3);
  }
  if (!all_ok) {
    std::fprintf(stderr, "verification failed\n");
    return 1;
  }
  const double mv = median(t_verify), mh = median(t_hash);
  const double mb = static_cast<double>(size) / (1 << 20);
  std::printf("median verify (parse + hash + signature + checks): %.1f ms (%.0f MiB/s)\n", mv * 1e3, mb / mv);
  std::printf("median sha256_of(payload) alone:                   %.1f ms (%.0f MiB/s)\n", mh * 1e3, mb / mh);
  std::printf("ratio verify / hash: %.3f (target <= 1.2)\n", mv / mh);
  std::printf("(sink %u)\n", sink);
  return 0;
}
