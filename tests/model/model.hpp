// SPDX-License-Identifier: Apache-2.0
// The reference model of one channel's guard and store: what they must do,
// written for clarity rather than speed, with no storage, no bytes and no
// threads. A state holds the roles (active, fallback), the trial, the starts
// it used, the floor, the quarantine, the crash-streak breaker (the streak,
// the safe sequence, the mode; whether this process was marked healthy), the
// environment of the process (which keys are trusted, the host's version)
// and what readers are served. step()
// returns every outcome the semantics allow for one action: usually one,
// several where the real guard may legitimately differ (a power cut keeps or
// loses the operation's last write, a storage error fails the operation or
// hits only a best-effort call, a reading of the semantics that is left
// open). The checker compares the real guard with each and adopts the first
// that matches.
#ifndef SLOTGUARD_TESTS_MODEL_MODEL_HPP
#define SLOTGUARD_TESTS_MODEL_MODEL_HPP

#include <slotguard/error.hpp>
#include <slotguard/events.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slotguard_model {

namespace sg = slotguard;

// What a bundle is, as far as the model cares.
enum class variant : std::uint8_t {
  good,           // passes every gate
  invalid,        // fails validation (quarantined)
  probe_fail,     // the in-process probe rejects it (quarantined)
  other_channel,  // signed, for another channel
  untrusted,      // signed by a key never in the trust set
  host_out,       // host_min above any host the device runs
  expired,        // expired before the run began
  host_capped,    // good, but host_max excludes the upgraded host (2.x)
  expiring,       // good, expires 120 s into the run (expiry is not checked at rest)
};

inline const char* to_string(variant v) {
  switch (v) {
    case variant::good: return "good";
    case variant::invalid: return "invalid";
    case variant::probe_fail: return "probe-failing";
    case variant::other_channel: return "other-channel";
    case variant::untrusted: return "untrusted";
    case variant::host_out: return "host-out-of-range";
    case variant::expired: return "expired";
    case variant::host_capped: return "host-capped";
    case variant::expiring: return "expiring";
  }
  return "?";
}

// The run's fixed parameters, in seconds.
struct config {
  std::int64_t watchdog_timeout = 30;
  std::int64_t probation = 300;
  std::int64_t expiring_after = 120;  // a variant::expiring bundle expires this long after the start
  std::uint32_t start_budget = 2;
  std::size_t quarantine_capacity = 4096;
  // The crash-streak breaker (safe_streak 0: off).
  std::int64_t healthy_uptime = 120;
  std::uint32_t safe_streak = 3;
  std::uint32_t null_streak = 6;
  // A deliberate error in the model, to show that the checker finds and
  // shrinks a divergence (the checker's own test).
  bool mutant_invalid_not_quarantined = false;
};

// Content held in a slot.
struct content {
  std::uint64_t seq = 0;
  int key = 0;               // signing key: 0 always trusted, 1 trusted while key1_trusted
  bool host_capped = false;  // host_max 1.x
  bool damaged = false;      // its file was damaged (does not load)
};

enum class role : std::uint8_t { none, active, fallback };

struct state {
  // Durable: the journal and the slots.
  std::optional<content> active;
  std::optional<content> fallback;
  bool trial = false;
  std::uint32_t starts_used = 0;
  std::uint32_t start_budget = 0;
  std::uint64_t floor = 0;
  std::vector<std::uint64_t> quarantine;  // oldest first
  // Durable: the crash-streak breaker.
  std::uint32_t streak = 0;          // starts since the last healthy run
  std::uint64_t safe_sequence = 0;   // the newest committed sequence a healthy run was served
  sg::breaker_mode mode = sg::breaker_mode::normal;
  // The environment of the running (or next) process.
  bool key1_trusted = true;
  std::uint32_t host_major = 1;
  bool storage_read_only = false;  // the store cannot be written (a read-only mount)
  // The process.
  bool open = false;
  bool read_only = false;  // this process opened the store read-only
  role served = role::none;  // whose content readers see
  std::int64_t now = 0;      // seconds since the run began (both clocks)
  std::int64_t trial_start = 0;
  std::int64_t deadline = 0;
  bool healthy = false;         // this process was marked healthy
  std::int64_t opened_at = 0;   // when this process opened the guard
  std::int64_t last_beat = 0;   // the last heartbeat (open() counts as one)
  // The watchdog's revert of this trial met a storage error: poll() tries
  // it again; heartbeats do not (0: none).
  std::uint64_t revert_due = 0;
  // A read of the content to serve failed: nothing is served until poll()
  // (or another change of what is served) reads again.
  bool reload_due = false;
  // Bookkeeping for choosing operations (not semantics): the highest
  // content sequence used so far.
  std::uint64_t max_seq = 0;
  // Contents this process has loaded (or applied) whole: the guard keeps
  // them in memory, so damage to their files afterwards does not stop this
  // process from serving them (the next process reads the files again).
  std::vector<std::uint64_t> memory;

