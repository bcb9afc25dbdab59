// SPDX-License-Identifier: Apache-2.0
// The guard: one channel's orchestrator, and what a sensor embeds. open()
// recovers the channel's slot store, counts a process start against a
// running trial (reverting it when its start budget is spent, so a crash
// during a trial reverts at the next start) and publishes the active content
// to readers. apply() runs the pipeline of docs/GUARD.md (parse, verify,
// validate, policy, probe, stage, trial); every gate can only say no, and a
// no leaves everything as it was but the quarantine record where that is
// meant. During a trial the new content is published at once; heartbeat()
// feeds a watchdog, silence or report_unhealthy() reverts, and a probation
// of healthy heartbeats or confirm() commits. Readers get the active content
// through current() or a per-thread reader() that never waits for the guard.
#ifndef SLOTGUARD_GUARD_HPP
#define SLOTGUARD_GUARD_HPP

#include <slotguard/bundle.hpp>
#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/events.hpp>
#include <slotguard/history.hpp>
#include <slotguard/log.hpp>
#include <slotguard/policy.hpp>
#include <slotguard/probe.hpp>
#include <slotguard/reader.hpp>
#include <slotguard/requests.hpp>
#include <slotguard/schema.hpp>
#include <slotguard/slot_store.hpp>
#include <slotguard/snapshot.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/tree.hpp>
#include <slotguard/trust.hpp>
#include <slotguard/watchdog.hpp>
#include <slotguard/detail/thread_annotations.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

class guard;

// active_content, content_handle, content_reader: slotguard/reader.hpp.

enum class guard_state { empty, committed, trial };

constexpr const char* to_string(guard_state s) noexcept {
  switch (s) {
    case guard_state::empty:
      return "empty";
    case guard_state::committed:
      return "committed";
    case guard_state::trial:
      return "trial";
  }
  return "unknown";
}

// One slot's content as status() reports it.
struct slot_summary {
  slot_id slot = slot_id::a;
  std::uint64_t sequence = 0;
  sha256_digest payload_sha256{};  // from the bundle's manifest
  std::string version;             // the manifest's display version
};

struct guard_status {
  guard_state state = guard_state::empty;
  std::string channel;
  std::optional<slot_summary> active;    // the content that runs (the trial's during a trial)
  std::optional<slot_summary> fallback;  // the last known-good during a trial, else the previous
  std::uint32_t trial_starts = 0;        // process starts the running trial has used
  std::uint32_t start_budget = 0;        // starts it may use (0 when no trial)
  std::uint64_t floor = 0;               // the committed sequence
  std::vector<std::uint64_t> quarantine;
  // During a trial: time since it started in this process, and the deadline
  // margin left before the watchdog reverts (both 0 otherwise).
  time_source::duration trial_elapsed{};
  time_source::duration watchdog_left{};
  // Why the active content could not be loaded at open, if it could not
  // (ok otherwise): readers then see the fallback or nothing.
  errc load_error = errc::ok;
  // The sequence readers are served (0: nothing).
  std::uint64_t served = 0;
  // Where the served content is as files (active_content::path(); empty
  // when it has none).
  std::string served_path;
  // The store could only be opened for reading: nothing is written, no start
  // is counted, and apply() and the operator's calls fail with read_only_store.
  bool read_only = false;
  // The crash-streak breaker: its mode, the starts since the last healthy run
  // (this one included until it is marked healthy), and the newest sequence
  // that completed a healthy run (0: none).
  breaker_mode mode = breaker_mode::normal;
  std::uint32_t streak = 0;
  std::uint64_t safe_sequence = 0;
  // This process has been marked healthy (heartbeats for healthy_uptime, or
  // a clean shutdown()).
  bool healthy = false;
};

// How the watchdog is driven.
enum class watchdog_mode {
  thread,  // a thread of the guard's own checks every watchdog_tick
  poll,    // the host calls guard::poll() (hosts that allow no threads)
};

struct guard_options {
  // Required: the storage backend (native_storage, or sim_storage in tests)
  // and the channel's store directory; must outlive the guard.
  storage* fs = nullptr;
  std::string directory;
  // Required: the channel this guard serves; bundles for others are rejected.
  std::string channel;
  // The keys (and threshold) bundles must be signed with.
  trust_set trust;
  // The validate gate: a schema or a validator function. Required.
  content_check check;
  // The host's version, checked against a bundle's range when set.
  std::optional<host_version> host;
  // Rollout, pin and soak.
  policy_options policy;
  // The probe gate (none by default).
  probe candidate_probe;
  // Where an isolated probe's candidate file is written (empty: the system's
  // temporary directory). The file is removed after the probe.
  std::string probe_dir;
  // Time. Must outlive the guard.
  const time_source* time = &real_clock();
  // Trial: no heartbeat for watchdog_timeout reverts; heartbeats flowing for
  // probation commit; start_budget process starts (counting the one that
  // began the trial) may run it before the next start reverts it.
  time_source::duration watchdog_timeout = std::chrono::seconds(30);
  time_source::duration probation = std::chrono::minutes(10);
  std::uint32_t start_budget = 1;
  watchdog_mode watchdog = watchdog_mode::thread;
  time_source::duration watchdog_tick = std::chrono::milliseconds(100);
  // The crash-streak breaker (docs/GUARD.md, "Crash loops"). A start is
  // healthy once heartbeats have flowed for healthy_uptime since open() (or
  // at a clean shutdown()); starts that never get there are a crash streak.
  // When a start finds safe_streak of them, the content that ran is
  // quarantined and the previous (last known-safe) content served; at
  // null_streak nothing is served; at null_streak + safe_streak with nothing
  // served the crashes are not content's: content is served again and the
  // breaker stops escalating until a healthy run. safe_streak 0 turns the
  // breaker off. Requires null_streak > safe_streak when both are set.
  time_source::duration healthy_uptime = std::chrono::minutes(5);
  std::uint32_t safe_streak = 3;
  std::uint32_t null_streak = 6;
  // An operator's tool, not the sensor: open() never counts a process start,
  // no watchdog runs, and a trial begun by apply() starts with no starts
  // used (the sensor's next start is its first).
  bool operator_mode = false;
  // Receives every event, including those of open() itself.
  event_handler on_event;
  bundle_limits limits;
  // The store's options; its slot cap is taken from limits.max_bundle_size
  // (one size story: a bundle the limits accept fits the store).
  store_options store;
  // A bytes payload is also written as a file of its own in the slot's
  // directory (active_content::path()), for engines that read content from
  // files. Tree payloads are always unpacked.
  bool payload_file = false;
  // Requests from the operator's tool (docs/GUARD.md, "Requests from the
  // operator's tool"): a writable guard outside operator mode carries out
  // the requests left in <directory>/requests at its watchdog ticks and
  // poll() calls, looking at most every request_interval.
  bool serve_requests = true;
  time_source::duration request_interval = std::chrono::milliseconds(100);
  // The store's history (history.hpp): every event delivered is recorded
  // durably in the store (one write per decision), the last history_capacity
  // of them kept; read it with read_history(). Not by a read-only guard.
  bool keep_history = true;
  std::size_t history_capacity = history_default_capacity;
};

struct detail_guard_access {
  // Builds the content a reader sees from a bundle's bytes: parse, payload
  // hash, schema id/version, validation. Returns the first failing errc.
  static result<std::shared_ptr<active_content>> make(std::shared_ptr<const mapped_file> bytes, slot_id slot,
                                                      const bundle_limits& limits,
                                                      const content_check& check) {
    auto c = parse(std::move(bytes), limits);
    if (!c) return c.error();
    (*c)->slot_ = slot;
    SLOTGUARD_TRY(validate_content((*c)->bundle_, check, (*c)->records_));
    return c;
  }

  // Parse and payload hash only. The bytes are moved into the content
  // first, so the views the parser returns point into the content itself.
  static result<std::shared_ptr<active_content>> parse(std::shared_ptr<const mapped_file> bytes,
                                                       const bundle_limits& limits,
                                                       bool check_payload_hash = true) {
    std::shared_ptr<active_content> c(new active_content());
    c->data_ = std::move(bytes);
    auto parsed = parse_bundle(c->data_->bytes(), limits);
    if (!parsed) return parsed.error();
    c->bundle_ = *parsed;
    if (check_payload_hash) SLOTGUARD_TRY(verify_payload(c->bundle_));
    if (c->bundle_.manifest.kind == payload_kind::tree) {
      auto t = parse_tree_table(c->bundle_.payload, c->bundle_.payload.size());
      if (!t) return t.error();
      c->tree_ = std::move(*t);
    }
    return c;
  }
  static std::shared_ptr<const mapped_file> in_memory(std::vector<std::uint8_t> bytes) {
    return std::make_shared<detail::copied_file>(std::move(bytes));
  }

