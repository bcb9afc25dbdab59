// SPDX-License-Identifier: Apache-2.0
// What the three engine replays share: a temporary directory, a publisher
// (a signing key and bundles), the guard's events as they come, the sensor's
// guard options, and the table of outcomes each replay ends with. The
// engines' own code is in each program; nothing here knows an engine.
#ifndef SLOTGUARD_EXAMPLES_ENGINES_REPLAY_COMMON_HPP
#define SLOTGUARD_EXAMPLES_ENGINES_REPLAY_COMMON_HPP

#include "../supervisor/supervise.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/tree_pack.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

namespace engines {

namespace sg = slotguard;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;

// A replay's exit status when the machine cannot run it at all (ctest's
// SKIP_RETURN_CODE): never a pass.
constexpr int exit_skipped = 77;

inline unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// One whole line at a time: the replay, its sensor's threads and its probes
// share the output.
inline void say(const char* fmt, ...) {
  char text[2048];
  std::va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  std::string line(text);
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

inline long long millis_since(std::chrono::steady_clock::time_point t0) {
  return static_cast<long long>(
      std::chrono::duration_cast<ms>(std::chrono::steady_clock::now() - t0).count());
}

inline bool read_file(const fs::path& path, std::string& out, std::uintmax_t max = 64u << 20) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > max) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.resize(static_cast<std::size_t>(size));
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  return static_cast<bool>(in) || out.empty();
}

inline bool write_file(const fs::path& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  out.close();
  return static_cast<bool>(out);
}