  bool in_memory(std::uint64_t seq) const {
    return std::find(memory.begin(), memory.end(), seq) != memory.end();
  }
  bool quarantined(std::uint64_t seq) const {
    return std::find(quarantine.begin(), quarantine.end(), seq) != quarantine.end();
  }
  std::optional<std::uint64_t> served_seq() const {
    if (served == role::active && active) return active->seq;
    if (served == role::fallback && fallback) return fallback->seq;
    return std::nullopt;
  }
};

// One expected event; unset fields match anything.
struct expected_event {
  sg::event_kind kind = sg::event_kind::rejected;
  std::optional<std::uint64_t> candidate;
  std::optional<sg::revert_reason> reason;
  std::optional<sg::errc> error;
  std::optional<std::uint32_t> streak;  // crash_loop: the streak it acted on
};

// What the real guard must show after the action.
struct expectation {
  enum class result_kind : std::uint8_t { unchecked, ok, exact, any_error };
  result_kind result = result_kind::unchecked;
  sg::errc error = sg::errc::ok;  // for exact
  std::vector<expected_event> events;
  // Any number of rejected / probe_failed events and nothing else (an
  // operation that a storage error failed).
  bool lenient_events = false;
  bool events_unchecked = false;  // the events of a step the power cut ended
  // Sequences a load_failed event must name (it says why stored content is
  // not served). load_failed events are not otherwise compared: the guard
  // may tell more often than the model requires.
  std::vector<std::uint64_t> load_failed;
};

struct outcome {
  state next;
  expectation expect;
  std::string note;  // which reading this outcome is, for the report
};

// What an action does, resolved to concrete sequences (the checker resolves
// its operations' selectors against the model's state first).
struct action {
  enum class kind : std::uint8_t {
    apply,
    apply_garbage,
    recall,
    heartbeat,
    poll,
    advance,
    report_unhealthy,
    confirm,
    revert,
    rollback,
    crash,        // the process dies; then, while down, the changes below; then open
    release,      // the operator lifts the quarantine of seq
    shutdown,     // shutdown(), the process ends; then open
    damage_live,  // the active slot's file is damaged under the running guard
    reopen,       // open, when the last open failed
  };
  kind k = kind::heartbeat;
  variant v = variant::good;
  std::uint64_t seq = 0;
  int key = 0;
  std::vector<std::uint64_t> recalls;  // sorted, unique
  std::int64_t seconds = 0;
  std::int64_t beat_every = 0;  // advance: a heartbeat at the start and every beat_every seconds of the wait
  bool toggle_key1 = false;  // crash: the trust set changes while down
  bool toggle_host = false;  // crash: the host is upgraded (1 <-> 2) while down
  bool toggle_read_only = false;  // crash: the store becomes read-only (or writable again) while down
  role damage = role::none;  // crash: this role's file is damaged while down
  // A storage error on the n-th storage call of the action's main call
  // (0: none), of one kind (sim_call's value; 0 = any).
  std::uint32_t fault_n = 0;
  std::uint8_t fault_kind = 0;
  // The power fails after the n-th storage call of the main call (0: no
  // cut), then the machine reboots keeping a random subset of unsynced
  // operations (seed), tearing one write when tear is set, and opens.
  std::uint32_t cut_n = 0;
  std::uint64_t cut_seed = 0;
  bool tear = false;
};

class model {
 public:
  explicit model(config c) : cfg_(c) {}
  const config& cfg() const { return cfg_; }

  // --- what loads and what is served ------------------------------------

  bool trusted(const state& s, int key) const { return key == 0 || (key == 1 && s.key1_trusted); }
  // Content loads: intact, signed by a currently trusted key, for this host.
  bool loads(const state& s, const content& c) const {
    return (!c.damaged || s.in_memory(c.seq)) && trusted(s, c.key) && !(c.host_capped && s.host_major > 1);
  }
  bool servable(const state& s, const std::optional<content>& c) const {
    return c && loads(s, *c) && !s.quarantined(c->seq);
  }
  // Readers see the active content if it loads and is not quarantined, else
  // the fallback under the same conditions, else nothing.
  role serve(const state& s) const {
    if (s.mode == sg::breaker_mode::no_content && !s.trial) return role::none;
    if (servable(s, s.active)) return role::active;
    if (s.active && servable(s, s.fallback)) return role::fallback;
    return role::none;
  }

  void quarantine(state& s, std::uint64_t seq) const {
    if (s.quarantined(seq)) return;
    s.quarantine.push_back(seq);
    if (s.quarantine.size() <= cfg_.quarantine_capacity) return;
    // Full: the oldest entry at or below the floor goes first (it can never
    // be staged again anyway), else the oldest.
    auto it = std::find_if(s.quarantine.begin(), s.quarantine.end(),
                           [&](std::uint64_t q) { return q <= s.floor && q != seq; });
    s.quarantine.erase(it != s.quarantine.end() ? it : s.quarantine.begin());
  }

  // --- one action ---------------------------------------------------------