  // why, when given, receives what failed: the validator's record and field
  // index and its message ("record 3, field 2: ...").
  static result<void> validate_content(const bundle_view& b, const content_check& check,
                                       validated_payload& out, std::string* why = nullptr) {
    if (const schema* s = check.get_schema()) {
      // A schema describes records; a tree is checked by its own rules
      // (and the probe), or by a validator_fn given the payload.
      if (b.manifest.kind == payload_kind::tree) return errc::schema_mismatch;
      if (!s->matches(b.manifest.schema_id, b.manifest.schema_version)) return errc::schema_mismatch;
    }
    auto v = check.run(b.payload);
    if (!v) {
      if (why != nullptr) {
        const validation_error& e = v.error();
        std::string d;
        if (e.record != validation_error::npos) d += "record " + std::to_string(e.record);
        if (e.field != validation_error::npos) d += (d.empty() ? "" : ", ") + std::string("field ") + std::to_string(e.field);
        if (!e.message.empty()) d += (d.empty() ? "" : ": ") + e.message;
        *why = std::move(d);
      }
      return v.error().code;
    }
    out = std::move(*v);
    return ok();
  }

  // What stored content must pass to be served, at every open and reload:
  // the current trust set and threshold, the guard's channel, the host's
  // version range. Not expiry: a device that is offline keeps detecting with
  // what it has.
  static result<void> check_at_rest(const active_content& c, const trust_set& trust,
                                    const std::string& channel, const std::optional<host_version>& host) {
    SLOTGUARD_TRY(verify_signatures(c.bundle_, trust));
    const bundle_manifest& m = c.manifest();
    if (m.channel != channel) return errc::channel_mismatch;
    if (host) {
      if (m.host_min && *host < *m.host_min) return errc::host_version_out_of_range;
      if (m.host_max && *host > *m.host_max) return errc::host_version_out_of_range;
    }
    return ok();
  }

  static slot_summary summarize(const active_content& c) {
    slot_summary s;
    s.slot = c.slot_;
    s.sequence = c.sequence();
    s.payload_sha256 = c.manifest().payload_sha256;
    s.version = std::string(c.manifest().version);
    return s;
  }
};

// Locks (docs/GUARD.md, "Threads and locks"):
//  - io_mu_ serialises every use of the store and every state transition;
//    it is held across storage I/O. heartbeat() never takes it while the
//    trial is in good standing, and the watchdog's deadline check never
//    does (only the revert that follows a passed deadline).
//  - mu_ guards the in-memory view that status() and the hot calls read; it
//    is held only for copies, never across I/O or a callback. Order: io_mu_,
//    then mu_.
//  - apply_mu_ keeps applies in turn; the gates run without io_mu_.
//  - ev_mu_ guards the event queue; handlers run with no guard lock held.
class guard {
 public:
  using duration = time_source::duration;

  // Opens the channel's store (see guard_options), recovers it, records the
  // process start (the crash streak, and a start against a running trial,
  // reverting the trial when its start budget is spent), lets the crash-streak
  // breaker act, then publishes the content that passes every check (see
  // served in status()). A store that cannot be opened for writing is opened
  // read-only: nothing is counted or written (status().read_only, a
  // read_only event). Fails with invalid_argument (no storage, directory,
  // channel or content check; null_streak <= safe_streak), busy (another
  // process holds the store), channel_mismatch (the store records another
  // channel), journal_corrupt, out_of_memory (no watchdog thread), or the
  // storage's error. Content that fails to load is not an error of open:
  // status().load_error and a load_failed event say why.
  static result<std::unique_ptr<guard>> open(guard_options options) {
    if (options.fs == nullptr || options.directory.empty() || options.channel.empty() ||
        options.time == nullptr || options.start_budget == 0 ||
        options.watchdog_timeout.count() <= 0 || options.watchdog_tick.count() <= 0 ||
        (options.safe_streak != 0 && options.null_streak <= options.safe_streak) ||
        (!options.check.has_schema() && !options.check.has_validator()))
      return errc::invalid_argument;
    store_options so = options.store;
    so.channel = options.channel;
    so.max_slot_size = options.limits.max_bundle_size;
    bool read_only = false;
    auto st = slot_store::open(*options.fs, options.directory, so);
    if (!st && st.error() == errc::read_only_store) {
      st = slot_store::open_read_only(*options.fs, options.directory, so);
      read_only = true;
    }
    if (!st) return st.error();
    // Workspaces a crashed host left behind (their owner process is gone).
    if (options.candidate_probe.needs_file() && !options.operator_mode)
      (void)remove_stale_probe_workspaces(options.probe_dir);
    std::unique_ptr<guard> g(new guard(std::move(options), std::move(*st), read_only));
    {
      detail::scoped_lock lock(g->io_mu_);
      guard* self = g.get();
      g->store_->set_hold([self](const std::string& file) SLOTGUARD_NO_THREAD_SAFETY_ANALYSIS {
        return self->held_locked(file);
      });
      auto r = g->recover_locked();
      if (!r) return r.error();
    }
    g->deliver();
    if (!g->opts_.operator_mode && !g->read_only_ && g->opts_.watchdog == watchdog_mode::thread) {
      auto started = g->wd_.start(g->opts_.watchdog_tick);
      if (!started) return started.error();
    }
    return g;
  }

  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;
  // Stops the watchdog thread. A trial still running stays on trial in the
  // store: the next open() counts a start against it, as after a crash, and
  // this start counts in the crash streak unless it was marked healthy (see
  // shutdown() for a clean stop). Must not run on the watchdog's thread
  // (from an event handler of a watchdog revert).
  ~guard() { wd_.stop(); }

