// SPDX-License-Identifier: Apache-2.0
// fleet_sim: a fleet of sensors receives a content update that crashes the
// sensor (as Channel File 291 did on 19 July 2024), two ways. Unprotected,
// the file goes to every device at once and each device that loads it
// crash-loops until someone fixes it by hand. Through slotguard, the
// bundle's rollout ramp admits devices by the library's own bucket function,
// each admitted device runs the library's real guard on an in-memory disk
// (sim_storage) and a manual clock, the crash during the trial is taken back
// at the next start, and the publisher's recall, once the first ring's
// reports arrive, stops the ramp. Prints a Markdown table and writes an SVG
// chart of devices down over time.
//
// With --latent-after-minutes M the content's crash comes M minutes after it
// is loaded, after probation: the trial commits on every device the ramp
// admits, and from then on the sensor crashes at every start. Three runs:
// unprotected, slotguard without the crash-streak breaker (safe_streak 0:
// the committed content boot-loops until the device is fixed by hand) and
// slotguard with it (back on the last known-safe content after safe_streak
// crashing starts). See docs/FLEET.md for the model.
#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/policy.hpp>
#include <slotguard/sim_storage.hpp>

#include "chart.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sg = slotguard;

namespace {

// ---------------------------------------------------------------------------
// Parameters (every one a flag; docs/FLEET.md justifies the defaults)

struct params {
  std::uint64_t devices = 1000000;
  std::uint64_t seed = 1;
  double poll_minutes = 10;    // each device asks for new content this often
  double crash_seconds = 20;   // from loading the content to the crash
  double latent_minutes = 0;   // > 0: the latent case (the crash comes this long after the first load)
  std::uint32_t safe_streak = 3;  // the breaker's threshold in the breaker run (null_streak: twice it)
  double boot_minutes = 3;     // crash, memory dump, reboot, sensor running again
  // Unprotected.
  double pull_minutes = 78;       // the publisher withdraws the file
  double fix_start_minutes = 120; // manual remediation begins
  double fix_rate = -1;           // devices fixed per minute; < 0: devices / 10000
  // Through slotguard.
  std::string ramp_text = "0:1,30:10,60:50,120:100";
  std::vector<sg::rollout_step> ramp;  // offsets in seconds
  std::uint32_t start_budget = 1;
  std::uint64_t real_limit = 50000;   // admitted devices that run a real guard; the rest replay their outcomes
  double telemetry_minutes = 5;       // a device's revert report reaches the publisher
  std::uint64_t recall_threshold = 10; // reports that make the publisher recall
  double recall_minutes = 15;         // from that decision to the signed recall being served
  std::string svg = "fleet.svg";
  std::string markdown;  // also write the table here when set
};

std::int64_t secs(double minutes) { return static_cast<std::int64_t>(minutes * 60.0 + 0.5); }

void usage() {
  std::fputs(
      "usage: fleet_sim [options]\n"
      "  --devices N            fleet size (1000000)\n"
      "  --seed S               seed for device ids and poll phases (1)\n"
      "  --poll-minutes M       each device polls for content every M minutes (10)\n"
      "  --crash-seconds S      seconds from loading the bad content to the crash (20)\n"
      "  --latent-after-minutes M\n"
      "                         the latent case: the content crashes the sensor M minutes\n"
      "                         after it first loads (after probation), then at every start;\n"
      "                         runs unprotected, slotguard without and with the breaker\n"
      "  --safe-streak N        the guards' safe_streak (3; null_streak 2N); in the latent\n"
      "                         case, the breaker run's\n"
      "  --boot-minutes M       a crash and reboot keeps a device down M minutes (3)\n"
      "  --pull-minutes M       unprotected: the publisher withdraws the file after M minutes (78)\n"
      "  --fix-start-minutes M  unprotected: manual remediation starts after M minutes (120)\n"
      "  --fix-rate R           devices fixed by hand per minute (devices / 10000)\n"
      "  --ramp LIST            rollout ramp, minutes:percent,... (0:1,30:10,60:50,120:100)\n"
      "  --start-budget N       process starts a trial may use (1)\n"
      "  --real-limit N         admitted devices that run a real guard; later ones replay\n"
      "                         a real device's outcome (50000)\n"
      "  --telemetry-minutes M  delay of a revert report to the publisher (5)\n"
      "  --recall-threshold K   revert reports that make the publisher recall (10)\n"
      "  --recall-minutes M     from the recall decision to the recall being served (15)\n"
      "  --svg FILE             chart output (fleet.svg)\n"
      "  --markdown FILE        also write the table to FILE\n",
      stderr);
}

bool parse_u64(const char* s, std::uint64_t& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (*end != '\0' || s[0] == '-') return false;
  out = static_cast<std::uint64_t>(v);
  return true;
}

bool parse_double(const char* s, double& out) {
  if (s == nullptr || *s == '\0') return false;
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (*end != '\0' || !(v >= 0) || v > 1e9) return false;
  out = v;
  return true;
}

bool parse_ramp(const std::string& text, std::vector<sg::rollout_step>& out) {
  out.clear();
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const auto colon = item.find(':');
    if (colon == std::string::npos) return false;
    double minutes = 0;
    std::uint64_t pct = 0;
    if (!parse_double(item.substr(0, colon).c_str(), minutes) ||
        !parse_u64(item.substr(colon + 1).c_str(), pct) || pct > 100)
      return false;
    out.push_back(sg::rollout_step{static_cast<std::uint64_t>(minutes * 60.0), static_cast<std::uint8_t>(pct)});
  }
  return !out.empty();
}

