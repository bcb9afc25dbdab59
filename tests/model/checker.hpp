// SPDX-License-Identifier: Apache-2.0
// The model-based checker: runs the real guard (on sim_storage, with a
// manual clock, in poll or thread watchdog mode) and the reference model of
// model.hpp side by side on one sequence of operations, and after every
// step compares what readers are served, status() (state, active and
// fallback sequences, floor, starts used, the quarantine) and the events the
// step emitted. Operations are chosen by selectors (the active sequence, a
// fresh one, ...) resolved against the model's state when they run, so a
// sequence keeps its meaning when the shrinker drops operations from it.
// Provides seeded random sequences, shrinking by delta debugging, and a
// bounded exhaustive enumeration over a reduced alphabet.
#ifndef SLOTGUARD_TESTS_MODEL_CHECKER_HPP
#define SLOTGUARD_TESTS_MODEL_CHECKER_HPP

#include "model.hpp"

#include <slotguard/bundle.hpp>
#include <slotguard/guard.hpp>
#include <slotguard/sim_storage.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace slotguard_model {

constexpr std::int64_t run_start_unix = 1700000000;
constexpr std::uint64_t filler_base = 100000;   // sequences of the long recall lists
constexpr std::uint64_t recall_sequence = 900000000;
inline const char* const store_dir = "/store/rules";

// --- operations -------------------------------------------------------------

enum class pick : std::uint8_t { fresh, active, fallback, quarantined, floor, gap };

inline const char* to_string(pick p) {
  switch (p) {
    case pick::fresh: return "fresh";
    case pick::active: return "active";
    case pick::fallback: return "fallback";
    case pick::quarantined: return "quarantined";
    case pick::floor: return "floor";
    case pick::gap: return "fresh+1";
  }
  return "?";
}

// An operation as generated: its sequences are chosen by selectors.
struct op {
  action::kind k = action::kind::heartbeat;
  variant v = variant::good;
  pick seq = pick::fresh;
  int key = 0;
  // recall: bit 0 the active, 1 the fallback, 2 a quarantined sequence,
  // 3 a fresh sequence, 4 the floor; fillers more sequences (up to 1024 in all)
  std::uint8_t recall_mask = 0;
  std::uint16_t fillers = 0;
  std::uint32_t index = 0;  // which quarantined sequence
  std::int64_t seconds = 0;
  std::int64_t beat_every = 0;
  bool toggle_key1 = false;
  bool toggle_host = false;
  bool toggle_read_only = false;
  role damage = role::none;
  std::uint32_t fault_n = 0;
  std::uint8_t fault_kind = 0;
  std::uint32_t cut_n = 0;
  std::uint64_t cut_seed = 0;
  bool tear = false;
};

inline std::optional<std::uint64_t> small_quarantined(const state& s, std::uint32_t index) {
  std::vector<std::uint64_t> q;
  for (std::uint64_t x : s.quarantine)
    if (x < filler_base) q.push_back(x);
  if (q.empty()) return std::nullopt;
  return q[index % q.size()];
}

// Resolves an operation's selectors against the model's state.
inline action resolve(const op& o, const state& s) {
  action a;
  a.k = o.k;
  a.v = o.v;
  a.key = o.key;
  a.seconds = o.seconds;
  a.beat_every = o.beat_every;
  a.toggle_key1 = o.toggle_key1;
  a.toggle_host = o.toggle_host;
  a.toggle_read_only = o.toggle_read_only;
  a.damage = s.open ? o.damage : role::none;  // the damaged file is found through the open guard
  a.fault_n = o.fault_n;
  a.fault_kind = o.fault_kind;
  a.cut_n = o.cut_n;
  a.cut_seed = o.cut_seed;
  a.tear = o.tear;
  const std::uint64_t fresh = s.max_seq + 1;
  switch (o.seq) {
    case pick::fresh: a.seq = fresh; break;
    case pick::active: a.seq = s.active ? s.active->seq : fresh; break;
    case pick::fallback: a.seq = s.fallback ? s.fallback->seq : fresh; break;
    case pick::quarantined: a.seq = small_quarantined(s, o.index).value_or(fresh); break;
    case pick::floor: a.seq = s.floor != 0 ? s.floor : fresh; break;
    case pick::gap: a.seq = fresh + 1; break;
  }
  if (o.k == action::kind::recall) {
    std::vector<std::uint64_t> l;
    if ((o.recall_mask & 1) != 0 && s.active) l.push_back(s.active->seq);
    if ((o.recall_mask & 2) != 0 && s.fallback) l.push_back(s.fallback->seq);
    if ((o.recall_mask & 4) != 0) {
      if (auto q = small_quarantined(s, o.index)) l.push_back(*q);
    }
    if ((o.recall_mask & 8) != 0 || l.empty()) l.push_back(fresh);
    if ((o.recall_mask & 16) != 0 && s.floor != 0) l.push_back(s.floor);
    std::sort(l.begin(), l.end());
    l.erase(std::unique(l.begin(), l.end()), l.end());
    const std::size_t room = 1024 - l.size();
    const std::size_t n = std::min<std::size_t>(o.fillers, room);
    // Six blocks of long-list sequences: recalls of different blocks fill
    // the quarantine past its capacity.
    const std::uint64_t base = filler_base + 1024 * (o.index % 6);
    for (std::size_t i = 0; i < n; ++i) l.push_back(base + i);
    std::sort(l.begin(), l.end());
    a.recalls = std::move(l);
  }
  return a;
}

