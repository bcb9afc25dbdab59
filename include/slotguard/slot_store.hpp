// SPDX-License-Identifier: Apache-2.0
// The crash-safe A/B slot store of one channel: two slots of opaque content
// (verified bundles), and a journal that records which slot is active, which
// is the fallback, whether a trial runs and how many process starts it used,
// the committed sequence floor and a bounded quarantine list. Every operation
// either completes or leaves the previous state, across power loss at any
// point (docs/STORE.md explains the layout and why each step is safe); the
// last known-good slot is never written while another is on trial; the floor
// only goes down by an operator's rollback(). It reaches the disk only through
// the storage interface, and holds the directory's lock for its lifetime.
#ifndef SLOTGUARD_SLOT_STORE_HPP
#define SLOTGUARD_SLOT_STORE_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/error.hpp>
#include <slotguard/events.hpp>
#include <slotguard/hash.hpp>
#include <slotguard/slot_id.hpp>
#include <slotguard/storage.hpp>
#include <slotguard/store_options.hpp>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// slot_id, other_slot, to_string(slot_id): slot_id.hpp.

// What the journal records about one slot. file_number names the slot's
// current file (slot-a.<n>); a slot's file is written once, when staged, and
// never again.
struct slot_info {
  bool present = false;
  std::uint64_t sequence = 0;
  std::uint64_t size = 0;
  sha256_digest sha256{};
  std::uint64_t file_number = 0;

  friend bool operator==(const slot_info& x, const slot_info& y) noexcept {
    return x.present == y.present && x.sequence == y.sequence && x.size == y.size &&
           x.sha256 == y.sha256 && x.file_number == y.file_number;
  }
  friend bool operator!=(const slot_info& x, const slot_info& y) noexcept { return !(x == y); }
};

// The store's whole state, as one journal record holds it.
//  - active: the slot whose content runs (the trial's slot during a trial).
//  - fallback: during a trial, the last known-good slot (none when nothing was
//    committed before); otherwise the previously committed content, which an
//    operator's rollback() can return to.
//  - staged: a slot holding content staged but not yet on trial.
// The last known-good slot is fallback during a trial and active otherwise.
struct store_state {
  std::uint64_t generation = 0;  // of the journal record; 0 for a new store
  std::optional<slot_id> active;
  std::optional<slot_id> fallback;
  std::optional<slot_id> staged;
  bool trial = false;
  std::uint32_t starts_used = 0;   // process starts counted against the trial
  std::uint32_t start_budget = 0;  // starts the trial may use before it is spent
  std::uint64_t floor = 0;         // committed sequence; stage() requires more
  std::array<slot_info, 2> slots{};
  std::vector<std::uint64_t> quarantine;  // oldest first, at most quarantine_capacity
  // The channel the store serves, recorded by its first write (empty: not
  // recorded yet, or a store written before channels were recorded).
  std::string channel;
  // Process starts since the last healthy run (each start counts itself;
  // a healthy run sets 0): the crash streak is this value at the next start.
  std::uint32_t streak = 0;
  std::uint64_t safe_sequence = 0;  // the newest sequence that completed a healthy run
  breaker_mode mode = breaker_mode::normal;

  const slot_info& slot(slot_id s) const noexcept { return slots[static_cast<std::size_t>(s)]; }
  slot_info& slot(slot_id s) noexcept { return slots[static_cast<std::size_t>(s)]; }
  // The slot that holds the last committed content, if any.
  std::optional<slot_id> last_known_good() const noexcept { return trial ? fallback : active; }
  bool is_quarantined(std::uint64_t sequence) const noexcept {
    return std::find(quarantine.begin(), quarantine.end(), sequence) != quarantine.end();
  }

  friend bool operator==(const store_state& x, const store_state& y) noexcept {
    return x.generation == y.generation && x.active == y.active && x.fallback == y.fallback &&
           x.staged == y.staged && x.trial == y.trial && x.starts_used == y.starts_used &&
           x.start_budget == y.start_budget && x.floor == y.floor && x.slots == y.slots &&
           x.quarantine == y.quarantine && x.channel == y.channel && x.streak == y.streak &&
           x.safe_sequence == y.safe_sequence && x.mode == y.mode;
  }
  friend bool operator!=(const store_state& x, const store_state& y) noexcept { return !(x == y); }
};

// A file received into the store's directory by receive(): durable, its
// size and SHA-256 known, named by no record until a stage adopts it (the
// next open() removes it otherwise).
struct received_file {
  std::string path;
  std::uint64_t size = 0;
  sha256_digest sha256{};
};

// Produces content for receive(): calls write with every chunk, in order.
using content_writer = std::function<result<void>(const std::function<result<void>(byte_view)>& write)>;

// Runs while a stage is in progress, after the slot's file is durable and
// before the record that names it: may fill slot_dir (which does not exist
// yet) durably, e.g. with a tree payload unpacked. A failure abandons the
// stage: the file and the directory are removed and nothing is recorded.
using stage_hook = std::function<result<void>(const std::string& slot_file, const std::string& slot_dir)>;

// Content read back from a slot, its hash checked again.
struct loaded_content {
  slot_id slot = slot_id::a;
  std::uint64_t sequence = 0;
  std::vector<std::uint8_t> bytes;
  // load_active() found the active slot corrupt and returned the fallback.
  bool from_fallback = false;
};

