// SPDX-License-Identifier: Apache-2.0
// What the guard shows and says (part of slotguard/guard.hpp): the in-memory
// copy of the store's state that status() and the hot calls read, the
// publication of content to readers, events (made, queued and delivered in
// the order of the transitions), and the store's history and the log sink.
// Invariants kept here:
//  - Readers never wait for writers and always see one whole snapshot
//    (design invariant 6): publish_locked() swaps a snapshot_cell, and
//    status() copies under mu_, never waiting for storage.
//  - mu_ is held only for copies, never across I/O or a callback. Events
//    are posted under io_mu_ (so their serials follow the transitions) and
//    delivered with no guard lock held, by one thread at a time, in order.
//  - A history record that cannot be written is logged, never an error of
//    the operation (which is already durable in the journal).
// Defines members of the guard's core (detail/guard_core.hpp). Included at
// the end of slotguard/guard.hpp; it includes guard_core.hpp, so it also
// compiles on its own.
#ifndef SLOTGUARD_DETAIL_GUARD_VIEW_HPP
#define SLOTGUARD_DETAIL_GUARD_VIEW_HPP

#include <slotguard/detail/guard_core.hpp>

#include <algorithm>
#include <array>
#include <iterator>
#include <string>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

inline guard_status detail::guard_core::status() const SLOTGUARD_EXCLUDES(mu_) {
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

// Runs f under io_mu_, then delivers the events it posted.
template <class F>
inline result<void> detail::guard_core::locked_op(F&& f) SLOTGUARD_EXCLUDES(io_mu_) {
  result<void> r;
  {
    detail::scoped_lock lock(io_mu_);
    r = f();
  }
  deliver();
  return r;
}

inline event detail::guard_core::make_event(event_kind k, std::uint64_t candidate, errc e, std::string detail) const {
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

inline event detail::guard_core::make_event_locked(event_kind k, std::uint64_t candidate, errc e, std::string detail) const
    SLOTGUARD_REQUIRES(io_mu_) {
  return make_event(k, candidate, e, std::move(detail));
}

// Queues an event with the next serial number. Posting under io_mu_ makes
// the serial order the order of the transitions.
inline void detail::guard_core::post(event e) SLOTGUARD_EXCLUDES(ev_mu_) {
  detail::scoped_lock lock(ev_mu_);
  e.serial = ++next_serial_;
  queue_.push_back(std::move(e));
}

// Delivers queued events in order, with no guard lock held. One thread
// delivers at a time; a handler that causes events (re-entrantly, or on
// another thread meanwhile) has them delivered by the delivering thread,
// after the handler returns, still in order.
inline void detail::guard_core::deliver() SLOTGUARD_EXCLUDES(io_mu_, ev_mu_) {
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

inline std::uint64_t detail::guard_core::active_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  const store_state& s = store_->state();
  return s.active ? s.slot(*s.active).sequence : 0;
}

// The slot whose content readers are served (two slots may hold the same
// sequence after an operator's rollback, so the slot, not the sequence,
// says which).
inline std::optional<slot_id> detail::guard_core::served_slot_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  detail::scoped_lock lock(mu_);
  return served_slot_;
}

inline std::uint64_t detail::guard_core::served_sequence_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  detail::scoped_lock lock(mu_);
  return served_;
}

// The committed sequence readers are served (0 during a trial or when
// nothing is served): what a healthy run vouches for.
inline std::uint64_t detail::guard_core::served_committed_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  if (trial_running_locked()) return 0;
  return served_sequence_locked();
}

// Copies the store's state for status() and the hot calls, and caches each
// slot's summary (reading a slot not loaded in this process: I/O, under
// io_mu_ only).
inline void detail::guard_core::refresh_view_locked() SLOTGUARD_REQUIRES(io_mu_) {
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

inline std::optional<slot_summary> detail::guard_core::view_summary(const std::optional<slot_id>& s) const SLOTGUARD_REQUIRES(mu_) {
  if (!s) return std::nullopt;
  return summaries_[static_cast<std::size_t>(*s)];
}

inline void detail::guard_core::publish_locked(content_handle c) SLOTGUARD_REQUIRES(io_mu_) {
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

// A slot's bundle header and manifest, read in bounded memory.
inline result<bundle_head> detail::guard_core::read_slot_head_locked(slot_id id) SLOTGUARD_REQUIRES(io_mu_) {
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

// --- history
// Every delivered event goes to the log sink and, durably, to the store's
// history. Runs in deliver(), on one thread at a time, with no guard lock
// held; a record that cannot be written is logged, never an error of the
// operation (which is already durable in the journal).
inline void detail::guard_core::record_decision(const event& e) {
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
inline bool detail::guard_core::worth_recording(const event& e) const {
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

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_VIEW_HPP
