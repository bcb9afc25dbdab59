// SPDX-License-Identifier: Apache-2.0
// Power loss and I/O errors at every storage call of every operation of many
// operation sequences, on the simulator. After each cut the machine reboots
// keeping only what was durable, or that plus any subset of the unsynced
// operations, or with an unsynced write torn at a byte; the store must open
// and hold exactly the state before or after the interrupted operation (the
// state after every operation that returned), with every slot it names
// loading with the right bytes (invariant 1). An I/O error at any call makes
// the operation fail and change nothing, in memory, on reopening and after a
// power cut (invariant 2); the last known-good file is never written during a
// trial (invariant 3); the floor only goes down by rollback (invariant 4).
#include <slotguard/sim_storage.hpp>
#include <slotguard/slot_store.hpp>
#include <slotguard/tree.hpp>

#include <catch2/catch.hpp>

#include "support.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace sg = slotguard;
using sg::errc;
using sg::slot_id;

namespace {

const std::string dir = "/var/chan";

std::vector<std::uint8_t> content(std::uint64_t seq) {
  const auto size = 60 + static_cast<std::size_t>((seq * 37) % 700);
  return slotguard_test::pseudo_random_bytes(seq, size, 7);
}

// Stages of even sequences also unpack a tree payload into the slot's
// directory (what the guard does for a tree bundle): one file holding the
// sequence's content (tree_test's own tests cover directories). A slot a
// record names must have its whole tree exactly when its sequence is even;
// no other tree may survive an open.
bool has_tree(std::uint64_t seq) { return seq % 2 == 0; }
struct tree_of_seq {
  std::vector<std::uint8_t> payload;
  sg::tree_index index;
};
const tree_of_seq& tree_for(std::uint64_t seq) {
  static std::map<std::uint64_t, tree_of_seq> cache;
  auto it = cache.find(seq);
  if (it != cache.end()) return it->second;
  const auto big = content(seq);
  std::vector<sg::tree_entry> entries(1);
  entries[0].path = "x";
  entries[0].size = big.size();
  entries[0].sha256 = sg::sha256_of(sg::byte_view(big));
  tree_of_seq t;
  t.index = sg::build_tree_index(std::move(entries)).value();
  t.payload = sg::encode_tree_table(t.index).value();
  t.payload.insert(t.payload.end(), big.begin(), big.end());
  return cache.emplace(seq, std::move(t)).first->second;
}

sg::stage_hook tree_hook(sg::storage& fs, std::uint64_t seq) {
  return [&fs, seq](const std::string&, const std::string& slot_dir) -> sg::result<void> {
    const tree_of_seq& t = tree_for(seq);
    return sg::unpack_tree(fs, slot_dir, t.index, sg::read_at_memory(sg::byte_view(t.payload)));
  };
}

// stage_trial(seq): stage and begin a trial of budget 1 with its first start
// counted, in one record (what the guard's apply does).
// release: give back one counted start (what the guard's clean shutdown does).
// begin_run: a process start (crash streak, and a trial's start), in one record.
// healthy: the run was healthy (streak ends; the active committed sequence
// becomes the last known-safe).
// recall(a): a recall of the sequences a and the active one, in one record.
// safe_mode: the crash-streak breaker's step on the active sequence.
// unquarantine(a): an operator lifts a quarantine.
enum class op_kind {
  stage, trial, start, commit, revert, rollback, quarantine, reopen, verify, stage_trial, release,
  begin_run, healthy, recall, safe_mode, unquarantine
};

struct op {
  op_kind kind;
  std::uint64_t arg = 0;
};

std::string describe(const op& o) {
  static const char* names[] = {"stage",    "trial",        "start",     "commit",  "revert",
                                "rollback", "quarantine",   "reopen",    "verify",  "stage_trial",
                                "release",  "begin_run",    "healthy",   "recall",  "safe_mode",
                                "unquarantine"};
  return std::string(names[static_cast<int>(o.kind)]) + "(" + std::to_string(o.arg) + ")";
}

// What the store must hold, by sequence numbers, written from the contract
// independently of the store's code.
struct model {
  std::optional<std::uint64_t> active, fallback, staged;
  bool trial = false;
  std::uint32_t starts = 0, budget = 0;
  std::uint64_t floor = 0;
  std::vector<std::uint64_t> quarantine;
  std::uint32_t streak = 0;
  std::uint64_t safe = 0;
  sg::breaker_mode mode = sg::breaker_mode::normal;