bool parse_args(int argc, char** argv, params& p) {
  for (int i = 1; i < argc; i += 2) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    bool good = v != nullptr;
    std::uint64_t u = 0;
    if (a == "--help" || a == "-h") {
      usage();
      std::exit(0);
    } else if (a == "--devices") {
      good = good && parse_u64(v, p.devices) && p.devices >= 1 && p.devices <= 100000000;
    } else if (a == "--seed") {
      good = good && parse_u64(v, p.seed);
    } else if (a == "--poll-minutes") {
      good = good && parse_double(v, p.poll_minutes) && p.poll_minutes >= 1.0 / 60;
    } else if (a == "--crash-seconds") {
      good = good && parse_double(v, p.crash_seconds);
    } else if (a == "--latent-after-minutes") {
      good = good && parse_double(v, p.latent_minutes) && p.latent_minutes > 0;
    } else if (a == "--safe-streak") {
      good = good && parse_u64(v, u) && u >= 1 && u <= 100;
      p.safe_streak = static_cast<std::uint32_t>(u);
    } else if (a == "--boot-minutes") {
      good = good && parse_double(v, p.boot_minutes) && p.boot_minutes >= 1.0 / 60;
    } else if (a == "--pull-minutes") {
      good = good && parse_double(v, p.pull_minutes);
    } else if (a == "--fix-start-minutes") {
      good = good && parse_double(v, p.fix_start_minutes);
    } else if (a == "--fix-rate") {
      good = good && parse_double(v, p.fix_rate) && p.fix_rate > 0;
    } else if (a == "--ramp") {
      good = good && (p.ramp_text = v, true);
    } else if (a == "--start-budget") {
      good = good && parse_u64(v, u) && u >= 1 && u <= 100;
      p.start_budget = static_cast<std::uint32_t>(u);
    } else if (a == "--real-limit") {
      good = good && parse_u64(v, p.real_limit) && p.real_limit >= 1;
    } else if (a == "--telemetry-minutes") {
      good = good && parse_double(v, p.telemetry_minutes);
    } else if (a == "--recall-threshold") {
      good = good && parse_u64(v, p.recall_threshold) && p.recall_threshold >= 1;
    } else if (a == "--recall-minutes") {
      good = good && parse_double(v, p.recall_minutes);
    } else if (a == "--svg") {
      good = good && (p.svg = v, !p.svg.empty());
    } else if (a == "--markdown") {
      good = good && (p.markdown = v, !p.markdown.empty());
    } else {
      std::fprintf(stderr, "fleet_sim: unknown option %s\n", a.c_str());
      return false;
    }
    if (!good) {
      std::fprintf(stderr, "fleet_sim: bad or missing value for %s\n", a.c_str());
      return false;
    }
  }
  if (!parse_ramp(p.ramp_text, p.ramp)) {
    std::fprintf(stderr, "fleet_sim: bad --ramp %s (want minutes:percent,...)\n", p.ramp_text.c_str());
    return false;
  }
  if (p.latent_minutes > 0) {
    // The crash must come after the trial has committed and the start has
    // been marked healthy, or it is the ordinary case.
    const sg::guard_options defaults;
    const auto after = std::chrono::seconds(secs(p.latent_minutes));
    if (after <= defaults.probation || after <= defaults.healthy_uptime) {
      const auto probation = std::chrono::duration_cast<std::chrono::seconds>(defaults.probation);
      std::fprintf(stderr, "fleet_sim: --latent-after-minutes must exceed the probation (%lld s)\n",
                   static_cast<long long>(probation.count()));
      return false;
    }
    // Remediation applies the publisher's recall by hand: it must exist.
    if (p.pull_minutes > p.fix_start_minutes) {
      std::fprintf(stderr, "fleet_sim: the latent case needs --pull-minutes <= --fix-start-minutes\n");
      return false;
    }
  }
  if (p.fix_rate < 0) p.fix_rate = std::max(1.0, static_cast<double>(p.devices) / 10000.0);
  return true;
}