  std::vector<outcome> step(const state& s0, const action& a) const {
    std::vector<outcome> out = step_impl(s0, a);
    for (outcome& o : out) {
      state& n = o.next;
      if (!n.open) {
        n.memory.clear();
        continue;
      }
      const std::optional<std::uint64_t> seq = n.served_seq();
      if (seq && !n.in_memory(*seq)) n.memory.push_back(*seq);
    }
    return out;
  }

  std::vector<outcome> step_impl(const state& s0, const action& a) const {
    using K = action::kind;
    outcome o{s0, {}, {}};
    if (a.k == K::advance) {
      std::vector<outcome> out{o};
      std::int64_t left = a.seconds;
      do {
        const std::int64_t step = a.beat_every > 0 ? std::min(a.beat_every, left) : left;
        if (a.beat_every > 0 && s0.open && !s0.read_only) {
          std::vector<outcome> beaten;
          for (outcome& x : out)
            for (outcome& y : heartbeat(x)) beaten.push_back(std::move(y));
          out = std::move(beaten);
        }
        for (outcome& x : out) x.next.now += step;
        left -= step;
      } while (left > 0 && a.beat_every > 0);
      return out;
    }
    // Operations on a guard that is not open do nothing (the last open failed).
    if (!s0.open && a.k != K::crash && a.k != K::shutdown && a.k != K::reopen) return {o};
    // A read-only guard writes nothing: what would write fails.
    auto read_only_call = [&](outcome& x) -> std::vector<outcome> {
      switch (a.k) {
        case K::apply:
        case K::apply_garbage:
        case K::recall:
          error_result(x, sg::errc::read_only_store);
          x.expect.events.push_back(ev(sg::event_kind::rejected, 0, std::nullopt, sg::errc::read_only_store));
          return {x};
        case K::report_unhealthy:
        case K::confirm:
        case K::revert:
        case K::rollback:
        case K::release:
          error_result(x, sg::errc::read_only_store);
          return {x};
        default:
          return {x};
      }
    };
    if (a.k == K::damage_live) {
      if (o.next.active) o.next.active->damaged = true;
      return {o};
    }
    std::vector<outcome> after;
    if (a.k == K::crash || a.k == K::reopen || a.k == K::shutdown) {
      // The main call of shutdown is shutdown() itself; of crash and reopen
      // it is open().
      std::vector<outcome> pre{o};
      if (a.k == K::shutdown && s0.open && !s0.read_only) pre = fallible(o, [&](outcome& x) { return shutdown(x); }, a.fault_n != 0);
      if (a.k == K::shutdown && a.cut_n != 0) pre = keep_or_lose(o, pre);
      std::vector<outcome> out;
      for (outcome p : pre) {
        // What the shutdown call itself showed; open's expectations follow.
        expectation first = p.expect;
        if (a.k == K::shutdown && a.cut_n != 0) first = {};
        p.expect = {};
        p.next.open = false;
        p.next.served = role::none;
        if (a.k == K::crash) down_changes(p.next, a);
        const bool fault_on_open = a.k != K::shutdown;
        std::vector<outcome> opened =
            fallible(p, [&](outcome& x) { return open(x); }, fault_on_open && a.fault_n != 0);
        if (fault_on_open && a.fault_n != 0) opened = with_start_counted(p, std::move(opened));
        if (fault_on_open && a.cut_n != 0) {
          // The power failed during open: it reboots and opens again, from
          // the state before or after (or with the start counted).
          std::vector<outcome> again;
          for (outcome q : with_start_counted(p, keep_or_lose(p, opened))) {
            q.expect = {};
            q.next.open = false;
            q.next.served = role::none;
            for (outcome& r : open(q)) again.push_back(std::move(r));
          }
          opened = std::move(again);
        }
        for (outcome& q : opened) {
          if (a.k == K::shutdown) merge_events(first, q.expect);
          out.push_back(std::move(q));
        }
      }
      return out;
    }

    auto body = [&](outcome& x) -> std::vector<outcome> {
      if (x.next.read_only) return read_only_call(x);
      switch (a.k) {
        case K::apply: return apply(x, a);
        case K::apply_garbage: {
          x.expect.result = expectation::result_kind::any_error;
          x.expect.events.push_back(ev(sg::event_kind::rejected, 0));
          return {x};
        }
        case K::recall: {
          // A recall passes the signature and eligibility gates (not the floor).
          sg::errc e = sg::errc::ok;
          if (a.v == variant::untrusted) e = sg::errc::unknown_key;
          if (a.v == variant::other_channel) e = sg::errc::channel_mismatch;
          if (a.v == variant::expired) e = sg::errc::expired;
          if (e == sg::errc::ok) return recall(x, a.recalls);
          error_result(x, e);
          x.expect.events.push_back(ev(sg::event_kind::rejected, std::nullopt, std::nullopt, e));
          return {x};
        }
        case K::heartbeat: return heartbeat(x);
        case K::poll: return poll(x);
        case K::report_unhealthy: return trial_op(x, sg::revert_reason::unhealthy);
        case K::confirm: return confirm(x);
        case K::revert: return trial_op(x, sg::revert_reason::operator_request);
        case K::rollback: return rollback(x);
        case K::release: return release(x, a.seq);
        default: return {x};
      }
    };
    // A heartbeat is stored whatever happens after it.
    if (a.k == K::heartbeat && !o.next.read_only) o.next.last_beat = o.next.now;
    after = fallible(o, body, a.fault_n != 0);
    if (a.fault_n != 0) {
      // The storage error hit the read of content this process had not
      // read yet, after the operation's write: nothing is served until it
      // is read again.
      const std::size_t n = after.size();
      for (std::size_t i = 1; i < n; ++i) {
        const std::optional<std::uint64_t> q = after[i].next.served_seq();
        if (!q || o.next.in_memory(*q) || after[i].next.read_only) continue;
        outcome x = after[i];
        x.next.served = role::none;
        x.next.reload_due = true;
        x.note = "a read error after the write: nothing is served until poll() reads again";
        after.push_back(std::move(x));
      }
    }
    if (a.fault_n != 0 && (a.k == K::heartbeat || a.k == K::poll)) {
      // The failed outcome: a watchdog revert that failed stays due.
      state& f = after.front().next;
      if (f.trial && f.now >= f.deadline && !f.read_only) f.revert_due = f.active->seq;
    }
    if (a.k == K::poll && !o.next.read_only && (a.fault_n != 0 || a.cut_n != 0)) {
      // poll() writes twice at most: the watchdog's revert or the commit,
      // then the healthy mark. A storage error or a power cut may stop
      // either; the other may still happen.
      for (outcome& x : poll(o, false)) {
        x.note = "poll's first write only";
        after.push_back(std::move(x));
      }
      if (a.fault_n != 0) {
        outcome m = o;
        if (healthy_mark(m.next)) {
          m.note = "poll's healthy mark only";
          after.push_back(std::move(m));
        }
      }
    }
    if (a.cut_n == 0) return after;
    // The power fails during the call: reboot and open from the state
    // before or one after.
    std::vector<outcome> out;
    for (outcome p : keep_or_lose(o, after)) {
      p.expect = {};
      p.next.open = false;
      p.next.served = role::none;
      for (outcome& q : open(p)) out.push_back(std::move(q));
    }
    return out;
  }