  bool quarantined(std::uint64_t s) const {
    return std::find(quarantine.begin(), quarantine.end(), s) != quarantine.end();
  }
  void add_quarantine(std::uint64_t s) {
    if (quarantined(s)) return;
    quarantine.push_back(s);
    if (quarantine.size() > sg::slot_store::quarantine_capacity) {
      auto inert = std::find_if(quarantine.begin(), quarantine.end(),
                                [&](std::uint64_t q) { return q <= floor && q != s; });
      quarantine.erase(inert != quarantine.end() ? inert : quarantine.begin());
    }
  }
  // A sequence that leaves every role (a recall, a breaker step).
  void drop(std::uint64_t s) {
    if (active == s) active.reset();
    if (fallback == s) fallback.reset();
    if (staged == s) staged.reset();
  }
  // Applies o; returns what the store must return.
  errc apply(const op& o) {
    switch (o.kind) {
      case op_kind::stage:
        if (o.arg == 0) return errc::invalid_argument;
        if (quarantined(o.arg)) return errc::quarantined;
        if (o.arg <= floor) return errc::sequence_rollback;
        if (trial) {
          active = fallback;
          trial = false;
          starts = budget = 0;
        }
        fallback.reset();
        staged = o.arg;
        return errc::ok;
      case op_kind::trial:
        if (trial) return errc::trial_active;
        if (!staged) return errc::no_content;
        if (o.arg == 0) return errc::invalid_argument;
        if (quarantined(*staged)) return errc::quarantined;
        if (*staged <= floor) return errc::sequence_rollback;
        fallback = active;
        active = staged;
        staged.reset();
        trial = true;
        starts = 0;
        budget = static_cast<std::uint32_t>(o.arg);
        return errc::ok;
      case op_kind::start:
        if (!trial) return errc::no_trial;
        ++starts;
        return errc::ok;
      case op_kind::release:
        if (!trial) return errc::no_trial;
        if (starts > 0) --starts;
        return errc::ok;
      case op_kind::commit:
        if (!trial) return errc::no_trial;
        trial = false;
        starts = budget = 0;
        floor = std::max(floor, *active);
        mode = sg::breaker_mode::normal;
        return errc::ok;
      case op_kind::revert:
        if (!trial) return errc::no_trial;
        add_quarantine(*active);
        active = fallback;
        fallback.reset();
        trial = false;
        starts = budget = 0;
        if (active && quarantined(*active)) active.reset();
        streak = std::min<std::uint32_t>(streak, 1);
        return errc::ok;
      case op_kind::rollback:
        if (trial) return errc::trial_active;
        if (!fallback) return errc::no_fallback;
        if (quarantined(*fallback)) return errc::quarantined;
        std::swap(active, fallback);
        floor = *active;
        return errc::ok;
      case op_kind::begin_run:
        ++streak;
        if (trial) ++starts;
        return errc::ok;
      case op_kind::healthy:
        streak = 0;
        if (!trial && active) safe = *active;
        if (mode == sg::breaker_mode::safe || mode == sg::breaker_mode::not_content) mode = sg::breaker_mode::normal;
        return errc::ok;
      case op_kind::recall: {
        std::vector<std::uint64_t> list{o.arg};
        if (active) list.push_back(*active);
        for (auto q : list) add_quarantine(q);
        auto listed = [&](const std::optional<std::uint64_t>& r) {
          return r && std::find(list.begin(), list.end(), *r) != list.end();
        };
        if (trial && listed(active)) {
          active = fallback;
          fallback.reset();
          trial = false;
          starts = budget = 0;
          if (active && quarantined(*active)) active.reset();
        } else {
          if (listed(fallback)) fallback.reset();
          if (listed(staged)) staged.reset();
          if (!trial && listed(active)) {
            active = fallback;
            fallback.reset();
            if (active && quarantined(*active)) active.reset();  // never back to quarantined content
          }
        }
        return errc::ok;
      }
      case op_kind::safe_mode: {
        if (trial) return errc::trial_active;
        if (!active) return errc::no_content;  // (the harness does not call the store then)
        const std::uint64_t crasher = *active;
        add_quarantine(crasher);
        active.reset();
        if (fallback && !quarantined(*fallback)) {
          active = fallback;
          fallback.reset();
        } else {
          fallback.reset();  // quarantined content never comes back
        }
        mode = sg::breaker_mode::safe;
        return errc::ok;
      }
      case op_kind::unquarantine:
        quarantine.erase(std::remove(quarantine.begin(), quarantine.end(), o.arg), quarantine.end());
        return errc::ok;
      case op_kind::quarantine:
        add_quarantine(o.arg);
        return errc::ok;
      case op_kind::stage_trial: {
        const errc e = apply({op_kind::stage, o.arg});
        if (e != errc::ok) return e;
        fallback = active;
        active = staged;
        staged.reset();
        trial = true;
        starts = 1;
        budget = 1;
        return errc::ok;
      }
      case op_kind::reopen:
      case op_kind::verify:
        return errc::ok;
    }
    return errc::internal;
  }
  friend bool operator==(const model& a, const model& b) {
    return a.active == b.active && a.fallback == b.fallback && a.staged == b.staged &&
           a.trial == b.trial && a.starts == b.starts && a.budget == b.budget && a.floor == b.floor &&
           a.quarantine == b.quarantine && a.streak == b.streak && a.safe == b.safe && a.mode == b.mode;
  }
  friend bool operator!=(const model& a, const model& b) { return !(a == b); }
};

std::string describe(const model& m) {
  std::ostringstream os;
  auto o = [&](const std::optional<std::uint64_t>& v) { return v ? std::to_string(*v) : std::string("-"); };
  os << "active " << o(m.active) << " fallback " << o(m.fallback) << " staged " << o(m.staged)
     << (m.trial ? " trial " : " ") << m.starts << "/" << m.budget << " floor " << m.floor << " q"
     << m.quarantine.size() << " streak " << m.streak << " safe " << m.safe << " mode "
     << sg::to_string(m.mode);
  return os.str();
}

model from_store(const sg::store_state& st) {
  model m;
  auto seq = [&](const std::optional<slot_id>& s) -> std::optional<std::uint64_t> {
    if (!s) return std::nullopt;
    return st.slot(*s).sequence;
  };
  m.active = seq(st.active);
  m.fallback = seq(st.fallback);
  m.staged = seq(st.staged);
  m.trial = st.trial;
  m.starts = st.starts_used;
  m.budget = st.start_budget;
  m.floor = st.floor;
  m.quarantine = st.quarantine;
  m.streak = st.streak;
  m.safe = st.safe_sequence;
  m.mode = st.mode;
  return m;
}

// Invariant 1 for a recovered store: every slot the state names loads, with
// the bytes that were staged under its sequence; the active one without
// falling back.
bool slots_load(sg::storage& fs, const sg::slot_store& s, std::string& why) {
  const auto& st = s.state();
  for (const auto& role : {st.active, st.fallback, st.staged}) {
    if (!role) continue;
    auto b = s.load(*role);
    if (!b) {
      why = std::string("slot ") + sg::to_string(*role) + " does not load: " + sg::to_string(b.error());
      return false;
    }
    if (*b != content(st.slot(*role).sequence)) {
      why = "slot content differs from what was staged";
      return false;
    }
    const std::uint64_t seq = st.slot(*role).sequence;
    if (!has_tree(seq)) {
      if (fs.exists(s.slot_dir(*role)).value_or(true)) {
        why = std::string("slot ") + sg::to_string(*role) + " has a directory it was never given";
        return false;
      }
      continue;
    }
    std::string at;
    auto t = sg::verify_unpacked_tree(fs, s.slot_dir(*role), tree_for(seq).index, &at);
    if (!t) {
      why = std::string("slot ") + sg::to_string(*role) + "'s tree is not whole: " + sg::to_string(t.error()) + " at " + at;
      return false;
    }
  }
  // Nothing else: no received file, no tree of a slot no record names.
  auto names = fs.list(dir);
  if (!names) {
    why = "the store's directory cannot be listed";
    return false;
  }
  for (const std::string& name : *names) {
    const std::string p = dir + "/" + name;
    bool named = name == "lock" || name == "journal.0" || name == "journal.1";
    for (const slot_id id : {slot_id::a, slot_id::b})
      if (st.slot(id).present && (p == s.slot_path(id) || p == s.slot_dir(id))) named = true;
    if (!named) {
      why = "a leftover survived the open: " + name;
      return false;
    }
  }
  if (st.active) {
    auto l = s.load_active();
    if (!l || l->from_fallback) {
      why = "active content does not load";
      return false;
    }
  }
  return true;
}

struct harness {
  sg::sim_storage fs;
  std::optional<sg::slot_store> store;
  std::size_t lkg_writes = 0;  // writes to a file the state names (invariant 3)