namespace detail {

// The journal record, little-endian, specified byte by byte in docs/STORE.md.
// Version 2 is written; version 1 records (no channel, no crash streak, at
// most 64 quarantined sequences) are still read.
inline constexpr std::uint8_t journal_magic_v1[4] = {'S', 'G', 'J', '1'};
inline constexpr std::uint8_t journal_magic[4] = {'S', 'G', 'J', '2'};
inline constexpr std::size_t journal_fixed_size_v1 = 152;  // up to the quarantine entries
inline constexpr std::size_t journal_max_quarantine_v1 = 64;
inline constexpr std::size_t journal_common_size = 148;  // header, roles, slots: the same in both
inline constexpr std::size_t journal_max_channel = 64;
// At least a recall's largest list (bundle_limits::max_recalls, 1024) four
// times over, so one recall never pushes out what an earlier one recorded.
inline constexpr std::size_t journal_max_quarantine = 4096;
// v2: common part, streak (4), safe sequence (8), mode (1), channel length
// (1), channel, quarantine count (4), entries, CRC (4).
inline constexpr std::size_t journal_min_size = journal_common_size + 4 + 8 + 1 + 1 + 4 + 4;
inline constexpr std::size_t journal_max_size =
    journal_min_size + journal_max_channel + 8 * journal_max_quarantine;
inline constexpr std::uint8_t journal_no_slot = 0xFF;
inline constexpr std::uint8_t journal_flag_trial = 1;
inline constexpr std::uint8_t journal_flag_slot_a = 2;
inline constexpr std::uint8_t journal_flag_slot_b = 4;

inline std::uint8_t encode_slot_ref(const std::optional<slot_id>& s) noexcept {
  return s ? static_cast<std::uint8_t>(*s) : journal_no_slot;
}

// Requires st.quarantine.size() <= journal_max_quarantine and
// st.channel.size() <= journal_max_channel.
inline std::vector<std::uint8_t> encode_journal(const store_state& st) {
  SLOTGUARD_ASSERT(st.quarantine.size() <= journal_max_quarantine);
  SLOTGUARD_ASSERT(st.channel.size() <= journal_max_channel);
  const std::size_t size = journal_min_size + st.channel.size() + 8 * st.quarantine.size();
  std::vector<std::uint8_t> out;
  out.reserve(size);
  out.insert(out.end(), journal_magic, journal_magic + 4);
  append_le32(out, static_cast<std::uint32_t>(size));
  append_le64(out, st.generation);
  append_le64(out, st.floor);
  out.push_back(encode_slot_ref(st.active));
  out.push_back(encode_slot_ref(st.fallback));
  out.push_back(encode_slot_ref(st.staged));
  std::uint8_t flags = 0;
  if (st.trial) flags |= journal_flag_trial;
  if (st.slots[0].present) flags |= journal_flag_slot_a;
  if (st.slots[1].present) flags |= journal_flag_slot_b;
  out.push_back(flags);
  append_le32(out, st.starts_used);
  append_le32(out, st.start_budget);
  for (const slot_info& s : st.slots) {
    append_le64(out, s.file_number);
    append_le64(out, s.sequence);
    append_le64(out, s.size);
    out.insert(out.end(), s.sha256.begin(), s.sha256.end());
  }
  append_le32(out, st.streak);
  append_le64(out, st.safe_sequence);
  out.push_back(static_cast<std::uint8_t>(st.mode));
  out.push_back(static_cast<std::uint8_t>(st.channel.size()));
  out.insert(out.end(), st.channel.begin(), st.channel.end());
  append_le32(out, static_cast<std::uint32_t>(st.quarantine.size()));
  for (std::uint64_t q : st.quarantine) append_le64(out, q);
  append_le32(out, crc32c(byte_view(out)));
  return out;
}

inline bool decode_slot_ref(std::uint8_t v, std::optional<slot_id>& out) noexcept {
  if (v == journal_no_slot) {
    out.reset();
    return true;
  }
  if (v > 1) return false;
  out = static_cast<slot_id>(v);
  return true;
}

// A recorded channel: what bundle_valid_channel accepts (letters, digits,
// '.', '-', '_'), checked here without the bundle header.
inline bool journal_valid_channel(std::string_view c) noexcept {
  if (c.size() > journal_max_channel) return false;
  for (char ch : c) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                    ch == '.' || ch == '-' || ch == '_';
    if (!ok) return false;
  }
  return true;
}

// Decodes and checks one journal record (version 2, or version 1). Fails with
// truncated, too_large, bad_magic, checksum_mismatch, or journal_corrupt for
// a record whose CRC holds but whose content is not a state the store can be
// in.
inline result<store_state> decode_journal(byte_view in) {
  if (in.size() > journal_max_size) return errc::too_large;
  if (in.size() < 4) return errc::truncated;
  const bool v1 = std::memcmp(in.data(), journal_magic_v1, 4) == 0;
  if (!v1 && std::memcmp(in.data(), journal_magic, 4) != 0) return errc::bad_magic;
  if (in.size() < (v1 ? journal_fixed_size_v1 + 4 : journal_min_size)) return errc::truncated;
  const std::size_t body = in.size() - 4;
  if (crc32c(in.sub(0, body)) != load_le32(in.data() + body)) return errc::checksum_mismatch;

  le_reader r(in.sub(4, body - 4));
  std::uint32_t length = 0, starts = 0, budget = 0, qcount = 0;
  std::uint8_t active = 0, fallback = 0, staged = 0, flags = 0;
  store_state st;
  r.u32(length);
  r.u64(st.generation);
  r.u64(st.floor);
  r.u8(active);
  r.u8(fallback);
  r.u8(staged);
  r.u8(flags);
  r.u32(starts);
  r.u32(budget);
  for (slot_info& s : st.slots) {
    byte_view digest;
    r.u64(s.file_number);
    r.u64(s.sequence);
    r.u64(s.size);
    if (r.bytes(32, digest)) std::copy(digest.begin(), digest.end(), s.sha256.begin());
  }
  std::size_t max_q = journal_max_quarantine_v1;
  if (!v1) {
    std::uint8_t mode = 0, clen = 0;
    byte_view chan;
    r.u32(st.streak);
    r.u64(st.safe_sequence);
    r.u8(mode);
    r.u8(clen);
    if (!r.ok()) return errc::truncated;
    if (mode > static_cast<std::uint8_t>(breaker_mode::not_content)) return errc::journal_corrupt;
    st.mode = static_cast<breaker_mode>(mode);
    if (clen > journal_max_channel) return errc::journal_corrupt;
    if (!r.bytes(clen, chan)) return errc::truncated;
    st.channel.assign(chan.as_chars());
    if (!journal_valid_channel(st.channel)) return errc::journal_corrupt;
    max_q = journal_max_quarantine;
  }
  r.u32(qcount);
  if (!r.ok()) return errc::truncated;
  if (length != in.size()) return errc::journal_corrupt;
  if (qcount > max_q || r.remaining() != 8 * std::size_t{qcount}) return errc::journal_corrupt;
  st.quarantine.resize(qcount);
  for (std::uint64_t& q : st.quarantine) r.u64(q);
  if (!r.ok()) return errc::truncated;

  if (st.generation == 0) return errc::journal_corrupt;
  if ((flags & ~(journal_flag_trial | journal_flag_slot_a | journal_flag_slot_b)) != 0)
    return errc::journal_corrupt;
  st.trial = (flags & journal_flag_trial) != 0;
  st.slots[0].present = (flags & journal_flag_slot_a) != 0;
  st.slots[1].present = (flags & journal_flag_slot_b) != 0;
  st.starts_used = starts;
  st.start_budget = budget;
  if (!decode_slot_ref(active, st.active) || !decode_slot_ref(fallback, st.fallback) ||
      !decode_slot_ref(staged, st.staged))
    return errc::journal_corrupt;

  for (const slot_info& s : st.slots) {
    if (s.present) {
      if (s.file_number == 0 || s.sequence == 0) return errc::journal_corrupt;
    } else if (s.file_number != 0 || s.sequence != 0 || s.size != 0 ||
               s.sha256 != sha256_digest{}) {
      return errc::journal_corrupt;
    }
  }
  auto refers_ok = [&](const std::optional<slot_id>& s) { return !s || st.slot(*s).present; };
  if (!refers_ok(st.active) || !refers_ok(st.fallback) || !refers_ok(st.staged))
    return errc::journal_corrupt;
  // The three roles never share a slot (two slots: at most two roles).
  if ((st.active && (st.active == st.fallback || st.active == st.staged)) ||
      (st.fallback && st.fallback == st.staged))
    return errc::journal_corrupt;
  if (st.trial) {
    if (!st.active || st.staged || st.start_budget == 0) return errc::journal_corrupt;
  } else if (st.starts_used != 0 || st.start_budget != 0) {
    return errc::journal_corrupt;
  }
  if (st.slots[0].present && st.slots[1].present &&
      st.slots[0].file_number == st.slots[1].file_number)
    return errc::journal_corrupt;
  return st;
}