  state initial() const {
    state s;
    std::vector<outcome> o = open(outcome{s, {}, {}});
    return o.front().next;
  }

 private:
  template <class F>
  std::vector<outcome> fallible(const outcome& o, F&& f, bool faulted) const {
    outcome x = o;
    std::vector<outcome> after = f(x);
    if (!faulted) return after;
    // A storage error: the call fails and changes nothing, or the error hit
    // a call that did not matter (a best-effort removal) and all went well.
    outcome before = o;
    before.expect.lenient_events = true;
    before.expect.result = expectation::result_kind::unchecked;
    before.note = "the storage error failed the operation";
    std::vector<outcome> out{before};
    for (outcome& a : after) out.push_back(std::move(a));
    return out;
  }

  // After a power cut: the operation's durable effect is all or nothing.
  std::vector<outcome> keep_or_lose(const outcome& before, const std::vector<outcome>& after) const {
    std::vector<outcome> out;
    outcome b = before;
    b.note = "the power cut lost the operation";
    out.push_back(b);
    for (const outcome& a : after) {
      outcome x = a;
      x.note = "the power cut kept the operation";
      out.push_back(std::move(x));
    }
    return out;
  }

  static void merge_events(const expectation& first, expectation& then) {
    std::vector<expected_event> all = first.events;
    all.insert(all.end(), then.events.begin(), then.events.end());
    then.events = std::move(all);
  }

  // open() writes twice when a trial must be reverted: the start is counted,
  // then the revert. A power cut or a storage error between the two leaves
  // the start counted (a start that died is a start).
  // The same holds for the crash-streak breaker's writes after the start:
  // the first of its two steps may be written and the second not.
  std::vector<outcome> with_start_counted(const outcome& before, std::vector<outcome> outs) const {
    if (before.next.storage_read_only) return outs;
    outcome c = before;
    const std::uint32_t crashes = c.next.streak;
    if (c.next.streak < UINT32_MAX) ++c.next.streak;
    if (c.next.trial && c.next.starts_used < UINT32_MAX) ++c.next.starts_used;
    c.note = "the start was counted, what open() wrote after it was not";
    c.expect.lenient_events = true;
    c.expect.result = expectation::result_kind::unchecked;
    outs.push_back(c);
    if (!c.next.trial && cfg_.safe_streak != 0) {
      outcome d = c;
      if (breaker_first_step(d.next, crashes)) {
        d.next.served = role::none;
        d.note = "the start and the breaker's first step were written, its second was not";
        outs.push_back(std::move(d));
      }
    }
    return outs;
  }