inline std::string describe(const action& a) {
  using K = action::kind;
  std::ostringstream o;
  auto wrap = [&](std::ostringstream& main) {
    std::ostringstream w;
    if (a.fault_n != 0)
      w << "storage error on call " << a.fault_n << " ("
        << (a.fault_kind == 0 ? "any kind" : "kind " + std::to_string(a.fault_kind)) << ") of: ";
    if (a.cut_n != 0)
      w << "power cut after call " << a.cut_n << " (unsynced kept at random, seed " << a.cut_seed
        << (a.tear ? ", one write torn" : "") << "), reboot, open, of: ";
    return w.str() + main.str();
  };
  switch (a.k) {
    case K::apply: o << "apply " << to_string(a.v) << " bundle seq " << a.seq << (a.key == 1 ? " (key 1)" : ""); break;
    case K::apply_garbage: o << "apply garbage bytes"; break;
    case K::recall: {
      o << "recall [";
      std::size_t fill = 0;
      bool first = true;
      for (std::uint64_t x : a.recalls) {
        if (x >= filler_base) {
          ++fill;
          continue;
        }
        o << (first ? "" : ",") << x;
        first = false;
      }
      o << "]";
      if (fill != 0) {
        std::uint64_t from = 0;
        for (std::uint64_t x : a.recalls)
          if (x >= filler_base) {
            from = x;
            break;
          }
        o << " + " << fill << " more sequences (" << from << "...)";
      }
      if (a.v == variant::untrusted) o << ", signed by an untrusted key";
      if (a.v == variant::other_channel) o << ", for another channel";
      if (a.v == variant::expired) o << ", expired";
      break;
    }
    case K::heartbeat: o << "heartbeat"; break;
    case K::poll: o << "poll"; break;
    case K::advance:
      o << "time +" << a.seconds << " s";
      if (a.beat_every >= a.seconds) o << " after a heartbeat";
      else if (a.beat_every > 0) o << " with a heartbeat every " << a.beat_every << " s (the first at once)";
      break;
    case K::report_unhealthy: o << "report_unhealthy"; break;
    case K::confirm: o << "confirm"; break;
    case K::revert: o << "revert"; break;
    case K::rollback: o << "rollback"; break;
    case K::crash:
      o << "crash";
      if (a.toggle_key1) o << ", trust set changes (key 1 removed/added)";
      if (a.toggle_host) o << ", host upgraded/downgraded (1 <-> 2)";
      if (a.toggle_read_only) o << ", store made read-only/writable again";
      if (a.damage == role::active) o << ", active slot's file damaged";
      if (a.damage == role::fallback) o << ", fallback slot's file damaged";
      o << ", open";
      break;
    case K::shutdown: o << "shutdown, process ends, open"; break;
    case K::damage_live: o << "active slot's file damaged under the running guard"; break;
    case K::reopen: o << "open (again)"; break;
    case K::release: o << "release (lift the quarantine of) " << a.seq; break;
  }
  return wrap(o);
}

// --- bundles ----------------------------------------------------------------

inline sg::ed25519_seed key_seed(int key) {
  sg::ed25519_seed s{};
  for (std::size_t i = 0; i < s.size(); ++i)
    s[i] = static_cast<std::uint8_t>(0x40 + i * 7 + static_cast<std::size_t>(key) * 13 + 1);
  return s;
}

inline const sg::ed25519_public_key& public_key(int key) {
  static const sg::ed25519_public_key k[3] = {sg::ed25519_public_key_from_seed(key_seed(0)),
                                               sg::ed25519_public_key_from_seed(key_seed(1)),
                                               sg::ed25519_public_key_from_seed(key_seed(2))};
  return k[key];
}

// Signing is the slow part of making a bundle: each distinct bundle is made
// once per process.
inline const std::vector<std::uint8_t>& bundle_for(const action& a, const config& cfg) {
  static std::map<std::string, std::vector<std::uint8_t>> cache;
  std::string id;
  if (a.k == action::kind::recall) {
    id = "r" + std::to_string(static_cast<int>(a.v)) + ":";
    for (std::uint64_t x : a.recalls) id += std::to_string(x) + ",";
  } else {
    id = std::to_string(static_cast<int>(a.v)) + ":" + std::to_string(a.seq) + ":" + std::to_string(a.key);
  }
  auto it = cache.find(id);
  if (it != cache.end()) return it->second;
  sg::bundle_builder b;
  b.channel("rules").schema("test", 1).created(run_start_unix - 100);
  if (a.k == action::kind::recall) {
    b.sequence(recall_sequence).version("recall").payload(sg::byte_view(std::string("recall"))).recalls(a.recalls);
    if (a.v == variant::other_channel) b.channel("other");
    if (a.v == variant::expired) b.expires(run_start_unix - 1);
    b.sign_with(key_seed(a.v == variant::untrusted ? 2 : 0));
  } else {
    std::string payload = "content " + std::to_string(a.seq);
    if (a.v == variant::invalid) payload = "BAD " + std::to_string(a.seq);
    if (a.v == variant::probe_fail) payload = "PROBEFAIL " + std::to_string(a.seq);
    b.sequence(a.seq).version("v" + std::to_string(a.seq)).payload(sg::byte_view(payload));
    if (a.v == variant::other_channel) b.channel("other");
    if (a.v == variant::host_out) b.host_min(sg::host_version{9, 0, 0});
    if (a.v == variant::host_capped) b.host_max(sg::host_version{1, 99, 0});
    if (a.v == variant::expired) b.expires(run_start_unix - 1);
    if (a.v == variant::expiring) b.expires(run_start_unix + cfg.expiring_after);
    b.sign_with(key_seed(a.v == variant::untrusted ? 2 : a.key));
  }
  auto built = b.build();
  SLOTGUARD_ASSERT(built.has_value());
  return cache.emplace(id, std::move(*built)).first->second;
}

// --- the real guard -----------------------------------------------------------

// Whether the event type carries a per-guard serial number.
template <class E, class = void>
struct has_serial : std::false_type {};
template <class E>
struct has_serial<E, std::void_t<decltype(std::declval<const E&>().serial)>> : std::true_type {};

template <class E>
std::uint64_t serial_of(const E& e) {
  if constexpr (has_serial<E>::value)
    return static_cast<std::uint64_t>(e.serial);
  else
    return 0;
}