// "slot-a.<n>" -> n; 0 when the name is not a slot file's.
inline std::uint64_t parse_slot_file_number(const std::string& name) noexcept {
  if (name.size() < 8 || name.compare(0, 5, "slot-") != 0 || (name[5] != 'a' && name[5] != 'b') ||
      name[6] != '.' || name.size() > 7 + 20)
    return 0;
  std::uint64_t n = 0;
  for (std::size_t i = 7; i < name.size(); ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return 0;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return 0;
    n = n * 10 + d;
  }
  return n;
}

inline std::string slot_file_name(slot_id s, std::uint64_t number) {
  return std::string("slot-") + to_string(s) + "." + std::to_string(number);
}

// SHA-256 of a stream on a helper thread: update() copies the chunk and
// returns while the previous one may still be hashed (one chunk in flight),
// so hashing overlaps the caller's write and its reading of the next chunk.
// Without exceptions (std::thread reports failure by throwing) or when not
// wanted, it hashes inline.
class pipelined_hasher {
 public:
  explicit pipelined_hasher(bool threaded) {
#if !SLOTGUARD_CONFIG_NO_EXCEPTIONS
    if (threaded) {
      try {
        worker_ = std::thread([this] { run(); });
      } catch (...) {
      }
    }
#else
    (void)threaded;
#endif
  }
  pipelined_hasher(const pipelined_hasher&) = delete;
  pipelined_hasher& operator=(const pipelined_hasher&) = delete;
  ~pipelined_hasher() { stop(); }

  void update(byte_view chunk) {
    if (!worker_.joinable()) {
      h_.update(chunk);
      return;
    }
    std::unique_lock<std::mutex> lock(mu_);
    idle_.wait(lock, [this] { return !busy_; });
    buf_.assign(chunk.begin(), chunk.end());
    busy_ = true;
    work_.notify_one();
  }
  sha256_digest finish() {
    stop();
    return h_.finish();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_.wait(lock, [this] { return busy_ || done_; });
      if (busy_) {
        lock.unlock();
        h_.update(byte_view(buf_));
        lock.lock();
        busy_ = false;
        idle_.notify_one();
        continue;
      }
      return;
    }
  }
  void stop() {
    if (!worker_.joinable()) return;
    {
      std::unique_lock<std::mutex> lock(mu_);
      idle_.wait(lock, [this] { return !busy_; });
      done_ = true;
      work_.notify_one();
    }
    worker_.join();
  }
  sha256 h_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable work_, idle_;
  std::vector<std::uint8_t> buf_;
  bool busy_ = false;
  bool done_ = false;
};

// A slot's directory is its file's name with ".d"; a received file is
// "incoming." and a number.
inline bool is_slot_dir_name(const std::string& name) noexcept {
  return name.size() > 2 && name.compare(name.size() - 2, 2, ".d") == 0 &&
         parse_slot_file_number(name.substr(0, name.size() - 2)) != 0;
}
inline bool is_incoming_name(const std::string& name) noexcept {
  return name.size() > 9 && name.compare(0, 9, "incoming.") == 0;
}

}  // namespace detail

// What begin_run() found and recorded.
struct run_start {
  // Starts before this one that never became healthy (crashed, killed, or
  // stopped without shutdown()): the crash streak this start begins with.
  std::uint32_t crashes = 0;
  // The running trial has now used more starts than its budget.
  bool budget_spent = false;
};

// One channel's store. Move-only; holds the directory's lock until destroyed
// (a read-only store holds none).
// Not thread-safe: one owner calls it (the guard serialises its callers).
class slot_store {
 public:
  // Opens (creating when needed) the store in directory dir: takes its lock,
  // makes what a previous owner left durable, recovers the newest valid
  // journal record and removes files no state refers to. Fails with busy when
  // another holder has the lock, read_only_store when the lock cannot be
  // taken for writing (a read-only file system or directory; see
  // open_read_only), insecure_permissions when the store or a file in it
  // belongs to another account or others may write to it (storage::
  // check_private), journal_corrupt when journal files exist but none is
  // valid, channel_mismatch when the store records a channel other than
  // opts.channel, or the storage's error.
  static result<slot_store> open(storage& fs, std::string dir, store_options opts = {});
  // Opens an existing store for reading only: no lock, no write, nothing
  // created or removed. Every operation that would write fails with
  // read_only_store. Fails with not_found (no such store), journal_corrupt,
  // channel_mismatch or the storage's error.
  static result<slot_store> open_read_only(storage& fs, std::string dir, store_options opts = {});

