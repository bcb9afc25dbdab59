// SPDX-License-Identifier: Apache-2.0
// sensor_demo: the Channel File 291 story, replayed against a sensor that has
// slotguard in front of its content. Run with no arguments, it plays the
// publisher and the machine's operator: it makes a signing key, a content
// store and five content updates in a temporary directory, and for each
// update starts the sensor (this program in --sensor mode) under the
// supervisor's restart logic, then checks what became of the update against
// what should have. It ends with a summary table and exits 0 only when every
// outcome is the expected one.
//
//   sensor_demo [--keep]                 the whole demo (--keep: leave the files)
//   sensor_demo --sensor DIR RUN_MS      the sensor: apply DIR/inbox.bundle if
//                                        present, then handle live events
//   sensor_demo --probe FILE             the isolated probe: replay synthetic
//                                        events on a candidate payload
#include "sensor.hpp"

#include "../supervisor/supervise.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/storage.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#if !defined(_WIN32)
#include <unistd.h>
#endif

namespace {

namespace sg = slotguard;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The demo's trial settings: short, so the whole run takes seconds. A real
// sensor would use minutes of probation and tens of seconds of watchdog.
constexpr std::chrono::milliseconds watchdog_timeout = 1000ms;
constexpr std::chrono::milliseconds watchdog_tick = 20ms;
constexpr std::chrono::milliseconds probation = 1500ms;
// Generous: under an emulator on a loaded machine, starting the probe process
// alone can take seconds, and no scenario here waits for it to run out.
constexpr std::chrono::milliseconds probe_limit = 20000ms;
constexpr std::chrono::milliseconds event_interval = 5ms;
constexpr std::uint32_t start_budget = 1;
// A start is healthy after this long with heartbeats flowing (or at a clean
// stop); three unhealthy starts in a row trip the crash-streak breaker.
// Minutes on a real sensor.
constexpr std::chrono::milliseconds healthy_uptime = 4000ms;
constexpr const char* channel = "ipc";
constexpr const char* device_id = "demo-host-1";

constexpr const char* sensor_tag = "    [sensor] ";
constexpr const char* probe_tag = "      [probe] ";

// One line of output, written whole and flushed at once: the demo's
// processes (and the sensor's threads) share a terminal or a test runner's
// pipe, and their lines must come out whole and in order.
void say(const char* tag, const char* fmt, ...) {
  char text[1024];
  std::va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  const std::string line = std::string(tag) + text + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

long process_id() {
#if defined(_WIN32)
  return static_cast<long>(::GetCurrentProcessId());
#else
  return static_cast<long>(::getpid());
#endif
}

// Reads a whole file of at most max bytes.
bool read_file(const std::string& path, std::vector<std::uint8_t>& out, std::uintmax_t max = 16u << 20) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec || size > max) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  out.resize(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
  return static_cast<bool>(in);
}

bool write_file(const std::string& path, sg::byte_view data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  out.close();
  return static_cast<bool>(out);
}

// The demo's directory: the store, the update the sensor finds waiting, the
// publisher's public key, and the sensor's telemetry log.
struct paths {
  fs::path root;
  std::string store() const { return (root / "store").string(); }
  std::string inbox() const { return (root / "inbox.bundle").string(); }
  std::string key() const { return (root / "publisher.pub").string(); }
  std::string log() const { return (root / "events.log").string(); }
};

sg::schema content_schema() {
  // check_decl() passed at compile time (sensor.hpp), so this cannot fail.
  return *sg::schema::from_decl(sensor::content_schema);
}

// The sensor's slotguard configuration; the demo's operator view of the
// store uses the same one in operator mode.
sg::guard_options sensor_options(sg::storage& disk, const paths& p, const std::vector<std::string>& self,
                                 const sg::ed25519_public_key& publisher) {
  sg::guard_options o;
  o.fs = &disk;
  o.directory = p.store();
  o.channel = channel;
  (void)o.trust.add(publisher);
  o.check = sg::content_check(content_schema());
  o.policy.device_id = device_id;
  std::vector<std::string> probe_command = self;
  probe_command.push_back("--probe");
  o.candidate_probe = sg::probe::isolated(std::move(probe_command), probe_limit);
  o.probe_dir = p.root.string();
  o.watchdog_timeout = watchdog_timeout;
  o.watchdog_tick = watchdog_tick;
  o.probation = probation;
  o.start_budget = start_budget;
  o.healthy_uptime = healthy_uptime;
  return o;
}

// ---------------------------------------------------------------------------
// Telemetry: events in plain words, and one line each in events.log
// ---------------------------------------------------------------------------

std::string event_words(const sg::event& e) {
  const std::string seq = "sequence " + std::to_string(e.candidate_sequence);
  switch (e.kind) {
    case sg::event_kind::staged:
      return seq + " passed signature, schema and probe; written to the inactive slot";
    case sg::event_kind::probe_failed:
      return "the isolated probe failed " + seq + ": " + sg::to_string(e.error) + " (" +
             sg::describe(e.error) + ")";
    case sg::event_kind::trial_started:
      return seq + " is live on trial (probation " + std::to_string(probation.count()) + " ms, watchdog " +
             std::to_string(watchdog_timeout.count()) + " ms, start budget " + std::to_string(start_budget) +
             ")";
    case sg::event_kind::committed:
      return seq + " committed: it stayed healthy through its probation";
    case sg::event_kind::reverted:
      return seq + " reverted (" + sg::to_string(e.reason) + ": " + e.detail + "); sequence " +
             std::to_string(e.active_sequence) + " is active again and " + seq + " is quarantined";
    case sg::event_kind::rejected:
      return seq + " rejected: " + sg::to_string(e.error) + " (" + sg::describe(e.error) + ")" +
             (e.detail.empty() ? "" : "; " + e.detail);
    case sg::event_kind::load_failed:
      return seq + " stored but not served: " + sg::to_string(e.error) + " (" + e.detail + ")";
    case sg::event_kind::read_only:
      return "the store is read-only: " + e.detail;
    case sg::event_kind::crash_loop:
      return "crash-streak breaker (" + std::string(sg::to_string(e.mode)) + "): " + e.detail;
    case sg::event_kind::released:
      return seq + ": " + e.detail;
  }
  return "unknown event";
}

void append_log(const paths& p, const sg::event& e) {
  // Events may come from the event loop's thread and the watchdog's.
  static std::mutex log_mu;
  std::lock_guard<std::mutex> lock(log_mu);
  const char* code = e.kind == sg::event_kind::reverted ? sg::to_string(e.reason)
                     : (e.kind == sg::event_kind::rejected || e.kind == sg::event_kind::probe_failed)
                         ? sg::to_string(e.error)
                     : e.kind == sg::event_kind::crash_loop ? sg::to_string(e.mode)
                                                            : "-";
  std::ofstream out(p.log(), std::ios::app);
  out << sg::to_string(e.kind) << ' ' << e.candidate_sequence << ' ' << code << ' ' << e.active_sequence << '\n';
}

struct log_line {
  std::string kind;
  std::uint64_t sequence = 0;
  std::string code;
  std::uint64_t active = 0;
};

std::vector<log_line> read_log(const paths& p) {
  std::vector<log_line> lines;
  std::ifstream in(p.log());
  log_line l;
  while (in >> l.kind >> l.sequence >> l.code >> l.active) lines.push_back(l);
  return lines;
}

void describe_running(const char* tag, const sg::guard& g) {
  const sg::content_handle c = g.current();
  if (!c) {
    say(tag, "no content is active");
    return;
  }
  const auto st = g.status();
  say(tag, "running content sequence %llu (\"%s\", %zu rules), %s", ull(c->sequence()),
      std::string(c->manifest().version).c_str(), c->records().record_count(), sg::to_string(st.state));
}

// ---------------------------------------------------------------------------
// --probe FILE: the candidate's payload against the synthetic replay set
// ---------------------------------------------------------------------------

int run_probe(const std::string& file) {
  std::vector<std::uint8_t> bytes;
  if (!read_file(file, bytes)) {
    say(probe_tag, "cannot read the candidate %s", file.c_str());
    return 2;
  }
  // The probe loads the candidate the way the sensor would: validated
  // against the same schema, read through the same typed views.
  const sg::schema schema = content_schema();
  auto content = sg::validate(schema, sg::byte_view(bytes));
  if (!content) {
    say(probe_tag, "the candidate does not load: %s", content.error().message.c_str());
    return 2;
  }
  const std::vector<sensor::event> events = sensor::probe_events();
  say(probe_tag, "replaying %zu synthetic events on the candidate (%zu rules)", events.size(),
      content->record_count());
  const sensor::interpreter interp(sensor::probe_world, probe_tag);
  std::size_t hits = 0;
  for (const auto& e : events) hits += interp.evaluate(*content, e);
  say(probe_tag, "the interpreter handled every event (detections: %zu): candidate accepted", hits);
  return 0;
}

// ---------------------------------------------------------------------------
// --sensor DIR RUN_MS: the sensor process
// ---------------------------------------------------------------------------

// The guard reports a failed validation by its errc alone; the sensor's log
// names the record and field by running the same schema on the candidate.
void explain_rejection(const paths& p) {
  std::vector<std::uint8_t> bytes;
  if (!read_file(p.inbox(), bytes)) return;
  auto b = sg::parse_bundle(sg::byte_view(bytes));
  if (!b) return;
  const sg::schema schema = content_schema();
  auto v = sg::validate(schema, b->payload);
  if (!v) say(sensor_tag, "  the schema says: %s", v.error().message.c_str());
}

bool read_key(const paths& p, sg::ed25519_public_key& key) {
  std::ifstream in(p.key());
  std::string hex;
  if (!(in >> hex)) return false;
  auto raw = sg::from_hex(hex);
  if (!raw || raw->size() != key.size()) return false;
  std::copy(raw->begin(), raw->end(), key.begin());
  return true;
}

int run_sensor(const std::vector<std::string>& self, const paths& p, std::chrono::milliseconds run_for) {
  say(sensor_tag, "sensor process %ld starting", process_id());
  sg::ed25519_public_key publisher{};
  if (!read_key(p, publisher)) {
    say(sensor_tag, "cannot read the publisher's key");
    return 10;
  }

  std::mutex mu;
  std::condition_variable cv;
  bool watchdog_fired = false;
  std::atomic<std::chrono::steady_clock::rep> last_beat{0};
  sg::native_storage disk;
  sg::guard_options opts = sensor_options(disk, p, self, publisher);
  opts.on_event = [&](const sg::event& e) {
    say(sensor_tag, "slotguard: %s", event_words(e).c_str());
    append_log(p, e);
    if (e.kind == sg::event_kind::reverted && e.reason == sg::revert_reason::watchdog_timeout) {
      const auto silent = std::chrono::steady_clock::now() -
                          std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_beat.load()));
      say(sensor_tag, "  the last heartbeat was %lld ms before the revert (watchdog timeout %lld ms)",
          static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(silent).count()),
          static_cast<long long>(watchdog_timeout.count()));
      std::lock_guard<std::mutex> lock(mu);
      watchdog_fired = true;
      cv.notify_all();
    }
  };
  // Opening counts this start against a running trial: a trial whose
  // process died is reverted right here.
  auto opened = sg::guard::open(std::move(opts));
  if (!opened) {
    say(sensor_tag, "cannot open the content store: %s", sg::to_string(opened.error()));
    return 10;
  }
  sg::guard& guard = **opened;
  describe_running(sensor_tag, guard);

  std::error_code ec;
  if (fs::exists(p.inbox(), ec)) {
    std::vector<std::uint8_t> bytes;
    std::uint64_t seq = 0;
    if (read_file(p.inbox(), bytes)) {
      auto b = sg::parse_bundle(sg::byte_view(bytes));
      if (b) seq = b->manifest.sequence;
    }
    say(sensor_tag, "update sequence %llu is waiting; handing it to slotguard", ull(seq));
    auto applied = guard.apply_file(p.inbox());
    if (!applied) {
      say(sensor_tag, "update refused (%s); the content in use is untouched", sg::to_string(applied.error()));
      explain_rejection(p);
    }
    describe_running(sensor_tag, guard);
  }

  // The event loop: each event is matched against whatever content is
  // active now, then the loop tells slotguard it is alive.
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> processed{0};
  std::atomic<std::uint64_t> detections{0};
  bool finished = false;
  say(sensor_tag, "handling live events for %lld ms", static_cast<long long>(run_for.count()));
  std::thread loop([&] {
    sg::content_reader reader = guard.reader();
    const sensor::interpreter interp(sensor::live_world, sensor_tag);
    const auto loop_start = std::chrono::steady_clock::now();
    std::uint64_t jobs_run = 0;
    for (std::uint64_t i = 0; !stop.load(); ++i) {
      // backup_agent's scheduled job, when its time has come; else ordinary traffic.
      const auto due = static_cast<std::uint64_t>((std::chrono::steady_clock::now() - loop_start) /
                                                  sensor::scheduled_job_period);
      const bool job = due > jobs_run;
      if (job) jobs_run = due;
      const sensor::event ev = job ? sensor::scheduled_job_event() : sensor::live_event(i);
      if (const sg::active_content* c = reader.get()) detections += interp.evaluate(c->records(), ev);
      processed.fetch_add(1);
      last_beat = std::chrono::steady_clock::now().time_since_epoch().count();
      guard.heartbeat();
      std::this_thread::sleep_for(event_interval);
    }
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
    cv.notify_all();
  });

  // Runs until the time is up and the loop has stopped. A loop that does not
  // stop is stuck: when the watchdog has fired (or the loop ignores the
  // request to stop), no thread can get it back, so the process exits and
  // the supervisor starts a clean one on whatever content is active then.
  auto exit_stuck = [&](const char* why) {
    say(sensor_tag, "the event loop is stuck (%s); exiting so that the supervisor starts a clean sensor", why);
    std::fflush(nullptr);
    std::_Exit(3);
  };
  const auto end = std::chrono::steady_clock::now() + run_for;
  std::unique_lock<std::mutex> lock(mu);
  auto woken = [&] { return finished || watchdog_fired; };
  for (;;) {
    if (finished) break;
    if (watchdog_fired) {
      watchdog_fired = false;
      lock.unlock();
      const std::uint64_t before = processed.load();
      std::this_thread::sleep_for(300ms);
      if (processed.load() == before) exit_stuck("no event handled since the watchdog fired");
      lock.lock();
      continue;
    }
    if (!stop.load()) {
      if (!cv.wait_until(lock, end, woken)) stop = true;
      continue;
    }
    if (!cv.wait_for(lock, 2 * watchdog_timeout, woken)) exit_stuck("it does not stop when asked");
  }
  lock.unlock();
  loop.join();
  say(sensor_tag, "handled %llu events, %llu detections; shutting down", ull(processed.load()),
      ull(detections.load()));
  // A clean stop: a trial still running gets back the start this run used,
  // so the next start is not taken for a crash.
  if (auto stopped = guard.shutdown(); !stopped)
    say(sensor_tag, "could not record the clean stop (%s)", sg::to_string(stopped.error()));
  describe_running(sensor_tag, guard);
  return 0;
}