struct observation {
  bool open = false;
  std::optional<std::uint64_t> served;
  sg::guard_state st = sg::guard_state::empty;
  std::optional<std::uint64_t> active, fallback;
  std::uint64_t floor = 0;
  std::uint32_t starts = 0;
  std::uint32_t budget = 0;
  bool read_only = false;
  sg::breaker_mode mode = sg::breaker_mode::normal;
  std::uint32_t streak = 0;
  std::uint64_t safe_sequence = 0;
  bool healthy = false;
  std::vector<std::uint64_t> quarantine;  // sorted
  std::vector<sg::event> events;
  bool has_result = false;
  sg::errc result = sg::errc::ok;
  std::string serial_problem;
  std::string reader_problem;
};

class real_guard {
 public:
  real_guard(const config& cfg, sg::watchdog_mode mode) : cfg_(cfg), mode_(mode) {}
  real_guard(const real_guard&) = delete;
  real_guard& operator=(const real_guard&) = delete;

  void open_guard() {
    drop_guard();
    serial_ = 0;
    auto r = sg::guard::open(options());
    if (r) {
      g_ = std::move(*r);
      set_result(sg::errc::ok);
    } else {
      set_result(r.error());
    }
  }

  void run(const action& a, const config& cfg) {
    using K = action::kind;
    events_.clear();
    has_result_ = false;
    result_ = sg::errc::ok;
    if (a.k == K::advance) {
      std::int64_t left = a.seconds;
      do {
        const std::int64_t step = a.beat_every > 0 ? std::min(a.beat_every, left) : left;
        if (a.beat_every > 0 && g_) g_->heartbeat();
        clock_.advance(std::chrono::seconds(step));
        left -= step;
      } while (left > 0 && a.beat_every > 0);
      return;
    }
    if (!g_ && a.k != K::crash && a.k != K::shutdown && a.k != K::reopen) return;
    switch (a.k) {
      case K::damage_live:
        if (auto st = g_->status(); st.active) damage(st.active->slot);
        return;
      case K::crash:
      case K::reopen: {
        std::optional<sg::slot_id> victim;
        if (g_ && a.damage != role::none) {
          const auto st = g_->status();
          const auto& s = a.damage == role::active ? st.active : st.fallback;
          if (s) victim = s->slot;
        }
        drop_guard();  // the process dies: no shutdown
        if (a.toggle_key1) key1_ = !key1_;
        if (a.toggle_host) host_ = host_ == 1 ? 2 : 1;
        if (a.toggle_read_only) disk_.set_read_only(!disk_.read_only());
        if (victim) damage(*victim);
        arm(a);
        open_guard();
        finish(a, true);
        return;
      }
      case K::shutdown: {
        if (g_) {
          arm(a);
          set_result(g_->shutdown());
          disk_.fail_nth_call(0);
          if (a.cut_n != 0) {
            disk_.cut_power_after(0);
            cut_and_reboot(a);
          }
        }
        drop_guard();
        has_result_ = false;
        open_guard();
        return;
      }
      default:
        break;
    }
    arm(a);
    switch (a.k) {
      case K::apply:
        set_result(g_->apply(sg::byte_view(bundle_for(a, cfg))));
        break;
      case K::recall:
        set_result(g_->apply(sg::byte_view(bundle_for(a, cfg))));
        break;
      case K::apply_garbage: {
        static const std::string garbage = "this is not a bundle";
        set_result(g_->apply(sg::byte_view(garbage)));
        break;
      }
      case K::heartbeat: g_->heartbeat(); break;
      case K::poll: g_->poll(); break;
      case K::report_unhealthy: set_result(g_->report_unhealthy("model")); break;
      case K::confirm: set_result(g_->confirm()); break;
      case K::revert: set_result(g_->revert()); break;
      case K::rollback: set_result(g_->rollback()); break;
      case K::release: set_result(g_->release(a.seq)); break;
      default: break;
    }
    finish(a, false);
  }

  observation observe() {
    observation o;
    o.events = events_;
    o.has_result = has_result_;
    o.result = result_;
    o.serial_problem = serial_problem_;
    serial_problem_.clear();
    if (!g_) return o;
    o.open = true;
    auto c = g_->current();
    if (c) o.served = c->sequence();
    // The hot path's reader (one per guard, kept across steps) sees the same.
    if (!reader_) reader_.emplace(g_->reader());
    const sg::active_content* hot = reader_->get();
    if ((hot != nullptr) != static_cast<bool>(c) || (hot != nullptr && hot->sequence() != c->sequence()))
      o.reader_problem = "reader().get() sees " + (hot != nullptr ? std::to_string(hot->sequence()) : "none") +
                         ", current() " + (c ? std::to_string(c->sequence()) : "none");
    const sg::guard_status st = g_->status();
    o.st = st.state;
    if (st.active) o.active = st.active->sequence;
    if (st.fallback) o.fallback = st.fallback->sequence;
    o.floor = st.floor;
    o.starts = st.trial_starts;
    o.budget = st.start_budget;
    o.read_only = st.read_only;
    o.mode = st.mode;
    o.streak = st.streak;
    o.safe_sequence = st.safe_sequence;
    o.healthy = st.healthy;
    o.quarantine = st.quarantine;
    std::sort(o.quarantine.begin(), o.quarantine.end());
    return o;
  }