  harness() {
    fs.on_write([this](const std::string& path, sg::byte_view) {
      if (!store) return;
      for (slot_id id : {slot_id::a, slot_id::b})
        if (path == store->slot_path(id)) ++lkg_writes;
    });
  }
  harness(const harness&) = delete;
  harness& operator=(const harness&) = delete;

  errc open() {
    store.reset();
    auto s = sg::slot_store::open(fs, dir);
    if (!s) return s.error();
    store.emplace(std::move(*s));
    return errc::ok;
  }
  // Runs o; returns its errc (ok on success).
  errc run(const op& o) {
    if (o.kind == op_kind::reopen) return open();
    if (!store) return open();
    sg::slot_store& s = *store;
    auto code = [](const sg::result<void>& r) { return r ? errc::ok : r.error(); };
    switch (o.kind) {
      case op_kind::stage: {
        const auto c = content(o.arg);
        const sg::stage_hook hook = tree_hook(fs, o.arg);
        return code(s.stage(sg::byte_view(c), o.arg, has_tree(o.arg) ? &hook : nullptr));
      }
      case op_kind::trial: return code(s.begin_trial(static_cast<std::uint32_t>(o.arg)));
      case op_kind::stage_trial: {
        // Received first (a bundle streamed into the store), then adopted.
        const auto c = content(o.arg);
        auto r = s.receive(c.size(), [&c](const std::function<sg::result<void>(sg::byte_view)>& write) -> sg::result<void> {
          const std::size_t half = c.size() / 2;
          SLOTGUARD_TRY(write(sg::byte_view(c.data(), half)));
          return write(sg::byte_view(c.data() + half, c.size() - half));
        });
        if (!r) return r.error();
        const sg::stage_hook hook = tree_hook(fs, o.arg);
        return code(s.stage_trial(std::move(*r), o.arg, 1, 1, has_tree(o.arg) ? &hook : nullptr));
      }
      case op_kind::start: {
        auto r = s.count_start();
        return r ? errc::ok : r.error();
      }
      case op_kind::release: return code(s.release_start());
      case op_kind::commit: return code(s.commit());
      case op_kind::revert: return code(s.revert());
      case op_kind::rollback: return code(s.rollback());
      case op_kind::quarantine: return code(s.quarantine(o.arg));
      case op_kind::begin_run: {
        auto r = s.begin_run();
        return r ? errc::ok : r.error();
      }
      case op_kind::healthy: {
        const auto& st = s.state();
        return code(s.mark_healthy(!st.trial && st.active ? st.slot(*st.active).sequence : 0));
      }
      case op_kind::recall: {
        std::vector<std::uint64_t> list{o.arg};
        const auto& st = s.state();
        if (st.active) list.push_back(st.slot(*st.active).sequence);
        return code(s.recall(list));
      }
      case op_kind::safe_mode: {
        const auto& st = s.state();
        if (!st.trial && !st.active) return errc::no_content;
        return code(s.enter_safe_mode(st.active ? st.slot(*st.active).sequence : 0));
      }
      case op_kind::unquarantine: return code(s.release(o.arg));
      case op_kind::verify: {
        auto l = s.load_active();
        if (l) return l->bytes == content(l->sequence) ? errc::ok : errc::internal;
        return l.error() == errc::no_content ? errc::ok : l.error();
      }
      case op_kind::reopen: break;
    }
    return errc::internal;
  }
};

std::vector<op> fixed_scenario() {
  return {{op_kind::stage, 1},      {op_kind::trial, 2},    {op_kind::start},
          {op_kind::commit},        {op_kind::verify},      {op_kind::stage, 2},
          {op_kind::trial, 1},      {op_kind::reopen},      {op_kind::start},
          {op_kind::start},         {op_kind::revert},      {op_kind::stage, 2},
          {op_kind::stage, 3},      {op_kind::trial, 1},    {op_kind::commit},
          {op_kind::rollback},      {op_kind::quarantine, 9}, {op_kind::stage, 4},
          {op_kind::trial, 1},      {op_kind::stage, 5},    {op_kind::trial, 3},
          {op_kind::commit},        {op_kind::rollback},    {op_kind::rollback},
          {op_kind::verify},        {op_kind::stage_trial, 6}, {op_kind::reopen},
          {op_kind::start},         {op_kind::release},     {op_kind::release},
          {op_kind::reopen},        {op_kind::start},       {op_kind::stage_trial, 7}, {op_kind::commit},
          {op_kind::release},
          {op_kind::stage_trial, 8}, {op_kind::revert},     {op_kind::stage_trial, 7},
          {op_kind::verify},
          // The breaker's bookkeeping, a recall and a release.
          {op_kind::stage_trial, 10}, {op_kind::commit},    {op_kind::begin_run},
          {op_kind::begin_run},      {op_kind::healthy},    {op_kind::begin_run},
          {op_kind::stage_trial, 11}, {op_kind::commit},    {op_kind::begin_run},
          {op_kind::safe_mode},      {op_kind::begin_run},  {op_kind::healthy},
          {op_kind::stage_trial, 12}, {op_kind::recall, 3}, {op_kind::unquarantine, 11},
          {op_kind::stage_trial, 13}, {op_kind::begin_run}, {op_kind::recall, 2},
          {op_kind::verify}};
}

// Mostly legal random sequences, with some calls the store must refuse.
std::vector<op> random_scenario(std::uint64_t seed, std::size_t length) {
  std::uint64_t x = seed * 0x9E3779B97F4A7C15ull + 12345;
  auto next = [&x](std::uint64_t n) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x % n;
  };
  std::vector<op> ops;
  std::uint64_t seq = 1;
  model m;
  while (ops.size() < length) {
    op o{op_kind::verify};
    const auto r = next(100);
    if (r < 14) o = {op_kind::stage, seq++};
    else if (r < 22) o = {op_kind::stage_trial, seq++};
    else if (r < 26) o = {op_kind::stage, seq > 3 ? seq - 3 : 1};  // often refused
    else if (r < 42) o = {op_kind::trial, 1 + next(3)};
    else if (r < 52) o = {op_kind::start};
    else if (r < 66) o = {op_kind::commit};
    else if (r < 76) o = {op_kind::revert};
    else if (r < 83) o = {op_kind::rollback};
    else if (r < 88) o = {op_kind::quarantine, seq + next(3)};
    else if (r < 90) o = {op_kind::reopen};
    else if (r < 92) o = {op_kind::release};
    else if (r < 94) o = {op_kind::begin_run};
    else if (r < 95) o = {op_kind::healthy};
    else if (r < 96) o = {op_kind::recall, seq > 2 ? seq - 2 : 1};
    else if (r < 97) o = {op_kind::safe_mode};
    else if (r < 98) o = {op_kind::unquarantine, seq > 4 ? seq - 4 : 1};
    ops.push_back(o);
    (void)m.apply(o);
  }
  return ops;
}

