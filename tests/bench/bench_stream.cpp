// SPDX-License-Identifier: Apache-2.0
// The tool on big files, whole processes against their peers in the same
// run: `slotguard verify` of a bundle against `openssl dgst -sha256` of the
// same file, and `slotguard pack` of a payload against `openssl dgst -sha256`
// of the payload followed by `cp` of it (what a hand-written pack must do at
// least: read and hash, then write a copy). Rounds alternate the contenders;
// prints the medians, the ratios, and each child's peak RSS (ru_maxrss from
// wait4). Targets: verify <= 1.05x, pack <= 1.3x, peak RSS <= 32 MiB.
// The files stay in the page cache across rounds (both sides read them warm).
// `sync` runs (untimed) before every timed command, so that one command's
// write-back does not land in another's time. pack makes its output durable
// (flushed before its rename) and cp does not; the durable peer, dgst + cp +
// `sync FILE` of the copy, is printed too.
//
// usage: bench_stream [--tool PATH] [--dir DIR] [--mib N] [--runs R]
//        (defaults: the tool built beside this program, $TMPDIR or /tmp,
//        1024 MiB, 5 runs)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(_WIN32)
int main() {
  std::fprintf(stderr, "bench_stream: POSIX only (fork, wait4)\n");
  return 0;
}
#else
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

struct child_run {
  double seconds = 0;
  long max_rss_kib = 0;
  int status = -1;
};

// Runs argv with stdout to /dev/null (stderr kept), waits with wait4.
child_run run(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  child_run r;
  const auto t0 = clock_type::now();
  const pid_t pid = ::fork();
  if (pid < 0) return r;
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    if (null >= 0) ::dup2(null, 1);
    ::execvp(argv[0], argv.data());
    std::perror(argv[0]);
    ::_exit(127);
  }
  int st = 0;
  struct rusage ru {};
  while (::wait4(pid, &st, 0, &ru) < 0) {
  }
  r.seconds = std::chrono::duration<double>(clock_type::now() - t0).count();
  r.max_rss_kib = ru.ru_maxrss;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return r;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

bool check(const child_run& r, const char* what) {
  if (r.status == 0) return true;
  std::fprintf(stderr, "bench_stream: %s failed with status %d\n", what, r.status);
  return false;
}