 private:
  sg::guard_options options() {
    sg::guard_options o;
    o.fs = &disk_;
    o.directory = store_dir;
    o.channel = "rules";
    (void)o.trust.add(public_key(0));
    if (key1_) (void)o.trust.add(public_key(1));
    o.check = sg::content_check(sg::validator_fn([](sg::byte_view p) -> sg::result<void, sg::validation_error> {
      if (p.size() >= 3 && p.as_chars().substr(0, 3) == "BAD") {
        sg::validation_error e;
        e.code = sg::errc::field_count_mismatch;
        e.message = "bad content";
        return e;
      }
      return sg::result<void, sg::validation_error>();
    }));
    o.host = sg::host_version{host_, 0, 0};
    o.candidate_probe = sg::probe::in_process([](const sg::probe_input& in) -> sg::result<void> {
      if (in.content.size() >= 9 && in.content.as_chars().substr(0, 9) == "PROBEFAIL") return sg::errc::probe_failed;
      return sg::ok();
    });
    o.time = &clock_;
    o.watchdog = mode_;
    // Thread mode: the thread's tick is real time and far away, so expiry
    // is driven by poll() as in poll mode and every run is deterministic.
    o.watchdog_tick = std::chrono::hours(1);
    o.watchdog_timeout = std::chrono::seconds(cfg_.watchdog_timeout);
    o.probation = std::chrono::seconds(cfg_.probation);
    o.start_budget = cfg_.start_budget;
    o.healthy_uptime = std::chrono::seconds(cfg_.healthy_uptime);
    o.safe_streak = cfg_.safe_streak;
    o.null_streak = cfg_.null_streak;
    o.on_event = [this](const sg::event& e) {
      const std::uint64_t s = serial_of(e);
      if (has_serial<sg::event>::value && s != serial_ + 1 && serial_problem_.empty())
        serial_problem_ = "event serial " + std::to_string(s) + " after " + std::to_string(serial_);
      serial_ = s;
      events_.push_back(e);
    };
    return o;
  }

  void drop_guard() {
    reader_.reset();
    g_.reset();
  }

  void set_result(sg::result<void> r) { set_result(r ? sg::errc::ok : r.error()); }
  void set_result(sg::errc e) {
    has_result_ = true;
    result_ = e;
  }

  void arm(const action& a) {
    if (a.fault_n != 0) disk_.fail_nth_call(a.fault_n, static_cast<sg::sim_call>(a.fault_kind));
    if (a.cut_n != 0) disk_.cut_power_after(a.cut_n);
  }

  // After the main call: disarm; after a power cut, reboot and open.
  void finish(const action& a, bool opening) {
    disk_.fail_nth_call(0);
    if (a.cut_n == 0) return;
    disk_.cut_power_after(0);
    (void)opening;
    cut_and_reboot(a);
    events_.clear();
    has_result_ = false;
    open_guard();
  }

  void cut_and_reboot(const action& a) {
    disk_.cut_power();
    drop_guard();
    sg::sim_power_cut cut;
    cut.keep = sg::sim_power_cut::keep_mode::random;
    cut.seed = a.cut_seed;
    if (a.tear) {
      const auto pending = disk_.unsynced();
      std::vector<std::size_t> writes;
      for (std::size_t i = 0; i < pending.size(); ++i)
        if (pending[i].kind == sg::sim_call::write && pending[i].size > 1) writes.push_back(i);
      if (!writes.empty()) {
        const std::size_t w = writes[static_cast<std::size_t>(a.cut_seed % writes.size())];
        cut.tear_op = w;
        cut.tear_bytes = static_cast<std::size_t>((a.cut_seed >> 8) % pending[w].size);
      }
    }
    disk_.reboot(cut);
  }

  // Damages every file of the slot: a byte in the middle changes and one
  // more is appended (so that damaging it again leaves it damaged).
  void damage(sg::slot_id s) {
    const std::string prefix = std::string(store_dir) + "/slot-" + sg::to_string(s) + ".";
    for (const std::string& f : disk_.files()) {
      if (f.compare(0, prefix.size(), prefix) != 0) continue;
      auto bytes = disk_.peek(f);
      if (!bytes || bytes->empty()) continue;
      (*bytes)[bytes->size() / 2] ^= 0x5A;
      bytes->push_back(0x5A);
      disk_.poke(f, sg::byte_view(*bytes));
    }
  }

  config cfg_;
  sg::watchdog_mode mode_;
  sg::sim_storage disk_;
  sg::manual_clock clock_{run_start_unix};
  std::unique_ptr<sg::guard> g_;
  std::optional<sg::content_reader> reader_;  // destroyed before the guard it reads
  bool key1_ = true;
  std::uint32_t host_ = 1;
  std::vector<sg::event> events_;
  bool has_result_ = false;
  sg::errc result_ = sg::errc::ok;
  std::uint64_t serial_ = 0;
  std::string serial_problem_;
};

// --- comparing --------------------------------------------------------------

inline std::string seq_text(const std::optional<std::uint64_t>& s) { return s ? std::to_string(*s) : "none"; }

inline std::string quarantine_text(const std::vector<std::uint64_t>& q) {
  std::ostringstream o;
  o << "{";
  std::size_t fill = 0;
  bool first = true;
  for (std::uint64_t x : q) {
    if (x >= filler_base && x < recall_sequence) {
      ++fill;
      continue;
    }
    o << (first ? "" : ",") << x;
    first = false;
  }
  o << "}";
  if (fill != 0) o << " + " << fill << " long-list sequences";
  return o.str();
}

inline std::string event_text(const sg::event& e) {
  std::ostringstream o;
  o << sg::to_string(e.kind) << "(" << e.candidate_sequence;
  if (e.kind == sg::event_kind::reverted) o << ", " << sg::to_string(e.reason);
  if (e.error != sg::errc::ok) o << ", " << sg::to_string(e.error);
  if (e.kind == sg::event_kind::crash_loop) o << ", streak " << e.streak;
  o << ")";
  return o.str();
}

inline std::string event_text(const expected_event& e) {
  std::ostringstream o;
  o << sg::to_string(e.kind) << "(" << (e.candidate ? std::to_string(*e.candidate) : "*");
  if (e.reason) o << ", " << sg::to_string(*e.reason);
  if (e.error) o << ", " << sg::to_string(*e.error);
  if (e.streak) o << ", streak " << *e.streak;
  o << ")";
  return o.str();
}

inline std::string mode_text(sg::breaker_mode m) {
  switch (m) {
    case sg::breaker_mode::normal: return "normal";
    case sg::breaker_mode::safe: return "safe";
    case sg::breaker_mode::no_content: return "no_content";
    case sg::breaker_mode::not_content: return "not_content";
  }
  return "?";
}

