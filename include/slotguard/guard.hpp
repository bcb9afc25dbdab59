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
#include <slotguard/policy.hpp>
#include <slotguard/probe.hpp>
#include <slotguard/schema.hpp>
#include <slotguard/slot_store.hpp>
#include <slotguard/snapshot.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/trust.hpp>
#include <slotguard/watchdog.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace v1 {

class guard;

// The content readers see: a verified bundle's bytes, its parsed manifest and
// its validated payload (with the schema's record index when a schema is
// configured). Immutable; shared by every reader that holds it.
class active_content {
 public:
  active_content(const active_content&) = delete;
  active_content& operator=(const active_content&) = delete;

  const bundle_manifest& manifest() const noexcept { return bundle_.manifest; }
  std::uint64_t sequence() const noexcept { return bundle_.manifest.sequence; }
  // The payload: what the host's interpreter reads.
  byte_view payload() const noexcept { return bundle_.payload; }
  // The payload's validated records (has_index() is false for a validator_fn).
  const validated_payload& records() const noexcept { return records_; }
  // The whole bundle, as stored.
  byte_view bundle_bytes() const noexcept { return byte_view(bytes_); }
  slot_id slot() const noexcept { return slot_; }

 private:
  friend struct detail_guard_access;
  friend class guard;
  active_content() = default;
  std::vector<std::uint8_t> bytes_;
  bundle_view bundle_;
  validated_payload records_;
  slot_id slot_ = slot_id::a;
};

using content_handle = std::shared_ptr<const active_content>;
using content_reader = snapshot_reader<active_content>;

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
  clock::duration trial_elapsed{};
  clock::duration watchdog_left{};
  // Why the active content could not be loaded at open, if it could not
  // (ok otherwise): readers then see the fallback or nothing.
  errc load_error = errc::ok;
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
  const clock* time = &real_clock();
  // Trial: no heartbeat for watchdog_timeout reverts; heartbeats flowing for
  // probation commit; start_budget process starts (counting the one that
  // began the trial) may run it before the next start reverts it.
  clock::duration watchdog_timeout = std::chrono::seconds(30);
  clock::duration probation = std::chrono::minutes(10);
  std::uint32_t start_budget = 1;
  watchdog_mode watchdog = watchdog_mode::thread;
  clock::duration watchdog_tick = std::chrono::milliseconds(100);
  // An operator's tool, not the sensor: open() never counts a process start,
  // no watchdog runs, and a trial begun by apply() starts with no starts
  // used (the sensor's next start is its first).
  bool operator_mode = false;
  // Receives every event, including those of open() itself.
  event_handler on_event;
  bundle_limits limits;
  store_options store;
};

