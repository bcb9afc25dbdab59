// SPDX-License-Identifier: Apache-2.0
// What the store costs over the minimal durable replace of the same bytes
// done by hand (write, fsync, rename, fsync of the directory), on the POSIX
// backend, in the same run and the same directory: for a 1 MiB and a 64 MiB
// bundle, stage_trial (what the guard's apply writes: the slot and the trial
// record) and stage_trial + commit (a whole update's life); then content that comes
// from a file (1 MiB, 64 MiB, 1 GiB: receive + stage_trial, what the guard's
// streamed apply writes) against the durable copy of the same file by hand,
// with the peak RSS of a process doing each once at the largest size; then a
// tree of 10,000 files of 1-64 KiB (the slot and its unpacked tree) against
// writing the same files durably by hand (write and fsync each file, fsync
// each directory). Prints the median of several runs and the ratios.
//   bench_store [runs] [directory] [quick]   (default 7 runs, the system temp
//                                            dir; "quick": no 1 GiB, no tree)
#include <slotguard/slot_store.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/tree.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <cstring>
#include <functional>
#include <map>
#include <vector>

#if SLOTGUARD_OS_WINDOWS
int main() {
  std::printf("bench_store: POSIX only (the by-hand peer uses fsync and a directory fsync)\n");
  return 0;
}
#else
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace sg = slotguard;
using clk = std::chrono::steady_clock;

namespace {

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

std::error_code& ec0() {
  static std::error_code ec;
  return ec;
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

// The peer for content from a file: copied durably by hand in 1 MiB chunks.
void copy_by_hand(const std::string& dir, const std::string& src) {
  const std::string tmp = dir + "/content.tmp";
  const std::string dst = dir + "/content";
  const int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (in < 0 || fd < 0) die("open");
  std::vector<std::uint8_t> buf(std::size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) die("read");
    if (n == 0) break;
    std::size_t off = 0;
    while (off < static_cast<std::size_t>(n)) {
      const ssize_t w = ::write(fd, buf.data() + off, static_cast<std::size_t>(n) - off);
      if (w <= 0) die("write");
      off += static_cast<std::size_t>(w);
    }
  }
  ::close(in);
  if (::fsync(fd) != 0) die("fsync");
  ::close(fd);
  if (::rename(tmp.c_str(), dst.c_str()) != 0) die("rename");
  const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d < 0 || ::fsync(d) != 0) die("fsync dir");
  ::close(d);
}

// What the guard's streamed apply writes: the file received into the store
// (read in 1 MiB chunks, hashed on the way), then one record.
void apply_from_file(sg::posix_storage& fs, sg::slot_store& store, const std::string& src, std::uint64_t seq) {
  auto f = fs.open_read(src);
  if (!f) die("open_read");
  const std::uint64_t size = fs.file_size(*f).value();
  std::vector<std::uint8_t> buf(std::size_t{1} << 20);
  auto r = store.receive(size, [&](const std::function<sg::result<void>(sg::byte_view)>& write) -> sg::result<void> {
    for (std::uint64_t at = 0; at < size;) {
      auto n = fs.read_at(*f, at, buf.data(), buf.size());
      if (!n) return n.error();
      if (*n == 0) return sg::errc::truncated;
      SLOTGUARD_TRY(write(sg::byte_view(buf.data(), *n)));
      at += *n;
    }
    return sg::ok();
  });
  (void)fs.close(*f);
  if (!r) die("receive");
  if (!store.stage_trial(std::move(*r), seq, 1, 1)) die("stage_trial");
}

void write_source(const std::string& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open source");
  std::vector<std::uint8_t> buf(std::size_t{1} << 20);
  for (std::uint64_t at = 0; at < size; at += buf.size()) {
    for (std::size_t i = 0; i < buf.size(); ++i)
      buf[i] = static_cast<std::uint8_t>((at + i) * 131 + ((at + i) >> 12));
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - at));
    if (::write(fd, buf.data(), n) != static_cast<ssize_t>(n)) die("write source");
  }
  ::close(fd);
}

// Peak RSS in MiB of a child that runs f once.
template <class F>
double child_peak_mib(F f) {
  const pid_t pid = ::fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    f();
    ::_exit(0);
  }
  int status = 0;
  struct rusage ru {};
  if (::wait4(pid, &status, 0, &ru) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) die("child");
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux: KiB
}

struct tree_files {
  std::vector<std::pair<std::string, std::vector<std::uint8_t>>> files;  // path, bytes
  std::vector<std::string> dirs;
  std::vector<std::uint8_t> payload;
  sg::tree_index index;
};

// count files of 1-64 KiB in 100 directories.
tree_files make_tree(std::size_t count) {
  tree_files t;
  std::uint64_t x = 88172645463325252ull;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  std::vector<sg::tree_entry> entries;
  for (std::size_t d = 0; d < 100; ++d) {
    t.dirs.push_back("d" + std::to_string(d));
    sg::tree_entry e;
    e.path = t.dirs.back();
    e.kind = sg::tree_kind::directory;
    entries.push_back(e);
  }
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t size = 1024 + static_cast<std::size_t>(next() % (63 * 1024));
    std::vector<std::uint8_t> b(size);
    for (auto& c : b) c = static_cast<std::uint8_t>(next());
    sg::tree_entry e;
    e.path = t.dirs[i % 100] + "/f" + std::to_string(i);
    e.size = size;
    e.sha256 = sg::sha256_of(sg::byte_view(b));
    entries.push_back(e);
    t.files.emplace_back(e.path, std::move(b));
  }
  t.index = sg::build_tree_index(std::move(entries)).value();
  t.payload = sg::encode_tree_table(t.index).value();
  std::map<std::string, const std::vector<std::uint8_t>*> by_path;
  for (const auto& f : t.files) by_path[f.first] = &f.second;
  for (const auto& e : t.index.entries)
    if (e.kind == sg::tree_kind::file)
      t.payload.insert(t.payload.end(), by_path[e.path]->begin(), by_path[e.path]->end());
  return t;
}