inline bool same(const std::optional<content>& x, const std::optional<content>& y) {
  if (!x || !y) return !x && !y;
  return x->seq == y->seq && x->key == y->key && x->host_capped == y->host_capped && x->damaged == y->damaged;
}

// Two model states that behave alike from here on.
inline bool same(const state& x, const state& y) {
  return same(x.active, y.active) && same(x.fallback, y.fallback) && x.trial == y.trial &&
         x.starts_used == y.starts_used && x.start_budget == y.start_budget && x.floor == y.floor &&
         x.quarantine == y.quarantine && x.key1_trusted == y.key1_trusted && x.host_major == y.host_major &&
         x.storage_read_only == y.storage_read_only && x.open == y.open && x.read_only == y.read_only &&
         x.served == y.served && x.now == y.now && x.trial_start == y.trial_start && x.deadline == y.deadline &&
         x.max_seq == y.max_seq && x.streak == y.streak && x.safe_sequence == y.safe_sequence &&
         x.mode == y.mode && x.healthy == y.healthy && x.opened_at == y.opened_at && x.last_beat == y.last_beat &&
         x.revert_due == y.revert_due && x.reload_due == y.reload_due;
}

inline sg::guard_state state_of(const state& s) {
  return !s.active ? sg::guard_state::empty : s.trial ? sg::guard_state::trial : sg::guard_state::committed;
}

// The differences between one allowed outcome and what the guard showed;
// empty when it matches.
inline std::vector<std::string> differences(const outcome& x, const observation& o) {
  std::vector<std::string> d;
  const state& s = x.next;
  auto diff = [&](const char* what, const std::string& want, const std::string& got) {
    if (want != got) d.push_back(std::string(what) + ": model " + want + ", guard " + got);
  };
  diff("guard open", s.open ? "yes" : "no", o.open ? "yes" : "no");
  if (s.open && o.open) {
    diff("readers see", seq_text(s.served_seq()), seq_text(o.served));
    diff("state", sg::to_string(state_of(s)), sg::to_string(o.st));
    diff("active", seq_text(s.active ? std::optional<std::uint64_t>(s.active->seq) : std::nullopt), seq_text(o.active));
    diff("fallback", seq_text(s.fallback ? std::optional<std::uint64_t>(s.fallback->seq) : std::nullopt),
         seq_text(o.fallback));
    diff("floor", std::to_string(s.floor), std::to_string(o.floor));
    diff("trial_starts", std::to_string(s.starts_used), std::to_string(o.starts));
    diff("start_budget", std::to_string(s.start_budget), std::to_string(o.budget));
    diff("read_only", s.read_only ? "yes" : "no", o.read_only ? "yes" : "no");
    diff("breaker mode", mode_text(s.mode), mode_text(o.mode));
    diff("streak", std::to_string(s.streak), std::to_string(o.streak));
    diff("safe_sequence", std::to_string(s.safe_sequence), std::to_string(o.safe_sequence));
    diff("healthy", s.healthy ? "yes" : "no", o.healthy ? "yes" : "no");
    std::vector<std::uint64_t> q = s.quarantine;
    std::sort(q.begin(), q.end());
    if (q != o.quarantine) diff("quarantine", quarantine_text(q), quarantine_text(o.quarantine));
  }
  const expectation& e = x.expect;
  if (e.result != expectation::result_kind::unchecked) {
    const std::string got = o.has_result ? sg::to_string(o.result) : "(no result)";
    if (e.result == expectation::result_kind::ok) diff("result", "ok", got);
    if (e.result == expectation::result_kind::exact) diff("result", sg::to_string(e.error), got);
    if (e.result == expectation::result_kind::any_error && (!o.has_result || o.result == sg::errc::ok))
      diff("result", "an error", got);
  }
  if (!e.events_unchecked) {
    std::string got;
    for (const auto& ev : o.events) got += event_text(ev) + " ";
    if (e.lenient_events) {
      for (const auto& ev : o.events)
        if (ev.kind != sg::event_kind::rejected && ev.kind != sg::event_kind::probe_failed) {
          d.push_back("events: model only rejections (the operation failed), guard " + got);
          break;
        }
    } else {
      std::vector<sg::event> real;
      for (const auto& ev : o.events)
        if (ev.kind != sg::event_kind::load_failed) real.push_back(ev);
      bool same = e.events.size() == real.size();
      for (std::size_t i = 0; same && i < e.events.size(); ++i) {
        const expected_event& w = e.events[i];
        const sg::event& g = real[i];
        same = w.kind == g.kind && (!w.candidate || *w.candidate == g.candidate_sequence) &&
               (!w.reason || *w.reason == g.reason) && (!w.error || *w.error == g.error) &&
               (!w.streak || *w.streak == g.streak);
      }
      if (!same) {
        std::string want;
        for (const auto& ev : e.events) want += event_text(ev) + " ";
        d.push_back("events: model " + (want.empty() ? "none" : want) + ", guard " + (got.empty() ? "none" : got));
      }
    }
  }
  if (!e.events_unchecked)
    for (std::uint64_t seq : e.load_failed) {
      bool told = false;
      for (const auto& ev : o.events) told = told || (ev.kind == sg::event_kind::load_failed && ev.candidate_sequence == seq);
      if (!told) d.push_back("events: model a load_failed(" + std::to_string(seq) + "), guard none");
    }
  if (!o.serial_problem.empty()) d.push_back("events: " + o.serial_problem);
  if (!o.reader_problem.empty()) d.push_back("readers: " + o.reader_problem);
  return d;
}

// --- running a sequence -------------------------------------------------------

struct run_options {
  config cfg;
  sg::watchdog_mode mode = sg::watchdog_mode::poll;
};

