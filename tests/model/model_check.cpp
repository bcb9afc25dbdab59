// SPDX-License-Identifier: Apache-2.0
// The model checker as a program, for long local runs:
//   model_check [--ops N] [--seed S] [--len L] [--depth D] [--modes poll|thread|both]
//               [--divergences K] [--out FILE] [--keep-going] [--without LIST]
//               [--safe-streak S] [--null-streak N] [--healthy-uptime SECONDS]
// Defaults come from SLOTGUARD_MODEL_OPS (1,000,000), SLOTGUARD_MODEL_SEED (1),
// SLOTGUARD_MODEL_LEN (100) and SLOTGUARD_MODEL_DEPTH (5; 0 skips the
// enumeration). Prints totals and operations per second; exits 1 when the
// guard and the model disagree, printing each shrunk divergence (and
// appending it to FILE). --keep-going runs the whole enumeration and counts
// the sequences that diverge (the first is shrunk and printed). --without
// leaves parts of the random operation mix out (a comma-separated list of
// expiry, trust, long, cut, fault, damage, recall, read_only), to look past a
// divergence whose fix is not in yet. --safe-streak, --null-streak and
// --healthy-uptime set the crash-streak breaker of every run (defaults 3, 6
// and 120 s; --safe-streak 0 turns it off).
#include "driver.hpp"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

namespace sm = slotguard_model;

int main(int argc, char** argv) {
  sm::campaign_options co;
  co.ops = sm::env_u64("SLOTGUARD_MODEL_OPS", 1000000);
  co.seed = sm::env_u64("SLOTGUARD_MODEL_SEED", 1);
  co.length = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_LEN", 100));
  co.max_divergences = 20;
  std::size_t depth = static_cast<std::size_t>(sm::env_u64("SLOTGUARD_MODEL_DEPTH", 5));
  bool keep_going = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--ops") co.ops = std::strtoull(v, nullptr, 10), ++i;
    else if (a == "--seed") co.seed = std::strtoull(v, nullptr, 10), ++i;
    else if (a == "--len") co.length = static_cast<std::size_t>(std::strtoull(v, nullptr, 10)), ++i;
    else if (a == "--depth") depth = static_cast<std::size_t>(std::strtoull(v, nullptr, 10)), ++i;
    else if (a == "--divergences") co.max_divergences = static_cast<std::size_t>(std::strtoull(v, nullptr, 10)), ++i;
    else if (a == "--out") co.out = v, ++i;
    else if (a == "--keep-going") keep_going = true;
    else if (a == "--without") co.filter = sm::generation_filter::parse(v), ++i;
    else if (a == "--safe-streak") co.cfg.safe_streak = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10)), ++i;
    else if (a == "--null-streak") co.cfg.null_streak = static_cast<std::uint32_t>(std::strtoul(v, nullptr, 10)), ++i;
    else if (a == "--healthy-uptime") co.cfg.healthy_uptime = static_cast<std::int64_t>(std::strtoll(v, nullptr, 10)), ++i;
    else if (a == "--modes") {
      co.modes = std::strcmp(v, "poll") == 0 ? 1 : std::strcmp(v, "thread") == 0 ? 2 : 3;
      ++i;
    } else {
      std::cerr << "usage: model_check [--ops N] [--seed S] [--len L] [--depth D] [--modes poll|thread|both] "
                   "[--divergences K] [--out FILE] [--keep-going] [--without LIST] [--safe-streak S] "
                   "[--null-streak N] [--healthy-uptime SECONDS]\n";
      return 2;
    }
  }
  if (co.cfg.safe_streak != 0 && co.cfg.null_streak <= co.cfg.safe_streak) {
    std::cerr << "model_check: --null-streak must be above --safe-streak (the guard refuses it)\n";
    return 2;
  }
  std::cout << "crash-streak breaker: safe streak " << co.cfg.safe_streak << ", null streak " << co.cfg.null_streak
            << ", healthy uptime " << co.cfg.healthy_uptime << " s\n";
  bool bad = false;
  const sm::campaign_result r = sm::run_campaign(co, std::cout);
  std::cout << "random: " << r.ops << " operations in " << r.sequences << " sequences of up to " << co.length
            << " (seeds " << co.seed << ".." << co.seed + r.sequences - 1 << ") in " << r.seconds << " s: "
            << static_cast<std::uint64_t>(static_cast<double>(r.ops) / r.seconds) << " operations/s; "
            << r.divergences.size() << " distinct divergences\n";
  bad = bad || !r.divergences.empty();
  std::cout << "what the random sequences reached (times):\n";
  for (const auto& kv : r.reached) std::cout << "  " << kv.second << "  " << kv.first << "\n";
  if (depth != 0) {
    const sm::exhaustive_result e = sm::run_exhaustive(depth, co.modes, co.cfg, keep_going);
    std::cout << "exhaustive: " << e.sequences << " sequences of 1 to " << depth << " operations over an alphabet of "
              << sm::exhaustive_alphabet().size() << " (" << e.ops << " operations) in " << e.seconds << " s: "
              << static_cast<std::uint64_t>(static_cast<double>(e.ops) / e.seconds) << " operations/s";
    if (keep_going) std::cout << "; " << e.diverging << " sequences diverged";
    std::cout << "\n";
    if (!e.divergence.empty()) {
      std::cout << "DIVERGENCE (exhaustive) " << e.divergence;
      if (!co.out.empty()) {
        std::ofstream f(co.out, std::ios::app);
        f << "=== exhaustive: " << e.divergence << "\n";
      }
      bad = true;
    }
  }
  return bad ? 1 : 0;
}