struct reference {
  std::vector<model> after;          // after[k]: state after op k; after[0]: after open
  std::vector<std::uint64_t> end;    // end[k]: call count when op k returned
  std::vector<sg::store_state> raw;  // the store's own states, for diagnostics
};

// Runs the scenario without faults, checking the store against the model.
reference run_reference(const std::vector<op>& ops) {
  reference ref;
  harness h;
  REQUIRE(h.open() == errc::ok);
  model m;
  ref.after.push_back(m);
  ref.end.push_back(h.fs.call_count());
  for (std::size_t k = 0; k < ops.size(); ++k) {
    INFO("op " << k << " " << describe(ops[k]));
    const auto floor_before = h.store->state().floor;
    const errc want = m.apply(ops[k]);
    const errc got = h.run(ops[k]);
    REQUIRE(got == want);
    REQUIRE(from_store(h.store->state()) == m);
    if (ops[k].kind != op_kind::rollback) REQUIRE(h.store->state().floor >= floor_before);
    ref.after.push_back(m);
    ref.end.push_back(h.fs.call_count());
  }
  REQUIRE(h.lkg_writes == 0);
  return ref;
}

struct tally {
  std::unordered_set<std::uint64_t> states;
  std::uint64_t checks = 0;
  std::uint64_t failures = 0;
};

