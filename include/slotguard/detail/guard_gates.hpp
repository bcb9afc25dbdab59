// SPDX-License-Identifier: Apache-2.0
// The pipeline (part of slotguard/guard.hpp): apply() and apply_file() run
// the gates of docs/GUARD.md, "The pipeline" (parse, verify, validate,
// policy, probe), then stage the candidate and begin its trial in one
// durable record; a bundle that carries a recall list is applied as a
// recall instead. Also the probe's workspace, and the stage hook that puts a
// candidate's files in its slot.
// Invariants kept here:
//  - Every gate can only say no, and a no changes nothing on disk but, for
//    content that verified and then failed validation or the probe's
//    verdict, the quarantine record (design invariant 2).
//  - Nothing unsigned is written to the store: apply_file() checks the
//    signatures before streaming a bundle in, and the gates run over the
//    store's own copy, never the caller's file.
//  - One apply at a time (apply_mu_); the gates run without io_mu_, so a
//    long probe never delays heartbeats, the watchdog or status().
//  - The last known-good slot is never written while another is on trial
//    (invariant 3), and a candidate never goes over the content readers are
//    served.
// Defines members of the guard's core (detail/guard_core.hpp). Included at
// the end of slotguard/guard.hpp; it includes guard_core.hpp, so it also
// compiles on its own.
#ifndef SLOTGUARD_DETAIL_GUARD_GATES_HPP
#define SLOTGUARD_DETAIL_GUARD_GATES_HPP

#include <slotguard/detail/guard_core.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

inline result<void> detail::guard_core::apply(byte_view bundle) { return apply_owned(bundle.to_vector()); }

inline result<void> detail::guard_core::apply_file(const std::string& path) {
  result<void> r;
  {
    detail::scoped_lock serial(apply_mu_);
    r = stream_in(path);
  }
  deliver();
  return r;
}

inline result<void> detail::guard_core::apply_owned(std::vector<std::uint8_t> bytes) SLOTGUARD_EXCLUDES(io_mu_) {
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

inline result<void> detail::guard_core::stream_in(const std::string& path)
    SLOTGUARD_REQUIRES(apply_mu_) SLOTGUARD_EXCLUDES(io_mu_) {
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
inline result<void> detail::guard_core::run_gates(std::shared_ptr<const mapped_file> bytes, received_file* file)
    SLOTGUARD_REQUIRES(apply_mu_) SLOTGUARD_EXCLUDES(io_mu_) {
  struct discard_at_end {
    guard_core* g;
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
    auto v = verify_signatures(detail_guard_access::bundle(*c), opts_.trust);
    if (!v) return reject(seq, v.error());
    auto e = check_eligibility(m, vo);
    if (!e) return reject(seq, e.error());
  }
  if (is_recall) return apply_recall(*c);
  if (seq == trial_seq) return reject(seq, errc::already_active);

  // validate
  {
    std::string why;
    auto v = detail_guard_access::validate_content(detail_guard_access::bundle(*c), opts_.check,
                                                  detail_guard_access::records(*c), &why);
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
inline probe_report detail::guard_core::run_probe(const active_content& c) const {
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
  auto ws = make_probe_workspace(opts_.probe_dir, c.tree() != nullptr ? byte_view() : c.payload());
  if (!ws) return not_started(ws.error(), "the candidate's workspace: ");
  if (c.tree() == nullptr) {
    in.path = ws->file();
    return opts_.candidate_probe.run_with_report(in);
  }
  native_storage local;
  const std::string tree_dir = detail::join_path(ws->dir(), "tree");
  auto unpacked = unpack_tree(local, tree_dir, *c.tree(), read_at_memory(c.payload()));
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

inline std::string detail::guard_core::probe_detail(const probe_report& r) {
  std::string d = r.summary();
  if (!r.isolation.empty()) d += "; isolation: " + r.isolation;
  d += "; " + std::to_string(r.elapsed.count()) + " ms";
  if (!r.output_tail.empty()) d += "; output: " + r.output_tail;
  return d;
}

// The stage hook that puts a candidate's files in its slot's directory.
inline stage_hook detail::guard_core::files_hook(const active_content& c) const {
  if (c.tree() == nullptr && !opts_.payload_file) return stage_hook();
  storage* fs = opts_.fs;
  const active_content* cp = &c;
  return [fs, cp](const std::string&, const std::string& dir) -> result<void> {
    const byte_view payload = cp->payload();
    if (cp->tree() != nullptr) return unpack_tree(*fs, dir, *cp->tree(), read_at_memory(payload));
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

inline result<void> detail::guard_core::apply_recall(const active_content& c) SLOTGUARD_EXCLUDES(io_mu_) {
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

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_DETAIL_GUARD_GATES_HPP
