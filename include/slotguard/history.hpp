// SPDX-License-Identifier: Apache-2.0
// The store's history: a bounded, crash-safe record of its decisions (every
// event a guard delivers: staged, trial_started, committed, reverted,
// rejected, load_failed, crash_loop, released, ...), kept in the store
// directory next to the journal, so that an operator can read what a store
// decided last week (`slotguard history`).
//
// Layout (docs/STORE.md, "History"): two files, history.0 and history.1,
// each a whole record list with a generation number and a CRC-32C. An
// append writes the list with the new record to the file that does not hold
// the newest list, through a temporary file (write, flush, rename, directory
// sync), as the journal does; a power cut at any step leaves the previous
// list or the new one, never a torn one. The newest valid file is read. The
// list keeps the last `capacity` records (256 by default), oldest dropped
// first. One write per decision (never per heartbeat).
#ifndef SLOTGUARD_HISTORY_HPP
#define SLOTGUARD_HISTORY_HPP

#include <slotguard/config.hpp>

#include <slotguard/bytes.hpp>
#include <slotguard/crc.hpp>
#include <slotguard/error.hpp>
#include <slotguard/events.hpp>
#include <slotguard/storage.hpp>

#include <cstdint>
#include <cstring>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace slotguard {
inline namespace SLOTGUARD_ABI_NAMESPACE {

// One decision.
struct history_record {
  std::uint64_t number = 0;    // the store's running record number, from 1 (never reused)
  std::int64_t unix_ms = 0;    // wall-clock time of the decision, ms since 1970
  std::uint64_t sequence = 0;  // the content the decision is about (0: none)
  std::uint64_t active = 0;    // the sequence served after it (0: nothing)
  std::string event;           // the event's name (to_string(event_kind))
  std::string reason;          // for reverted (to_string(revert_reason)); else "none"
  std::string error;           // to_string(errc); "ok" when none
  std::string detail;          // free text, at most history_detail_max bytes

  friend bool operator==(const history_record& x, const history_record& y) noexcept {
    return x.number == y.number && x.unix_ms == y.unix_ms && x.sequence == y.sequence &&
           x.active == y.active && x.event == y.event && x.reason == y.reason && x.error == y.error &&
           x.detail == y.detail;
  }
};

inline constexpr std::size_t history_detail_max = 1024;
// history_default_capacity: slotguard/events.hpp.
inline constexpr std::size_t history_max_capacity = 65536;

// The record for a guard's event.
inline history_record history_from_event(const event& e) {
  history_record r;
  r.unix_ms = e.unix_ms;
  r.sequence = e.candidate_sequence;
  r.active = e.active_sequence;
  r.event = to_string(e.kind);
  r.reason = to_string(e.reason);
  r.error = to_string(e.error);
  r.detail = e.detail.substr(0, history_detail_max);
  return r;
}

namespace detail {

inline constexpr std::uint8_t history_magic[4] = {'S', 'G', 'H', '1'};
// A file's size bound: what the largest capacity of the largest records takes.
inline constexpr std::uint64_t history_max_file_size =
    16 + std::uint64_t{history_max_capacity} * (40 + 4 * 4 + 64 * 3 + history_detail_max) + 4;

inline std::string history_file(const std::string& dir, int i) {
  return join_path(dir, i == 0 ? "history.0" : "history.1");
}

inline void history_put_string(std::vector<std::uint8_t>& out, const std::string& s, std::size_t max) {
  const std::size_t n = s.size() < max ? s.size() : max;
  append_le32(out, static_cast<std::uint32_t>(n));
  out.insert(out.end(), s.begin(), s.begin() + static_cast<std::ptrdiff_t>(n));
}

inline std::vector<std::uint8_t> encode_history(std::uint64_t generation, const std::deque<history_record>& recs) {
  std::vector<std::uint8_t> out(history_magic, history_magic + 4);
  append_le64(out, generation);
  append_le32(out, static_cast<std::uint32_t>(recs.size()));
  for (const history_record& r : recs) {
    append_le64(out, r.number);
    append_le64(out, static_cast<std::uint64_t>(r.unix_ms));
    append_le64(out, r.sequence);
    append_le64(out, r.active);
    history_put_string(out, r.event, 64);
    history_put_string(out, r.reason, 64);
    history_put_string(out, r.error, 64);
    history_put_string(out, r.detail, history_detail_max);
  }
  append_le32(out, crc32c(byte_view(out)));
  return out;
}

struct decoded_history {
  std::uint64_t generation = 0;
  std::deque<history_record> records;
};

inline std::optional<decoded_history> decode_history(byte_view in) {
  if (in.size() < 20 || std::memcmp(in.data(), history_magic, 4) != 0) return std::nullopt;
  const std::size_t body = in.size() - 4;
  if (crc32c(in.sub(0, body)) != load_le32(in.data() + body)) return std::nullopt;
  le_reader rd(in.sub(4, body - 4));
  decoded_history h;
  std::uint32_t count = 0;
  rd.u64(h.generation);
  rd.u32(count);
  if (!rd.ok() || count > history_max_capacity) return std::nullopt;
  auto str = [&](std::string& s, std::size_t max) {
    std::uint32_t n = 0;
    byte_view v;
    if (!rd.u32(n) || n > max || !rd.bytes(n, v)) return false;
    s.assign(reinterpret_cast<const char*>(v.data()), v.size());
    return true;
  };
  for (std::uint32_t i = 0; i < count; ++i) {
    history_record r;
    std::uint64_t ms = 0;
    rd.u64(r.number);
    rd.u64(ms);
    rd.u64(r.sequence);
    rd.u64(r.active);
    r.unix_ms = static_cast<std::int64_t>(ms);
    if (!str(r.event, 64) || !str(r.reason, 64) || !str(r.error, 64) || !str(r.detail, history_detail_max))
      return std::nullopt;
    h.records.push_back(std::move(r));
  }
  if (!rd.ok() || rd.remaining() != 0) return std::nullopt;
  return h;
}

}  // namespace detail

// The history of one store directory. Not thread-safe: one owner appends
// (the guard, from its event delivery, which runs on one thread at a time).
// Reading needs no lock and writes nothing (read_history()).
class history_log {
 public:
  history_log(storage& fs, std::string dir, std::size_t capacity = history_default_capacity)
      : fs_(&fs),
        dir_(std::move(dir)),
        capacity_(capacity == 0 ? 1 : (capacity > history_max_capacity ? history_max_capacity : capacity)) {}

  // Adds a record (its number is assigned here) and makes the list durable:
  // one file write, flush, rename and directory sync. On failure the
  // history is as before (in memory and on disk); the error is the storage's.
  result<void> append(history_record r) {
    SLOTGUARD_TRY(load());
    std::deque<history_record> next = records_;
    r.number = next_number_;
    next.push_back(std::move(r));
    while (next.size() > capacity_) next.pop_front();
    const int target = file_ == 0 ? 1 : 0;
    const std::string final_path = detail::history_file(dir_, target);
    const std::string tmp = final_path + ".new";
    const std::vector<std::uint8_t> bytes = detail::encode_history(generation_ + 1, next);
    auto f = fs_->create(tmp);
    if (!f && f.error() == errc::already_exists) {
      // A temporary file an interrupted append left behind.
      (void)fs_->remove(tmp);
      f = fs_->create(tmp);
    }
    if (!f) return f.error();
    auto w = fs_->write(*f, byte_view(bytes));
    if (w) w = fs_->flush(*f);
    auto c = fs_->close(*f);
    if (w && !c) w = c;
    bool renamed = false;
    if (w) {
      w = fs_->rename(tmp, final_path);
      renamed = static_cast<bool>(w);
    }
    if (w) w = fs_->sync_dir(dir_);
    if (!w) {
      (void)fs_->remove(tmp);
      // The new list may be visible: take it away again (the newest list
      // is in the other file), so that a failed append changes nothing.
      if (renamed) {
        (void)fs_->remove(final_path);
        (void)fs_->sync_dir(dir_);
      }
      return w.error();
    }
    records_ = std::move(next);
    ++generation_;
    ++next_number_;
    file_ = target;
    return ok();
  }

  // The records, oldest first (loads the files on first use).
  result<std::vector<history_record>> records() {
    SLOTGUARD_TRY(load());
    return std::vector<history_record>(records_.begin(), records_.end());
  }

 private:
  friend result<std::vector<history_record>> read_history(storage& fs, const std::string& dir);

  struct found {
    int file = -1;
    detail::decoded_history h;
  };

  // The newest valid file's list; an absent or damaged file counts as none
  // (a damaged history is never a reason to refuse a decision).
  static result<found> read_newest(storage& fs, const std::string& dir) {
    found best;
    for (int i = 0; i < 2; ++i) {
      auto bytes = fs.read_file(detail::history_file(dir, i), detail::history_max_file_size);
      if (!bytes) {
        if (bytes.error() == errc::not_found || bytes.error() == errc::too_large ||
            bytes.error() == errc::not_regular_file)
          continue;
        return bytes.error();
      }
      auto h = detail::decode_history(byte_view(*bytes));
      if (!h) continue;
      if (best.file < 0 || h->generation > best.h.generation) {
        best.file = i;
        best.h = std::move(*h);
      }
    }
    return best;
  }

  result<void> load() {
    if (loaded_) return ok();
    auto f = read_newest(*fs_, dir_);
    if (!f) return f.error();
    file_ = f->file;
    generation_ = f->h.generation;
    records_ = std::move(f->h.records);
    next_number_ = records_.empty() ? 1 : records_.back().number + 1;
    while (records_.size() > capacity_) records_.pop_front();
    loaded_ = true;
    return ok();
  }

  storage* fs_;
  std::string dir_;
  std::size_t capacity_;
  bool loaded_ = false;
  int file_ = -1;
  std::uint64_t generation_ = 0;
  std::uint64_t next_number_ = 1;
  std::deque<history_record> records_;
};

// Reads a store's history, oldest first, without a lock and without writing
// (a running guard may append meanwhile: each file is replaced whole by a
// rename, so a reader sees one list or the next). An empty list when there is
// none. Fails with the storage's error.
inline result<std::vector<history_record>> read_history(storage& fs, const std::string& dir) {
  auto f = history_log::read_newest(fs, dir);
  if (!f) return f.error();
  return std::vector<history_record>(f->h.records.begin(), f->h.records.end());
}

}  // inline namespace SLOTGUARD_ABI_NAMESPACE
}  // namespace slotguard

#endif  // SLOTGUARD_HISTORY_HPP