struct run_report {
  bool diverged = false;
  std::size_t steps = 0;  // operations run
  std::size_t at = 0;     // the diverging operation's index
  std::string text;       // the trace and the difference
  observation last;       // what the guard showed after the last step run
};

inline const char* to_string(sg::watchdog_mode m) { return m == sg::watchdog_mode::poll ? "poll" : "thread"; }

// What the runs reached: how often each kind of event (with its reason or
// error) was expected and seen, and which readings of the semantics were
// taken where several are allowed.
using coverage = std::map<std::string, std::uint64_t>;

inline run_report run_sequence(const std::vector<op>& ops, const run_options& ro, bool want_text,
                               coverage* cov = nullptr) {
  run_report rep;
  model m(ro.cfg);
  state s = m.initial();
  real_guard real(ro.cfg, ro.mode);
  real.open_guard();
  std::vector<std::string> trace;
  auto fail = [&](std::size_t i, const std::vector<outcome>& outs, const observation& o) {
    rep.diverged = true;
    rep.at = i;
    if (!want_text) return;
    std::ostringstream t;
    t << "watchdog mode " << to_string(ro.mode) << "; watchdog timeout " << ro.cfg.watchdog_timeout
      << " s, probation " << ro.cfg.probation << " s, start budget " << ro.cfg.start_budget
      << ", healthy uptime " << ro.cfg.healthy_uptime << " s, safe streak " << ro.cfg.safe_streak
      << ", null streak " << ro.cfg.null_streak << "\n";
    for (std::size_t k = 0; k < trace.size(); ++k) t << "  " << (k + 1) << ". " << trace[k] << "\n";
    t << "  after step " << trace.size() << " the guard differs from the model:\n";
    for (std::size_t k = 0; k < outs.size(); ++k) {
      if (outs.size() > 1)
        t << "   allowed outcome " << (k + 1) << (outs[k].note.empty() ? "" : " (" + outs[k].note + ")") << ":\n";
      for (const std::string& d : differences(outs[k], o)) t << "    " << d << "\n";
    }
    rep.text = t.str();
  };
  {
    observation o = real.observe();
    outcome init{s, {}, {}};
    init.expect.events_unchecked = true;
    if (!differences(init, o).empty()) {
      trace.push_back("open (a new store)");
      fail(0, {init}, o);
      return rep;
    }
  }
  // Every model state the guard's behaviour so far is consistent with:
  // where the semantics allow several outcomes that look the same from
  // outside (a storage error that did or did not hit a write), all are kept
  // until a later step tells them apart.
  std::vector<state> states{s};
  for (std::size_t i = 0; i < ops.size(); ++i) {
    const action a = resolve(ops[i], states.front());
    if (want_text) trace.push_back(describe(a));
    real.run(a, ro.cfg);
    const observation o = real.observe();
    rep.last = o;
    ++rep.steps;
    std::vector<outcome> first_outs;
    std::vector<state> next;
    bool counted = false;
    for (const state& st : states) {
      std::vector<outcome> outs = m.step(st, a);
      for (const outcome& x : outs) {
        if (!differences(x, o).empty()) continue;
        if (std::find_if(next.begin(), next.end(), [&](const state& y) { return same(x.next, y); }) == next.end())
          next.push_back(x.next);
        if (cov != nullptr && !counted) {
          counted = true;
          for (const expected_event& e : x.expect.events) {
            std::string k = std::string("event ") + sg::to_string(e.kind);
            if (e.reason) k += std::string(" ") + sg::to_string(*e.reason);
            if (e.error) k += std::string(" ") + sg::to_string(*e.error);
            ++(*cov)[k];
          }
          if (!x.note.empty()) ++(*cov)["reading: " + x.note];
          if (x.next.mode != st.mode) ++(*cov)["breaker mode " + mode_text(st.mode) + " -> " + mode_text(x.next.mode)];
          if (x.next.healthy && !st.healthy && x.next.open && st.open) ++(*cov)["marked healthy"];
          if (x.next.streak > st.streak && x.next.streak >= 3) ++(*cov)["streak reached " + std::to_string(std::min<std::uint32_t>(x.next.streak, 10))];
          if (a.fault_n != 0) ++(*cov)["storage error injected"];
          if (a.cut_n != 0) ++(*cov)["power cut"];
          if (!x.expect.load_failed.empty()) ++(*cov)["event load_failed required"];
        }
      }
      if (first_outs.empty()) first_outs = std::move(outs);
    }
    if (next.empty()) {
      fail(i, first_outs, o);
      return rep;
    }
    if (cov != nullptr && next.size() > 1) ++(*cov)["steps after which several model states remained"];
    if (next.size() > 8) next.resize(8);
    states = std::move(next);
  }
  return rep;
}