void fsync_dir(const std::string& d) {
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::fsync(fd) != 0) die("fsync dir");
  ::close(fd);
}

// The peer: the same files written durably by hand.
void unpack_by_hand(const std::string& root, const tree_files& t) {
  if (::mkdir(root.c_str(), 0700) != 0) die("mkdir");
  for (const auto& d : t.dirs)
    if (::mkdir((root + "/" + d).c_str(), 0700) != 0) die("mkdir");
  for (const auto& f : t.files) {
    const int fd = ::open((root + "/" + f.first).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) die("open");
    if (::write(fd, f.second.data(), f.second.size()) != static_cast<ssize_t>(f.second.size())) die("write");
    if (::fsync(fd) != 0) die("fsync");
    ::close(fd);
  }
  for (const auto& d : t.dirs) fsync_dir(root + "/" + d);
  fsync_dir(root);
  fsync_dir(root.substr(0, root.find_last_of('/')));
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
  const bool quick = argc > 3 && std::string(argv[3]) == "quick";
  std::printf("\ncontent from a file: receive + stage_trial against a durable copy by hand\n");
  std::printf("%-8s %12s %12s   %s\n", "size", "by hand", "apply", "ratio");
  std::vector<std::uint64_t> sizes{std::uint64_t{1} << 20, std::uint64_t{64} << 20};
  if (!quick) sizes.push_back(std::uint64_t{1} << 30);
  const std::string src = (base / "source").string();
  auto label = [](std::uint64_t size) {
    return size == (std::uint64_t{1} << 20) ? "1 MiB" : size == (std::uint64_t{64} << 20) ? "64 MiB" : "1 GiB";
  };
  for (const std::uint64_t size : sizes) {
    write_source(src, size);
    std::vector<double> hand, apply;
    const int n = size >= (std::uint64_t{1} << 30) ? std::max(3, runs / 2) : runs;
    for (int r = 0; r < n + 1; ++r) {
      auto t0 = clk::now();
      copy_by_hand(hand_dir, src);
      const double h = ms_since(t0);
      t0 = clk::now();
      apply_from_file(fs, store, src, ++seq);
      const double a = ms_since(t0);
      if (!store.commit()) die("commit");
      if (r == 0) continue;
      hand.push_back(h);
      apply.push_back(a);
    }
    const double mh = median(hand), ma = median(apply);
    std::printf("%-8s %12.2f %12.2f   %.2fx\n", label(size), mh, ma, ma / mh);
    if (size == sizes.back()) {
      const double rss_hand = child_peak_mib([&] { copy_by_hand(hand_dir, src); });
      const double rss_apply = child_peak_mib([&] {
        sg::posix_storage cfs;
        // This process holds the bench's store: the child applies to one of its own.
        auto other = sg::slot_store::open(cfs, (base / "store-rss").string());
        if (!other) ::_exit(3);
        apply_from_file(cfs, *other, src, 1);
      });
      std::printf("peak RSS of one process at %s: by hand %.1f MiB, apply %.1f MiB\n", label(size), rss_hand,
                  rss_apply);
    }
  }
  std::filesystem::remove(src, ec0());

  if (!quick) {
    std::printf("\na tree of 10,000 files of 1-64 KiB in 100 directories: stage_trial with the tree unpacked, "
                "against the files written durably by hand\n");
    const tree_files t = make_tree(10000);
    std::printf("payload %.1f MiB\n", static_cast<double>(t.payload.size()) / (1 << 20));
    std::vector<double> hand, apply;
    const int n = std::max(3, runs / 2);
    for (int r = 0; r < n + 1; ++r) {
      const std::string root = (base / "hand" / ("tree" + std::to_string(r))).string();
      auto t0 = clk::now();
      unpack_by_hand(root, t);
      const double h = ms_since(t0);
      const sg::byte_view payload(t.payload);
      const sg::stage_hook hook = [&](const std::string&, const std::string& d) -> sg::result<void> {
        return sg::unpack_tree(fs, d, t.index, sg::read_at_memory(payload));
      };
      t0 = clk::now();
      if (!store.stage_trial(payload, ++seq, 1, 1, &hook)) die("stage_trial tree");
      const double a = ms_since(t0);
      if (!store.commit()) die("commit");
      std::filesystem::remove_all(root, ec0());
      if (r == 0) continue;
      hand.push_back(h);
      apply.push_back(a);
    }
    const double mh = median(hand), ma = median(apply);
    std::printf("%-8s %12s %12s   %s\n", "", "by hand", "apply", "ratio");
    std::printf("%-8s %12.1f %12.1f   %.2fx\n", "tree", mh, ma, ma / mh);
  }

  { auto drop = std::move(store); }
  std::error_code ec;
  std::filesystem::remove_all(base, ec);
  return 0;
}

#endif