// splitmix64: small, fast and the same on every platform.
struct rng {
  std::uint64_t s;
  std::uint64_t next() {
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
};

// ---------------------------------------------------------------------------
// The content and the sensor that reads it

// Content for a named-pipe template type. As in 2024, the template type
// declares 21 input fields, the sensor's code supplies 20, and the publisher's
// validator checks against the declaration. Content that puts a real
// (non-wildcard) criterion on field 21 makes the interpreter read past the end
// of its 20 inputs.
const std::string good_content = "template=named-pipe fields=21 field21=*";
const std::string bad_content = "template=named-pipe fields=21 field21=\\\\.\\pipe\\*";

std::string field_value(std::string_view payload, std::string_view key) {
  const std::size_t at = payload.find(key);
  if (at == std::string_view::npos) return {};
  const std::size_t start = at + key.size();
  const std::size_t end = payload.find(' ', start);
  return std::string(payload.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
}

// The sensor's interpreter: true when running this content crashes it.
bool crashes_sensor(sg::byte_view payload) {
  const std::string v = field_value(payload.as_chars(), "field21=");
  return !v.empty() && v != "*";
}

// The validate gate, deliberately as weak as the 2024 validator: it checks the
// content against the template's declaration (21 fields), not against what the
// code supplies, so the bad content passes. (slotguard's schema, declared from
// the interpreter's own 20 inputs, would reject it outright; the simulation
// takes the worse case in which the content passes every check and only the
// ramp, the trial and the revert stand between it and the fleet.)
sg::result<void, sg::validation_error> declared_template_check(sg::byte_view payload) {
  const std::string n = field_value(payload.as_chars(), "fields=");
  std::uint64_t fields = 0;
  if (field_value(payload.as_chars(), "template=") != "named-pipe" || !parse_u64(n.c_str(), fields) ||
      fields > 21) {
    sg::validation_error e;
    e.code = sg::errc::field_count_mismatch;
    e.message = "not a named-pipe template instance of at most 21 fields";
    return e;
  }
  return sg::result<void, sg::validation_error>();
}

// ---------------------------------------------------------------------------
// The publisher

const char* const channel = "channel-291";
constexpr std::uint64_t good_sequence = 290;
constexpr std::uint64_t bad_sequence = 291;
constexpr std::uint64_t recall_sequence = 292;
constexpr std::int64_t push_unix = 1721362140;  // 2024-07-19 04:09 UTC

sg::ed25519_seed publisher_seed() {
  sg::ed25519_seed s{};
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<std::uint8_t>(0xA5 ^ (i * 29));
  return s;
}

struct bundles {
  std::vector<std::uint8_t> good, bad, recall;
};

bool build_bundles(const params& p, bundles& out) {
  const sg::ed25519_seed key = publisher_seed();
  auto make = [&](std::uint64_t seq, const std::string& payload, std::int64_t created,
                  std::vector<sg::rollout_step> ramp, std::vector<std::uint64_t> recalls,
                  std::vector<std::uint8_t>& dest) {
    sg::bundle_builder b;
    b.channel(channel)
        .sequence(seq)
        .version("C-00000" + std::to_string(seq))
        .schema("named-pipe", 1)
        .created(created)
        .payload(sg::byte_view(payload))
        .sign_with(key);
    if (!ramp.empty()) b.rollout(std::move(ramp));
    if (!recalls.empty()) b.recalls(std::move(recalls));
    auto r = b.build();
    if (!r) {
      std::fprintf(stderr, "fleet_sim: building bundle %llu failed: %s\n",
                   static_cast<unsigned long long>(seq), sg::to_string(r.error()));
      return false;
    }
    dest = std::move(*r);
    return true;
  };
  return make(good_sequence, good_content, push_unix - 86400, {}, {}, out.good) &&
         make(bad_sequence, bad_content, push_unix, p.ramp, {}, out.bad) &&
         make(recall_sequence, good_content, push_unix, {}, {bad_sequence}, out.recall);
}

std::string device_id(const params& p, std::uint64_t i) {
  return "sensor-" + std::to_string(p.seed) + "-" + std::to_string(i);
}

// ---------------------------------------------------------------------------
// Results

struct outcome {
  std::uint64_t crashed = 0;
  std::int64_t down_seconds = 0;
  std::int64_t whole_at = 0;  // seconds after the push when the last device is back
  std::vector<fleet::down_interval> down;

  void add_down(std::int64_t from, std::int64_t to) {
    down.push_back({from, to});
    down_seconds += to - from;
    whole_at = std::max(whole_at, to);
  }
};

// Poll phases: device i first polls `phase[i]` seconds after the push, then
// every poll interval. The same for both scenarios.
std::vector<std::uint32_t> poll_phases(const params& p) {
  rng r{p.seed};
  const auto period = static_cast<std::uint64_t>(std::max<std::int64_t>(1, secs(p.poll_minutes)));
  std::vector<std::uint32_t> phase(static_cast<std::size_t>(p.devices));
  for (auto& ph : phase) ph = static_cast<std::uint32_t>(r.next() % period);
  return phase;
}

// ---------------------------------------------------------------------------
// Unprotected: the file goes to everyone; every device that loads it crashes
// at every boot until fixed by hand.

//
// In the latent case every device loads the file at its first poll and
// crashes latent_minutes later; the publisher learns of it from outside (no
// device reports anything) and serves a replacement pull_minutes after the
// first crash, which saves a device that polls before its own crash.
// Remediation starts fix_start_minutes after the first crash.

outcome run_unprotected(const params& p, const std::vector<std::uint32_t>& phase) {
  outcome o;
  const std::int64_t pull = secs(p.pull_minutes);
  const std::int64_t period = std::max<std::int64_t>(1, secs(p.poll_minutes));
  const bool latent = p.latent_minutes > 0;
  std::vector<std::int64_t> crash_at;
  std::int64_t first_crash = 0;
  if (latent) {
    const std::int64_t after = secs(p.latent_minutes);
    first_crash = *std::min_element(phase.begin(), phase.end()) + after;
    const std::int64_t replaced = first_crash + pull;
    for (std::size_t i = 0; i < phase.size(); ++i) {
      const std::int64_t got = phase[i];
      const std::int64_t crash = got + after;
      // The first poll at or after the replacement is served.
      const std::int64_t k = replaced <= got ? 1 : (replaced - got + period - 1) / period;
      if (got + k * period < crash) continue;
      crash_at.push_back(crash);
    }
  } else {
    for (std::size_t i = 0; i < phase.size(); ++i) {
      // The device's first poll after the push that still finds the file.
      const std::int64_t got = phase[i];
      if (got >= pull) continue;
      crash_at.push_back(got + secs(p.crash_seconds / 60.0));
    }
  }
  std::sort(crash_at.begin(), crash_at.end());
  o.crashed = crash_at.size();
  // Remediation works through the crashed devices in the order they went
  // down, R per minute, from its start.
  const double per_device = 60.0 / p.fix_rate;
  const std::int64_t fix_start = first_crash + secs(p.fix_start_minutes);
  for (std::size_t k = 0; k < crash_at.size(); ++k) {
    const auto fixed = std::max(
        crash_at[k], fix_start + static_cast<std::int64_t>(per_device * static_cast<double>(k + 1) + 0.5));
    o.add_down(crash_at[k], fixed);
  }
  return o;
}

// ---------------------------------------------------------------------------
// Through slotguard: an event-driven simulation on one manual clock. Every
// device the ramp admits gets its own simulated disk (a copy of a disk on
// which the good content is committed) and runs the library's guard.

struct protected_stats {
  std::uint64_t admitted = 0;          // devices the ramp admitted
  std::uint64_t real = 0;              // of which ran a real guard
  std::uint64_t never_admitted = 0;    // only the bucket function ran for these
  std::uint64_t policy_checks = 0;     // check_policy calls
  std::uint64_t apply_refused = 0;     // admitted by check_policy, but apply failed
  std::uint64_t reverted_start_budget = 0;
  std::uint64_t reverted_recall = 0;
  std::uint64_t reverted_other = 0;
  std::uint64_t requarantine_ok = 0;   // re-applying the bad bundle after the revert: quarantined
  std::uint64_t requarantine_floor = 0; // ... refused below the floor (the sequence quarantined too)
  std::uint64_t requarantine_bad = 0;
  std::uint64_t boots = 0;
  std::uint64_t replayed = 0;          // admitted beyond --real-limit
  std::uint64_t reports = 0;
  std::int64_t recall_decided = -1;    // seconds after the push
  std::int64_t recall_served = -1;
  std::string recall_why;              // what made the publisher recall
  std::uint64_t max_live = 0;
  std::vector<std::uint64_t> admitted_in_step;  // per ramp step
  // The latent case.
  std::uint64_t committed_bad = 0;      // real devices on which the bad content's trial committed
  std::uint64_t breaker_fallbacks = 0;  // real devices the breaker put back on the last known-safe content
  std::uint64_t boot_loops = 0;         // real devices left in a boot loop (see loop_cap)
  std::uint64_t fixed_by_hand = 0;      // real devices on which an operator applied the recall
  std::uint64_t recalled_in_time = 0;   // real devices the recall reached before their crash
  std::uint64_t replay_recalled = 0;    // replayed devices the recall reached before their crash
  std::uint64_t replay_deferred = 0;    // replayed crashes that waited for a real outcome
  std::uint64_t up_on_good = 0;         // real devices up again on the good content (290)
  std::uint64_t up_on_recall = 0;       // on the recall's content (292)
  std::uint64_t up_on_nothing = 0;      // with no content
  std::uint32_t max_crashes = 0;        // most crashes of one real device before it ran good content
  std::int64_t first_crash = -1;
  std::string failure;                          // non-empty: the library misbehaved
};

class protected_fleet {
 public:
  // safe_streak: the guards' crash-streak breaker threshold (0: off);
  // null_streak is twice it.
  protected_fleet(const params& p, const bundles& b, const std::vector<std::uint32_t>& phase,
                  std::uint32_t safe_streak)
      : p_(p), b_(b), phase_(phase), safe_streak_(safe_streak), clock_(push_unix), pick_{p.seed ^ 0x5EEDull} {
    candidate_ = sg::policy_candidate::from_manifest(parse_manifest(b.bad));
    (void)trust_.add(sg::ed25519_public_key_from_seed(publisher_seed()));
    stats_.admitted_in_step.assign(p.ramp.size(), 0);
  }

  bool run(outcome& o) {
    if (!make_template_disk()) return false;
    state_.assign(phase_.size(), dev_waiting);
    for (std::size_t i = 0; i < phase_.size(); ++i)
      schedule(phase_[i], static_cast<std::uint32_t>(i), ev_kind::poll);
    while (!queue_.empty()) {
      const ev e = queue_.top();
      queue_.pop();
      if (e.t > now_) {
        clock_.advance(std::chrono::seconds(e.t - now_));
        now_ = e.t;
      }
      switch (e.kind) {
        case ev_kind::poll: on_poll(e.device); break;
        case ev_kind::crash: on_crash(e.device, e.gen); break;
        case ev_kind::boot: on_boot(e.device); break;
        case ev_kind::report: on_report(); break;
        case ev_kind::tick: on_tick(e.device, e.gen); break;
        case ev_kind::trigger: on_replay_trigger(e.device); break;
        case ev_kind::fix: on_fix(e.device); break;
      }
      if (!stats_.failure.empty()) return false;
      stats_.max_live = std::max<std::uint64_t>(stats_.max_live, live_.size());
    }
    if (!pending_.empty()) {
      if (outcomes_.empty()) return fail("no real device's outcome to replay");
      resolve_pending();
    }
    if (!live_.empty())
      return fail(std::to_string(live_.size()) + " admitted devices never ran good content again");
    for (auto s : state_)
      if (s == dev_waiting || s == dev_stopped) ++stats_.never_admitted;
    o = std::move(out_);
    return true;
  }

  const protected_stats& stats() const { return stats_; }
  // The latent case: a device that has crashed this many times in a row,
  // its guard publishing the same crashing content at every start, is taken
  // to be in a boot loop that no further start ends (more starts than every
  // step of the breaker, when it is on, would need): it is not booted again
  // and stays down until it is fixed by hand.
  std::uint32_t loop_cap() const { return std::max<std::uint32_t>(12, 3 * safe_streak_ + 3); }

 private:
  enum class ev_kind : std::uint8_t { poll, crash, boot, report, tick, trigger, fix };
  struct ev {
    std::int64_t t;
    std::uint64_t order;
    std::uint32_t device;
    std::uint32_t gen;  // crash, tick: the sensor process it is for
    ev_kind kind;
    bool operator>(const ev& o) const { return t != o.t ? t > o.t : order > o.order; }
  };
  enum : std::uint8_t { dev_waiting, dev_live, dev_done, dev_stopped, dev_replay };

  // A device the ramp admitted: its disk, its sensor process (the guard),
  // and its time down.
  struct live_device {
    sg::sim_storage disk;
    std::unique_ptr<sg::guard> g;
    std::uint32_t gen = 0;  // counts the sensor's processes (guards opened)
    std::vector<sg::event> events;
    std::int64_t down_since = -1;
    std::int64_t first_crash = -1;
    std::uint32_t crashes = 0;
    // The latent case.
    std::int64_t trigger_at = -1;  // from then on the content crashes the sensor
    bool looping = false;          // left in its boot loop (loop_cap)
    bool fixed = false;            // an operator applied the recall
    bool outcome_recorded = false;
  };

  // What happened to a device that ran a real guard, from its first crash:
  // replayed for admitted devices beyond --real-limit.
  struct real_outcome {
    std::int64_t down = 0;  // seconds from the first crash to running good content
    bool crashed = false;
    bool by_hand = false;   // latent case: it ran good content only once fixed by hand
    std::uint32_t reports = 0;  // revert reports its telemetry sent
  };

  // A replayed device's crash waiting for a real outcome to copy.
  struct pending_crash {
    std::int64_t crash = 0;
    std::int64_t fix = 0;
  };

  static sg::bundle_manifest parse_manifest(const std::vector<std::uint8_t>& bytes) {
    auto v = sg::parse_bundle(sg::byte_view(bytes));
    return v ? v->manifest : sg::bundle_manifest{};
  }

  bool latent() const { return p_.latent_minutes > 0; }

  void schedule(std::int64_t t, std::uint32_t device, ev_kind k, std::uint32_t gen = 0) {
    queue_.push(ev{t, order_++, device, gen, k});
  }

  sg::guard_options options(const std::string& id, sg::sim_storage& disk, const sg::time_source& time,
                            live_device* sink) {
    sg::guard_options o;
    o.fs = &disk;
    o.directory = "/var/lib/sensor/content";
    o.channel = channel;
    o.trust = trust_;
    o.check = sg::content_check(sg::validator_fn(declared_template_check));
    o.time = &time;
    // No watchdog thread: time is simulated, and these sensors crash, they
    // do not hang.
    o.watchdog = sg::watchdog_mode::poll;
    o.start_budget = p_.start_budget;
    o.safe_streak = safe_streak_;
    if (safe_streak_ != 0) o.null_streak = 2 * safe_streak_;
    o.policy.device_id = id;
    if (sink != nullptr) o.on_event = [sink](const sg::event& e) { sink->events.push_back(e); };
    return o;
  }

  // One disk with the good content committed; every admitted device starts
  // from a copy of it. The sensor then ran it and stopped cleanly, so the
  // good content is the last known-safe and no crash streak is open.
  bool make_template_disk() {
    sg::manual_clock setup(push_unix - 86400);
    {
      auto g = sg::guard::open(options("setup", template_, setup, nullptr));
      if (!g) return fail(std::string("open on the template disk: ") + sg::to_string(g.error()));
      auto a = (*g)->apply(sg::byte_view(b_.good));
      if (!a) return fail(std::string("applying the good content: ") + sg::to_string(a.error()));
      auto c = (*g)->confirm();
      if (!c) return fail(std::string("confirming the good content: ") + sg::to_string(c.error()));
      auto s = (*g)->shutdown();
      if (!s) return fail(std::string("stopping on the template disk: ") + sg::to_string(s.error()));
    }
    // Only what is durable is on the disk that devices boot from.
    template_.reboot();
    return true;
  }

  bool fail(std::string why) {
    stats_.failure = std::move(why);
    return false;
  }

  bool recalled() const { return stats_.recall_served >= 0 && now_ >= stats_.recall_served; }

  // The publisher decides to recall at `decided`; the recall is served from
  // `served`. The earliest decision wins.
  void recall_from(std::int64_t decided, std::int64_t served, const char* why) {
    if (stats_.recall_served >= 0 && stats_.recall_served <= served) return;
    stats_.recall_decided = decided;
    stats_.recall_served = served;
    stats_.recall_why = why;
  }

  void on_poll(std::uint32_t d) {
    if (state_[d] == dev_live) {
      // Up and on the bad content (the crash has not come yet): the recall,
      // when it is served, reverts it.
      live_device& dev = *live_.at(d);
      // Latent case: a device in its boot loop never polls again (it
      // crashes seconds after each start, before its updater asks).
      if (latent() && dev.down_since >= 0) return;
      if (recalled() && dev.g) {
        auto r = dev.g->apply(sg::byte_view(b_.recall));
        if (!r) {
          fail(std::string("applying the recall: ") + sg::to_string(r.error()));
          return;
        }
        if (latent() && dev.first_crash < 0) ++stats_.recalled_in_time;
        finish_if_healthy(d);
        return;
      }
      if (dev.g) schedule(now_ + period(), d, ev_kind::poll);
      return;
    }
    if (state_[d] == dev_replay) {
      if (recalled()) {
        ++stats_.replay_recalled;
        state_[d] = dev_done;
        return;
      }
      schedule(now_ + period(), d, ev_kind::poll);
      return;
    }
    if (state_[d] != dev_waiting) return;
    if (recalled()) {
      // The distribution point serves the recall, not the bundle: this
      // device never receives the bad content. (The recall would quarantine
      // a sequence it never had; no guard is run for it.)
      state_[d] = dev_stopped;
      return;
    }
    // The device's updater asks the library's policy whether its bucket is
    // admitted before it fetches and applies the bundle.
    sg::policy_options pol;
    pol.device_id = device_id(p_, d);
    ++stats_.policy_checks;
    if (!sg::check_policy(pol, candidate_, clock_.unix_seconds(), {})) {
      schedule(now_ + period(), d, ev_kind::poll);
      return;
    }
    admit(d, pol.device_id);
  }

  void admit(std::uint32_t d, const std::string& id) {
    ++stats_.admitted;
    const std::uint64_t elapsed = static_cast<std::uint64_t>(now_);
    // The step in force: the latest offset at or before now (the ramp may
    // be given in any order).
    std::size_t step = 0;
    bool found = false;
    for (std::size_t i = 0; i < p_.ramp.size(); ++i)
      if (p_.ramp[i].offset <= elapsed && (!found || p_.ramp[i].offset >= p_.ramp[step].offset)) {
        step = i;
        found = true;
      }
    ++stats_.admitted_in_step[step];
    if (stats_.real >= p_.real_limit && latent()) {
      replay_latent(d);
      return;
    }
    if (stats_.real >= p_.real_limit && !outcomes_.empty()) {
      replay(d);
      return;
    }
    ++stats_.real;

    auto dev = std::make_unique<live_device>();
    dev->disk = template_;
    live_device* raw = dev.get();
    raw->gen = 1;
    auto g = sg::guard::open(options(id, raw->disk, clock_, raw));
    if (!g) {
      fail(std::string("open on a device: ") + sg::to_string(g.error()));
      return;
    }
    raw->g = std::move(*g);
    auto a = raw->g->apply(sg::byte_view(b_.bad));
    if (!a) {
      // The policy admitted it but the guard refused: the device keeps its
      // content and stays up.
      ++stats_.apply_refused;
      state_[d] = dev_done;
      return;
    }
    state_[d] = dev_live;
    live_.emplace(d, std::move(dev));
    sensor_loads(d);
    schedule(now_ + period(), d, ev_kind::poll);
  }

  // A device beyond --real-limit: the outcome of a real device, picked at
  // random, from the same moment of loading the content. (The recall cannot
  // reach it during its trial; with crash_seconds below the poll interval it
  // rarely could.)
  void replay(std::uint32_t d) {
    ++stats_.replayed;
    const real_outcome& r = outcomes_[static_cast<std::size_t>(pick_.next() % outcomes_.size())];
    state_[d] = dev_done;
    if (!r.crashed) return;
    ++out_.crashed;
    const std::int64_t crash = now_ + secs(p_.crash_seconds / 60.0);
    out_.add_down(crash, crash + r.down);
    for (std::uint32_t i = 0; i < r.reports; ++i)
      schedule(crash + r.down + secs(p_.telemetry_minutes), d, ev_kind::report);
  }

  // The latent case, beyond --real-limit: the device loads the content now
  // and polls as a real one does; if the recall reaches it before its crash
  // it never crashes (as every real device the recall reached in time); at
  // its crash it copies the outcome of a real device that crashed, picked at
  // random, from its own crash (waiting for one, if no real device's outcome
  // is known yet).
  void replay_latent(std::uint32_t d) {
    ++stats_.replayed;
    state_[d] = dev_replay;
    schedule(now_ + secs(p_.latent_minutes), d, ev_kind::trigger);
    schedule(now_ + period(), d, ev_kind::poll);
  }

  void on_replay_trigger(std::uint32_t d) {
    if (state_[d] != dev_replay) return;
    state_[d] = dev_done;
    ++out_.crashed;
    pending_.push_back({now_, went_down()});
    if (outcomes_.empty()) ++stats_.replay_deferred;
    resolve_pending();
  }

  void resolve_pending() {
    if (outcomes_.empty()) return;
    for (const pending_crash& c : pending_) {
      const real_outcome& r = outcomes_[static_cast<std::size_t>(pick_.next() % outcomes_.size())];
      const std::int64_t end = r.by_hand ? c.fix : std::min(c.crash + r.down, c.fix);
      out_.add_down(c.crash, end);
      if (r.by_hand) continue;
      for (std::uint32_t i = 0; i < r.reports; ++i)
        schedule(std::max(now_, end + secs(p_.telemetry_minutes)), 0, ev_kind::report);
    }
    pending_.clear();
  }

  // The latent case: a device goes down for the first time. The first crash
  // in the fleet tells the publisher (from outside: customers, its own
  // monitoring) that something is wrong; it serves the recall pull_minutes
  // later. Remediation by hand starts fix_start_minutes after the first
  // crash and works through the devices in the order they went down;
  // returns when it reaches this one.
  std::int64_t went_down() {
    if (stats_.first_crash < 0) {
      stats_.first_crash = now_;
      recall_from(now_, now_ + secs(p_.pull_minutes), "the first crash, from outside");
    }
    const double per_device = 60.0 / p_.fix_rate;
    const std::uint64_t k = fix_slots_++;
    return std::max(now_, stats_.first_crash + secs(p_.fix_start_minutes) +
                              static_cast<std::int64_t>(per_device * static_cast<double>(k + 1) + 0.5));
  }

  bool crashes_now(const live_device& dev, const sg::content_handle& c) const {
    if (!c || !crashes_sensor(c->payload())) return false;
    return !latent() || (dev.trigger_at >= 0 && now_ >= dev.trigger_at);
  }

  // The sensor runs what the guard publishes; content that crashes it does so
  // crash_seconds later (in the latent case: when the rare event reaches the
  // device, latent_minutes after it first loaded the content, and
  // crash_seconds after every later load).
  void sensor_loads(std::uint32_t d) {
    live_device& dev = *live_.at(d);
    const sg::content_handle c = dev.g->current();
    if (latent()) schedule(now_ + tick_seconds, d, ev_kind::tick, dev.gen);
    if (!c || !crashes_sensor(c->payload())) return;
    if (!latent()) {
      schedule(now_ + secs(p_.crash_seconds / 60.0), d, ev_kind::crash, dev.gen);
      return;
    }
    if (dev.trigger_at < 0) dev.trigger_at = now_ + secs(p_.latent_minutes);
    schedule(std::max(dev.trigger_at, now_ + secs(p_.crash_seconds / 60.0)), d, ev_kind::crash, dev.gen);
  }

  // The latent case: a running sensor feeds its guard's heartbeat and calls
  // poll() (the guards run in poll mode), so that its trial commits after
  // probation and its start is marked healthy after healthy_uptime, as the
  // watchdog's thread would do on a real host.
  void on_tick(std::uint32_t d, std::uint32_t gen) {
    auto it = live_.find(d);
    if (it == live_.end()) return;
    live_device& dev = *it->second;
    if (!dev.g || dev.gen != gen) return;
    dev.g->heartbeat();
    dev.g->poll();
    const sg::guard_status st = dev.g->status();
    if (st.state == sg::guard_state::trial || (safe_streak_ != 0 && !st.healthy))
      schedule(now_ + tick_seconds, d, ev_kind::tick, gen);
  }

  void on_crash(std::uint32_t d, std::uint32_t gen) {
    auto it = live_.find(d);
    if (it == live_.end()) return;
    live_device& dev = *it->second;
    if (!dev.g || dev.gen != gen) return;
    const sg::content_handle c = dev.g->current();
    if (!crashes_now(dev, c)) return;  // reverted in the meantime
    // The driver takes the machine down: the sensor process is gone and the
    // disk keeps only what was durable, as after a power cut.
    dev.g.reset();
    dev.disk.reboot();
    if (dev.crashes++ == 0) {
      ++out_.crashed;
      if (latent()) schedule(went_down(), d, ev_kind::fix);
    }
    stats_.max_crashes = std::max(stats_.max_crashes, dev.crashes);
    if (dev.down_since < 0) dev.down_since = now_;
    if (dev.first_crash < 0) dev.first_crash = now_;
    if (latent() && dev.crashes >= loop_cap()) {
      dev.looping = true;
      ++stats_.boot_loops;
      record_outcome(dev, true);
      return;
    }
    if (dev.crashes > 1000) {
      fail("a device crashed 1000 times without its guard taking the content back");
      return;
    }
    schedule(now_ + secs(p_.boot_minutes), d, ev_kind::boot);
  }

  void on_boot(std::uint32_t d) {
    auto it = live_.find(d);
    if (it == live_.end()) return;  // fixed by hand in the meantime
    live_device& dev = *it->second;
    if (dev.g || dev.looping) return;
    ++stats_.boots;
    // The sensor starts and opens its guard first, before loading content.
    ++dev.gen;
    auto g = sg::guard::open(options(device_id(p_, d), dev.disk, clock_, &dev));
    if (!g) {
      fail(std::string("open after a crash: ") + sg::to_string(g.error()));
      return;
    }
    dev.g = std::move(*g);
    const sg::content_handle c = dev.g->current();
    if (c && crashes_sensor(c->payload())) {
      sensor_loads(d);  // still the bad content: it crashes again
      return;
    }
    finish_if_healthy(d);
  }

  // The latent case: remediation reaches a device. If it is still down, the
  // technician stops it, applies the publisher's signed recall with the
  // operator's tool (an operator-mode guard, which counts no start), and
  // starts it again.
  void on_fix(std::uint32_t d) {
    auto it = live_.find(d);
    if (it == live_.end()) return;  // up again by itself
    live_device& dev = *it->second;
    if (dev.down_since < 0) return;
    if (dev.g) {
      dev.g.reset();
      dev.disk.reboot();
    }
    if (!recalled()) {
      fail("remediation reached a device before the recall was served");
      return;
    }
    {
      auto o = options(device_id(p_, d), dev.disk, clock_, nullptr);
      o.operator_mode = true;
      auto g = sg::guard::open(o);
      if (!g) {
        fail(std::string("the operator's open: ") + sg::to_string(g.error()));
        return;
      }
      auto r = (*g)->apply(sg::byte_view(b_.recall));
      if (!r) {
        fail(std::string("the operator applying the recall: ") + sg::to_string(r.error()));
        return;
      }
    }
    dev.disk.reboot();
    dev.fixed = true;
    dev.looping = false;
    ++stats_.fixed_by_hand;
    on_boot(d);
    if (live_.count(d) != 0 && stats_.failure.empty())
      fail("a device fixed by hand still runs the bad content");
  }

  void record_outcome(live_device& dev, bool by_hand) {
    if (dev.outcome_recorded || dev.first_crash < 0) return;
    dev.outcome_recorded = true;
    real_outcome r;
    r.crashed = true;
    r.by_hand = by_hand;
    r.down = now_ - dev.first_crash;
    outcomes_.push_back(r);
    resolve_pending();
  }

  // The device runs good content again: its time down ends, its telemetry
  // reports the revert, and its story is over (the disk is let go).
  void finish_if_healthy(std::uint32_t d) {
    live_device& dev = *live_.at(d);
    const sg::content_handle c = dev.g->current();
    if (c && crashes_sensor(c->payload())) return;
    if (dev.down_since >= 0) {
      out_.add_down(dev.down_since, now_);
      dev.down_since = -1;
    }
    real_outcome r;
    r.crashed = dev.first_crash >= 0;
    r.down = r.crashed ? now_ - dev.first_crash : 0;
    r.by_hand = dev.fixed;
    for (const sg::event& e : dev.events) {
      if (e.kind == sg::event_kind::committed && e.candidate_sequence == bad_sequence) ++stats_.committed_bad;
      if (e.kind == sg::event_kind::crash_loop && e.candidate_sequence == bad_sequence) {
        // The breaker set the bad content aside: the device reports it as
        // it would a revert.
        ++stats_.breaker_fallbacks;
        ++r.reports;
        schedule(now_ + secs(p_.telemetry_minutes), d, ev_kind::report);
        continue;
      }
      if (e.kind != sg::event_kind::reverted) continue;
      if (e.reason == sg::revert_reason::recall) {
        ++stats_.reverted_recall;
        continue;
      }
      if (e.reason == sg::revert_reason::start_budget_spent)
        ++stats_.reverted_start_budget;
      else
        ++stats_.reverted_other;
      ++r.reports;
      schedule(now_ + secs(p_.telemetry_minutes), d, ev_kind::report);
    }
    if (!latent()) {
      outcomes_.push_back(r);
    } else if (r.crashed && !dev.outcome_recorded) {
      dev.outcome_recorded = true;
      outcomes_.push_back(r);
      resolve_pending();
    }
    // What the device runs now.
    if (!c)
      ++stats_.up_on_nothing;
    else if (c->sequence() == good_sequence)
      ++stats_.up_on_good;
    else if (c->sequence() == recall_sequence)
      ++stats_.up_on_recall;
    // Offered the bad bundle again (the distribution point may still serve
    // it), the guard must refuse it: the sequence is quarantined. (Where
    // good content newer than it was committed, the floor refuses it first:
    // sequence_rollback.)
    auto again = dev.g->apply(sg::byte_view(b_.bad));
    const auto q = dev.g->status().quarantine;
    const bool held = std::find(q.begin(), q.end(), bad_sequence) != q.end();
    if (!again && held && again.error() == sg::errc::quarantined)
      ++stats_.requarantine_ok;
    else if (!again && held && again.error() == sg::errc::sequence_rollback)
      ++stats_.requarantine_floor;
    else
      ++stats_.requarantine_bad;
    live_.erase(d);
    state_[d] = dev_done;
  }

  void on_report() {
    ++stats_.reports;
    if (stats_.reports == p_.recall_threshold)
      recall_from(now_, now_ + secs(p_.recall_minutes), "revert reports");
  }

  std::int64_t period() const { return std::max<std::int64_t>(1, secs(p_.poll_minutes)); }

  // Heartbeats and poll() calls of a running sensor in the latent case: well
  // inside the guard's default watchdog timeout (30 s).
  static constexpr std::int64_t tick_seconds = 15;

  const params& p_;
  const bundles& b_;
  const std::vector<std::uint32_t>& phase_;
  std::uint32_t safe_streak_;
  sg::manual_clock clock_;
  std::int64_t now_ = 0;
  sg::policy_candidate candidate_;
  sg::trust_set trust_;
  sg::sim_storage template_;
  std::vector<std::uint8_t> state_;
  std::unordered_map<std::uint32_t, std::unique_ptr<live_device>> live_;
  std::priority_queue<ev, std::vector<ev>, std::greater<ev>> queue_;
  std::uint64_t order_ = 0;
  rng pick_;
  std::vector<real_outcome> outcomes_;
  std::vector<pending_crash> pending_;
  std::uint64_t fix_slots_ = 0;
  outcome out_;
  protected_stats stats_;
};

// ---------------------------------------------------------------------------
// Output

std::string with_commas(std::uint64_t v) {
  std::string s = std::to_string(v);
  for (std::size_t i = s.size(); i > 3; i -= 3) s.insert(i - 3, ",");
  return s;
}

std::string fixed1(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string percent_of(std::uint64_t part, std::uint64_t whole) {
  return fixed1(100.0 * static_cast<double>(part) / static_cast<double>(whole)) + "%";
}

std::string minutes_text(std::int64_t seconds) {
  const double m = static_cast<double>(seconds) / 60.0;
  std::string s = with_commas(static_cast<std::uint64_t>(m + 0.5));
  if (m >= 2 * 1440) s += " (" + fixed1(m / 1440.0) + " days)";
  else if (m >= 120) s += " (" + fixed1(m / 60.0) + " h)";
  return s;
}

struct column {
  std::string name;
  const outcome* o;
};

std::string table(const params& p, const std::vector<column>& cols) {
  std::string t = "| " + with_commas(p.devices) + " devices |";
  std::string rule = "|---|";
  std::string crashed = "| devices that ever crashed |";
  std::string down = "| device-minutes down |";
  std::string whole = "| minutes until the fleet is whole |";
  for (const column& c : cols) {
    t += " " + c.name + " |";
    rule += "---:|";
    crashed += " " + with_commas(c.o->crashed) + " (" + percent_of(c.o->crashed, p.devices) + ") |";
    down += " " + with_commas(static_cast<std::uint64_t>(c.o->down_seconds / 60)) + " |";
    whole += " " + minutes_text(c.o->whole_at) + " |";
  }
  return t + "\n" + rule + "\n" + crashed + "\n" + down + "\n" + whole + "\n";
}

// Devices down at a few moments (minutes after the push), per run: the
// chart's curves in figures.
std::string over_time(const std::vector<column>& cols) {
  static const std::int64_t marks[] = {60, 75, 90, 105, 120, 180, 360, 1440, 2880, 5760, 8640};
  std::string t = "| devices down at minute |";
  std::string rule = "|---|";
  for (const std::int64_t m : marks) {
    t += " " + with_commas(static_cast<std::uint64_t>(m)) + " |";
    rule += "---:|";
  }
  t += "\n" + rule + "\n";
  for (const column& c : cols) {
    t += "| " + c.name + " |";
    for (const std::int64_t m : marks) {
      std::uint64_t n = 0;
      for (const fleet::down_interval& d : c.o->down)
        if (d.start <= m * 60 && m * 60 < d.end) ++n;
      t += " " + with_commas(n) + " |";
    }
    t += "\n";
  }
  return t;
}

bool write_file(const std::string& path, const std::string& text) {
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    if (!f) return false;
  }
  // Read it back: the ctest fails on a missing or short file.
  std::ifstream in(path, std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return back == text;
}

// What the real guards of one protected run did.
std::string describe(const params& p, const protected_stats& st) {
  std::string out;
  out += "Real guards: the ramp admitted " + with_commas(st.admitted) + " devices; " +
         (st.replayed == 0 ? std::string("each of them")
                           : "the first " + with_commas(st.real) + " of them (--real-limit)") +
         " ran slotguard's guard (open, apply, crash, reboot, open) on its own simulated disk";
  if (st.replayed != 0)
    out += ", and the other " + with_commas(st.replayed) +
           " replayed the outcome of one of those, picked at random";
  out += ". " + with_commas(st.never_admitted) +
         " devices were never admitted: for them only the library's policy check (the bucket "
         "function) ran. Policy checks at polls, all devices: " +
         with_commas(st.policy_checks) + ".\n";
  out += "Admitted per ramp step:";
  for (std::size_t i = 0; i < p.ramp.size(); ++i)
    out += " " + std::to_string(static_cast<unsigned>(p.ramp[i].percent)) + "%: " +
           with_commas(st.admitted_in_step[i]) + (i + 1 < p.ramp.size() ? ";" : ".\n");
  if (p.latent_minutes > 0) {
    out += "Trials of the bad content committed after probation on " + with_commas(st.committed_bad) +
           " real devices; the recall reached " + with_commas(st.recalled_in_time) + " real (and " +
           with_commas(st.replay_recalled) +
           " replayed) devices before their crash. Of the real devices that crashed, " +
           with_commas(st.breaker_fallbacks) + " were put back on the last known-safe content by the breaker, " +
           with_commas(st.boot_loops) + " were left in a boot loop and " + with_commas(st.fixed_by_hand) +
           " were fixed by hand (the operator applied the recall); at most " + std::to_string(st.max_crashes) +
           " crashes on one device; " + with_commas(st.boots) +
           " boots after a crash. Real devices up again on sequence " + std::to_string(good_sequence) +
           " (the last known-safe): " + with_commas(st.up_on_good) + ", on the recall's " +
           std::to_string(recall_sequence) + ": " + with_commas(st.up_on_recall) + ", on no content: " +
           with_commas(st.up_on_nothing) + ".";
    if (st.replay_deferred != 0)
      out += " " + with_commas(st.replay_deferred) + " replayed crashes waited for a real outcome.";
    out += "\n";
  }
  out += "Reverts: " + with_commas(st.reverted_start_budget) + " at the next start after a crash, " +
         with_commas(st.reverted_recall) + " by the recall, " + with_commas(st.reverted_other) + " other";
  if (p.latent_minutes <= 0) out += "; " + with_commas(st.boots) + " boots after a crash";
  if (st.requarantine_floor == 0)
    out += ". Re-offered the bad bundle, " + with_commas(st.requarantine_ok) +
           " devices refused it as quarantined, " + with_commas(st.requarantine_bad) + " did not.\n";
  else
    out += ". Re-offered the bad bundle, " + with_commas(st.requarantine_ok + st.requarantine_floor) +
           " devices refused it (" + with_commas(st.requarantine_ok) + " as quarantined, " +
           with_commas(st.requarantine_floor) + " as below the floor, its sequence quarantined), " +
           with_commas(st.requarantine_bad) + " did not.\n";
  if (st.recall_decided >= 0)
    out += "Recall: decided at " + fixed1(static_cast<double>(st.recall_decided) / 60.0) + " min (" +
           (st.recall_why == "revert reports" ? "report " + std::to_string(p.recall_threshold)
                                              : st.recall_why) +
           "), served from " + fixed1(static_cast<double>(st.recall_served) / 60.0) + " min.\n";
  else
    out += "Recall: never (fewer than " + std::to_string(p.recall_threshold) + " reports).\n";
  return out;
}

std::string preamble(const params& p) {
  std::string out;
  out += "Seed " + std::to_string(p.seed) + "; devices poll every " + fixed1(p.poll_minutes) + " min; ";
  if (p.latent_minutes > 0)
    out += "the bad content crashes a sensor " + fixed1(p.latent_minutes) +
           " min after it first loads (after probation), then " + fixed1(p.crash_seconds) +
           " s after every later load";
  else
    out += "the bad content crashes a sensor " + fixed1(p.crash_seconds) + " s after it loads";
  out += "; a crash keeps a device down " + fixed1(p.boot_minutes) + " min per boot.\n";
  if (p.latent_minutes > 0)
    out += "Unprotected: pushed to all; the publisher serves a replacement (slotguard: the recall) " +
           fixed1(p.pull_minutes) + " min after the first crash at the latest; manual fixes from " +
           fixed1(p.fix_start_minutes) + " min after the first crash at " + fixed1(p.fix_rate) + " devices/min.\n";
  else
    out += "Unprotected: pushed to all, withdrawn at " + fixed1(p.pull_minutes) + " min, manual fixes from " +
           fixed1(p.fix_start_minutes) + " min at " + fixed1(p.fix_rate) + " devices/min.\n";
  out += "slotguard: ramp " + p.ramp_text + " (minutes:percent), start budget " + std::to_string(p.start_budget) +
         ", revert reports reach the publisher after " + fixed1(p.telemetry_minutes) + " min, recall after " +
         std::to_string(p.recall_threshold) + " reports plus " + fixed1(p.recall_minutes) + " min.\n\n";
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const auto started = std::chrono::steady_clock::now();
  params p;
  if (!parse_args(argc, argv, p)) {
    usage();
    return 2;
  }
  bundles b;
  if (!build_bundles(p, b)) return 3;
  const std::vector<std::uint32_t> phase = poll_phases(p);
  const bool latent = p.latent_minutes > 0;

  const outcome u = run_unprotected(p, phase);
  // The ordinary case: one protected run, with the library's defaults. The
  // latent case: without the breaker, then with it.
  std::vector<std::uint32_t> streaks;
  if (latent) streaks = {0, p.safe_streak};
  else streaks = {p.safe_streak};
  std::vector<outcome> runs(streaks.size());
  std::vector<protected_stats> stats;
  for (std::size_t i = 0; i < streaks.size(); ++i) {
    protected_fleet fleet(p, b, phase, streaks[i]);
    if (!fleet.run(runs[i])) {
      std::fprintf(stderr, "fleet_sim: the protected run (safe_streak %u) failed: %s\n",
                   static_cast<unsigned>(streaks[i]), fleet.stats().failure.c_str());
      return 3;
    }
    stats.push_back(fleet.stats());
  }

  std::vector<column> cols{{"unprotected", &u}};
  if (latent) {
    cols.push_back({"slotguard, no breaker", &runs[0]});
    cols.push_back({"slotguard, breaker", &runs[1]});
  } else {
    cols.push_back({"slotguard", &runs[0]});
  }

  std::string out;
  if (latent)
    out += "# fleet_sim: committed content that crashes later, unprotected and through slotguard without "
           "and with the crash-streak breaker\n\n";
  else
    out += "# fleet_sim: a bad content update, unprotected and through slotguard\n\n";
  out += preamble(p);
  out += table(p, cols);
  if (latent) out += "\n" + over_time(cols);
  for (std::size_t i = 0; i < streaks.size(); ++i) {
    out += "\n";
    if (latent)
      out += streaks[i] == 0 ? "slotguard without the breaker (safe_streak 0):\n"
                             : "slotguard with the breaker (safe_streak " + std::to_string(streaks[i]) +
                                   ", null_streak " + std::to_string(2 * streaks[i]) + "):\n";
    out += describe(p, stats[i]);
  }
  std::fputs(out.c_str(), stdout);

  fleet::chart_spec chart;
  if (latent) {
    chart.title = "Devices down after content that crashes later (" + with_commas(p.devices) + " devices)";
    chart.subtitle = "the crash comes " + fixed1(p.latent_minutes) +
                     " min after the content loads, then at every start; fixed by hand at " +
                     fixed1(p.fix_rate) + "/min";
    chart.series.push_back({"unprotected: pushed to every device at once", "#c62828", u.down});
    chart.series.push_back({"slotguard without the breaker: committed content boot-loops", "#ef6c00", runs[0].down});
    chart.series.push_back({"slotguard with the breaker: last known-safe content after " +
                                std::to_string(p.safe_streak) + " crashing starts",
                            "#1565c0", runs[1].down});
    if (stats[1].recall_served >= 0)
      chart.markers.push_back({static_cast<double>(stats[1].recall_served) / 60.0, "recall served (breaker)"});
    if (stats[0].recall_served >= 0 && stats[0].recall_served != stats[1].recall_served)
      chart.markers.push_back({static_cast<double>(stats[0].recall_served) / 60.0, "recall served (no breaker)"});
    if (stats[0].first_crash >= 0)
      chart.markers.push_back({static_cast<double>(stats[0].first_crash) / 60.0 + p.fix_start_minutes,
                               "manual fixes start"});
  } else {
    chart.title = "Devices down after a bad content update (" + with_commas(p.devices) + " devices)";
    chart.subtitle = "unprotected: pushed to all, fixed by hand at " + fixed1(p.fix_rate) +
                     "/min; slotguard: ramp " + p.ramp_text + ", trial, revert at next start, recall";
    chart.series.push_back({"unprotected: pushed to every device at once", "#c62828", u.down});
    chart.series.push_back({"slotguard: staged ramp, trial, automatic revert", "#1565c0", runs[0].down});
    if (stats[0].recall_served >= 0)
      chart.markers.push_back({static_cast<double>(stats[0].recall_served) / 60.0, "recall served"});
    chart.markers.push_back({p.fix_start_minutes, "unprotected: manual fixes start"});
  }
  chart.fleet_size = p.devices;

  bool files_ok = true;
  if (!write_file(p.svg, fleet::render_chart(chart))) {
    std::fprintf(stderr, "fleet_sim: cannot write %s\n", p.svg.c_str());
    files_ok = false;
  }
  if (!p.markdown.empty() && !write_file(p.markdown, table(p, cols))) {
    std::fprintf(stderr, "fleet_sim: cannot write %s\n", p.markdown.c_str());
    files_ok = false;
  }

  bool library_ok = true;
  for (const protected_stats& st : stats)
    library_ok = library_ok && st.apply_refused == 0 && st.requarantine_bad == 0;
  bool better = false;
  if (latent) {
    // The breaker must shorten the outage; what it is measured against is
    // the run without it (slotguard's trial cannot help with this content).
    const outcome& off = runs[0];
    const outcome& on = runs[1];
    better = on.down_seconds < off.down_seconds && on.whole_at < off.whole_at && on.crashed <= off.crashed;
    std::printf("\nthe breaker better than no breaker on every measure: %s\n", better ? "yes" : "NO");
  } else {
    const outcome& s = runs[0];
    better = s.crashed < u.crashed && s.down_seconds < u.down_seconds && s.whole_at < u.whole_at;
    std::printf("\nslotguard better on every measure: %s\n", better ? "yes" : "NO");
  }
  if (!library_ok) std::printf("the library misbehaved: see the counts above\n");
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::fprintf(stderr, "fleet_sim: %.1f s\n", took);
  if (!files_ok) return 3;
  return better && library_ok ? 0 : 1;
}