  // The host is stopping cleanly: stops the watchdog and records, durably and
  // in one write, that this start ended well: the crash streak ends, and a
  // running trial gets back the process start this process counted against
  // it (a clean restart or reboot does not spend its budget); a crash never
  // gets here and still counts. Call it as the host's last use of the guard,
  // once its own work has stopped. Calling it again does nothing; it may be
  // called from an event handler. Fails with the storage's error (the start
  // stays counted then).
  result<void> shutdown() SLOTGUARD_EXCLUDES(io_mu_) {
    wd_.stop();
    auto r = locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      if (opts_.operator_mode || read_only_) return ok();
      wd_.disarm();  // a poll() after this finds nothing to expire
      const bool give_back = trial_running_locked() && !start_released_;
      SLOTGUARD_TRY(store_->mark_healthy(served_committed_locked(), give_back));
      if (give_back) start_released_ = true;
      stopped_ = true;
      healthy_.store(true, std::memory_order_release);
      refresh_view_locked();
      return ok();
    });
    return r;
  }

  // Runs the pipeline on a bundle. On success the bundle is on trial and
  // published to readers. Fails with the failing gate's errc (parse,
  // verify, eligibility, schema, policy, probe errors; already_active when
  // it is the trial running now; read_only_store; the store's errors),
  // changing nothing but, for content that verified and then failed
  // validation or the probe, the quarantine list. A bundle whose manifest
  // carries a recall list is a recall: its listed sequences are quarantined
  // and leave every role in one durable record (a recalled trial is
  // reverted, recalled committed content gives way to the previous content
  // or to nothing); it is not staged. Safe to call from an event handler
  // (its own events are delivered after the handler returns).
  result<void> apply(byte_view bundle) { return apply_owned(bundle.to_vector()); }

  // apply() on a bundle file read through the storage interface, streamed:
  // memory stays bounded whatever the bundle's size. The header's sizes are
  // checked against the limits (and so the store's cap) before anything else
  // is read, then the signatures on the manifest; the bundle is then written
  // into the store's directory while its payload is hashed, the gates run
  // over a read-only map of that copy (never the caller's file, which may
  // change), and a successful stage adopts the copy by a rename.
  result<void> apply_file(const std::string& path) {
    result<void> r;
    {
      detail::scoped_lock serial(apply_mu_);
      r = stream_in(path);
    }
    deliver();
    return r;
  }

  // The host is alive and well. While a trial is in good standing this feeds
  // the watchdog and nothing more: no lock that storage I/O holds, no write
  // (the commit after probation is made by the watchdog's thread, or by
  // poll()). A heartbeat after the deadline has passed does not feed: the
  // trial is reverted there and then (which writes). Cheap when no trial runs.
  void heartbeat() SLOTGUARD_EXCLUDES(io_mu_) {
    last_heartbeat_.store(opts_.time->now().time_since_epoch().count(), std::memory_order_release);
    if (!trial_live_.load(std::memory_order_acquire)) return;
    if (wd_.feed()) return;
    // Not fed: disarmed (the trial just ended) or the deadline has passed,
    // which reverts, never forgiven.
    if (wd_.expired()) (void)wd_.poll();
  }

  // The host found the trial content bad: reverts it (quarantining its
  // sequence). Fails with no_trial when no trial runs (committed content is
  // never reverted this way; see rollback()).
  result<void> report_unhealthy(std::string_view reason = {}) {
    return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      SLOTGUARD_TRY(writable_locked());
      if (!trial_running_locked()) return errc::no_trial;
      return revert_locked(revert_reason::unhealthy, std::string(reason));
    });
  }

  // Commits the trial now, if its stored content still checks out (else
  // slot_corrupt, changing nothing). With no trial, ends a crash-streak
  // breaker mode (safe or no content) as an operator's explicit decision.
  // Fails with no_trial when neither applies.
  result<void> confirm() {
    return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      SLOTGUARD_TRY(writable_locked());
      if (trial_running_locked()) {
        SLOTGUARD_TRY(check_trial_slot_locked());
        return commit_locked();
      }
      if (store_->state().mode == breaker_mode::normal) return errc::no_trial;
      SLOTGUARD_TRY(store_->set_mode(breaker_mode::normal));
      reload_active_locked();
      post_locked(make_event_locked(event_kind::released, served_sequence_locked(), errc::ok,
                                    "the crash-streak breaker's mode ended by the operator"));
      return ok();
    });
  }

  // Operator: ends the trial with failure (quarantining its sequence).
  // Fails with no_trial.
  result<void> revert() {
    return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      SLOTGUARD_TRY(writable_locked());
      if (!trial_running_locked()) return errc::no_trial;
      return revert_locked(revert_reason::operator_request, "operator");
    });
  }

  // Operator: activates the fallback content (the previously committed one),
  // lowering the floor to its sequence. Fails with trial_active (use
  // revert()), no_fallback, quarantined (the fallback is quarantined or
  // recalled: release() it first), slot_corrupt or the storage's error.
  result<void> rollback() {
    return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      SLOTGUARD_TRY(writable_locked());
      return rollback_locked(active_sequence_locked(), revert_reason::operator_request, "rollback");
    });
  }

  // Operator: lifts the quarantine of a sequence (the way back from a false
  // revert or recall). It does not activate anything by itself. Does nothing
  // when the sequence is not quarantined.
  result<void> release(std::uint64_t sequence) {
    return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
      SLOTGUARD_TRY(writable_locked());
      if (!store_->is_quarantined(sequence)) return ok();
      SLOTGUARD_TRY(store_->release(sequence));
      refresh_view_locked();
      post_locked(make_event_locked(event_kind::released, sequence, errc::ok, "quarantine lifted"));
      return ok();
    });
  }

  // For hosts without the watchdog thread: checks the watchdog's deadline
  // (reverting on expiry), then the probation (committing when it is over and
  // heartbeats flow) and the healthy mark of the crash-streak breaker. In
  // thread mode the watchdog's thread does the same every tick; poll() is
  // harmless there.
  void poll() SLOTGUARD_EXCLUDES(io_mu_) {
    (void)wd_.poll();
    maintain(true);
    serve_operator_requests();
  }

  // A shared handle to the active content (null when there is none).
  content_handle current() const { return cell_.current(); }
  // A reader for one thread's hot path; see snapshot_reader.
  content_reader reader() const { return cell_.make_reader(); }

  // A consistent report; never waits for storage I/O.
  guard_status status() const SLOTGUARD_EXCLUDES(mu_) {
    guard_status g;
    store_state s;
    time_source::time_point trial_start{};
    {
      detail::scoped_lock lock(mu_);
      s = view_;
      g.active = view_summary(s.active);
      g.fallback = view_summary(s.fallback);
      g.load_error = load_error_;
      g.served = served_;
      g.served_path = served_path_;
      trial_start = trial_start_;
    }
    g.channel = opts_.channel;
    g.state = !s.active ? guard_state::empty : s.trial ? guard_state::trial : guard_state::committed;
    g.trial_starts = s.starts_used;
    g.start_budget = s.start_budget;
    g.floor = s.floor;
    g.quarantine = s.quarantine;
    g.read_only = read_only_;
    g.mode = s.mode;
    g.streak = s.streak;
    g.safe_sequence = s.safe_sequence;
    g.healthy = healthy_.load(std::memory_order_acquire);
    if (s.trial) {
      const auto now = opts_.time->now();
      g.trial_elapsed = now - trial_start;
      if (!opts_.operator_mode && wd_.armed()) {
        const auto dl = wd_.deadline();
        g.watchdog_left = dl > now ? dl - now : duration::zero();
      }
    }
    return g;
  }

  // Subscribes to events; returns an id for unsubscribe().
  std::uint64_t on_event(event_handler h) { return bus_.subscribe(std::move(h)); }
  bool unsubscribe(std::uint64_t id) { return bus_.unsubscribe(id); }

  const std::string& channel() const noexcept { return opts_.channel; }

 private:
  guard(guard_options o, slot_store st, bool read_only)
      : opts_(std::move(o)),
        read_only_(read_only),
        store_(std::move(st)),
        wd_(*opts_.time, opts_.watchdog_timeout, [this](std::uint64_t id) { on_expire(id); },
            [this] {
              maintain(false);
              serve_operator_requests();
            }) {
    if (opts_.on_event) (void)bus_.subscribe(opts_.on_event);
    opened_at_ = opts_.time->now();
    last_heartbeat_.store(opened_at_.time_since_epoch().count(), std::memory_order_relaxed);
  }

  // Runs f under io_mu_, then delivers the events it posted.
  template <class F>
  result<void> locked_op(F&& f) SLOTGUARD_EXCLUDES(io_mu_) {
    result<void> r;
    {
      detail::scoped_lock lock(io_mu_);
      r = f();
    }
    deliver();
    return r;
  }

  result<void> writable_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    if (read_only_) return errc::read_only_store;
    return ok();
  }

  // --- events ----------------------------------------------------------------

  event make_event(event_kind k, std::uint64_t candidate, errc e, std::string detail = {}) const {
    event ev;
    ev.kind = k;
    ev.channel = opts_.channel;
    ev.candidate_sequence = candidate;
    ev.error = e;
    ev.detail = std::move(detail);
    ev.unix_ms = static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(opts_.time->wall_now().time_since_epoch())
            .count());
    {
      detail::scoped_lock lock(mu_);
      ev.active_sequence = served_;
      ev.mode = view_.mode;
      ev.streak = view_.streak;
    }
    return ev;
  }
  event make_event_locked(event_kind k, std::uint64_t candidate, errc e, std::string detail = {}) const
      SLOTGUARD_REQUIRES(io_mu_) {
    return make_event(k, candidate, e, std::move(detail));
  }

  // Queues an event with the next serial number. Posting under io_mu_ makes
  // the serial order the order of the transitions.
  void post(event e) SLOTGUARD_EXCLUDES(ev_mu_) {
    detail::scoped_lock lock(ev_mu_);
    e.serial = ++next_serial_;
    queue_.push_back(std::move(e));
  }
  void post_locked(event e) SLOTGUARD_REQUIRES(io_mu_) { post(std::move(e)); }

  // Delivers queued events in order, with no guard lock held. One thread
  // delivers at a time; a handler that causes events (re-entrantly, or on
  // another thread meanwhile) has them delivered by the delivering thread,
  // after the handler returns, still in order.
  void deliver() SLOTGUARD_EXCLUDES(io_mu_, ev_mu_) {
    std::vector<event> batch;
    {
      detail::scoped_lock lock(ev_mu_);
      if (delivering_) return;
      delivering_ = true;
    }
    for (;;) {
      {
        detail::scoped_lock lock(ev_mu_);
        if (queue_.empty()) {
          delivering_ = false;
          return;
        }
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
        queue_.clear();
      }
      for (const auto& e : batch) record_decision(e);
      for (const auto& e : batch) bus_.emit(e);
    }
  }

  // --- the in-memory view -------------------------------------------------------

  std::uint64_t active_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    const store_state& s = store_->state();
    return s.active ? s.slot(*s.active).sequence : 0;
  }
  bool trial_running_locked() const SLOTGUARD_REQUIRES(io_mu_) { return store_->state().trial; }
  // The slot whose content readers are served (two slots may hold the same
  // sequence after an operator's rollback, so the slot, not the sequence,
  // says which).
  std::optional<slot_id> served_slot_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    detail::scoped_lock lock(mu_);
    return served_slot_;
  }
  std::uint64_t served_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    detail::scoped_lock lock(mu_);
    return served_;
  }
  // The committed sequence readers are served (0 during a trial or when
  // nothing is served): what a healthy run vouches for.
  std::uint64_t served_committed_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    if (trial_running_locked()) return 0;
    return served_sequence_locked();
  }

  // Copies the store's state for status() and the hot calls, and caches each
  // slot's summary (reading a slot not loaded in this process: I/O, under
  // io_mu_ only).
  void refresh_view_locked() SLOTGUARD_REQUIRES(io_mu_) {
    const store_state& s = store_->state();
    std::array<std::optional<slot_summary>, 2> sums;
    for (int i = 0; i < 2; ++i) {
      const auto id = static_cast<slot_id>(i);
      const slot_info& info = s.slot(id);
      if (!info.present) continue;
      std::optional<slot_summary> cached;
      {
        detail::scoped_lock lock(mu_);
        cached = summaries_[static_cast<std::size_t>(i)];
      }
      if (cached && cached->sequence == info.sequence) {
        sums[static_cast<std::size_t>(i)] = cached;
        continue;
      }
      slot_summary out;
      out.slot = id;
      out.sequence = info.sequence;
      // The manifest only: the header and manifest are read, never the
      // payload (content may be gigabytes).
      auto head = read_slot_head_locked(id);
      if (head) {
        out.payload_sha256 = head->view.manifest.payload_sha256;
        out.version = std::string(head->view.manifest.version);
      }
      sums[static_cast<std::size_t>(i)] = out;
    }
    {
      detail::scoped_lock lock(mu_);
      view_ = s;
      summaries_ = sums;
    }
    trial_live_.store(s.trial && !opts_.operator_mode && !read_only_, std::memory_order_release);
  }

  std::optional<slot_summary> view_summary(const std::optional<slot_id>& s) const SLOTGUARD_REQUIRES(mu_) {
    if (!s) return std::nullopt;
    return summaries_[static_cast<std::size_t>(*s)];
  }

  void publish_locked(content_handle c) SLOTGUARD_REQUIRES(io_mu_) {
    const std::uint64_t seq = c ? c->sequence() : 0;
    const std::size_t slot = c ? static_cast<std::size_t>(c->slot()) : 0;
    if (c) {
      slot_summary sum = detail_guard_access::summarize(*c);
      detail::scoped_lock lock(mu_);
      summaries_[slot] = sum;
    }
    std::string path = c ? c->path() : std::string();
    cell_.publish(std::move(c));
    detail::scoped_lock lock(mu_);
    served_ = seq;
    served_path_ = std::move(path);
    served_slot_ = seq != 0 ? std::optional<slot_id>(static_cast<slot_id>(slot)) : std::nullopt;
  }

  // --- open -------------------------------------------------------------------

  result<void> recover_locked() SLOTGUARD_REQUIRES(io_mu_) {
    if (read_only_) {
      post_locked(make_event_locked(event_kind::read_only, 0, errc::read_only_store,
                                    "the store is read-only: committed content is served, nothing is written"));
      reload_active_locked();
      // As on a writable store: a storage error while reading the content
      // fails open() (the host opens again), rather than serving nothing
      // for the life of the process.
      if (storage_failed_) return storage_failed_error_;
      return ok();
    }
    std::uint32_t crashes = 0;
    if (!opts_.operator_mode) {
      auto run = store_->begin_run();
      if (!run) return run.error();
      crashes = run->crashes;
      refresh_view_locked();
      if (run->budget_spent) {
        // The crashes were the trial's: reverting it ends their streak
        // (slot_store::revert), so the breaker has nothing to act on.
        return revert_locked(revert_reason::start_budget_spent,
                             "the trial's start budget is spent (a crash during the trial)");
      }
    }
    reload_active_locked();
    // The storage failed while reading content, not the content: open fails
    // with that error and judges nothing (the start stays counted; the host
    // opens again).
    if (storage_failed_) return storage_failed_error_;
    if (trial_running_locked() && load_error_now_locked() != errc::ok && !opts_.operator_mode) {
      // The trial's own content does not load: take it back now.
      return revert_locked(revert_reason::unhealthy, "the trial content does not load");
    }
    if (trial_running_locked()) {
      start_trial_clock_locked();
      return ok();
    }
    if (opts_.operator_mode) return ok();
    return breaker_locked(crashes);
  }

  // The crash-streak breaker, at a start that found `crashes` unhealthy
  // starts before it (no trial runs).
  result<void> breaker_locked(std::uint32_t crashes) SLOTGUARD_REQUIRES(io_mu_) {
    if (opts_.safe_streak == 0 || trial_running_locked()) return ok();
    const std::uint32_t safe = opts_.safe_streak;
    const std::uint32_t none = opts_.null_streak;
    if (store_->state().mode == breaker_mode::normal && crashes >= safe) {
      const std::uint64_t crasher = served_sequence_locked() != 0 ? served_sequence_locked()
                                                                   : active_sequence_locked();
      if (crasher != 0) {
        SLOTGUARD_TRY(store_->enter_safe_mode(crasher));
      } else {
        SLOTGUARD_TRY(store_->set_mode(breaker_mode::safe));
      }
      reload_active_locked();
      const std::uint64_t now_served = served_sequence_locked();
      event e = make_event_locked(
          event_kind::crash_loop, crasher, errc::ok,
          std::to_string(crashes) + " starts in a row never became healthy: " +
              (crasher != 0 ? "sequence " + std::to_string(crasher) + " is quarantined; " : std::string()) +
              (now_served != 0 ? "serving the last known-safe sequence " + std::to_string(now_served)
                               : std::string("no safe content to serve")));
      e.reason = revert_reason::crash_loop;
      e.streak = crashes;
      post_locked(std::move(e));
    }
    if ((store_->state().mode == breaker_mode::normal || store_->state().mode == breaker_mode::safe) &&
        crashes >= none) {
      SLOTGUARD_TRY(store_->set_mode(breaker_mode::no_content));
      reload_active_locked();
      event e = make_event_locked(event_kind::crash_loop, 0, errc::ok,
                                  std::to_string(crashes) +
                                      " starts in a row never became healthy: no content is served");
      e.streak = crashes;
      post_locked(std::move(e));
    } else if (store_->state().mode == breaker_mode::no_content && crashes >= none + safe) {
      SLOTGUARD_TRY(store_->set_mode(breaker_mode::not_content));
      reload_active_locked();
      event e = make_event_locked(
          event_kind::crash_loop, 0, errc::ok,
          std::to_string(crashes) +
              " starts in a row never became healthy, the last ones without content: the crashes are "
              "not content's; content is served again and the breaker stops escalating");
      e.streak = crashes;
      post_locked(std::move(e));
    }
    return ok();
  }

  // An error of the storage or the machine, which says nothing about the
  // content that was being read.
  static constexpr bool is_storage_error(errc e) noexcept {
    return e == errc::io_error || e == errc::permission_denied || e == errc::no_space ||
           e == errc::out_of_memory || e == errc::timeout || e == errc::busy || e == errc::internal ||
           e == errc::read_only_store || e == errc::sharing_violation || e == errc::unsupported;
  }

  errc load_error_now_locked() const SLOTGUARD_REQUIRES(io_mu_) {
    detail::scoped_lock lock(mu_);
    return load_error_;
  }

  // Publishes what may be served: the active slot's content if it loads,
  // checks out at rest and is not quarantined; else the fallback under the
  // same conditions (in memory only: the journal is not changed); else
  // nothing. A read-only guard serves the committed content, never a trial's
  // (it cannot count the trial's starts). In the breaker's no-content mode
  // only a trial's content is served.
  void reload_active_locked() SLOTGUARD_REQUIRES(io_mu_) {
    reload_serving_locked();
    reload_due_.store(storage_failed_ && !read_only_ && !opts_.operator_mode, std::memory_order_release);
  }

  void reload_serving_locked() SLOTGUARD_REQUIRES(io_mu_) {
    storage_failed_ = false;
    forget_stale_locked();
    refresh_view_locked();
    const store_state& s = store_->state();
    errc why = errc::ok;
    {
      detail::scoped_lock lock(mu_);
      load_error_ = errc::ok;
    }
    if (s.mode == breaker_mode::no_content && !s.trial) {
      publish_locked(nullptr);
      return;
    }
    const std::optional<slot_id> first = read_only_ ? s.last_known_good() : s.active;
    // (a flag and a plain value: gcc 12 sees a false maybe-uninitialized in
    // a second optional here)
    const bool has_second = !read_only_ && s.fallback.has_value();
    const slot_id second = has_second ? *s.fallback : slot_id::a;
    if (!first) {
      publish_locked(nullptr);
      return;
    }
    auto c = load_slot_locked(*first);
    if (c) {
      publish_locked(std::move(*c));
      return;
    }
    why = c.error();
    {
      detail::scoped_lock lock(mu_);
      load_error_ = why;
    }
    post_locked(make_event_locked(event_kind::load_failed, s.slot(*first).sequence, why,
                                  std::string("slot ") + to_string(*first) + " is not served"));
    if (has_second) {
      auto f = load_slot_locked(second);
      if (f) {
        publish_locked(std::move(*f));
        return;
      }
      post_locked(make_event_locked(event_kind::load_failed, s.slot(second).sequence, f.error(),
                                    std::string("slot ") + to_string(second) + " is not served"));
    }
    publish_locked(nullptr);
  }

  // A slot's content, checked as "Trust at rest" says. Content this process
  // has loaded (or applied) already is taken from memory while the slot
  // still holds the same file: its bytes passed every check then, the
  // trust, channel and host of a guard do not change, and a revert or a
  // recall then never depends on a read that may fail.
  result<content_handle> load_slot_locked(slot_id slot) SLOTGUARD_REQUIRES(io_mu_) {
    const slot_info& info = store_->state().slot(slot);
    if (store_->is_quarantined(info.sequence)) return errc::quarantined;
    loaded_slot& cached = loaded_[static_cast<std::size_t>(slot)];
    if (cached.content && cached.file_number == info.file_number && info.present) return cached.content;
    auto bytes = store_->map(slot);
    if (!bytes) {
      if (is_storage_error(bytes.error()) && !storage_failed_) {
        storage_failed_ = true;
        storage_failed_error_ = bytes.error();
      }
      return bytes.error();
    }
    auto c = detail_guard_access::make(std::move(*bytes), slot, opts_.limits, opts_.check);
    if (!c) return c.error();
    SLOTGUARD_TRY(detail_guard_access::check_at_rest(**c, opts_.trust, opts_.channel, opts_.host));
    SLOTGUARD_TRY(attach_files_locked(**c, slot, true));
    content_handle h = issue_locked(std::move(*c));
    remember_locked(slot, h);
    return h;
  }

  // The content's files in the slot: the slot file it came from and, for a
  // tree (or a payload file), the slot's directory, checked entry by entry
  // against the table when check_files (a load: what is on disk may have
  // changed since it was written).
  result<void> attach_files_locked(active_content& c, slot_id slot, bool check_files) SLOTGUARD_REQUIRES(io_mu_) {
    c.slot_ = slot;
    c.file_ = store_->slot_path(slot);
    const std::string dir = store_->slot_dir(slot);
    if (c.tree_) {
      if (check_files) {
        auto v = verify_unpacked_tree(*opts_.fs, dir, *c.tree_);
        if (!v) return is_storage_error(v.error()) && v.error() != errc::not_found ? v.error() : errc::slot_corrupt;
      }
      c.path_ = dir;
    } else if (opts_.payload_file) {
      const std::string file = detail::join_path(dir, "payload");
      if (check_files) {
        auto m = opts_.fs->map(file, c.payload().size());
        if (!m || (*m)->bytes().size() != c.payload().size() ||
            sha256_of((*m)->bytes()) != c.manifest().payload_sha256)
          return errc::slot_corrupt;
      }
      c.path_ = file;
    }
    return ok();
  }

  // The stage hook that puts a candidate's files in its slot's directory.
  stage_hook files_hook(const active_content& c) const {
    if (!c.tree_ && !opts_.payload_file) return stage_hook();
    storage* fs = opts_.fs;
    const active_content* cp = &c;
    return [fs, cp](const std::string&, const std::string& dir) -> result<void> {
      const byte_view payload = cp->payload();
      if (cp->tree_) return unpack_tree(*fs, dir, *cp->tree_, read_at_memory(payload));
      SLOTGUARD_TRY(fs->mkdir(dir));
      auto f = fs->create(detail::join_path(dir, "payload"));
      if (!f) return f.error();
      auto w = fs->write(*f, payload);
      if (w) w = fs->flush(*f);
      auto cl = fs->close(*f);
      if (w && !cl) w = cl;
      if (w) w = fs->sync_dir(dir);
      return w;
    };
  }

  // Every content this guard hands out is registered, so that the store
  // keeps its files while anybody holds it; when the last holder lets go a
  // sweep becomes due (done at the next tick or poll).
  content_handle issue_locked(std::shared_ptr<active_content> c) SLOTGUARD_REQUIRES(io_mu_) {
    content_handle h(std::move(c));
    if (!h->file_.empty()) {
      issued_.erase(std::remove_if(issued_.begin(), issued_.end(),
                                   [](const issued_content& i) { return i.content.expired(); }),
                    issued_.end());
      issued_.push_back(issued_content{h->file_, h});
      h->released_ = sweep_due_;
    }
    return h;
  }
  bool held_locked(const std::string& file) SLOTGUARD_REQUIRES(io_mu_) {
    bool held = false;
    for (const issued_content& i : issued_) {
      if (i.file != file) continue;
      if (!i.content.expired()) held = true;
      else sweep_due_->store(true, std::memory_order_release);
    }
    return held;
  }
  void sweep_locked() SLOTGUARD_REQUIRES(io_mu_) {
    if (!sweep_due_->exchange(false, std::memory_order_acq_rel)) return;
    bool waiting = false;
    for (const issued_content& i : issued_)
      if (i.content.expired()) waiting = true;
    if (!waiting) return;
    issued_.erase(std::remove_if(issued_.begin(), issued_.end(),
                                 [](const issued_content& i) { return i.content.expired(); }),
                  issued_.end());
    if (read_only_) return;
    if (store_->sweep()) log_message(log_level::debug, "removed the files of content no reader holds any longer");
  }

  void remember_locked(slot_id slot, content_handle h) SLOTGUARD_REQUIRES(io_mu_) {
    loaded_slot& l = loaded_[static_cast<std::size_t>(slot)];
    l.file_number = store_->state().slot(slot).file_number;
    l.content = std::move(h);
  }
  // Drops cached contents whose slot no longer holds their file.
  void forget_stale_locked() SLOTGUARD_REQUIRES(io_mu_) {
    for (int i = 0; i < 2; ++i) {
      const slot_info& info = store_->state().slot(static_cast<slot_id>(i));
      loaded_slot& l = loaded_[static_cast<std::size_t>(i)];
      if (l.content && (!info.present || info.file_number != l.file_number)) l = loaded_slot{};
    }
  }

  // --- trial ------------------------------------------------------------------

  void start_trial_clock_locked() SLOTGUARD_REQUIRES(io_mu_) {
    const auto now = opts_.time->now();
    {
      detail::scoped_lock lock(mu_);
      trial_start_ = now;
    }
    last_heartbeat_.store(now.time_since_epoch().count(), std::memory_order_release);
    if (!opts_.operator_mode && !read_only_) arm_id_ = wd_.arm();
  }

  // The watchdog's tick and poll(): commits a trial whose probation is over
  // while heartbeats flow, and marks this start healthy once heartbeats have
  // flowed for healthy_uptime. From the watchdog's thread (blocking false)
  // it never waits for io_mu_: a busy guard is tried again next tick.
  void maintain(bool blocking) SLOTGUARD_EXCLUDES(io_mu_) {
    if (opts_.operator_mode || read_only_) return;
    const bool trial = trial_live_.load(std::memory_order_acquire);
    const bool need_mark = !healthy_.load(std::memory_order_acquire) && opts_.safe_streak != 0;
    const bool due = revert_due_.load(std::memory_order_acquire) || reload_due_.load(std::memory_order_acquire) ||
                     sweep_due_->load(std::memory_order_acquire);
    if (!trial && !need_mark && !due) return;
    if (blocking) {
      io_mu_.lock();
    } else if (!io_mu_.try_lock()) {
      return;
    }
    maintain_locked();
    io_mu_.unlock();
    deliver();
  }

  void maintain_locked() SLOTGUARD_REQUIRES(io_mu_) {
    sweep_locked();
    if (reload_due_.load(std::memory_order_acquire)) {
      // A read failed while what readers are served changed: try again.
      reload_active_locked();
    }
    if (revert_due_.load(std::memory_order_acquire)) {
      // Only the trial whose deadline passed; one that replaced it since has
      // its own watchdog.
      if (!trial_running_locked() || active_sequence_locked() != revert_due_seq_ ||
          revert_locked(revert_reason::watchdog_timeout, "no heartbeat within the watchdog timeout"))
        revert_due_.store(false, std::memory_order_release);
      else
        return;
    }
    const auto now = opts_.time->now();
    const auto beat = time_source::time_point(duration(last_heartbeat_.load(std::memory_order_acquire)));
    const bool beating = now - beat < opts_.watchdog_timeout;
    if (trial_running_locked() && !stopped_) {
      time_source::time_point started;
      {
        detail::scoped_lock lock(mu_);
        started = trial_start_;
      }
      // A passed deadline reverts (through the watchdog), never commits.
      if (beating && now - started >= opts_.probation && wd_.armed() && !wd_.expired()) {
        auto intact = check_trial_slot_locked();
        if (intact) {
          (void)commit_locked();
        } else if (!is_storage_error(intact.error())) {
          (void)revert_locked(revert_reason::unhealthy, "the trial's stored content is damaged");
        }
        // (a storage error says nothing of the content: tried again next time)
      }
    }
    if (!healthy_.load(std::memory_order_acquire) && opts_.safe_streak != 0 && !stopped_ && beating &&
        now - opened_at_ >= opts_.healthy_uptime) {
      if (store_->mark_healthy(served_committed_locked())) {
        healthy_.store(true, std::memory_order_release);
        refresh_view_locked();
      }
    }
  }

  // The trial's slot still holds what was staged (size and SHA-256).
  result<void> check_trial_slot_locked() SLOTGUARD_REQUIRES(io_mu_) {
    const store_state& s = store_->state();
    if (!s.trial || !s.active) return errc::no_trial;
    auto bytes = store_->map(*s.active);
    if (!bytes) return bytes.error();
    return ok();
  }

  // A slot's bundle header and manifest, read in bounded memory.
  result<bundle_head> read_slot_head_locked(slot_id id) SLOTGUARD_REQUIRES(io_mu_) {
    storage& fs = *opts_.fs;
    auto f = fs.open_read(store_->slot_path(id));
    if (!f) return f.error();
    const file_handle h = *f;
    auto size = fs.file_size(h);
    result<bundle_head> out = errc::io_error;
    if (size) {
      const read_at_fn read = [&fs, h](std::uint64_t off, std::uint8_t* o, std::size_t n) {
        return fs.read_at(h, off, o, n);
      };
      out = read_bundle_head(read, *size, opts_.limits);
    } else {
      out = size.error();
    }
    (void)fs.close(h);
    return out;
  }

  result<void> commit_locked() SLOTGUARD_REQUIRES(io_mu_) {
    const std::uint64_t seq = active_sequence_locked();
    SLOTGUARD_TRY(store_->commit());
    wd_.disarm();
    refresh_view_locked();
    post_locked(make_event_locked(event_kind::committed, seq, errc::ok));
    return ok();
  }

  result<void> revert_locked(revert_reason why, std::string detail) SLOTGUARD_REQUIRES(io_mu_) {
    const std::uint64_t seq = active_sequence_locked();
    SLOTGUARD_TRY(store_->revert());
    wd_.disarm();
    reload_active_locked();
    event e = make_event_locked(event_kind::reverted, seq, errc::ok, std::move(detail));
    e.reason = why;
    post_locked(std::move(e));
    return ok();
  }

  void on_expire(std::uint64_t id) SLOTGUARD_EXCLUDES(io_mu_) {
    {
      detail::scoped_lock lock(io_mu_);
      // A stale expiry (the trial it armed for has ended or was replaced).
      if (id != arm_id_ || !trial_running_locked()) return;
      // The revert could not be written (a storage error): it stays due,
      // and every poll() and watchdog tick tries it again; the trial is
      // never committed meanwhile (the watchdog is disarmed).
      if (!revert_locked(revert_reason::watchdog_timeout, "no heartbeat within the watchdog timeout")) {
        revert_due_seq_ = active_sequence_locked();
        revert_due_.store(true, std::memory_order_release);
      }
    }
    deliver();
  }

  // --- apply ------------------------------------------------------------------

  result<void> apply_owned(std::vector<std::uint8_t> bytes) SLOTGUARD_EXCLUDES(io_mu_) {
    result<void> r;
    {
      // One apply at a time; the gates run without io_mu_, so that a long
      // probe holds up neither the watchdog nor status().
      detail::scoped_lock serial(apply_mu_);
      r = run_gates(detail_guard_access::in_memory(std::move(bytes)), nullptr);
    }
    deliver();
    return r;
  }

  result<void> stream_in(const std::string& path) SLOTGUARD_REQUIRES(apply_mu_) SLOTGUARD_EXCLUDES(io_mu_) {
    auto rejected = [&](std::uint64_t seq, errc e, std::string why) -> result<void> {
      post(make_event(event_kind::rejected, seq, e, std::move(why)));
      return e;
    };
    if (read_only_) return rejected(0, errc::read_only_store, "the store is read-only");
    storage& fs = *opts_.fs;
    auto opened = fs.open_read(path);
    if (!opened) return rejected(0, opened.error(), path);
    const file_handle h = *opened;
    struct closer {
      storage& fs;
      file_handle h;
      ~closer() { (void)fs.close(h); }
    } close_at_end{fs, h};
    auto size = fs.file_size(h);
    if (!size) return rejected(0, size.error(), path);
    const read_at_fn read = [&fs, h](std::uint64_t off, std::uint8_t* out, std::size_t n) {
      return fs.read_at(h, off, out, n);
    };
    auto head = read_bundle_head(read, *size, opts_.limits);
    if (!head) return rejected(0, head.error(), path);
    const std::uint64_t seq = head->view.manifest.sequence;
    // Nothing unsigned is written to the store (the gates check it all again).
    {
      auto v = verify_signatures(*head, opts_.trust);
      if (!v) return rejected(seq, v.error(), std::string());
    }
    received_file file;
    {
      detail::scoped_lock lock(io_mu_);
      auto rec = store_->receive(*size, [&](const std::function<result<void>(byte_view)>& write) -> result<void> {
        SLOTGUARD_TRY(write(byte_view(head->header_and_manifest)));
        SLOTGUARD_TRY(stream_payload(read, *head, write));
        return write(byte_view(head->signature_block));
      });
      if (!rec) {
        post_locked(make_event_locked(event_kind::rejected, seq, rec.error(),
                                      is_storage_error(rec.error()) ? "receiving the bundle into the store failed"
                                                                    : path));
        return rec.error();
      }
      file = std::move(*rec);
    }
    auto m = fs.map(file.path, file.size);
    if (!m) {
      detail::scoped_lock lock(io_mu_);
      store_->discard(std::move(file));
      post_locked(make_event_locked(event_kind::rejected, seq, m.error(), "mapping the received bundle failed"));
      return m.error();
    }
    return run_gates(std::move(*m), &file);
  }

  // The gates over a bundle's bytes (in memory, or a map of a file received
  // into the store, which a successful stage adopts and every other outcome
  // removes).
  result<void> run_gates(std::shared_ptr<const mapped_file> bytes, received_file* file) SLOTGUARD_REQUIRES(apply_mu_)
      SLOTGUARD_EXCLUDES(io_mu_) {
    struct discard_at_end {
      guard* g;
      received_file* f;
      ~discard_at_end() SLOTGUARD_NO_THREAD_SAFETY_ANALYSIS {
        if (f == nullptr || f->path.empty()) return;
        detail::scoped_lock lock(g->io_mu_);
        g->store_->discard(std::move(*f));
      }
    } discard{this, file};
    if (read_only_) {
      post(make_event(event_kind::rejected, 0, errc::read_only_store, "the store is read-only"));
      return errc::read_only_store;
    }
    std::uint64_t floor = 0;
    std::uint64_t trial_seq = 0;
    std::vector<std::uint64_t> quarantine;
    {
      detail::scoped_lock lock(io_mu_);
      floor = store_->state().floor;
      quarantine = store_->state().quarantine;
      if (trial_running_locked()) trial_seq = active_sequence_locked();
    }
    // Only content that verified (signed, for this channel and device, now)
    // and was then found bad is quarantined: by validation or by the
    // probe's verdict. Other failures say nothing about the content.
    auto reject = [&](std::uint64_t seq, errc e, bool content_is_bad = false,
                      std::string why = {}) -> result<void> {
      detail::scoped_lock lock(io_mu_);
      if (seq != 0 && content_is_bad) {
        auto q = store_->quarantine(seq);
        refresh_view_locked();
        why += why.empty() ? "" : "; ";
        why += q ? "quarantined" : std::string("quarantine failed: ") + to_string(q.error());
      }
      post_locked(make_event_locked(event_kind::rejected, seq, e, std::move(why)));
      return e;
    };

    // parse and payload hash (on the candidate's own copy of the bytes,
    // which readers will later see unchanged)
    std::shared_ptr<active_content> c;
    {
      // A received bundle's payload was hashed on its way into the store.
      auto parsed = detail_guard_access::parse(std::move(bytes), opts_.limits, file == nullptr);
      if (!parsed) return reject(0, parsed.error());
      c = std::move(*parsed);
    }
    const bundle_manifest& m = c->manifest();
    const std::uint64_t seq = m.sequence;

    // verify: trust, floor, expiry, channel, host version
    verify_options vo;
    vo.channel = opts_.channel;
    vo.now = opts_.time->unix_seconds();
    vo.host = opts_.host;
    const bool is_recall = !m.recalls.empty();
    if (!is_recall) vo.sequence_floor = floor;
    {
      auto v = verify_signatures(c->bundle_, opts_.trust);
      if (!v) return reject(seq, v.error());
      auto e = check_eligibility(m, vo);
      if (!e) return reject(seq, e.error());
    }
    if (is_recall) return apply_recall(*c);
    if (seq == trial_seq) return reject(seq, errc::already_active);

    // validate
    {
      std::string why;
      auto v = detail_guard_access::validate_content(c->bundle_, opts_.check, c->records_, &why);
      // A schema id or version mismatch means the bundle is for another
      // host build, not that it is bad.
      if (!v)
        return reject(seq, v.error(),
                      v.error() != errc::schema_mismatch && v.error() != errc::invalid_argument &&
                          v.error() != errc::out_of_memory,
                      std::move(why));
    }

    // policy
    {
      auto p = check_policy(opts_.policy, policy_candidate::from_manifest(m), vo.now.value_or(0),
                            quarantine);
      if (!p) return reject(seq, p.error());
    }

    // probe
    if (!opts_.candidate_probe.empty()) {
      const probe_report p = run_probe(*c);
      if (p.code != errc::ok) {
        const bool verdict = is_probe_verdict(p.code);
        if (verdict) post(make_event(event_kind::probe_failed, seq, p.code, probe_detail(p)));
        return reject(seq, p.code, verdict, verdict ? std::string() : probe_detail(p));
      }
    }

    // stage and trial, in one durable record. The process that begins a
    // trial is its first start (not so for an operator's tool: the
    // sensor's next start is the first).
    detail::scoped_lock lock(io_mu_);
    const store_state& before = store_->state();
    // The state may have moved while the gates ran (a revert, a commit).
    if (before.trial && active_sequence_locked() == seq) {
      post_locked(make_event_locked(event_kind::rejected, seq, errc::already_active));
      return errc::already_active;
    }
    const bool replacing_trial = before.trial;
    {
      // Committed content that does not load, with readers on the fallback:
      // the candidate goes over the damaged slot, never over the content
      // readers are served (one record: a failure changes nothing).
      const std::optional<slot_id> served = served_slot_locked();
      const bool over_active = !before.trial && before.active && before.fallback && served == before.fallback;
      const std::uint32_t first = opts_.operator_mode ? 0u : 1u;
      const stage_hook hook = files_hook(*c);
      const stage_hook* hp = hook ? &hook : nullptr;
      result<void> s;
      if (file != nullptr)
        s = over_active ? store_->stage_trial_over_active(std::move(*file), seq, opts_.start_budget, first, hp)
                        : store_->stage_trial(std::move(*file), seq, opts_.start_budget, first, hp);
      else
        s = over_active ? store_->stage_trial_over_active(c->bundle_bytes(), seq, opts_.start_budget, first, hp)
                        : store_->stage_trial(c->bundle_bytes(), seq, opts_.start_budget, first, hp);
      if (!s) {
        post_locked(make_event_locked(event_kind::rejected, seq, s.error(), "staging failed"));
        return s.error();
      }
    }
    const store_state& st = store_->state();
    (void)attach_files_locked(*c, *st.active, false);
    (void)issue_locked(c);
    if (replacing_trial) wd_.disarm();  // the new trial replaced the running one (in its slot)
    refresh_view_locked();
    {
      detail::scoped_lock l(mu_);
      load_error_ = errc::ok;
    }
    forget_stale_locked();
    remember_locked(*st.active, c);
    publish_locked(content_handle(c));
    start_released_ = false;  // this process is the new trial's first start
    stopped_ = false;
    post_locked(make_event_locked(event_kind::staged, seq, errc::ok));
    start_trial_clock_locked();
    post_locked(make_event_locked(event_kind::trial_started, seq, errc::ok));
    return ok();
  }

  // Runs the probe on the candidate. An isolated probe reads the payload
  // from a private workspace (an owner-only directory made exclusively,
  // holding a file made exclusively without following links), removed when
  // the probe ends.
  probe_report run_probe(const active_content& c) const {
    probe_input in;
    in.content = c.payload();
    in.channel = opts_.channel;
    in.sequence = c.sequence();
    if (!opts_.candidate_probe.needs_file()) return opts_.candidate_probe.run_with_report(in);
    auto not_started = [](errc e, const char* what) {
      probe_report r;
      r.code = e;
      r.how = probe_report::ending::not_started;
      r.start_error = std::string(what) + to_string(e);
      return r;
    };
    // A tree's probe gets the tree unpacked in its workspace ("{}" names
    // the directory); a bytes payload's gets the payload as a file.
    auto ws = make_probe_workspace(opts_.probe_dir, c.tree_ ? byte_view() : c.payload());
    if (!ws) return not_started(ws.error(), "the candidate's workspace: ");
    if (!c.tree_) {
      in.path = ws->file();
      return opts_.candidate_probe.run_with_report(in);
    }
    native_storage local;
    const std::string tree_dir = detail::join_path(ws->dir(), "tree");
    auto unpacked = unpack_tree(local, tree_dir, *c.tree_, read_at_memory(c.payload()));
    probe_report r;
    if (!unpacked) {
      r = not_started(unpacked.error(), "unpacking the candidate's tree: ");
    } else {
      in.path = tree_dir;
      r = opts_.candidate_probe.run_with_report(in);
    }
    (void)remove_tree(local, tree_dir);
    return r;
  }

  static std::string probe_detail(const probe_report& r) {
    std::string d = r.summary();
    if (!r.isolation.empty()) d += "; isolation: " + r.isolation;
    d += "; " + std::to_string(r.elapsed.count()) + " ms";
    if (!r.output_tail.empty()) d += "; output: " + r.output_tail;
    return d;
  }

  result<void> apply_recall(const active_content& c) SLOTGUARD_EXCLUDES(io_mu_) {
    detail::scoped_lock lock(io_mu_);
    const sequence_list_view& list = c.manifest().recalls;
    std::vector<std::uint64_t> seqs;
    seqs.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) seqs.push_back(list[i]);
    const bool was_trial = trial_running_locked();
    const std::uint64_t served_before = served_sequence_locked();
    const std::uint64_t active_before = active_sequence_locked();
    auto r = store_->recall(seqs);
    if (!r) {
      post_locked(make_event_locked(event_kind::rejected, c.sequence(), r.error(), "the recall could not be recorded"));
      return r.error();
    }
    if (was_trial && !trial_running_locked()) wd_.disarm();
    reload_active_locked();
    const std::uint64_t served_after = served_sequence_locked();
    // Only content the recall names is taken back (a read that failed
    // meanwhile is a load_failed, not a recall).
    std::uint64_t gone = 0;
    if (active_before != 0 && list.contains(active_before)) gone = active_before;
    else if (served_before != 0 && list.contains(served_before)) gone = served_before;
    if (gone != 0 && (served_after != served_before || active_sequence_locked() != active_before)) {
      event e = make_event_locked(event_kind::reverted, gone, errc::ok,
                                  served_after != 0 ? "recalled by its publisher"
                                                    : "recalled by its publisher; nothing left to serve");
      e.reason = revert_reason::recall;
      post_locked(std::move(e));
    }
    return ok();
  }

  // The store's rollback to the previous committed content, the readers
  // moved to it, and the reverted event that says why.
  result<void> rollback_locked(std::uint64_t from, revert_reason why, const char* detail)
      SLOTGUARD_REQUIRES(io_mu_) {
    // Never make active what would not be served: the fallback must pass
    // every check at rest, not only its hash.
    const store_state& st = store_->state();
    if (!st.trial && st.fallback && !store_->is_quarantined(st.slot(*st.fallback).sequence)) {
      auto f = load_slot_locked(*st.fallback);
      if (!f) return f.error();
    }
    SLOTGUARD_TRY(store_->rollback());
    reload_active_locked();
    event ev = make_event_locked(event_kind::reverted, from, errc::ok, detail);
    ev.reason = why;
    post_locked(std::move(ev));
    return ok();
  }

  const guard_options opts_;
  const bool read_only_;
  time_source::time_point opened_at_{};

  mutable detail::annotated_mutex io_mu_ SLOTGUARD_ACQUIRED_AFTER(apply_mu_);
  detail::annotated_mutex apply_mu_;
  std::optional<slot_store> store_ SLOTGUARD_GUARDED_BY(io_mu_);
  std::uint64_t arm_id_ SLOTGUARD_GUARDED_BY(io_mu_) = 0;
  // shutdown() gave back this process's start: a trial running in the store
  // outside operator mode otherwise always includes it (open() counted it,
  // or apply() began the trial with it).
  bool start_released_ SLOTGUARD_GUARDED_BY(io_mu_) = false;
  bool stopped_ SLOTGUARD_GUARDED_BY(io_mu_) = false;
  struct loaded_slot {
    std::uint64_t file_number = 0;
    content_handle content;
  };
  std::array<loaded_slot, 2> loaded_ SLOTGUARD_GUARDED_BY(io_mu_){};
  struct issued_content {
    std::string file;
    std::weak_ptr<const active_content> content;
  };
  std::vector<issued_content> issued_ SLOTGUARD_GUARDED_BY(io_mu_);
  // Set when content with files is released (by its last holder, on any
  // thread); the next tick or poll sweeps. Shared: content may outlive the
  // guard.
  std::shared_ptr<std::atomic<bool>> sweep_due_ = std::make_shared<std::atomic<bool>>(false);
  // The last reload met a storage error (not a content one).
  bool storage_failed_ SLOTGUARD_GUARDED_BY(io_mu_) = false;
  errc storage_failed_error_ SLOTGUARD_GUARDED_BY(io_mu_) = errc::ok;

  mutable detail::annotated_mutex mu_ SLOTGUARD_ACQUIRED_AFTER(io_mu_);
  store_state view_ SLOTGUARD_GUARDED_BY(mu_);
  std::array<std::optional<slot_summary>, 2> summaries_ SLOTGUARD_GUARDED_BY(mu_){};
  errc load_error_ SLOTGUARD_GUARDED_BY(mu_) = errc::ok;
  std::uint64_t served_ SLOTGUARD_GUARDED_BY(mu_) = 0;
  std::string served_path_ SLOTGUARD_GUARDED_BY(mu_);
  std::optional<slot_id> served_slot_ SLOTGUARD_GUARDED_BY(mu_);
  time_source::time_point trial_start_ SLOTGUARD_GUARDED_BY(mu_){};

  // Read by heartbeat() without any guard lock.
  std::atomic<bool> trial_live_{false};
  std::atomic<time_source::duration::rep> last_heartbeat_{0};
  std::atomic<bool> healthy_{false};
  // A passed deadline's revert could not be written: retried by poll() and
  // the watchdog's ticks, for the trial of revert_due_seq_.
  std::atomic<bool> revert_due_{false};
  std::uint64_t revert_due_seq_ SLOTGUARD_GUARDED_BY(io_mu_) = 0;
  // A reload met a storage error: retried by poll() and the watchdog's ticks.
  std::atomic<bool> reload_due_{false};

  mutable detail::annotated_mutex ev_mu_;
  std::deque<event> queue_ SLOTGUARD_GUARDED_BY(ev_mu_);
  std::uint64_t next_serial_ SLOTGUARD_GUARDED_BY(ev_mu_) = 0;
  bool delivering_ SLOTGUARD_GUARDED_BY(ev_mu_) = false;

  snapshot_cell<active_content> cell_;
  event_bus bus_;
  // Last: its thread calls back into the members above, so it stops (in
  // its destructor) before they are destroyed.
  watchdog wd_;

  // --- operator requests
  // (requests.hpp). Never from heartbeat(): a heartbeat never waits for
  // storage. On the watchdog's thread a request runs there (an apply's
  // probe included); heartbeat() still reverts a trial whose deadline
  // passes meanwhile.
  void serve_operator_requests() SLOTGUARD_EXCLUDES(io_mu_) {
    if (!opts_.serve_requests || opts_.operator_mode || read_only_) return;
    std::unique_lock<std::mutex> pass(requests_mu_, std::try_to_lock);
    if (!pass.owns_lock()) return;  // another thread is serving them
    const auto now = opts_.time->now();
    if (requests_scanned_ && now - last_request_scan_ < opts_.request_interval) return;
    requests_scanned_ = true;
    last_request_scan_ = now;
    (void)slotguard::serve_requests(
        *opts_.fs, opts_.directory, [this](const operator_request& r) { return carry_out_request(r); },
        [this] { return request_state_now(); });
  }

  request_outcome carry_out_request(const operator_request& r) SLOTGUARD_EXCLUDES(io_mu_) {
    struct captured {
      std::mutex mu;
      std::string why;
    };
    auto cap = std::make_shared<captured>();
    const auto sub = on_event([cap](const event& e) {
      if ((e.kind == event_kind::rejected || e.kind == event_kind::probe_failed) && !e.detail.empty()) {
        std::lock_guard<std::mutex> l(cap->mu);
        if (cap->why.empty()) cap->why = e.detail;
      }
    });
    const bool was_trial = status().state == guard_state::trial;
    bool recall = false;
    bool was_quarantined = false;
    result<void> res;
    switch (r.kind) {
      case request_kind::apply: {
        auto parsed = parse_bundle(byte_view(r.bundle), opts_.limits);
        recall = parsed && !parsed->manifest.recalls.empty();
        res = apply(byte_view(r.bundle));
        break;
      }
      case request_kind::confirm:
        res = confirm();
        break;
      case request_kind::revert:
        res = revert();
        break;
      case request_kind::rollback:
        res = rollback();
        break;
      case request_kind::release: {
        const std::vector<std::uint64_t> q = status().quarantine;
        was_quarantined = std::find(q.begin(), q.end(), r.sequence) != q.end();
        res = r.sequence == 0 ? result<void>(errc::invalid_argument) : release(r.sequence);
        break;
      }
    }
    (void)unsubscribe(sub);
    request_outcome o = request_state_now();
    o.code = res ? errc::ok : res.error();
    auto slot_text = [](const std::optional<request_slot>& s) {
      if (!s) return std::string("none");
      return "sequence " + std::to_string(s->sequence) + " (slot " + s->slot +
             (s->version.empty() ? "" : ", version " + s->version) + ", payload sha256 " + s->payload_sha256 + ")";
    };
    if (!res) {
      std::lock_guard<std::mutex> l(cap->mu);
      o.sentence = std::string(describe(res.error())) + (cap->why.empty() ? "" : ": " + cap->why);
    } else if (r.kind == request_kind::apply) {
      o.sentence = recall ? "recall applied; active: " + slot_text(o.active)
                          : "trial: " + slot_text(o.active) +
                                "; the sensor runs it now (its probation commits it, or 'slotguard confirm')";
    } else if (r.kind == request_kind::confirm) {
      o.sentence = (was_trial ? "committed: " : "crash-streak breaker back to normal; active: ") + slot_text(o.active);
    } else if (r.kind == request_kind::revert) {
      o.sentence = "reverted; active: " + slot_text(o.active);
    } else if (r.kind == request_kind::rollback) {
      o.sentence = "rolled back; active: " + slot_text(o.active);
    } else {
      o.sentence = was_quarantined ? "quarantine lifted: sequence " + std::to_string(r.sequence) +
                                         " may be applied again"
                                   : "sequence " + std::to_string(r.sequence) + " was not quarantined: nothing changed";
    }
    return o;
  }

  request_outcome request_state_now() const {
    const guard_status st = status();
    request_outcome o;
    o.state = to_string(st.state);
    auto conv = [](const std::optional<slot_summary>& s) -> std::optional<request_slot> {
      if (!s) return std::nullopt;
      request_slot x;
      x.slot = to_string(s->slot);
      x.sequence = s->sequence;
      x.payload_sha256 = to_hex(byte_view(s->payload_sha256));
      x.version = s->version;
      return x;
    };
    o.active = conv(st.active);
    o.fallback = conv(st.fallback);
    o.served = st.served;
    o.floor = st.floor;
    o.quarantine = st.quarantine;
    o.mode = to_string(st.mode);
    return o;
  }

  std::mutex requests_mu_;
  bool requests_scanned_ = false;                 // guarded by requests_mu_
  time_source::time_point last_request_scan_{};         // guarded by requests_mu_

  // --- history
  // Every delivered event goes to the log sink and, durably, to the store's
  // history. Runs in deliver(), on one thread at a time, with no guard lock
  // held; a record that cannot be written is logged, never an error of the
  // operation (which is already durable in the journal).
  void record_decision(const event& e) {
    if (log_enabled()) {
      const log_level level = e.kind == event_kind::reverted || e.kind == event_kind::load_failed ||
                                      e.kind == event_kind::crash_loop || e.kind == event_kind::read_only
                                  ? log_level::warning
                                  : e.kind == event_kind::rejected || e.kind == event_kind::probe_failed
                                        ? log_level::info
                                        : log_level::info;
      std::string m = std::string(to_string(e.kind)) + ": channel " + e.channel + ", sequence " +
                      std::to_string(e.candidate_sequence) + ", served " + std::to_string(e.active_sequence);
      if (e.reason != revert_reason::none) m += std::string(", reason ") + to_string(e.reason);
      if (e.error != errc::ok) m += std::string(", error ") + to_string(e.error);
      if (!e.detail.empty()) m += ": " + e.detail;
      log_message(level, m);
    }
    if (!opts_.keep_history || read_only_ || !worth_recording(e)) return;
    if (!history_) history_.emplace(*opts_.fs, opts_.directory, opts_.history_capacity);
    auto w = history_->append(history_from_event(e));
    if (!w) log_message(log_level::error, std::string("the store's history could not record ") + to_string(e.kind) + ": " +
                                      to_string(w.error()));
  }

  // The decisions that changed the store or what is served. Not a
  // rejection that left the store as it was (a rejected bundle writes
  // nothing: junk sent to a sensor costs it no disk writes), nor staged
  // (trial_started follows it), nor read_only (nothing can be written).
  bool worth_recording(const event& e) const {
    switch (e.kind) {
      case event_kind::staged:
      case event_kind::read_only:
        return false;
      case event_kind::rejected:
      case event_kind::probe_failed: {
        // Content that verified and was found bad is quarantined.
        if (e.candidate_sequence == 0 || e.error == errc::quarantined) return false;
        const auto q = status().quarantine;
        return std::find(q.begin(), q.end(), e.candidate_sequence) != q.end();
      }
      default:
        return true;
    }
  }

  std::optional<history_log> history_;  // used by the delivering thread only
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_GUARD_HPP