  slot_store(slot_store&& o) noexcept { take(o); }
  slot_store& operator=(slot_store&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  slot_store(const slot_store&) = delete;
  slot_store& operator=(const slot_store&) = delete;
  ~slot_store() { release(); }

  const store_state& state() const noexcept { return st_; }
  const std::string& directory() const noexcept { return dir_; }
  bool read_only() const noexcept { return read_only_; }
  // The path of the slot's current file; empty when the slot holds nothing.
  std::string slot_path(slot_id s) const;
  // The directory a stage_hook filled for the slot (it may not exist);
  // empty when the slot holds nothing.
  std::string slot_dir(slot_id s) const;
  // Files a reader still uses: when held(path of a slot file) is true, the
  // store leaves that file and its directory in place when the slot moves
  // on; sweep() removes them once they are no longer held.
  void set_hold(std::function<bool(const std::string& slot_file)> held) { held_ = std::move(held); }
  // Removes slot files, slot directories and received files that no record
  // names, no reader holds and no stage is about to adopt. Best effort.
  result<void> sweep();

  // Writes content into the slot that is not the last known-good one (the
  // trial's slot when a trial runs, which ends that trial without
  // quarantining it) and records it as staged. Requires sequence > floor and
  // not quarantined. Fails with invalid_argument (sequence 0), quarantined,
  // sequence_rollback, too_large, counter_exhausted, or the storage's error;
  // changes nothing then.
  result<void> stage(byte_view content, std::uint64_t sequence, const stage_hook* hook = nullptr);
  // stage() of a received file: it is renamed into the slot (no copy). The
  // file is consumed whatever the outcome (removed on failure).
  result<void> stage(received_file&& file, std::uint64_t sequence, const stage_hook* hook = nullptr);
  // stage() and begin_trial(start_budget) in one durable record, with
  // starts_used (at most start_budget) process starts already counted: 1
  // when the process that applies is the trial's first start. What applying
  // an update needs, without separate begin_trial and count_start writes.
  // After a crash the store holds either the state before or the trial.
  // Fails as stage() and begin_trial() do; changes nothing then.
  result<void> stage_trial(byte_view content, std::uint64_t sequence, std::uint32_t start_budget,
                           std::uint32_t starts_used = 0, const stage_hook* hook = nullptr);
  result<void> stage_trial(received_file&& file, std::uint64_t sequence, std::uint32_t start_budget,
                           std::uint32_t starts_used = 0, const stage_hook* hook = nullptr);
  // stage_trial() for a store whose committed active content is damaged
  // while the fallback is what readers are served: the candidate goes into
  // the damaged active slot and the fallback becomes the trial's last
  // known-good, in the same one record. Fails as stage_trial() does, and with
  // no_fallback when there is no committed active and fallback.
  result<void> stage_trial_over_active(byte_view content, std::uint64_t sequence, std::uint32_t start_budget,
                                       std::uint32_t starts_used = 0, const stage_hook* hook = nullptr);
  result<void> stage_trial_over_active(received_file&& file, std::uint64_t sequence,
                                       std::uint32_t start_budget, std::uint32_t starts_used = 0,
                                       const stage_hook* hook = nullptr);
  // Content too big for memory: writes size bytes, as produce gives them,
  // into a new file in the store's directory, durably, hashing them on the
  // way (on a helper thread for big chunks). Fails with too_large (above
  // max_slot_size, checked first), invalid_argument (produce gave another
  // number of bytes), produce's own error, or the storage's; nothing is
  // left behind then. Changes no state.
  result<received_file> receive(std::uint64_t size, const content_writer& produce);
  // Removes a received file that no stage will adopt.
  void discard(received_file&& file) noexcept;
  // Activates the staged slot on trial; the last known-good becomes the
  // fallback. start_budget >= 1 is how many process starts the trial may
  // use. Fails with trial_active, no_content (nothing staged), quarantined,
  // sequence_rollback or invalid_argument.
  result<void> begin_trial(std::uint32_t start_budget);
  // Counts one process start against the running trial, durably. Returns
  // true when the trial has now used more starts than its budget (the caller
  // reverts). Fails with no_trial.
  result<bool> count_start();
  // A process start, in one durable record: the crash streak grows by one
  // (this start counts itself until it is marked healthy) and a running
  // trial's start is counted. Returns the streak the start found and whether
  // the trial's budget is now spent.
  result<run_start> begin_run();
  // The process ran healthy: the crash streak ends (0), the served committed
  // sequence (0: none, or content on trial) becomes the last known-safe, and
  // a safe or not_content mode ends; with give_back_start, a running trial's
  // start is given back too (a clean stop: see release_start). One record;
  // writes nothing when nothing changes.
  result<void> mark_healthy(std::uint64_t served_committed_sequence, bool give_back_start = false);
  // Gives back one counted process start of the running trial, durably: the
  // host is stopping cleanly, so the start it used ended without a crash
  // and the next one should not spend the budget. Writes nothing when no
  // start is counted. Fails with no_trial.
  result<void> release_start();
  // Ends the trial with success: floor := the active sequence; the previous
  // content stays as fallback for an operator's rollback; the crash-streak
  // breaker returns to normal. Fails with no_trial.
  result<void> commit();
  // Ends the trial with failure: the last known-good becomes active again
  // (or nothing, when none was ever committed or it is quarantined), the
  // trial's sequence is quarantined, and the crash streak, which was the
  // trial's, is cut back to the current start. Fails with no_trial.
  result<void> revert();
  // Operator command: activates the fallback (after checking that it loads)
  // even when that lowers the floor, which becomes the fallback's sequence;
  // the current content becomes the fallback. Fails with trial_active (use
  // revert), no_fallback, quarantined (the fallback's sequence is), slot_corrupt.
  result<void> rollback();
  // Records sequence as never to be staged or tried again (see
  // quarantine_capacity). Recording one already held writes nothing.
  result<void> quarantine(std::uint64_t sequence);
  // A publisher's recall, in one durable record: every listed sequence is
  // quarantined, and none of them stays in any role: a recalled trial is
  // reverted, a recalled committed active gives way to the fallback or to
  // nothing, a recalled fallback is dropped. The floor stays where it is
  // (only an operator's rollback lowers it). Fails with
  // invalid_argument (more than quarantine_capacity sequences).
  result<void> recall(const std::vector<std::uint64_t>& sequences);
  // Operator command: lifts the quarantine of sequence. Writes nothing when
  // it is not quarantined.
  result<void> release(std::uint64_t sequence);
  // The crash-streak breaker's escalation: quarantines the crashing
  // sequence and serves the fallback in its place when it is present and not
  // quarantined, else nothing (the floor stays); mode := safe. One durable
  // record. Fails with trial_active.
  result<void> enter_safe_mode(std::uint64_t crashing_sequence);
  // Sets the breaker's mode (and, for normal, ends the streak). Writes
  // nothing when nothing changes.
  result<void> set_mode(breaker_mode mode);
  bool is_quarantined(std::uint64_t sequence) const noexcept { return st_.is_quarantined(sequence); }

  // The active content, its size and SHA-256 checked again. When the active
  // slot fails the check and the fallback passes, returns the fallback with
  // from_fallback set (the journal is not changed: the caller decides, e.g.
  // revert()). Fails with no_content, slot_corrupt, or the storage's error.
  result<loaded_content> load_active() const;
  // One slot's content, checked. Fails with no_content, slot_corrupt,
  // too_large (beyond max_slot_size) or the storage's error.
  result<std::vector<std::uint8_t>> load(slot_id s) const;
  // One slot's content as a read-only map of its file, size and SHA-256
  // checked. Fails as load() does.
  result<std::shared_ptr<const mapped_file>> map(slot_id s) const;

  // How many sequences the quarantine holds. When a new entry would exceed
  // it, entries at or below the floor go first (stage() refuses them anyway
  // until an operator's rollback lowers the floor), then the oldest.
  static constexpr std::size_t quarantine_capacity = detail::journal_max_quarantine;

 private:
  static constexpr std::uint64_t max_followed_number = UINT64_MAX / 2;
  slot_store(storage& fs, std::string dir, store_options opts, lock_handle lock, bool locked)
      : fs_(&fs), dir_(std::move(dir)), opts_(std::move(opts)), lock_(lock), locked_(locked),
        read_only_(!locked) {}

  void take(slot_store& o) noexcept {
    fs_ = o.fs_;
    dir_ = std::move(o.dir_);
    opts_ = std::move(o.opts_);
    lock_ = o.lock_;
    locked_ = o.locked_;
    read_only_ = o.read_only_;
    st_ = std::move(o.st_);
    journal_file_ = o.journal_file_;
    next_number_ = o.next_number_;
    held_ = std::move(o.held_);
    receiving_ = std::move(o.receiving_);
    o.locked_ = false;
  }
  void release() noexcept {
    if (locked_) {
      (void)fs_->unlock(lock_);
      locked_ = false;
    }
  }

  std::string path(const std::string& name) const { return detail::join_path(dir_, name); }
  std::string journal_path(int i) const { return path(i == 0 ? "journal.0" : "journal.1"); }
  result<void> write_state(store_state next);
  // Writes next (when it differs from the state) and then removes the files
  // of slots it empties.
  result<void> write_state_and_forget(store_state next);
  // The next number of the counter behind generations and slot file names.
  result<std::uint64_t> take_number() noexcept {
    if (next_number_ == 0 || next_number_ == UINT64_MAX) return errc::counter_exhausted;
    return next_number_++;
  }
  static void add_quarantine(store_state& st, std::uint64_t sequence);
  static void empty_slot(store_state& st, slot_id s) noexcept {
    st.slot(s) = slot_info{};
    if (st.active == s) st.active.reset();
    if (st.fallback == s) st.fallback.reset();
    if (st.staged == s) st.staged.reset();
  }
  struct trial_request {
    std::uint32_t start_budget;
    std::uint32_t starts_used;
    bool over_active;  // into the (damaged) committed active slot; the fallback becomes the last known-good
  };
  struct stage_input {
    byte_view bytes;
    received_file* file = nullptr;  // instead of bytes
    const stage_hook* hook = nullptr;
  };
  result<void> stage_impl(stage_input in, std::uint64_t sequence, const trial_request* trial);
  // Removes a slot's file and directory unless a reader holds them.
  void forget_slot(const std::string& file) noexcept {
    if (held_ && held_(file)) return;
    (void)fs_->remove(file);
    (void)detail::remove_path_tree(*fs_, file + ".d", false);
  }
  bool is_leftover(const std::string& name) const;
  result<void> write_new_file(const std::string& p, byte_view content);
  void forget(const std::string& p) noexcept { (void)fs_->remove(p); }
  result<void> read_journals();
  result<void> recover();

  storage* fs_ = nullptr;
  std::string dir_;
  store_options opts_;
  lock_handle lock_ = 0;
  bool locked_ = false;
  bool read_only_ = false;
  store_state st_;
  int journal_file_ = -1;          // which journal file holds st_ (-1: none yet)
  std::uint64_t next_number_ = 1;  // next generation / slot file number
  std::function<bool(const std::string&)> held_;
  std::vector<std::string> receiving_;  // received files not yet adopted or discarded
};

inline result<slot_store> slot_store::open(storage& fs, std::string dir, store_options opts) {
  if (dir.empty()) return errc::invalid_argument;
  auto made = fs.mkdir(dir);
  if (!made && made.error() != errc::already_exists) return made.error();
  auto lk = fs.lock(detail::join_path(dir, "lock"));
  if (!lk) return lk.error();
  slot_store s(fs, std::move(dir), std::move(opts), *lk, true);
  // Content that others could have written is not ours to serve.
  SLOTGUARD_TRY(fs.check_private(s.dir_));
  SLOTGUARD_TRY(s.recover());
  return s;
}

inline result<slot_store> slot_store::open_read_only(storage& fs, std::string dir, store_options opts) {
  if (dir.empty()) return errc::invalid_argument;
  auto there = fs.exists(dir);
  if (!there) return there.error();
  if (!*there) return errc::not_found;
  slot_store s(fs, std::move(dir), std::move(opts), 0, false);
  SLOTGUARD_TRY(s.read_journals());
  return s;
}

// Reads both journal files and adopts the newest valid record; checks the
// recorded channel. Writes nothing.
inline result<void> slot_store::read_journals() {
  std::optional<store_state> found[2];
  bool present[2] = {false, false};
  for (int i = 0; i < 2; ++i) {
    auto bytes = fs_->read_file(journal_path(i), detail::journal_max_size);
    if (!bytes) {
      if (bytes.error() == errc::not_found) continue;
      if (bytes.error() != errc::too_large) return bytes.error();
      present[i] = true;
      continue;
    }
    present[i] = true;
    auto st = detail::decode_journal(byte_view(*bytes));
    if (st) found[i] = std::move(*st);
  }
  int pick = -1;
  if (found[0] && (!found[1] || found[0]->generation >= found[1]->generation)) pick = 0;
  else if (found[1]) pick = 1;
  if (pick < 0) {
    // Journal files only ever appear by renaming a flushed record into
    // place, so files that exist but all fail their check are damage, not
    // an interrupted first write: refuse rather than forget the floor.
    if (present[0] || present[1]) return errc::journal_corrupt;
    st_ = store_state{};
    journal_file_ = -1;
  } else {
    st_ = *found[pick];
    journal_file_ = pick;
  }
  if (!opts_.channel.empty() && !st_.channel.empty() && st_.channel != opts_.channel)
    return errc::channel_mismatch;
  // The counter continues above every record seen; a generation at the top
  // of the range leaves it exhausted (take_number() then refuses).
  auto after = [](std::uint64_t g) { return g == UINT64_MAX ? UINT64_MAX : g + 1; };
  next_number_ = after(st_.generation);
  for (int i = 0; i < 2; ++i)
    if (found[i]) next_number_ = std::max(next_number_, after(found[i]->generation));
  return ok();
}

inline result<void> slot_store::recover() {
  // A previous owner may have died between a rename and its directory sync:
  // make what is visible durable before acting on it, so that nothing below
  // (removing files the visible state no longer needs) can outlive it.
  SLOTGUARD_TRY(fs_->sync_dir(dir_));
  SLOTGUARD_TRY(read_journals());

  // Remove what no state refers to: records and slot files of operations
  // that did not complete. Best effort; leftovers are retried next open.
  auto names = fs_->list(dir_);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (name == "lock" || name == "journal.0" || name == "journal.1") continue;
    if (detail::is_slot_dir_name(name) || detail::is_incoming_name(name)) {
      // A slot's directory lives while its file does; a received file was
      // never adopted by the process that received it.
      if (is_leftover(name)) (void)detail::remove_path_tree(*fs_, path(name), false);
      continue;
    }
    const std::uint64_t n = detail::parse_slot_file_number(name);
    const bool journal_tmp = name == "journal.0.new" || name == "journal.1.new";
    if (n == 0 && !journal_tmp) continue;  // not ours
    if (n != 0) {
      bool used = false;
      for (int i = 0; i < 2; ++i) {
        const slot_info& si = st_.slots[static_cast<std::size_t>(i)];
        if (si.present && name == detail::slot_file_name(static_cast<slot_id>(i), si.file_number))
          used = true;
      }
      if (used) continue;
    }
    // The counter moves past a leftover's number, so a name is never
    // reused; but not past numbers in the upper half of the range, which a
    // counter that grows by a few per operation never reaches: a planted
    // "slot-a.18446744073709551615" must not exhaust or wrap it (it is
    // removed like any leftover, and never a name the store writes).
    if (n != 0 && n >= next_number_ && n < max_followed_number) next_number_ = n + 1;
    forget(path(name));
  }
  return ok();
}