// Reboots a copy of the cut machine with `cut` and checks what opens.
void check_reboot(const sg::sim_storage& machine, const sg::sim_power_cut& cut,
                  const std::vector<const model*>& allowed, tally& t, const std::string& where) {
  sg::sim_storage fs = machine;
  fs.on_write(nullptr);
  fs.reboot(cut);
  t.states.insert(fs.fingerprint());
  ++t.checks;
  auto s = sg::slot_store::open(fs, dir);
  std::string why;
  if (!s) {
    why = std::string("open failed: ") + sg::to_string(s.error());
  } else {
    const model got = from_store(s->state());
    bool match = false;
    for (const model* m : allowed) match = match || got == *m;
    if (!match) {
      why = "state " + describe(got) + " is none of:";
      for (const model* m : allowed) why += " [" + describe(*m) + "]";
    } else {
      slots_load(fs, *s, why);
    }
  }
  if (!why.empty()) {
    ++t.failures;
    if (t.failures <= 10) FAIL_CHECK(where << ": " << why);
  }
}

void power_cut_all(const std::vector<op>& ops, const reference& ref, tally& t, bool quick) {
  const std::uint64_t total = ref.end.back();
  for (std::uint64_t n = 1; n <= total; ++n) {
    harness h;
    h.fs.cut_power_after(n);
    (void)h.open();
    for (std::size_t k = 0; k < ops.size() && h.fs.powered(); ++k) (void)h.run(ops[k]);
    if (h.fs.powered()) h.fs.cut_power();
    REQUIRE(h.lkg_writes == 0);
    // ops[k-1] (after[k]) is the last that returned, when end[k] <= n.
    std::size_t done = 0;
    while (done + 1 < ref.end.size() && ref.end[done + 1] <= n) ++done;
    // Cut inside an operation: its before or after state. Cut right after
    // an operation's last call: only its after state.
    std::vector<const model*> allowed{&ref.after[done]};
    if (ref.end[done] < n && done + 1 < ref.after.size()) allowed.push_back(&ref.after[done + 1]);
    const std::string where = "cut after call " + std::to_string(n) +
                              (done < ops.size() ? " during " + describe(ops[done]) : std::string());
    h.store.reset();  // the dead process's handles are gone with the power

    const auto pending = h.fs.unsynced();
    sg::sim_power_cut cut;
    check_reboot(h.fs, cut, allowed, t, where + " (durable only)");
    cut.keep = sg::sim_power_cut::keep_mode::everything;
    check_reboot(h.fs, cut, allowed, t, where + " (everything kept)");
    if (pending.empty()) continue;
    if (pending.size() <= (quick ? 4u : 8u)) {
      cut.keep = sg::sim_power_cut::keep_mode::mask;
      for (std::uint64_t mask = 1; mask + 1 < (std::uint64_t{1} << pending.size()); ++mask) {
        cut.mask = mask;
        check_reboot(h.fs, cut, allowed, t, where + " (mask " + std::to_string(mask) + ")");
      }
    } else {
      cut.keep = sg::sim_power_cut::keep_mode::random;
      for (std::uint64_t seed = 1; seed <= (quick ? 8u : 48u); ++seed) {
        cut.seed = seed;
        check_reboot(h.fs, cut, allowed, t, where + " (seed " + std::to_string(seed) + ")");
      }
    }
    // Torn writes: each unsynced write cut at a few bytes, the rest kept
    // or chosen at random.
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (pending[i].kind != sg::sim_call::write) continue;
      const std::size_t size = pending[i].size;
      for (std::size_t at : {std::size_t{0}, std::size_t{1}, size / 4, size / 3, size / 2, 2 * size / 3,
                             size - 1}) {
        if (at >= size) continue;
        sg::sim_power_cut tear;
        tear.keep = sg::sim_power_cut::keep_mode::everything;
        tear.tear_op = i;
        tear.tear_bytes = at;
        check_reboot(h.fs, tear, allowed, t, where + " (tear write " + std::to_string(i) + " at " + std::to_string(at) + ")");
        tear.keep = sg::sim_power_cut::keep_mode::random;
        for (std::uint64_t seed = 1; seed <= (quick ? 1u : 3u); ++seed) {
          tear.seed = seed * 7919 + at;
          check_reboot(h.fs, tear, allowed, t, where + " (tear, seed)");
        }
      }
    }
  }
}