struct detail_guard_access {
  // Builds the content a reader sees from a bundle's bytes: parse, payload
  // hash, schema id/version, validation. Returns the first failing errc.
  static result<std::shared_ptr<active_content>> make(std::vector<std::uint8_t> bytes, slot_id slot,
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
  static result<std::shared_ptr<active_content>> parse(std::vector<std::uint8_t> bytes,
                                                       const bundle_limits& limits) {
    std::shared_ptr<active_content> c(new active_content());
    c->bytes_ = std::move(bytes);
    auto parsed = parse_bundle(byte_view(c->bytes_), limits);
    if (!parsed) return parsed.error();
    c->bundle_ = *parsed;
    SLOTGUARD_TRY(verify_payload(c->bundle_));
    return c;
  }

  static result<void> validate_content(const bundle_view& b, const content_check& check,
                                       validated_payload& out) {
    if (const schema* s = check.get_schema()) {
      if (!s->matches(b.manifest.schema_id, b.manifest.schema_version)) return errc::schema_mismatch;
    }
    auto v = check.run(b.payload);
    if (!v) return v.error().code;
    out = std::move(*v);
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

class guard {
 public:
  using duration = clock::duration;

  // Opens the channel's store (see guard_options), recovers it, counts a
  // process start against a running trial (unless operator_mode) and reverts
  // the trial when its start budget is spent, then publishes the active
  // content. Fails with invalid_argument (no storage, directory, channel or
  // content check), busy (another process holds the store), journal_corrupt,
  // or the storage's error. Content that fails to load is not an error of
  // open: status().load_error says why, and readers see the fallback or
  // nothing.
  static result<std::unique_ptr<guard>> open(guard_options options) {
    if (options.fs == nullptr || options.directory.empty() || options.channel.empty() ||
        options.time == nullptr || options.start_budget == 0 ||
        options.watchdog_timeout.count() <= 0 || options.watchdog_tick.count() <= 0 ||
        (!options.check.has_schema() && !options.check.has_validator()))
      return errc::invalid_argument;
    auto st = slot_store::open(*options.fs, options.directory, options.store);
    if (!st) return st.error();
    std::unique_ptr<guard> g(new guard(std::move(options), std::move(*st)));
    std::vector<event> out;
    {
      std::lock_guard<std::mutex> lock(g->mu_);
      auto r = g->recover_locked(out);
      if (!r) return r.error();
    }
    g->emit(out);
    if (!g->opts_.operator_mode && g->opts_.watchdog == watchdog_mode::thread) {
      auto started = g->wd_.start(g->opts_.watchdog_tick);
      if (!started) return started.error();
    }
    return g;
  }

  guard(const guard&) = delete;
  guard& operator=(const guard&) = delete;
  // Stops the watchdog thread. A trial still running stays on trial in the
  // store: the next open() counts a start against it, as after a crash
  // (see shutdown() for a clean stop).
  ~guard() { wd_.stop(); }

  // The host is stopping cleanly: stops the watchdog and, when a trial
  // runs, gives back the process start this process counted against it
  // (durably), so that a clean restart or reboot does not spend the trial's
  // start budget; a crash never gets here and still counts. Call it as the
  // host's last use of the guard, once its own work has stopped: a crash
  // after it goes uncounted. Calling it again does nothing. Fails with the
  // storage's error (the start stays counted then).
  result<void> shutdown() {
    wd_.stop();
    return locked_op([&](std::vector<event>&) -> result<void> {
      if (opts_.operator_mode || start_released_ || !trial_running_locked()) return ok();
      wd_.disarm();  // a poll() after this finds nothing to expire
      SLOTGUARD_TRY(store_->release_start());
      start_released_ = true;
      return ok();
    });
  }

  // Runs the pipeline on a bundle. On success the bundle is on trial and
  // published to readers. Fails with the failing gate's errc (parse,
  // verify, eligibility, schema, policy, probe errors; already_active when
  // it is the trial running now; the store's errors), changing nothing but,
  // for content that verified and then failed validation or the probe, the
  // quarantine list. A bundle whose manifest carries a recall list is a
  // recall: its listed sequences are quarantined and an active one is
  // reverted; it is not staged.
  result<void> apply(byte_view bundle) { return apply_owned(bundle.to_vector()); }

  // apply() on a file read through the storage interface (at most
  // limits.max_bundle_size bytes, else too_large).
  result<void> apply_file(const std::string& path) {
    auto bytes = opts_.fs->read_file(path, opts_.limits.max_bundle_size);
    if (!bytes) {
      std::vector<event> out;
      {
        std::lock_guard<std::mutex> lock(mu_);
        out.push_back(make_event(event_kind::rejected, 0, bytes.error()));
      }
      emit(out);
      return bytes.error();
    }
    return apply_owned(std::move(*bytes));
  }

  // The host is alive and well: feeds the watchdog, and commits the trial
  // once it has run its probation. Cheap when no trial runs.
  void heartbeat() {
    std::vector<event> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!trial_running_locked()) return;
      (void)wd_.feed();
      last_heartbeat_ = opts_.time->now();
      maybe_commit_locked(out);
    }
    emit(out);
  }

  // The host found the trial content bad: reverts it (quarantining its
  // sequence). Fails with no_trial when no trial runs (committed content is
  // never reverted this way; see rollback()).
  result<void> report_unhealthy(std::string_view reason = {}) {
    return locked_op([&](std::vector<event>& out) -> result<void> {
      if (!trial_running_locked()) return errc::no_trial;
      return revert_locked(revert_reason::unhealthy, std::string(reason), out);
    });
  }

  // Commits the trial now. Fails with no_trial.
  result<void> confirm() {
    return locked_op([&](std::vector<event>& out) -> result<void> {
      if (!trial_running_locked()) return errc::no_trial;
      return commit_locked(out);
    });
  }

  // Operator: ends the trial with failure (quarantining its sequence).
  // Fails with no_trial.
  result<void> revert() {
    return locked_op([&](std::vector<event>& out) -> result<void> {
      if (!trial_running_locked()) return errc::no_trial;
      return revert_locked(revert_reason::operator_request, "operator", out);
    });
  }

  // Operator: activates the fallback content (the previously committed one),
  // lowering the floor to its sequence. Fails with trial_active (use
  // revert()), no_fallback, slot_corrupt or the storage's error.
  result<void> rollback() {
    return locked_op([&](std::vector<event>& out) -> result<void> {
      return rollback_locked(active_sequence_locked(), revert_reason::operator_request, "rollback", out);
    });
  }

  // For hosts without the watchdog thread: checks the watchdog's deadline
  // (reverting on expiry) and the probation (committing when it is over and
  // heartbeats flow). Harmless in thread mode.
  void poll() {
    (void)wd_.poll();
    std::vector<event> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (trial_running_locked() && opts_.time->now() - last_heartbeat_ < opts_.watchdog_timeout)
        maybe_commit_locked(out);
    }
    emit(out);
  }

