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

  // --- opening and stopping: detail/guard_recovery.hpp -----------------------

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
  static result<std::unique_ptr<guard>> open(guard_options options);

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
  result<void> shutdown() SLOTGUARD_EXCLUDES(io_mu_);

  // --- the pipeline: detail/guard_gates.hpp -----------------------------------

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
  result<void> apply(byte_view bundle);

  // apply() on a bundle file read through the storage interface, streamed:
  // memory stays bounded whatever the bundle's size. The header's sizes are
  // checked against the limits (and so the store's cap) before anything else
  // is read, then the signatures on the manifest; the bundle is then written
  // into the store's directory while its payload is hashed, the gates run
  // over a read-only map of that copy (never the caller's file, which may
  // change), and a successful stage adopts the copy by a rename.
  result<void> apply_file(const std::string& path);

  // --- the trial: detail/guard_trial.hpp --------------------------------------

  // The host is alive and well. While a trial is in good standing this feeds
  // the watchdog and nothing more: no lock that storage I/O holds, no write
  // (the commit after probation is made by the watchdog's thread, or by
  // poll()). A heartbeat after the deadline has passed does not feed: the
  // trial is reverted there and then (which writes). Cheap when no trial runs.
  void heartbeat() SLOTGUARD_EXCLUDES(io_mu_);

  // The host found the trial content bad: reverts it (quarantining its
  // sequence). Fails with no_trial when no trial runs (committed content is
  // never reverted this way; see rollback()).
  result<void> report_unhealthy(std::string_view reason = {});

  // For hosts without the watchdog thread: checks the watchdog's deadline
  // (reverting on expiry), then the probation (committing when it is over and
  // heartbeats flow) and the healthy mark of the crash-streak breaker. In
  // thread mode the watchdog's thread does the same every tick; poll() is
  // harmless there.
  void poll() SLOTGUARD_EXCLUDES(io_mu_);

  // --- the operator: detail/guard_operator.hpp --------------------------------

  // Commits the trial now, if its stored content still checks out (else
  // slot_corrupt, changing nothing). With no trial, ends a crash-streak
  // breaker mode (safe or no content) as an operator's explicit decision.
  // Fails with no_trial when neither applies.
  result<void> confirm();

  // Operator: ends the trial with failure (quarantining its sequence).
  // Fails with no_trial.
  result<void> revert();

  // Operator: activates the fallback content (the previously committed one),
  // lowering the floor to its sequence. Fails with trial_active (use
  // revert()), no_fallback, quarantined (the fallback is quarantined or
  // recalled: release() it first), slot_corrupt or the storage's error.
  result<void> rollback();

  // Operator: lifts the quarantine of a sequence (the way back from a false
  // revert or recall). It does not activate anything by itself. Does nothing
  // when the sequence is not quarantined.
  result<void> release(std::uint64_t sequence);

  // --- readers, status and events: detail/guard_view.hpp ----------------------

  // A shared handle to the active content (null when there is none).
  content_handle current() const { return cell_.current(); }
  // A reader for one thread's hot path; see snapshot_reader.
  content_reader reader() const { return cell_.make_reader(); }

  // A consistent report; never waits for storage I/O.
  guard_status status() const SLOTGUARD_EXCLUDES(mu_);

  // Subscribes to events; returns an id for unsubscribe().
  std::uint64_t on_event(event_handler h) { return bus_.subscribe(std::move(h)); }
  bool unsubscribe(std::uint64_t id) { return bus_.unsubscribe(id); }

  const std::string& channel() const noexcept { return opts_.channel; }

 private:
  // --- opening, the crash-streak breaker, what is served:
  //     detail/guard_recovery.hpp
  guard(guard_options o, slot_store st, bool read_only);
  result<void> recover_locked() SLOTGUARD_REQUIRES(io_mu_);
  result<void> breaker_locked(std::uint32_t crashes) SLOTGUARD_REQUIRES(io_mu_);
  static constexpr bool is_storage_error(errc e) noexcept;
  errc load_error_now_locked() const SLOTGUARD_REQUIRES(io_mu_);
  void reload_active_locked() SLOTGUARD_REQUIRES(io_mu_);
  void reload_serving_locked() SLOTGUARD_REQUIRES(io_mu_);
  result<content_handle> load_slot_locked(slot_id slot) SLOTGUARD_REQUIRES(io_mu_);
  result<void> attach_files_locked(active_content& c, slot_id slot, bool check_files)
      SLOTGUARD_REQUIRES(io_mu_);
  content_handle issue_locked(std::shared_ptr<active_content> c) SLOTGUARD_REQUIRES(io_mu_);
  bool held_locked(const std::string& file) SLOTGUARD_REQUIRES(io_mu_);
  void sweep_locked() SLOTGUARD_REQUIRES(io_mu_);
  void remember_locked(slot_id slot, content_handle h) SLOTGUARD_REQUIRES(io_mu_);
  void forget_stale_locked() SLOTGUARD_REQUIRES(io_mu_);

  // --- the pipeline: detail/guard_gates.hpp
  result<void> apply_owned(std::vector<std::uint8_t> bytes) SLOTGUARD_EXCLUDES(io_mu_);
  result<void> stream_in(const std::string& path) SLOTGUARD_REQUIRES(apply_mu_) SLOTGUARD_EXCLUDES(io_mu_);
  result<void> run_gates(std::shared_ptr<const mapped_file> bytes, received_file* file) SLOTGUARD_REQUIRES(apply_mu_)
      SLOTGUARD_EXCLUDES(io_mu_);
  probe_report run_probe(const active_content& c) const;
  static std::string probe_detail(const probe_report& r);
  stage_hook files_hook(const active_content& c) const;
  result<void> apply_recall(const active_content& c) SLOTGUARD_EXCLUDES(io_mu_);

  // --- the trial: detail/guard_trial.hpp
  void start_trial_clock_locked() SLOTGUARD_REQUIRES(io_mu_);
  void maintain(bool blocking) SLOTGUARD_EXCLUDES(io_mu_);
  void maintain_locked() SLOTGUARD_REQUIRES(io_mu_);
  result<void> check_trial_slot_locked() SLOTGUARD_REQUIRES(io_mu_);
  result<void> commit_locked() SLOTGUARD_REQUIRES(io_mu_);
  result<void> revert_locked(revert_reason why, std::string detail) SLOTGUARD_REQUIRES(io_mu_);
  void on_expire(std::uint64_t id) SLOTGUARD_EXCLUDES(io_mu_);

  // --- the operator: detail/guard_operator.hpp
  result<void> writable_locked() const SLOTGUARD_REQUIRES(io_mu_);
  result<void> rollback_locked(std::uint64_t from, revert_reason why, const char* detail)
      SLOTGUARD_REQUIRES(io_mu_);
  void serve_operator_requests() SLOTGUARD_EXCLUDES(io_mu_);
  request_outcome carry_out_request(const operator_request& r) SLOTGUARD_EXCLUDES(io_mu_);
  request_outcome request_state_now() const;

  // --- the in-memory view, events and history: detail/guard_view.hpp
  template <class F>
  result<void> locked_op(F&& f) SLOTGUARD_EXCLUDES(io_mu_);
  event make_event(event_kind k, std::uint64_t candidate, errc e, std::string detail = {}) const;
  event make_event_locked(event_kind k, std::uint64_t candidate, errc e, std::string detail = {}) const
      SLOTGUARD_REQUIRES(io_mu_);
  void post(event e) SLOTGUARD_EXCLUDES(ev_mu_);
  void post_locked(event e) SLOTGUARD_REQUIRES(io_mu_) { post(std::move(e)); }
  void deliver() SLOTGUARD_EXCLUDES(io_mu_, ev_mu_);
  std::uint64_t active_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_);
  bool trial_running_locked() const SLOTGUARD_REQUIRES(io_mu_) { return store_->state().trial; }
  std::optional<slot_id> served_slot_locked() const SLOTGUARD_REQUIRES(io_mu_);
  std::uint64_t served_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_);
  std::uint64_t served_committed_locked() const SLOTGUARD_REQUIRES(io_mu_);
  void refresh_view_locked() SLOTGUARD_REQUIRES(io_mu_);
  std::optional<slot_summary> view_summary(const std::optional<slot_id>& s) const SLOTGUARD_REQUIRES(mu_);
  void publish_locked(content_handle c) SLOTGUARD_REQUIRES(io_mu_);
  result<bundle_head> read_slot_head_locked(slot_id id) SLOTGUARD_REQUIRES(io_mu_);
  void record_decision(const event& e);
  bool worth_recording(const event& e) const;

  // --- data (the locks are described above the class) -------------------------
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

  // Serving the operator tool's requests (detail/guard_operator.hpp).
  std::mutex requests_mu_;
  bool requests_scanned_ = false;                 // guarded by requests_mu_
  time_source::time_point last_request_scan_{};         // guarded by requests_mu_

  // The store's history (detail/guard_view.hpp).
  std::optional<history_log> history_;  // used by the delivering thread only
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#include <slotguard/detail/guard_view.hpp>
#include <slotguard/detail/guard_recovery.hpp>
#include <slotguard/detail/guard_gates.hpp>
#include <slotguard/detail/guard_trial.hpp>
#include <slotguard/detail/guard_operator.hpp>

#endif  // SLOTGUARD_GUARD_HPP