// ---------------------------------------------------------------------------
// The demo: publisher, operator and judge
// ---------------------------------------------------------------------------

// A rule of the ipc_rule template type: the given criteria, wildcards
// elsewhere. extra_fields appends criteria past the declared 20, as a
// content pipeline with a newer template would.
using criteria = std::initializer_list<std::pair<sensor::input, std::uint32_t>>;
void add_rule(sg::payload_writer& w, criteria c, std::size_t extra_fields = 0) {
  w.begin_record(sensor::ipc_rule_type);
  for (std::size_t k = 0; k < sensor::input_count; ++k) {
    bool set = false;
    for (const auto& [field, value] : c)
      if (field == k) {
        w.add_u32(value);
        set = true;
        break;
      }
    if (!set) w.add_wildcard();
  }
  for (std::size_t k = 0; k < extra_fields; ++k) w.add_u32(0x1F);
}

// The baseline content: it detects a credential thief, a reverse shell's
// port and access to the lsass pipe.
void add_baseline_rules(sg::payload_writer& w) {
  using namespace sensor;
  add_rule(w, {{event_kind, ids::process_start}, {image, ids::mimikatz}});
  add_rule(w, {{event_kind, ids::network_connect}, {remote_port, 4444}});
  add_rule(w, {{event_kind, ids::pipe_connect}, {pipe_name, 0}});
}