inline sg::byte_view bytes_of(const std::string& s) {
  return sg::byte_view(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

// A private directory under the system's temporary directory, removed at the
// end unless kept.
struct temp_dir {
  fs::path path;
  bool keep = false;
  explicit temp_dir(const std::string& prefix) {
    std::error_code ec;
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    path = fs::temp_directory_path(ec) /
           (prefix + "-" + std::to_string(static_cast<long>(::getpid())) + "-" + std::to_string(stamp));
    fs::create_directories(path, ec);
    fs::permissions(path, fs::perms::owner_all, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    if (keep) {
      say("files kept in %s", path.string().c_str());
    } else {
      fs::remove_all(path, ec);
    }
  }
};

// The vendor's side: a signing key (from a fixed seed, so every run builds
// the same bundles; a real publisher keeps its key offline) and bundles.
struct publisher {
  sg::ed25519_seed seed{};
  sg::ed25519_public_key key{};
  std::string channel;
  std::string schema_id;

  publisher(std::string ch, std::string schema) : channel(std::move(ch)), schema_id(std::move(schema)) {
    for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(0x5A ^ (i * 37));
    key = sg::ed25519_public_key_from_seed(seed);
  }

  std::vector<std::uint8_t> bundle(std::uint64_t seq, const std::string& version, const std::string& payload,
                                   sg::payload_kind kind = sg::payload_kind::tree) const {
    auto b = sg::bundle_builder()
                 .set_payload_kind(kind)
                 .channel(channel)
                 .sequence(seq)
                 .version(version)
                 .schema(schema_id, 1)
                 .created(sg::real_clock().unix_seconds())
                 .payload(bytes_of(payload))
                 .sign_with(seed)
                 .build();
    if (!b) {
      say("cannot build bundle %llu: %s", ull(seq), sg::to_string(b.error()));
      std::exit(1);
    }
    return std::move(*b);
  }
};

// A content tree as the vendor's build writes it: relative path -> text.
using tree_files = std::vector<std::pair<std::string, std::string>>;

// Writes the files under dir (made afresh) and packs dir as a tree payload
// (tree_pack.hpp: scan, then the table and the files' bytes).
inline std::string pack_tree(const fs::path& dir, const tree_files& files) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  for (const auto& [path, text] : files) {
    const fs::path f = dir / path;
    fs::create_directories(f.parent_path(), ec);
    if (!write_file(f, text)) {
      say("cannot write %s", f.string().c_str());
      std::exit(1);
    }
  }
  std::string problem;
  auto index = sg::scan_directory(dir.string(), {}, &problem);
  if (!index) {
    say("cannot scan %s: %s %s", dir.string().c_str(), sg::to_string(index.error()), problem.c_str());
    std::exit(1);
  }
  std::string payload;
  auto written = sg::write_tree_payload(dir.string(), *index, [&](sg::byte_view chunk) -> sg::result<void> {
    payload.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return sg::ok();
  });
  if (!written) {
    say("cannot pack %s: %s", dir.string().c_str(), sg::to_string(written.error()));
    std::exit(1);
  }
  return payload;
}

// The validate gate of a content tree: a well-formed tree table, at least
// one file, every file with one of `extensions`, and each file's bytes
// passing `check` (which returns why not, or ""). Directories may nest.
using file_check = std::function<std::string(const std::string& path, sg::byte_view data)>;
inline sg::content_check tree_validator(std::vector<std::string> extensions, file_check check) {
  return sg::content_check(sg::validator_fn(
      [extensions, check](sg::byte_view p) -> sg::result<void, sg::validation_error> {
        sg::validation_error e;
        e.code = sg::errc::validator_rejected;
        auto index = sg::parse_tree_table(p, p.size());
        if (!index) {
          e.code = index.error();
          e.message = "not a content tree";
          return e;
        }
        std::size_t files = 0;
        for (std::size_t i = 0; i < index->entries.size(); ++i) {
          const sg::tree_entry& t = index->entries[i];
          if (t.kind != sg::tree_kind::file) continue;
          ++files;
          const std::string ext = fs::path(t.path).extension().string();
          if (std::find(extensions.begin(), extensions.end(), ext) == extensions.end()) {
            e.record = i;
            e.message = t.path + ": not a content file of this channel";
            return e;
          }
          const std::string why = check(t.path, p.sub(static_cast<std::size_t>(t.data_offset),
                                                     static_cast<std::size_t>(t.size)));
          if (!why.empty()) {
            e.record = i;
            e.message = t.path + ": " + why;
            return e;
          }
        }
        if (files == 0) {
          e.message = "the tree holds no content file";
          return e;
        }
        return {};
      }));
}

// The guard's events, kept for the replay's judgement and printed as they
// come.
class event_record {
 public:
  sg::event_handler handler() {
    return [this](const sg::event& e) {
      say("    [slotguard] %s", words(e).c_str());
      std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(e);
      cv_.notify_all();
    };
  }

  // The first event of this kind about this sequence (waits up to `wait`).
  bool find(sg::event_kind k, std::uint64_t seq, sg::event* out = nullptr, ms wait = 0ms) {
    std::unique_lock<std::mutex> lock(mu_);
    auto match = [&] {
      for (const auto& e : events_)
        if (e.kind == k && e.candidate_sequence == seq) {
          if (out) *out = e;
          return true;
        }
      return false;
    };
    return cv_.wait_for(lock, wait, match);
  }

  // What slotguard decided about a sequence, in a few words.
  std::string decision(std::uint64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string d = "no decision";
    for (const auto& e : events_) {
      if (e.candidate_sequence != seq) continue;
      if (e.kind == sg::event_kind::committed) return "committed";
      if (e.kind == sg::event_kind::reverted) return std::string("reverted: ") + sg::to_string(e.reason);
      if (e.kind == sg::event_kind::probe_failed) return std::string("refused by the probe: ") + sg::to_string(e.error);
      if (e.kind == sg::event_kind::rejected) return std::string("rejected: ") + sg::to_string(e.error);
      if (e.kind == sg::event_kind::trial_started) d = "on trial";
    }
    return d;
  }

  static std::string words(const sg::event& e) {
    const std::string seq = "sequence " + std::to_string(e.candidate_sequence);
    switch (e.kind) {
      case sg::event_kind::staged:
        return seq + " passed every gate and the probe; staged";
      case sg::event_kind::probe_failed:
        return seq + " refused by the probe: " + sg::to_string(e.error) + ": " + e.detail;
      case sg::event_kind::trial_started:
        return seq + " is live on trial";
      case sg::event_kind::committed:
        return seq + " committed";
      case sg::event_kind::reverted:
        return seq + " reverted (" + sg::to_string(e.reason) + (e.detail.empty() ? "" : ": " + e.detail) +
               "); serving sequence " + std::to_string(e.active_sequence);
      case sg::event_kind::rejected:
        return seq + " rejected: " + sg::to_string(e.error) + (e.detail.empty() ? "" : " (" + e.detail + ")");
      case sg::event_kind::load_failed:
        return seq + " not served: " + sg::to_string(e.error) + " (" + e.detail + ")";
      case sg::event_kind::read_only:
        return "read-only store: " + e.detail;
      case sg::event_kind::crash_loop:
        return "crash-streak breaker: " + e.detail;
      case sg::event_kind::released:
        return seq + ": " + e.detail;
    }
    return "event";
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<sg::event> events_;
};

// The probe's own milliseconds, as the probe_failed event reports them
// ("...; 3012 ms; ..."); -1 when absent.
inline long long probe_ms_of(const std::string& detail) {
  const auto at = detail.find(" ms");
  if (at == std::string::npos) return -1;
  auto start = detail.rfind(' ', at - 1);
  start = start == std::string::npos ? 0 : start + 1;
  return std::atoll(detail.substr(start, at - start).c_str());
}

// One line of a replay's table.
struct outcome_row {
  std::string scenario;
  std::string expected;
  std::string observed;
  std::string evidence;  // what the engine said (its message, the verifier's log, ...)
  long long apply_ms = -1;
  bool ok() const { return expected == observed; }
};

// Prints the table and says whether every outcome is the expected one.
inline bool print_table(const char* engine, const std::vector<outcome_row>& rows) {
  std::printf("\n%s replay: outcomes\n", engine);
  std::printf("  %-2s %-34s %-38s %-38s %8s  %s\n", "#", "scenario", "expected", "observed", "apply ms", "result");
  bool all = true;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    all = all && r.ok();
    std::printf("  %-2zu %-34s %-38s %-38s %8lld  %s\n", i + 1, r.scenario.c_str(), r.expected.c_str(),
                r.observed.c_str(), r.apply_ms, r.ok() ? "OK" : "FAIL");
  }
  std::printf("  evidence:\n");
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (!rows[i].evidence.empty()) std::printf("  %-2zu %s\n", i + 1, rows[i].evidence.c_str());
  std::printf("\n%s\n", all ? "Every outcome is the expected one." : "Some outcomes differ from the expected ones.");
  std::fflush(stdout);
  return all;
}

// The line of the probe's output (the part of a probe_failed event's detail
// after "output: ") that contains `needle`, without the directories of the
// probe's private workspace; "" when there is none.
inline std::string output_line(const std::string& detail, const std::string& needle) {
  const auto out = detail.find("output: ");
  if (out == std::string::npos) return {};
  const std::string text = detail.substr(out + 8);
  const auto at = text.find(needle);
  if (at == std::string::npos) return {};
  auto begin = text.rfind('\n', at);
  begin = begin == std::string::npos ? 0 : begin + 1;
  auto end = text.find('\n', at);
  if (end == std::string::npos) end = text.size();
  std::string line = text.substr(begin, end - begin);
  const auto slash = line.rfind('/', line.find(needle));
  if (slash != std::string::npos && line.compare(0, 1, "/") == 0) line = line.substr(slash + 1);
  return line;
}

// Runs a probe by itself on content as files (a published tree's directory,
// as the guard's probe gets it unpacked), for what the guard's events do not
// carry about an accepted candidate: its time and its words.
inline sg::probe_report probe_alone(const sg::probe& p, const fs::path& content) {
  sg::probe_input in;
  in.path = content.string();
  return p.run_with_report(in);
}

// The last line of a probe's output that contains `needle` ("" if none).
inline std::string tail_line(const sg::probe_report& r, const std::string& needle) {
  return output_line("output: " + r.output_tail, needle);
}

// An accepted probe, in a few words: "probe accepted in 41 ms (...)".
inline std::string accepted_words(const sg::probe_report& r) {
  if (!r) return "probe alone: " + r.summary();
  return "probe accepted in " + std::to_string(r.elapsed.count()) + " ms (" + tail_line(r, "probe: accepted") + ")";
}

// How a probe ended, as the event's detail starts ("exited 1", "timed out
// after 3008 ms").
inline std::string probe_ending(const std::string& detail) { return detail.substr(0, detail.find(';')); }

// The guard options every replay's sensor uses: its store under root, the
// publisher's key, a short trial (a real sensor has minutes of probation and
// tens of seconds of watchdog), and the probe the engine gives.
inline sg::guard_options sensor_options(sg::storage& disk, const fs::path& root, const publisher& pub,
                                        sg::content_check check, sg::probe candidate_probe) {
  sg::guard_options o;
  o.fs = &disk;
  o.directory = (root / "store").string();
  o.channel = pub.channel;
  (void)o.trust.add(pub.key);
  o.check = std::move(check);
  o.candidate_probe = std::move(candidate_probe);
  o.probe_dir = root.string();
  o.watchdog_timeout = 1000ms;
  o.watchdog_tick = 20ms;
  o.probation = 1500ms;
  o.start_budget = 1;
  o.healthy_uptime = 3000ms;
  o.policy.ignore_rollout = true;
  return o;
}

// Applies a bundle, timing it; returns the errc (ok on success).
inline sg::errc timed_apply(sg::guard& g, const std::vector<std::uint8_t>& bundle, long long& took_ms) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = g.apply(sg::byte_view(bundle));
  took_ms = millis_since(t0);
  return r ? sg::errc::ok : r.error();
}

// Waits until `pred` holds or `limit` passes.
template <class Pred>
bool wait_until(Pred pred, ms limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

inline bool is_quarantined(const sg::guard& g, std::uint64_t seq) {
  const auto q = g.status().quarantine;
  return std::find(q.begin(), q.end(), seq) != q.end();
}

// The command line every engine replay takes: none runs the replay, --keep
// runs it and keeps its folder, --probe PATH [OPTION...] is the isolated
// probe the guard starts on a candidate, --scan PATH FILE... scans by hand
// with content at PATH (for engines that have it: scan may be empty).
struct engine_cli {
  const char* name;
  const char* probe_options;  // after "--probe PATH", for the usage line ("" for none)
  std::function<int(const std::vector<std::string>& self, bool keep)> replay;
  // PATH and the options after it; -1 for options it does not take.
  std::function<int(const std::string& path, const std::vector<std::string>& options)> probe;
  std::function<int(const std::string& path, const std::vector<std::string>& files)> scan;
};

inline int engine_main(int argc, char** argv, const engine_cli& cli) {
  const std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + (argc > 0 ? argc : 0));
  int status = -1;
  if (args.empty()) {
    status = cli.replay(supervisor::self_command(argc > 0 ? argv[0] : nullptr), false);
  } else if (args.size() == 1 && args[0] == "--keep") {
    status = cli.replay(supervisor::self_command(argv[0]), true);
  } else if (args.size() >= 2 && args[0] == "--probe") {
    status = cli.probe(args[1], std::vector<std::string>(args.begin() + 2, args.end()));
  } else if (args.size() >= 3 && args[0] == "--scan" && cli.scan) {
    status = cli.scan(args[1], std::vector<std::string>(args.begin() + 2, args.end()));
  }
  if (status >= 0) return status;
  std::fprintf(stderr, "usage: %s [--keep]\n       %s --probe PATH%s\n", cli.name, cli.name, cli.probe_options);
  if (cli.scan) std::fprintf(stderr, "       %s --scan PATH FILE...\n", cli.name);
  return 2;
}

}  // namespace engines

#endif  // SLOTGUARD_EXAMPLES_ENGINES_REPLAY_COMMON_HPP