// An I/O error at call n of the run: the operation that meets it fails and
// changes nothing (in memory, reopened, and after a power cut); retried, it
// succeeds, and the run ends where the reference did.
void io_error_all(const std::vector<op>& ops, const reference& ref, std::uint64_t& injected,
                  std::uint64_t& failures) {
  const std::uint64_t total = ref.end.back();
  for (std::uint64_t n = 1; n <= total; ++n) {
    harness h;
    h.fs.fail_nth_call(n);
    std::size_t k = 0;
    bool hit = false;
    auto fail = [&](const std::string& why) {
      ++failures;
      if (failures <= 10) FAIL_CHECK("io error at call " << n << ", op " << k << ": " << why);
    };
    errc r = h.open();
    if (r != errc::ok) {
      hit = true;
      ++injected;
      if (r != errc::io_error) fail(std::string("open returned ") + sg::to_string(r));
      if (h.open() != errc::ok) fail("open failed again");
    }
    for (; k < ops.size(); ++k) {
      const model& before = ref.after[k];
      const auto calls = h.fs.call_count();
      const errc want = model(before).apply(ops[k]);
      const bool was_open = h.store.has_value();
      r = h.run(ops[k]);
      const bool here = !hit && calls < n && h.fs.call_count() >= n;
      if (here) {
        hit = true;
        ++injected;
        if (r == want && r == errc::ok) {
          // Only a clean-up after the commit point may fail unreported.
          if (from_store(h.store->state()) != ref.after[k + 1]) fail("succeeded with the wrong state");
          continue;
        }
        if (r == want && ops[k].kind == op_kind::stage_trial) {
          // A stage refused after its content was received: the error met
          // the removal of the received file (best effort; the next open
          // removes it). Nothing changed.
          if (from_store(h.store->state()) != before) fail("refused with a changed state");
          continue;
        }
        if (ops[k].kind == op_kind::reopen) {
          r = h.open();
          if (r != errc::ok) fail("reopen failed again");
        } else {
          if (r != errc::io_error) fail(std::string("returned ") + sg::to_string(r));
          if (!was_open) fail("store was not open");
          if (from_store(h.store->state()) != before) fail("in-memory state changed");
          // Reopened: unchanged.
          if (h.open() != errc::ok) fail("reopen after the error failed");
          else if (from_store(h.store->state()) != before) fail("reopened state changed");
          // After a power cut right then: unchanged.
          sg::sim_storage copy = h.fs;
          copy.on_write(nullptr);
          copy.reboot();
          {
            auto s = sg::slot_store::open(copy, dir);
            std::string why;
            if (!s) fail("open after the cut failed");
            else if (from_store(s->state()) != before) fail("state after the cut changed");
            else if (!slots_load(copy, *s, why)) fail(why);
          }
          // Retried: behaves as in the reference run.
          r = h.run(ops[k]);
        }
      }
      if (r != want) fail(std::string("op returned ") + sg::to_string(r) + " instead of " + sg::to_string(want));
      if (!h.store || from_store(h.store->state()) != ref.after[k + 1]) {
        fail("state differs from the reference after " + describe(ops[k]));
        break;
      }
      if (h.store && ops[k].kind != op_kind::rollback && h.store->state().floor < before.floor)
        fail("floor went down");
    }
    if (h.lkg_writes != 0) fail("a file the state names was written");
  }
}

}  // namespace