std::string default_tool(const char* argv0) {
#if defined(SLOTGUARD_CLI_PATH)
  (void)argv0;
  return SLOTGUARD_CLI_PATH;
#else
  std::string self = argv0;
  const std::size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/../examples/slotguard_cli/slotguard";
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string tool = default_tool(argv[0]);
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  unsigned long mib = 1024;
  int runs = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 < argc && a == "--tool") {
      tool = argv[++i];
    } else if (i + 1 < argc && a == "--dir") {
      base = argv[++i];
    } else if (i + 1 < argc && a == "--mib") {
      mib = std::strtoul(argv[++i], nullptr, 10);
    } else if (i + 1 < argc && a == "--runs") {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_stream [--tool PATH] [--dir DIR] [--mib N] [--runs R]\n");
      return 2;
    }
  }
  if (mib == 0 || runs < 1) {
    std::fprintf(stderr, "usage: bench_stream [--tool PATH] [--dir DIR] [--mib N] [--runs R]\n");
    return 2;
  }
  std::string dir = base + "/bench_stream.XXXXXX";
  if (::mkdtemp(&dir[0]) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const std::string payload = dir + "/payload", bundle = dir + "/b.sgb", out = dir + "/out.sgb",
                    copy = dir + "/copy", key = dir + "/k";
  {
    // Pseudo-random bytes (no file system compresses or dedupes them).
    std::FILE* f = std::fopen(payload.c_str(), "wb");
    if (f == nullptr) {
      std::perror(payload.c_str());
      return 1;
    }
    std::vector<std::uint64_t> block((std::size_t{1} << 20) / 8);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (unsigned long m = 0; m < mib; ++m) {
      for (auto& w : block) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        w = x;
      }
      if (std::fwrite(block.data(), 8, block.size(), f) != block.size()) {
        std::perror("write");
        return 1;
      }
    }
    std::fclose(f);
  }
  const std::vector<std::string> pack = {tool,    "pack",   "--channel", "bench", "--sequence", "1",
                                         "--schema", "bench@1", "--payload", payload, "--key",    key,
                                         "-o",    out};
  if (!check(run({tool, "keygen", "--out", key}), "keygen") ||
      !check(run({tool, "pack", "--channel", "bench", "--sequence", "1", "--schema", "bench@1", "--payload", payload,
                  "--key", key, "-o", bundle}),
             "pack"))
    return 1;
  const std::vector<std::string> verify = {tool, "verify", bundle, "--trust", key + ".pub"};
  const std::vector<std::string> dgst_bundle = {"openssl", "dgst", "-sha256", bundle};
  const std::vector<std::string> dgst_payload = {"openssl", "dgst", "-sha256", payload};
  const std::vector<std::string> cp = {"cp", payload, copy};
  const std::vector<std::string> sync_all = {"sync"};
  const std::vector<std::string> sync_copy = {"sync", copy};
  // A timed command after an untimed sync.
  const auto timed = [&](const std::vector<std::string>& args) {
    (void)run(sync_all);
    return run(args);
  };
  // Warm the cache and check every command once.
  if (!check(run(verify), "slotguard verify") || !check(run(dgst_bundle), "openssl dgst") ||
      !check(run(pack), "slotguard pack") || !check(run(cp), "cp"))
    return 1;

  std::vector<double> t_verify, t_dgst, t_pack, t_peer, t_durable;
  long rss_verify = 0, rss_pack = 0, rss_dgst = 0, rss_cp = 0;
  for (int r = 0; r < runs; ++r) {
    (void)::unlink(out.c_str());
    (void)::unlink(copy.c_str());
    // Alternate which side goes first.
    const bool tool_first = r % 2 == 0;
    child_run v, d;
    if (tool_first) {
      v = timed(verify);
      d = timed(dgst_bundle);
    } else {
      d = timed(dgst_bundle);
      v = timed(verify);
    }
    if (!check(v, "slotguard verify") || !check(d, "openssl dgst")) return 1;
    child_run p, pd, pc, ps;
    if (tool_first) {
      p = timed(pack);
      pd = timed(dgst_payload);
      pc = timed(cp);
      ps = run(sync_copy);
    } else {
      pd = timed(dgst_payload);
      pc = timed(cp);
      ps = run(sync_copy);
      p = timed(pack);
    }
    if (!check(p, "slotguard pack") || !check(pd, "openssl dgst") || !check(pc, "cp") || !check(ps, "sync"))
      return 1;
    t_durable.push_back(pd.seconds + pc.seconds + ps.seconds);
    t_verify.push_back(v.seconds);
    t_dgst.push_back(d.seconds);
    t_pack.push_back(p.seconds);
    t_peer.push_back(pd.seconds + pc.seconds);
    rss_verify = std::max(rss_verify, v.max_rss_kib);
    rss_pack = std::max(rss_pack, p.max_rss_kib);
    rss_dgst = std::max(rss_dgst, d.max_rss_kib);
    rss_cp = std::max(rss_cp, pc.max_rss_kib);
    std::printf("run %d: verify %.3f s, dgst %.3f s; pack %.3f s, dgst+cp %.3f s (%.3f + %.3f), + sync %.3f s\n",
                r + 1, v.seconds, d.seconds, p.seconds, pd.seconds + pc.seconds, pd.seconds, pc.seconds, ps.seconds);
    std::fflush(stdout);
  }
  const double mv = median(t_verify), md = median(t_dgst), mp = median(t_pack), mpeer = median(t_peer);
  std::printf("\n%lu MiB, %d runs, medians (whole processes, warm page cache):\n", mib, runs);
  std::printf("  slotguard verify        %.3f s  (%.0f MiB/s)  peak RSS %ld KiB\n", mv, double(mib) / mv, rss_verify);
  std::printf("  openssl dgst -sha256    %.3f s  (%.0f MiB/s)  peak RSS %ld KiB\n", md, double(mib) / md, rss_dgst);
  std::printf("  ratio verify / dgst     %.3f  (target <= 1.05)\n", mv / md);
  std::printf("  slotguard pack          %.3f s  peak RSS %ld KiB\n", mp, rss_pack);
  std::printf("  openssl dgst + cp       %.3f s  (cp peak RSS %ld KiB)\n", mpeer, rss_cp);
  std::printf("  ratio pack / (dgst+cp)  %.3f  (target <= 1.3)\n", mp / mpeer);
  const double mdur = median(t_durable);
  std::printf("  dgst + cp + sync copy   %.3f s  (the same durability as pack)\n", mdur);
  std::printf("  ratio pack / durable    %.3f\n", mp / mdur);
  std::printf("  RSS target <= 32768 KiB: verify %s, pack %s\n", rss_verify <= 32768 ? "met" : "MISSED",
              rss_pack <= 32768 ? "met" : "MISSED");
  for (const std::string& f : {payload, bundle, out, copy, key, key + ".pub"}) (void)::unlink(f.c_str());
  (void)::rmdir(dir.c_str());
  return 0;
}
#endif
