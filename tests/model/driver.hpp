// SPDX-License-Identifier: Apache-2.0
// The checker's runs, shared by the Catch2 test and the standalone driver:
// a random campaign (many seeded sequences, both watchdog modes) and the
// exhaustive enumeration, with totals, timing and shrunk divergences.
#ifndef SLOTGUARD_TESTS_MODEL_DRIVER_HPP
#define SLOTGUARD_TESTS_MODEL_DRIVER_HPP

#include "checker.hpp"

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <set>
#include <string>
#include <vector>

namespace slotguard_model {

inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

struct campaign_options {
  std::uint64_t ops = 50000;   // at least this many operations in all
  std::uint64_t seed = 1;      // the first sequence's seed; sequence i uses seed + i
  std::size_t length = 100;    // operations per sequence
  int modes = 3;               // 1 poll, 2 thread, 3 both (alternating)
  std::size_t max_divergences = 1;  // stop after this many distinct shrunk divergences
  std::string out;             // append each shrunk divergence here (empty: nowhere)
  generation_filter filter;    // parts of the operation mix left out
  config cfg;
};

struct campaign_result {
  std::uint64_t sequences = 0;
  std::uint64_t ops = 0;
  double seconds = 0;
  std::vector<std::string> divergences;  // shrunk, readable
  coverage reached;
};

inline campaign_result run_campaign(const campaign_options& co, std::ostream& log) {
  campaign_result res;
  std::set<std::string> seen;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; res.ops < co.ops; ++i) {
    const std::uint64_t seed = co.seed + i;
    run_options ro;
    ro.cfg = co.cfg;
    ro.mode = co.modes == 1   ? sg::watchdog_mode::poll
              : co.modes == 2 ? sg::watchdog_mode::thread
                              : (seed % 2 == 0 ? sg::watchdog_mode::poll : sg::watchdog_mode::thread);
    const std::vector<op> ops = random_sequence(seed, co.length, co.filter);
    const run_report r = run_sequence(ops, ro, false, &res.reached);
    ++res.sequences;
    res.ops += r.steps;
    if (!r.diverged) continue;
    std::size_t runs = 0;
    const auto s0 = std::chrono::steady_clock::now();
    const std::vector<op> small = shrink(ops, ro, &runs);
    const run_report sr = run_sequence(small, ro, true);
    const double shrink_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    // The same minimal trace from another seed is the same divergence.
    const std::string key = sr.text.substr(sr.text.find('\n') + 1);
    if (!seen.insert(key).second) continue;
    std::string text = "seed " + std::to_string(seed) + " (sequence of " + std::to_string(ops.size()) +
                       " operations, diverged at operation " + std::to_string(r.at + 1) + "), shrunk to " +
                       std::to_string(small.size()) + " in " + std::to_string(runs) + " re-runs (" +
                       std::to_string(shrink_s) + " s); " + sr.text;
    log << "DIVERGENCE " << text << "\n";
    if (!co.out.empty()) {
      std::ofstream f(co.out, std::ios::app);
      f << "=== " << text << "\n";
    }
    res.divergences.push_back(text);
    if (res.divergences.size() >= co.max_divergences) break;
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

struct exhaustive_result {
  std::uint64_t sequences = 0;
  std::uint64_t ops = 0;
  double seconds = 0;
  std::string divergence;  // shrunk, readable; empty when none
  std::uint64_t diverging = 0;  // sequences that diverged (keep_going)
};

// Every sequence of every length 1..depth over the reduced alphabet, in
// both watchdog modes when modes == 3.
inline exhaustive_result run_exhaustive(std::size_t depth, int modes, const config& cfg, bool keep_going = false) {
  exhaustive_result res;
  const auto t0 = std::chrono::steady_clock::now();
  for (int m = 1; m <= 2 && (keep_going || res.divergence.empty()); ++m) {
    if ((modes & m) == 0) continue;
    run_options ro;
    ro.cfg = cfg;
    ro.mode = m == 1 ? sg::watchdog_mode::poll : sg::watchdog_mode::thread;
    for (std::size_t len = 1; len <= depth && (keep_going || res.divergence.empty()); ++len) {
      std::vector<op> failing;
      res.sequences += enumerate_all(len, ro, &failing, &res.ops, keep_going ? &res.diverging : nullptr);
      if (!failing.empty() && res.divergence.empty()) {
        const std::vector<op> small = shrink(failing, ro);
        res.divergence = run_sequence(small, ro, true).text;
      }
    }
  }
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return res;
}

}  // namespace slotguard_model

#endif  // SLOTGUARD_TESTS_MODEL_DRIVER_HPP