// Delta debugging: the shortest sequence found that still diverges, by
// dropping chunks, then single operations, then simplifying operations.
inline std::vector<op> shrink(std::vector<op> ops, const run_options& ro, std::size_t* runs = nullptr) {
  std::size_t count = 0;
  auto diverges = [&](const std::vector<op>& v) {
    ++count;
    return run_sequence(v, ro, false).diverged;
  };
  // Nothing after the diverging operation matters.
  {
    const run_report r = run_sequence(ops, ro, false);
    if (!r.diverged) return ops;
    ops.resize(r.at + 1);
  }
  std::size_t n = 2;
  while (ops.size() >= 2) {
    const std::size_t chunk = (ops.size() + n - 1) / n;
    bool reduced = false;
    for (std::size_t start = 0; start < ops.size(); start += chunk) {
      std::vector<op> rest(ops.begin(), ops.begin() + static_cast<std::ptrdiff_t>(start));
      rest.insert(rest.end(), ops.begin() + static_cast<std::ptrdiff_t>(std::min(ops.size(), start + chunk)), ops.end());
      if (!rest.empty() && diverges(rest)) {
        ops = std::move(rest);
        n = std::max<std::size_t>(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (chunk == 1) break;
      n = std::min(ops.size(), n * 2);
    }
  }
  // Simpler operations: no storage error or power cut, no changes while down,
  // no long lists, shorter waits.
  for (std::size_t i = 0; i < ops.size(); ++i) {
    auto attempt = [&](auto&& change) {
      std::vector<op> v = ops;
      change(v[i]);
      if (diverges(v)) ops = std::move(v);
    };
    if (ops[i].v != variant::good && ops[i].v != variant::invalid) attempt([](op& o) { o.v = variant::good; });
    if (ops[i].key != 0) attempt([](op& o) { o.key = 0; });
    if (ops[i].seq != pick::fresh) attempt([](op& o) { o.seq = pick::fresh; });
    if (ops[i].fault_n != 0) attempt([](op& o) { o.fault_n = 0; });
    if (ops[i].cut_n != 0) attempt([](op& o) { o.cut_n = 0; });
    if (ops[i].tear) attempt([](op& o) { o.tear = false; });
    if (ops[i].toggle_key1) attempt([](op& o) { o.toggle_key1 = false; });
    if (ops[i].toggle_host) attempt([](op& o) { o.toggle_host = false; });
    if (ops[i].toggle_read_only) attempt([](op& o) { o.toggle_read_only = false; });
    if (ops[i].damage != role::none) attempt([](op& o) { o.damage = role::none; });
    if (ops[i].fillers != 0) attempt([](op& o) { o.fillers = 0; });
    if (ops[i].fillers > 100) attempt([](op& o) { o.fillers = 100; });
    if (ops[i].k == action::kind::advance && ops[i].beat_every == 0 && ops[i].seconds != 30)
      attempt([](op& o) { o.seconds = 30; });
    if (ops[i].k == action::kind::recall)
      for (int b = 0; b < 5; ++b)
        if ((ops[i].recall_mask >> b) & 1) attempt([b](op& o) { o.recall_mask = static_cast<std::uint8_t>(o.recall_mask & ~(1u << b)); });
  }
  if (runs != nullptr) *runs = count;
  return ops;
}

// --- generating sequences -------------------------------------------------------

class rng {
 public:
  // The seed goes through a finalizer first: seeds that differ by one start
  // far apart (rather than one draw apart in the same stream).
  explicit rng(std::uint64_t seed) : x_(mix(seed ^ 0x6A09E667F3BCC909ull) ^ mix(seed + 0xBB67AE8584CAA73Bull)) {}
  std::uint64_t next() {
    std::uint64_t z = (x_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::uint32_t below(std::uint32_t n) { return static_cast<std::uint32_t>(next() % n); }
  static std::uint64_t mix(std::uint64_t z) {
    z = (z ^ (z >> 33)) * 0xFF51AFD7ED558CCDull;
    z = (z ^ (z >> 33)) * 0xC4CEB9FE1A85EC53ull;
    return z ^ (z >> 33);
  }
  bool chance(std::uint32_t percent) { return below(100) < percent; }

 private:
  std::uint64_t x_;
};

// Parts of the operation mix a run can leave out, to look past a known
// divergence (e.g. while its fix is not in yet).
struct generation_filter {
  bool no_expiry = false;  // every wait begins with a heartbeat and is shorter than the timeout
  bool no_trust = false;   // no trust-set change, host change or host-capped bundle
  bool no_long = false;    // no recall of more than a few sequences
  bool no_cut = false;     // no power cut
  bool no_fault = false;   // no storage error
  bool no_damage = false;  // no damaged slot file
  bool no_recall = false;  // no recall
  bool no_read_only = false;  // the store never becomes read-only

  // Reads a comma-separated list of: expiry, trust, long, cut, fault, damage,
  // recall, read_only.
  static generation_filter parse(const std::string& list) {
    generation_filter f;
    std::size_t at = 0;
    while (at <= list.size()) {
      const std::size_t end = std::min(list.find(',', at), list.size());
      const std::string w = list.substr(at, end - at);
      if (w == "expiry") f.no_expiry = true;
      if (w == "trust") f.no_trust = true;
      if (w == "long") f.no_long = true;
      if (w == "cut") f.no_cut = true;
      if (w == "fault") f.no_fault = true;
      if (w == "damage") f.no_damage = true;
      if (w == "recall") f.no_recall = true;
      if (w == "read_only") f.no_read_only = true;
      at = end + 1;
    }
    return f;
  }
};

inline op random_op(rng& r, const generation_filter& f = {}) {
  using K = action::kind;
  op o;
  struct weighted {
    int w;
    K k;
  };
  static const weighted table[] = {
      {24, K::apply}, {1, K::apply_garbage}, {6, K::recall}, {12, K::heartbeat}, {10, K::poll},
      {12, K::advance}, {3, K::report_unhealthy}, {4, K::confirm}, {2, K::revert}, {3, K::rollback},
      {12, K::crash}, {3, K::shutdown}, {1, K::damage_live}, {2, K::reopen}, {1, K::release},
  };
  int total = 0;
  for (const auto& t : table) total += t.w;
  int x = static_cast<int>(r.below(static_cast<std::uint32_t>(total)));
  for (const auto& t : table) {
    if (x < t.w) {
      o.k = t.k;
      break;
    }
    x -= t.w;
  }
  if (f.no_damage && o.k == K::damage_live) o.k = K::heartbeat;
  if (f.no_recall && o.k == K::recall) o.k = K::poll;
  switch (o.k) {
    case K::apply: {
      static const variant vs[] = {variant::good, variant::good, variant::good, variant::good, variant::good,
                                   variant::good, variant::invalid, variant::probe_fail, variant::other_channel,
                                   variant::untrusted, variant::host_out, variant::expired, variant::host_capped,
                                   variant::host_capped, variant::expiring};
      o.v = vs[r.below(sizeof vs / sizeof vs[0])];
      if (f.no_trust && o.v == variant::host_capped) o.v = variant::good;
      static const pick ps[] = {pick::fresh, pick::fresh, pick::fresh, pick::fresh, pick::fresh, pick::fresh,
                                pick::active, pick::fallback, pick::quarantined, pick::floor, pick::gap};
      o.seq = ps[r.below(sizeof ps / sizeof ps[0])];
      o.key = r.chance(25) && !f.no_trust ? 1 : 0;
      o.index = r.below(64);
      break;
    }
    case K::recall: {
      o.recall_mask = static_cast<std::uint8_t>(r.below(32));
      o.index = r.below(64);
      static const variant rv[] = {variant::good, variant::good, variant::good, variant::good, variant::good,
                                   variant::good, variant::good, variant::untrusted, variant::other_channel,
                                   variant::expired};
      o.v = rv[r.below(10)];
      o.fillers = r.chance(8) ? (r.chance(50) ? std::uint16_t{100} : std::uint16_t{1024}) : std::uint16_t{0};
      if (f.no_long) o.fillers = 0;
      break;
    }
    case K::advance: {
      static const std::int64_t secs[] = {1, 10, 20, 29, 30, 31, 100, 301};
      o.seconds = secs[r.below(8)];
      if (r.chance(30)) {
        // A healthy stretch: heartbeats flow while the time passes.
        static const std::int64_t stretch[][2] = {{310, 10}, {150, 20}, {29, 29}, {60, 29}};
        const auto& st = stretch[r.below(4)];
        o.seconds = st[0];
        o.beat_every = st[1];
      }
      if (f.no_expiry && o.beat_every == 0) {
        o.seconds = secs[r.below(4)];
        o.beat_every = o.seconds;
      }
      break;
    }
    case K::crash:
      o.toggle_key1 = r.chance(12);
      o.toggle_host = r.chance(12);
      o.damage = r.chance(12) ? (r.chance(50) ? role::active : role::fallback) : role::none;
      o.toggle_read_only = r.chance(5) && !f.no_read_only;
      if (f.no_trust) o.toggle_key1 = o.toggle_host = false;
      if (f.no_damage) o.damage = role::none;
      break;
    case K::release:
      o.seq = pick::quarantined;
      o.index = r.below(64);
      break;
    default:
      break;
  }
  const bool storage_call = o.k != K::advance && o.k != K::damage_live && o.k != K::apply_garbage;
  if (storage_call && r.chance(6)) {
    o.fault_n = 1 + r.below(14);
    o.fault_kind = r.chance(70) ? std::uint8_t{0} : static_cast<std::uint8_t>(1 + r.below(13));
    if (f.no_fault) o.fault_n = 0;
  } else if (storage_call && r.chance(4)) {
    o.cut_n = 1 + r.below(16);
    o.cut_seed = r.next();
    o.tear = r.chance(50);
    if (f.no_cut) o.cut_n = 0;
  }
  return o;
}

// A healthy run: heartbeats every 10 s for longer than the default
// healthy_uptime, then a poll (which makes the crash-streak breaker's
// healthy mark).
constexpr std::int64_t healthy_run_seconds = 130;

inline void push_healthy_run(std::vector<op>& v) {
  op o;
  o.k = action::kind::advance;
  o.seconds = healthy_run_seconds;
  o.beat_every = 10;
  v.push_back(o);
  o = op{};
  o.k = action::kind::poll;
  v.push_back(o);
}

inline std::vector<op> random_sequence(std::uint64_t seed, std::size_t length, const generation_filter& f = {}) {
  rng r(seed);
  std::vector<op> v;
  v.reserve(length + 1);
  while (v.size() < length) {
    if (r.chance(3)) {
      push_healthy_run(v);
      continue;
    }
    v.push_back(random_op(r, f));
  }
  return v;
}

// The reduced alphabet of the exhaustive enumeration.
inline std::vector<op> exhaustive_alphabet() {
  using K = action::kind;
  std::vector<op> a;
  op o;
  o.k = K::apply;  // apply a good fresh bundle
  a.push_back(o);
  o.v = variant::invalid;  // apply an invalid fresh bundle
  a.push_back(o);
  o = op{};
  o.k = K::recall;  // recall the active sequence
  o.recall_mask = 1;
  a.push_back(o);
  o = op{};
  o.k = K::heartbeat;
  a.push_back(o);
  o.k = K::advance;  // past the watchdog timeout
  o.seconds = 31;
  a.push_back(o);
  o.seconds = healthy_run_seconds;  // heartbeats for the healthy uptime (a poll marks the start healthy)
  o.beat_every = 10;
  a.push_back(o);
  o.beat_every = 0;
  o = op{};
  o.k = K::poll;
  a.push_back(o);
  o.k = K::crash;
  a.push_back(o);
  o.k = K::confirm;
  a.push_back(o);
  o.k = K::rollback;
  a.push_back(o);
  return a;
}

// Runs every sequence of exactly `length` operations over the alphabet (in
// the given watchdog mode); returns how many ran, stopping at the first
// divergence (its sequence in *failing) unless *diverging counts them.
inline std::uint64_t enumerate_all(std::size_t length, const run_options& ro, std::vector<op>* failing,
                                   std::uint64_t* ops_run, std::uint64_t* diverging = nullptr) {
  const std::vector<op> alpha = exhaustive_alphabet();
  std::vector<std::size_t> idx(length, 0);
  std::uint64_t count = 0;
  for (;;) {
    std::vector<op> v;
    for (std::size_t i : idx) v.push_back(alpha[i]);
    const run_report r = run_sequence(v, ro, false);
    ++count;
    if (ops_run != nullptr) *ops_run += r.steps;
    if (r.diverged) {
      if (failing != nullptr && failing->empty()) *failing = v;
      if (diverging == nullptr) return count;
      ++*diverging;
    }
    std::size_t p = 0;
    while (p < length && ++idx[p] == alpha.size()) idx[p++] = 0;
    if (p == length) return count;
  }
}

}  // namespace slotguard_model

#endif  // SLOTGUARD_TESTS_MODEL_CHECKER_HPP