inline std::string slot_store::slot_path(slot_id s) const {
  const slot_info& si = st_.slot(s);
  if (!si.present) return std::string();
  return path(detail::slot_file_name(s, si.file_number));
}

inline std::string slot_store::slot_dir(slot_id s) const {
  const std::string f = slot_path(s);
  return f.empty() ? f : f + ".d";
}

// Whether name (a slot file, slot directory or received file) is named by
// no record, held by no reader and adopted by no stage in progress.
inline bool slot_store::is_leftover(const std::string& name) const {
  if (detail::is_incoming_name(name))
    return std::find(receiving_.begin(), receiving_.end(), path(name)) == receiving_.end();
  const std::string file = detail::is_slot_dir_name(name) ? name.substr(0, name.size() - 2) : name;
  if (detail::parse_slot_file_number(file) == 0) return false;  // not ours
  for (int i = 0; i < 2; ++i) {
    const slot_info& si = st_.slots[static_cast<std::size_t>(i)];
    if (si.present && file == detail::slot_file_name(static_cast<slot_id>(i), si.file_number)) return false;
  }
  return !(held_ && held_(path(file)));
}

inline result<void> slot_store::sweep() {
  if (read_only_) return ok();
  auto names = fs_->list(dir_);
  if (!names) return names.error();
  for (const std::string& name : *names) {
    if (!is_leftover(name)) continue;
    if (detail::parse_slot_file_number(name)) (void)fs_->remove(path(name));
    else (void)detail::remove_path_tree(*fs_, path(name), false);
  }
  return ok();
}

