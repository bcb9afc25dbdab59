// SPDX-License-Identifier: Apache-2.0
// What the store costs over the minimal durable replace of the same bytes
// done by hand (write, fsync, rename, fsync of the directory), on the POSIX
// backend, in the same run and the same directory: for a 1 MiB and a 64 MiB
// bundle, stage_trial (what the guard's apply writes: the slot and the trial
// record) and stage_trial + commit (a whole update's life). Prints the
// median of several runs and the ratios.
//   bench_store [runs] [directory]      (default 7 runs, the system temp dir)
#include <slotguard/slot_store.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#if SLOTGUARD_OS_WINDOWS
int main() {
  std::printf("bench_store: POSIX only (the by-hand peer uses fsync and a directory fsync)\n");
  return 0;
}
#else
#include <fcntl.h>
#include <unistd.h>

namespace sg = slotguard;
using clk = std::chrono::steady_clock;

namespace {

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void die(const char* what) {
  std::perror(what);
  std::exit(1);
}

// The peer: the least a program must do to replace a file durably.
void replace_by_hand(const std::string& dir, const std::vector<std::uint8_t>& bytes) {
  const std::string tmp = dir + "/content.tmp";
  const std::string dst = dir + "/content";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open");
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (n <= 0) die("write");
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) die("fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) die("rename");
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0 || ::fsync(d) != 0) die("fsync dir");
  ::close(d);
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(3, std::atoi(argv[1])) : 7;
  const std::filesystem::path base =
      (argc > 2 ? std::filesystem::path(argv[2]) : std::filesystem::temp_directory_path()) /
      ("slotguard-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(base / "hand");
  const std::string hand_dir = (base / "hand").string();
  const std::string store_dir = (base / "store").string();

  sg::posix_storage fs;
  auto opened = sg::slot_store::open(fs, store_dir);
  if (!opened) {
    std::fprintf(stderr, "open: %s\n", sg::to_string(opened.error()));
    return 1;
  }
  sg::slot_store store = std::move(*opened);
  std::uint64_t seq = 0;

  std::printf("bench_store: %d runs each, medians in ms, directory %s\n", runs, base.string().c_str());
  std::printf("%-8s %12s %12s %12s   %s\n", "size", "by hand", "apply", "+commit",
              "ratio apply / +commit vs by hand");
  for (const std::size_t size : {std::size_t{1} << 20, std::size_t{64} << 20}) {
    std::vector<std::uint8_t> bytes(size);
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i * 131 + (i >> 12));
    std::vector<double> hand, apply, commit;
    // Interleaved, so drift in the machine's load hits both alike.
    for (int r = 0; r < runs + 1; ++r) {
      bytes[0] = static_cast<std::uint8_t>(r);
      auto t0 = clk::now();
      replace_by_hand(hand_dir, bytes);
      const double h = ms_since(t0);

      t0 = clk::now();
      if (!store.stage_trial(sg::byte_view(bytes), ++seq, 1, 1)) die("stage_trial");
      const double a = ms_since(t0);
      if (!store.commit()) die("commit");
      const double c = ms_since(t0);
      if (r == 0) continue;  // warm-up
      hand.push_back(h);
      apply.push_back(a);
      commit.push_back(c);
    }
    const double mh = median(hand), ma = median(apply), mc = median(commit);
    std::printf("%-8s %12.2f %12.2f %12.2f   %.2fx / %.2fx\n", size == (std::size_t{1} << 20) ? "1 MiB" : "64 MiB",
                mh, ma, mc, ma / mh, mc / mh);
  }
  { auto drop = std::move(store); }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  return 0;
}
#endif
