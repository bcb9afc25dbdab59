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

#include <slotguard/bundle_view.hpp>
#include <slotguard/bytes.hpp>
#include <slotguard/config.hpp>
#include <slotguard/error.hpp>
#include <slotguard/events.hpp>
#include <slotguard/policy.hpp>
#include <slotguard/probe.hpp>
#include <slotguard/reader.hpp>
#include <slotguard/schema.hpp>
#include <slotguard/slot_id.hpp>
#include <slotguard/store_options.hpp>
#include <slotguard/time_source.hpp>
#include <slotguard/trust.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

class guard;
class storage;  // slotguard/storage.hpp
namespace detail {
class guard_core;  // detail/guard_core.hpp
}  // namespace detail

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

// A handle to the guard's state and code (detail/guard_core.hpp, where the
// locks are described): every call forwards to it. Which calls may come from
// which thread: docs/GUARD.md, "Threads and locks".
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
  ~guard();

  // The host is stopping cleanly: stops the watchdog and records, durably and
  // in one write, that this start ended well: the crash streak ends, and a
  // running trial gets back the process start this process counted against
  // it (a clean restart or reboot does not spend its budget); a crash never
  // gets here and still counts. Call it as the host's last use of the guard,
  // once its own work has stopped. Calling it again does nothing; it may be
  // called from an event handler. Fails with the storage's error (the start
  // stays counted then).
  result<void> shutdown();

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
  void heartbeat();

  // The host found the trial content bad: reverts it (quarantining its
  // sequence). Fails with no_trial when no trial runs (committed content is
  // never reverted this way; see rollback()).
  result<void> report_unhealthy(std::string_view reason = {});

  // For hosts without the watchdog thread: checks the watchdog's deadline
  // (reverting on expiry), then the probation (committing when it is over and
  // heartbeats flow) and the healthy mark of the crash-streak breaker. In
  // thread mode the watchdog's thread does the same every tick; poll() is
  // harmless there.
  void poll();

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
  content_handle current() const;
  // A reader for one thread's hot path; see snapshot_reader.
  content_reader reader() const;

  // A consistent report; never waits for storage I/O.
  guard_status status() const;

  // Subscribes to events; returns an id for unsubscribe().
  std::uint64_t on_event(event_handler h);
  bool unsubscribe(std::uint64_t id);

  const std::string& channel() const noexcept;

 private:
  explicit guard(std::unique_ptr<detail::guard_core> core) noexcept;
  // The state and the code (detail/guard_core.hpp); never null.
  std::unique_ptr<detail::guard_core> core_;
};

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#if SLOTGUARD_DETAIL_DEFINITIONS
#include <slotguard/detail/guard_core.hpp>
#include <slotguard/detail/guard_impl.hpp>
#include <slotguard/detail/guard_view.hpp>
#include <slotguard/detail/guard_recovery.hpp>
#include <slotguard/detail/guard_gates.hpp>
#include <slotguard/detail/guard_trial.hpp>
#include <slotguard/detail/guard_operator.hpp>
#endif

#endif  // SLOTGUARD_GUARD_HPP