inline result<received_file> slot_store::receive(std::uint64_t size, const content_writer& produce) {
  if (read_only_) return errc::read_only_store;
  if (size > opts_.max_slot_size) return errc::too_large;
  auto number = take_number();
  if (!number) return number.error();
  received_file out;
  out.path = path("incoming." + std::to_string(*number));
  auto f = fs_->create(out.path);
  if (!f) {
    if (f.error() == errc::already_exists) forget(out.path);
    return f.error();
  }
  receiving_.push_back(out.path);
  detail::pipelined_hasher h(size >= opts_.parallel_hash_min_size);
  std::uint64_t written = 0;
  auto write = [&](byte_view chunk) -> result<void> {
    if (chunk.size() > size - written) return errc::invalid_argument;  // more than announced
    written += chunk.size();
    h.update(chunk);  // on the hasher's thread, while this one writes and reads the next chunk
    return fs_->write(*f, chunk);
  };
  auto r = produce(write);
  if (r && written != size) r = errc::invalid_argument;
  if (r) r = fs_->flush(*f);
  auto c = fs_->close(*f);
  if (r && !c) r = c;
  // No directory sync: the name is made durable by the stage that adopts
  // the file (its rename and directory sync); a file nobody adopts is
  // removed at the next open whether or not its name survived.
  if (!r) {
    received_file gone = std::move(out);
    discard(std::move(gone));
    return r.error();
  }
  out.size = size;
  out.sha256 = h.finish();
  return out;
}

inline void slot_store::discard(received_file&& file) noexcept {
  if (file.path.empty()) return;
  forget(file.path);
  receiving_.erase(std::remove(receiving_.begin(), receiving_.end(), file.path), receiving_.end());
  file.path.clear();
}

// Creates a new file holding content, durably, entry included. On failure
// the file is removed again and never reused (a failed flush may have lost
// pages the kernel then marked clean).
inline result<void> slot_store::write_new_file(const std::string& p, byte_view content) {
  auto f = fs_->create(p);
  if (!f) {
    if (f.error() == errc::already_exists) forget(p);
    return f.error();
  }
  auto w = fs_->write(*f, content);
  if (w) w = fs_->flush(*f);
  auto c = fs_->close(*f);
  if (w && !c) w = c;
  if (!w) {
    forget(p);
    return w.error();
  }
  return ok();
}

// The commit point of every operation: the next record goes to the journal
// file that does not hold the current state, in place when that file holds a
// record of the same length, else by write, flush, rename into place and
// directory sync. Until the flush or the sync returns the current state's
// file is untouched, so a crash yields the old state or the new one.
inline result<void> slot_store::write_state(store_state next) {
  if (read_only_) return errc::read_only_store;
  auto number = take_number();
  if (!number) return number.error();
  next.generation = *number;
  if (next.channel.empty()) next.channel = opts_.channel;
  const std::vector<std::uint8_t> bytes = detail::encode_journal(next);
  const int target = journal_file_ == 0 ? 1 : 0;
  const std::string final_path = journal_path(target);
  const std::string tmp_path = final_path + ".new";

  // The common case: the other file holds an older record of the same
  // length (most operations change no length: the quarantine and the
  // channel did not change), and is overwritten in place and flushed, one
  // data write and no metadata. A power cut in between leaves it torn, its
  // CRC fails, and the current state's file (untouched) wins. Any failure
  // takes the path below, whose rename replaces whatever the rewrite left.
  const auto rewritten = fs_->rewrite(final_path, byte_view(bytes));
  if (rewritten) {
    st_ = std::move(next);
    journal_file_ = target;
    return ok();
  }
  // After a rewrite that may have written (a failed write or flush), the
  // file may hold the new record in the cache though not on the medium: if
  // the path below fails too, the file goes, as a failed rename's does.
  const errc refused = rewritten.error();
  const bool untouched = refused == errc::not_found || refused == errc::unsupported ||
                         refused == errc::invalid_argument || refused == errc::not_regular_file;
  auto r = write_new_file(tmp_path, byte_view(bytes));
  if (!r) {
    if (!untouched) {
      forget(final_path);
      (void)fs_->sync_dir(dir_);
    }
    return r;
  }
  r = fs_->rename(tmp_path, final_path);
  if (r) r = fs_->sync_dir(dir_);
  if (!r) {
    // The new record may be visible; remove it (the current state's file is
    // the other one) and make that durable, so that a failed operation
    // changes nothing even after a restart.
    forget(tmp_path);
    forget(final_path);
    (void)fs_->sync_dir(dir_);
    return r;
  }
  st_ = std::move(next);
  journal_file_ = target;
  return ok();
}

inline result<void> slot_store::write_state_and_forget(store_state next) {
  next.generation = st_.generation;
  if (next == st_) return ok();
  std::vector<std::string> gone;
  for (int i = 0; i < 2; ++i) {
    const auto s = static_cast<slot_id>(i);
    if (st_.slot(s).present && next.slot(s) != st_.slot(s)) gone.push_back(slot_path(s));
  }
  SLOTGUARD_TRY(write_state(std::move(next)));
  for (const std::string& f : gone) forget_slot(f);
  return ok();
}

inline void slot_store::add_quarantine(store_state& st, std::uint64_t sequence) {
  if (st.is_quarantined(sequence)) return;
  st.quarantine.push_back(sequence);
  if (st.quarantine.size() <= quarantine_capacity) return;
  auto inert = std::find_if(st.quarantine.begin(), st.quarantine.end(),
                            [&](std::uint64_t q) { return q <= st.floor && q != sequence; });
  st.quarantine.erase(inert != st.quarantine.end() ? inert : st.quarantine.begin());
}

inline result<void> slot_store::stage(byte_view content, std::uint64_t sequence, const stage_hook* hook) {
  return stage_impl(stage_input{content, nullptr, hook}, sequence, nullptr);
}

inline result<void> slot_store::stage(received_file&& file, std::uint64_t sequence, const stage_hook* hook) {
  return stage_impl(stage_input{byte_view(), &file, hook}, sequence, nullptr);
}

inline result<void> slot_store::stage_trial(byte_view content, std::uint64_t sequence,
                                            std::uint32_t start_budget, std::uint32_t starts_used,
                                            const stage_hook* hook) {
  if (start_budget == 0 || starts_used > start_budget) return errc::invalid_argument;
  const trial_request t{start_budget, starts_used, false};
  return stage_impl(stage_input{content, nullptr, hook}, sequence, &t);
}