// What the good update adds, and every later update keeps: a rule on the
// browser's pipe, which live traffic matches now and then.
void add_good_rules(sg::payload_writer& w) {
  using namespace sensor;
  add_baseline_rules(w);
  add_rule(w, {{event_kind, ids::pipe_connect}, {image, ids::browser}, {pipe_name, 2}});
}

struct outcome {
  std::string decision;  // the first decision slotguard made about the update
  bool loaded = false;   // the update ever went live (on trial)
  std::size_t crashes = 0;
  std::size_t restarts = 0;
  bool quarantined = false;
  std::uint64_t running = 0;  // the active sequence afterwards
  std::string state;          // the store's state afterwards
  bool sensor_ok = true;      // the sensor's last run ended normally

  bool operator==(const outcome& o) const {
    return decision == o.decision && loaded == o.loaded && crashes == o.crashes && restarts == o.restarts &&
           quarantined == o.quarantined && running == o.running && state == o.state && sensor_ok == o.sensor_ok;
  }
};

struct scenario {
  const char* title;
  std::vector<const char*> story;
  std::uint64_t sequence;
  std::vector<std::uint8_t> bundle;
  std::chrono::milliseconds run_for;
  outcome expected;
  unsigned max_restarts = 2;
};

std::string decision_of(const std::vector<log_line>& lines, std::uint64_t seq) {
  // The crash-streak breaker's word on committed content comes last but
  // weighs most.
  for (const auto& l : lines)
    if (l.sequence == seq && l.kind == "crash_loop") return "crash loop: back to " + l.code + " content";
  for (const auto& l : lines) {
    if (l.sequence != seq) continue;
    if (l.kind == "committed") return "committed after probation";
    if (l.kind == "reverted") return "reverted: " + l.code;
    if (l.kind == "probe_failed") return "rejected by the probe: " + l.code;
    if (l.kind == "rejected") return "rejected: " + l.code;
  }
  return "no decision";
}

