// SPDX-License-Identifier: Apache-2.0
// What starting an isolated probe costs: the median time of one whole probe
// run (start, wait, verdict) of /bin/true, with the namespaces on and off,
// against a bare posix_spawn + waitpid of the same program in the same run.
// Rounds alternate between the three so that load on a shared machine falls
// on all of them alike; each round times `starts` runs of each and the
// figure is the per-start median over rounds.
//
//   bench_probe [rounds] [starts]      (defaults: 9 rounds, 40 starts)
#include <slotguard/probe.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#if !defined(_WIN32)
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;
#endif

namespace {

using clock_type = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
#if defined(_WIN32)
  (void)argc;
  (void)argv;
  std::printf("bench_probe: POSIX only (compares with posix_spawn)\n");
  return 0;
#else
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 9;
  const int starts = argc > 2 ? std::max(1, std::atoi(argv[2])) : 40;
  const char* program = "/bin/true";
  namespace sg = slotguard;

  auto bare = [&]() {
    char* args[] = {const_cast<char*>(program), const_cast<char*>("/dev/null"), nullptr};
    pid_t pid = -1;
    if (::posix_spawn(&pid, program, nullptr, nullptr, args, environ) != 0) return false;
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0) {
    }
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
  };
  sg::probe_options with_ns;
  with_ns.time_limit = std::chrono::seconds(30);
  sg::probe_options without_ns = with_ns;
  without_ns.namespaces = false;
  std::string isolation_ns, isolation_plain;
  auto probe_run = [&](const sg::probe_options& o, std::string& isolation) {
    auto r = sg::run_isolated_probe_report({program}, "/dev/null", o);
    isolation = r.isolation;
    return r.code == sg::errc::ok;
  };

  std::vector<double> t_bare, t_ns, t_plain;
  bool ok = true;
  for (int round = 0; round < rounds; ++round) {
    auto time = [&](auto&& f) {
      const auto t0 = clock_type::now();
      for (int i = 0; i < starts; ++i) ok = f() && ok;
      return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() / starts;
    };
    // Alternate the order from round to round.
    if (round % 2 == 0) {
      t_bare.push_back(time(bare));
      t_plain.push_back(time([&] { return probe_run(without_ns, isolation_plain); }));
      t_ns.push_back(time([&] { return probe_run(with_ns, isolation_ns); }));
    } else {
      t_ns.push_back(time([&] { return probe_run(with_ns, isolation_ns); }));
      t_plain.push_back(time([&] { return probe_run(without_ns, isolation_plain); }));
      t_bare.push_back(time(bare));
    }
  }
  if (!ok) {
    std::fprintf(stderr, "bench_probe: a run of %s did not exit 0\n", program);
    return 1;
  }
  const double b = median(t_bare), p = median(t_plain), n = median(t_ns);
  std::printf("starting %s: median per start over %d rounds of %d starts\n", program, rounds, starts);
  std::printf("  posix_spawn + waitpid                 %9.1f us\n", b);
  std::printf("  probe, no namespaces                  %9.1f us   %5.2fx  [%s]\n", p, p / b,
              isolation_plain.c_str());
  std::printf("  probe, namespaces where available     %9.1f us   %5.2fx  [%s]\n", n, n / b,
              isolation_ns.c_str());
  return 0;
#endif
}