  void down_changes(state& s, const action& a) const {
    if (a.toggle_key1) s.key1_trusted = !s.key1_trusted;
    if (a.toggle_host) s.host_major = s.host_major == 1 ? 2 : 1;
    if (a.toggle_read_only) s.storage_read_only = !s.storage_read_only;
    if (a.damage == role::active && s.active) s.active->damaged = true;
    if (a.damage == role::fallback && s.fallback) s.fallback->damaged = true;
  }

  static expected_event ev(sg::event_kind k, std::optional<std::uint64_t> cand,
                           std::optional<sg::revert_reason> why = std::nullopt,
                           std::optional<sg::errc> e = std::nullopt) {
    expected_event x;
    x.kind = k;
    x.candidate = cand;
    x.reason = why;
    x.error = e;
    return x;
  }
  static void ok_result(outcome& o) { o.expect.result = expectation::result_kind::ok; }
  static void error_result(outcome& o, sg::errc e) {
    o.expect.result = expectation::result_kind::exact;
    o.expect.error = e;
  }

  // Starting a trial's clock counts as a heartbeat.
  void arm(state& s) const {
    s.trial_start = s.now;
    s.last_beat = s.now;
    s.deadline = s.now + cfg_.watchdog_timeout;
  }
  void end_trial(state& s) const {
    s.trial = false;
    s.starts_used = 0;
    s.start_budget = 0;
  }

  // open(): a start is counted against a running trial; a spent budget or
  // trial content that does not load reverts it.
  std::vector<outcome> open(outcome o) const {
    state& s = o.next;
    s.open = true;
    s.memory.clear();  // a new process has read nothing yet
    s.read_only = s.storage_read_only;
    s.healthy = false;
    s.revert_due = 0;
    s.reload_due = false;
    s.opened_at = s.now;
    s.last_beat = s.now;
    ok_result(o);
    if (s.read_only) {
      // Read-only: the committed content is served (never a trial's), no
      // start is counted, nothing is written. In the breaker's no-content
      // mode nothing is served.
      o.expect.events.push_back(ev(sg::event_kind::read_only, 0));
      if (s.mode == sg::breaker_mode::no_content && !s.trial) {
        s.served = role::none;
        return {o};
      }
      const std::optional<content>& lkg = s.trial ? s.fallback : s.active;
      s.served = servable(s, lkg) ? (s.trial ? role::fallback : role::active) : role::none;
      if (lkg && !servable(s, lkg)) o.expect.load_failed.push_back(lkg->seq);
      return {o};
    }
    // One record counts the start in the crash streak (and against a trial).
    const std::uint32_t crashes = s.streak;
    if (s.streak < UINT32_MAX) ++s.streak;
    if (s.trial) {
      if (s.starts_used < UINT32_MAX) ++s.starts_used;
      if (s.starts_used > s.start_budget) return revert(o, sg::revert_reason::start_budget_spent);
      if (!servable(s, s.active)) {
        o.expect.load_failed.push_back(s.active->seq);
        return revert(o, sg::revert_reason::unhealthy);
      }
      arm(s);
    }
    s.served = serve(s);
    const bool no_content = s.mode == sg::breaker_mode::no_content && !s.trial;
    if (!no_content && s.active && !servable(s, s.active)) {
      o.expect.load_failed.push_back(s.active->seq);
      if (s.fallback && !servable(s, s.fallback)) o.expect.load_failed.push_back(s.fallback->seq);
    }
    if (!s.trial) breaker(o, crashes);
    return {o};
  }

  // The breaker's first step: in normal mode, a streak of safe_streak
  // crashes quarantines the content they crashed on (what is served, else
  // the active content) and enters safe mode. Returns the crasher (0: none)
  // when it acted.
  std::optional<std::uint64_t> breaker_first_step(state& s, std::uint32_t crashes) const {
    if (cfg_.safe_streak == 0 || s.mode != sg::breaker_mode::normal || crashes < cfg_.safe_streak)
      return std::nullopt;
    std::uint64_t crasher = s.served_seq().value_or(s.active ? s.active->seq : 0);
    if (crasher != 0) {
      quarantine(s, crasher);
      if (s.active && s.active->seq == crasher) {
        const std::optional<content> back = s.fallback;
        s.active.reset();
        if (back && !s.quarantined(back->seq)) {
          s.active = back;
          s.fallback.reset();
        }
      }
    }
    s.mode = sg::breaker_mode::safe;
    return crasher;
  }

  // The crash-streak breaker at a start that found `crashes` starts before
  // it that never became healthy (no trial runs).
  void breaker(outcome& o, std::uint32_t crashes) const {
    state& s = o.next;
    if (cfg_.safe_streak == 0) return;
    if (const std::optional<std::uint64_t> crasher = breaker_first_step(s, crashes)) {
      s.served = serve(s);
      expected_event e = ev(sg::event_kind::crash_loop, *crasher, sg::revert_reason::crash_loop);
      e.streak = crashes;
      o.expect.events.push_back(e);
    }
    const std::uint32_t safe = cfg_.safe_streak;
    const std::uint32_t none = cfg_.null_streak;
    if ((s.mode == sg::breaker_mode::normal || s.mode == sg::breaker_mode::safe) && crashes >= none) {
      s.mode = sg::breaker_mode::no_content;
    } else if (s.mode == sg::breaker_mode::no_content && crashes >= none + safe) {
      s.mode = sg::breaker_mode::not_content;
    } else {
      return;
    }
    s.served = serve(s);
    expected_event e = ev(sg::event_kind::crash_loop, 0);
    e.streak = crashes;
    o.expect.events.push_back(e);
  }