inline result<void> slot_store::stage_trial(received_file&& file, std::uint64_t sequence,
                                            std::uint32_t start_budget, std::uint32_t starts_used,
                                            const stage_hook* hook) {
  if (start_budget == 0 || starts_used > start_budget) {
    discard(std::move(file));
    return errc::invalid_argument;
  }
  const trial_request t{start_budget, starts_used, false};
  return stage_impl(stage_input{byte_view(), &file, hook}, sequence, &t);
}

inline result<void> slot_store::stage_trial_over_active(byte_view content, std::uint64_t sequence,
                                                        std::uint32_t start_budget, std::uint32_t starts_used,
                                                        const stage_hook* hook) {
  if (start_budget == 0 || starts_used > start_budget) return errc::invalid_argument;
  if (st_.trial) return errc::trial_active;
  if (!st_.active || !st_.fallback) return errc::no_fallback;
  const trial_request t{start_budget, starts_used, true};
  return stage_impl(stage_input{content, nullptr, hook}, sequence, &t);
}

inline result<void> slot_store::stage_trial_over_active(received_file&& file, std::uint64_t sequence,
                                                        std::uint32_t start_budget, std::uint32_t starts_used,
                                                        const stage_hook* hook) {
  errc e = errc::ok;
  if (start_budget == 0 || starts_used > start_budget) e = errc::invalid_argument;
  else if (st_.trial) e = errc::trial_active;
  else if (!st_.active || !st_.fallback) e = errc::no_fallback;
  if (e != errc::ok) {
    discard(std::move(file));
    return e;
  }
  const trial_request t{start_budget, starts_used, true};
  return stage_impl(stage_input{byte_view(), &file, hook}, sequence, &t);
}

inline result<void> slot_store::stage_impl(stage_input in, std::uint64_t sequence, const trial_request* trial) {
  // A received file is consumed whatever happens: adopted, or removed.
  struct consume {
    slot_store* s;
    received_file* f;
    ~consume() {
      if (f != nullptr) s->discard(std::move(*f));
    }
  } consumed{this, in.file};
  errc e = errc::ok;
  const std::uint64_t size = in.file != nullptr ? in.file->size : in.bytes.size();
  if (read_only_) e = errc::read_only_store;
  else if (sequence == 0) e = errc::invalid_argument;
  else if (is_quarantined(sequence)) e = errc::quarantined;
  else if (sequence <= st_.floor) e = errc::sequence_rollback;
  else if (size > opts_.max_slot_size) e = errc::too_large;
  if (e != errc::ok) return e;
  const byte_view content = in.bytes;

  const bool over_active = trial != nullptr && trial->over_active;
  const slot_id target = st_.trial || over_active ? *st_.active
                                                  : (st_.active ? other_slot(*st_.active) : slot_id::a);
  store_state next = st_;
  if (over_active) {
    // The damaged active gives way: the fallback is the last known-good.
    next.active = st_.fallback;
    next.fallback.reset();
  } else if (st_.trial) {
    // The trial's content is replaced: the last known-good runs again.
    next.active = st_.fallback;
    next.fallback.reset();
    next.trial = false;
    next.starts_used = 0;
    next.start_budget = 0;
  } else if (next.fallback == target) {
    next.fallback.reset();
  }
  SLOTGUARD_ASSERT(next.last_known_good() != target);

  auto number = take_number();
  if (!number) return number.error();
  slot_info& si = next.slot(target);
  si.present = true;
  si.sequence = sequence;
  si.size = size;
  si.file_number = *number;
  next.staged = target;
  if (trial != nullptr) {
    // begin_trial's transition, in the same record.
    next.fallback = next.active;
    next.active = target;
    next.staged.reset();
    next.trial = true;
    next.starts_used = trial->starts_used;
    next.start_budget = trial->start_budget;
  }

  const std::string file = path(detail::slot_file_name(target, si.file_number));
  const std::string replaced = slot_path(target);
  sha256_digest digest{};
  if (in.file != nullptr) {
    // Adopted by a rename in the same directory: no copy.
    auto moved = fs_->rename(in.file->path, file);
    if (!moved) {
      forget(file);
      return moved.error();
    }
    receiving_.erase(std::remove(receiving_.begin(), receiving_.end(), in.file->path), receiving_.end());
    digest = in.file->sha256;
    consumed.f = nullptr;
    in.file->path.clear();
  } else {
  bool threaded = false;
#if !SLOTGUARD_CONFIG_NO_EXCEPTIONS
  std::thread hasher;
  if (content.size() >= opts_.parallel_hash_min_size) {
    try {
      hasher = std::thread([&digest, content] { digest = sha256_of(content); });
      threaded = true;
    } catch (...) {
      threaded = false;
    }
  }
#endif
  if (!threaded) digest = sha256_of(content);
  auto written = write_new_file(file, content);
#if !SLOTGUARD_CONFIG_NO_EXCEPTIONS
  if (threaded) hasher.join();
#endif
  if (!written) return written;
  }
  si.sha256 = digest;
  // The slot file's entry must be durable before a record names it, and so
  // must what the hook puts in the slot's directory.
  auto r = fs_->sync_dir(dir_);
  if (r && in.hook != nullptr && *in.hook) r = (*in.hook)(file, file + ".d");
  if (r) r = write_state(std::move(next));
  if (!r) {
    forget(file);
    (void)detail::remove_path_tree(*fs_, file + ".d", false);
    return r;
  }
  // The durable state no longer names the replaced file; a crash before
  // this removal leaves garbage that the next open() removes.
  if (!replaced.empty()) forget_slot(replaced);
  return ok();
}

inline result<void> slot_store::begin_trial(std::uint32_t start_budget) {
  if (st_.trial) return errc::trial_active;
  if (!st_.staged) return errc::no_content;
  if (start_budget == 0) return errc::invalid_argument;
  const std::uint64_t seq = st_.slot(*st_.staged).sequence;
  if (is_quarantined(seq)) return errc::quarantined;
  if (seq <= st_.floor) return errc::sequence_rollback;
  store_state next = st_;
  next.fallback = st_.active;
  next.active = st_.staged;
  next.staged.reset();
  next.trial = true;
  next.starts_used = 0;
  next.start_budget = start_budget;
  return write_state(std::move(next));
}

inline result<bool> slot_store::count_start() {
  if (!st_.trial) return errc::no_trial;
  store_state next = st_;
  if (next.starts_used < UINT32_MAX) ++next.starts_used;
  SLOTGUARD_TRY(write_state(std::move(next)));
  return st_.starts_used > st_.start_budget;
}

inline result<run_start> slot_store::begin_run() {
  store_state next = st_;
  run_start out;
  out.crashes = st_.streak;
  if (next.streak < UINT32_MAX) ++next.streak;
  if (next.trial && next.starts_used < UINT32_MAX) ++next.starts_used;
  SLOTGUARD_TRY(write_state(std::move(next)));
  out.budget_spent = st_.trial && st_.starts_used > st_.start_budget;
  return out;
}

inline result<void> slot_store::mark_healthy(std::uint64_t served_committed_sequence,
                                             bool give_back_start) {
  store_state next = st_;
  if (give_back_start && next.trial && next.starts_used > 0) --next.starts_used;
  next.streak = 0;
  if (served_committed_sequence != 0) next.safe_sequence = served_committed_sequence;
  if (next.mode == breaker_mode::safe || next.mode == breaker_mode::not_content)
    next.mode = breaker_mode::normal;
  return write_state_and_forget(std::move(next));
}

