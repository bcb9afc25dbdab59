// SPDX-License-Identifier: Apache-2.0
// Opening, stopping and what is served (part of slotguard/guard.hpp): open()
// and the recovery at a start (a process start counted against a running
// trial, reverting it when its start budget is spent), the crash-streak
// breaker, shutdown()'s clean stop, and loading what readers are served from
// the slots (the active slot, else the fallback, else nothing), with the
// files of served content kept on disk while a reader holds it.
// Invariants kept here:
//  - What readers are served passes the current trust set, channel and host
//    range at every open and reload, not only when it was applied (design
//    invariant 9; docs/GUARD.md, "Trust at rest"). Expiry is not checked at
//    rest.
//  - A quarantined or recalled sequence is never served, by any path
//    (invariant 8): load_slot_locked() refuses it.
//  - A trial is reverted at the start that exceeds its start budget
//    (invariant 5); those crashes are the trial's, not the breaker's.
//  - A storage error while reading content says nothing about the content:
//    open() fails with it, or the reload is tried again; nothing is judged.
//  - A slot's files are removed only once no reader holds its content.
// Defines members of the guard's core (detail/guard_core.hpp). Included at
// the end of slotguard/guard.hpp; it includes guard_core.hpp, so it also
// compiles on its own.
#ifndef SLOTGUARD_DETAIL_GUARD_RECOVERY_HPP
#define SLOTGUARD_DETAIL_GUARD_RECOVERY_HPP

#include <slotguard/detail/guard_core.hpp>

#include <algorithm>
#include <memory>
#include <string>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

inline result<std::unique_ptr<detail::guard_core>> detail::guard_core::open(guard_options options) {
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
  std::unique_ptr<guard_core> g(new guard_core(std::move(options), std::move(*st), read_only));
  {
    detail::scoped_lock lock(g->io_mu_);
    guard_core* self = g.get();
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

inline result<void> detail::guard_core::shutdown() SLOTGUARD_EXCLUDES(io_mu_) {
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

inline detail::guard_core::guard_core(guard_options o, slot_store st, bool read_only)
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

inline result<void> detail::guard_core::recover_locked() SLOTGUARD_REQUIRES(io_mu_) {
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
  SLOTGUARD_TRY(breaker_locked(crashes));
  // The breaker's change of what is served read content again: a storage
  // error there fails open() too.
  if (storage_failed_) return storage_failed_error_;
  return ok();
}

// The crash-streak breaker, at a start that found `crashes` unhealthy
// starts before it (no trial runs).
inline result<void> detail::guard_core::breaker_locked(std::uint32_t crashes) SLOTGUARD_REQUIRES(io_mu_) {
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
constexpr bool detail::guard_core::is_storage_error(errc e) noexcept {
  return e == errc::io_error || e == errc::permission_denied || e == errc::no_space ||
         e == errc::out_of_memory || e == errc::timeout || e == errc::busy || e == errc::internal ||
         e == errc::read_only_store || e == errc::sharing_violation || e == errc::unsupported;
}

inline errc detail::guard_core::load_error_now_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  detail::scoped_lock lock(mu_);
  return load_error_;
}

// Publishes what may be served: the active slot's content if it loads,
// checks out at rest and is not quarantined; else the fallback under the
// same conditions (in memory only: the journal is not changed); else
// nothing. A read-only guard serves the committed content, never a trial's
// (it cannot count the trial's starts). In the breaker's no-content mode
// only a trial's content is served.
inline void detail::guard_core::reload_active_locked() SLOTGUARD_REQUIRES(io_mu_) {
  reload_serving_locked();
  reload_due_.store(storage_failed_ && !read_only_ && !opts_.operator_mode, std::memory_order_release);
}

inline void detail::guard_core::reload_serving_locked() SLOTGUARD_REQUIRES(io_mu_) {
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
inline result<content_handle> detail::guard_core::load_slot_locked(slot_id slot) SLOTGUARD_REQUIRES(io_mu_) {
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
inline result<void> detail::guard_core::attach_files_locked(active_content& c, slot_id slot, bool check_files)
    SLOTGUARD_REQUIRES(io_mu_) {
  detail_guard_access::set_slot(c, slot);
  detail_guard_access::set_file(c, store_->slot_path(slot));
  const std::string dir = store_->slot_dir(slot);
  if (c.tree() != nullptr) {
    if (check_files) {
      auto v = verify_unpacked_tree(*opts_.fs, dir, *c.tree());
      if (!v) return is_storage_error(v.error()) && v.error() != errc::not_found ? v.error() : errc::slot_corrupt;
    }
    detail_guard_access::set_path(c, dir);
  } else if (opts_.payload_file) {
    const std::string file = detail::join_path(dir, "payload");
    if (check_files) {
      auto m = opts_.fs->map(file, c.payload().size());
      if (!m || (*m)->bytes().size() != c.payload().size() ||
          sha256_of((*m)->bytes()) != c.manifest().payload_sha256)
        return errc::slot_corrupt;
    }
    detail_guard_access::set_path(c, file);
  }
  return ok();
}

// Every content this guard hands out is registered, so that the store
// keeps its files while anybody holds it; when the last holder lets go a
// sweep becomes due (done at the next tick or poll).
inline content_handle detail::guard_core::issue_locked(std::shared_ptr<active_content> c) SLOTGUARD_REQUIRES(io_mu_) {
  content_handle h(std::move(c));
  if (!detail_guard_access::file(*h).empty()) {
    issued_.erase(std::remove_if(issued_.begin(), issued_.end(),
                                 [](const issued_content& i) { return i.content.expired(); }),
                  issued_.end());
    issued_.push_back(issued_content{detail_guard_access::file(*h), h});
    detail_guard_access::on_release(*h, sweep_due_);
  }
  return h;
}

inline bool detail::guard_core::held_locked(const std::string& file) SLOTGUARD_REQUIRES(io_mu_) {
  bool held = false;
  for (const issued_content& i : issued_) {
    if (i.file != file) continue;
    if (!i.content.expired()) held = true;
    else sweep_due_->store(true, order::release);
  }
  return held;
}

inline void detail::guard_core::sweep_locked() SLOTGUARD_REQUIRES(io_mu_) {
  if (!sweep_due_->exchange(false, order::acq_rel)) return;
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

inline void detail::guard_core::remember_locked(slot_id slot, content_handle h) SLOTGUARD_REQUIRES(io_mu_) {
  loaded_slot& l = loaded_[static_cast<std::size_t>(slot)];
  l.file_number = store_->state().slot(slot).file_number;
  l.content = std::move(h);
}

// Drops cached contents whose slot no longer holds their file.
inline void detail::guard_core::forget_stale_locked() SLOTGUARD_REQUIRES(io_mu_) {
  for (int i = 0; i < 2; ++i) {
    const slot_info& info = store_->state().slot(static_cast<slot_id>(i));
    loaded_slot& l = loaded_[static_cast<std::size_t>(i)];
    if (l.content && (!info.present || info.file_number != l.file_number)) l = loaded_slot{};
  }
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_RECOVERY_HPP