  // The healthy mark (poll() once heartbeats have flowed for healthy_uptime
  // since open): the streak ends, the served committed content is known
  // safe, safe and not-content modes end. Returns whether it was made.
  bool healthy_mark(state& s) const {
    if (s.healthy || cfg_.safe_streak == 0 || s.read_only || !s.open) return false;
    if (s.now - s.last_beat >= cfg_.watchdog_timeout || s.now - s.opened_at < cfg_.healthy_uptime) return false;
    mark(s);
    return true;
  }
  void mark(state& s) const {
    s.streak = 0;
    if (!s.trial) {
      if (const std::optional<std::uint64_t> q = s.served_seq()) s.safe_sequence = *q;
    }
    if (s.mode == sg::breaker_mode::safe || s.mode == sg::breaker_mode::not_content) s.mode = sg::breaker_mode::normal;
    s.healthy = true;
  }

  // release(): the quarantine of seq is lifted; nothing else changes.
  std::vector<outcome> release(outcome o, std::uint64_t seq) const {
    state& s = o.next;
    ok_result(o);
    auto it = std::find(s.quarantine.begin(), s.quarantine.end(), seq);
    if (it == s.quarantine.end()) return {o};
    s.quarantine.erase(it);
    o.expect.events.push_back(ev(sg::event_kind::released, seq));
    return {o};
  }

  // shutdown(): the start this process counted is given back.
  std::vector<outcome> shutdown(outcome o) const {
    state& s = o.next;
    ok_result(o);
    if (s.trial && s.starts_used > 0) --s.starts_used;
    mark(s);
    return {o};
  }

  // A trial ends with failure: its sequence is quarantined, the fallback
  // runs again if it can be served, else nothing does.
  // Every revert but a recall's ends the crash streak but for this start
  // (the crashes were the trial's).
  std::vector<outcome> revert(outcome o, sg::revert_reason why) const {
    state& s = o.next;
    const std::uint64_t seq = s.active->seq;
    if (why != sg::revert_reason::recall) s.streak = std::min<std::uint32_t>(s.streak, 1);
    s.reload_due = false;
    quarantine(s, seq);
    end_trial(s);
    std::optional<content> fb = s.fallback;
    s.fallback.reset();
    o.expect.events.push_back(ev(sg::event_kind::reverted, seq, why));
    if (!fb || s.quarantined(fb->seq) || servable(s, fb)) {
      s.active = servable(s, fb) ? fb : std::nullopt;
      s.served = serve(s);
      return {o};
    }
    // The fallback is not quarantined but does not load: it may stay as the
    // (unserved) active content or be dropped; readers see nothing either way.
    outcome kept = o;
    kept.next.active = fb;
    kept.next.served = serve(kept.next);
    kept.note = "the revert keeps the fallback that does not load as active";
    s.active.reset();
    s.served = serve(s);
    o.note = "the revert drops the fallback that does not load";
    return {o, kept};
  }

  std::vector<outcome> commit(outcome o) const {
    state& s = o.next;
    const std::uint64_t seq = s.active->seq;
    s.floor = std::max(s.floor, seq);
    s.mode = sg::breaker_mode::normal;
    end_trial(s);
    o.expect.events.push_back(ev(sg::event_kind::committed, seq));
    return {o};
  }