const char* yes_no(bool b) { return b ? "yes" : "no"; }

void print_check(const char* what, const std::string& expected, const std::string& observed) {
  std::printf("    %-26s %-37s %s%s\n", what, expected.c_str(), observed.c_str(),
              expected == observed ? "" : "   <-- differs");
}

int run_demo(const std::vector<std::string>& self, bool keep) {
  std::printf(
      "slotguard sensor demo: the Channel File 291 story, with slotguard in front of the content\n"
      "\n"
      "A small sensor matches events against content rules of one template type, ipc_rule.\n"
      "The sensor's code supplies 20 inputs per event; the ipc_rule schema declares 20 fields,\n"
      "and a static_assert ties the two together. Its interpreter has two defects a schema cannot\n"
      "see: an unchecked table index and an ancestry walk without a step limit.\n"
      "\n");

  // Setup: a temporary directory, the publisher's key, and the updates.
  std::error_code ec;
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  paths p;
  p.root = fs::temp_directory_path(ec) /
           ("slotguard-sensor-demo-" + std::to_string(process_id()) + "-" + std::to_string(stamp));
  if (ec || !fs::create_directories(p.root, ec)) {
    std::printf("cannot create a temporary directory\n");
    return 1;
  }
  // A fixed seed, so every run builds the same bundles. A real publisher
  // keeps its key offline.
  sg::ed25519_seed seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(0xC5 ^ (i * 29));
  const sg::ed25519_public_key publisher = sg::ed25519_public_key_from_seed(seed);
  {
    std::ofstream key(p.key());
    key << sg::to_hex(sg::byte_view(publisher)) << '\n';
  }
  auto make_bundle = [&](std::uint64_t seq, const char* version, auto&& add_rules) {
    sg::payload_writer w(sensor::content_schema.id, sensor::content_schema.version);
    add_rules(w);
    auto b = sg::bundle_builder()
                 .channel(channel)
                 .sequence(seq)
                 .version(version)
                 .schema(sensor::content_schema.id, sensor::content_schema.version)
                 .created(sg::real_clock().unix_seconds())
                 .payload(w.finish())
                 .sign_with(seed)
                 .build();
    if (!b) {
      std::printf("cannot build bundle %llu: %s\n", ull(seq), sg::to_string(b.error()));
      std::exit(1);
    }
    return std::move(*b);
  };
  using namespace sensor;

  std::printf("Setup in %s\n", p.root.string().c_str());
  std::printf("  The operator installs content sequence 1 and commits it.\n");
  {
    const auto baseline = make_bundle(1, "baseline", add_baseline_rules);
    sg::native_storage disk;
    sg::guard_options o = sensor_options(disk, p, self, publisher);
    o.operator_mode = true;
    o.candidate_probe = sg::probe();
    auto g = sg::guard::open(std::move(o));
    if (!g || !(*g)->apply(sg::byte_view(baseline)) || !(*g)->confirm()) {
      std::printf("cannot install the baseline content\n");
      return 1;
    }
  }

  outcome base;
  base.running = 2;
  base.state = "committed";
  std::vector<scenario> scenarios;
  {
    outcome e = base;
    e.decision = "committed after probation";
    e.loaded = true;
    scenarios.push_back({"a good update",
                         {"Sequence 2 adds a rule for the browser's pipe. It is well-formed and harmless.",
                          "Expected: it passes every gate, runs on trial, and commits after its probation."},
                         2,
                         make_bundle(2, "good", add_good_rules),
                         probation + 700ms,
                         e});
  }
  {
    outcome e = base;
    e.decision = "rejected: field_count_mismatch";
    e.quarantined = true;
    scenarios.push_back(
        {"21 fields (Channel File 291)",
         {"Sequence 3 was made with a template of 21 fields: one rule puts a real criterion on a 21st",
          "input, which this sensor does not supply. In July 2024 such a file passed the vendor's own",
          "validator and the interpreter read past its 20 inputs, in the kernel, at every boot.",
          "Expected: the schema rejects it (field_count_mismatch, naming record and field); never loaded."},
         3,
         make_bundle(3, "twenty-one",
                     [](sg::payload_writer& w) {
                       add_good_rules(w);
                       add_rule(w, {{event_kind, ids::pipe_connect}, {pipe_name, 1}}, 1);
                     }),
         700ms,
         e});
  }
  {
    outcome e = base;
    e.decision = "rejected by the probe: probe_crashed";
    e.quarantined = true;
    scenarios.push_back(
        {"crashes on the probe's events",
         {"Sequence 4 is valid by the schema, but one rule names pipe pattern 40; this build's table",
          "holds 16 and the interpreter does not check. Any pipe event makes it read out of bounds.",
          "Expected: the isolated probe (this program, --probe, in a child process) crashes on the",
          "synthetic events; the update is rejected and the running sensor never sees it."},
         4,
         make_bundle(4, "bad-pattern",
                     [](sg::payload_writer& w) {
                       add_good_rules(w);
                       add_rule(w, {{event_kind, ids::pipe_connect}, {pipe_name, 40}});
                     }),
         700ms,
         e});
  }
  {
    outcome e = base;
    e.decision = "reverted: start_budget_spent";
    e.loaded = true;
    e.crashes = 1;
    e.restarts = 1;
    e.quarantined = true;
    scenarios.push_back(
        {"crashes only on live events",
         {"Sequence 5 names pipe pattern 33, but only for pipes opened at system integrity. The probe's",
          "synthetic events have none, so it passes; live traffic has one (backup_agent's pipe).",
          "Expected: the sensor crashes during the trial, the supervisor restarts it, slotguard counts",
          "the start (budget 1), reverts to sequence 2 and quarantines 5; the update never returns."},
         5,
         make_bundle(5, "live-crash",
                     [](sg::payload_writer& w) {
                       add_good_rules(w);
                       add_rule(w, {{event_kind, ids::pipe_connect}, {integrity, 0x4000}, {pipe_name, 33}});
                     }),
         700ms,
         e});
  }
  {
    outcome e = base;
    e.decision = "reverted: watchdog_timeout";
    e.loaded = true;
    e.restarts = 1;
    e.quarantined = true;
    scenarios.push_back(
        {"hangs on live events",
         {"Sequence 6 looks for explorer among the ancestors of system-integrity process starts. Live",
          "traffic has a process whose recorded ancestry loops (a reused process id), and the walk",
          "never ends. Expected: heartbeats stop, the watchdog reverts to sequence 2 within its",
          "timeout; the stuck sensor exits and the supervisor starts a clean one."},
         6,
         make_bundle(6, "hang",
                     [](sg::payload_writer& w) {
                       add_good_rules(w);
                       add_rule(w, {{event_kind, ids::process_start}, {integrity, 0x4000},
                                    {ancestor_image, ids::explorer}});
                     }),
         700ms,
         e});
  }

  {
    outcome e = base;
    e.decision = "crash loop: back to safe content";
    e.loaded = true;
    e.crashes = 3;
    e.restarts = 3;
    e.quarantined = true;
    scenarios.push_back(
        {"crashes later, after commit",
         {"Sequence 7 adds a rule for files backup_agent writes at system integrity, with pipe pattern 35",
          "(past this build's table). No probe event and no event during probation matches: it commits.",
          "Then backup_agent's scheduled job runs (here every 2.5 s; on a real machine, once a day) and the",
          "sensor crashes at every start: the boot loop of July 2024. Expected: after three starts that",
          "never become healthy, the crash-streak breaker quarantines 7 and serves the last known-safe",
          "sequence 2; the fourth start runs normally."},
         7,
         make_bundle(7, "latent-crash",
                     [](sg::payload_writer& w) {
                       add_good_rules(w);
                       add_rule(w, {{event_kind, ids::file_write},
                                    {image, ids::backup_agent},
                                    {integrity, 0x4000},
                                    {pipe_name, 35}});
                     }),
         3500ms,
         e,
         4});
  }

  std::vector<outcome> observed;
  for (std::size_t n = 0; n < scenarios.size(); ++n) {
    const scenario& s = scenarios[n];
    std::printf("\nScenario %zu: %s\n", n + 1, s.title);
    for (const char* line : s.story) std::printf("  %s\n", line);
    if (!write_file(p.inbox(), sg::byte_view(s.bundle))) {
      std::printf("cannot write the update\n");
      return 1;
    }
    std::printf("  The update server offers sequence %llu; the sensor starts under the supervisor.\n",
                ull(s.sequence));
    supervisor::options so;
    so.max_restarts = s.max_restarts;
    so.backoff = 150ms;
    so.prefix = "  [supervisor] ";
    std::vector<std::string> sensor_command = self;
    sensor_command.insert(sensor_command.end(), {"--sensor", p.root.string(), std::to_string(s.run_for.count())});
    const supervisor::report rep = supervisor::supervise(sensor_command, so);

    // The verdict comes from the evidence: the supervisor's record of the
    // runs, the sensor's telemetry, and the store as an operator sees it.
    outcome o;
    const auto lines = read_log(p);
    o.decision = decision_of(lines, s.sequence);
    for (const auto& l : lines)
      if (l.sequence == s.sequence && l.kind == "trial_started") o.loaded = true;
    for (const auto& r : rep.runs)
      if (r.crashed()) ++o.crashes;
    o.restarts = rep.restarts();
    o.sensor_ok = rep.ended_normally();
    {
      sg::native_storage disk;
      sg::guard_options op = sensor_options(disk, p, self, publisher);
      op.operator_mode = true;
      auto g = sg::guard::open(std::move(op));
      if (g) {
        const sg::guard_status st = (*g)->status();
        o.state = sg::to_string(st.state);
        o.running = st.active ? st.active->sequence : 0;
        for (auto q : st.quarantine)
          if (q == s.sequence) o.quarantined = true;
      } else {
        o.state = std::string("unreadable: ") + sg::to_string(g.error());
      }
    }
    std::error_code rm;
    fs::remove(p.inbox(), rm);

    const outcome& e = s.expected;
    const std::string seq = std::to_string(s.sequence);
    std::printf("  Checks                       %-37s %s\n", "expected", "observed");
    print_check("slotguard's decision", e.decision, o.decision);
    print_check("went live (on trial)", yes_no(e.loaded), yes_no(o.loaded));
    print_check("sensor crashes, restarts", std::to_string(e.crashes) + ", " + std::to_string(e.restarts),
                std::to_string(o.crashes) + ", " + std::to_string(o.restarts));
    print_check(("sequence " + seq + " quarantined").c_str(), yes_no(e.quarantined), yes_no(o.quarantined));
    print_check("running afterwards", "sequence " + std::to_string(e.running) + ", " + e.state,
                "sequence " + std::to_string(o.running) + ", " + o.state);
    print_check("sensor ended normally", yes_no(e.sensor_ok), yes_no(o.sensor_ok));
    std::printf("  => %s\n", o == e ? "as expected" : "NOT as expected");
    observed.push_back(o);
  }

  std::printf("\nSummary\n");
  std::printf("  %-2s %-30s %-37s %-37s %s\n", "#", "scenario", "expected", "observed", "result");
  bool all = true;
  for (std::size_t n = 0; n < scenarios.size(); ++n) {
    const bool ok = observed[n] == scenarios[n].expected;
    all = all && ok;
    std::printf("  %-2zu %-30s %-37s %-37s %s\n", n + 1, scenarios[n].title,
                scenarios[n].expected.decision.c_str(), observed[n].decision.c_str(), ok ? "OK" : "FAIL");
  }
  std::printf("  (OK means every check above matched, not only the decision.)\n");
  std::printf("\n%s\n", all ? "Every outcome is the expected one." : "Some outcomes differ from the expected ones.");
  if (keep) {
    std::printf("Files kept in %s\n", p.root.string().c_str());
  } else {
    fs::remove_all(p.root, ec);
  }
  return all ? 0 : 1;
}

bool parse_ms(const char* s, std::chrono::milliseconds& out) {
  char* end = nullptr;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || v <= 0 || v > 600000) return false;
  out = std::chrono::milliseconds(v);
  return true;
}

int usage() {
  std::fprintf(stderr,
               "usage: sensor_demo [--keep]\n"
               "       sensor_demo --sensor DIR RUN_MS\n"
               "       sensor_demo --probe FILE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> self = supervisor::self_command(argc > 0 ? argv[0] : nullptr);
  if (argc == 1) return run_demo(self, false);
  if (argc == 2 && std::strcmp(argv[1], "--keep") == 0) return run_demo(self, true);
  if (argc == 3 && std::strcmp(argv[1], "--probe") == 0) return run_probe(argv[2]);
  if (argc == 4 && std::strcmp(argv[1], "--sensor") == 0) {
    std::chrono::milliseconds run_for{};
    if (!parse_ms(argv[3], run_for)) return usage();
    paths p;
    p.root = argv[2];
    return run_sensor(self, p, run_for);
  }
  return usage();
}
