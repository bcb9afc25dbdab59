// SPDX-License-Identifier: Apache-2.0
// A small sensor for the live tests: holds one channel's store through a
// guard for its whole life, heartbeats, and (in poll mode) polls, the way a
// real sensor embeds slotguard. The operator's tool is then driven against
// it (tests/live/test_live.cpp).
//
//   live_sensor --store DIR --channel C --trust KEY.pub --ready FILE --stop FILE
//               [--poll] [--tick-ms N] [--probation-ms N] [--watchdog-ms N]
//               [--no-requests] [--log FILE]
//
// Writes FILE given by --ready once the guard is open (its content: the
// served sequence), runs until the --stop file exists, then shuts down
// cleanly. Every log message of the library goes to --log (one line each).
#include <slotguard/guard.hpp>
#include <slotguard/log.hpp>
#include <slotguard/pem.hpp>
#include <slotguard/storage.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>

namespace sg = slotguard;

namespace {

sg::result<void, sg::validation_error> accept_all(sg::byte_view) { return sg::result<void, sg::validation_error>(); }

const char* arg(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return nullptr;
}
bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  const char* store = arg(argc, argv, "--store");
  const char* channel = arg(argc, argv, "--channel");
  const char* trust = arg(argc, argv, "--trust");
  const char* ready = arg(argc, argv, "--ready");
  const char* stop = arg(argc, argv, "--stop");
  if (!store || !channel || !trust || !ready || !stop) {
    std::fprintf(stderr, "live_sensor: --store, --channel, --trust, --ready and --stop are required\n");
    return 2;
  }
  auto ms = [&](const char* name, long def) {
    const char* v = arg(argc, argv, name);
    return std::chrono::milliseconds(v ? std::atol(v) : def);
  };
  std::mutex log_mu;
  std::FILE* log_file = nullptr;
  if (const char* lf = arg(argc, argv, "--log")) log_file = std::fopen(lf, "a");
  if (log_file) {
    sg::set_log_sink([&](sg::log_level l, std::string_view m) {
      std::lock_guard<std::mutex> lock(log_mu);
      std::fprintf(log_file, "%s %.*s\n", sg::to_string(l), static_cast<int>(m.size()), m.data());
      std::fflush(log_file);
    });
  }

  std::ifstream kf(trust, std::ios::binary);
  const std::string pem((std::istreambuf_iterator<char>(kf)), std::istreambuf_iterator<char>());
  auto key = sg::parse_public_key_pem(pem);
  if (!key) {
    std::fprintf(stderr, "live_sensor: %s: %s\n", trust, sg::to_string(key.error()));
    return 1;
  }
  sg::native_storage disk;
  sg::guard_options o;
  o.fs = &disk;
  o.directory = store;
  o.channel = channel;
  (void)o.trust.add(*key);
  o.check = sg::content_check(sg::validator_fn(accept_all));
  o.policy.ignore_rollout = true;
  const bool poll = flag(argc, argv, "--poll");
  o.watchdog = poll ? sg::watchdog_mode::poll : sg::watchdog_mode::thread;
  o.watchdog_tick = ms("--tick-ms", 20);
  o.watchdog_timeout = ms("--watchdog-ms", 5000);
  o.probation = ms("--probation-ms", 3600 * 1000);
  o.request_interval = ms("--tick-ms", 20);
  o.serve_requests = !flag(argc, argv, "--no-requests");
  o.safe_streak = 0;
  auto g = sg::guard::open(std::move(o));
  if (!g) {
    std::fprintf(stderr, "live_sensor: open %s: %s\n", store, sg::to_string(g.error()));
    return 1;
  }
  {
    std::ofstream r(std::string(ready) + ".tmp");
    r << (*g)->status().served << "\n";
    r.close();
    std::filesystem::rename(std::string(ready) + ".tmp", ready);
  }
  const auto tick = ms("--tick-ms", 20);
  std::error_code ec;
  while (!std::filesystem::exists(stop, ec)) {
    (*g)->heartbeat();
    if (poll) (*g)->poll();
    std::this_thread::sleep_for(tick);
  }
  const auto r = (*g)->shutdown();
  g->reset();
  sg::set_log_sink({});
  if (log_file) std::fclose(log_file);
  return r ? 0 : 1;
}