  std::vector<outcome> apply(outcome o, const action& a) const {
    state& s = o.next;
    const std::uint64_t seq = a.seq;
    s.max_seq = std::max(s.max_seq, seq);
    auto reject = [&](sg::errc e) {
      error_result(o, e);
      o.expect.events.push_back(ev(sg::event_kind::rejected, seq, std::nullopt, e));
      return std::vector<outcome>{o};
    };
    const int key = a.v == variant::untrusted ? 2 : a.key;
    if (!trusted(s, key)) return reject(sg::errc::unknown_key);
    if (a.v == variant::other_channel) return reject(sg::errc::channel_mismatch);
    if (seq <= s.floor) return reject(sg::errc::sequence_rollback);
    if (a.v == variant::expired || (a.v == variant::expiring && s.now >= cfg_.expiring_after))
      return reject(sg::errc::expired);
    if (a.v == variant::host_out || (a.v == variant::host_capped && s.host_major > 1))
      return reject(sg::errc::host_version_out_of_range);
    if (s.trial && s.active->seq == seq) return reject(sg::errc::already_active);
    if (a.v == variant::invalid) {
      if (!cfg_.mutant_invalid_not_quarantined) quarantine(s, seq);
      return reject(sg::errc::field_count_mismatch);
    }
    if (s.quarantined(seq)) return reject(sg::errc::quarantined);
    if (a.v == variant::probe_fail) {
      o.expect.events.push_back(ev(sg::event_kind::probe_failed, seq, std::nullopt, sg::errc::probe_failed));
      quarantine(s, seq);
      return reject(sg::errc::probe_failed);
    }
    // Stage into the slot that does not hold what readers are served (the
    // last content that loads is never overwritten) and begin the trial.
    content c;
    c.seq = seq;
    c.key = key;
    c.host_capped = a.v == variant::host_capped;
    std::vector<outcome> out;
    auto begin = [&](outcome x, std::optional<content> fb, const char* note) {
      x.next.active = c;
      x.next.fallback = fb;
      x.next.trial = true;
      x.next.starts_used = 1;
      x.next.start_budget = cfg_.start_budget;
      x.next.served = role::active;
      arm(x.next);
      ok_result(x);
      x.expect.events.push_back(ev(sg::event_kind::staged, seq));
      x.expect.events.push_back(ev(sg::event_kind::trial_started, seq));
      if (note != nullptr) x.note = note;
      out.push_back(std::move(x));
    };
    if (s.trial) {
      begin(o, s.fallback, nullptr);  // replaces the trial, which is not judged
    } else if (!s.active) {
      begin(o, std::nullopt, nullptr);
    } else if (s.served == role::fallback) {
      begin(o, s.fallback, nullptr);  // the active does not load: its slot takes the candidate
    } else if (s.served == role::active) {
      begin(o, s.active, nullptr);
    } else {
      // Nothing is served: either slot may take the candidate.
      begin(o, s.active, "the candidate replaced the fallback (nothing was served)");
      begin(o, s.fallback, "the candidate replaced the active (nothing was served)");
    }
    return out;
  }

  std::vector<outcome> recall(outcome o, const std::vector<std::uint64_t>& list) const {
    state& s = o.next;
    auto in = [&](const std::optional<content>& c) {
      return c && std::binary_search(list.begin(), list.end(), c->seq);
    };
    const std::optional<std::uint64_t> served_before = s.served_seq();
    s.reload_due = false;
    for (std::uint64_t q : list) quarantine(s, q);
    ok_result(o);
    std::vector<outcome> out;
    if (s.trial && in(s.active)) {
      if (in(s.fallback)) s.fallback.reset();
      out = revert(o, sg::revert_reason::recall);
    } else if (!s.trial && in(s.active)) {
      const content old = *s.active;
      const std::uint64_t from = old.seq;
      if (s.fallback && !s.quarantined(s.fallback->seq) && !loads(s, *s.fallback)) {
        // The fallback is neither recalled nor quarantined but does not
        // load: going back to it and going back to nothing both serve
        // nothing; both readings are allowed.
        outcome back = o;
        back.next.active = s.fallback;
        back.next.fallback.reset();
        back.next.served = serve(back.next);
        back.expect.events.push_back(ev(sg::event_kind::reverted, from, sg::revert_reason::recall));
        back.note = "the recall goes back to the fallback that does not load";
        out.push_back(back);
        outcome kept = back;
        kept.next.fallback = old;
        kept.note += " (the recalled content stays as fallback)";
        out.push_back(kept);
      }
      if (servable(s, s.fallback)) {
        // Back to the fallback; the recalled content stays as the
        // (quarantined) fallback or is dropped. The floor stays where it is:
        // a recall is not an operator's command, and only those lower the
        // committed sequence (DESIGN.md, invariant 4).
        s.active = s.fallback;
        s.served = serve(s);
        o.expect.events.push_back(ev(sg::event_kind::reverted, from, sg::revert_reason::recall));
        outcome kept = o;
        kept.next.fallback = old;
        kept.note = "the rolled-back recalled content stays as fallback";
        s.fallback.reset();
        o.note = "the rolled-back recalled content is dropped";
        out = {o, kept};
      } else {
        // Nothing to go back to: nothing is served; the floor stays.
        s.active.reset();
        if (in(s.fallback) || (s.fallback && s.quarantined(s.fallback->seq))) s.fallback.reset();
        s.served = serve(s);
        o.expect.events.push_back(ev(sg::event_kind::reverted, std::nullopt, sg::revert_reason::recall));
        std::vector<outcome> base{o};
        if (s.fallback) {
          outcome dropped = o;
          dropped.next.fallback.reset();
          dropped.note = "the fallback that does not load is dropped";
          base.push_back(dropped);
        }
        for (outcome b : base) {
          out.push_back(b);
          // A reading that also tells the operator there was no fallback.
          outcome told = b;
          error_result(told, sg::errc::no_fallback);
          told.expect.events.insert(told.expect.events.begin(),
                                    ev(sg::event_kind::rejected, from, std::nullopt, sg::errc::no_fallback));
          told.note = "the recall of the last content also reports no_fallback";
          out.push_back(told);
        }
      }
    } else {
      if (in(s.fallback)) s.fallback.reset();
      s.served = serve(s);
      if (s.served_seq() != served_before)
        o.expect.events.push_back(ev(sg::event_kind::reverted, std::nullopt, sg::revert_reason::recall));
      out = {o};
    }
    // What readers see did not change (they were served the fallback, or
    // nothing, already): the reverted event is optional.
    for (std::size_t i = 0, n = out.size(); i < n; ++i) {
      if (out[i].next.served_seq() != served_before) continue;
      std::vector<expected_event> quiet_events;
      for (const expected_event& e : out[i].expect.events)
        if (e.kind != sg::event_kind::reverted) quiet_events.push_back(e);
      if (quiet_events.size() == out[i].expect.events.size()) continue;
      outcome quiet = out[i];
      quiet.expect.events = std::move(quiet_events);
      quiet.note += "; no event, as what is served did not change";
      out.push_back(std::move(quiet));
    }
    return out;
  }