TEST_CASE("power loss at every call of every operation recovers a whole state",
          "[store.crash][store.recovery]") {
  const bool quick = slotguard_test::quick_mode();
  std::vector<std::vector<op>> scenarios{fixed_scenario()};
  const std::uint64_t randoms = quick ? 3 : 80;
  for (std::uint64_t seed = 1; seed <= randoms; ++seed) scenarios.push_back(random_scenario(seed, 30));
  tally t;
  std::uint64_t calls = 0;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    INFO("scenario " << i);
    const reference ref = run_reference(scenarios[i]);
    calls += ref.end.back();
    power_cut_all(scenarios[i], ref, t, quick);
  }
  std::printf("crash_store: %zu scenarios, %llu cut points, %llu reboots checked, %zu distinct crash states%s\n",
              scenarios.size(), static_cast<unsigned long long>(calls),
              static_cast<unsigned long long>(t.checks), t.states.size(),
              quick ? " (quick mode: fewer scenarios and subsets)" : "");
  CHECK(t.failures == 0);
  if (!quick) CHECK(t.states.size() >= 10000);
}

TEST_CASE("an I/O error at every call of every operation changes nothing",
          "[store.crash][store.io_error]") {
  const bool quick = slotguard_test::quick_mode();
  std::vector<std::vector<op>> scenarios{fixed_scenario()};
  const std::uint64_t randoms = quick ? 3 : 40;
  for (std::uint64_t seed = 101; seed < 101 + randoms; ++seed) scenarios.push_back(random_scenario(seed, 30));
  std::uint64_t injected = 0, failures = 0;
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    INFO("scenario " << i);
    const reference ref = run_reference(scenarios[i]);
    io_error_all(scenarios[i], ref, injected, failures);
  }
  std::printf("crash_store: %llu injected I/O errors checked%s\n", static_cast<unsigned long long>(injected),
              quick ? " (quick mode)" : "");
  CHECK(injected > 100);
  CHECK(failures == 0);
}
