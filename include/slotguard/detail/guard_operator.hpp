// SPDX-License-Identifier: Apache-2.0
// The operator (part of slotguard/guard.hpp): confirm(), revert(),
// rollback() and release(), and the requests the operator's tool leaves in
// the store while a sensor holds it (requests.hpp; docs/GUARD.md, "Requests
// from the operator's tool"), carried out through those same calls.
// Invariants kept here:
//  - The committed sequence goes down only by an explicit operator command,
//    rollback() (design invariant 4), and never to content that would not be
//    served.
//  - A quarantined sequence comes back only by the operator's explicit
//    release() (invariant 8).
//  - Requests are looked for at watchdog ticks and in poll(), never in
//    heartbeat() (a heartbeat never waits for storage), and are carried out
//    through the public calls, with their gates, locks and events.
//  - A read-only guard changes nothing (read_only_store).
// Defines members of the guard's core (detail/guard_core.hpp). Included at
// the end of slotguard/guard.hpp; it includes guard_core.hpp, so it also
// compiles on its own.
#ifndef SLOTGUARD_DETAIL_GUARD_OPERATOR_HPP
#define SLOTGUARD_DETAIL_GUARD_OPERATOR_HPP

#include <slotguard/detail/guard_core.hpp>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

inline result<void> detail::guard_core::confirm() {
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

inline result<void> detail::guard_core::revert() {
  return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
    SLOTGUARD_TRY(writable_locked());
    if (!trial_running_locked()) return errc::no_trial;
    return revert_locked(revert_reason::operator_request, "operator");
  });
}

inline result<void> detail::guard_core::rollback() {
  return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
    SLOTGUARD_TRY(writable_locked());
    return rollback_locked(active_sequence_locked(), revert_reason::operator_request, "rollback");
  });
}

inline result<void> detail::guard_core::release(std::uint64_t sequence) {
  return locked_op([&]() SLOTGUARD_REQUIRES(io_mu_) -> result<void> {
    SLOTGUARD_TRY(writable_locked());
    if (!store_->is_quarantined(sequence)) return ok();
    SLOTGUARD_TRY(store_->release(sequence));
    refresh_view_locked();
    post_locked(make_event_locked(event_kind::released, sequence, errc::ok, "quarantine lifted"));
    return ok();
  });
}

inline result<void> detail::guard_core::writable_locked() const SLOTGUARD_REQUIRES(io_mu_) {
  if (read_only_) return errc::read_only_store;
  return ok();
}

// The store's rollback to the previous committed content, the readers
// moved to it, and the reverted event that says why.
inline result<void> detail::guard_core::rollback_locked(std::uint64_t from, revert_reason why, const char* detail)
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

// --- operator requests
// (requests.hpp). Never from heartbeat(): a heartbeat never waits for
// storage. On the watchdog's thread a request runs there (an apply's
// probe included); heartbeat() still reverts a trial whose deadline
// passes meanwhile.
inline void detail::guard_core::serve_operator_requests() SLOTGUARD_EXCLUDES(io_mu_) {
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

inline request_outcome detail::guard_core::carry_out_request(const operator_request& r) SLOTGUARD_EXCLUDES(io_mu_) {
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

inline request_outcome detail::guard_core::request_state_now() const { return outcome_of(status()); }

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_OPERATOR_HPP