inline result<void> slot_store::release_start() {
  if (!st_.trial) return errc::no_trial;
  if (st_.starts_used == 0) return ok();
  store_state next = st_;
  --next.starts_used;
  return write_state(std::move(next));
}

inline result<void> slot_store::commit() {
  if (!st_.trial) return errc::no_trial;
  store_state next = st_;
  next.trial = false;
  next.starts_used = 0;
  next.start_budget = 0;
  next.floor = std::max(st_.floor, st_.slot(*st_.active).sequence);
  next.mode = breaker_mode::normal;
  return write_state(std::move(next));
}

inline result<void> slot_store::revert() {
  if (!st_.trial) return errc::no_trial;
  const slot_id tried = *st_.active;
  store_state next = st_;
  next.active = st_.fallback;
  next.fallback.reset();
  next.trial = false;
  next.starts_used = 0;
  next.start_budget = 0;
  add_quarantine(next, st_.slot(tried).sequence);
  empty_slot(next, tried);
  // The starts that crashed were the trial's: with it gone, the crash
  // streak starts again from the start that runs now.
  next.streak = std::min<std::uint32_t>(next.streak, 1);
  // A quarantined (recalled) last known-good never runs again.
  if (next.active && next.is_quarantined(next.slot(*next.active).sequence)) empty_slot(next, *next.active);
  return write_state_and_forget(std::move(next));
}

inline result<void> slot_store::rollback() {
  if (read_only_) return errc::read_only_store;
  if (st_.trial) return errc::trial_active;
  if (!st_.fallback) return errc::no_fallback;
  if (is_quarantined(st_.slot(*st_.fallback).sequence)) return errc::quarantined;
  // Never make active what cannot be served.
  auto check = load(*st_.fallback);
  if (!check) return check.error();
  store_state next = st_;
  next.active = st_.fallback;
  next.fallback = st_.active;
  next.floor = st_.slot(*st_.fallback).sequence;
  return write_state(std::move(next));
}

inline result<void> slot_store::quarantine(std::uint64_t sequence) {
  if (is_quarantined(sequence)) return ok();
  store_state next = st_;
  add_quarantine(next, sequence);
  return write_state(std::move(next));
}

inline result<void> slot_store::recall(const std::vector<std::uint64_t>& sequences) {
  if (sequences.size() > quarantine_capacity) return errc::invalid_argument;
  store_state next = st_;
  for (std::uint64_t q : sequences) add_quarantine(next, q);
  auto listed = [&](std::optional<slot_id> s) {
    return s && std::find(sequences.begin(), sequences.end(), next.slot(*s).sequence) != sequences.end();
  };
  if (next.trial && listed(next.active)) {
    // The trial is taken back, to the last known-good unless that is recalled too.
    empty_slot(next, *next.active);
    next.active = next.fallback;
    next.fallback.reset();
    next.trial = false;
    next.starts_used = 0;
    next.start_budget = 0;
    if (next.active && next.is_quarantined(next.slot(*next.active).sequence)) empty_slot(next, *next.active);
  } else {
    if (listed(next.fallback)) empty_slot(next, *next.fallback);
    if (listed(next.staged)) empty_slot(next, *next.staged);
    if (!next.trial && listed(next.active)) {
      const slot_id gone = *next.active;
      std::optional<slot_id> back = next.fallback;
      empty_slot(next, gone);
      // Never back to content quarantined before (by an earlier recall or
      // revert): nothing is served then.
      if (back && next.is_quarantined(next.slot(*back).sequence)) {
        empty_slot(next, *back);
        back.reset();
      }
      if (back) {
        // The floor stays: the recalled sequence is quarantined anyway, and
        // the committed sequence only goes down by an operator's rollback.
        next.active = back;
        next.fallback.reset();
      }
    }
  }
  return write_state_and_forget(std::move(next));
}

inline result<void> slot_store::release(std::uint64_t sequence) {
  if (!is_quarantined(sequence)) return ok();
  store_state next = st_;
  next.quarantine.erase(std::find(next.quarantine.begin(), next.quarantine.end(), sequence));
  return write_state(std::move(next));
}

inline result<void> slot_store::enter_safe_mode(std::uint64_t crashing_sequence) {
  if (st_.trial) return errc::trial_active;
  store_state next = st_;
  add_quarantine(next, crashing_sequence);
  if (next.active && next.slot(*next.active).sequence == crashing_sequence) {
    const std::optional<slot_id> back = next.fallback;
    empty_slot(next, *next.active);
    if (back && next.is_quarantined(next.slot(*back).sequence)) {
      empty_slot(next, *back);  // quarantined content never comes back
    } else if (back) {
      next.active = back;
      next.fallback.reset();
    }
  }
  next.mode = breaker_mode::safe;
  return write_state_and_forget(std::move(next));
}

inline result<void> slot_store::set_mode(breaker_mode mode) {
  store_state next = st_;
  next.mode = mode;
  if (mode == breaker_mode::normal) next.streak = 0;
  return write_state_and_forget(std::move(next));
}

inline result<std::vector<std::uint8_t>> slot_store::load(slot_id s) const {
  const slot_info& si = st_.slot(s);
  if (!si.present) return errc::no_content;
  if (si.size > opts_.max_slot_size) return errc::too_large;
  auto bytes = fs_->read_file(slot_path(s), si.size);
  if (!bytes) {
    if (bytes.error() == errc::not_found || bytes.error() == errc::too_large ||
        bytes.error() == errc::not_regular_file)
      return errc::slot_corrupt;
    return bytes.error();
  }
  if (bytes->size() != si.size || sha256_of(byte_view(*bytes)) != si.sha256)
    return errc::slot_corrupt;
  return bytes;
}

inline result<std::shared_ptr<const mapped_file>> slot_store::map(slot_id s) const {
  const slot_info& si = st_.slot(s);
  if (!si.present) return errc::no_content;
  if (si.size > opts_.max_slot_size) return errc::too_large;
  auto m = fs_->map(slot_path(s), si.size);
  if (!m) {
    if (m.error() == errc::not_found || m.error() == errc::too_large || m.error() == errc::not_regular_file)
      return errc::slot_corrupt;
    return m.error();
  }
  const byte_view b = (*m)->bytes();
  if (b.size() != si.size || sha256_of(b) != si.sha256) return errc::slot_corrupt;
  return m;
}

inline result<loaded_content> slot_store::load_active() const {
  if (!st_.active) return errc::no_content;
  auto a = load(*st_.active);
  if (a) {
    loaded_content out;
    out.slot = *st_.active;
    out.sequence = st_.slot(*st_.active).sequence;
    out.bytes = std::move(*a);
    return out;
  }
  if (a.error() == errc::slot_corrupt && st_.fallback) {
    auto f = load(*st_.fallback);
    if (f) {
      loaded_content out;
      out.slot = *st_.fallback;
      out.sequence = st_.slot(*st_.fallback).sequence;
      out.bytes = std::move(*f);
      out.from_fallback = true;
      return out;
    }
  }
  return a.error();
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_SLOT_STORE_HPP