  std::vector<outcome> heartbeat(outcome o) const {
    state& s = o.next;
    s.last_beat = s.now;
    if (!s.trial) return {o};
    if (s.revert_due == s.active->seq) return {o};  // the watchdog fired already
    if (s.now >= s.deadline) return revert(o, sg::revert_reason::watchdog_timeout);
    s.deadline = s.now + cfg_.watchdog_timeout;
    return {o};
  }

  // poll(): the watchdog (a passed deadline reverts), the commit after
  // probation, then the healthy mark.
  std::vector<outcome> poll(outcome o, bool with_mark = true) const {
    if (o.next.reload_due) {
      o.next.reload_due = false;
      o.next.served = serve(o.next);
    }
    std::vector<outcome> out = poll_trial(o);
    if (with_mark && !o.next.read_only)
      for (outcome& x : out) healthy_mark(x.next);
    return out;
  }
  std::vector<outcome> poll_trial(outcome o) const {
    state& s = o.next;
    if (s.revert_due != 0) {
      // A due revert is tried again (only for the trial it was due for).
      const bool same_trial = s.trial && s.active->seq == s.revert_due;
      s.revert_due = 0;
      if (same_trial) return revert(o, sg::revert_reason::watchdog_timeout);
    }
    if (!s.trial) return {o};
    if (s.now >= s.deadline) return revert(o, sg::revert_reason::watchdog_timeout);
    if (s.now - s.trial_start < cfg_.probation) return {o};
    if (s.now - s.last_beat >= cfg_.watchdog_timeout) return {o};
    if (!s.active->damaged) return commit(o);
    // The trial's file was damaged under it: committing it, reverting it,
    // or waiting are all readings the semantics leave open.
    std::vector<outcome> out = commit(o);
    for (outcome& r : revert(o, sg::revert_reason::unhealthy)) out.push_back(std::move(r));
    out.push_back(o);
    return out;
  }

  // report_unhealthy() and revert().
  std::vector<outcome> trial_op(outcome o, sg::revert_reason why) const {
    if (!o.next.trial) {
      error_result(o, sg::errc::no_trial);
      return {o};
    }
    ok_result(o);
    return revert(o, why);
  }

  std::vector<outcome> confirm(outcome o) const {
    if (!o.next.trial) {
      state& s = o.next;
      if (s.mode == sg::breaker_mode::normal) {
        error_result(o, sg::errc::no_trial);
        return {o};
      }
      // The operator ends the breaker's mode.
      s.mode = sg::breaker_mode::normal;
      s.streak = 0;
      s.reload_due = false;
      s.served = serve(s);
      ok_result(o);
      o.expect.events.push_back(ev(sg::event_kind::released, s.served_seq().value_or(0)));
      return {o};
    }
    if (o.next.active->damaged) {
      error_result(o, sg::errc::slot_corrupt);
      return {o};
    }
    ok_result(o);
    return commit(o);
  }

  std::vector<outcome> rollback(outcome o) const {
    state& s = o.next;
    if (s.trial) {
      error_result(o, sg::errc::trial_active);
      return {o};
    }
    if (!s.fallback) {
      error_result(o, sg::errc::no_fallback);
      return {o};
    }
    if (s.quarantined(s.fallback->seq)) {
      error_result(o, sg::errc::quarantined);
      return {o};
    }
    // The store checks the fallback's file (its hash) itself, whatever this
    // process holds in memory.
    if (s.fallback->damaged) {
      error_result(o, sg::errc::slot_corrupt);
      return {o};
    }
    if (!loads(s, *s.fallback)) {
      o.expect.result = expectation::result_kind::any_error;
      return {o};
    }
    const std::uint64_t from = s.active ? s.active->seq : 0;
    std::swap(s.active, s.fallback);
    s.floor = s.active->seq;
    s.reload_due = false;
    s.served = serve(s);
    ok_result(o);
    o.expect.events.push_back(ev(sg::event_kind::reverted, from, sg::revert_reason::operator_request));
    return {o};
  }

  config cfg_;
};

}  // namespace slotguard_model

#endif  // SLOTGUARD_TESTS_MODEL_MODEL_HPP
