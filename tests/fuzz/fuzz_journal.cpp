// SPDX-License-Identifier: Apache-2.0
// Journal decoding and store recovery from arbitrary bytes: never crash, never
// accept a record whose CRC does not hold, accept only records that encode
// back to exactly the same bytes, and open a store from any pair of journal
// files either with a decoded state or with an error, after which every
// operation still behaves.
#include <slotguard/crc.hpp>
#include <slotguard/sim_storage.hpp>
#include <slotguard/slot_store.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace sg = slotguard;

namespace {

void require(bool cond) {
  if (!cond) std::abort();
}

void check_record(sg::byte_view in) {
  auto st = sg::detail::decode_journal(in);
  if (!st) return;
  require(in.size() >= 4);
  require(sg::crc32c(in.sub(0, in.size() - 4)) == sg::detail::load_le32(in.data() + in.size() - 4));
  const auto again = sg::detail::encode_journal(*st);
  if (in.size() >= 4 && in.data()[3] == '1') {
    // A version 1 record is rewritten as version 2, meaning the same state.
    auto back = sg::detail::decode_journal(sg::byte_view(again));
    require(back.has_value() && *back == *st);
  } else {
    require(sg::byte_view(again) == in);
  }
}

// No role holds one of these sequences (after a recall of them, or the
// breaker's step on one). Other roles may hold a quarantined sequence: a
// journal can record one (content re-delivered under the fallback's
// sequence and refused), and neither call is about it.
void require_in_no_role(const sg::store_state& st, const std::vector<std::uint64_t>& seqs) {
  for (auto role : {st.active, st.fallback, st.staged})
    if (role)
      for (std::uint64_t q : seqs) require(st.slot(*role).sequence != q);
}

void check_recovery(sg::byte_view j0, sg::byte_view j1, bool with_j1) {
  sg::sim_storage fs;
  require(fs.mkdir("/c").has_value());
  fs.poke("/c/journal.0", j0);
  if (with_j1) fs.poke("/c/journal.1", j1);
  auto s = sg::slot_store::open(fs, "/c");
  if (!s) return;
  // The state is one of the records as decoded.
  auto d0 = sg::detail::decode_journal(j0);
  auto d1 = with_j1 ? sg::detail::decode_journal(j1) : sg::result<sg::store_state>(sg::errc::not_found);
  require((d0 && *d0 == s->state()) || (d1 && *d1 == s->state()));
  // The slot files do not exist: loading refuses, and operations behave.
  auto l = s->load_active();
  require(!l);
  // A clean stop's release_start changes the start count alone, by one at
  // most; refused, it changes nothing.
  {
    const sg::store_state before = s->state();
    if (s->release_start()) {
      require(before.trial);
      sg::store_state after = s->state();
      require(after.starts_used == (before.starts_used == 0 ? 0 : before.starts_used - 1));
      after.starts_used = before.starts_used;
      after.generation = before.generation;
      require(after == before);
    } else {
      require(s->state() == before);
    }
  }
  const std::uint8_t bytes[3] = {1, 2, 3};
  const std::uint64_t seq = s->state().floor + 1;
  const auto floor = s->state().floor;
  if (seq != 0 && s->stage(sg::byte_view(bytes, 3), seq)) {
    require(s->state().staged.has_value());
    if (s->begin_trial(1)) {
      (void)s->count_start();
      require(s->load_active().has_value());
      require(s->commit().has_value());
      require(s->state().floor == seq);
    }
  }
  require(s->state().floor >= floor);
  (void)s->quarantine(seq + 1);
  (void)s->rollback();
  // A start, a recall of whatever is active, and a breaker step: whatever
  // they do or refuse, no role is left holding a quarantined sequence.
  {
    const sg::store_state before = s->state();
    auto run = s->begin_run();
    if (run) require(run->crashes == before.streak);
    else require(s->state() == before);
  }
  const sg::store_state& st = s->state();
  std::vector<std::uint64_t> recalled;
  if (st.active) recalled.push_back(st.slot(*st.active).sequence);
  if (s->recall(recalled)) require_in_no_role(s->state(), recalled);
  if (s->state().active && !s->state().trial) {
    const std::uint64_t crasher = s->state().slot(*s->state().active).sequence;
    if (s->enter_safe_mode(crasher)) require_in_no_role(s->state(), {crasher});
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const sg::byte_view in(data, size);
  check_record(in);
  check_recovery(in, sg::byte_view(), false);
  // The first byte splits the rest into two journal files.
  if (size > 1) {
    const std::size_t cut = 1 + (data[0] * (size - 1)) / 255;
    const sg::byte_view rest = in.sub(1);
    check_record(rest.sub(0, cut - 1));
    check_record(rest.sub(cut - 1));
    check_recovery(rest.sub(0, cut - 1), rest.sub(cut - 1), true);
  }
  return 0;
}
