// SPDX-License-Identifier: Apache-2.0
// The guard's core (part of slotguard/guard.hpp): the class that holds one
// channel's guard state (the slot store, the in-memory view, the event
// queue, the watchdog, the history) and whose code is in detail/guard_*.hpp
// by role. slotguard/guard.hpp's guard is a handle to it, so a unit that
// includes guard.hpp reads none of this when the library is compiled
// separately. Included at the end of slotguard/guard.hpp with the guard's
// definitions.
//
// guard.hpp is included before the include guard: included alone (or first
// through one of detail/guard_*.hpp), this header is then defined by
// guard.hpp's own inclusion of it, before the definitions that need it.
#include <slotguard/guard.hpp>

#ifndef SLOTGUARD_DETAIL_GUARD_CORE_HPP
#define SLOTGUARD_DETAIL_GUARD_CORE_HPP

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
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

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

  // What the guard's core reads and sets in content it loads, stages and
  // hands out (active_content befriends this struct, not the core).
  static const bundle_view& bundle(const active_content& c) { return c.bundle_; }
  static validated_payload& records(active_content& c) { return c.records_; }
  static void set_slot(active_content& c, slot_id slot) { c.slot_ = slot; }
  static void set_path(active_content& c, std::string path) { c.path_ = std::move(path); }
  static void set_file(active_content& c, std::string file) { c.file_ = std::move(file); }
  static const std::string& file(const active_content& c) { return c.file_; }
  // Set when the content is released by its last holder.
  static void on_release(const active_content& c, std::shared_ptr<detail::atomic_word<bool>> released) {
    c.released_ = std::move(released);
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

namespace detail {

// The guard's state and code: slotguard/guard.hpp's guard is a handle to
// one, and forwards every call to it (detail/guard_impl.hpp).
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
class guard_core {
 public:
  using duration = time_source::duration;

  // What the guard's calls of the same names do (slotguard/guard.hpp says
  // what each one does and when it fails).

  // --- opening and stopping: detail/guard_recovery.hpp -----------------------
  static result<std::unique_ptr<guard_core>> open(guard_options options);

  guard_core(const guard_core&) = delete;
  guard_core& operator=(const guard_core&) = delete;
  // Stops the watchdog thread (guard::~guard()).
  ~guard_core() { wd_.stop(); }

  result<void> shutdown() SLOTGUARD_EXCLUDES(io_mu_);

  // --- the pipeline: detail/guard_gates.hpp -----------------------------------
  result<void> apply(byte_view bundle);
  result<void> apply_file(const std::string& path);

  // --- the trial: detail/guard_trial.hpp --------------------------------------
  void heartbeat() SLOTGUARD_EXCLUDES(io_mu_);
  result<void> report_unhealthy(std::string_view reason);
  void poll() SLOTGUARD_EXCLUDES(io_mu_);

  // --- the operator: detail/guard_operator.hpp --------------------------------
  result<void> confirm();
  result<void> revert();
  result<void> rollback();
  result<void> release(std::uint64_t sequence);

  // --- readers, status and events: detail/guard_view.hpp ----------------------
  content_handle current() const { return cell_.current(); }
  content_reader reader() const { return cell_.make_reader(); }
  guard_status status() const SLOTGUARD_EXCLUDES(mu_);
  std::uint64_t on_event(event_handler h) { return bus_.subscribe(std::move(h)); }
  bool unsubscribe(std::uint64_t id) { return bus_.unsubscribe(id); }
  const std::string& channel() const noexcept { return opts_.channel; }

 private:
  // --- opening, the crash-streak breaker, what is served:
  //     detail/guard_recovery.hpp
  guard_core(guard_options o, slot_store st, bool read_only);
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
  std::shared_ptr<atomic_word<bool>> sweep_due_ = std::make_shared<atomic_word<bool>>(false);
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

}  // namespace detail
}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_CORE_HPP