  // A shared handle to the active content (null when there is none).
  content_handle current() const { return cell_.current(); }
  // A reader for one thread's hot path; see snapshot_reader.
  content_reader reader() const { return cell_.make_reader(); }

  guard_status status() const {
    std::lock_guard<std::mutex> lock(mu_);
    return status_locked();
  }

  // Subscribes to events; returns an id for unsubscribe().
  std::uint64_t on_event(event_handler h) { return bus_.subscribe(std::move(h)); }
  bool unsubscribe(std::uint64_t id) { return bus_.unsubscribe(id); }

  const std::string& channel() const noexcept { return opts_.channel; }

 private:
  guard(guard_options o, slot_store st)
      : opts_(std::move(o)),
        store_(std::move(st)),
        wd_(*opts_.time, opts_.watchdog_timeout, [this](std::uint64_t id) { on_expire(id); }) {
    if (opts_.on_event) (void)bus_.subscribe(opts_.on_event);
  }

  template <class F>
  result<void> locked_op(F&& f) {
    std::vector<event> out;
    result<void> r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = f(out);
    }
    emit(out);
    return r;
  }

  void emit(const std::vector<event>& out) const {
    for (const auto& e : out) bus_.emit(e);
  }

  event make_event(event_kind k, std::uint64_t candidate, errc e) const {
    event ev;
    ev.kind = k;
    ev.channel = opts_.channel;
    ev.candidate_sequence = candidate;
    ev.active_sequence = active_sequence_locked();
    ev.error = e;
    return ev;
  }

  std::uint64_t active_sequence_locked() const {
    const store_state& s = store_->state();
    return s.active ? s.slot(*s.active).sequence : 0;
  }
  bool trial_running_locked() const { return store_->state().trial; }

  // --- open -----------------------------------------------------------------

  result<void> recover_locked(std::vector<event>& out) {
    if (store_->state().trial && !opts_.operator_mode) {
      auto spent = store_->count_start();
      if (!spent) return spent.error();
      if (*spent) {
        SLOTGUARD_TRY(revert_locked(revert_reason::start_budget_spent,
                                    "the trial's start budget is spent (a crash during the trial)",
                                    out));
        return ok();
      }
    }
    reload_active_locked();
    if (store_->state().trial && load_error_ != errc::ok && !opts_.operator_mode) {
      // The trial's own content does not load: take it back now.
      SLOTGUARD_TRY(revert_locked(revert_reason::unhealthy, "the trial content does not load", out));
      return ok();
    }
    if (store_->state().trial) start_trial_clock_locked();
    return ok();
  }

  // Loads the store's active content (falling back, in memory only, to the
  // other slot when it does not load) and publishes it.
  void reload_active_locked() {
    load_error_ = errc::ok;
    const store_state& s = store_->state();
    if (!s.active) {
      cell_.publish(nullptr);
      return;
    }
    auto c = load_slot_locked(*s.active);
    if (c) {
      cell_.publish(std::move(*c));
      return;
    }
    load_error_ = c.error();
    const std::optional<slot_id> other = s.fallback;
    if (other) {
      auto f = load_slot_locked(*other);
      if (f) {
        cell_.publish(std::move(*f));
        return;
      }
    }
    cell_.publish(nullptr);
  }

  result<content_handle> load_slot_locked(slot_id slot) {
    auto bytes = store_->load(slot);
    if (!bytes) return bytes.error();
    auto c = detail_guard_access::make(std::move(*bytes), slot, opts_.limits, opts_.check);
    if (!c) return c.error();
    summaries_[static_cast<std::size_t>(slot)] = detail_guard_access::summarize(**c);
    return content_handle(std::move(*c));
  }

  // --- trial ----------------------------------------------------------------

  void start_trial_clock_locked() {
    trial_start_ = opts_.time->now();
    last_heartbeat_ = trial_start_;
    if (!opts_.operator_mode) arm_id_ = wd_.arm();
  }

  void maybe_commit_locked(std::vector<event>& out) {
    if (opts_.operator_mode) return;
    if (opts_.time->now() - trial_start_ >= opts_.probation) (void)commit_locked(out);
  }

  result<void> commit_locked(std::vector<event>& out) {
    const std::uint64_t seq = active_sequence_locked();
    SLOTGUARD_TRY(store_->commit());
    wd_.disarm();
    out.push_back(make_event(event_kind::committed, seq, errc::ok));
    return ok();
  }

  result<void> revert_locked(revert_reason why, std::string detail, std::vector<event>& out) {
    const std::uint64_t seq = active_sequence_locked();
    SLOTGUARD_TRY(store_->revert());
    wd_.disarm();
    reload_active_locked();
    event e = make_event(event_kind::reverted, seq, errc::ok);
    e.reason = why;
    e.detail = std::move(detail);
    out.push_back(std::move(e));
    return ok();
  }

  void on_expire(std::uint64_t id) {
    std::vector<event> out;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // A stale expiry (the trial it armed for has ended or was replaced).
      if (id != arm_id_ || !trial_running_locked()) return;
      auto r = revert_locked(revert_reason::watchdog_timeout, "no heartbeat within the watchdog timeout",
                             out);
      // The revert could not be written (a storage error): keep watching,
      // so it is tried again a timeout later rather than never.
      if (!r) arm_id_ = wd_.arm();
    }
    emit(out);
  }

  // --- apply ----------------------------------------------------------------

  result<void> apply_owned(std::vector<std::uint8_t> bytes) {
    // One apply at a time; the gates run without the state lock, so that
    // heartbeats (and the watchdog) of a running trial are not held up by a
    // long probe.
    std::lock_guard<std::mutex> serial(apply_mu_);
    std::vector<event> out;
    auto r = run_gates(std::move(bytes), out);
    emit(out);
    return r;
  }

  result<void> run_gates(std::vector<std::uint8_t> bytes, std::vector<event>& out) {
    std::uint64_t floor = 0;
    std::uint64_t trial_seq = 0;
    std::vector<std::uint64_t> quarantine;
    {
      std::lock_guard<std::mutex> lock(mu_);
      floor = store_->state().floor;
      quarantine = store_->state().quarantine;
      if (trial_running_locked()) trial_seq = active_sequence_locked();
    }
    // Only content that verified (signed, for this channel and device, now)
    // and was then found bad is quarantined: by validation or by the
    // probe's verdict. Other failures say nothing about the content.
    auto reject = [&](std::uint64_t seq, errc e, bool content_is_bad = false) -> result<void> {
      std::lock_guard<std::mutex> lock(mu_);
      std::string detail;
      if (seq != 0 && content_is_bad) {
        auto q = store_->quarantine(seq);
        detail = q ? "quarantined" : std::string("quarantine failed: ") + to_string(q.error());
      }
      event ev = make_event(event_kind::rejected, seq, e);
      ev.detail = std::move(detail);
      out.push_back(std::move(ev));
      return e;
    };

    // parse and payload hash (on the candidate's own copy of the bytes,
    // which readers will later see unchanged)
    std::shared_ptr<active_content> c;
    {
      auto parsed = detail_guard_access::parse(std::move(bytes), opts_.limits);
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
    if (is_recall) return apply_recall(*c, out);
    if (seq == trial_seq) return reject(seq, errc::already_active);

    // validate
    {
      auto v = detail_guard_access::validate_content(c->bundle_, opts_.check, c->records_);
      // A schema id or version mismatch means the bundle is for another
      // host build, not that it is bad.
      if (!v)
        return reject(seq, v.error(),
                      v.error() != errc::schema_mismatch && v.error() != errc::invalid_argument &&
                          v.error() != errc::out_of_memory);
    }

    // policy
    {
      auto p = check_policy(opts_.policy, policy_candidate::from_manifest(m), vo.now.value_or(0),
                            quarantine);
      if (!p) return reject(seq, p.error());
    }

    // probe
    if (!opts_.candidate_probe.empty()) {
      auto p = run_probe(*c);
      if (!p) {
        if (is_probe_verdict(p.error())) {
          std::lock_guard<std::mutex> lock(mu_);
          out.push_back(make_event(event_kind::probe_failed, seq, p.error()));
        }
        return reject(seq, p.error(), is_probe_verdict(p.error()));
      }
    }

    // stage and trial, in one durable record. The process that begins a
    // trial is its first start (not so for an operator's tool: the
    // sensor's next start is the first).
    std::lock_guard<std::mutex> lock(mu_);
    {
      auto s = store_->stage_trial(c->bundle_bytes(), seq, opts_.start_budget, opts_.operator_mode ? 0u : 1u);
      if (!s) {
        event ev = make_event(event_kind::rejected, seq, s.error());
        out.push_back(std::move(ev));
        return s.error();
      }
    }
    const store_state& st = store_->state();
    c->slot_ = *st.active;
    summaries_[static_cast<std::size_t>(*st.active)] = detail_guard_access::summarize(*c);
    out.push_back(make_event(event_kind::staged, seq, errc::ok));
    if (trial_seq != 0) {
      // The new trial replaced the running one (in that one's slot).
      wd_.disarm();
    }
    cell_.publish(content_handle(c));
    load_error_ = errc::ok;
    start_released_ = false;  // this process is the new trial's first start
    start_trial_clock_locked();
    out.push_back(make_event(event_kind::trial_started, seq, errc::ok));
    return ok();
  }

  result<void> run_probe(const active_content& c) {
    probe_input in;
    in.content = c.payload();
    in.channel = opts_.channel;
    in.sequence = c.sequence();
    if (!opts_.candidate_probe.needs_file()) return opts_.candidate_probe.run(in);
    std::error_code ec;
    std::filesystem::path dir = opts_.probe_dir.empty()
                                    ? std::filesystem::temp_directory_path(ec)
                                    : std::filesystem::path(opts_.probe_dir);
    if (ec) return errc::io_error;
    static std::atomic<std::uint64_t> counter{0};
    const auto stamp = static_cast<std::uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    const std::filesystem::path file =
        dir / ("slotguard-probe-" + std::to_string(c.sequence()) + "-" + std::to_string(stamp) + "-" +
               std::to_string(counter.fetch_add(1)) + ".bin");
    {
      std::ofstream f(file, std::ios::binary | std::ios::trunc);
      if (!f) return errc::io_error;
      const byte_view p = c.payload();
      f.write(reinterpret_cast<const char*>(p.data()), static_cast<std::streamsize>(p.size()));
      f.flush();
      if (!f) {
        f.close();
        std::filesystem::remove(file, ec);
        return errc::io_error;
      }
    }
    in.path = file.string();
    auto r = opts_.candidate_probe.run(in);
    std::filesystem::remove(file, ec);
    return r;
  }

  result<void> apply_recall(const active_content& c, std::vector<event>& out) {
    std::lock_guard<std::mutex> lock(mu_);
    const sequence_list_view& list = c.manifest().recalls;
    for (std::size_t i = 0; i < list.size(); ++i) SLOTGUARD_TRY(store_->quarantine(list[i]));
    const store_state& s = store_->state();
    if (!s.active) return ok();
    const std::uint64_t active = s.slot(*s.active).sequence;
    if (!list.contains(active)) return ok();
    if (s.trial) return revert_locked(revert_reason::recall, "recalled by its publisher", out);
    // Committed content recalled: go back to the previous content, if that
    // is not recalled too.
    if (!s.fallback || list.contains(s.slot(*s.fallback).sequence)) {
      event ev = make_event(event_kind::rejected, active, errc::no_fallback);
      ev.detail = "the active content is recalled and there is no fallback to go back to";
      out.push_back(std::move(ev));
      return errc::no_fallback;
    }
    return rollback_locked(active, revert_reason::recall, "recalled by its publisher", out);
  }

  // The store's rollback to the previous committed content, the readers
  // moved to it, and the reverted event that says why.
  result<void> rollback_locked(std::uint64_t from, revert_reason why, const char* detail,
                               std::vector<event>& out) {
    SLOTGUARD_TRY(store_->rollback());
    reload_active_locked();
    event ev = make_event(event_kind::reverted, from, errc::ok);
    ev.reason = why;
    ev.detail = detail;
    out.push_back(std::move(ev));
    return ok();
  }

  // --- status ---------------------------------------------------------------

  std::optional<slot_summary> summary_locked(const std::optional<slot_id>& s) const {
    if (!s) return std::nullopt;
    const auto& cached = summaries_[static_cast<std::size_t>(*s)];
    const slot_info& info = store_->state().slot(*s);
    if (cached && cached->sequence == info.sequence) return cached;
    // Not loaded in this process (e.g. a fallback): read it now.
    auto bytes = store_->load(*s);
    slot_summary out;
    out.slot = *s;
    out.sequence = info.sequence;
    if (bytes) {
      auto parsed = parse_bundle(byte_view(*bytes), opts_.limits);
      if (parsed) {
        out.payload_sha256 = parsed->manifest.payload_sha256;
        out.version = std::string(parsed->manifest.version);
      }
    }
    summaries_[static_cast<std::size_t>(*s)] = out;
    return out;
  }

  guard_status status_locked() const {
    const store_state& s = store_->state();
    guard_status g;
    g.channel = opts_.channel;
    g.state = !s.active ? guard_state::empty : s.trial ? guard_state::trial : guard_state::committed;
    g.active = summary_locked(s.active);
    g.fallback = summary_locked(s.fallback);
    g.trial_starts = s.starts_used;
    g.start_budget = s.start_budget;
    g.floor = s.floor;
    g.quarantine = s.quarantine;
    g.load_error = load_error_;
    if (s.trial) {
      const auto now = opts_.time->now();
      g.trial_elapsed = now - trial_start_;
      if (!opts_.operator_mode && wd_.armed()) {
        const auto dl = wd_.deadline();
        g.watchdog_left = dl > now ? dl - now : duration::zero();
      }
    }
    return g;
  }

  guard_options opts_;
  std::optional<slot_store> store_;
  mutable std::mutex mu_;  // guards store_, the trial clock, summaries_, load_error_
  std::mutex apply_mu_;    // one apply at a time
  snapshot_cell<active_content> cell_;
  watchdog wd_;
  event_bus bus_;
  clock::time_point trial_start_{};
  clock::time_point last_heartbeat_{};
  std::uint64_t arm_id_ = 0;
  // shutdown() gave back this process's start: a trial running in the store
  // outside operator mode otherwise always includes it (open() counted it,
  // or apply() began the trial with it).
  bool start_released_ = false;
  errc load_error_ = errc::ok;
  mutable std::array<std::optional<slot_summary>, 2> summaries_{};
};

}  // namespace v1
}  // namespace slotguard

#endif  // SLOTGUARD_GUARD_HPP
